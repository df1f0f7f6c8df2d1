package sessionkit_test

import (
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/fleettest"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// TestManagedKeysFleet runs the fleet scenario (internal/fleettest) with
// two Issuers on one memstore: two whole rotations on a stepped clock,
// every live token verifying at both instances at every step, and a
// restart keeping the keys. store/boltstore and store/redisstore run it
// over theirs.
func TestManagedKeysFleet(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	kek := fleettest.NewKEK(t)
	fleettest.Run(t, func(t *testing.T, now time.Time) (fleettest.Instance, error) {
		return fleettest.OpenLocal(st, st, kek, now)
	})
}
