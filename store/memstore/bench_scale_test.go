package memstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// scaleEnv enables the cases at a million live sessions; without it they
// are skipped, so that `go test -run '^$' -bench . -benchtime 1x ./...`
// stays fast. store/boltstore uses the same variable.
const scaleEnv = "SESSIONKIT_BENCH_SCALE"

// scaleStart is when every session of these benchmarks is created.
var scaleStart = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// scaleSession is session i: a random-looking id (like the 16 random bytes
// the issuer uses), two sessions per subject, realistic scope, claims and
// device. store/boltstore's benchmarks store the same sessions.
func scaleSession(i int) store.NewSession {
	sum := sha256.Sum256([]byte(fmt.Sprint("session ", i)))
	return store.NewSession{
		Session: store.Session{
			ID:            base64.RawURLEncoding.EncodeToString(sum[:16]),
			Subject:       fmt.Sprintf("user-%08d", i/2),
			Scope:         "openid profile items:read",
			Claims:        []byte(`{"role":"member","tenant":"t-42"}`),
			Device:        store.Device{UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", IP: "203.0.113.7"},
			CreatedAt:     scaleStart,
			LastUsedAt:    scaleStart,
			IdleExpiresAt: scaleStart.Add(7 * 24 * time.Hour),
			ExpiresAt:     scaleStart.Add(30 * 24 * time.Hour),
			Generation:    1,
		},
		Hash: scaleHash(i, 1),
	}
}

// scaleHash stands for the hash of the secret of generation g of session
// i. The store only compares hashes, so it is built without hashing: the
// benchmarks then time the store, not SHA-256.
func scaleHash(i int, g uint64) (h [32]byte) {
	binary.LittleEndian.PutUint64(h[0:], uint64(i))
	binary.LittleEndian.PutUint64(h[8:], g)
	copy(h[16:], "sessionkit-bench")
	return h
}

// scaleFixture is a store holding live sessions, with the current handle
// and generation of each. It lives for the whole benchmark binary, so that
// the repeated runs of a benchmark (growing b.N) load it once.
type scaleFixture struct {
	s       *Store
	handles []string
	gens    []uint64
}

var (
	scaleMu       sync.Mutex
	scaleFixtures = map[int]*scaleFixture{}
)

func loadScale(b *testing.B, live int) *scaleFixture {
	b.Helper()
	scaleMu.Lock()
	defer scaleMu.Unlock()
	if f := scaleFixtures[live]; f != nil {
		return f
	}
	f := &scaleFixture{s: New(), handles: make([]string, live), gens: make([]uint64, live)}
	ctx := context.Background()
	now := scaleStart.Add(time.Second)
	for i := range live {
		c, err := f.s.Create(ctx, scaleSession(i))
		if err != nil {
			b.Fatal(err)
		}
		// Rotate each session once, as in a server that has run a while:
		// the first rotation allocates the session's spent-hash history,
		// and the benchmark should time rotations in the steady state at
		// every size, not mostly first ones at a million.
		res, err := f.s.Rotate(ctx, store.Rotation{
			Handle: c.Handle, Presented: scaleHash(i, 1), Next: scaleHash(i, 2),
			Sealed: make([]byte, 72), Now: now, IdleExpiresAt: now.Add(7 * 24 * time.Hour),
		})
		if err != nil || res.Outcome != store.Rotated {
			b.Fatalf("session %d: %v, %v", i, res.Outcome, err)
		}
		f.handles[i], f.gens[i] = res.Handle, 2
	}
	scaleFixtures[live] = f
	return f
}

// BenchmarkRotateScale measures one Store.Rotate on a random session among
// live ones, at 10,000 and (with SESSIONKIT_BENCH_SCALE=1) 1,000,000 live
// sessions: the cost of a rotation should not depend on how many sessions
// the store holds.
func BenchmarkRotateScale(b *testing.B) {
	for _, live := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) {
			if live > 10_000 && os.Getenv(scaleEnv) == "" {
				b.Skipf("set %s=1 to load %d sessions", scaleEnv, live)
			}
			f := loadScale(b, live)
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(1, uint64(b.N)))
			sealed := make([]byte, 72)
			now := scaleStart.Add(time.Minute)
			idle := now.Add(7 * 24 * time.Hour)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				i := rng.IntN(live)
				g := f.gens[i]
				res, err := f.s.Rotate(ctx, store.Rotation{
					Handle: f.handles[i], Presented: scaleHash(i, g), Next: scaleHash(i, g+1),
					Sealed: sealed, Now: now, Grace: 10 * time.Second, IdleExpiresAt: idle,
				})
				if err != nil || res.Outcome != store.Rotated {
					b.Fatalf("session %d generation %d: %v, %v", i, g, res.Outcome, err)
				}
				f.handles[i], f.gens[i] = res.Handle, g+1
			}
		})
	}
}

// BenchmarkBytesPerSession reports the heap a session takes in memstore
// (B/session: live heap after a GC, before and after creating the
// sessions, divided by their number). "rotated" rotates each session
// store.MinSpentHistory times first, so that it carries its spent-hash
// history and a sealed successor.
func BenchmarkBytesPerSession(b *testing.B) {
	for _, c := range []struct {
		n       int
		rotated bool
	}{{10_000, false}, {10_000, true}, {1_000_000, false}, {1_000_000, true}} {
		name := fmt.Sprintf("sessions=%d/fresh", c.n)
		if c.rotated {
			name = fmt.Sprintf("sessions=%d/rotated", c.n)
		}
		b.Run(name, func(b *testing.B) {
			if c.n > 10_000 && os.Getenv(scaleEnv) == "" {
				b.Skipf("set %s=1 to create %d sessions", scaleEnv, c.n)
			}
			var perSession float64
			for b.Loop() {
				perSession = heapPerSession(b, c.n, c.rotated)
			}
			b.ReportMetric(perSession, "B/session")
		})
	}
}

func heapPerSession(b *testing.B, n int, rotated bool) float64 {
	b.Helper()
	ctx := context.Background()
	before := liveHeap()
	s := New()
	sealed := make([]byte, 72)
	now := scaleStart.Add(time.Minute)
	for i := range n {
		ns := scaleSession(i)
		c, err := s.Create(ctx, ns)
		if err != nil {
			b.Fatal(err)
		}
		if !rotated {
			continue
		}
		h := c.Handle
		for g := range uint64(store.MinSpentHistory) {
			res, err := s.Rotate(ctx, store.Rotation{
				Handle: h, Presented: scaleHash(i, g+1), Next: scaleHash(i, g+2),
				Sealed: sealed, Now: now, IdleExpiresAt: now.Add(time.Hour),
			})
			if err != nil || res.Outcome != store.Rotated {
				b.Fatalf("session %d: %v, %v", i, res.Outcome, err)
			}
			h = res.Handle
		}
	}
	after := liveHeap()
	runtime.KeepAlive(s)
	return float64(after-before) / float64(n)
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
