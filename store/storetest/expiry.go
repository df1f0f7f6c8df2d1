package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

func expiryCases() []testCase {
	return []testCase{
		{name: "SessionReadsEndAtExpiry", run: testSessionReadsExpire},
		{name: "SessionLiveEndsAtExpiry", needs: liveCheck, run: testSessionLiveExpires},
		{name: "RevokeNeedsLiveSession", needs: store.RevokeSessions, run: testRevokeExpired},
		{name: "DenyEntryEndsAtUntil", needs: store.DenyList, run: testDenyExpires},
		{name: "UseOnceKeyEndsAtUntil", needs: store.UseOnce, run: testUseOnceExpires},
		{name: "VersionsNeverExpire", needs: store.Versions, run: testVersionsNeverExpire},
	}
}

// testSessionReadsExpire: Lookup (any store), and Sessions
// (with ListSessions), see a session until its idle or absolute expiry, and
// not from that moment on.
func testSessionReadsExpire(t *testing.T, f *fixture) {
	subject := f.newSubject()
	idleC := f.create(subject, f.base)
	absC := f.create(subject, f.base, idle8h)
	list := f.has(store.ListSessions)
	listed := func(now time.Time, c *chain) bool {
		return slices.Contains(ids(f.sessions(subject, now)), c.id())
	}

	idle := idleC.sess.IdleExpiresAt
	before := idle.Add(-ms)
	h, sec := idleC.current()
	got := f.found("a session is live until its idle expiry: Lookup 1ms before finds it", h, sec, before)
	f.sameSession("Lookup 1ms before the idle expiry returns the session as created", got, idleC.sess)
	if list {
		if _, err := FindSession(f.ctx, f.s, subject, idleC.id(), before); err != nil {
			t.Errorf("rule: a session is live until its idle expiry: Session 1ms before: got error %v", err)
		}
		if !listed(before, idleC) {
			t.Errorf("rule: a session is live until its idle expiry: Sessions 1ms before does not list it")
		}
	}
	f.notFound("Lookup of a session whose idle expiry has come (now == IdleExpiresAt) fails with ErrNotFound", h, sec, idle)
	if list {
		if _, err := FindSession(f.ctx, f.s, subject, idleC.id(), idle); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("rule: a session whose idle expiry has come (now == IdleExpiresAt) is not found: Session got %v", err)
		}
		if listed(idle, idleC) {
			t.Errorf("rule: Sessions lists live sessions only: it lists one whose idle expiry has come")
		}
	}

	// Carry absC to its absolute expiry by rotations.
	want := absC.sess
	for _, h := range []time.Duration{7, 14, 21} {
		now := f.at(h * time.Hour)
		a := f.advanceIdle(absC, now, grace, now.Add(8*time.Hour))
		want = after(want, a.r)
	}
	end := absC.sess.ExpiresAt
	h, sec = absC.current()
	prevH, prev := absC.handle(absC.gen()-1), absC.secret(absC.gen()-1)
	got = f.found("a session is live until its absolute expiry: Lookup 1ms before finds it", h, sec, end.Add(-ms))
	f.sameSession("Lookup 1ms before the absolute expiry returns the session as the last rotation left it", got, want)
	if f.has(store.ReuseDetection) {
		f.found("a session is live until its absolute expiry: Lookup with its previous secret 1ms before finds it", prevH, prev, end.Add(-ms))
	}
	if list {
		if _, err := FindSession(f.ctx, f.s, subject, absC.id(), end.Add(-ms)); err != nil {
			t.Errorf("rule: a session is live until its absolute expiry: Session 1ms before: got error %v", err)
		}
	}
	f.notFound("Lookup of a session whose absolute expiry has come fails with ErrNotFound, however recently it rotated", h, sec, end)
	f.notFound("Lookup of a session whose absolute expiry has come fails with ErrNotFound, with its previous secret too", prevH, prev, end)
	if list {
		if _, err := FindSession(f.ctx, f.s, subject, absC.id(), end); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("rule: a session whose absolute expiry has come is not found: Session got %v", err)
		}
		if listed(end, absC) {
			t.Errorf("rule: Sessions lists live sessions only: it lists one whose absolute expiry has come")
		}
	}
}

