package bench

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/boltstore"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
	"github.com/sessionkit/sessionkit/store/sealedstore"
)

// The stores side by side: one steady-state rotation (Store.Rotate, what
// every Issuer.Refresh costs on top of minting the access token) on every
// backend, in one run. The root module cannot import the Redis and bbolt
// stores in its tests (their dependencies would reach every user's go.sum);
// this nested module can. Redis runs when REDIS_URL is set.

// backend makes a fresh store for a benchmark.
type backend struct {
	name string
	open func(b *testing.B) store.Store
}

func backends() []backend {
	sealedKeys := func(b *testing.B) sealedstore.Keys {
		k, err := sealedstore.GenerateKey()
		if err != nil {
			b.Fatal(err)
		}
		return sealedstore.Keys{Current: k}
	}
	sealed := func(b *testing.B, state store.Store) store.Store {
		s, err := sealedstore.New(sealedstore.Options{Keys: sealedKeys(b), Issuer: "https://auth.example.com", State: state})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	return []backend{
		{"memstore", func(b *testing.B) store.Store {
			s := memstore.New()
			b.Cleanup(func() { _ = s.Close() })
			return s
		}},
		{"boltstore", func(b *testing.B) store.Store {
			s, err := boltstore.Open(filepath.Join(b.TempDir(), "sessions.db"), boltstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		}},
		{"redisstore", func(b *testing.B) store.Store {
			url := redisURL()
			if url == "" {
				b.Skip("REDIS_URL is unset")
			}
			opt, err := redis.ParseURL(url)
			if err != nil {
				b.Fatal(err)
			}
			client := redis.NewClient(opt)
			b.Cleanup(func() { _ = client.Close() })
			prefix := fmt.Sprintf("skbench:%d:", time.Now().UnixNano())
			s, err := redisstore.New(client, redisstore.Options{Prefix: prefix})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				ctx := context.Background()
				iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
				for iter.Next(ctx) {
					client.Del(ctx, iter.Val())
				}
			})
			return s
		}},
		{"sealed", func(b *testing.B) store.Store { return sealed(b, nil) }},
		{"sealed+memstore", func(b *testing.B) store.Store {
			st := memstore.New()
			b.Cleanup(func() { _ = st.Close() })
			return sealed(b, st)
		}},
	}
}

func BenchmarkStoreRotate(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b)
			ctx := context.Background()
			now := time.Now().Truncate(time.Millisecond)
			secret := randomSecret(b)
			sess := store.Session{
				ID: randomID(b), Subject: "user-1234567890", Scope: "openid profile",
				Claims:    []byte(`{"tenant":"acme","role":"member"}`),
				Device:    store.Device{UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0", IP: "192.0.2.7"},
				CreatedAt: now, LastUsedAt: now, IdleExpiresAt: now.Add(7 * 24 * time.Hour),
				ExpiresAt: now.Add(30 * 24 * time.Hour), Generation: 1,
			}
			created, err := s.Create(ctx, store.NewSession{Session: sess, Hash: sha256.Sum256(secret)})
			if err != nil {
				b.Fatal(err)
			}
			handle := created.Handle
			sealed := make([]byte, 60) // the size of a sealed successor
			rotate := func() {
				next := randomSecret(b)
				now = now.Add(time.Second)
				res, err := s.Rotate(ctx, store.Rotation{
					Handle: handle, Presented: sha256.Sum256(secret), Next: sha256.Sum256(next),
					Sealed: sealed, Now: now, Grace: 10 * time.Second, IdleExpiresAt: now.Add(7 * 24 * time.Hour),
				})
				if err != nil || res.Outcome != store.Rotated {
					b.Fatalf("Rotate: %v %v", res.Outcome, err)
				}
				handle, secret = res.Handle, next
			}
			// Steady state: a full spent-hash history first.
			for range store.MinSpentHistory + 2 {
				rotate()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rotate()
			}
		})
	}
}

func randomSecret(b *testing.B) []byte {
	s := make([]byte, 32)
	if _, err := rand.Read(s); err != nil {
		b.Fatal(err)
	}
	return s
}

func randomID(b *testing.B) string {
	return fmt.Sprintf("%x", randomSecret(b)[:16])
}

// redisURL is $REDIS_URL, empty when unset.
func redisURL() string { return os.Getenv("REDIS_URL") }
