package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// TestLateRotationWritesNothing: a Rotate whose cut-off has passed by the
// time its script runs (miniredis's clock jumps an hour past the store's
// reading of it: the server's now is far beyond the deadline) writes nothing
// and returns ErrUnavailable; the same token then rotates, with a deadline
// (the late answer's TIME corrects the store's reading) and without; a
// context without a deadline is never late; and real reuse is still
// detected: the token two rotations old, and the previous token outside
// the grace window of a rotation whose caller got its answer. Rotation.Now
// runs on a clock of its own throughout: the cut-off never looks at it.
func TestLateRotationWritesNothing(t *testing.T) {
	t.Parallel()
	m, _, s, rec := mini(t)
	ctx := context.Background()
	n := newSession("sid-late", "alice")
	handle := mustCreate(t, s, n)
	key := "app:s:{" + store.SubjectTag("alice") + "}:sid-late"
	secret := func(g int) [32]byte { return hash(fmt.Sprintf("sid-late/%d", g)) }
	rotation := func(handle string, g int, now time.Time) store.Rotation {
		return store.Rotation{
			Handle: handle, Presented: secret(g), Next: secret(g + 1), Sealed: []byte("sealed"),
			Now: now, Grace: 10 * time.Second, IdleExpiresAt: now.Add(time.Hour),
		}
	}
	if n.Hash != secret(1) {
		t.Fatal("newSession's hash is not secret(1)")
	}
	within := func(d time.Duration) (context.Context, context.CancelFunc) {
		return context.WithTimeout(ctx, d)
	}

	// A first Rotate with a deadline reads the server's clock (miniredis
	// is at t0), then rotates: generation 1 -> 2.
	rec.take()
	c, cancel := within(time.Minute)
	r, err := s.Rotate(c, rotation(handle, 1, t0))
	cancel()
	if err != nil || r.Outcome != store.Rotated {
		t.Fatalf("Rotate with a generous deadline: %v, %v", r.Outcome, err)
	}
	if got := len(rec.take()); got < 2 {
		t.Errorf("the first Rotate with a deadline sent %d commands; want the clock's reading first", got)
	}
	c, cancel = within(time.Minute)
	r, err = s.Rotate(c, rotation(r.Handle, 2, t0.Add(time.Second)))
	cancel()
	if err != nil || r.Outcome != store.Rotated {
		t.Fatalf("second Rotate with a deadline: %v, %v", r.Outcome, err)
	}
	if got := len(rec.take()); got != 1 {
		t.Errorf("a Rotate with a deadline and a fresh reading of the clock sent %d commands, want 1", got)
	}
	handle3 := r.Handle // generation 3

	// The server's clock is now an hour past what the store read: a
	// deadline a minute away is long past there. Nothing is written.
	before, err := m.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	m.SetTime(t0.Add(time.Hour))
	c, cancel = within(time.Minute)
	r, err = s.Rotate(c, rotation(handle3, 3, t0.Add(2*time.Second)))
	cancel()
	if !errors.Is(err, store.ErrUnavailable) || r.Outcome != store.Unknown || r.Handle != "" {
		t.Fatalf("late Rotate: %v, %+v; want an error wrapping ErrUnavailable and no result", err, r)
	}
	if after, _ := m.Get(key); after != before {
		t.Fatal("a late Rotate changed the session record")
	}
	if got := len(rec.take()); got != 1 {
		t.Errorf("the late Rotate sent %d commands, want 1", got)
	}

	// The same token rotates now: the late answer carried the server's
	// TIME, which contradicts the old reading and replaces it.
	c, cancel = within(time.Minute)
	r, err = s.Rotate(c, rotation(handle3, 3, t0.Add(3*time.Second)))
	cancel()
	if err != nil || r.Outcome != store.Rotated {
		t.Fatalf("Rotate of the same token after the late one: %v, %v; want Rotated", r.Outcome, err)
	}
	if got := len(rec.take()); got != 1 {
		t.Errorf("the Rotate after the late one sent %d commands, want 1", got)
	}
	handle4 := r.Handle

	// No deadline, no cut-off: a clock far away changes nothing.
	m.SetTime(t0.Add(48 * time.Hour))
	r, err = s.Rotate(ctx, rotation(handle4, 4, t0.Add(4*time.Second)))
	if err != nil || r.Outcome != store.Rotated {
		t.Fatalf("Rotate without a deadline, server clock elsewhere: %v, %v", r.Outcome, err)
	}
	handle5 := r.Handle

	// Real reuse, with deadlines (the last answer read the server's clock
	// at t0+48h, which has moved on a second since: far from a minute's
	// deadline). The previous token within the window is a replay.
	m.SetTime(t0.Add(48*time.Hour + time.Second))
	rotateWithin := func(rot store.Rotation) (store.RotateResult, error) {
		c, cancel := within(time.Minute)
		defer cancel()
		return s.Rotate(c, rot)
	}
	r, err = rotateWithin(rotation(handle4, 4, t0.Add(5*time.Second)))
	if err != nil || r.Outcome != store.Replayed || r.Handle != handle5 {
		t.Fatalf("previous token within the window: %v, %v; want Replayed with the successor", r.Outcome, err)
	}
	r, err = rotateWithin(rotation(handle3, 3, t0.Add(6*time.Second)))
	if err != nil || r.Outcome != store.Reused {
		t.Fatalf("token two rotations old: %v, %v; want Reused", r.Outcome, err)
	}

	// The previous token outside the window of an answered rotation (the
	// server's clock back near t0, so that the new session's native expiry
	// is ahead of it: a server clock behind the reading is never late).
	m.SetTime(t0.Add(2 * time.Second))
	n2 := newSession("sid-late", "bob")
	n2.Hash = secret(1)
	h2 := mustCreate(t, s, n2)
	r, err = rotateWithin(rotation(h2, 1, t0))
	if err != nil || r.Outcome != store.Rotated {
		t.Fatalf("bob's rotation: %v, %v", r.Outcome, err)
	}
	r, err = rotateWithin(rotation(h2, 1, t0.Add(11*time.Second)))
	if err != nil || r.Outcome != store.Reused {
		t.Fatalf("previous token outside the window: %v, %v; want Reused", r.Outcome, err)
	}
}

