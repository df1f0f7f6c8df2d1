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
// store had not answered: a server that stalled after running it.
type lostAnswerStore struct {
	store.Store
	lose atomic.Bool
}

func (s *lostAnswerStore) Rotate(ctx context.Context, r store.Rotation) (store.RotateResult, error) {
	res, err := s.Store.Rotate(ctx, r)
	if err == nil && s.lose.CompareAndSwap(true, false) {
		return store.RotateResult{}, errors.New("i/o timeout")
	}
	return res, err
}

// TestAbandonedRotationRetry: when a rotation took effect but its answer
// was lost, the client's retry of the same token, past the grace window,
// is a replay (the same successor), not reuse; past MaxReuseGrace, and for
// a token whose rotation was answered, reuse is still detected.
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
	clock.Advance(30 * time.Second) // past the 10 s grace window
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

	// Past MaxReuseGrace the stretch ends: reuse.
	bob := login(t, iss, "bob")
	ls.lose.Store(true)
	if _, err := iss.Refresh(ctx, bob.RefreshToken); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatal(err)
	}
	clock.Advance(MaxReuseGrace + time.Second)
	if _, err := iss.Refresh(ctx, bob.RefreshToken); !errors.Is(err, ErrRefreshReused) {
		t.Fatalf("a retry after MaxReuseGrace: %v; want reuse", err)
	}
}
