package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// BenchmarkStatefulVerify/<alg>/<case> puts the stateful check on Redis
// (REDIS_URL) beside its floor, in one run: Issuer.Verify of one token
// statelessly with the cache off ("stateless"), the same followed by a
// plain GET on the same client ("stateless+GET": the floor of a verify
// that reads the store once), and the stateful Verify on redisstore with
// the verified-token cache off and on ("redis", "redis+cache": the
// signature skipped, the store read kept).
func BenchmarkStatefulVerify(b *testing.B) {
	for _, alg := range algs {
		b.Run(string(alg), func(b *testing.B) {
			client, st, key := redisFixture(b, alg)
			newIssuer := func(stateless bool, cache int) *sessionkit.Issuer {
				iss, err := sessionkit.New(sessionkit.Config{
					Issuer: issuerID, Audience: []string{audience}, Keys: sessionkit.NewKeySet(key),
					Store: st, SkipRevocationCheck: stateless, VerifyCacheSize: cache,
				})
				if err != nil {
					b.Fatal(err)
				}
				return iss
			}
			ctx := context.Background()
			login := newIssuer(false, -1)
			toks, err := login.Login(ctx, sessionkit.Grant{Subject: subject, Scope: scope})
			if err != nil {
				b.Fatal(err)
			}
			for _, c := range []struct {
				name string
				iss  *sessionkit.Issuer
				get  bool
			}{
				{"stateless", newIssuer(true, -1), false},
				{"stateless+GET", newIssuer(true, -1), true},
				{"redis", newIssuer(false, -1), false},
				{"redis+cache", newIssuer(false, 0), false},
			} {
				b.Run(c.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if _, err := c.iss.Verify(ctx, toks.AccessToken); err != nil {
							b.Fatal(err)
						}
						if c.get {
							if err := client.Get(ctx, "skbench:get").Err(); err != nil {
								b.Fatal(err)
							}
						}
					}
				})
			}
		})
	}
}

// redisFixture is what the Redis benchmarks share: a client on REDIS_URL
// with a key "skbench:get" for their GETs, a store under a fresh prefix
// whose keys go when the benchmark ends, and a signing key of alg.
func redisFixture(b *testing.B, alg sessionkit.Algorithm) (*redis.Client, *redisstore.Store, *sessionkit.SigningKey) {
	client := redisClient(b)
	st, key, prefix := newBenchStore(b, client, alg)
	ctx := context.Background()
	if err := client.Set(ctx, "skbench:get", "x", 0).Err(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cleanPrefix(client, prefix)
		client.Del(context.Background(), "skbench:get")
	})
	return client, st, key
}

// newBenchStore is a Store on client under a fresh prefix (returned: the
// caller deletes its keys) and a signing key of alg.
func newBenchStore(b *testing.B, client redis.UniversalClient, alg sessionkit.Algorithm) (*redisstore.Store, *sessionkit.SigningKey, string) {
	prefix := fmt.Sprintf("skbench:%d:", time.Now().UnixNano())
	st, err := redisstore.New(client, redisstore.Options{Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	key, err := sessionkit.GenerateSigningKey(alg)
	if err != nil {
		b.Fatal(err)
	}
	return st, key, prefix
}

// cleanPrefix deletes the keys under prefix.
func cleanPrefix(client *redis.Client, prefix string) {
	ctx := context.Background()
	iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		client.Del(ctx, iter.Val())
	}
}

// redisClient is a client on REDIS_URL, configured as redisstore's
// documentation recommends (ContextTimeoutEnabled, so that a call with a
// deadline needs no helper goroutine); the benchmark skips without it.
func redisClient(b *testing.B) *redis.Client {
	c, why, err := redisURLClient()
	if err != nil {
		b.Fatal(err)
	}
	if c == nil {
		b.Skip(why)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// redisURLClient is a client on REDIS_URL with ContextTimeoutEnabled, or a
// nil client and why there is none.
func redisURLClient() (*redis.Client, string, error) {
	url := redisURL()
	if url == "" {
		return nil, "REDIS_URL is unset", nil
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, "", err
	}
	opt.ContextTimeoutEnabled = true
	return redis.NewClient(opt), "", nil
}
