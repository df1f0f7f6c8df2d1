//go:build !linux

package boltstore

import "os/exec"

// dieWithTest has no portable equivalent outside Linux: there the test's
// cleanups alone stop the children it started.
func dieWithTest(*exec.Cmd) {}
