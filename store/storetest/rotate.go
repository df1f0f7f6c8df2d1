package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

func rotateCases() []testCase {
	return []testCase{
		{name: "Rotated", run: testRotated},
		{name: "IdleExpiryCappedAtExpiresAt", run: testIdleCap},
		{name: "ReplayedWithinGrace", needs: store.ReuseDetection, run: testReplayed},
		{name: "GraceWindowEndsAtRotationPlusGrace", needs: store.ReuseDetection, run: testGraceBoundary},
		{name: "ReusedAfterGraceRevokesSession", needs: store.ReuseDetection, run: testReused},
		{name: "GraceZeroMeansReused", needs: store.ReuseDetection, run: func(t *testing.T, f *fixture) { testGraceDisabled(t, f, 0) }},
		{name: "GraceNegativeMeansReused", needs: store.ReuseDetection, run: func(t *testing.T, f *fixture) { testGraceDisabled(t, f, -time.Second) }},
		{name: "OlderSpentReusedInsideGrace", needs: store.ReuseDetection, run: testOlderSpent},
		{name: "SpentHistoryKeepsMinSpentHistory", needs: store.ReuseDetection, run: testSpentHistory},
		{name: "ForgedSecretUnknown", run: testForged},
		{name: "SecretUnderOtherGenerationUnknown", run: testWrongGeneration},
		{name: "GenerationAheadUnknown", run: testGenerationAhead},
		{name: "WrongSubjectTagUnknown", run: testWrongTag},
		{name: "NeverCreatedUnknown", run: testNeverCreated},
		{name: "ExpiredIdle", run: testExpiredIdle},
		{name: "ExpiredAbsolute", run: testExpiredAbsolute},
		{name: "ExpiredEvenForPreviousSecret", needs: store.ReuseDetection, run: testExpiredPrevious},
		{name: "RevokedByRevokeSession", needs: store.RevokeSessions, run: func(t *testing.T, f *fixture) { testRevokedBy(t, f, "RevokeSession") }},
		{name: "RevokedByRevoke", needs: store.RevokeSessions, run: func(t *testing.T, f *fixture) { testRevokedBy(t, f, "Revoke") }},
		{name: "RevokedByRevokeAll", needs: store.RevokeSessions | store.Versions, run: func(t *testing.T, f *fixture) { testRevokedBy(t, f, "RevokeAll") }},
		{name: "ClaimsReplacedWhenRotated", run: testClaimsRotated},
		{name: "ClaimsKeptWhenReplayed", needs: store.ReuseDetection, run: testClaimsReplayed},
		{name: "ClaimsKeptWhenReused", needs: store.ReuseDetection, run: testClaimsReused},
		{name: "ClaimsKeptWhenUnknownExpiredOrRevoked", run: testClaimsRefused},
	}
}

// testRotated: the current secret rotates (rule 4), and the successor
// rotates in turn.
func testRotated(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	now := f.at(30 * time.Minute)
	a := f.advance(c, now, grace)
	want := after(c.sess, a.r)
	f.sameSession("Rotated returns the session after the step: generation+1, LastUsedAt = now, IdleExpiresAt = the requested one, the rest unchanged", a.res.Session, want)
	if a.res.Version != 0 {
		t.Errorf("rule: Rotated carries the subject's token version (0, never bumped): got %d", a.res.Version)
	}
	if f.has(store.ListSessions) {
		s, err := f.s.Session(f.ctx, c.subject(), c.id(), now)
		if err != nil {
			t.Fatalf("rule: a rotated session is live: Session: %v", err)
		}
		f.sameSession("Rotated is stored: Session reads the rotated session", s, want)
	}

	// Past the first idle expiry (base+1h) but before the slid one: the
	// successor rotates, so the idle expiry did slide.
	now = f.at(80 * time.Minute)
	b := f.advance(c, now, grace)
	f.sameSession("the successor rotates in turn: generation 3, LastUsedAt and IdleExpiresAt moved", b.res.Session, after(want, b.r))
}

