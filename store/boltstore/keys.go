package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/sessionkit/store"
)

// bucketKeys holds the key rings: name → version (8 bytes, big-endian) and
// blob. It is created by the first SwapKeys, so files written before it
// existed open unchanged.
var bucketKeys = []byte("keys")

// Compile-time check that *Store keeps key rings.
var _ store.KeyStore = (*Store)(nil)

var errCorruptRing = errors.New("corrupt key ring record")

// LoadKeys reads the key ring called name in one read transaction: its
// blob and version, or nil and 0 when there is none.
func (s *Store) LoadKeys(ctx context.Context, name string) ([]byte, uint64, error) {
	if err := store.ContextError(ctx); err != nil {
		return nil, 0, err
	}
	var (
		blob    []byte
		version uint64
	)
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		blob, version, err = loadRing(tx, name)
		blob = bytes.Clone(blob) // the transaction's memory ends with it
		return err
	})
	if err != nil {
		return nil, 0, unavailable("load keys", err)
	}
	return blob, version, nil
}

// loadRing reads name's ring in tx; the blob is tx's memory.
func loadRing(tx *bbolt.Tx, name string) ([]byte, uint64, error) {
	b := tx.Bucket(bucketKeys)
	if b == nil || name == "" || len(name) > store.MaxKeyRingNameLen {
		return nil, 0, nil
	}
	v := b.Get([]byte(name))
	if v == nil {
		return nil, 0, nil
	}
	if len(v) <= 8 {
		return nil, 0, errCorruptRing
	}
	return v[8:], binary.BigEndian.Uint64(v), nil
}

// SwapKeys replaces the key ring called name with blob if its version is
// still version, in one write transaction (shared with concurrent writers
// like every write; a lost race rolls back), and reports whether it did.
func (s *Store) SwapKeys(ctx context.Context, name string, version uint64, blob []byte) (bool, error) {
	if err := store.ContextError(ctx); err != nil {
		return false, err
	}
	if err := store.CheckKeyRing(name, blob); err != nil {
		return false, fmt.Errorf("boltstore: swap keys: %w", err)
	}
	val := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(blob)), version+1)
	val = append(val, blob...)
	swapped := false
	err := s.batch.do(ctx, func(tx *bbolt.Tx) (bool, error) {
		swapped = false
		_, cur, err := loadRing(tx, name)
		if err != nil || cur != version {
			return false, err
		}
		b, err := tx.CreateBucketIfNotExists(bucketKeys)
		if err != nil {
			return false, err
		}
		swapped = true
		return true, b.Put([]byte(name), val)
	})
	if err != nil {
		return false, unavailable("swap keys", err)
	}
	return swapped, nil
}
