package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

func createCases() []testCase {
	return []testCase{
		{name: "HandleNamesFirstGeneration", run: testCreateHandle},
		{name: "NewSubjectVersionZero", run: testCreateVersionZero},
		{name: "VersionAfterBumps", needs: store.Versions, run: testCreateVersionAfterBumps},
		{name: "DuplicateIDRefused", anyOf: stateful, run: testCreateDuplicate},
	}
}

// testCreateHandle: Create returns a handle that parses to the session id and
// generation 1, within MaxHandleLen and the handle alphabet (checked by
// create), for user and client sessions and awkward subjects.
func testCreateHandle(t *testing.T, f *fixture) {
	subjects := []string{
		f.newSubject(),
		"storetest {tag} ~ü/é:" + randomID(),         // hash-tag braces, separators, UTF-8
		strings.Repeat("s", 300) + randomID(),        // long subject
		"storetest-client:" + randomID() + "\x00end", // NUL byte
	}
	seen := map[string]bool{}
	var chains []*chain
	for i, subject := range subjects {
		c := f.create(subject, f.base, func(s *store.Session) {
			if i == 3 {
				s.ClientID = "client-" + randomID()
			}
		})
		h := c.handle(1)
		if seen[h] {
			t.Errorf("rule: every session has its own handle: %q returned twice", h)
		}
		seen[h] = true
		chains = append(chains, c)
	}
	// The handles work: their secrets rotate.
	for _, c := range chains {
		f.advance(c, f.at(time.Minute), grace)
	}
}

// testCreateVersionZero: Create reports version 0 for a subject never bumped.
func testCreateVersionZero(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	if c.version != 0 {
		t.Errorf("rule: Create returns the subject's current token version, 0 for a subject never bumped: got %d", c.version)
	}
}

// testCreateVersionAfterBumps: Create reports the version RevokeAll left.
func testCreateVersionAfterBumps(t *testing.T, f *fixture) {
	subject := f.newSubject()
	for range 3 {
		if _, err := f.s.RevokeAll(f.ctx, subject, f.base); err != nil {
			t.Fatalf("rule: RevokeAll bumps a subject's version: got error %v", err)
		}
	}
	c := f.create(subject, f.at(time.Second))
	if c.version != 3 {
		t.Errorf("rule: Create returns the subject's current token version (3 after three RevokeAll): got %d", c.version)
	}
}

// testCreateDuplicate: a second Create with an id the store holds is refused
// and changes nothing.
func testCreateDuplicate(t *testing.T, f *fixture) {
	subject := f.newSubject()
	c := f.create(subject, f.base)

	dup := f.template(subject, f.at(time.Minute))
	dup.ID = c.id()
	dup.Scope = "admin"
	dup.Claims = []byte(`{"role":"admin"}`)
	secret := newSecret()
	got, err := f.s.Create(f.ctx, store.NewSession{Session: dup, Hash: hashOf(secret)})
	if err == nil {
		t.Errorf("rule: Create refuses a session id the store already holds: got handle %q and no error", got.Handle)
	}

	// Nothing changed: the duplicate's secret does not open the session...
	a := f.present(c.handle(1), secret, f.at(2*time.Minute), grace)
	if a.res.Outcome != store.Unknown {
		t.Errorf("rule: a refused Create changes nothing: the refused session's secret under the existing handle: got %v, want %v", a.res.Outcome, store.Unknown)
	}
	if f.has(store.ListSessions) {
		s, err := FindSession(f.ctx, f.s, subject, c.id(), f.at(2*time.Minute))
		if err != nil {
			t.Fatalf("rule: a refused Create changes nothing: Session of the existing session: got error %v", err)
		}
		f.sameSession("a refused Create changes nothing: the existing session reads back as created", s, c.sess)
	}
	// ...and the original secret still rotates.
	f.advance(c, f.at(3*time.Minute), grace)
}

func parseCases() []testCase {
	return []testCase{
		{name: "RefusesGarbage", run: testParseGarbage},
		{name: "RefusesModified", run: testParseModified},
	}
}