// testIdleCap: the new idle expiry is capped at the absolute ExpiresAt.
func testIdleCap(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	now := f.at(30 * time.Minute)
	a := f.advanceIdle(c, now, grace, f.at(48*time.Hour))
	if !sameTime(a.res.Session.IdleExpiresAt, c.sess.ExpiresAt) {
		t.Errorf("rule: Rotate caps the new idle expiry at the session's ExpiresAt: got %s, want %s",
			fmtTime(a.res.Session.IdleExpiresAt), fmtTime(c.sess.ExpiresAt))
	}
	if f.has(store.ListSessions) {
		s, err := f.s.Session(f.ctx, c.subject(), c.id(), now)
		if err != nil {
			t.Fatalf("rule: a rotated session is live: Session: %v", err)
		}
		if !sameTime(s.IdleExpiresAt, c.sess.ExpiresAt) {
			t.Errorf("rule: Rotate stores the idle expiry capped at ExpiresAt: Session reads %s, want %s",
				fmtTime(s.IdleExpiresAt), fmtTime(c.sess.ExpiresAt))
		}
	}
	// The slid (capped) expiry counts: 23 hours on, the session rotates...
	f.advanceIdle(c, f.at(23*time.Hour), grace, f.at(71*time.Hour))
	// ...and at ExpiresAt it is over.
	x := f.presentGen(c, c.gen(), c.sess.ExpiresAt, grace)
	f.want("a session whose absolute ExpiresAt has come is Expired", x, store.Expired)
}

// testReplayed: the immediately previous secret within the grace window
// gets the sealed successor of the rotation that spent it, and the handle of
// the current generation; nothing is written (rule 5).
func testReplayed(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	f.advance(c, f.at(10*time.Minute), grace)
	t2 := f.at(20 * time.Minute)
	a2 := f.advance(c, t2, grace) // generation 3; generation 2 is now the previous one
	current := a2.res.Session
	curInfo, err := f.parse(c.handle(3))
	if err != nil {
		t.Fatalf("rule: ParseHandle decodes every handle the store returned: %v", err)
	}

	replayAt := t2.Add(grace - ms)
	var replayed []attempt
	for i := range 2 {
		r := f.presentGen(c, 2, replayAt, grace)
		f.want(fmt.Sprintf("the previous secret within the grace window is Replayed (attempt %d)", i+1), r, store.Replayed)
		replayed = append(replayed, r)
		if !bytes.Equal(r.res.Sealed, a2.r.Sealed) {
			t.Errorf("rule: Replayed hands back the Sealed bytes stored by the rotation that spent the presented secret (attempt %d): got %d bytes that differ", i+1, len(r.res.Sealed))
		}
		if bytes.Equal(r.res.Sealed, c.sealed[1]) {
			t.Errorf("rule: Replayed hands back the successor of the latest rotation, not of an earlier one (attempt %d)", i+1)
		}
		f.checkHandle("the handle Replayed returned", r.res.Handle, c.sess, 3)
		if info, err := f.parse(r.res.Handle); err == nil && info != curInfo {
			t.Errorf("rule: Replayed returns the handle of the current generation: got %+v, want %+v", info, curInfo)
		}
		f.sameSession("Replayed returns the session as it is (unchanged by the replay)", r.res.Session, current)
		if r.res.Version != 0 {
			t.Errorf("rule: Replayed carries the subject's token version (0, never bumped): got %d", r.res.Version)
		}
	}
	if f.has(store.ListSessions) {
		s, err := f.s.Session(f.ctx, c.subject(), c.id(), replayAt)
		if err != nil {
			t.Fatalf("rule: Replayed writes nothing: Session: %v", err)
		}
		f.sameSession("Replayed writes nothing: generation, LastUsedAt and IdleExpiresAt are those of the last rotation", s, current)
	}
	// Nothing was written: the current secret still rotates, under the
	// handle the replay returned.
	r, next := rotation(replayed[0].res.Handle, c.secret(3), replayAt, grace)
	a := f.do(r, next)
	f.want("Replayed writes nothing: the current secret, under the handle Replayed returned, still rotates", a, store.Rotated)
	f.sameSession("Replayed writes nothing: the next rotation starts from the last one", a.res.Session, after(current, r))
}

