package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/sessionkit/sessionkit/store"
)

// Compile-time check that *Store keeps key rings.
var _ store.KeyStore = (*Store)(nil)

// ringKey names a key ring: one key, so one Cluster slot, whatever the name
// holds (braces included).
func (s *Store) ringKey(name string) string { return s.prefix + "k:" + name }

// LoadKeys reads the key ring called name with one HMGET: its blob and
// version, or nil and 0 when there is none.
func (s *Store) LoadKeys(ctx context.Context, name string) ([]byte, uint64, error) {
	if err := store.ContextError(ctx); err != nil {
		return nil, 0, err
	}
	if name == "" || len(name) > store.MaxKeyRingNameLen {
		return nil, 0, nil
	}
	v, err := s.roundTrip(ctx, func(ctx context.Context) (any, error) {
		return s.client.HMGet(ctx, s.ringKey(name), "v", "b").Result()
	})
	if err != nil {
		return nil, 0, unavailable(ctx, "load keys", err)
	}
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return nil, 0, corrupt("load keys", fmt.Errorf("unexpected reply %T", v))
	}
	if a[0] == nil && a[1] == nil {
		return nil, 0, nil
	}
	ver, ok1 := a[0].(string)
	blob, ok2 := a[1].(string)
	n, err := strconv.ParseUint(ver, 10, 64)
	if !ok1 || !ok2 || err != nil || n == 0 || blob == "" {
		return nil, 0, corrupt("load keys", errors.New("malformed key ring record"))
	}
	return []byte(blob), n, nil
}

// SwapKeys replaces the key ring called name with blob if its version is
// still version, in one script (one round trip, one key), and reports
// whether it did.
func (s *Store) SwapKeys(ctx context.Context, name string, version uint64, blob []byte) (bool, error) {
	if err := store.ContextError(ctx); err != nil {
		return false, err
	}
	if err := store.CheckKeyRing(name, blob); err != nil {
		return false, fmt.Errorf("redisstore: swap keys: %w", err)
	}
	v, err := s.eval(ctx, swapKeysScript, []string{s.ringKey(name)},
		strconv.FormatUint(version, 10), strconv.FormatUint(version+1, 10), blob)
	if err != nil {
		return false, unavailable(ctx, "swap keys", err)
	}
	n, err := replyInt(v)
	if err != nil {
		return false, corrupt("swap keys", err)
	}
	return n == 1, nil
}
