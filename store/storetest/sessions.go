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
		got, err := FindSession(f.ctx, f.s, subject, c.id(), f.at(time.Minute))
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
		if s, err := FindSession(f.ctx, f.s, p.subject, p.id, now); !errors.Is(err, store.ErrNotFound) {
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