// testSessionLiveExpires: CheckAccess reports SessionLive until the
// session's expiry, and false from that moment on.
func testSessionLiveExpires(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	idle := c.sess.IdleExpiresAt
	q := store.AccessCheck{Subject: c.subject(), SessionID: c.id(), JTI: randomID(), Now: idle.Add(-ms)}
	if !f.access(q).SessionLive {
		t.Errorf("rule: CheckAccess reports SessionLive for a live session (1ms before its idle expiry): got false")
	}
	q.Now = idle
	if f.access(q).SessionLive {
		t.Errorf("rule: CheckAccess reports SessionLive false once the session's idle expiry has come (now == IdleExpiresAt): got true")
	}
}

// testRevokeExpired: Revoke and RevokeSession need a live session; on an
// expired one they fail with ErrNotFound and change nothing.
func testRevokeExpired(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	idle := c.sess.IdleExpiresAt
	if err := f.s.RevokeSession(f.ctx, c.subject(), c.id(), idle); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rule: RevokeSession on an expired session fails with ErrNotFound: got %v", err)
	}
	h, s := c.current()
	if _, err := f.s.Revoke(f.ctx, h, hashOf(s), idle); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rule: Revoke on an expired session fails with ErrNotFound: got %v", err)
	}
	f.want("a failed revocation changes nothing: the expired session is Expired, not Revoked", f.presentGen(c, 1, idle, grace), store.Expired)
}

// testDenyExpires: a deny-list entry counts while until is after now.
func testDenyExpires(t *testing.T, f *fixture) {
	subject, jti := f.newSubject(), randomID()
	until := f.at(15 * time.Minute)
	if err := f.s.Deny(f.ctx, subject, jti, until); err != nil {
		t.Fatalf("rule: Deny records a jti: got error %v", err)
	}
	q := store.AccessCheck{Subject: subject, JTI: jti}
	for _, p := range []struct {
		now  time.Time
		want bool
		when string
	}{
		{f.base, true, "at once"},
		{until.Add(-ms), true, "1ms before until"},
		{until, false, "at until (an entry is live while until is after now)"},
		{until.Add(time.Hour), false, "an hour after until"},
	} {
		q.Now = p.now
		if got := f.access(q).Denied; got != p.want {
			t.Errorf("rule: a denied jti is denied until the given time and not from then on: %s, Denied got %v, want %v", p.when, got, p.want)
		}
	}
}

// testUseOnceExpires: a use-once record counts while until is after now;
// afterwards the key can be used again.
func testUseOnceExpires(t *testing.T, f *fixture) {
	ns, key := "storetest-exp-"+randomID(), randomID()
	until := f.at(5 * time.Minute)
	use := func(until, now time.Time, want bool, when string) {
		t.Helper()
		got, err := f.s.UseOnce(f.ctx, ns, key, until, now)
		if err != nil {
			t.Fatalf("rule: UseOnce answers on a live context: got error %v", err)
		}
		if got != want {
			t.Errorf("rule: UseOnce is true only when no live record of the key exists, and a record lives while until is after now: %s, got %v, want %v", when, got, want)
		}
	}
	use(until, f.base, true, "first use")
	use(until, until.Add(-ms), false, "1ms before until")
	use(until.Add(5*time.Minute), until, true, "at until (the record is gone)")
	use(until.Add(5*time.Minute), until.Add(time.Minute), false, "after the second record was made")
}

// testVersionsNeverExpire: a bumped version is read back however far now
// moves on.
func testVersionsNeverExpire(t *testing.T, f *fixture) {
	subject := f.newSubject()
	for range 2 {
		if _, err := f.s.RevokeAll(f.ctx, subject, f.base); err != nil {
			t.Fatalf("rule: RevokeAll bumps a subject's version: got error %v", err)
		}
	}
	later := f.base.AddDate(10, 0, 0)
	if st := f.access(store.AccessCheck{Subject: subject, JTI: randomID(), Now: later}); st.Version != 2 {
		t.Errorf("rule: versions never expire: CheckAccess ten years on reports version %d, want 2", st.Version)
	}
	v, err := f.s.RevokeAll(f.ctx, subject, later)
	if err != nil {
		t.Fatalf("rule: RevokeAll bumps a subject's version: got error %v", err)
	}
	if v != 3 {
		t.Errorf("rule: versions never expire: RevokeAll ten years on returns %d, want 3", v)
	}
	if v := f.version(subject); v != 3 {
		t.Errorf("rule: versions never expire: Version reads %d, want 3", v)
	}
}
