package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/sessionkit/sessionkit/store"
)

// LoadKeys reads the key ring called name ([store.KeyStore]): its blob and
// version, or a nil blob and version 0 when there is none.
func (s *Store) LoadKeys(ctx context.Context, name string) ([]byte, uint64, error) {
	if err := store.ContextError(ctx); err != nil {
		return nil, 0, err
	}
	if name == "" || len(name) > store.MaxKeyRingNameLen {
		return nil, 0, nil
	}
	var blob []byte
	var v int64
	err := s.pool.QueryRow(ctx, s.q.loadKeys, []byte(name)).Scan(&blob, &v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, unavailable(ctx, "load keys", err)
	}
	if v < 1 || len(blob) == 0 {
		return nil, 0, unavailable(ctx, "load keys", errCorrupt)
	}
	return blob, uint64(v), nil
}

// SwapKeys replaces the ring called name with blob if its version is
// still version, in one statement: an insert for version 0, a conditional
// update otherwise ([store.KeyStore]).
func (s *Store) SwapKeys(ctx context.Context, name string, version uint64, blob []byte) (bool, error) {
	if err := store.ContextError(ctx); err != nil {
		return false, err
	}
	if err := store.CheckKeyRing(name, blob); err != nil {
		return false, err
	}
	if version >= 1<<63-1 {
		return false, nil // no row reaches it
	}
	var err error
	var n int64
	if version == 0 {
		tag, e := s.pool.Exec(ctx, s.q.insertKeys, []byte(name), blob)
		n, err = tag.RowsAffected(), e
	} else {
		tag, e := s.pool.Exec(ctx, s.q.swapKeys, []byte(name), int64(version), blob)
		n, err = tag.RowsAffected(), e
	}
	if err != nil {
		return false, unavailable(ctx, "swap keys", err)
	}
	return n == 1, nil
}
