package redisstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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
	t.Parallel()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { c.Close() })
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := newStore(t, c)
		return s
	})
}

func TestConformanceRedis(t *testing.T) {
	t.Parallel()
	c := singleClient(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := newStore(t, c)
		return s
	})
}

func TestConformanceCluster(t *testing.T) {
	t.Parallel()
	c := clusterClient(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := newStore(t, c)
		return s
	})
}

// TestKeyConformance runs the key-ring cases of the suite against
// miniredis, a real redis-server (REDIS_URL) and a Cluster
// (REDIS_CLUSTER_ADDRS), each run's cases sharing the server.
func TestKeyConformance(t *testing.T) {
	t.Parallel()
	for _, srv := range servers() {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			c := srv.client(t)
			storetest.RunKeys(t, func(t *testing.T) store.KeyStore {
				s, _ := newStore(t, c)
				return s
			})
		})
	}
}

// TestConformanceSentinel runs the suite through a Sentinel failover
// client: a redis-server master and one Sentinel monitoring it, both started
// by the test (skipped without redis-server outside CI, failed under
// CI=true).
func TestConformanceSentinel(t *testing.T) {
	t.Parallel()
	masterDir := t.TempDir()
	master := startRedis(t, masterDir, "Ready to accept connections", func(port int) []string {
		return []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", masterDir,
			"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", ""}
	})
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf") // Sentinel rewrites its configuration file
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("sentinel monitor sessionkit 127.0.0.1 %d 1\n", master.port.Load())), 0o600); err != nil {
		t.Fatal(err)
	}
	sentinel := startRedis(t, dir, "+monitor master sessionkit", func(port int) []string {
		return []string{conf, "--sentinel", "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
			"--daemonize", "no", "--logfile", ""}
	})
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "sessionkit", SentinelAddrs: []string{sentinel.addr()}})
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("the master through Sentinel: %v", err)
	}
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

// server is one of the servers a test runs against, by name.
type server struct {
	name   string
	client func(t *testing.T) redis.UniversalClient
}

// servers are miniredis (always), a real redis-server (REDIS_URL) and a
// Cluster (REDIS_CLUSTER_ADDRS).
func servers() []server {
	return []server{
		{"Miniredis", func(t *testing.T) redis.UniversalClient {
			c := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
			t.Cleanup(func() { c.Close() })
			return c
		}},
		{"Redis", func(t *testing.T) redis.UniversalClient { return singleClient(t) }},
		{"Cluster", func(t *testing.T) redis.UniversalClient { return clusterClient(t) }},
	}
}
