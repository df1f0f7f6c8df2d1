package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// Lookup needs no capability: every store proves a session by its handle and
// secret. Its expiry is checked by Expiry/SessionReadsEndAtExpiry, a dead
// context by the Context cases, garbage and tampered handles by the
// ParseHandle cases too, and checkAlive and checkGone look sessions up.
func lookupCases() []testCase {
	return []testCase{
		{name: "CurrentSecretReturnsSession", run: testLookupCurrent},
		{name: "EarlierSecretsProveOwnership", needs: store.ReuseDetection, run: testLookupEarlier},
		{name: "ForgedSecretNotFound", run: testLookupForged},
		{name: "SecretUnderOtherGenerationNotFound", run: testLookupWrongGeneration},
		{name: "ForeignHandleNotFound", run: testLookupForeign},
		{name: "RevokedNotFound", anyOf: store.RevokeSessions | store.ReuseDetection, run: testLookupRevoked},
		{name: "WritesNothing", run: testLookupWritesNothing},
	}
}

// testLookupCurrent: the current secret under its handle returns the session
// as stored, verbatim, at the first generation and after a rotation.
func testLookupCurrent(t *testing.T, f *fixture) {
	subject := f.newSubject()
	user := f.create(subject, f.base)
	client := f.create(subject, f.at(time.Second), func(s *store.Session) {
		s.ClientID = "client-" + randomID()
		s.Claims = nil
		s.Scope = ""
		s.Device = store.Device{}
	})
	now := f.at(time.Minute)
	for _, c := range []*chain{user, client} {
		h, secret := c.current()
		got := f.found("Lookup with the current secret under its handle returns the live session", h, secret, now)
		f.sameSession("Lookup returns the session as created (claims verbatim, scope, client id, device, times, generation 1)", got, c.sess)
	}

	a := f.advance(user, f.at(2*time.Minute), grace)
	h, secret := user.current()
	got := f.found("Lookup with the successor's secret under the handle Rotated returned returns the live session", h, secret, f.at(3*time.Minute))
	f.sameSession("Lookup returns the session as the last rotation left it", got, after(user.sess, a.r))
}

// testLookupEarlier: the previous secret and spent ones, down to
// MinSpentHistory generations back, each under its own handle, prove
// ownership: Lookup returns the session as it is now, inside the grace
// window or not. That is not reuse: nothing is revoked or spent.
func testLookupEarlier(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	want := c.sess
	for i := range store.MinSpentHistory + 1 {
		a := f.advance(c, f.at(time.Duration(i+1)*time.Minute), grace)
		want = after(want, a.r)
	}
	last := f.at(time.Duration(store.MinSpentHistory+1) * time.Minute) // the latest rotation
	later := last.Add(10 * time.Minute)                                // outside its grace window
	G := c.gen()
	for _, p := range []struct {
		g    uint64
		now  time.Time
		what string
	}{
		{G - 1, last.Add(grace - ms), "the previous secret, inside the grace window"},
		{G - 1, later, "the previous secret, outside the grace window"},
		{G - 2, later, "a spent secret two generations back"},
		{G - store.MinSpentHistory, later, fmt.Sprintf("the spent secret MinSpentHistory (%d) generations back", store.MinSpentHistory)},
	} {
		got := f.found(fmt.Sprintf("%s (generation %d, current %d), under its own handle, proves the session", p.what, p.g, G), c.handle(p.g), c.secret(p.g), p.now)
		f.sameSession(fmt.Sprintf("Lookup with %s returns the session as it is now", p.what), got, want)
	}
	f.checkAlive("Lookup with an earlier secret is not reuse: the session is still live", c, later)
	a := f.advance(c, later, grace)
	f.sameSession("Lookup with an earlier secret writes nothing: the current secret still rotates from the session as it was", a.res.Session, after(want, a.r))
}

