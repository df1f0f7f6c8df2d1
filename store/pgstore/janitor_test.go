package pgstore_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/pgstore"
)

// TestSweep: Sweep removes what stopped counting more than a minute
// before the janitor's clock, and nothing that still counts; a revoked
// session is remembered until its absolute expiry; versions stay.
func TestSweep(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	clock.Store(t0.UnixNano())
	s := openWith(t, pgstore.Options{Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	ctx := context.Background()

	short := newSession("short", "alice", t0)
	short.Session.IdleExpiresAt, short.Session.ExpiresAt = t0.Add(time.Hour), t0.Add(time.Hour)
	if _, err := s.Create(ctx, short); err != nil {
		t.Fatal(err)
	}
	long := create(t, s, "long", "alice", t0)
	if _, err := s.RevokeAll(ctx, "alice", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Deny(ctx, "alice", "j1", t0.Add(15*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseOnce(ctx, "ns", "k1", t0.Add(5*time.Minute), t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseOnce(ctx, "ns", "k2", t0.Add(3*time.Hour), t0); err != nil {
		t.Fatal(err)
	}

	for _, step := range []struct {
		at      time.Duration
		removed int
	}{
		{5 * time.Minute, 0},             // k1 ends now: kept a minute more
		{6*time.Minute + time.Second, 1}, // k1
		{time.Hour, 1},                   // j1
		{61 * time.Minute, 0},            // short ended at 1h
		{62 * time.Minute, 1},            // short
		{4 * time.Hour, 1},               // k2
		{30 * 24 * time.Hour, 0},         // long, revoked, is remembered until its end
	} {
		clock.Store(t0.Add(step.at).UnixNano())
		n, err := s.Sweep(ctx)
		if err != nil || n != step.removed {
			t.Fatalf("Sweep at t0+%v: removed %d, %v; want %d", step.at, n, err, step.removed)
		}
	}
	if r, err := rotate(ctx, s, long.Handle, "long", 1, t0.Add(29*24*time.Hour)); err != nil || r.Outcome != store.Revoked {
		t.Fatalf("the revoked session before its end: %v, %v; want revoked", r.Outcome, err)
	}
	clock.Store(t0.Add(30*24*time.Hour + 2*time.Minute).UnixNano())
	if n, err := s.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("Sweep after the revoked session's end: removed %d, %v; want 1", n, err)
	}
	if v, err := s.Version(ctx, "alice"); err != nil || v != 1 {
		t.Fatalf("version after the sweeps: %d, %v; want 1", v, err)
	}
	if r, _ := rotate(ctx, s, long.Handle, "long", 1, t0.Add(31*24*time.Hour)); r.Outcome != store.Unknown {
		t.Fatalf("a forgotten session: %v, want unknown", r.Outcome)
	}
}
