package redisstore_test

import (
	"context"
	"sync"
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
// key space, which must be empty when the test starts; each case uses
// subjects and jtis of its own, and the keys are deleted when the test
// ends.
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
			// The default key space is shared with whatever else uses
			// the server: run only on a server where it is empty (as
			// .ci/run's are), so that the clean-up deletes only what
			// this test wrote.
			if n := countPrefix(t, c, redisstore.DefaultPrefix); n > 0 {
				if inCI() {
					t.Fatalf("the server already holds %d keys under %q", n, redisstore.DefaultPrefix)
				}
				t.Skipf("the server holds %d keys under %q: this test writes there and would delete them afterwards", n, redisstore.DefaultPrefix)
			}
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

// countPrefix counts the keys under prefix, on every master of a cluster.
func countPrefix(t testing.TB, c redis.UniversalClient, prefix string) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	count := func(ctx context.Context, node redis.UniversalClient) error {
		iter := node.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			n++
		}
		return iter.Err()
	}
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		err = cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			return count(ctx, node)
		})
	} else {
		err = count(ctx, c)
	}
	if err != nil {
		t.Fatalf("counting keys under %q: %v", prefix, err)
	}
	return n
}
