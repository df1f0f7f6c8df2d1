package bench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// viewServerEnv picks the Redis of the pushed-revocation measurements
// (BenchmarkViewVerify, TestViewLogoutAllLatency): unset or "redis", the
// server of REDIS_URL; "cluster", the Cluster of REDIS_CLUSTER_ADDRS
// (comma-separated host:port), where a View subscribes to every master.
const viewServerEnv = "SESSIONKIT_VIEW_SERVER"

// viewRedis returns a client of the Redis viewServerEnv names, tuned as
// redisstore advises, or a nil client and why that Redis is not configured.
func viewRedis() (redis.UniversalClient, string, error) {
	switch os.Getenv(viewServerEnv) {
	case "", "redis":
		c, why, err := redisURLClient()
		if c == nil { // a nil *redis.Client is not a nil interface
			return nil, why, err
		}
		return c, "", nil
	case "cluster":
		addrs := os.Getenv("REDIS_CLUSTER_ADDRS")
		if addrs == "" {
			return nil, "REDIS_CLUSTER_ADDRS is unset", nil
		}
		return redis.NewClusterClient(redisstore.ClusterOptions(strings.Split(addrs, ",")...)), "", nil
	default:
		return nil, "", fmt.Errorf("%s=%q: want redis or cluster", viewServerEnv, os.Getenv(viewServerEnv))
	}
}

// viewFixture is a Store under a fresh prefix on the Redis of
// viewServerEnv, and a signing key of alg; the benchmark skips when that
// Redis is not configured.
func viewFixture(b *testing.B, alg sessionkit.Algorithm) (*redisstore.Store, *sessionkit.SigningKey) {
	client, why, err := viewRedis()
	if err != nil {
		b.Fatal(err)
	}
	if client == nil {
		b.Skip(why)
	}
	st, key, prefix := newBenchStore(b, client, alg)
	b.Cleanup(func() {
		cleanKeys(client, prefix)
		_ = client.Close()
	})
	return st, key
}

// cleanKeys deletes the keys under prefix, on every master of a Cluster.
func cleanKeys(client redis.UniversalClient, prefix string) {
	ctx := context.Background()
	if cc, ok := client.(*redis.ClusterClient); ok {
		_ = cc.ForEachMaster(ctx, func(_ context.Context, c *redis.Client) error {
			cleanPrefix(c, prefix)
			return nil
		})
		return
	}
	if c, ok := client.(*redis.Client); ok {
		cleanPrefix(c, prefix)
	}
}
