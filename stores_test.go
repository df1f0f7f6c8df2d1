package sessionkit

import (
	"testing"

	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/storetest"
)

// TestStores runs the public conformance suite over the stores that live in
// this module without heavy dependencies. (redisstore and boltstore run it
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
}