// testGraceBoundary: the window is [rotation time, rotation time + Grace).
func testGraceBoundary(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	f.advance(c, f.at(10*time.Minute), grace)
	rotatedAt := f.at(30 * time.Minute)
	f.advance(c, rotatedAt, grace) // the window is measured from this rotation
	r := f.presentGen(c, 2, rotatedAt.Add(grace-ms), grace)
	f.want("the previous secret 1ms before rotation time + Grace is Replayed", r, store.Replayed)
	x := f.presentGen(c, 2, rotatedAt.Add(grace), grace)
	f.want("the previous secret at rotation time + Grace is Reused (the window is Now before rotation time + Grace)", x, store.Reused)
	y := f.presentGen(c, 3, rotatedAt.Add(grace), grace)
	f.want("Reused revokes the session in the same step: its current secret answers Revoked", y, store.Revoked)
}

// testReused: the previous secret outside the window is reuse and revokes
// the session in the same step (rule 6).
func testReused(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	f.advance(c, f.at(10*time.Minute), grace)
	now := f.at(40 * time.Minute)
	x := f.presentGen(c, 1, now, grace)
	f.want("the previous secret outside the grace window is Reused", x, store.Reused)
	if x.res.Session.ID != c.id() || x.res.Session.Subject != c.subject() {
		t.Errorf("rule: Reused returns the session it revoked: got session %q of %q", x.res.Session.ID, x.res.Session.Subject)
	}
	y := f.presentGen(c, 2, now, grace)
	f.want("Reused revokes the session in the same step: its current secret answers Revoked", y, store.Revoked)
	z := f.presentGen(c, 1, now.Add(time.Minute), grace)
	f.want("a revoked session answers Reused to a spent secret outside the grace window (rule 3)", z, store.Reused)
	if z.res.Session.ID != c.id() {
		t.Errorf("rule: Reused returns the session: got session %q", z.res.Session.ID)
	}
	f.want("Reused on a session revoked already writes nothing more: its current secret still answers Revoked",
		f.presentGen(c, 2, now.Add(time.Minute), grace), store.Revoked)
	f.checkGone("a session revoked for reuse is not live", c, now.Add(time.Minute))
}

// testGraceDisabled: with Grace zero or negative there is no window.
func testGraceDisabled(t *testing.T, f *fixture, g time.Duration) {
	c := f.create(f.newSubject(), f.base)
	now := f.at(time.Minute)
	f.advance(c, now, g)
	x := f.presentGen(c, 1, now, g)
	f.want(fmt.Sprintf("with Grace %v (disabled) the previous secret is Reused at once", g), x, store.Reused)
	y := f.presentGen(c, 2, now, g)
	f.want("Reused revokes the session in the same step: its current secret answers Revoked", y, store.Revoked)
}

// testOlderSpent: a secret two generations back is reuse even within the
// grace window of the latest rotations.
func testOlderSpent(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	now := f.at(time.Minute)
	f.advance(c, now, grace)
	f.advance(c, now, grace)
	x := f.presentGen(c, 1, now, grace)
	f.want("a spent secret two generations back is Reused even inside the grace window", x, store.Reused)
	y := f.presentGen(c, 3, now, grace)
	f.want("Reused revokes the session in the same step: its current secret answers Revoked", y, store.Revoked)
}

