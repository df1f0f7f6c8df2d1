package redisstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// The benchmarks run against REDIS_URL and skip when it is unset (in CI too:
// there the tests, not the benchmarks, insist on the servers). See the
// "Redis store" section of BENCHMARKS.md for the commands and results.

// benchClient connects to REDIS_URL or skips the benchmark.
func benchClient(b *testing.B, edit func(*redis.Options)) *redis.Client {
	b.Helper()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		b.Skip("REDIS_URL is unset: the Redis benchmarks need a server")
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		b.Fatalf("REDIS_URL: %v", err)
	}
	if edit != nil {
		edit(opts)
	}
	c := redis.NewClient(opts)
	b.Cleanup(func() { c.Close() })
	return c
}

// seq derives the n-th secret hash of a benchmark's chain.
func seq(n uint64) [32]byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return sha256.Sum256(b[:])
}

// realisticSession is a session as a browser login makes it.
func realisticSession(subject string, i int, at time.Time) store.NewSession {
	return store.NewSession{
		Session: store.Session{
			ID:      fmt.Sprintf("%022d", i), // the length of a real 128-bit base64url id
			Subject: subject,
			Scope:   "openid profile",
			Claims:  []byte(`{"role":"member","tenant":"acme"}`),
			Device: store.Device{
				UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
				IP:        "203.0.113.7",
			},
			CreatedAt: at, LastUsedAt: at,
			IdleExpiresAt: at.Add(7 * 24 * time.Hour), ExpiresAt: at.Add(30 * 24 * time.Hour),
			Generation: 1,
		},
		Hash: seq(uint64(i) << 20),
	}
}

// sealed stands for a sealed successor: the size sessionkit seals.
var sealed = make([]byte, 72)

