package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

func revokeCases() []testCase {
	return []testCase{
		{name: "RevokeWithCurrentSecret", needs: store.RevokeSessions, run: testRevokeCurrent},
		{name: "RevokeWithWrongSecretChangesNothing", needs: store.RevokeSessions, run: testRevokeWrong},
		{name: "RevokeWithEarlierSecret", needs: store.RevokeSessions | store.ReuseDetection, run: testRevokeEarlier},
		{name: "RevokeSessionOwnerChecked", needs: store.RevokeSessions, run: testRevokeSessionOwner},
		{name: "RevokeSessionEndsOnlyThatSession", needs: store.RevokeSessions, run: testRevokeSessionOnly},
	}
}

// testRevokeCurrent: Revoke with the current secret ends the session and
// returns it as it was; a second Revoke finds nothing.
func testRevokeCurrent(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	a := f.advance(c, f.at(time.Minute), grace)
	now := f.at(2 * time.Minute)
	h, s := c.current()
	got, err := f.s.Revoke(f.ctx, h, hashOf(s), now)
	if err != nil {
		t.Fatalf("rule: Revoke with the current secret of a live session ends it: got error %v", err)
	}
	f.sameSession("Revoke returns the session as it was", got, a.res.Session)
	f.want("a session ended by Revoke answers Revoked", f.presentGen(c, 2, now, grace), store.Revoked)
	f.checkGone("a session ended by Revoke is not live", c, now)
	if _, err := f.s.Revoke(f.ctx, h, hashOf(s), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rule: Revoke needs a live session: a second Revoke gives ErrNotFound: got %v", err)
	}
}

// testRevokeWrong: Revoke with a secret never issued for the session fails
// with ErrNotFound and changes nothing.
func testRevokeWrong(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	f.advance(c, f.at(time.Minute), grace)
	now := f.at(2 * time.Minute)
	for g := uint64(1); g <= c.gen(); g++ {
		if _, err := f.s.Revoke(f.ctx, c.handle(g), hashOf(newSecret()), now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("rule: Revoke with a secret never issued for the session gives ErrNotFound (handle of generation %d): got %v", g, err)
		}
	}
	f.checkAlive("a refused Revoke changes nothing", c, now)
	f.advance(c, now, grace)
}

// testRevokeEarlier: the previous and older spent secrets prove ownership
// too, and Revoke with them ends the session.
func testRevokeEarlier(t *testing.T, f *fixture) {
	for _, back := range []uint64{1, 2} {
		start := time.Duration(back) * 10 * time.Minute // now only moves forward
		c := f.create(f.newSubject(), f.at(start))
		f.advance(c, f.at(start+time.Minute), grace)
		f.advance(c, f.at(start+2*time.Minute), grace) // generation 3
		now := f.at(start + 3*time.Minute)
		g := c.gen() - back
		got, err := f.s.Revoke(f.ctx, c.handle(g), hashOf(c.secret(g)), now)
		if err != nil {
			t.Fatalf("rule: Revoke accepts any secret ever issued for the session (generation %d, current %d): got error %v", g, c.gen(), err)
		}
		if got.ID != c.id() || got.Generation != c.gen() {
			t.Errorf("rule: Revoke returns the session as it was: got session %q generation %d, want %q generation %d", got.ID, got.Generation, c.id(), c.gen())
		}
		f.want(fmt.Sprintf("Revoke with the secret of generation %d (current %d) ends the session: its current secret answers Revoked", g, c.gen()),
			f.presentGen(c, c.gen(), now, grace), store.Revoked)
	}
}

// testRevokeSessionOwner: a subject cannot end another subject's session.
func testRevokeSessionOwner(t *testing.T, f *fixture) {
	a := f.create(f.newSubject(), f.base)
	b := f.create(f.newSubject(), f.base)
	now := f.at(time.Minute)
	if err := f.s.RevokeSession(f.ctx, a.subject(), b.id(), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rule: RevokeSession is owner-checked: another subject's session gives ErrNotFound: got %v", err)
	}
	f.checkAlive("a refused RevokeSession changes nothing", b, now)
	f.advance(b, now, grace)
	f.advance(a, now, grace)
}