// testSpentHistory: the secret MinSpentHistory generations back is still
// recognised as reuse.
func testSpentHistory(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	for i := range store.MinSpentHistory + 1 {
		f.advance(c, f.at(time.Duration(i+1)*time.Minute), grace)
	}
	g := c.gen() - store.MinSpentHistory
	x := f.presentGen(c, g, f.at(time.Hour), grace)
	f.want(fmt.Sprintf("a store keeps at least MinSpentHistory (%d) spent hashes: the secret of generation %d (current %d) is Reused", store.MinSpentHistory, g, c.gen()), x, store.Reused)
	y := f.presentGen(c, c.gen(), f.at(time.Hour), grace)
	f.want("Reused revokes the session in the same step: its current secret answers Revoked", y, store.Revoked)
}

// testForged: a secret never issued, under a real handle of any
// generation, is Unknown and changes nothing (rule 2).
func testForged(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	now := f.at(time.Minute)
	f.advance(c, now, grace)
	f.advance(c, now, grace) // generation 3: 3 current, 2 previous, 1 spent
	for _, p := range []struct {
		g     uint64
		grace time.Duration
		what  string
	}{
		{3, grace, "the current handle"},
		{2, grace, "the previous handle, inside the grace window"},
		{2, 0, "the previous handle, grace disabled"},
		{1, grace, "a spent handle"},
	} {
		a := f.present(c.handle(p.g), newSecret(), now, p.grace)
		if a.res.Outcome != store.Unknown {
			t.Errorf("rule: a forged secret naming a real session is Unknown and changes nothing: under %s got %v", p.what, a.res.Outcome)
		}
	}
	f.checkAlive("a forged secret changes nothing: the session is still live", c, now)
	a := f.advance(c, now, grace)
	if a.res.Session.Generation != 4 {
		t.Errorf("rule: a forged secret changes nothing: the next rotation gives generation %d, want 4", a.res.Session.Generation)
	}
}

// testWrongGeneration: a real secret under a handle naming another
// generation is Unknown: the handle's generation selects the one expected
// hash (rule 2).
func testWrongGeneration(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	now := f.at(time.Minute)
	f.advance(c, now, grace)
	f.advance(c, now, grace) // generation 3
	for _, p := range []struct{ handleGen, secretGen uint64 }{
		{2, 3}, {1, 3}, // current secret under older handles
		{3, 2}, {3, 1}, // older secrets under the current handle
		{1, 2}, {2, 1}, // previous and spent swapped
	} {
		a := f.present(c.handle(p.handleGen), c.secret(p.secretGen), now, grace)
		if a.res.Outcome != store.Unknown {
			t.Errorf("rule: the presented secret must equal the hash selected by the handle's generation, else Unknown: secret of generation %d under the handle of generation %d (current 3) got %v",
				p.secretGen, p.handleGen, a.res.Outcome)
		}
	}
	f.checkAlive("a secret under the wrong handle changes nothing: the session is still live", c, now)
	f.advance(c, now, grace)
}

// testGenerationAhead: a handle naming a generation the session has not
// reached selects no hash: Unknown. Only for store.FormatHandle handles.
func testGenerationAhead(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	info := f.formatHandles(c)
	now := f.at(time.Minute)
	info.Generation = 2
	ahead := store.FormatHandle(info)
	for _, secret := range [][32]byte{c.secret(1), newSecret()} {
		a := f.present(ahead, secret, now, grace)
		if a.res.Outcome != store.Unknown {
			t.Errorf("rule: a handle naming a generation the session has not reached is Unknown: got %v", a.res.Outcome)
		}
	}
	f.checkAlive("a handle from the future changes nothing", c, now)
	f.advance(c, now, grace)
}

// formatHandles returns the parsed first handle of c, skipping the case
// when the store does not use store.FormatHandle handles (the suite can
// then not write handles of its own).
func (f *fixture) formatHandles(c *chain) store.HandleInfo {
	f.t.Helper()
	info, err := f.parse(c.handle(1))
	if err != nil {
		f.t.Fatalf("rule: ParseHandle decodes every handle the store returned: %v", err)
	}
	if info.Tag == "" || store.FormatHandle(info) != c.handle(1) {
		f.t.Skipf("the store's handles are not store.FormatHandle handles, so the suite cannot name a session or generation of its own (the ParseHandle cases cover opaque handles)")
	}
	return info
}

