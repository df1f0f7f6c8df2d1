package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

func sessionCases() []testCase {
	return []testCase{
		{name: "SessionReadsBack", needs: store.ListSessions, run: testSessionReadsBack},
		{name: "SessionOwnerChecked", needs: store.ListSessions, run: testSessionOwner},
		{name: "RevokedSessionNotFound", needs: store.ListSessions | store.RevokeSessions, run: testSessionRevoked},
		{name: "SessionsLiveOwnOldestFirst", needs: store.ListSessions, run: testSessionsList},
		{name: "SetClaimsReplaces", needs: store.ListSessions, run: testSetClaims},
		{name: "SetClaimsOwnerChecked", needs: store.ListSessions, run: testSetClaimsOwner},
	}
}

// testSessionReadsBack: Session returns what Create stored, verbatim.
func testSessionReadsBack(t *testing.T, f *fixture) {
	subject := f.newSubject()
	user := f.create(subject, f.base)
	client := f.create(subject, f.at(time.Second), func(s *store.Session) {
		s.ClientID = "client-" + randomID()
		s.Claims = nil
		s.Scope = ""
		s.Device = store.Device{}
	})
	for _, c := range []*chain{user, client} {
		got, err := f.s.Session(f.ctx, subject, c.id(), f.at(time.Minute))
		if err != nil {
			t.Fatalf("rule: Session reads a live session of the subject: got error %v", err)
		}
		f.sameSession("Session returns the session as created (claims verbatim, scope, client id, device, times, generation 1)", got, c.sess)
	}
}

// testSessionOwner: Session finds only the subject's own session.
func testSessionOwner(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	other := f.create(f.newSubject(), f.base)
	now := f.at(time.Minute)
	for _, p := range []struct{ subject, id, what string }{
		{other.subject(), c.id(), "another subject's session"},
		{c.subject(), other.id(), "a session of another subject, asked as this one"},
		{c.subject(), randomID(), "an id never created"},
		{c.subject(), "", "the empty id"},
	} {
		if s, err := f.s.Session(f.ctx, p.subject, p.id, now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("rule: Session is owner-checked and fails with ErrNotFound for %s: got session %q, %v", p.what, s.ID, err)
		}
	}
}

// testSessionRevoked: a revoked session is not found.
func testSessionRevoked(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	now := f.at(time.Minute)
	if err := f.s.RevokeSession(f.ctx, c.subject(), c.id(), now); err != nil {
		t.Fatalf("rule: RevokeSession ends a live session of the subject: got error %v", err)
	}
	f.checkGone("a revoked session is not live", c, now)
}

// testSessionsList: Sessions lists the subject's live sessions only, oldest
// first, each as stored.
func testSessionsList(t *testing.T, f *fixture) {
	a, b := f.newSubject(), f.newSubject()
	short := f.create(a, f.base, func(s *store.Session) { s.IdleExpiresAt = s.CreatedAt.Add(5 * time.Minute) })
	var want []store.Session
	var chains []*chain
	for i := range 3 {
		c := f.create(a, f.at(time.Duration(i+1)*time.Second), func(s *store.Session) {
			if i == 1 {
				s.ClientID = "client-" + randomID()
				s.Claims = nil
			}
		})
		chains = append(chains, c)
		want = append(want, c.sess)
	}
	revoked := f.create(a, f.at(4*time.Second))
	otherC := f.create(b, f.at(5*time.Second))
	if f.has(store.RevokeSessions) {
		if err := f.s.RevokeSession(f.ctx, a, revoked.id(), f.at(6*time.Second)); err != nil {
			t.Fatalf("rule: RevokeSession ends a live session of the subject: got error %v", err)
		}
	} else {
		want = append(want, revoked.sess)
	}
	// Rotate the middle one: Sessions shows it as it is now.
	r := f.advance(chains[1], f.at(5*time.Minute), grace)
	want[1] = after(want[1], r.r)

	now := f.at(10 * time.Minute) // short's idle expiry has passed
	got := f.sessions(a, now)
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("rule: Sessions lists the subject's live sessions only (not expired %q, not revoked %q, not another subject's %q), oldest first: got %q, want %q",
			short.id(), revoked.id(), otherC.id(), ids(got), ids(want))
	}
	for i := range got {
		f.sameSession(fmt.Sprintf("Sessions returns each session as stored (entry %d)", i), got[i], want[i])
	}
	if got := f.sessions(b, now); !slices.Equal(ids(got), []string{otherC.id()}) {
		t.Errorf("rule: Sessions lists only that subject's sessions: subject b got %q, want %q", ids(got), []string{otherC.id()})
	}
	if got := f.sessions(f.newSubject(), now); len(got) != 0 {
		t.Errorf("rule: Sessions of a subject without sessions is empty: got %q", ids(got))
	}
}

// testSetClaims: SetClaims replaces the claims, verbatim; nil clears them;
// rotations carry the new claims.
func testSetClaims(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	read := func(now time.Time) store.Session {
		t.Helper()
		s, err := f.s.Session(f.ctx, c.subject(), c.id(), now)
		if err != nil {
			t.Fatalf("rule: Session reads a live session of the subject: got error %v", err)
		}
		return s
	}
	claims := []byte(`{"role":  "admin", "plan":"pro"}`)
	now := f.at(time.Minute)
	if err := f.s.SetClaims(f.ctx, c.subject(), c.id(), claims, now); err != nil {
		t.Fatalf("rule: SetClaims replaces the claims of a live session of the subject: got error %v", err)
	}
	want := c.sess
	want.Claims = claims
	f.sameSession("SetClaims replaces the claims (verbatim) and nothing else", read(now), want)

	a := f.advance(c, f.at(2*time.Minute), grace)
	want = after(want, a.r)
	f.sameSession("a rotation carries the claims SetClaims stored", a.res.Session, want)

	if err := f.s.SetClaims(f.ctx, c.subject(), c.id(), nil, f.at(3*time.Minute)); err != nil {
		t.Fatalf("rule: SetClaims replaces the claims of a live session of the subject: got error %v", err)
	}
	if got := read(f.at(3 * time.Minute)); len(got.Claims) != 0 {
		t.Errorf("rule: SetClaims with nil claims leaves none: got %q", got.Claims)
	}
}

// testSetClaimsOwner: SetClaims fails with ErrNotFound for another
// subject's, an unknown or a revoked session, and changes nothing.
func testSetClaimsOwner(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	other := f.newSubject()
	now := f.at(time.Minute)
	evil := []byte(`{"role":"owner"}`)
	if err := f.s.SetClaims(f.ctx, other, c.id(), evil, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rule: SetClaims is owner-checked: another subject's session gives ErrNotFound: got %v", err)
	}
	if err := f.s.SetClaims(f.ctx, c.subject(), randomID(), evil, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rule: SetClaims on an id never created gives ErrNotFound: got %v", err)
	}
	got, err := f.s.Session(f.ctx, c.subject(), c.id(), now)
	if err != nil {
		t.Fatalf("rule: Session reads a live session of the subject: got error %v", err)
	}
	f.sameSession("a refused SetClaims changes nothing", got, c.sess)

	if f.has(store.RevokeSessions) {
		if err := f.s.RevokeSession(f.ctx, c.subject(), c.id(), now); err != nil {
			t.Fatalf("rule: RevokeSession ends a live session of the subject: got error %v", err)
		}
		if err := f.s.SetClaims(f.ctx, c.subject(), c.id(), evil, now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("rule: SetClaims on a revoked session gives ErrNotFound: got %v", err)
		}
	}
}