// testRevokeSessionOnly: RevokeSession ends that session and no other.
func testRevokeSessionOnly(t *testing.T, f *fixture) {
	subject := f.newSubject()
	target := f.create(subject, f.base)
	sibling := f.create(subject, f.base)
	now := f.at(time.Minute)
	if err := f.s.RevokeSession(f.ctx, subject, target.id(), now); err != nil {
		t.Fatalf("rule: RevokeSession ends a live session of the subject: got error %v", err)
	}
	f.want("a session ended by RevokeSession answers Revoked", f.presentGen(target, 1, now, grace), store.Revoked)
	f.checkAlive("RevokeSession ends only the session named", sibling, now)
	f.advance(sibling, now, grace)
	if err := f.s.RevokeSession(f.ctx, subject, target.id(), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rule: RevokeSession needs a live session: a second call gives ErrNotFound: got %v", err)
	}
	if err := f.s.RevokeSession(f.ctx, subject, randomID(), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rule: RevokeSession of an id never created gives ErrNotFound: got %v", err)
	}
}

func revokeAllCases() []testCase {
	return []testCase{
		{name: "EndsEverySessionOfSubject", needs: store.Versions | store.RevokeSessions, run: testRevokeAllSessions},
		{name: "BumpsVersion", needs: store.Versions, run: testRevokeAllVersion},
	}
}

// testRevokeAllSessions: RevokeAll ends every session of the subject and
// none of another subject's.
func testRevokeAllSessions(t *testing.T, f *fixture) {
	subject := f.newSubject()
	c1 := f.create(subject, f.base)
	c2 := f.create(subject, f.base)
	f.advance(c2, f.at(time.Minute), grace)
	other := f.create(f.newSubject(), f.base)
	now := f.at(2 * time.Minute)
	if _, err := f.s.RevokeAll(f.ctx, subject, now); err != nil {
		t.Fatalf("rule: RevokeAll ends every session of the subject: got error %v", err)
	}
	for i, c := range []*chain{c1, c2} {
		f.want(fmt.Sprintf("RevokeAll ends every session of the subject: session %d answers Revoked", i+1), f.presentGen(c, c.gen(), now, grace), store.Revoked)
		f.checkGone("RevokeAll ends every session of the subject", c, now)
	}
	if f.has(store.ListSessions) {
		if got := f.sessions(subject, now); len(got) != 0 {
			t.Errorf("rule: after RevokeAll the subject has no live sessions: Sessions got %q", ids(got))
		}
	}
	f.checkAlive("RevokeAll leaves other subjects' sessions alone", other, now)
	f.advance(other, now, grace)
}

// testRevokeAllVersion: RevokeAll returns the bumped version, which
// Version, CheckAccess, Create and Rotate then report; other subjects keep
// theirs.
func testRevokeAllVersion(t *testing.T, f *fixture) {
	subject, other := f.newSubject(), f.newSubject()
	f.create(subject, f.base)
	if v := f.version(subject); v != 0 {
		t.Errorf("rule: a subject never bumped has version 0: Version got %d", v)
	}
	for want := uint64(1); want <= 2; want++ {
		now := f.at(time.Duration(want) * time.Minute)
		v, err := f.s.RevokeAll(f.ctx, subject, now)
		if err != nil {
			t.Fatalf("rule: RevokeAll bumps the subject's version: got error %v", err)
		}
		if v != want {
			t.Errorf("rule: RevokeAll returns the new version (the old one plus one): got %d, want %d", v, want)
		}
		if v := f.version(subject); v != want {
			t.Errorf("rule: Version reads the version RevokeAll left: got %d, want %d", v, want)
		}
		if st := f.access(store.AccessCheck{Subject: subject, JTI: randomID(), Now: now}); st.Version != want {
			t.Errorf("rule: CheckAccess reports the version RevokeAll left: got %d, want %d", st.Version, want)
		}
	}
	now := f.at(3 * time.Minute)
	if v := f.version(other); v != 0 {
		t.Errorf("rule: RevokeAll bumps only that subject's version: another subject's Version got %d, want 0", v)
	}
	if st := f.access(store.AccessCheck{Subject: other, JTI: randomID(), Now: now}); st.Version != 0 {
		t.Errorf("rule: RevokeAll bumps only that subject's version: another subject's CheckAccess got version %d, want 0", st.Version)
	}
	c := f.create(subject, now)
	if c.version != 2 {
		t.Errorf("rule: Create returns the subject's current token version: got %d, want 2", c.version)
	}
	a := f.advance(c, now, grace)
	if a.res.Version != 2 {
		t.Errorf("rule: Rotated carries the subject's current token version: got %d, want 2", a.res.Version)
	}
	if f.has(store.ReuseDetection) {
		r := f.presentGen(c, 1, now, grace)
		f.want("the previous secret within the grace window is Replayed", r, store.Replayed)
		if r.res.Version != 2 {
			t.Errorf("rule: Replayed carries the subject's current token version: got %d, want 2", r.res.Version)
		}
	}
}
