package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// Lifetimes and windows used throughout the suite. They are realistic on
// purpose: a store whose native expiry is clean-up set after the logical
// expiry must never lose a record the suite still expects to read.
const (
	idleTTL   = time.Hour      // the idle (sliding) lifetime of a session
	absTTL    = 24 * time.Hour // the absolute lifetime of a session
	grace     = 10 * time.Second
	ms        = time.Millisecond
	sealedLen = 72 // bytes of opaque "sealed successor" per rotation
)

// stateful are the capabilities that show that a store keeps per-session
// state, so that it can tell a session id it already holds.
const stateful = store.ReuseDetection | store.RevokeSessions | store.ListSessions

// liveCheck is the capability that makes AccessState.SessionLive meaningful
// beyond expiry: a store that can end sessions must report their end.
const liveCheck = store.RevokeSessions

// testCase is one named conformance case.
type testCase struct {
	name string
	// needs lists capabilities the case needs, all of them.
	needs store.Capabilities
	// anyOf, when non-zero, lists capabilities of which the case needs one.
	anyOf store.Capabilities
	// lacks, when non-zero, makes the case run only when the store lacks
	// this capability.
	lacks store.Capabilities
	run   func(t *testing.T, f *fixture)
}

// group is a named set of cases, run as one subtest.
type group struct {
	name  string
	cases []testCase
}

func suite() []group {
	return []group{
		{"Create", createCases()},
		{"ParseHandle", parseCases()},
		{"Rotate", rotateCases()},
		{"Concurrency", concurrencyCases()},
		{"Expiry", expiryCases()},
		{"Sessions", sessionCases()},
		{"Lookup", lookupCases()},
		{"Revoke", revokeCases()},
		{"RevokeAll", revokeAllCases()},
		{"Access", accessCases()},
		{"UseOnce", useOnceCases()},
		{"Context", contextCases()},
		{"Capabilities", capabilityCases()},
	}
}

// Run runs the conformance suite against the stores newStore makes. Every
// case is a subtest that calls newStore(t) with its own t and uses that
// fresh store; newStore may register clean-up with t.Cleanup and may call
// t.Skip or t.Fatal. A few cases call newStore(t) a second time, for a
// second store whose handles the first never issued; the two may share a
// backend (the same store, server and key space, or key ring), which those
// cases notice and log. Cases run in parallel; Run returns when all have
// finished. Cases needing a capability the store does not declare are
// skipped with a message naming it; no case skips for any other reason.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	for _, g := range suite() {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					s := newStore(t)
					if s == nil {
						t.Fatal("storetest: newStore returned a nil store")
					}
					caps := s.Capabilities()
					if missing := c.needs &^ caps; missing != 0 {
						t.Skipf("store lacks %s", capPhrase(missing))
					}
					if c.anyOf != 0 && caps&c.anyOf == 0 {
						t.Skipf("store lacks every one of the capabilities %s (one is needed)", capString(c.anyOf))
					}
					if c.lacks != 0 && caps.Has(c.lacks) {
						t.Skipf("store declares capability %s; this case checks a store without it", capString(c.lacks))
					}
					c.run(t, &fixture{
						t:        t,
						s:        s,
						caps:     caps,
						ctx:      t.Context(),
						base:     time.Now().Truncate(ms),
						newStore: newStore,
					})
				})
			}
		})
	}
}

// capPhrase is "capability X" or "capabilities X|Y".
func capPhrase(c store.Capabilities) string {
	if c&(c-1) == 0 {
		return "capability " + capString(c)
	}
	return "capabilities " + capString(c)
}

// capString names the capabilities in c.
func capString(c store.Capabilities) string { return c.String() }

// ---- random material ----

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails since Go 1.24
	return b
}

// randomID returns 16 random bytes, base64url-encoded without padding: the
// shape of a session id (and of the suite's jtis, keys and subjects).
func randomID() string { return base64.RawURLEncoding.EncodeToString(randomBytes(16)) }

func newSecret() (s [32]byte) {
	rand.Read(s[:])
	return s
}

func hashOf(secret [32]byte) [32]byte { return sha256.Sum256(secret[:]) }

// ---- time ----

func sameTime(a, b time.Time) bool { return a.Truncate(ms).Equal(b.Truncate(ms)) }

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// ---- fixture ----

// fixture is one case's store, clock base and helpers. Its helpers report
// through f.t; use f.with in subtests.
type fixture struct {
	t    *testing.T
	s    store.Store
	caps store.Capabilities
	ctx  context.Context
	base time.Time
	// newStore is Run's factory, for the cases that need a second store.
	newStore func(t *testing.T) store.Store
}

