//go:build !linux

package redisstore_test

import "os/exec"

// dieWithTest has no portable equivalent outside Linux: there the test's
// cleanups alone stop the servers it started.
func dieWithTest(*exec.Cmd) {}
