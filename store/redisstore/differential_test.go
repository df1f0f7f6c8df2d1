package redisstore_test

import (
	"testing"

	"github.com/sessionkit/sessionkit/internal/difftest"
	"github.com/sessionkit/sessionkit/store"
)

// TestDifferential checks the Lua scripts against the rotation rules'
// one home, store.Record (through memstore): random sequences of Create,
// Rotate, Lookup, Revoke, RevokeSession, RevokeAll, Deny, CheckAccess and
// clock steps must give the same answers and leave the same records, on
// miniredis (8 sequences), a real redis-server (8) and a Cluster (4).
func TestDifferential(t *testing.T) {
	t.Parallel()
	sequences := map[string]int{"Miniredis": 8, "Redis": 8, "Cluster": 4}
	for _, srv := range servers() {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			c := srv.client(t)
			difftest.Run(t, func(t *testing.T) store.Store {
				s, _ := newStore(t, c)
				return s
			}, sequences[srv.name], 400)
		})
	}
}