// refuseHandle checks that Rotate, Lookup and Revoke treat h as naming
// nothing.
func (f *fixture) refuseHandle(what, h string, secret [32]byte, now time.Time) {
	f.t.Helper()
	a := f.present(h, secret, now, grace)
	if a.res.Outcome != store.Unknown {
		f.t.Errorf("rule: Rotate with %s answers Unknown: got %v", what, a.res.Outcome)
	}
	f.notFound("Lookup with "+what+" fails with ErrNotFound", h, secret, now)
	if f.has(store.RevokeSessions) {
		if _, err := f.s.Revoke(f.ctx, h, hashOf(secret), now); !errors.Is(err, store.ErrNotFound) {
			f.t.Errorf("rule: Revoke with %s fails with ErrNotFound: got %v", what, err)
		}
	}
}

// garbageHandles returns strings no store produces, some of them made from
// the real handle h.
func garbageHandles(h string) []struct{ name, h string } {
	mid := len(h) / 2
	return []struct{ name, h string }{
		{"empty", ""},
		{"a word", "garbage"},
		{"separators only", "~~"},
		{"three short parts", "x~y~z"},
		{"random base64url", randomID() + randomID()},
		{"leading space", " " + h},
		{"trailing newline", h + "\n"},
		{"trailing dot", h + "."},
		{"NUL inside", h[:mid] + "\x00" + h[mid:]},
		{"non-ASCII", "ü" + h},
		{"oversized", strings.Repeat("A", store.MaxHandleLen+1)},
		{"oversized real handle", h + strings.Repeat("-", store.MaxHandleLen)},
	}
}

// testParseGarbage: ParseHandle refuses what no store produces, with
// ErrNotFound and without panicking; Rotate answers Unknown to it, Lookup
// and Revoke ErrNotFound.
func testParseGarbage(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	h, secret := c.current()
	for _, in := range garbageHandles(h) {
		info, err := f.parse(in.h)
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("rule: ParseHandle refuses a handle it did not produce (%s) with an error wrapping ErrNotFound: got %+v, %v", in.name, info, err)
		}
		f.refuseHandle("a handle the store did not produce ("+in.name+")", in.h, secret, f.at(time.Minute))
	}
	f.checkAlive("garbage handles change nothing", c, f.at(time.Minute))
	f.advance(c, f.at(time.Minute), grace)
}

// testParseModified: a handle with one character changed, or cut short,
// names nothing: ParseHandle refuses it, or (stateful handles carry no MAC)
// it names something else, and Rotate answers Unknown (Lookup and Revoke
// ErrNotFound) either way.
func testParseModified(t *testing.T, f *fixture) {
	c := f.create(f.newSubject(), f.base)
	f.advance(c, f.at(time.Minute), grace)
	h, secret := c.current()
	orig, err := f.parse(h)
	if err != nil {
		t.Fatalf("rule: ParseHandle decodes every handle the store returned: %v", err)
	}
	now := f.at(2 * time.Minute)

	n := len(h)
	positions := []int{0, n / 4, n / 2, 3 * n / 4, n - 2, n - 1}
	done := map[int]bool{}
	for _, i := range positions {
		if i < 0 || i >= n || done[i] {
			continue
		}
		done[i] = true

		// Out of the handle alphabet: no store produced it.
		bad := h[:i] + "." + h[i+1:]
		if info, err := f.parse(bad); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("rule: ParseHandle refuses a handle with a character outside [A-Za-z0-9_~-] (byte %d changed to '.') with ErrNotFound: got %+v, %v", i, info, err)
		}
		f.refuseHandle("a modified handle", bad, secret, now)

		// Within the alphabet. The last character may carry unused
		// base64 bits in an opaque handle, so it is left alone here.
		if i == n-1 {
			continue
		}
		repl := byte('A')
		if h[i] == 'A' {
			repl = 'B'
		}
		f.checkModified("one character changed", h[:i]+string(repl)+h[i+1:], orig, secret, now)
	}
	f.checkModified("its last character cut", h[:n-1], orig, secret, now)

	f.checkAlive("modified handles change nothing", c, now)
	f.advance(c, now, grace)
}

// checkModified checks a tampered handle m of a session whose real handle
// parses to orig.
func (f *fixture) checkModified(what, m string, orig store.HandleInfo, secret [32]byte, now time.Time) {
	f.t.Helper()
	info, err := f.parse(m)
	switch {
	case err != nil && !errors.Is(err, store.ErrNotFound):
		f.t.Errorf("rule: ParseHandle fails with an error wrapping ErrNotFound: a handle with %s: got %v", what, err)
	case err == nil && info == orig:
		f.t.Errorf("rule: ParseHandle refuses a tampered handle: a handle with %s still parses to %+v", what, info)
	}
	f.refuseHandle("a handle with "+what, m, secret, now)
}
