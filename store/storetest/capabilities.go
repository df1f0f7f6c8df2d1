package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

func capabilityCases() []testCase {
	return []testCase{
		{name: "Stable", run: testCapsStable},
		{name: "WithoutReuseDetection", lacks: store.ReuseDetection, run: testWithoutReuse},
		{name: "WithoutRevokeSessions", lacks: store.RevokeSessions, run: testWithoutRevoke},
		{name: "WithoutListSessions", lacks: store.ListSessions, run: testWithoutList},
		{name: "WithoutVersions", lacks: store.Versions, run: testWithoutVersions},
		{name: "WithoutDenyList", lacks: store.DenyList, run: testWithoutDeny},
		{name: "WithoutUseOnce", lacks: store.UseOnce, run: testWithoutUseOnce},
	}
}

// testCapsStable: a store declares the same capabilities every time.
func testCapsStable(t *testing.T, f *fixture) {
	f.create(f.newSubject(), f.base)
	if got := f.s.Capabilities(); got != f.caps {
		t.Errorf("rule: Capabilities is constant for a store: got %s, then %s", capString(f.caps), capString(got))
	}
}

// unsupported checks that err wraps ErrUnsupported.
func (f *fixture) unsupported(method string, missing store.Capabilities, err error) {
	f.t.Helper()
	if !errors.Is(err, store.ErrUnsupported) {
		f.t.Errorf("rule: a method needing a capability the store lacks (%s) fails with ErrUnsupported: %s got %v", capString(missing), method, err)
	}
}

// testWithoutReuse: without ReuseDetection, Rotate never answers Replayed
// or Reused.
func testWithoutReuse(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	now := f.at(time.Minute)
	f.advance(c, now, grace)
	for _, p := range []struct {
		now  time.Time
		what string
	}{
		{now, "inside the grace window"},
		{now.Add(time.Minute), "after the grace window"},
	} {
		a := f.presentGen(c, 1, p.now, grace)
		if o := a.res.Outcome; o == store.Replayed || o == store.Reused {
			t.Errorf("rule: only a store with ReuseDetection answers Replayed or Reused: the previous secret %s got %v", p.what, o)
		}
	}
}

// testWithoutRevoke: without RevokeSessions, Revoke and RevokeSession fail
// with ErrUnsupported, even for a live session and its real secret.
func testWithoutRevoke(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	h, s := c.current()
	_, err := f.s.Revoke(f.ctx, h, hashOf(s), f.base)
	f.unsupported("Revoke", store.RevokeSessions, err)
	f.unsupported("RevokeSession", store.RevokeSessions, f.s.RevokeSession(f.ctx, c.subject(), c.id(), f.base))
	f.advance(c, f.at(time.Minute), grace)
}

// testWithoutList: without ListSessions, Sessions fails with ErrUnsupported.
func testWithoutList(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	_, err := f.s.Sessions(f.ctx, c.subject(), f.base)
	f.unsupported("Sessions", store.ListSessions, err)
}

// testWithoutVersions: without Versions, RevokeAll and Version fail with
// ErrUnsupported.
func testWithoutVersions(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	_, err := f.s.RevokeAll(f.ctx, c.subject(), f.base)
	f.unsupported("RevokeAll", store.Versions, err)
	_, err = f.s.Version(f.ctx, c.subject())
	f.unsupported("Version", store.Versions, err)
	f.advance(c, f.at(time.Minute), grace)
}

// testWithoutDeny: without DenyList, Deny fails with ErrUnsupported.
func testWithoutDeny(t *testing.T, f *fixture) {
	f.unsupported("Deny", store.DenyList, f.s.Deny(f.ctx, f.newSubject(), randomID(), f.at(time.Hour)))
}

// testWithoutUseOnce: without UseOnce, UseOnce fails with ErrUnsupported.
func testWithoutUseOnce(t *testing.T, f *fixture) {
	_, err := f.s.UseOnce(f.ctx, "storetest-"+randomID(), randomID(), f.at(time.Minute), f.base)
	f.unsupported("UseOnce", store.UseOnce, err)
}
