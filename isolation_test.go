package sessionkit_test

import (
	"testing"

	"github.com/sessionkit/sessionkit/internal/isolationtest"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// TestIssuerIsolation runs the cross-issuer matrix (internal/isolationtest)
// over the stores of this module: two Issuers on one memstore, on the
// stateless sealed store, and on the hybrid sealed store over one memstore.
// store/boltstore and store/redisstore run it over theirs.
func TestIssuerIsolation(t *testing.T) {
	t.Parallel()
	newMemstore := func(t *testing.T) store.Store {
		s := memstore.New()
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	t.Run("memstore", func(t *testing.T) {
		t.Parallel()
		isolationtest.Run(t, newMemstore)
	})
	t.Run("sealedstore", func(t *testing.T) {
		t.Parallel()
		isolationtest.RunHybrid(t, func(*testing.T) store.Store { return nil })
	})
	t.Run("sealedstore+memstore", func(t *testing.T) {
		t.Parallel()
		isolationtest.RunHybrid(t, newMemstore)
	})
}
