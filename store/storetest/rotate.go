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
		s, err := FindSession(f.ctx, f.s, c.subject(), c.id(), now)
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
		s, err := FindSession(f.ctx, f.s, c.subject(), c.id(), now)
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
		s, err := FindSession(f.ctx, f.s, c.subject(), c.id(), replayAt)
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
// reached selects no hash: Unknown, whatever the secret, and nothing changes
// (rule 2). With store.FormatHandle handles the suite writes such a handle
// itself. With any handles it takes them from a twin: the same session,
// with the same first secret, created in a second store from newStore and
// rotated there twice, so that its handles name generations 2 and 3 of a
// session this store holds at generation 1 (when the two stores share a
// backend there is no twin, see second). Last, the same rule seen from the
// secret's side, which needs no second store: a handle one generation ahead
// of the presented secret (the successor's handle with the secret it
// replaced) selects another hash, inside the grace window, outside it and
// with grace disabled, and so does the replaced handle with the successor's
// secret.
func testGenerationAhead(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	now := f.at(time.Minute)
	if info, ok := f.formatHandle(c); ok {
		info.Generation = 2
		ahead := store.FormatHandle(info)
		for _, secret := range [][32]byte{c.secret(1), newSecret()} {
			a := f.present(ahead, secret, now, grace)
			if a.res.Outcome != store.Unknown {
				t.Errorf("rule: a handle naming a generation the session has not reached is Unknown: got %v", a.res.Outcome)
			}
		}
		f.checkAlive("a handle from the future changes nothing", c, now)
	}

	if o, ok := f.second(now); ok {
		twin := o.createWith(c.sess, c.secret(1))
		o.advance(twin, now, grace)
		o.advance(twin, now, grace) // the twin is at generation 3, c at 1
		for _, p := range []struct {
			handleGen uint64
			secret    [32]byte
			what      string
		}{
			{2, c.secret(1), "the session's current secret"},
			{2, twin.secret(2), "the secret the twin got for that generation"},
			{3, c.secret(1), "the session's current secret"},
			{3, twin.secret(3), "the secret the twin got for that generation"},
			{3, twin.secret(2), "the secret the twin got for generation 2"},
		} {
			f.refuseHandle(fmt.Sprintf("a handle naming generation %d of a session at generation 1 (made by a twin of the session in a second store), with %s,", p.handleGen, p.what),
				twin.handle(p.handleGen), p.secret, now)
		}
		f.checkAlive("a handle from the future changes nothing", c, now)
	}

	f.advance(c, now, grace) // generation 2: 2 current, 1 previous
	for _, p := range []struct {
		at    time.Time
		grace time.Duration
		what  string
	}{
		{now, grace, "inside the grace window"},
		{now, 0, "grace disabled"},
		{now.Add(grace), grace, "outside the grace window"},
	} {
		f.refuseHandle("the handle of generation 2 (current) and the secret of generation 1 (previous), "+p.what+",", c.handle(2), c.secret(1), p.at)
	}
	f.refuseHandle("the handle of generation 1 (previous) and the secret of generation 2 (current),", c.handle(1), c.secret(2), now)
	later := now.Add(grace)
	f.checkAlive("a handle ahead of its secret changes nothing", c, later)
	a := f.advance(c, later, grace)
	if a.res.Session.Generation != 3 {
		t.Errorf("rule: a handle ahead of its secret changes nothing: the next rotation gives generation %d, want 3", a.res.Session.Generation)
	}
}

// formatHandle returns the parsed first handle of c and true when the store
// uses store.FormatHandle handles, so that the suite can name a session or
// generation of its own; false otherwise (opaque handles, such as sealed
// ones, which the cases check without writing handles).
func (f *fixture) formatHandle(c *chain) (store.HandleInfo, bool) {
	f.t.Helper()
	info, err := f.parse(c.handle(1))
	if err != nil {
		f.t.Fatalf("rule: ParseHandle decodes every handle the store returned: %v", err)
	}
	return info, info.Tag != "" && store.FormatHandle(info) == c.handle(1)
}

