package storetest

import (
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

func accessCases() []testCase {
	return []testCase{
		{name: "DenyIsPerSubjectAndJTI", needs: store.DenyList, run: testDeny},
		{name: "SessionLive", needs: liveCheck, run: testSessionLive},
	}
}

// testDeny: a deny-list entry is keyed by subject and jti.
func testDeny(t *testing.T, f *fixture) {
	a, b := f.newSubject(), f.newSubject()
	jti := randomID()
	if err := f.s.Deny(f.ctx, a, jti, f.at(15*time.Minute)); err != nil {
		t.Fatalf("rule: Deny records a jti: got error %v", err)
	}
	now := f.at(time.Minute)
	for _, p := range []struct {
		q    store.AccessCheck
		want bool
		what string
	}{
		{store.AccessCheck{Subject: a, JTI: jti, Now: now}, true, "the denied jti"},
		{store.AccessCheck{Subject: a, JTI: randomID(), Now: now}, false, "another jti of the same subject"},
		{store.AccessCheck{Subject: b, JTI: jti, Now: now}, false, "the same jti for another subject (entries are keyed by subject and jti)"},
	} {
		if got := f.access(p.q).Denied; got != p.want {
			t.Errorf("rule: CheckAccess reports Denied for a live deny-list entry of that subject and jti only: %s got %v, want %v", p.what, got, p.want)
		}
	}
}

// testSessionLive: SessionLive is true only for a live session of that
// subject, and false without a session id.
func testSessionLive(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	other := f.create(f.newSubject(), f.base)
	now := f.at(time.Minute)
	for _, p := range []struct {
		q    store.AccessCheck
		want bool
		what string
	}{
		{store.AccessCheck{Subject: c.subject(), SessionID: c.id(), JTI: randomID(), Now: now}, true, "a live session of the subject"},
		{store.AccessCheck{Subject: c.subject(), SessionID: other.id(), JTI: randomID(), Now: now}, false, "another subject's live session"},
		{store.AccessCheck{Subject: c.subject(), SessionID: randomID(), JTI: randomID(), Now: now}, false, "a session id never created"},
		{store.AccessCheck{Subject: c.subject(), SessionID: "", JTI: randomID(), Now: now}, false, "an empty session id"},
	} {
		if got := f.access(p.q).SessionLive; got != p.want {
			t.Errorf("rule: SessionLive reports a live session of that subject, always false for an empty SessionID: %s got %v, want %v", p.what, got, p.want)
		}
	}
	if err := f.s.RevokeSession(f.ctx, c.subject(), c.id(), now); err != nil {
		t.Fatalf("rule: RevokeSession ends a live session of the subject: got error %v", err)
	}
	q := store.AccessCheck{Subject: c.subject(), SessionID: c.id(), JTI: randomID(), Now: now}
	if f.access(q).SessionLive {
		t.Errorf("rule: SessionLive is false for a revoked session: got true")
	}
}

func useOnceCases() []testCase {
	return []testCase{
		{name: "TrueOnlyOnce", needs: store.UseOnce, run: testUseOnce},
		{name: "NamespacesAndKeysSeparate", needs: store.UseOnce, run: testUseOnceSeparate},
	}
}

// use calls UseOnce with a five-minute record, failing the case on error.
func (f *fixture) use(ns, key string, now time.Time) bool {
	f.t.Helper()
	ok, err := f.s.UseOnce(f.ctx, ns, key, now.Add(5*time.Minute), now)
	if err != nil {
		f.t.Fatalf("rule: UseOnce answers on a live context: got error %v", err)
	}
	return ok
}

// testUseOnce: the first call is true, every later one (while the record
// lives) false.
func testUseOnce(t *testing.T, f *fixture) {
	ns, key := "storetest-once-"+randomID(), randomID()
	for i, now := range []time.Time{f.base, f.base, f.at(time.Minute), f.at(4 * time.Minute)} {
		if got, want := f.use(ns, key, now), i == 0; got != want {
			t.Errorf("rule: UseOnce reports true only when no live record of the key exists: call %d got %v, want %v", i+1, got, want)
		}
	}
}

// testUseOnceSeparate: records are keyed by namespace and key.
func testUseOnceSeparate(t *testing.T, f *fixture) {
	ns1, ns2 := "storetest-ns1-"+randomID(), "storetest-ns2-"+randomID()
	k1, k2 := randomID(), randomID()
	now := f.base
	if !f.use(ns1, k1, now) {
		t.Fatalf("rule: UseOnce reports true for a key never used: got false")
	}
	if !f.use(ns2, k1, now) {
		t.Errorf("rule: UseOnce namespaces are separate: the same key in another namespace got false")
	}
	if !f.use(ns1, k2, now) {
		t.Errorf("rule: UseOnce keys are separate: another key in the same namespace got false")
	}
	for _, p := range [][2]string{{ns1, k1}, {ns2, k1}, {ns1, k2}} {
		if f.use(p[0], p[1], now) {
			t.Errorf("rule: UseOnce reports true only once per namespace and key: a repeat got true")
		}
	}
}
