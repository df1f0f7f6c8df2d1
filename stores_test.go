package sessionkit

import (
	"testing"

	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/sealedstore"
	"github.com/sessionkit/sessionkit/store/storetest"
)

// TestStores runs the public conformance suite over the stores that live in
// this module without heavy dependencies: memstore (its key-ring cases
// too), sealedstore alone
// (stateless: the cases needing a capability it lacks are skipped, naming
// it) and sealedstore over memstore (hybrid), each store with a fresh key
// ring; and the hybrid again with one key ring for all its stores, each over
// its own memstore, so that the cases taking handles from a second store
// (storetest's NeverCreatedUnknown and GenerationAheadUnknown) present
// blobs that open but name sessions the state store never saw, or
// generations it has not reached: the state store decides. (redisstore and
// boltstore run it in their own packages, so go-redis and bbolt never reach
// users' go.sum through the root package.)
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
	t.Run("memstore,keys", func(t *testing.T) {
		t.Parallel()
		storetest.RunKeys(t, func(t *testing.T) store.KeyStore { return memstore.New() })
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
	t.Run("sealedstore+memstore,one-key-ring", func(t *testing.T) {
		t.Parallel()
		keys := newKeyRing(t)
		storetest.Run(t, func(t *testing.T) store.Store {
			state := memstore.New()
			t.Cleanup(func() { _ = state.Close() })
			return newSealedStoreKeys(t, keys, state)
		})
	})
}

// newSealedStore returns a sealed store with a fresh key ring of one
// current and one previous key, hybrid over state when it is not nil.
func newSealedStore(t testing.TB, state store.Store) *sealedstore.Store {
	t.Helper()
	return newSealedStoreKeys(t, newKeyRing(t), state)
}

// newKeyRing returns a fresh key ring of one current and one previous key.
func newKeyRing(t testing.TB) sealedstore.Keys {
	t.Helper()
	cur, err := sealedstore.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	prev, err := sealedstore.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return sealedstore.Keys{Current: cur, Previous: []sealedstore.Key{prev}}
}

// newSealedStoreKeys returns a sealed store with the key ring keys, hybrid
// over state when it is not nil.
func newSealedStoreKeys(t testing.TB, keys sealedstore.Keys, state store.Store) *sealedstore.Store {
	t.Helper()
	s, err := sealedstore.New(sealedstore.Options{Keys: keys, Issuer: testIssuer, State: state})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
