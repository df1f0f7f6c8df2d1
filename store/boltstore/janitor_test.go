package boltstore

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/sessionkit/store"
)

// bucketCounts are the number of keys in each of the store's buckets.
type bucketCounts struct{ sessions, subjects, versions, deny, once, expiry int }

func counts(t *testing.T, s *Store) bucketCounts {
	t.Helper()
	return bucketCounts{
		sessions: count(t, s, bucketSessions),
		subjects: count(t, s, bucketSubjects),
		versions: count(t, s, bucketVersions),
		deny:     count(t, s, bucketDeny),
		once:     count(t, s, bucketOnce),
		expiry:   count(t, s, bucketExpiry),
	}
}

// populate fills s with records whose expiries fall at known times:
// sessions "short" (ExpiresAt t0+1h) and "long" (t0+30d, revoked, so
// remembered until then), deny entries until t0+15m and t0+2h (one extended
// from t0+5m), use-once keys until t0+5m and t0+3h, and a version.
func populate(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	short := newSession("short", "alice", t0)
	short.Session.IdleExpiresAt, short.Session.ExpiresAt = t0.Add(time.Hour), t0.Add(time.Hour)
	if _, err := s.Create(ctx, short); err != nil {
		t.Fatal(err)
	}
	newFamily(t, s, "long", "alice", 1)
	if _, err := s.RevokeAll(ctx, "alice", t0); err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct {
		jti   string
		until time.Duration
	}{{"j1", 15 * time.Minute}, {"j2", 5 * time.Minute}, {"j2", 2 * time.Hour}} {
		if err := s.Deny(ctx, "alice", d.jti, t0.Add(d.until)); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []struct {
		key   string
		until time.Duration
	}{{"k1", 5 * time.Minute}, {"k2", 3 * time.Hour}} {
		if _, err := s.UseOnce(ctx, "ns", k.key, t0.Add(k.until), t0); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSweep(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		now     time.Time
		removed int
		want    bucketCounts
	}{
		{"before any expiry", t0, 0, bucketCounts{2, 2, 1, 2, 2, 6}},
		{"expired but within the margin", t0.Add(15*time.Minute + sweepMargin - time.Second), 1, bucketCounts{2, 2, 1, 2, 1, 5}},
		{"deny entry and use-once key past the margin", t0.Add(15*time.Minute + sweepMargin), 2, bucketCounts{2, 2, 1, 1, 1, 4}},
		{"short session past the margin", t0.Add(time.Hour + sweepMargin), 3, bucketCounts{1, 1, 1, 1, 1, 3}},
		{"everything but the revoked session", t0.Add(24 * time.Hour), 5, bucketCounts{1, 1, 1, 0, 0, 1}},
		{"everything but the version", t0.Add(30*24*time.Hour + sweepMargin), 6, bucketCounts{0, 0, 1, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := openStore(t, Options{})
			populate(t, s)
			n, err := s.sweep(tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.removed {
				t.Errorf("sweep removed %d records, want %d", n, tt.removed)
			}
			if got := counts(t, s); got != tt.want {
				t.Errorf("after the sweep: %+v, want %+v", got, tt.want)
			}
			// What stays still answers as before.
			ctx := context.Background()
			if v, err := s.Version(ctx, "alice"); err != nil || v != 1 {
				t.Errorf("version after the sweep: %d, %v", v, err)
			}
			if tt.want.sessions == 1 {
				f := &family{id: "long", handles: map[uint64]string{2: store.FormatHandle(store.HandleInfo{Tag: store.SubjectTag("alice"), SessionID: "long", Generation: 2})}}
				if res, err := s.Rotate(ctx, f.rotation(2, tt.now, 0)); err != nil || res.Outcome != store.Revoked {
					t.Errorf("the remembered revoked session after the sweep: %v, %v; want revoked", res.Outcome, err)
				}
			}
		})
	}
}

// TestSweepInChunks: a sweep of more records than one transaction takes
// runs several transactions and removes them all.
func TestSweepInChunks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, Options{})
	const n = 2*sweepChunk + 7
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, err := bucketsOf(tx)
		if err != nil {
			return err
		}
		for i := range n {
			if _, err := b.extend(b.deny, kindDeny, prefixKey("alice", fmt.Sprint("jti-", i)), t0.Add(time.Duration(i)*time.Millisecond)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Deny(ctx, "alice", "live", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	before := lastTx(t, s.db)
	removed, err := s.sweep(t0.Add(time.Minute + time.Second + n*time.Millisecond))
	if err != nil || removed != n {
		t.Fatalf("sweep removed %d, %v; want %d", removed, err, n)
	}
	if got := lastTx(t, s.db) - before; got != 3 {
		t.Errorf("the sweep took %d transactions, want 3 of at most %d records", got, sweepChunk)
	}
	if c := counts(t, s); c.deny != 1 || c.expiry != 1 {
		t.Errorf("after the sweep: %+v, want the live entry only", c)
	}
}

// clock is a settable clock for the janitor.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time   { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Set(at time.Time) { c.ns.Store(at.UnixNano()) }

// TestJanitor drives the janitor's ticks by hand: each tick sweeps at the
// janitor's clock, and Close stops it.
func TestJanitor(t *testing.T) {
	t.Parallel()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "s.db"), 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var c clock
	c.Set(t0)
	tick := make(chan time.Time)
	swept := make(chan int)
	s, err := newStore(db, true, Options{Now: c.Now}, hooks{
		tick: tick,
		swept: func(n int, err error) {
			if err != nil {
				t.Errorf("sweep: %v", err)
			}
			swept <- n
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	populate(t, s)
	steps := []struct {
		at      time.Time
		removed int
	}{
		{t0, 0},
		{t0.Add(15*time.Minute + sweepMargin), 2},
		{t0.Add(15*time.Minute + sweepMargin), 0},
		{t0.Add(24 * time.Hour), 3},
		{t0.Add(365 * 24 * time.Hour), 1},
	}
	for _, st := range steps {
		c.Set(st.at)
		tick <- st.at
		if n := <-swept; n != st.removed {
			t.Errorf("tick at %v removed %d records, want %d", st.at, n, st.removed)
		}
	}
	if got := counts(t, s); got != (bucketCounts{versions: 1}) {
		t.Errorf("after the last tick: %+v, want the version only", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	default:
		t.Fatal("janitor still running after Close")
	}
	select {
	case tick <- t0:
		t.Fatal("a stopped janitor took a tick")
	default:
	}
}

// TestJanitorFailureIsLoggedAndRetried: a sweep that fails is logged, and
// the next tick tries again.
func TestJanitorFailureIsLoggedAndRetried(t *testing.T) {
	t.Parallel()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "s.db"), 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tick := make(chan time.Time)
	errs := make(chan error)
	var c clock
	c.Set(t0.Add(24 * time.Hour))
	var logged strings.Builder // written by the janitor before it calls the hook
	logger := slog.New(slog.NewTextHandler(&logged, nil))
	s, err := newStore(db, false, Options{Now: c.Now, Logger: logger}, hooks{tick: tick, swept: func(_ int, err error) { errs <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	populate(t, s)
	// Take a bucket away: the sweep cannot run.
	if err := db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket(bucketExpiry) }); err != nil {
		t.Fatal(err)
	}
	tick <- t0
	if err := <-errs; err == nil {
		t.Fatal("a sweep over a file without the expiry bucket succeeded")
	}
	if log := logged.String(); !strings.Contains(log, "level=WARN") || !strings.Contains(log, "janitor sweep failed") || !strings.Contains(log, "bucket") {
		t.Errorf("the failure was not logged as a warning with its cause: %q", log)
	}
	if err := db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket(bucketExpiry); return err }); err != nil {
		t.Fatal(err)
	}
	tick <- t0
	if err := <-errs; err != nil {
		t.Fatalf("the next sweep: %v", err)
	}
}
