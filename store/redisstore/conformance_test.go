package redisstore_test

import (
	"os"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/storetest"
)

// The conformance suite runs against three servers: miniredis in process
// (always), a real redis-server (REDIS_URL) and a three-master Redis
// Cluster (REDIS_CLUSTER_ADDRS). All cases of one run share the server;
// each case works under its own key prefix.

func TestConformanceMiniredis(t *testing.T) {
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { c.Close() })
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := newStore(t, c)
		return s
	})
}

func TestConformanceRedis(t *testing.T) {
	c := singleClient(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := newStore(t, c)
		return s
	})
}

func TestConformanceCluster(t *testing.T) {
	c := clusterClient(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := newStore(t, c)
		return s
	})
}

// TestCIHasServers fails under CI=true when .ci/run did not export the
// addresses of the Redis servers, so that the real-server runs above can
// never be skipped there unnoticed.
func TestCIHasServers(t *testing.T) {
	t.Parallel()
	if !inCI() {
		t.Skip("CI is not true: the real-server tests skip when their variables are unset")
	}
	for _, name := range []string{"REDIS_URL", "REDIS_CLUSTER_ADDRS"} {
		if os.Getenv(name) == "" {
			t.Errorf("%s is unset under CI=true", name)
		}
	}
}
