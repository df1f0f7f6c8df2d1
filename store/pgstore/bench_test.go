package pgstore_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionkit/sessionkit/store"
)

// scaleEnv enables the benchmark at a million live sessions, which takes
// a minute or two to load; without it only the 10,000 size runs, so that
// `go test -run '^$' -bench . -benchtime 1x ./...` stays fast.
const scaleEnv = "SESSIONKIT_BENCH_SCALE"

// sealedSuccessor has the size of a real sealed successor (nonce, secret,
// tag).
var sealedSuccessor = make([]byte, 72)

// realistic is a session as a browser login makes it: a user agent, an
// IP, two claims, a two-word scope.
func realistic(id, subject string, now time.Time) store.NewSession {
	n := newSession(id, subject, now)
	n.Session.Scope = "openid profile"
	n.Session.Claims = []byte(`{"role":"member","tenant":"t-42"}`)
	n.Session.Device = store.Device{
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		IP:        "203.0.113.77",
	}
	return n
}

// steady creates a realistic session and rotates it once, so that its
// rotations from then on are the steady-state ones (a spent history and a
// sealed successor to replace); it returns the handle of generation 2.
func steady(b *testing.B, s store.Store, id string, now time.Time) string {
	b.Helper()
	ctx := context.Background()
	c, err := s.Create(ctx, realistic(id, "user-"+id+"@example.com", now))
	if err != nil {
		b.Fatal(err)
	}
	r, err := rotate(ctx, s, c.Handle, id, 1, now)
	if err != nil || r.Outcome != store.Rotated {
		b.Fatalf("first rotation: %v, %v", r.Outcome, err)
	}
	return r.Handle
}

// chain rotates one session again and again.
type chain struct {
	id     string
	handle string
	g      int
}

func (c *chain) next(b *testing.B, ctx context.Context, s store.Store, now time.Time) {
	r, err := rotate(ctx, s, c.handle, c.id, c.g, now)
	if err != nil || r.Outcome != store.Rotated {
		b.Fatalf("Rotate generation %d: %v, %v", c.g, r.Outcome, err)
	}
	c.handle, c.g = r.Handle, c.g+1
}