// testWrongTag: a handle whose subject tag is not the session's subject's
// is Unknown (rule 1), even with the session's real secret.
func testWrongTag(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	other := f.create(f.newSubject(), f.base)
	h, secret := c.current()
	info, err := f.parse(h)
	if err != nil {
		t.Fatalf("rule: ParseHandle decodes every handle the store returned: %v", err)
	}
	if info.Tag == "" {
		t.Skipf("the store's handles carry no subject tag (HandleInfo.Tag is empty)")
	}
	if strings.Count(h, info.Tag) != 1 {
		t.Skipf("the store's handles do not carry their subject tag verbatim, so the suite cannot swap it")
	}
	forged := strings.Replace(h, info.Tag, store.SubjectTag(other.subject()), 1)
	now := f.at(time.Minute)
	a := f.present(forged, secret, now, grace)
	if a.res.Outcome != store.Unknown {
		t.Errorf("rule: a handle whose subject tag does not match the session's subject is Unknown, even with the real secret: got %v", a.res.Outcome)
	}
	f.notFound("Lookup with a handle whose subject tag does not match the session's subject fails with ErrNotFound, even with the real secret", forged, secret, now)
	if f.has(store.RevokeSessions) {
		if _, err := f.s.Revoke(f.ctx, forged, hashOf(secret), now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("rule: Revoke with a handle whose subject tag does not match fails with ErrNotFound: got %v", err)
		}
	}
	f.checkAlive("a wrong-tag handle changes nothing", c, now)
	f.advance(c, now, grace)
	f.advance(other, now, grace)
}

// testNeverCreated: a well-formed handle naming a session that was never
// created is Unknown.
func testNeverCreated(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	info := f.formatHandles(c)
	info.SessionID = randomID()
	h := store.FormatHandle(info)
	now := f.at(time.Minute)
	for _, secret := range [][32]byte{newSecret(), c.secret(1)} {
		a := f.present(h, secret, now, grace)
		if a.res.Outcome != store.Unknown {
			t.Errorf("rule: a handle naming a session that was never created is Unknown: got %v", a.res.Outcome)
		}
	}
	f.advance(c, now, grace)
}

// testExpiredIdle: at its idle expiry a session is Expired; nothing is
// written; it is remembered until its absolute expiry.
func testExpiredIdle(t *testing.T, f *fixture) {
	subject := f.newSubject()
	live := f.create(subject, f.base)
	dead := f.create(subject, f.base)
	idle := dead.sess.IdleExpiresAt

	f.advance(live, idle.Add(-ms), grace) // Live is now.Before(IdleExpiresAt)

	x := f.presentGen(dead, 1, idle, grace)
	f.want("a session whose idle expiry has come (now == IdleExpiresAt) is Expired", x, store.Expired)
	y := f.present(dead.handle(1), newSecret(), idle, grace)
	f.want("a forged secret on an expired session is Unknown (rule 2 comes before rule 3)", y, store.Unknown)
	f.checkGone("an expired session is not live", dead, idle)
	z := f.presentGen(dead, 1, idle.Add(time.Minute), grace)
	f.want("Expired writes nothing: the same secret is Expired again", z, store.Expired)
	w := f.presentGen(dead, 1, f.at(23*time.Hour), grace)
	f.want("an expired session is remembered (Expired, not Unknown) until its absolute ExpiresAt", w, store.Expired)
}

// testExpiredAbsolute: rotations keep a session alive until its absolute
// expiry, then it is Expired.
func testExpiredAbsolute(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base, idle8h)
	for _, h := range []time.Duration{7, 14, 21} {
		now := f.at(h * time.Hour)
		f.advanceIdle(c, now, grace, now.Add(8*time.Hour))
	}
	end := c.sess.ExpiresAt
	x := f.presentGen(c, c.gen(), end, grace)
	f.want("a session whose absolute ExpiresAt has come is Expired, however recently it rotated", x, store.Expired)
	y := f.presentGen(c, c.gen(), end, grace)
	f.want("Expired writes nothing: the same secret is Expired again", y, store.Expired)
	f.checkGone("a session past its absolute expiry is not live", c, end)
}

