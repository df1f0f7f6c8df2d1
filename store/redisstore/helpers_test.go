package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/store/redisstore"
)

func init() {
	// The outage tests make go-redis log every failed dial; the tests
	// check the errors the store returns instead.
	redis.SetLogger(quiet{})
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// inCI reports whether the tests run in CI (CI=true), where every server a
// test needs is there: a missing one fails the test instead of skipping it.
func inCI() bool { return os.Getenv("CI") == "true" }

// needEnv returns the environment variable name, skipping the test when it
// is unset outside CI and failing it under CI=true.
func needEnv(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if inCI() {
			t.Fatalf("%s is unset under CI=true: .ci/run starts the Redis servers and exports it", name)
		}
		t.Skipf("%s is unset: set it to run this test against a real Redis", name)
	}
	return v
}

// randomName returns 12 random base64url characters.
func randomName() string {
	b := make([]byte, 9)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// freshPrefix returns a key prefix no other test uses.
func freshPrefix() string { return "sktest:" + randomName() + ":" }

// singleClient connects to REDIS_URL (skipping or failing as needEnv does).
func singleClient(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(needEnv(t, "REDIS_URL"))
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("REDIS_URL does not answer: %v", err)
	}
	return c
}

// clusterClient connects to REDIS_CLUSTER_ADDRS (skipping or failing as
// needEnv does).
func clusterClient(t testing.TB) *redis.ClusterClient {
	t.Helper()
	addrs := strings.Split(needEnv(t, "REDIS_CLUSTER_ADDRS"), ",")
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("REDIS_CLUSTER_ADDRS does not answer: %v", err)
	}
	info, err := c.ClusterInfo(ctx).Result()
	if err != nil || !strings.Contains(info, "cluster_state:ok") {
		t.Fatalf("REDIS_CLUSTER_ADDRS is not a healthy cluster: %v %q", err, info)
	}
	return c
}

// newStore returns a store on c under a fresh prefix whose keys are
// deleted when the test ends (never FLUSHALL: the server may be shared).
func newStore(t testing.TB, c redis.UniversalClient) (*redisstore.Store, string) {
	t.Helper()
	prefix := freshPrefix()
	s, err := redisstore.New(c, redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { deletePrefix(t, c, prefix) })
	return s, prefix
}

// deletePrefix deletes every key under prefix, on every master of a
// cluster.
func deletePrefix(t testing.TB, c redis.UniversalClient, prefix string) {
	ctx := context.Background()
	del := func(ctx context.Context, n redis.UniversalClient) error {
		iter := n.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var batch []string
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			// One key per UNLINK: in a cluster the keys of a batch
			// may live in different slots.
			p := n.Pipeline()
			for _, k := range batch {
				p.Unlink(ctx, k)
			}
			_, err := p.Exec(ctx)
			batch = batch[:0]
			return err
		}
		for iter.Next(ctx) {
			if batch = append(batch, iter.Val()); len(batch) == 1000 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		return flush()
	}
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return del(ctx, n) })
	} else {
		err = del(ctx, c)
	}
	if err != nil {
		t.Errorf("deleting the test's keys (prefix %q): %v", prefix, err)
	}
}
