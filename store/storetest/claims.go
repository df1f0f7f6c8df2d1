package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// The Rotate cases on Rotation.Claims: only a Rotated step replaces the
// session's claims; every other outcome writes nothing.

// evilClaims are claims that a refused rotation must not store.
var evilClaims = []byte(`{"role":"owner"}`)

// advanceClaims rotates c's current secret at now, carrying claims.
func (f *fixture) advanceClaims(c *chain, now time.Time, claims []byte) attempt {
	f.t.Helper()
	return f.advanceWith(c, now, grace, func(r *store.Rotation) { r.Claims = claims })
}

// presentClaims presents secret under handle at now, carrying claims.
func (f *fixture) presentClaims(handle string, secret [32]byte, now time.Time, claims []byte) attempt {
	f.t.Helper()
	r, next := rotation(handle, secret, now, grace)
	r.Claims = claims
	return f.do(r, next)
}

// checkStored checks, by every means the store offers, that c's live
// session reads back as want at now.
func (f *fixture) checkStored(rule string, c *chain, now time.Time, want store.Session) {
	f.t.Helper()
	h, secret := c.current()
	if got, err := f.lookup(h, hashOf(secret), now); err != nil {
		f.t.Errorf("rule: %s: Lookup with the current secret: got error %v", rule, err)
	} else {
		f.sameSession(rule+" (read by Lookup)", got, want)
	}
	if !f.has(store.ListSessions) {
		return
	}
	if got, err := FindSession(f.ctx, f.s, c.subject(), c.id(), now); err != nil {
		f.t.Errorf("rule: %s: Session: got error %v", rule, err)
	} else {
		f.sameSession(rule+" (read by Session)", got, want)
	}
	list := f.sessions(c.subject(), now)
	if i := slices.IndexFunc(list, func(s store.Session) bool { return s.ID == c.id() }); i < 0 {
		f.t.Errorf("rule: %s: Sessions does not list the session", rule)
	} else {
		f.sameSession(rule+" (read by Sessions)", list[i], want)
	}
}

// testClaimsRotated: a Rotated step carrying Claims replaces the session's
// claims in the same step, verbatim, and no other session's; nil Claims
// keep them; non-nil Claims always replace them, even empty ones.
func testClaimsRotated(t *testing.T, f *fixture) {
	subject := f.newSubject()
	c := f.create(subject, f.base)
	sibling := f.create(subject, f.base)
	now := f.at(time.Minute)
	a := f.advanceClaims(c, now, []byte(`{"role":  "admin", "plan":"pro", "n": [3, 4.50]}`))
	want := after(c.sess, a.r)
	f.sameSession("a Rotated step carrying Claims replaces the claims in the same step, verbatim: Rotated returns the session with them", a.res.Session, want)
	f.checkStored("a Rotated step carrying Claims stores them, verbatim", c, now, want)
	f.checkStored("a rotation's Claims replace the claims of that session only", sibling, now, sibling.sess)

	for i, p := range []struct {
		claims []byte
		rule   string
	}{
		{nil, "a Rotated step with nil Claims keeps the session's claims"},
		{[]byte(`{}`), "a Rotated step carrying an empty JSON object stores it"},
		{[]byte{}, "a Rotated step carrying non-nil empty Claims replaces the claims with none"},
		{[]byte(`{"role":"member"}`), "a later Rotated step carrying Claims replaces them again"},
		{nil, "a Rotated step with nil Claims keeps the claims the last one stored"},
	} {
		now := f.at(time.Duration(i+2) * time.Minute)
		a := f.advanceClaims(c, now, p.claims)
		want = after(want, a.r)
		f.sameSession(p.rule, a.res.Session, want)
		f.checkStored(p.rule, c, now, want)
	}
}

