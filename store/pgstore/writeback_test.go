package pgstore

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/pgtest"
	"github.com/sessionkit/sessionkit/store"
)

// TestWriteBackNeedsTheSameSession: a write-back decided on a session
// whose id a new session of another subject took since (Create reuses an
// id a minute after the old session's end) writes nothing on the new one.
func TestWriteBackNeedsTheSameSession(t *testing.T) {
	t.Parallel()
	p := pgtest.Pool(t, pgtest.URL(t))
	ctx := context.Background()
	s, err := NewChecked(ctx, p, Options{Schema: pgtest.Schema(t, p)})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	session := func(subject string, at time.Time) store.NewSession {
		return store.NewSession{Session: store.Session{ID: "X", Subject: subject, CreatedAt: at,
			IdleExpiresAt: at.Add(time.Hour), ExpiresAt: at.Add(time.Hour), Generation: 1},
			Hash: sha256.Sum256([]byte(subject))}
	}
	c, err := s.Create(ctx, session("alice", t0))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := store.ParseStatefulHandle(c.Handle)
	row, err := s.read(ctx, "X")
	if err != nil || row == nil {
		t.Fatalf("read: %v, %v", row, err)
	}
	rot := store.Rotation{Handle: c.Handle, Presented: sha256.Sum256([]byte("alice")), Next: sha256.Sum256([]byte("next")),
		Now: t0.Add(59 * time.Minute), IdleExpiresAt: t0.Add(2 * time.Hour), Claims: []byte(`{"who":"alice"}`)}
	if res, write := row.rec.Rotate(h, &rot); res.Outcome != store.Rotated || !write {
		t.Fatalf("the decision: %v, %v", res.Outcome, write)
	}
	if _, err := s.Create(ctx, session("mallory", t0.Add(2*time.Hour))); err != nil {
		t.Fatalf("Create reusing the id: %v", err)
	}
	wrote, err := s.writeBack(ctx, row, 1, false)
	if err != nil || wrote {
		t.Fatalf("the stale write-back: wrote %v, %v; want nothing written", wrote, err)
	}
	after, err := s.read(ctx, "X")
	if err != nil || after.rec.Session.Subject != "mallory" || after.rec.Session.Generation != 1 || after.rec.Session.Claims != nil {
		t.Fatalf("mallory's session after the stale write-back: %+v, %v", after.rec.Session, err)
	}
}
