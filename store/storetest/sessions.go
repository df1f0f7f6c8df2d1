package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
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
		{name: "LookupProvesOwnership", run: testLookup},
		{name: "LookupHistory", needs: store.ReuseDetection, run: testLookupHistory},
		{name: "LookupRevokedNotFound", needs: store.RevokeSessions, run: testLookupRevoked},
		{name: "RotationReplacesClaims", run: testRotationClaims},
		{name: "OnlyRotatedStoresClaims", needs: store.ReuseDetection, run: testRotationClaimsOnlyRotated},
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

// testLookup: Lookup returns the session the current secret proves, refuses
// anything else with ErrNotFound, and writes nothing.
func testLookup(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	h, sec := c.current()
	got, err := f.s.Lookup(f.ctx, h, hashOf(sec), f.at(time.Minute))
	if err != nil {
		t.Fatalf("rule: Lookup returns the live session the current secret proves: got error %v", err)
	}
	f.sameSession("Lookup returns the session as stored", got, c.sess)

	for _, bad := range []struct {
		what   string
		handle string
		secret [32]byte
	}{
		{"a wrong secret under the real handle", h, newSecret()},
		{"an empty handle", "", sec},
		{"a garbage handle", "~~not a handle~~", sec},
		{"an oversized handle", strings.Repeat("A", store.MaxHandleLen+1), sec},
	} {
		if _, err := f.s.Lookup(f.ctx, bad.handle, hashOf(bad.secret), f.at(time.Minute)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("rule: Lookup with %s fails with ErrNotFound: got %v", bad.what, err)
		}
	}
	if _, err := f.s.Lookup(f.ctx, h, hashOf(sec), c.sess.IdleExpiresAt); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rule: Lookup of a session whose idle expiry has come fails with ErrNotFound: got %v", err)
	}
	// Lookup wrote nothing: the session is as created and still rotates.
	again, err := f.s.Lookup(f.ctx, h, hashOf(sec), f.at(2*time.Minute))
	if err != nil {
		t.Fatalf("rule: Lookup returns the live session the current secret proves: got error %v", err)
	}
	f.sameSession("Lookup writes nothing (LastUsedAt, expiry and generation unchanged)", again, c.sess)
	f.advance(c, f.at(3*time.Minute), grace)
}

// testLookupHistory: the previous and a spent secret also prove ownership,
// each under its own handle only.
func testLookupHistory(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	for i := 1; i <= 3; i++ {
		f.advance(c, f.at(time.Duration(i)*time.Minute), grace)
	}
	now := f.at(time.Hour)
	want := c.sess
	for g := uint64(1); g <= c.gen(); g++ {
		got, err := f.s.Lookup(f.ctx, c.handle(g), hashOf(c.secret(g)), now)
		if err != nil {
			t.Errorf("rule: Lookup accepts the secret of generation %d of %d under its handle: got error %v", g, c.gen(), err)
			continue
		}
		if got.Generation != c.gen() || got.ID != want.ID {
			t.Errorf("rule: Lookup returns the session as it stands (generation %d): got generation %d, id %q", c.gen(), got.Generation, got.ID)
		}
	}
	h, cur := c.current()
	if _, err := f.s.Lookup(f.ctx, c.handle(c.gen()-1), hashOf(cur), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rule: the current secret under the previous generation's handle proves nothing (ErrNotFound): got %v", err)
	}
	if _, err := f.s.Lookup(f.ctx, h, hashOf(c.secret(1)), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rule: a spent secret under the current handle proves nothing (ErrNotFound): got %v", err)
	}
}

// testLookupRevoked: a revoked session is not found, whatever the proof.
func testLookupRevoked(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	if err := f.s.RevokeSession(f.ctx, c.subject(), c.id(), f.at(time.Minute)); err != nil {
		t.Fatalf("rule: RevokeSession ends a live session of the subject: got error %v", err)
	}
	h, sec := c.current()
	if _, err := f.s.Lookup(f.ctx, h, hashOf(sec), f.at(2*time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rule: Lookup of a revoked session fails with ErrNotFound: got %v", err)
	}
}

// rotateWithClaims presents c's current secret with claims and expects want.
func (f *fixture) rotateWithClaims(c *chain, now time.Time, claims []byte) attempt {
	f.t.Helper()
	h, sec := c.current()
	r, next := rotation(h, sec, now, grace)
	r.Claims = claims
	a := f.do(r, next)
	f.want("the current secret rotates, with or without claims", a, store.Rotated)
	f.record(c, a)
	return a
}

// testRotationClaims: a Rotated step stores the claims it carries, in the
// same step; nil keeps them.
func testRotationClaims(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	want := c.sess
	claims := []byte(`{"role":  "admin", "plan":"pro"}`)
	a := f.rotateWithClaims(c, f.at(time.Minute), claims)
	want = after(want, a.r)
	f.sameSession("a Rotated step stores the claims it carries, verbatim", a.res.Session, want)
	h, sec := c.current()
	got, err := f.s.Lookup(f.ctx, h, hashOf(sec), f.at(90*time.Second))
	if err != nil {
		t.Fatalf("rule: Lookup returns the live session the current secret proves: got error %v", err)
	}
	f.sameSession("the claims a rotation stored are read back", got, want)

	a = f.rotateWithClaims(c, f.at(2*time.Minute), nil)
	want = after(want, a.r)
	f.sameSession("a rotation without claims keeps them", a.res.Session, want)

	a = f.rotateWithClaims(c, f.at(3*time.Minute), []byte(`{}`))
	want = after(want, a.r)
	f.sameSession("a rotation carrying an empty object stores it", a.res.Session, want)

	// Neither a forged secret nor a handle of another session writes claims.
	h, _ = c.current()
	r, next := rotation(h, newSecret(), f.at(4*time.Minute), grace)
	r.Claims = []byte(`{"role":"owner"}`)
	f.want("a forged secret is Unknown", f.do(r, next), store.Unknown)
	h, sec = c.current()
	got, err = f.s.Lookup(f.ctx, h, hashOf(sec), f.at(5*time.Minute))
	if err != nil {
		t.Fatalf("rule: Lookup returns the live session the current secret proves: got error %v", err)
	}
	f.sameSession("an Unknown step carrying claims changes nothing", got, want)
}

// testRotationClaimsOnlyRotated: Replayed writes nothing, claims included.
func testRotationClaimsOnlyRotated(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	a := f.advance(c, f.at(time.Minute), grace)
	want := after(c.sess, a.r)
	r, next := rotation(c.handle(1), c.secret(1), f.at(time.Minute+time.Second), grace)
	r.Claims = []byte(`{"role":"owner"}`)
	f.want("the previous secret inside the grace window is Replayed", f.do(r, next), store.Replayed)
	h, sec := c.current()
	got, err := f.s.Lookup(f.ctx, h, hashOf(sec), f.at(2*time.Minute))
	if err != nil {
		t.Fatalf("rule: Lookup returns the live session the current secret proves: got error %v", err)
	}
	f.sameSession("a Replayed step carrying claims changes nothing", got, want)
}