// with returns a copy of f reporting through t (a subtest of f.t).
func (f *fixture) with(t *testing.T) *fixture {
	g := *f
	g.t = t
	g.ctx = t.Context()
	return &g
}

func (f *fixture) at(d time.Duration) time.Time { return f.base.Add(d) }

func (f *fixture) has(c store.Capabilities) bool { return f.caps.Has(c) }

// newSubject returns a subject no other case uses.
func (f *fixture) newSubject() string { return "storetest|user:" + randomID() }

// template returns a valid session of subject created at at, with the
// suite's lifetimes, JSON claims (with odd spacing, to catch stores that
// re-encode instead of keeping them verbatim), scope and device.
func (f *fixture) template(subject string, at time.Time) store.Session {
	id := randomID()
	return store.Session{
		ID:            id,
		Subject:       subject,
		Scope:         "openid profile items:read",
		Claims:        []byte(`{"role": "member",  "tenant":"` + id[:8] + `", "n": [1, 2.50]}`),
		Device:        store.Device{UserAgent: "Mozilla/5.0 (storetest " + id[:8] + ") Gecko/20100101", IP: "2001:db8::" + fmt.Sprint(len(id))},
		CreatedAt:     at,
		LastUsedAt:    at,
		IdleExpiresAt: at.Add(idleTTL),
		ExpiresAt:     at.Add(absTTL),
		Generation:    1,
	}
}

// chain is a created session and every refresh token issued for it.
type chain struct {
	sess    store.Session // as created
	version uint64        // Created.Version
	handles []string      // handles[g-1] names generation g
	secrets [][32]byte    // secrets[g-1] is the secret of generation g
	sealed  [][]byte      // sealed[g-1] was stored by the rotation that issued g; nil for g == 1
}

func (c *chain) gen() uint64                 { return uint64(len(c.handles)) }
func (c *chain) handle(g uint64) string      { return c.handles[g-1] }
func (c *chain) secret(g uint64) [32]byte    { return c.secrets[g-1] }
func (c *chain) subject() string             { return c.sess.Subject }
func (c *chain) id() string                  { return c.sess.ID }
func (c *chain) current() (string, [32]byte) { return c.handle(c.gen()), c.secret(c.gen()) }

// create stores a new session of subject created at at, edited by edit.
func (f *fixture) create(subject string, at time.Time, edit ...func(*store.Session)) *chain {
	f.t.Helper()
	s := f.template(subject, at)
	for _, e := range edit {
		e(&s)
	}
	return f.createWith(s, newSecret())
}

// createWith stores the new session s whose first refresh secret is secret.
func (f *fixture) createWith(s store.Session, secret [32]byte) *chain {
	f.t.Helper()
	got, err := f.s.Create(f.ctx, store.NewSession{Session: s, Hash: hashOf(secret)})
	if err != nil {
		f.t.Fatalf("rule: Create stores a valid new session: got error %v", err)
	}
	f.checkHandle("the handle Create returned", got.Handle, s, 1)
	return &chain{
		sess:    s,
		version: got.Version,
		handles: []string{got.Handle},
		secrets: [][32]byte{secret},
		sealed:  [][]byte{nil},
	}
}

// idle8h makes a session whose idle lifetime is 8 hours, so that rotations
// a few hours apart can carry it to its absolute expiry.
func idle8h(s *store.Session) { s.IdleExpiresAt = s.CreatedAt.Add(8 * time.Hour) }

// checkHandle checks the shape of a handle the store returned for session s
// at generation gen.
func (f *fixture) checkHandle(what, h string, s store.Session, gen uint64) {
	f.t.Helper()
	if h == "" {
		f.t.Errorf("rule: a handle is never empty: %s is empty", what)
		return
	}
	if len(h) > store.MaxHandleLen {
		f.t.Errorf("rule: a handle is at most store.MaxHandleLen (%d) bytes: %s has %d", store.MaxHandleLen, what, len(h))
	}
	if i := strings.IndexFunc(h, func(r rune) bool { return !isHandleChar(r) }); i >= 0 {
		f.t.Errorf("rule: a handle uses only the characters [A-Za-z0-9_~-]: %s has %q at byte %d", what, h[i], i)
	}
	info, err := f.s.ParseHandle(h)
	if err != nil {
		f.t.Errorf("rule: ParseHandle decodes every handle the store returned: %s: %v", what, err)
		return
	}
	if info.SessionID != s.ID || info.Generation != gen {
		f.t.Errorf("rule: a handle names its session and generation: %s parses to session %q generation %d, want session %q generation %d",
			what, info.SessionID, info.Generation, s.ID, gen)
	}
	if info.Tag != "" && info.Tag != store.SubjectTag(s.Subject) {
		f.t.Errorf("rule: a handle's tag is store.SubjectTag of its session's subject: %s has tag %q, want %q",
			what, info.Tag, store.SubjectTag(s.Subject))
	}
}

