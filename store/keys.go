package store

import (
	"context"
	"errors"
	"fmt"
)

// Limits of the key-ring contract.
const (
	// MaxKeyRingSize is the largest key ring a KeyStore keeps, in bytes.
	// A ring of a few keys takes a few KiB; sessionkit's managed keys keep
	// at most three at a time outside manual rotations.
	MaxKeyRingSize = 64 << 10
	// MaxKeyRingNameLen is the longest key-ring name, in bytes.
	// sessionkit's names are the issuer identifier (at most 1024 bytes)
	// and a short suffix.
	MaxKeyRingNameLen = 2048
)

// KeyStore keeps key rings: per name, one opaque blob and its version
// number. It is a contract of its own, beside [Store]: a store that can
// share signing keys across a fleet implements both (memstore, boltstore,
// redisstore and pgstore do), and sessionkit's managed keys
// (sessionkit.OpenManagedKeys) need only this one. The store conformance
// suite has cases for it (storetest.RunKeys).
//
// A name's version starts at 0, meaning no ring, and each successful
// SwapKeys raises it by exactly one; it never goes down and a ring is never
// deleted. The blob is the caller's, kept and returned byte for byte:
// sessionkit seals the private keys in it before they reach the store.
// Each method is ONE atomic step of the backend (a mutex section, one
// Redis command or Lua script on one key, one bbolt transaction), and the
// rules of the package documentation hold: errors the caller cannot fix
// wrap [ErrUnavailable], a dead context gives an error wrapping both
// ErrUnavailable and ctx.Err(), and a call that fails changes nothing.
// Names are opaque, compared byte for byte; sessionkit's are scoped to the
// issuer identifier, so Issuers sharing a store never name the same ring.
type KeyStore interface {
	// LoadKeys reads the ring called name: its blob and version, or a nil
	// blob and version 0 when there is none (as for every name SwapKeys
	// refuses).
	LoadKeys(ctx context.Context, name string) (blob []byte, version uint64, err error)

	// SwapKeys replaces the ring called name with blob if, and only if, its
	// version is still version (0: there is no ring yet), in one atomic
	// compare-and-set; the version becomes version+1. It reports whether it
	// swapped: false, a lost race (or a stale version), changes nothing.
	// The blob holds 1 to MaxKeyRingSize bytes and the name 1 to
	// MaxKeyRingNameLen; [CheckKeyRing] says what is wrong otherwise (a
	// limit exceeded wraps [ErrTooLarge]).
	SwapKeys(ctx context.Context, name string, version uint64, blob []byte) (swapped bool, err error)
}

// CheckKeyRing checks what every KeyStore requires of SwapKeys' arguments:
// a name of 1 to MaxKeyRingNameLen bytes and a blob of 1 to MaxKeyRingSize
// bytes. An exceeded limit wraps ErrTooLarge. Stores call it first, before
// they touch anything.
func CheckKeyRing(name string, blob []byte) error {
	switch {
	case name == "":
		return errors.New("sessionkit: key ring: empty name")
	case len(name) > MaxKeyRingNameLen:
		return fmt.Errorf("%w: key ring name of %d bytes exceeds %d", ErrTooLarge, len(name), MaxKeyRingNameLen)
	case len(blob) == 0:
		return errors.New("sessionkit: key ring: empty blob")
	case len(blob) > MaxKeyRingSize:
		return fmt.Errorf("%w: key ring of %d bytes exceeds %d", ErrTooLarge, len(blob), MaxKeyRingSize)
	}
	return nil
}
