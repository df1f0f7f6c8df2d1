package sessionkit

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// lostAnswerStore applies a rotation and then, once, answers as if the
// store had not answered: a server that stalled after running it. With
// fail set it fails the next rotation, once, without running it.
type lostAnswerStore struct {
	store.Store
	lose, fail atomic.Bool
}

func (s *lostAnswerStore) Rotate(ctx context.Context, r store.Rotation) (store.RotateResult, error) {
	if s.fail.CompareAndSwap(true, false) {
		return store.RotateResult{}, errors.New("i/o timeout")
	}
	res, err := s.Store.Rotate(ctx, r)
	if err == nil && s.lose.CompareAndSwap(true, false) {
		return store.RotateResult{}, errors.New("i/o timeout")
	}
	return res, err
}

// TestAbandonedRotationRetry: when a rotation took effect but its answer
// was lost, the client's retry of the same token, past the grace window
// (here past MaxReuseGrace too), is a replay (the same successor), not
// reuse; past abandonTTL, and for a token whose rotation was answered,
// reuse is still detected.
func TestAbandonedRotationRetry(t *testing.T) {
	t.Parallel()
	ls := &lostAnswerStore{Store: memstore.New()}
	var reuses atomic.Int64
	iss, clock := newTestIssuer(t, func(c *Config) {
		c.Store = ls
		c.Events = func(_ context.Context, e Event) {
			if e.Kind == EventReuseDetected {
				reuses.Add(1)
			}
		}
	})
	ctx := context.Background()
	toks := login(t, iss, "alice")
	ls.lose.Store(true)
	if _, err := iss.Refresh(ctx, toks.RefreshToken); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("lost answer: %v", err)
	}
	clock.Advance(2 * time.Minute) // past the 10 s grace window, and MaxReuseGrace
	first, err := iss.Refresh(ctx, toks.RefreshToken)
	if err != nil {
		t.Fatalf("the retry after a lost answer: %v; want a replay", err)
	}
	again, err := iss.Refresh(ctx, toks.RefreshToken)
	if err != nil || again.RefreshToken != first.RefreshToken {
		t.Fatalf("a second retry: %v (same successor: %v)", err, err == nil && again.RefreshToken == first.RefreshToken)
	}
	if reuses.Load() != 0 {
		t.Fatalf("%d reuse events for a lost answer", reuses.Load())
	}
	// The successor rotates; its rotation was answered, so its previous
	// token past the grace window is reuse.
	if _, err := iss.Refresh(ctx, first.RefreshToken); err != nil {
		t.Fatal(err)
	}
	clock.Advance(20 * time.Second)
	if _, err := iss.Refresh(ctx, first.RefreshToken); !errors.Is(err, ErrRefreshReused) {
		t.Fatalf("reuse of an answered rotation's token: %v", err)
	}

	// Past abandonTTL the stretch ends: reuse.
	bob := login(t, iss, "bob")
	ls.lose.Store(true)
	if _, err := iss.Refresh(ctx, bob.RefreshToken); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatal(err)
	}
	clock.Advance(abandonTTL + time.Second)
	if _, err := iss.Refresh(ctx, bob.RefreshToken); !errors.Is(err, ErrRefreshReused) {
		t.Fatalf("a retry after abandonTTL: %v; want reuse", err)
	}
}

// TestAbandonedRotationAnsweredElsewhere: an Issuer gave up on a rotation
// that did not take effect; the client's retry reached another instance
// and rotated there, answered. The previous token, presented past the
// grace window to the first instance (whose stretch covers it), is reuse:
// the rotation that spent it was not the abandoned call. The session is
// revoked, and the reuse reported.
func TestAbandonedRotationAnsweredElsewhere(t *testing.T) {
	t.Parallel()
	ls := &lostAnswerStore{Store: memstore.New()}
	var reuses atomic.Int64
	events := func(_ context.Context, e Event) {
		if e.Kind == EventReuseDetected {
			reuses.Add(1)
		}
	}
	a, clock := newTestIssuer(t, func(c *Config) { c.Store = ls; c.Events = events })
	b, err := New(Config{Issuer: testIssuer, Audience: []string{testAudience}, Keys: a.Keys(), Store: ls, Now: clock.Now, Events: events})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	toks := login(t, a, "alice")
	ls.fail.Store(true)
	if _, err := a.Refresh(ctx, toks.RefreshToken); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("failed rotation: %v", err)
	}
	clock.Advance(time.Second)
	answered, err := b.Refresh(ctx, toks.RefreshToken) // the retry, at the other instance
	if err != nil {
		t.Fatalf("the retry at another instance: %v", err)
	}
	clock.Advance(30 * time.Second)
	if _, err := a.Refresh(ctx, toks.RefreshToken); !errors.Is(err, ErrRefreshReused) {
		t.Fatalf("the previous token of a rotation answered elsewhere, past the window: %v; want reuse", err)
	}
	if _, err := b.Refresh(ctx, answered.RefreshToken); !errors.Is(err, ErrSessionRevoked) {
		t.Errorf("the successor after the reuse: %v; want ErrSessionRevoked", err)
	}
	if n := reuses.Load(); n != 1 {
		t.Errorf("%d reuse events, want 1", n)
	}
}