func isHandleChar(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '~'
}

// parse calls ParseHandle, turning a panic into an error.
func (f *fixture) parse(h string) (info store.HandleInfo, err error) {
	defer func() {
		if p := recover(); p != nil {
			f.t.Errorf("rule: ParseHandle never panics: it panicked on %q: %v", h, p)
			err = store.ErrNotFound
		}
	}()
	return f.s.ParseHandle(h)
}

// ---- rotation ----

// attempt is one Rotate call: the request, the secret behind r.Next, the
// answer.
type attempt struct {
	r    store.Rotation
	next [32]byte
	res  store.RotateResult
}

// rotation builds a request presenting secret under handle at now, with a
// fresh successor and fresh sealed bytes.
func rotation(handle string, secret [32]byte, now time.Time, grace time.Duration) (store.Rotation, [32]byte) {
	next := newSecret()
	return store.Rotation{
		Handle:        handle,
		Presented:     hashOf(secret),
		Next:          hashOf(next),
		Sealed:        randomBytes(sealedLen),
		Now:           now,
		Grace:         grace,
		IdleExpiresAt: now.Add(idleTTL),
	}, next
}

// do sends r, failing the case on an error (Rotate answers well-formed
// requests with an outcome), and checks the answer's shape.
func (f *fixture) do(r store.Rotation, next [32]byte) attempt {
	f.t.Helper()
	res, err := f.s.Rotate(f.ctx, r)
	if err != nil {
		f.t.Fatalf("rule: Rotate answers every request on a live context with an outcome, not an error: got %v", err)
	}
	checkShape(f.t, res)
	return attempt{r: r, next: next, res: res}
}

// present presents secret under handle at now.
func (f *fixture) present(handle string, secret [32]byte, now time.Time, grace time.Duration) attempt {
	f.t.Helper()
	return f.do(rotation(handle, secret, now, grace))
}

// presentGen presents the secret of generation g under its own handle.
func (f *fixture) presentGen(c *chain, g uint64, now time.Time, grace time.Duration) attempt {
	f.t.Helper()
	return f.present(c.handle(g), c.secret(g), now, grace)
}

// checkShape checks the fields of a result against its outcome.
func checkShape(t *testing.T, res store.RotateResult) {
	t.Helper()
	switch res.Outcome {
	case store.Rotated:
		if res.Handle == "" {
			t.Errorf("rule: Rotated carries the successor's handle: got an empty handle")
		}
		if len(res.Sealed) != 0 {
			t.Errorf("rule: Sealed is set for Replayed only: Rotated carries %d bytes", len(res.Sealed))
		}
	case store.Replayed:
		if res.Handle == "" {
			t.Errorf("rule: Replayed carries the successor's handle: got an empty handle")
		}
		if len(res.Sealed) == 0 {
			t.Errorf("rule: Replayed carries the sealed successor: got none")
		}
	case store.Reused:
		if res.Handle != "" || len(res.Sealed) != 0 {
			t.Errorf("rule: Reused carries no handle and no sealed successor: got handle %q and %d sealed bytes", res.Handle, len(res.Sealed))
		}
	case store.Unknown, store.Expired, store.Revoked:
		if res.Handle != "" || len(res.Sealed) != 0 {
			t.Errorf("rule: %v carries no handle and no sealed successor: got handle %q and %d sealed bytes", res.Outcome, res.Handle, len(res.Sealed))
		}
		if res.Session.ID != "" || res.Session.Subject != "" || res.Session.Generation != 0 {
			t.Errorf("rule: %v carries a zero Session: got session %q of %q at generation %d", res.Outcome, res.Session.ID, res.Session.Subject, res.Session.Generation)
		}
	default:
		t.Errorf("rule: Rotate answers one of the six outcomes: got %v", res.Outcome)
	}
}

// want fails the case unless a's outcome is w.
func (f *fixture) want(rule string, a attempt, w store.Outcome) {
	f.t.Helper()
	if a.res.Outcome != w {
		f.t.Fatalf("rule: %s: got outcome %v, want %v", rule, a.res.Outcome, w)
	}
}

