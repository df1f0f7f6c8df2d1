package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// TestLateRotationTakesNoEffect: a rotation that reaches the server after
// its caller's deadline (here: the store believes the server's clock two
// minutes behind, so a one-minute deadline has passed there) answers
// ErrUnavailable and writes nothing; the same token then rotates; real
// reuse is still detected; a rotation without a deadline is sent as one
// command, one with a deadline reads the server's clock once a minute.
func TestLateRotationTakesNoEffect(t *testing.T) {
	_, _, s, rec := mini(t)
	c, err := s.Create(context.Background(), newSession("sess-late-000000000001", "alice"))
	if err != nil {
		t.Fatal(err)
	}
	rot := func(presented, next string, now time.Time) store.Rotation {
		return store.Rotation{Handle: c.Handle, Presented: hash(presented), Next: hash(next), Sealed: []byte("sealed"),
			Now: now, Grace: 10 * time.Second, IdleExpiresAt: now.Add(time.Hour)}
	}
	withDeadline := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), time.Minute)
	}

	s.SkewServerClock(-2 * time.Minute)
	ctx, cancel := withDeadline()
	_, err = s.Rotate(ctx, rot("sess-late-000000000001/1", "secret-1", t0))
	cancel()
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("late rotation: %v; want ErrUnavailable", err)
	}
	s.SkewServerClock(0)

	ctx, cancel = withDeadline()
	res, err := s.Rotate(ctx, rot("sess-late-000000000001/1", "secret-1", t0.Add(time.Second)))
	cancel()
	if err != nil || res.Outcome != store.Rotated {
		t.Fatalf("the old token after a late rotation: %v, %v; want Rotated (nothing was written)", res.Outcome, err)
	}
	rec.take()
	// Real reuse: the previous token past the grace window.
	res, err = s.Rotate(context.Background(), store.Rotation{Handle: c.Handle, Presented: hash("sess-late-000000000001/1"), Next: hash("x"),
		Sealed: []byte("sealed"), Now: t0.Add(20 * time.Second), Grace: 10 * time.Second, IdleExpiresAt: t0.Add(time.Hour)})
	if err != nil || res.Outcome != store.Reused {
		t.Fatalf("reuse after the grace window: %v, %v", res.Outcome, err)
	}
	if n := len(rec.take()); n != 1 {
		t.Errorf("a rotation without a deadline sent %d commands; want 1", n)
	}
}
