package boltstore

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestOpenTwiceInOneProcess: a second Open of a file this process holds
// says so at once, for the same path, another path to it and a hard link;
// another file, or the same one after Close, opens.
func TestOpenTwiceInOneProcess(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sessions.db")
	first, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.db")
	if err := os.Link(path, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, filepath.Join(dir, ".", "sessions.db"), link} {
		// LockTimeout -1 tries the lock once: without the check, bbolt
		// would answer ErrLocked, blaming another process.
		s, err := Open(p, Options{LockTimeout: -1})
		if err == nil {
			_ = s.Close()
		}
		if !errors.Is(err, ErrAlreadyOpen) || errors.Is(err, ErrLocked) {
			t.Fatalf("second Open of %s: %v; want ErrAlreadyOpen", p, err)
		}
	}
	other, err := Open(filepath.Join(dir, "other.db"), Options{LockTimeout: -1})
	if err != nil {
		t.Fatalf("another file: %v", err)
	}
	_ = other.Close()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(path, Options{LockTimeout: -1})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	_ = again.Close()
}