// advance rotates c's current secret at now and records the successor.
func (f *fixture) advance(c *chain, now time.Time, grace time.Duration) attempt {
	f.t.Helper()
	return f.advanceIdle(c, now, grace, now.Add(idleTTL))
}

// advanceIdle is advance with an explicit requested idle expiry.
func (f *fixture) advanceIdle(c *chain, now time.Time, grace time.Duration, idle time.Time) attempt {
	f.t.Helper()
	return f.advanceWith(c, now, grace, func(r *store.Rotation) { r.IdleExpiresAt = idle })
}

// advanceWith is advance with the request edited by edit.
func (f *fixture) advanceWith(c *chain, now time.Time, grace time.Duration, edit func(*store.Rotation)) attempt {
	f.t.Helper()
	h, s := c.current()
	r, next := rotation(h, s, now, grace)
	edit(&r)
	a := f.do(r, next)
	f.want(fmt.Sprintf("the current secret of a live session, under its handle, rotates (generation %d at %s)", c.gen(), fmtTime(now)), a, store.Rotated)
	f.record(c, a)
	return a
}

// record appends the successor of a Rotated (or Replayed) attempt to c.
func (f *fixture) record(c *chain, a attempt) {
	f.t.Helper()
	f.checkHandle("the handle Rotate returned", a.res.Handle, c.sess, c.gen()+1)
	c.handles = append(c.handles, a.res.Handle)
	c.secrets = append(c.secrets, a.next)
	c.sealed = append(c.sealed, a.r.Sealed)
}

// ---- lookup ----

// lookup calls Lookup with presented under h at now, turning a panic into
// an error.
func (f *fixture) lookup(h string, presented [32]byte, now time.Time) (s store.Session, err error) {
	defer func() {
		if p := recover(); p != nil {
			f.t.Errorf("rule: Lookup never panics: it panicked on handle %.80q: %v", h, p)
			s, err = store.Session{}, store.ErrNotFound
		}
	}()
	return f.s.Lookup(f.ctx, h, presented, now)
}

// found looks secret up under h at now, failing the case on an error.
func (f *fixture) found(rule, h string, secret [32]byte, now time.Time) store.Session {
	f.t.Helper()
	s, err := f.lookup(h, hashOf(secret), now)
	if err != nil {
		f.t.Fatalf("rule: %s: Lookup got error %v", rule, err)
	}
	return s
}

// notFound checks that Lookup of secret under h at now fails with
// ErrNotFound.
func (f *fixture) notFound(rule, h string, secret [32]byte, now time.Time) {
	f.t.Helper()
	f.notFoundHash(rule, h, hashOf(secret), now)
}

// notFoundHash is notFound for a presented hash.
func (f *fixture) notFoundHash(rule, h string, presented [32]byte, now time.Time) {
	f.t.Helper()
	if s, err := f.lookup(h, presented, now); !errors.Is(err, store.ErrNotFound) {
		f.t.Errorf("rule: %s: Lookup must fail with ErrNotFound: got session %q generation %d, error %v", rule, s.ID, s.Generation, err)
	}
}

// ---- sessions ----

// sameSession reports every field of got that differs from want.
func (f *fixture) sameSession(rule string, got, want store.Session) {
	f.t.Helper()
	if d := diffSession(got, want); d != "" {
		f.t.Errorf("rule: %s: %s", rule, d)
	}
}

func diffSession(got, want store.Session) string {
	var d []string
	str := func(name, g, w string) {
		if g != w {
			d = append(d, fmt.Sprintf("%s %q, want %q", name, g, w))
		}
	}
	tm := func(name string, g, w time.Time) {
		if !sameTime(g, w) {
			d = append(d, fmt.Sprintf("%s %s, want %s", name, fmtTime(g), fmtTime(w)))
		}
	}
	str("ID", got.ID, want.ID)
	str("Subject", got.Subject, want.Subject)
	str("ClientID", got.ClientID, want.ClientID)
	str("Scope", got.Scope, want.Scope)
	if !bytes.Equal(got.Claims, want.Claims) && (len(got.Claims) != 0 || len(want.Claims) != 0) {
		d = append(d, fmt.Sprintf("Claims %q, want %q (verbatim)", got.Claims, want.Claims))
	}
	str("Device.UserAgent", got.Device.UserAgent, want.Device.UserAgent)
	str("Device.IP", got.Device.IP, want.Device.IP)
	tm("CreatedAt", got.CreatedAt, want.CreatedAt)
	tm("LastUsedAt", got.LastUsedAt, want.LastUsedAt)
	tm("IdleExpiresAt", got.IdleExpiresAt, want.IdleExpiresAt)
	tm("ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	if got.Generation != want.Generation {
		d = append(d, fmt.Sprintf("Generation %d, want %d", got.Generation, want.Generation))
	}
	return strings.Join(d, "; ")
}