// testLookupForged: a secret never issued (or the zero hash) under a real
// handle of any generation gives ErrNotFound and changes nothing.
func testLookupForged(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	now := f.at(time.Minute)
	f.advance(c, now, grace)
	f.advance(c, now, grace) // generation 3: 3 current, 2 previous, 1 spent
	for g := uint64(1); g <= c.gen(); g++ {
		f.notFound(fmt.Sprintf("a secret never issued for the session proves nothing (handle of generation %d, current %d)", g, c.gen()), c.handle(g), newSecret(), now)
		f.notFoundHash(fmt.Sprintf("the zero hash proves nothing (handle of generation %d, current %d)", g, c.gen()), c.handle(g), [32]byte{}, now)
		f.notFoundHash(fmt.Sprintf("the secret itself, unhashed, proves nothing (handle of generation %d, current %d)", g, c.gen()), c.handle(g), c.secret(g), now)
	}
	f.checkAlive("a forged secret changes nothing: the session is still live", c, now)
	f.advance(c, now, grace)
}

// testLookupWrongGeneration: a real secret under a handle naming another
// generation proves nothing: the handle's generation selects the one
// expected hash (Rotate's step 2).
func testLookupWrongGeneration(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	now := f.at(time.Minute)
	f.advance(c, now, grace)
	f.advance(c, now, grace) // generation 3
	for _, p := range []struct{ handleGen, secretGen uint64 }{
		{2, 3}, {1, 3}, // current secret under older handles
		{3, 2}, {3, 1}, // older secrets under the current handle
		{1, 2}, {2, 1}, // previous and spent swapped
	} {
		f.notFound(fmt.Sprintf("the presented secret must equal the hash selected by the handle's generation, else ErrNotFound: secret of generation %d under the handle of generation %d (current 3)", p.secretGen, p.handleGen),
			c.handle(p.handleGen), c.secret(p.secretGen), now)
	}
	f.checkAlive("a secret under the wrong handle changes nothing: the session is still live", c, now)
	f.advance(c, now, grace)
}

// testLookupForeign: handles the store did not produce, and a session's
// real secret under the handle of another session (of the same subject or
// another one, or made up), give ErrNotFound without panicking.
func testLookupForeign(t *testing.T, f *fixture) {
	subject := f.newSubject()
	c := f.create(subject, f.base)
	sibling := f.create(subject, f.base)
	other := f.create(f.newSubject(), f.base)
	now := f.at(time.Minute)
	h, secret := c.current()
	for _, in := range garbageHandles(h) {
		f.notFound("Lookup with a handle the store did not produce ("+in.name+") fails with ErrNotFound", in.h, secret, now)
	}
	f.notFound("a session's secret under the handle of another session of the same subject proves nothing", sibling.handle(1), secret, now)
	f.notFound("a session's secret under the handle of another subject's session proves nothing", other.handle(1), secret, now)
	f.notFound("another session's secret under this session's handle proves nothing", h, sibling.secret(1), now)

	// With store.FormatHandle handles the suite can name sessions itself.
	if info, err := f.parse(h); err == nil && info.Tag != "" && store.FormatHandle(info) == h {
		wrongTag, never, ahead := info, info, info
		wrongTag.Tag = store.SubjectTag(other.subject())
		never.SessionID = randomID()
		ahead.Generation = 2
		f.notFound("a handle whose subject tag does not match the session's subject proves nothing, even with the real secret", store.FormatHandle(wrongTag), secret, now)
		f.notFound("a handle naming a session never created proves nothing", store.FormatHandle(never), secret, now)
		f.notFound("a handle naming a generation the session has not reached proves nothing", store.FormatHandle(ahead), secret, now)
	}
	for _, x := range []*chain{c, sibling, other} {
		f.checkAlive("foreign handles change nothing", x, now)
		f.advance(x, now, grace)
	}
}

