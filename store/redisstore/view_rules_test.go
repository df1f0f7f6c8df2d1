package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// TestViewFollowsTheWholeToken: a token the view follows after a store
// read is the token of that read, not any token with its jti. A session
// ended before the view's epoch is unknown to the view; a check naming it
// under a followed jti must still be read from the store, and refused.
func TestViewFollowsTheWholeToken(t *testing.T) {
	m := viewMiniredis(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { c.Close() })
	st, _ := newStore(t, c)
	ctx := context.Background()
	now := t0
	subject := "user-" + randomName()
	live, ended := randomName(), randomName()
	mustCreate(t, st, newSession(live, subject))
	mustCreate(t, st, newSession(ended, subject))
	if err := st.RevokeSession(ctx, subject, ended, now); err != nil {
		t.Fatal(err)
	}
	// The revocation's message went out before the view subscribed: the
	// view knows nothing of it, and every token is older than its epoch
	// plus the leeway.
	view, err := st.Watch(redisstore.ViewOptions{MaxStaleness: viewStaleness, Leeway: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { view.Close() })
	wctx, cancel := context.WithTimeout(ctx, viewWait)
	defer cancel()
	if err := view.WaitInStep(wctx); err != nil {
		t.Fatal(err)
	}

	q := store.AccessCheck{Subject: subject, SessionID: live, JTI: "jti-" + randomName(), Now: now,
		IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(14 * time.Minute)}
	check := func(q store.AccessCheck) (store.AccessState, uint64) {
		t.Helper()
		reads := view.Status().StoreReads
		got, err := view.CheckAccess(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return got, view.Status().StoreReads - reads
	}
	if got, reads := check(q); !got.SessionLive || reads != 1 {
		t.Fatalf("an older live token: %+v after %d store reads, want live after 1", got, reads)
	}
	if got, reads := check(q); !got.SessionLive || reads != 0 {
		t.Fatalf("the followed token: %+v after %d store reads, want live after none", got, reads)
	}

	other := q
	other.SessionID = ended
	if got, reads := check(other); got.SessionLive || reads != 1 {
		t.Fatalf("the followed jti naming an ended session: %+v after %d store reads, want ended after 1", got, reads)
	}
	other = q
	other.Version = 7
	if got, reads := check(other); got.Version != 0 || reads != 1 {
		t.Fatalf("the followed jti with another version: %+v after %d store reads, want version 0 after 1", got, reads)
	}
	other = q
	other.JTI = ""
	for range 2 {
		if _, reads := check(other); reads != 1 {
			t.Fatalf("a token without jti: %d store reads, want 1 every time (never followed)", reads)
		}
	}
}

// TestViewReadiness: a FailClosed view is ready only in step (its checks
// refuse otherwise), and says so within MaxStaleness; a view that falls
// back to store reads is always ready as far as it is concerned.
func TestViewReadiness(t *testing.T) {
	direct := singleClient(t)
	p := newLinkProxy(t, direct.Options().Addr)
	viaProxy := redis.NewClient(&redis.Options{Addr: p.addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { viaProxy.Close() })
	f := newViewFixture(t, direct, viaProxy, redisstore.ViewOptions{FailClosed: true})
	lenient, err := f.view.Store.Watch(redisstore.ViewOptions{MaxStaleness: viewStaleness})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lenient.Close() })
	ctx := context.Background()
	if err := f.view.Ready(ctx); err != nil {
		t.Fatalf("a view in step: %v", err)
	}

	p.stall()
	waitFor(t, "the view to notice the silence", func() bool { return !f.view.Status().InStep })
	rctx, cancel := context.WithTimeout(ctx, viewWait)
	defer cancel()
	err = f.view.Ready(rctx)
	if !errors.Is(err, redisstore.ErrViewBehind) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a FailClosed view behind a silent link: %v, want ErrViewBehind", err)
	}
	if rctx.Err() != nil {
		t.Fatalf("Ready waited for the caller's deadline (%v), want at most MaxStaleness", viewWait)
	}
	if err := lenient.Ready(ctx); err != nil {
		t.Fatalf("a view that reads the store while behind: %v, want ready", err)
	}

	p.flow()
	waitFor(t, "the view back in step", func() bool { return f.view.Status().InStep })
	if err := f.b.Check(ctx); err != nil {
		t.Fatalf("the Issuer on a view back in step: %v", err)
	}
	if err := f.view.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.view.Ready(ctx); !errors.Is(err, redisstore.ErrViewBehind) {
		t.Fatalf("a closed FailClosed view: %v, want ErrViewBehind", err)
	}
}

// TestViewSyncsAtOnce: a confirmed subscription pings at once, so a view
// whose pings are seconds apart is in step within a round trip of its
// subscription, not at its first tick.
func TestViewSyncsAtOnce(t *testing.T) {
	m := viewMiniredis(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { c.Close() })
	st, _ := newStore(t, c)
	const staleness = 40 * time.Second // a tick every 10 s
	view, err := st.Watch(redisstore.ViewOptions{MaxStaleness: staleness})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { view.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), staleness/8)
	defer cancel()
	if err := view.WaitInStep(ctx); err != nil {
		t.Fatalf("not in step within %v of Watch (the first tick is at %v): %v", staleness/8, staleness/4, err)
	}
}