// testExpiredPrevious: an expired session answers Expired to its previous
// secret too, and is not revoked by it.
func testExpiredPrevious(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	f.advance(c, f.at(10*time.Minute), grace)
	idle := f.at(10*time.Minute + idleTTL)
	x := f.presentGen(c, 1, idle, grace)
	f.want("an expired session answers Expired to its previous secret (rule 3 comes before rule 6)", x, store.Expired)
	y := f.presentGen(c, 2, idle, grace)
	f.want("Expired writes nothing: the current secret is Expired, not Revoked", y, store.Expired)
}

// testRevokedBy: after RevokeSession, Revoke or RevokeAll the session
// answers Revoked to its current secret (and to the previous one inside the
// grace window), Reused to spent secrets outside it, Unknown to forged ones;
// it writes nothing and is remembered until its absolute expiry (rule 3).
func testRevokedBy(t *testing.T, f *fixture, how string) {
	c := f.create(f.newSubject(), f.base)
	f.advance(c, f.at(time.Minute), grace)
	rotatedAt := f.at(2 * time.Minute)
	f.advance(c, rotatedAt, grace)    // generation 3: 3 current, 2 previous, 1 spent
	now := rotatedAt.Add(time.Second) // inside the grace window
	switch how {
	case "RevokeSession":
		if err := f.s.RevokeSession(f.ctx, c.subject(), c.id(), now); err != nil {
			t.Fatalf("rule: RevokeSession ends a live session of the subject: got error %v", err)
		}
	case "Revoke":
		h, s := c.current()
		if _, err := f.s.Revoke(f.ctx, h, hashOf(s), now); err != nil {
			t.Fatalf("rule: Revoke with the current secret ends the session: got error %v", err)
		}
	case "RevokeAll":
		if _, err := f.s.RevokeAll(f.ctx, c.subject(), now); err != nil {
			t.Fatalf("rule: RevokeAll ends every session of the subject: got error %v", err)
		}
	}
	rule := "a session ended by " + how + " answers Revoked to its current secret"
	f.want(rule, f.presentGen(c, 3, now, grace), store.Revoked)
	f.want("Revoked writes nothing: "+rule+" again", f.presentGen(c, 3, now, grace), store.Revoked)
	f.want("a forged secret on a revoked session is Unknown (rule 2 comes before rule 3)", f.present(c.handle(3), newSecret(), now, grace), store.Unknown)
	if f.has(store.ReuseDetection) {
		f.want("a revoked session answers Revoked to its previous secret inside the grace window, never Replayed", f.presentGen(c, 2, now, grace), store.Revoked)
		f.want("a revoked session answers Reused to a spent secret two generations back, even inside the grace window", f.presentGen(c, 1, now, grace), store.Reused)
		f.want("a revoked session answers Reused to its previous secret outside the grace window", f.presentGen(c, 2, rotatedAt.Add(grace), grace), store.Reused)
		f.want("Reused on a session revoked already writes nothing more: "+rule+" still", f.presentGen(c, 3, rotatedAt.Add(grace), grace), store.Revoked)
	}
	f.checkGone("a session ended by "+how+" is not live", c, rotatedAt.Add(grace))
	later := f.at(23 * time.Hour) // idle expiry long past: revocation is decided first (rule 3)
	f.want("a revoked session is remembered (Revoked, not Unknown or Expired) until its absolute ExpiresAt", f.presentGen(c, 3, later, grace), store.Revoked)
	if f.has(store.ReuseDetection) {
		f.want("a revoked session is remembered until its absolute ExpiresAt: a spent secret is Reused, not Unknown or Expired", f.presentGen(c, 2, later, grace), store.Reused)
	}
}
