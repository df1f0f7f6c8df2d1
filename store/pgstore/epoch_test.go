package pgstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/sessionkit/sessionkit/store"
)

// TestLoginRacingLogoutAll: a Create racing a RevokeAll of its subject
// either comes after it (its version is the new one, and it lives) or is
// revoked by it: no session created under the old version survives, the
// race PostgreSQL's READ COMMITTED would open if RevokeAll updated the
// rows it sees.
func TestLoginRacingLogoutAll(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()
	for i := range 40 {
		id := fmt.Sprintf("race%d", i)
		var c store.Created
		var v uint64
		var cerr, verr error
		var wg sync.WaitGroup
		wg.Go(func() { c, cerr = s.Create(ctx, newSession(id, "alice", t0)) })
		wg.Go(func() { v, verr = s.RevokeAll(ctx, "alice", t0) })
		wg.Wait()
		if cerr != nil || verr != nil {
			t.Fatalf("Create: %v; RevokeAll: %v", cerr, verr)
		}
		st, err := s.CheckAccess(ctx, store.AccessCheck{Subject: "alice", SessionID: id, JTI: "j", Now: t0})
		if err != nil {
			t.Fatal(err)
		}
		res, err := rotate(ctx, s, c.Handle, id, 1, t0)
		if err != nil {
			t.Fatal(err)
		}
		after := c.Version == v // created under the new version: after the logout-all
		if st.SessionLive != after || (res.Outcome == store.Rotated) != after {
			t.Fatalf("round %d: created under version %d, logout-all made %d: live %v, rotation %v",
				i, c.Version, v, st.SessionLive, res.Outcome)
		}
		if !after && res.Outcome != store.Revoked {
			t.Fatalf("round %d: a session revoked by the logout-all rotated to %v, want revoked", i, res.Outcome)
		}
	}
}

// TestConcurrentRotations: of eight rotations of one token at once,
// exactly one rotates and the others replay its successor within the
// grace window; the compare-and-set leaves one successor.
func TestConcurrentRotations(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()
	c := create(t, s, "conc", "alice", t0)
	results := make([]store.RotateResult, 8)
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { results[i], errs[i] = rotate(ctx, s, c.Handle, "conc", 1, t0) })
	}
	wg.Wait()
	rotated := 0
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("rotation %d: %v", i, errs[i])
		}
		switch r.Outcome {
		case store.Rotated:
			rotated++
		case store.Replayed:
		default:
			t.Fatalf("rotation %d: %v, want rotated or replayed", i, r.Outcome)
		}
		if r.Handle != results[0].Handle {
			t.Fatalf("rotation %d names %q, rotation 0 %q: two successors", i, r.Handle, results[0].Handle)
		}
	}
	if rotated != 1 {
		t.Fatalf("%d rotations rotated, want exactly 1", rotated)
	}
}
