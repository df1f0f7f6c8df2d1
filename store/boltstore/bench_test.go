package boltstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/sessionkit/store"
)

// scaleEnv enables the benchmarks at a million live sessions, which take
// minutes to load; without it they are skipped, so that
// `go test -run '^$' -bench . -benchtime 1x ./...` stays fast.
const scaleEnv = "SESSIONKIT_BENCH_SCALE"

// loadChunk is how many sessions one bulk-load transaction creates.
const loadChunk = 50_000

// benchSession is session i of a bulk load: a random-looking id (like the
// 16 random bytes the issuer uses), two sessions per subject, realistic
// scope, claims and device.
func benchSession(i int) *record {
	sum := sha256.Sum256([]byte(fmt.Sprint("session ", i)))
	return &record{store.Record{
		Session: store.Session{
			ID:            base64.RawURLEncoding.EncodeToString(sum[:16]),
			Subject:       fmt.Sprintf("user-%08d", i/2),
			Scope:         "openid profile items:read",
			Claims:        []byte(`{"role":"member","tenant":"t-42"}`),
			Device:        store.Device{UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", IP: "203.0.113.7"},
			CreatedAt:     t0,
			LastUsedAt:    t0,
			IdleExpiresAt: t0.Add(7 * 24 * time.Hour),
			ExpiresAt:     t0.Add(30 * 24 * time.Hour),
			Generation:    1,
		},
		Current: benchHash(i, 1),
	}}
}

// benchHash stands for the hash of the secret of generation g of session
// i. The store only compares hashes, so it is built without hashing: the
// benchmarks time the store (memstore's benchmarks do the same).
func benchHash(i int, g uint64) (h [32]byte) {
	binary.LittleEndian.PutUint64(h[0:], uint64(i))
	binary.LittleEndian.PutUint64(h[8:], g)
	copy(h[16:], "sessionkit-bench")
	return h
}

// bulkLoad creates sessions [from, to) in transactions of loadChunk, the
// way Create stores them.
func bulkLoad(tb testing.TB, db *bbolt.DB, from, to int) {
	tb.Helper()
	for lo := from; lo < to; lo += loadChunk {
		err := db.Update(func(tx *bbolt.Tx) error {
			b, err := bucketsOf(tx)
			if err != nil {
				return err
			}
			for i := lo; i < min(lo+loadChunk, to); i++ {
				if taken, _, err := b.create(benchSession(i)); err != nil || taken {
					return fmt.Errorf("session %d: taken %v, %v", i, taken, err)
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// rotateFixture is a store loaded with live sessions and the current
// handle and generation of each. It lives for the whole benchmark binary,
// so that the repeated runs of a benchmark (growing b.N) load it once. A
// run's writers split the sessions between them, so each entry is touched
// by one goroutine at a time.
type rotateFixture struct {
	s       *Store
	handles []string
	gens    []uint64
}

var (
	fixtureMu sync.Mutex
	fixtures  = map[int]*rotateFixture{}
	benchDir  string // removed by TestMain
)

// closeFixtures closes the benchmark fixtures and removes their files.
func closeFixtures() {
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	for _, f := range fixtures {
		_ = f.s.Close()
	}
	if benchDir != "" {
		_ = os.RemoveAll(benchDir)
	}
}

func fixture(b *testing.B, live int) *rotateFixture {
	b.Helper()
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	if f := fixtures[live]; f != nil {
		return f
	}
	if benchDir == "" {
		dir, err := os.MkdirTemp("", "boltstore-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = dir
	}
	s, err := Open(filepath.Join(benchDir, fmt.Sprintf("live-%d.db", live)), Options{})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	bulkLoad(b, s.db, 0, live)
	// Read every page once, as a server that has run a while has: the
	// benchmark then measures rotations, not first touches of the mapping.
	if err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(_ []byte, bk *bbolt.Bucket) error { return bk.ForEach(func(_, _ []byte) error { return nil }) })
	}); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d sessions in %v", live, time.Since(start).Round(time.Millisecond))
	f := &rotateFixture{s: s, handles: make([]string, live), gens: make([]uint64, live)}
	for i := range live {
		rec := benchSession(i)
		f.handles[i] = store.FormatHandle(store.HandleInfo{Tag: store.SubjectTag(rec.Session.Subject), SessionID: rec.Session.ID, Generation: 1})
		f.gens[i] = 1
	}
	fixtures[live] = f
	return f
}

// rotate rotates session i, which only the calling writer touches.
func (f *rotateFixture) rotate(ctx context.Context, i int, sealed []byte) error {
	g := f.gens[i]
	now := t0.Add(time.Minute)
	res, err := f.s.Rotate(ctx, store.Rotation{
		Handle:        f.handles[i],
		Presented:     benchHash(i, g),
		Next:          benchHash(i, g+1),
		Sealed:        sealed,
		Now:           now,
		Grace:         10 * time.Second,
		IdleExpiresAt: now.Add(7 * 24 * time.Hour),
	})
	if err != nil {
		return err
	}
	if res.Outcome != store.Rotated {
		return fmt.Errorf("session %d generation %d: %v", i, g, res.Outcome)
	}
	f.handles[i], f.gens[i] = res.Handle, g+1
	return nil
}

// BenchmarkRotate measures Store.Rotate on a real file (one fsynced
// transaction per rotation, shared by concurrent writers) over live
// sessions, from 1 and 8 concurrent writers. ns/op is wall time per
// rotation, so the throughput ratio of 8 writers to 1 is the ratio of their
// ns/op. Each writer rotates random sessions of its own.
func BenchmarkRotate(b *testing.B) {
	for _, live := range []int{10_000, 1_000_000} {
		for _, writers := range []int{1, 8} {
			b.Run(fmt.Sprintf("live=%d/writers=%d", live, writers), func(b *testing.B) {
				if live > 10_000 && os.Getenv(scaleEnv) == "" {
					b.Skipf("set %s=1 to load %d sessions", scaleEnv, live)
				}
				f := fixture(b, live)
				sealed := make([]byte, 72)
				var next atomic.Int64
				var failed atomic.Value
				tx0 := lastTx(b, f.s.db)
				b.ResetTimer()
				var wg sync.WaitGroup
				for w := range writers {
					wg.Go(func() {
						rng := rand.New(rand.NewPCG(uint64(w), uint64(b.N)))
						mine := live / writers
						for next.Add(1) <= int64(b.N) {
							i := w + writers*rng.IntN(mine)
							if err := f.rotate(context.Background(), i, sealed); err != nil {
								failed.CompareAndSwap(nil, err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				if err, _ := failed.Load().(error); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rotations/s")
				b.ReportMetric(float64(b.N)/float64(lastTx(b, f.s.db)-tx0), "rotations/commit")
			})
		}
	}
}

// BenchmarkOpen measures Open (and Close) of a file holding live sessions:
// the cost of a restart. Open rebuilds bbolt's freelist by scanning the
// file, since the store does not write it at every commit.
func BenchmarkOpen(b *testing.B) {
	for _, live := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) {
			if live > 10_000 && os.Getenv(scaleEnv) == "" {
				b.Skipf("set %s=1 to load %d sessions", scaleEnv, live)
			}
			f := fixture(b, live)
			fixtureMu.Lock()
			defer fixtureMu.Unlock()
			path := f.s.db.Path()
			if err := f.s.Close(); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				s, err := Open(path, Options{})
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
			}
			s, err := Open(path, Options{})
			if err != nil {
				b.Fatal(err)
			}
			f.s = s
		})
	}
}

// BenchmarkDiskBytesPerSession creates sessions in a fresh file through
// Store.Create, from diskWriters concurrent writers as logins would, and
// reports what they take on disk, per session: file-B/session is the growth
// of the file (bbolt grows it in steps of up to 16 MiB, so it rounds up),
// pages-B/session the growth of the pages the file holds up to its
// high-water mark (pages in use and free pages), data-B/session the bytes
// of the store's buckets' pages in use (keys, values and page headers; the
// unused part of each page excluded). The "rotated" case then rotates
// every session store.MinSpentHistory times through Store.Rotate, so that
// each carries a full history of spent hashes and a sealed successor: the
// largest a session gets.
func BenchmarkDiskBytesPerSession(b *testing.B) {
	for _, c := range []struct {
		n       int
		rotated bool
	}{{10_000, false}, {10_000, true}, {1_000_000, false}} {
		name := fmt.Sprintf("sessions=%d/fresh", c.n)
		if c.rotated {
			name = fmt.Sprintf("sessions=%d/rotated", c.n)
		}
		b.Run(name, func(b *testing.B) {
			if (c.n > 10_000 || c.rotated) && os.Getenv(scaleEnv) == "" {
				b.Skipf("set %s=1 to run the slow cases", scaleEnv)
			}
			var d perSession
			for b.Loop() {
				d = diskBytes(b, c.n, c.rotated)
			}
			b.ReportMetric(d.file, "file-B/session")
			b.ReportMetric(d.pages, "pages-B/session")
			b.ReportMetric(d.data, "data-B/session")
		})
	}
}

// diskWriters is how many goroutines create (and rotate) sessions in
// BenchmarkDiskBytesPerSession.
const diskWriters = 64

// perSession is what diskBytes measures, in bytes per session.
type perSession struct{ file, pages, data float64 }

func diskBytes(b *testing.B, n int, rotated bool) perSession {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "bytes.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	before := sizes(b, s)
	ctx := context.Background()
	sealed := make([]byte, 72)
	var failed atomic.Value
	var wg sync.WaitGroup
	for w := range diskWriters {
		wg.Go(func() {
			for i := w; i < n; i += diskWriters {
				rec := benchSession(i)
				c, err := s.Create(ctx, store.NewSession{Session: rec.Session, Hash: rec.Current})
				if err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
				if !rotated {
					continue
				}
				handle := c.Handle
				for g := range uint64(store.MinSpentHistory) {
					now := t0.Add(time.Minute)
					res, err := s.Rotate(ctx, store.Rotation{
						Handle: handle, Presented: benchHash(i, g+1), Next: benchHash(i, g+2),
						Sealed: sealed, Now: now, IdleExpiresAt: now.Add(time.Hour),
					})
					if err != nil || res.Outcome != store.Rotated {
						failed.CompareAndSwap(nil, fmt.Errorf("session %d: %v, %v", i, res.Outcome, err))
						return
					}
					handle = res.Handle
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	after := sizes(b, s)
	return perSession{
		file:  float64(after.file-before.file) / float64(n),
		pages: float64(after.pages-before.pages) / float64(n),
		data:  float64(after.data-before.data) / float64(n),
	}
}

// diskSizes are the sizes of a store's file, in bytes.
type diskSizes struct{ file, pages, data int64 }

// sizes measures the file: its size, its size up to the high-water mark,
// and the bytes of the store's buckets' pages in use.
func sizes(b *testing.B, s *Store) diskSizes {
	b.Helper()
	fi, err := os.Stat(s.db.Path())
	if err != nil {
		b.Fatal(err)
	}
	d := diskSizes{file: fi.Size()}
	err = s.db.View(func(tx *bbolt.Tx) error {
		d.pages = tx.Size()
		return tx.ForEach(func(_ []byte, bk *bbolt.Bucket) error {
			st := bk.Stats()
			d.data += int64(st.LeafInuse + st.BranchInuse)
			return nil
		})
	})
	if err != nil {
		b.Fatal(err)
	}
	return d
}