// testLookupRevoked: a session ended by RevokeSession, Revoke, RevokeAll or
// reuse is not found by Lookup, whichever of its secrets is presented.
func testLookupRevoked(t *testing.T, f *fixture) {
	for i, how := range []struct {
		name  string
		needs store.Capabilities
	}{
		{"RevokeSession", store.RevokeSessions},
		{"Revoke", store.RevokeSessions},
		{"RevokeAll", store.RevokeSessions | store.Versions},
		{"Reused", store.ReuseDetection},
	} {
		t.Run(how.name, func(t *testing.T) {
			if missing := how.needs &^ f.caps; missing != 0 {
				t.Skipf("store lacks %s", capPhrase(missing))
			}
			g := f.with(t)
			g.base = f.base.Add(time.Duration(i) * 10 * time.Minute) // now only moves forward
			c := g.create(g.newSubject(), g.base)
			g.advance(c, g.at(time.Minute), grace)
			g.advance(c, g.at(2*time.Minute), grace) // generation 3: 3 current, 2 previous, 1 spent
			now := g.at(3 * time.Minute)
			h, secret := c.current()
			g.found("Lookup with the current secret returns the live session", h, secret, now)
			switch how.name {
			case "RevokeSession":
				if err := g.s.RevokeSession(g.ctx, c.subject(), c.id(), now); err != nil {
					t.Fatalf("rule: RevokeSession ends a live session of the subject: got error %v", err)
				}
			case "Revoke":
				if _, err := g.s.Revoke(g.ctx, h, hashOf(secret), now); err != nil {
					t.Fatalf("rule: Revoke with the current secret ends the session: got error %v", err)
				}
			case "RevokeAll":
				if _, err := g.s.RevokeAll(g.ctx, c.subject(), now); err != nil {
					t.Fatalf("rule: RevokeAll ends every session of the subject: got error %v", err)
				}
			case "Reused":
				g.want("a spent secret two generations back is Reused", g.presentGen(c, 1, now, grace), store.Reused)
			}
			for gen := c.gen(); gen >= 1; gen-- {
				g.notFound(fmt.Sprintf("Lookup of a session ended by %s fails with ErrNotFound (secret of generation %d, current %d)", how.name, gen, c.gen()),
					c.handle(gen), c.secret(gen), now)
			}
		})
	}
}

// testLookupWritesNothing: Lookup leaves LastUsedAt, the idle expiry and
// the generation as they were: the session reads back unchanged, its
// current secret still rotates, and its idle expiry does not slide.
func testLookupWritesNothing(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	d := f.create(f.newSubject(), f.base)
	h, secret := c.current()
	for i, at := range []time.Duration{10 * time.Minute, 30 * time.Minute} {
		got := f.found("Lookup with the current secret returns the live session", h, secret, f.at(at))
		f.sameSession(fmt.Sprintf("Lookup writes nothing: lookup %d returns the session as created (LastUsedAt, IdleExpiresAt, Generation unchanged)", i+1), got, c.sess)
	}
	if f.has(store.ListSessions) {
		got, err := FindSession(f.ctx, f.s, c.subject(), c.id(), f.at(30*time.Minute))
		if err != nil {
			t.Fatalf("rule: Session reads a live session of the subject: got error %v", err)
		}
		f.sameSession("Lookup writes nothing: Session reads the session as created", got, c.sess)
	}
	rotatedAt := f.at(40 * time.Minute)
	a := f.advance(c, rotatedAt, grace)
	f.sameSession("Lookup writes nothing: the current secret still rotates, from generation 1", a.res.Session, after(c.sess, a.r))
	if f.has(store.ReuseDetection) {
		f.found("the previous secret proves the session", c.handle(1), c.secret(1), rotatedAt.Add(time.Second))
		f.want("Lookup with the previous secret writes nothing: presented inside the grace window it is still Replayed",
			f.presentGen(c, 1, rotatedAt.Add(2*time.Second), grace), store.Replayed)
	}

	// d was looked up late in its idle lifetime: its idle expiry did not
	// slide.
	dh, ds := d.current()
	idle := d.sess.IdleExpiresAt
	f.found("Lookup with the current secret returns the live session", dh, ds, idle.Add(-time.Minute))
	f.notFound("Lookup writes nothing: it does not slide the idle expiry, so the session is not found at its original IdleExpiresAt", dh, ds, idle)
	f.want("Lookup writes nothing: the session is Expired at its original IdleExpiresAt", f.presentGen(d, 1, idle, grace), store.Expired)
}