// BenchmarkRoundTrip runs, on one pool against one server, a bare
// `SELECT 1` (the floor of any statement), a one-row UPDATE (the floor of
// any write: one durable commit) and the store's calls: Rotate
// (steady state: two statements, the read and the compare-and-set),
// CheckAccess, Lookup and Create (one statement each).
func BenchmarkRoundTrip(b *testing.B) {
	s := open(b)
	p := pool(b)
	ctx := context.Background()
	now := t0
	b.Run("SelectOne", func(b *testing.B) {
		b.ReportAllocs()
		var one int
		for b.Loop() {
			if err := p.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UpdateOne", func(b *testing.B) {
		// The floor of any write: one durable commit of a one-row update.
		b.ReportAllocs()
		table := pgx.Identifier{s.Schema(), "bench_counter"}.Sanitize()
		if _, err := p.Exec(ctx, `CREATE TABLE `+table+` (id int PRIMARY KEY, n bigint NOT NULL); INSERT INTO `+table+` VALUES (1, 0)`); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := p.Exec(ctx, `UPDATE `+table+` SET n = n + 1 WHERE id = 1`); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Rotate", func(b *testing.B) {
		b.ReportAllocs()
		c := &chain{id: "rt-rotate", handle: steady(b, s, "rt-rotate", now), g: 2}
		for b.Loop() {
			c.next(b, ctx, s, now)
		}
	})
	b.Run("CheckAccess", func(b *testing.B) {
		b.ReportAllocs()
		steady(b, s, "rt-check", now)
		q := store.AccessCheck{Subject: "user-rt-check@example.com", SessionID: "rt-check", JTI: "jti-1", Now: now}
		for b.Loop() {
			if st, err := s.CheckAccess(ctx, q); err != nil || !st.SessionLive {
				b.Fatalf("CheckAccess: %+v, %v", st, err)
			}
		}
	})
	b.Run("Lookup", func(b *testing.B) {
		b.ReportAllocs()
		h := steady(b, s, "rt-lookup", now)
		for b.Loop() {
			if _, err := s.Lookup(ctx, h, secret("rt-lookup", 2), now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Create", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			id := "rt-create-" + strconv.Itoa(i)
			if _, err := s.Create(ctx, realistic(id, "user-"+id+"@example.com", now)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// benchRound numbers the runs of a benchmark function (the testing
// package calls it again for each b.N), so that their session ids differ.
var benchRound atomic.Int64

// BenchmarkRotateConcurrent rotates with 1 and with 8 goroutines, each on
// a session of its own, sharing one pool of 16 connections: ns/op is the
// wall time per rotation (the inverse of the throughput), latency-µs the
// mean time one call took.
func BenchmarkRotateConcurrent(b *testing.B) {
	s := open(b)
	ctx := context.Background()
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("rotators=%d", n), func(b *testing.B) {
			chains := make([]*chain, n)
			round := benchRound.Add(1)
			for i := range chains {
				id := fmt.Sprintf("conc-%d-%d-%d", n, round, i)
				chains[i] = &chain{id: id, handle: steady(b, s, id, t0), g: 2}
			}
			var left, spent atomic.Int64
			left.Store(int64(b.N))
			b.ResetTimer()
			var wg sync.WaitGroup
			for _, c := range chains {
				wg.Go(func() {
					for left.Add(-1) >= 0 {
						start := time.Now()
						c.next(b, ctx, s, t0)
						spent.Add(int64(time.Since(start)))
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(spent.Load())/float64(b.N)/1e3, "latency-µs")
		})
	}
}

// BenchmarkRotateAtScale rotates randomly chosen sessions among 10,000 and
// (with SESSIONKIT_BENCH_SCALE=1) among 1,000,000 live ones, two per
// subject, loaded in bulk by one INSERT ... SELECT already rotated once,
// so that every measured rotation is the steady-state one at both sizes.
func BenchmarkRotateAtScale(b *testing.B) {
	for _, live := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) {
			if live > 10_000 && os.Getenv(scaleEnv) == "" {
				b.Skipf("set %s=1 to load a million sessions", scaleEnv)
			}
			s := open(b)
			schema := s.Schema()
			ctx := context.Background()
			load(b, schema, live)
			gens := make(map[int]int)
			rng := rand.New(rand.NewPCG(1, 2))
			b.ResetTimer()
			for b.Loop() {
				i := rng.IntN(live)
				g, ok := gens[i]
				if !ok {
					g = 2
				}
				id := "p" + strconv.Itoa(i)
				h := store.FormatHandle(store.HandleInfo{Tag: store.SubjectTag(bulkSubject(i)), SessionID: id, Generation: uint64(g)})
				r, err := s.Rotate(ctx, store.Rotation{
					Handle: h, Presented: bulkSecret(i, g), Next: bulkSecret(i, g+1), Sealed: sealedSuccessor,
					Now: t0, Grace: 10 * time.Second, IdleExpiresAt: t0.Add(7 * 24 * time.Hour),
				})
				if err != nil || r.Outcome != store.Rotated {
					b.Fatalf("Rotate %s at %d: %v, %v", id, g, r.Outcome, err)
				}
				gens[i] = g + 1
			}
		})
	}
}

// bulkSubject is the subject of bulk-loaded session i.
func bulkSubject(i int) string { return "user-" + strconv.Itoa(i/2) + "@example.com" }

// bulkSecret is the hash of generation g's secret of bulk session i.
func bulkSecret(i, g int) [32]byte {
	return sha256.Sum256([]byte("p" + strconv.Itoa(i) + "/" + strconv.Itoa(g)))
}

// load inserts sessions p0...p(n-1) as the store would hold them after
// one rotation, computing in SQL what bulkSubject, bulkSecret and the
// store's subject key compute in Go (the key: SHA-256 of 's', the
// subject's length as 8 big-endian bytes, the subject).
func load(b *testing.B, schema string, n int) {
	b.Helper()
	ctx := context.Background()
	sch := pgx.Identifier{schema}.Sanitize()
	created, idle, exp := t0.Add(-time.Hour).UnixNano(), t0.Add(7*24*time.Hour).UnixNano(), t0.Add(30*24*time.Hour).UnixNano()
	for from := 0; from < n; from += 100_000 {
		to := min(from+100_000, n) - 1
		_, err := pool(b).Exec(ctx, `INSERT INTO `+sch+`.sessionkit_sessions
			SELECT 'p' || i, sha256('\x73'::bytea || int8send(octet_length(subj)::int8) || subj), subj,
				''::bytea, convert_to('openid profile', 'UTF8'), convert_to('{"role":"member","tenant":"t-42"}', 'UTF8'),
				convert_to(repeat('M', 111), 'UTF8'), convert_to('203.0.113.77', 'UTF8'),
				$1, $1, $2, $3, 2, sha256(convert_to('p' || i || '/2', 'UTF8')),
				sha256(convert_to('p' || i || '/1', 'UTF8')), $1, decode(repeat('00', 72), 'hex'), false, 0
			FROM (SELECT i, convert_to('user-' || (i / 2) || '@example.com', 'UTF8') AS subj
				FROM generate_series($4::int, $5::int) AS i) AS g`, created, idle, exp, from, to)
		if err != nil {
			b.Fatalf("loading sessions %d to %d: %v", from, to, err)
		}
	}
	if _, err := pool(b).Exec(ctx, `ANALYZE `+sch+`.sessionkit_sessions`); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkBytesPerSession creates realistic sessions through the store
// (one per subject), rotated 0, 1 or 20 times, and reports the disk the
// sessions table takes with its indexes (pg_total_relation_size) per
// session: as left by the writes (each rotation leaves a dead row version
// until vacuum reclaims it for reuse) and after VACUUM FULL (the live rows
// alone).
func BenchmarkBytesPerSession(b *testing.B) {
	ctx := context.Background()
	for _, rotations := range []int{0, 1, 20} {
		b.Run(fmt.Sprintf("rotations=%d", rotations), func(b *testing.B) {
			s := open(b)
			table := pgx.Identifier{s.Schema(), "sessionkit_sessions"}.Sanitize()
			size := func() int64 {
				var n int64
				if err := pool(b).QueryRow(ctx, `SELECT pg_total_relation_size($1::regclass)`, table).Scan(&n); err != nil {
					b.Fatal(err)
				}
				return n
			}
			before := size()
			sessions := 0
			for b.Loop() {
				id := "bytes-" + strconv.Itoa(sessions)
				c := &chain{id: id, handle: "", g: 1}
				cr, err := s.Create(ctx, realistic(id, "user-"+id+"@example.com", t0))
				if err != nil {
					b.Fatal(err)
				}
				c.handle = cr.Handle
				for range rotations {
					c.next(b, ctx, s, t0)
				}
				sessions++
			}
			b.StopTimer()
			written := size()
			if _, err := pool(b).Exec(ctx, `VACUUM FULL `+table); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(written-before)/float64(sessions), "written-B/session")
			b.ReportMetric(float64(size())/float64(sessions), "vacuumed-B/session")
		})
	}
}
