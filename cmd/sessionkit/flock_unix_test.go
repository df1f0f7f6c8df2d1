//go:build unix

package main

import (
	"os"
	"syscall"
	"testing"
)

// holdLock takes the exclusive lock bbolt takes on path, on a file
// description of its own, as a running application in another process
// holds it, until the test ends.
func holdLock(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
}