// second makes a second store with newStore, creates a session d in it, and
// presents d's handle with d's real secret to this store at now. A store
// answers Unknown to a handle it never issued, whatever secret comes with
// it, and writes nothing: so Rotate must answer Unknown (again, and with a
// forged secret), Lookup and Revoke ErrNotFound, and d must not count in
// this store by any means it offers (Session, Sessions, CheckAccess). Then
// second returns the second store's fixture and true.
//
// Only when the two stores share their backend (newStore returned the same
// store, or one over the same server and key space, or under the same key
// ring) did this store issue d's handle after all. It must then rotate d
// like its own session, and the second store must see that rotation;
// second logs that the stores share, and returns false: the checks with a
// handle the store never issued do not apply.
func (f *fixture) second(now time.Time) (*fixture, bool) {
	f.t.Helper()
	s := f.newStore(f.t)
	if s == nil {
		f.t.Fatal("storetest: newStore returned a nil store")
	}
	o := &fixture{t: f.t, s: s, caps: s.Capabilities(), ctx: f.ctx, base: f.base, newStore: f.newStore}
	d := o.create(f.newSubject(), f.base)
	h, secret := d.current()
	a := f.present(h, secret, now, grace)
	switch a.res.Outcome {
	case store.Unknown:
		f.refuseHandle("a handle another store issued (a second store from newStore), with its real secret,", h, secret, now)
		f.refuseHandle("a handle another store issued, with a forged secret,", h, newSecret(), now)
		f.checkGone("a session created in another store does not count in this one", d, now)
		return o, true
	case store.Rotated:
		const rule = "a handle another store (a second store from newStore) issued is Unknown, unless the two share their backend"
		f.sameSession(rule+": got Rotated, so the rotated session must be the one the second store created", a.res.Session, after(d.sess, a.r))
		got, err := o.lookup(a.res.Handle, hashOf(a.next), now)
		if err != nil || got.ID != d.id() || got.Generation != 2 {
			f.t.Errorf("rule: %s: got Rotated, but the second store does not see that rotation (Lookup of the successor there: session %q generation %d, error %v)", rule, got.ID, got.Generation, err)
			return o, false
		}
		f.t.Logf("storetest: the stores newStore returns share their backend (a session created in the second rotated in the first, and the second saw it): the checks with a handle the store never issued do not apply")
		return o, false
	default:
		f.t.Errorf("rule: a handle another store (a second store from newStore) issued is Unknown, with its real secret: got %v", a.res.Outcome)
		return o, false
	}
}

// testWrongTag: a handle opens nothing of another subject's session (rule
// 1, and rule 2 for handles without a tag). Where handles carry their
// subject tag verbatim, a handle whose tag is swapped for another subject's
// is Unknown, even with the session's real secret. For every store, the
// handles of two subjects' sessions, each presented with the other's secret
// of the same generation (current, and previous inside the grace window),
// are Unknown, Lookup and Revoke fail with ErrNotFound, and nothing changes.
func testWrongTag(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	other := f.create(f.newSubject(), f.base)
	h, secret := c.current()
	info, err := f.parse(h)
	if err != nil {
		t.Fatalf("rule: ParseHandle decodes every handle the store returned: %v", err)
	}
	now := f.at(time.Minute)
	if info.Tag != "" && strings.Count(h, info.Tag) == 1 {
		forged := strings.Replace(h, info.Tag, store.SubjectTag(other.subject()), 1)
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
	}

	f.advance(c, now, grace)
	f.advance(other, now, grace) // both at generation 2: 2 current, 1 previous
	for _, g := range []uint64{2, 1} {
		for _, p := range [][2]*chain{{c, other}, {other, c}} {
			f.refuseHandle(fmt.Sprintf("the handle of one subject's session and the secret of another subject's session, both of generation %d,", g),
				p[0].handle(g), p[1].secret(g), now)
		}
	}
	f.checkAlive("a handle with another subject's secret changes nothing", c, now)
	f.checkAlive("a handle with another subject's secret changes nothing", other, now)
	f.advance(c, now, grace)
	f.advance(other, now, grace)
}

// testNeverCreated: a handle naming a session that was never created in
// this store is Unknown and changes nothing. With store.FormatHandle handles
// the suite writes one naming a random session id. With any handles it
// presents one a second store from newStore issued (see second), and a real
// handle with one character in the middle changed.
func testNeverCreated(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	now := f.at(time.Minute)
	if info, ok := f.formatHandle(c); ok {
		info.SessionID = randomID()
		h := store.FormatHandle(info)
		for _, secret := range [][32]byte{newSecret(), c.secret(1)} {
			a := f.present(h, secret, now, grace)
			if a.res.Outcome != store.Unknown {
				t.Errorf("rule: a handle naming a session that was never created is Unknown: got %v", a.res.Outcome)
			}
		}
	}

	f.second(now)

	h, secret := c.current()
	orig, err := f.parse(h)
	if err != nil {
		t.Fatalf("rule: ParseHandle decodes every handle the store returned: %v", err)
	}
	mid := len(h) / 2
	repl := byte('x')
	if h[mid] == repl {
		repl = 'y'
	}
	f.checkModified("one character in the middle changed", h[:mid]+string(repl)+h[mid+1:], orig, secret, now)

	f.checkAlive("a handle naming a session never created changes nothing", c, now)
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
