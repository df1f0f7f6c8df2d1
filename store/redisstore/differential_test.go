package redisstore_test

import (
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/internal/difftest"
	"github.com/sessionkit/sessionkit/store"
)

// TestDifferential checks the Lua scripts against the rotation rules'
// one home, store.Record (through memstore): random sequences of Create,
// Rotate, Lookup, Revoke, RevokeSession, RevokeAll, Deny, CheckAccess and
// clock steps must give the same answers and leave the same records, on
// miniredis, a real redis-server (REDIS_URL) and a Cluster
// (REDIS_CLUSTER_ADDRS).
func TestDifferential(t *testing.T) {
	t.Parallel()
	for _, srv := range []struct {
		name      string
		sequences int
		client    func(t *testing.T) redis.UniversalClient
	}{
		{"Miniredis", 8, func(t *testing.T) redis.UniversalClient {
			c := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
			t.Cleanup(func() { c.Close() })
			return c
		}},
		{"Redis", 8, func(t *testing.T) redis.UniversalClient { return singleClient(t) }},
		{"Cluster", 4, func(t *testing.T) redis.UniversalClient { return clusterClient(t) }},
	} {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			c := srv.client(t)
			difftest.Run(t, func(t *testing.T) store.Store {
				s, _ := newStore(t, c)
				return s
			}, srv.sequences, 400)
		})
	}
}
