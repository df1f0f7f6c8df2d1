//go:build !linux

package pgtest

import (
	"errors"
	"syscall"
)

// supported reports whether Start can run a server here: it needs Linux
// (parent-death signals, /proc).
const supported = false

// procAttr is never called where Start is unsupported.
func procAttr(*runAs) *syscall.SysProcAttr { return nil }

// killTree is never called where Start is unsupported.
func killTree(int) ([]int, error) { return nil, errors.ErrUnsupported }

// alive is never called where Start is unsupported.
func alive(int) bool { return false }
