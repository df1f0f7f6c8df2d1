package redisstore

import (
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// newBareView is a View without a subscription, in step, its epoch begun
// at start on its clock, elapsed ago on the monotonic clock.
func newBareView(start time.Time, elapsed time.Duration) *View {
	v := &View{
		staleness: time.Hour, lifetime: time.Hour, leeway: time.Minute, maxEntries: 100,
		subjects: map[string]*subjectView{}, followed: map[string]follow{},
		now: func() time.Time { return start }, mono: time.Now().Add(-time.Hour),
	}
	v.epochStart, v.epochMono = start, v.monoNow()-int64(elapsed)
	v.synced.Store(v.monoNow())
	return v
}

// TestViewCoverRules: the cases where the view must not answer on its
// own although the token looks fresh.
func TestViewCoverRules(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	fresh := func(now time.Time) store.AccessCheck {
		return store.AccessCheck{Subject: "u", SessionID: "s", JTI: "j", Version: 1, Now: now,
			IssuedAt: now.Add(-time.Second), ExpiresAt: now.Add(15 * time.Minute)}
	}
	t.Run("a token issued after the epoch", func(t *testing.T) {
		v := newBareView(start, 2*time.Minute)
		now := start.Add(2 * time.Minute)
		if _, ok := v.CheckAccessLocal(fresh(now)); !ok {
			t.Fatal("not answered locally")
		}
	})
	t.Run("the wall clock stepped forward after the epoch began", func(t *testing.T) {
		// The epoch began while the clock was ten minutes behind; NTP
		// has since stepped it. A token minted two minutes ago (on the
		// right clock) may have been revoked before the subscription.
		v := newBareView(start, 0)
		now := start.Add(10 * time.Minute) // no monotonic time elapsed
		q := fresh(now)
		q.IssuedAt = now.Add(-2 * time.Minute)
		if _, ok := v.CheckAccessLocal(q); ok {
			t.Fatal("answered locally for a token the view may not cover")
		}
	})
	t.Run("a version newer than the view knows", func(t *testing.T) {
		v := newBareView(start, 2*time.Minute)
		now := start.Add(2 * time.Minute)
		v.mu.Lock()
		v.addVersionLocked("u", 1, now)
		v.mu.Unlock()
		q := fresh(now)
		if _, ok := v.CheckAccessLocal(q); !ok {
			t.Fatal("the current version: not answered locally")
		}
		q.Version = 3 // the store lost the version and counted again
		if _, ok := v.CheckAccessLocal(q); ok {
			t.Fatal("a version newer than the view knows was answered locally")
		}
		q.Version = 0
		if st, ok := v.CheckAccessLocal(q); !ok || st.Version != 1 {
			t.Fatalf("an older version: %+v, %v; want refused locally", st, ok)
		}
	})
	t.Run("a deny for ever", func(t *testing.T) {
		v := newBareView(start, 2*time.Minute)
		now := start.Add(2 * time.Minute)
		forever := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
		v.mu.Lock()
		v.addDenyLocked("u", "j", forever, now)
		v.mu.Unlock()
		v.expire(now.Add(time.Hour))
		if st, ok := v.CheckAccessLocal(fresh(now.Add(time.Hour))); !ok || !st.Denied {
			t.Fatalf("a deny ending in the year 3000, an hour on: %+v, %v; want denied", st, ok)
		}
	})
}
