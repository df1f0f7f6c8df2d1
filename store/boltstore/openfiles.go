package boltstore

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// openFiles are the files this process holds through Open. bbolt locks a
// file with flock, per open file description: a second Open of the same
// file in the same process would wait out the lock timeout and then blame
// another process. Open looks here first and says what is going on.
var openFiles struct {
	sync.Mutex
	byStore map[*Store]os.FileInfo
}

// ErrAlreadyOpen is wrapped by the error Open returns when this process
// already holds the file open through an earlier Open that was not closed.
var ErrAlreadyOpen = errors.New("boltstore: the file is already open in this process")

// alreadyOpen returns an error wrapping ErrAlreadyOpen when this process holds
// the file at path open through Open (hard links and symbolic links
// included: files are compared with os.SameFile), nil otherwise.
func alreadyOpen(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return nil // a new file, or one Open will report on
	}
	openFiles.Lock()
	defer openFiles.Unlock()
	for _, held := range openFiles.byStore {
		if os.SameFile(fi, held) {
			return fmt.Errorf("%w: %s (an earlier boltstore.Open has not been closed): share that *Store, or Close it first", ErrAlreadyOpen, path)
		}
	}
	return nil
}

// holdFile records that s holds the file at path.
func holdFile(s *Store, path string) {
	fi, err := os.Stat(path)
	if err != nil {
		return
	}
	openFiles.Lock()
	defer openFiles.Unlock()
	if openFiles.byStore == nil {
		openFiles.byStore = make(map[*Store]os.FileInfo)
	}
	openFiles.byStore[s] = fi
}

// releaseFile forgets s's file.
func releaseFile(s *Store) {
	openFiles.Lock()
	defer openFiles.Unlock()
	delete(openFiles.byStore, s)
}
