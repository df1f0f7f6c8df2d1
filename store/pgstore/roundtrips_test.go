package pgstore_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit/internal/pgtest"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/pgstore"
)

// statements counts the statements a pool sends (pgx's QueryTracer sees
// each Query, QueryRow and Exec once: one round trip each).
type statements struct{ n atomic.Int64 }

func (c *statements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *statements) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestRoundTrips pins the number of statements, each one round trip in
// an implicit transaction, of every method: one, but for the rotations
// and revocations that write after a read (two; see the package doc).
func TestRoundTrips(t *testing.T) {
	t.Parallel()
	cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	var c statements
	cfg.ConnConfig.Tracer = &c
	cfg.MaxConns = 2
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s, err := pgstore.NewChecked(ctx, p, pgstore.Options{Schema: pgtest.Schema(t, pool(t))})
	if err != nil {
		t.Fatal(err)
	}
	h := create(t, s, "rt", "alice", t0).Handle
	h2 := create(t, s, "rt2", "alice", t0).Handle
	later := t0.Add(time.Hour)
	var h3 string
	for _, step := range []struct {
		name string
		want int64
		call func() error
	}{
		{"Create", 1, func() error { _, err := s.Create(ctx, newSession("rt3", "bob", t0)); return err }},
		{"Rotate rotated", 2, func() error {
			r, err := rotate(ctx, s, h, "rt", 1, t0)
			h3 = r.Handle
			return want(r, err, store.Rotated)
		}},
		{"Rotate replayed", 1, func() error {
			r, err := rotate(ctx, s, h, "rt", 1, t0.Add(time.Second))
			return want(r, err, store.Replayed)
		}},
		{"Rotate unknown", 1, func() error { r, err := rotate(ctx, s, h3, "rt", 9, t0); return want(r, err, store.Unknown) }},
		{"Rotate unknown handle", 0, func() error { r, err := rotate(ctx, s, "nonsense", "rt", 1, t0); return want(r, err, store.Unknown) }},
		{"Lookup", 1, func() error { _, err := s.Lookup(ctx, h3, secret("rt", 2), t0); return err }},
		{"Sessions", 1, func() error { _, err := s.Sessions(ctx, "alice", t0); return err }},
		{"CheckAccess", 1, func() error {
			_, err := s.CheckAccess(ctx, store.AccessCheck{Subject: "alice", SessionID: "rt", JTI: "j", Now: t0})
			return err
		}},
		{"Deny", 1, func() error { return s.Deny(ctx, "alice", "j", later) }},
		{"Version", 1, func() error { _, err := s.Version(ctx, "alice"); return err }},
		{"UseOnce", 1, func() error { _, err := s.UseOnce(ctx, "ns", "k", later, t0); return err }},
		{"RevokeSession", 1, func() error { return s.RevokeSession(ctx, "alice", "rt2", t0) }},
		{"Rotate revoked", 1, func() error { r, err := rotate(ctx, s, h2, "rt2", 1, t0); return want(r, err, store.Revoked) }},
		{"Revoke", 2, func() error { _, err := s.Revoke(ctx, h3, secret("rt", 2), t0); return err }},
		{"RevokeAll", 1, func() error { _, err := s.RevokeAll(ctx, "alice", t0); return err }},
		{"LoadKeys", 1, func() error { _, _, err := s.LoadKeys(ctx, "ring"); return err }},
		{"SwapKeys", 1, func() error { _, err := s.SwapKeys(ctx, "ring", 0, []byte("blob")); return err }},
	} {
		before := c.n.Load()
		if err := step.call(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := c.n.Load() - before; got != step.want {
			t.Errorf("%s: %d statements, want %d", step.name, got, step.want)
		}
	}
}

// want checks a rotation's outcome.
func want(r store.RotateResult, err error, o store.Outcome) error {
	if err == nil && r.Outcome != o {
		return &outcomeError{r.Outcome, o}
	}
	return err
}

type outcomeError struct{ got, want store.Outcome }

func (e *outcomeError) Error() string {
	return "outcome " + e.got.String() + ", want " + e.want.String()
}
