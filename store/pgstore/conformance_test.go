package pgstore_test

import (
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/difftest"
	"github.com/sessionkit/sessionkit/internal/fleettest"
	"github.com/sessionkit/sessionkit/internal/isolationtest"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/storetest"
)

// TestConformance runs the public conformance suite twice: every case in
// a schema of its own, and every case on one shared schema whose janitor
// sweeps every few milliseconds on the real clock while the cases run.
func TestConformance(t *testing.T) {
	t.Parallel()
	t.Run("SchemaPerCase", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, asStore)
	})
	t.Run("SharedSchemaWithJanitor", func(t *testing.T) {
		t.Parallel()
		s := openWith(t, pgstore.Options{JanitorInterval: 5 * time.Millisecond})
		storetest.Run(t, func(t *testing.T) store.Store { return s })
	})
}

// TestKeyConformance runs the key-ring cases of the suite.
func TestKeyConformance(t *testing.T) {
	t.Parallel()
	storetest.RunKeys(t, func(t *testing.T) store.KeyStore { return open(t) })
}

// TestDifferential runs the random sequences of internal/difftest against
// PostgreSQL and memstore: both decide with store.Record, so what it
// checks is everything around the decision (the columns, the epoch of a
// logout-all, the one-statement revocations, the compare-and-set).
func TestDifferential(t *testing.T) {
	t.Parallel()
	difftest.Run(t, asStore, 4, 400)
}

// TestIssuerIsolation runs the cross-issuer matrix (internal/isolationtest):
// two Issuers with different identifiers on one schema, directly and
// through the hybrid sealed store, must not see each other at all.
func TestIssuerIsolation(t *testing.T) {
	t.Parallel()
	t.Run("pgstore", func(t *testing.T) {
		t.Parallel()
		isolationtest.Run(t, asStore)
	})
	t.Run("sealedstore+pgstore", func(t *testing.T) {
		t.Parallel()
		isolationtest.RunHybrid(t, asStore)
	})
}

// TestManagedKeysFleet runs the fleet scenario (internal/fleettest) with
// two Issuers on one schema, as two instances of a service would share it.
func TestManagedKeysFleet(t *testing.T) {
	t.Parallel()
	st := open(t)
	kek := fleettest.NewKEK(t)
	fleettest.Run(t, func(t *testing.T, now time.Time) (fleettest.Instance, error) {
		return fleettest.OpenLocal(st, st, kek, now)
	})
}