// testClaimsReplayed: a Replayed step carrying Claims writes nothing: the
// claims stay those the rotation before it stored.
func testClaimsReplayed(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	rotatedAt := f.at(time.Minute)
	a := f.advanceClaims(c, rotatedAt, []byte(`{"role": "member", "v": 2}`))
	want := after(c.sess, a.r)
	for i := range 2 {
		x := f.presentClaims(c.handle(1), c.secret(1), rotatedAt.Add(time.Duration(i+1)*time.Second), evilClaims)
		f.want("the previous secret inside the grace window is Replayed", x, store.Replayed)
		f.sameSession(fmt.Sprintf("a Replayed step carrying Claims writes nothing: it returns the session with its claims unchanged (replay %d)", i+1), x.res.Session, want)
	}
	now := rotatedAt.Add(3 * time.Second)
	f.checkStored("a Replayed step carrying Claims writes nothing: the claims are unchanged", c, now, want)
	b := f.advance(c, now, grace)
	f.sameSession("a Replayed step carrying Claims writes nothing: the next rotation keeps the claims", b.res.Session, after(want, b.r))
}

// testClaimsReused: a Reused step carrying Claims revokes the session and
// writes nothing else: the session it returns, then and on later reuse,
// keeps its claims.
func testClaimsReused(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	a := f.advance(c, f.at(time.Minute), grace)
	want := after(c.sess, a.r)
	for i, p := range []struct {
		claims []byte
		what   string
	}{
		{evilClaims, "the previous secret outside the grace window, carrying Claims"},
		{evilClaims, "a spent secret of the session revoked by that reuse, carrying Claims"},
		{nil, "a spent secret of the revoked session, without Claims"},
	} {
		x := f.presentClaims(c.handle(1), c.secret(1), f.at(time.Duration(10+i)*time.Minute), p.claims)
		f.want(p.what+" is Reused", x, store.Reused)
		f.sameSession("a Reused step writes nothing but the revocation, Claims included: "+p.what+" returns the session with its claims unchanged", x.res.Session, want)
	}
	f.want("Reused revoked the session: its current secret, carrying Claims, answers Revoked",
		f.presentClaims(c.handle(2), c.secret(2), f.at(13*time.Minute), evilClaims), store.Revoked)
}

// testClaimsRefused: Unknown, Revoked and Expired steps carrying Claims
// write nothing. Claims are checked wherever the contract lets them be
// read: a live session's by Lookup (and Session, Sessions), a revoked one's
// by Reused; an expired session's cannot be read, so only its outcome is.
func testClaimsRefused(t *testing.T, f *fixture) {
	subject := f.newSubject()
	c := f.create(subject, f.base)
	other := f.create(f.newSubject(), f.base)
	now := f.at(time.Minute)
	h, secret := c.current()
	f.want("a forged secret carrying Claims is Unknown", f.presentClaims(h, newSecret(), now, evilClaims), store.Unknown)
	f.want("a session's secret under another session's handle, carrying Claims, is Unknown", f.presentClaims(other.handle(1), secret, now, evilClaims), store.Unknown)
	f.checkStored("an Unknown step carrying Claims writes nothing: the claims are unchanged", c, now, c.sess)
	f.checkStored("an Unknown step carrying Claims writes nothing: the other session's claims are unchanged", other, now, other.sess)

	if f.has(store.RevokeSessions) {
		r := f.create(subject, f.base)
		a := f.advance(r, f.at(2*time.Minute), grace) // generation 2
		revokedAt := f.at(3 * time.Minute)
		if err := f.s.RevokeSession(f.ctx, subject, r.id(), revokedAt); err != nil {
			t.Fatalf("rule: RevokeSession ends a live session of the subject: got error %v", err)
		}
		f.want("the current secret of a revoked session, carrying Claims, is Revoked", f.presentClaims(r.handle(2), r.secret(2), revokedAt, evilClaims), store.Revoked)
		if f.has(store.ReuseDetection) {
			x := f.presentGen(r, 1, f.at(4*time.Minute), grace)
			f.want("a revoked session answers Reused to a spent secret outside the grace window", x, store.Reused)
			f.sameSession("a Revoked step carrying Claims writes nothing: Reused then returns the session with its claims unchanged", x.res.Session, after(r.sess, a.r))
		}
	}

	e := f.create(subject, f.base)
	idle := e.sess.IdleExpiresAt
	f.want("a session whose idle expiry has come is Expired, with Claims too", f.presentClaims(e.handle(1), e.secret(1), idle, evilClaims), store.Expired)
	f.want("an Expired step carrying Claims writes nothing: the same secret is Expired again", f.presentGen(e, 1, idle.Add(time.Minute), grace), store.Expired)
}