// TestLateRotationWithExpiredContext: a context whose deadline has passed is
// refused before anything is sent; the late answer is an error wrapping
// both ErrUnavailable and the context's error once the context has ended.
func TestLateRotationWithExpiredContext(t *testing.T) {
	t.Parallel()
	_, _, s, rec := mini(t)
	handle := mustCreate(t, s, newSession("sid-x", "alice"))
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	rec.take()
	_, err := s.Rotate(ctx, store.Rotation{Handle: handle, Presented: hash("sid-x/1"), Next: hash("n"), Now: t0, IdleExpiresAt: t0.Add(time.Hour)})
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Rotate with an expired context: %v", err)
	}
	if got := rec.take(); len(got) != 0 {
		t.Errorf("Rotate with an expired context sent %q", got)
	}
}

// TestRotateWithDeadlineOnCluster: on a Cluster (REDIS_CLUSTER_ADDRS) each
// node's clock is read for the rotations on its slots; once every node has
// answered a rotation, a Rotate with a deadline is one command again.
func TestRotateWithDeadlineOnCluster(t *testing.T) {
	t.Parallel()
	c := clusterClient(t)
	s, _ := newStore(t, c)
	warm(t, c)
	rec := &recorder{}
	c.AddHook(rec)
	ctx := context.Background()
	const n = 24 // subjects: their slots spread over the masters
	handles := make([]string, n)
	for i := range handles {
		sid := fmt.Sprintf("sid-%d", i)
		handles[i] = mustCreate(t, s, newSession(sid, fmt.Sprintf("user-%d", i)))
	}
	for g := 1; g <= 2; g++ {
		rec.take()
		for i, h := range handles {
			sid := fmt.Sprintf("sid-%d", i)
			c, cancel := context.WithTimeout(ctx, time.Minute)
			r, err := s.Rotate(c, store.Rotation{
				Handle: h, Presented: hash(fmt.Sprintf("%s/%d", sid, g)), Next: hash(fmt.Sprintf("%s/%d", sid, g+1)),
				Now: t0.Add(time.Duration(g) * time.Second), Grace: 10 * time.Second, IdleExpiresAt: t0.Add(time.Hour),
			})
			cancel()
			if err != nil || r.Outcome != store.Rotated {
				t.Fatalf("Rotate %d of %s on the cluster: %v, %v", g, sid, r.Outcome, err)
			}
			handles[i] = r.Handle
		}
		got := len(rec.take())
		if g == 1 && got <= n {
			t.Errorf("%d first rotations with a deadline: %d commands; want the nodes' clocks read too", n, got)
		}
		if g == 2 && got != n {
			t.Errorf("%d rotations with a deadline, every node's clock read: %d commands, want %d", n, got, n)
		}
	}
}
