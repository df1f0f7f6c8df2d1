package redisstore_test

import (
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/internal/isolationtest"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// TestIssuerIsolation runs the cross-issuer matrix (internal/isolationtest)
// with the store's default options, as an application that never thought
// of prefixes has it: two Issuers with different identifiers on one
// miniredis, one real redis-server (REDIS_URL) and one Redis Cluster
// (REDIS_CLUSTER_ADDRS), directly and through the hybrid sealed store, must
// not see each other at all. The cases on a real server share its default
// key space; each uses subjects and jtis of its own, and the keys are
// deleted when the test ends.
func TestIssuerIsolation(t *testing.T) {
	t.Parallel()
	onMiniredis := func(t *testing.T) store.Store {
		m := miniredis.RunT(t)
		c := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { c.Close() })
		return defaultStore(t, c)
	}
	t.Run("miniredis", func(t *testing.T) {
		t.Parallel()
		isolationtest.Run(t, onMiniredis)
		isolationtest.RunHybrid(t, onMiniredis)
	})
	for _, server := range []struct {
		name   string
		client func(testing.TB) redis.UniversalClient
	}{
		{"redis-server", func(t testing.TB) redis.UniversalClient { return singleClient(t) }},
		{"cluster", func(t testing.TB) redis.UniversalClient { return clusterClient(t) }},
	} {
		t.Run(server.name, func(t *testing.T) {
			t.Parallel()
			c := server.client(t)
			t.Cleanup(func() { deletePrefix(t, c, redisstore.DefaultPrefix) })
			on := func(t *testing.T) store.Store { return defaultStore(t, c) }
			isolationtest.Run(t, on)
			isolationtest.RunHybrid(t, on)
		})
	}
}

// defaultStore is a store on c with the zero Options.
func defaultStore(t *testing.T, c redis.UniversalClient) store.Store {
	t.Helper()
	s, err := redisstore.New(c, redisstore.Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}
