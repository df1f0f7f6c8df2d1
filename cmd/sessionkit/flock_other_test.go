//go:build !unix

package main

import "testing"

// holdLock skips the test: it needs flock.
func holdLock(t *testing.T, _ string) {
	t.Skip("holding a bolt file's lock from the test needs flock (unix)")
}