// after returns c's session as it must be after rotation a (generation+1,
// LastUsedAt = now, idle expiry = the requested one capped at ExpiresAt,
// claims replaced when the rotation carries some).
func after(s store.Session, r store.Rotation) store.Session {
	s.Generation++
	s.LastUsedAt = r.Now
	s.IdleExpiresAt = r.IdleExpiresAt
	if s.IdleExpiresAt.After(s.ExpiresAt) {
		s.IdleExpiresAt = s.ExpiresAt
	}
	if r.Claims != nil {
		s.Claims = r.Claims
	}
	return s
}

// sessions lists subject's sessions at now, failing the case on an error.
func (f *fixture) sessions(subject string, now time.Time) []store.Session {
	f.t.Helper()
	list, err := f.s.Sessions(f.ctx, subject, now)
	if err != nil {
		f.t.Fatalf("rule: Sessions lists a subject's live sessions: got error %v", err)
	}
	return list
}

func ids(list []store.Session) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.ID
	}
	return out
}

// access calls CheckAccess, failing the case on an error.
func (f *fixture) access(q store.AccessCheck) store.AccessState {
	f.t.Helper()
	st, err := f.s.CheckAccess(f.ctx, q)
	if err != nil {
		f.t.Fatalf("rule: CheckAccess answers on a live context: got error %v", err)
	}
	return st
}

// version calls Version, failing the case on an error.
func (f *fixture) version(subject string) uint64 {
	f.t.Helper()
	v, err := f.s.Version(f.ctx, subject)
	if err != nil {
		f.t.Fatalf("rule: Version reads a subject's token version: got error %v", err)
	}
	return v
}

// checkAlive checks, by every means the store offers, that c's session is
// live at now.
func (f *fixture) checkAlive(rule string, c *chain, now time.Time) {
	f.t.Helper()
	h, secret := c.current()
	if s, err := f.lookup(h, hashOf(secret), now); err != nil {
		f.t.Errorf("rule: %s: Lookup with its current secret: got error %v", rule, err)
	} else if s.ID != c.id() || s.Generation != c.gen() {
		f.t.Errorf("rule: %s: Lookup with its current secret: got session %q generation %d, want %q generation %d", rule, s.ID, s.Generation, c.id(), c.gen())
	}
	if f.has(store.ListSessions) {
		s, err := FindSession(f.ctx, f.s, c.subject(), c.id(), now)
		if err != nil {
			f.t.Errorf("rule: %s: Session: got error %v", rule, err)
		} else if s.Generation != c.gen() {
			f.t.Errorf("rule: %s: Session: generation %d, want %d", rule, s.Generation, c.gen())
		}
		if list := f.sessions(c.subject(), now); !slices.Contains(ids(list), c.id()) {
			f.t.Errorf("rule: %s: Sessions does not list it", rule)
		}
	}
	if f.has(liveCheck) {
		st := f.access(store.AccessCheck{Subject: c.subject(), SessionID: c.id(), JTI: randomID(), Now: now})
		if !st.SessionLive {
			f.t.Errorf("rule: %s: CheckAccess reports SessionLive false", rule)
		}
	}
}

// checkGone checks, by every means the store offers, that c's session no
// longer counts at now.
func (f *fixture) checkGone(rule string, c *chain, now time.Time) {
	f.t.Helper()
	h, secret := c.current()
	f.notFound(rule+" (with its current secret)", h, secret, now)
	if f.has(store.ListSessions) {
		if _, err := FindSession(f.ctx, f.s, c.subject(), c.id(), now); !errors.Is(err, store.ErrNotFound) {
			f.t.Errorf("rule: %s: Session must fail with ErrNotFound: got %v", rule, err)
		}
		if list := f.sessions(c.subject(), now); slices.Contains(ids(list), c.id()) {
			f.t.Errorf("rule: %s: Sessions still lists it", rule)
		}
	}
	if f.has(liveCheck) {
		st := f.access(store.AccessCheck{Subject: c.subject(), SessionID: c.id(), JTI: randomID(), Now: now})
		if st.SessionLive {
			f.t.Errorf("rule: %s: CheckAccess reports SessionLive true", rule)
		}
	}
}