// BenchmarkRoundTrip compares, in one run against one server, a plain GET
// with the store's one-round-trip calls: a bare EVALSHA compare-and-set
// (the floor of any scripted step), Rotate, CheckAccess and Lookup. The
// -deadline variants pass a context with a deadline, as request handlers
// do: with a client that ignores contexts the store then runs the command
// on a helper goroutine; with ContextTimeoutEnabled it does not.
func BenchmarkRoundTrip(b *testing.B) {
	ctx := context.Background()
	plain := benchClient(b, nil)
	ctxAware := benchClient(b, func(o *redis.Options) { o.ContextTimeoutEnabled = true })
	prefix := freshPrefix()
	b.Cleanup(func() { deletePrefix(b, plain, prefix) })
	st, err := redisstore.New(plain, redisstore.Options{Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	stAware, err := redisstore.New(ctxAware, redisstore.Options{Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().Truncate(time.Millisecond)

	getKey := prefix + "plain"
	if err := plain.Set(ctx, getKey, strings.Repeat("x", 300), time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	cas := redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') return 1 end return 0`)

	// rotator rotates one session's chain, one generation per call.
	type rotator struct {
		s      *redisstore.Store
		handle string
		n      uint64
	}
	newRotator := func(s *redisstore.Store, subject string) *rotator {
		n := realisticSession(subject, 1, now)
		n.Hash = seq(0)
		c, err := s.Create(ctx, n)
		if err != nil {
			b.Fatal(err)
		}
		return &rotator{s: s, handle: c.Handle}
	}
	rotate := func(b *testing.B, r *rotator, ctx func() (context.Context, context.CancelFunc)) {
		c, cancel := ctx()
		res, err := r.s.Rotate(c, store.Rotation{
			Handle: r.handle, Presented: seq(r.n), Next: seq(r.n + 1), Sealed: sealed,
			Now: now, Grace: 10 * time.Second, IdleExpiresAt: now.Add(7 * 24 * time.Hour),
		})
		cancel()
		if err != nil || res.Outcome != store.Rotated {
			b.Fatalf("Rotate: %v, %v", res.Outcome, err)
		}
		r.handle, r.n = res.Handle, r.n+1
	}
	background := func() (context.Context, context.CancelFunc) { return ctx, func() {} }
	deadline := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 5*time.Second) }

	subject := "bench-user@example.com"
	probe := newRotator(st, subject)
	for range 20 { // a steady-state session: full spent history, a sealed successor
		rotate(b, probe, background)
	}
	q := store.AccessCheck{Subject: subject, SessionID: "0000000000000000000001", JTI: "bench-jti", Now: now}
	if err := st.Deny(ctx, subject, "other-jti", now.Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	if err := plain.Set(ctx, prefix+"cas", "0", time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	cas.Load(ctx, plain)

	b.Run("GET", func(b *testing.B) {
		for b.Loop() {
			if err := plain.Get(ctx, getKey).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("CAS", func(b *testing.B) {
		i := plain.Get(ctx, prefix+"cas").Val()
		n, _ := strconv.Atoi(i)
		for b.Loop() {
			next := strconv.Itoa(n + 1)
			if v, err := cas.EvalSha(ctx, plain, []string{prefix + "cas"}, strconv.Itoa(n), next).Int(); err != nil || v != 1 {
				b.Fatalf("CAS: %v %v", v, err)
			}
			n++
		}
	})
	b.Run("Rotate", func(b *testing.B) {
		r := newRotator(st, "rotate-"+randomName())
		for b.Loop() {
			rotate(b, r, background)
		}
	})
	b.Run("CheckAccess", func(b *testing.B) {
		for b.Loop() {
			if s, err := st.CheckAccess(ctx, q); err != nil || !s.SessionLive {
				b.Fatalf("CheckAccess: %+v, %v", s, err)
			}
		}
	})
	b.Run("Lookup", func(b *testing.B) {
		for b.Loop() {
			if _, err := st.Lookup(ctx, probe.handle, seq(probe.n), now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Rotate-deadline", func(b *testing.B) {
		r := newRotator(st, "rotate-"+randomName())
		for b.Loop() {
			rotate(b, r, deadline)
		}
	})
	b.Run("Rotate-deadline-ContextTimeoutEnabled", func(b *testing.B) {
		r := newRotator(stAware, "rotate-"+randomName())
		for b.Loop() {
			rotate(b, r, deadline)
		}
	})
}

// BenchmarkBytesPerSession reports what one session costs in Redis memory,
// by MEMORY USAGE (SAMPLES 0: exact) of its key and its share of its
// subject's index, one session per subject: as created, and rotated once
// or 20 times (the first rotation adds the spent-hash slots and the sealed
// successor; later ones write in place).
func BenchmarkBytesPerSession(b *testing.B) {
	ctx := context.Background()
	c := benchClient(b, nil)
	for _, rotations := range []int{0, 1, 20} {
		b.Run(fmt.Sprintf("rotations=%d", rotations), func(b *testing.B) {
			prefix := freshPrefix()
			b.Cleanup(func() { deletePrefix(b, c, prefix) })
			st, err := redisstore.New(c, redisstore.Options{Prefix: prefix})
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now().Truncate(time.Millisecond)
			var sessionBytes, indexBytes int64
			sessions := 0
			for b.Loop() {
				subject := fmt.Sprintf("user-%d-%s@example.com", sessions, randomName())
				n := realisticSession(subject, sessions, now)
				n.Hash = seq(0)
				cr, err := st.Create(ctx, n)
				if err != nil {
					b.Fatal(err)
				}
				h := cr.Handle
				for g := range rotations {
					res, err := st.Rotate(ctx, store.Rotation{
						Handle: h, Presented: seq(uint64(g)), Next: seq(uint64(g + 1)), Sealed: sealed,
						Now: now, Grace: 10 * time.Second, IdleExpiresAt: now.Add(7 * 24 * time.Hour),
					})
					if err != nil || res.Outcome != store.Rotated {
						b.Fatalf("Rotate: %v, %v", res.Outcome, err)
					}
					h = res.Handle
				}
				tag := store.SubjectTag(subject)
				sk := prefix + "s:{" + tag + "}:" + n.Session.ID
				ik := prefix + "i:{" + tag + "}"
				sb, err := c.MemoryUsage(ctx, sk, 0).Result()
				if err != nil {
					b.Fatal(err)
				}
				ib, err := c.MemoryUsage(ctx, ik, 0).Result()
				if err != nil {
					b.Fatal(err)
				}
				sessionBytes += sb
				indexBytes += ib
				sessions++
			}
			b.ReportMetric(float64(sessionBytes)/float64(sessions), "session-key-B")
			b.ReportMetric(float64(indexBytes)/float64(sessions), "index-B")
			b.ReportMetric(float64(sessionBytes+indexBytes)/float64(sessions), "B/session")
		})
	}
}

// BenchmarkRotateAtScale rotates random sessions among 10,000 and among
// 1,000,000 live ones (two sessions per subject), loaded in bulk through
// pipelines already rotated once, so that every measured rotation is the
// steady-state one at both sizes. It is slow and needs about 1 GB of Redis
// memory, so it runs only with SESSIONKIT_BENCH_SCALE=1.
func BenchmarkRotateAtScale(b *testing.B) {
	if os.Getenv("SESSIONKIT_BENCH_SCALE") != "1" {
		b.Skip("set SESSIONKIT_BENCH_SCALE=1 to load 1,000,000 sessions and run this benchmark")
	}
	ctx := context.Background()
	c := benchClient(b, nil)
	for _, size := range []int{10_000, 1_000_000} {
		prefix := freshPrefix()
		st, err := redisstore.New(c, redisstore.Options{Prefix: prefix})
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now().Truncate(time.Millisecond)
		before := usedMemory(b, c)
		handles := make([]string, size)
		gens := make([]uint64, size) // the secret of generation g of session i is seq(i<<20 + g)
		batch := make([]store.NewSession, 0, 10_000)
		for i := range size {
			n := realisticSession(fmt.Sprintf("user-%d@example.com", i/2), i, now)
			n.Hash = seq(uint64(i)<<20 + 2)
			batch = append(batch, n)
			handles[i] = store.FormatHandle(store.HandleInfo{Tag: store.SubjectTag(n.Session.Subject), SessionID: n.Session.ID, Generation: 2})
			gens[i] = 2
			if len(batch) == cap(batch) || i == size-1 {
				if err := st.BulkCreate(ctx, batch, true); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		loaded := float64(usedMemory(b, c)-before) / float64(size)
		rng := rand.New(rand.NewPCG(1, 2))
		b.Run(fmt.Sprintf("sessions=%d", size), func(b *testing.B) {
			for b.Loop() {
				i := rng.IntN(size)
				base := uint64(i) << 20
				res, err := st.Rotate(ctx, store.Rotation{
					Handle: handles[i], Presented: seq(base + gens[i]), Next: seq(base + gens[i] + 1), Sealed: sealed,
					Now: now, Grace: 10 * time.Second, IdleExpiresAt: now.Add(7 * 24 * time.Hour),
				})
				if err != nil || res.Outcome != store.Rotated {
					b.Fatalf("Rotate: %v, %v", res.Outcome, err)
				}
				handles[i], gens[i] = res.Handle, gens[i]+1
			}
			b.ReportMetric(loaded, "used_memory-B/session") // after the loop: b.Loop resets metrics
		})
		deletePrefix(b, c, prefix)
		waitLazyFree(b, c) // the next size must not share the server with the freeing of this one
	}
}

// waitLazyFree waits until the server has freed what UNLINK handed to its
// background thread.
func waitLazyFree(b *testing.B, c *redis.Client) {
	b.Helper()
	for range 600 {
		info, err := c.Info(context.Background(), "memory").Result()
		if err != nil {
			b.Fatal(err)
		}
		if strings.Contains(info, "lazyfree_pending_objects:0\r\n") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatal("the server did not finish freeing the deleted sessions within a minute")
}

// usedMemory reads the server's used_memory (INFO memory).
func usedMemory(b *testing.B, c *redis.Client) int64 {
	b.Helper()
	info, err := c.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("INFO memory has no used_memory")
	return 0
}
