package sessionkit

import (
	"testing"

	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/sealedstore"
	"github.com/sessionkit/sessionkit/store/storetest"
)

// TestStores runs the public conformance suite over the stores that live in
// this module without heavy dependencies: memstore, sealedstore alone
// (stateless: the cases needing a capability it lacks are skipped, naming
// it) and sealedstore over memstore (hybrid). (redisstore and boltstore run it
// in their own packages, so go-redis and bbolt never reach users' go.sum
// through the root package.)
func TestStores(t *testing.T) {
	t.Parallel()
	t.Run("memstore", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T) store.Store {
			s := memstore.New()
			t.Cleanup(func() { _ = s.Close() })
			return s
		})
	})
	t.Run("sealedstore", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T) store.Store {
			return newSealedStore(t, nil)
		})
	})
	t.Run("sealedstore+memstore", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T) store.Store {
			state := memstore.New()
			t.Cleanup(func() { _ = state.Close() })
			return newSealedStore(t, state)
		})
	})
}

// newSealedStore returns a sealed store with a fresh key ring of one
// current and one previous key, hybrid over state when it is not nil.
func newSealedStore(t testing.TB, state store.Store) *sealedstore.Store {
	t.Helper()
	cur, err := sealedstore.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	prev, err := sealedstore.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	opts := sealedstore.Options{
		Keys:   sealedstore.Keys{Current: cur, Previous: []sealedstore.Key{prev}},
		Issuer: testIssuer,
		State:  state,
	}
	s, err := sealedstore.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
