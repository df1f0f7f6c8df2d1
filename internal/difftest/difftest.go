// Package difftest is the differential test of the rotation rules: random
// sequences of store operations run against memstore, which decides every
// rotation with [store.Record] (the one home of the rules), and against a
// store that decides them elsewhere (redisstore's script on the server),
// and every answer and every record read back must be the same.
//
// It lives apart from store/storetest because it needs memstore, whose own
// tests import storetest.
package difftest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// SeedEnv names the environment variable that moves the first seed, so
// that a failure can be replayed alone (its message gives the seed) or new
// sequences explored: SESSIONKIT_DIFF_SEED=12345 go test -run Differential.
const SeedEnv = "SESSIONKIT_DIFF_SEED"

// Run runs sequences random sequences of steps operations each, every one
// against a fresh memstore and a fresh store from newStore, comparing the
// answers of Create, Rotate, Lookup, Revoke, RevokeSession, RevokeAll,
// Deny, Version and CheckAccess, and, after each step, the sessions of
// the subject it touched (of every subject every 20 steps) and the access
// state of those sessions and of one other. The clock moves forward in steps from a millisecond to two
// hours, never past a session's absolute expiry (after which a store may
// forget it, and the answers may differ as the contract allows).
func Run(t *testing.T, newStore func(t *testing.T) store.Store, sequences, steps int) {
	t.Helper()
	first := uint64(1)
	if v := os.Getenv(SeedEnv); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", SeedEnv, v, err)
		}
		first, sequences = n, 1
	}
	for i := range uint64(sequences) {
		seed := first + i
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			if err := Compare(memstore.New(), newStore(t), seed, steps); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Compare runs one random sequence of steps operations, chosen by seed,
// against ref and got, and returns the first difference in their answers,
// or nil. Run calls it with a memstore as ref.
func Compare(ref, got store.Store, seed uint64, steps int) error {
	w := &world{rng: rand.New(rand.NewPCG(seed, 0x5e55)), seed: seed, ref: ref, got: got, now: t0,
		latest: make(map[string]token), previous: make(map[string]token)}
	for step := range steps {
		w.step = step
		w.do()
		if w.err != nil {
			return w.err
		}
	}
	return nil
}

// t0 is the start of every sequence, on a whole millisecond (the stores
// keep times to the millisecond).
var t0 = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

const (
	absTTL  = 30 * 24 * time.Hour
	idleTTL = time.Hour
	maxRun  = 20 * 24 * time.Hour // the clock never passes t0 + maxRun
)

var subjects = []string{"alice", "bob", "iss\x1fcarol"}

// token is a refresh token the sequence holds: the handle and the hash of
// its secret.
type token struct {
	handle string
	hash   [32]byte
}

type sess struct{ subject, id string }

type world struct {
	err      error // the first difference
	rng      *rand.Rand
	seed     uint64
	step     int
	ref, got store.Store
	now      time.Time
	sessions []sess
	tokens   []token          // every token issued, oldest first
	latest   map[string]token // by session id: the newest token
	previous map[string]token // by session id: the token before it
}

func (w *world) fail(format string, args ...any) {
	if w.err == nil {
		w.err = fmt.Errorf("seed %d, step %d (replay: %s=%d): %s", w.seed, w.step, SeedEnv, w.seed, fmt.Sprintf(format, args...))
	}
}

func (w *world) hash() [32]byte {
	var b [16]byte
	for i := range b {
		b[i] = byte(w.rng.Uint32())
	}
	return sha256.Sum256(b[:])
}

func (w *world) pick(n int) int { return w.rng.IntN(n) }

// do runs one random step.
func (w *world) do() {
	ctx := context.Background()
	if len(w.sessions) == 0 {
		w.create(ctx)
		return
	}
	var touched string
	switch r := w.pick(100); {
	case r < 12:
		touched = w.create(ctx)
	case r < 52:
		touched = w.rotate(ctx)
	case r < 60:
		touched = w.lookup(ctx)
	case r < 64:
		touched = w.revoke(ctx)
	case r < 68:
		touched = w.revokeSession(ctx)
	case r < 71:
		touched = w.revokeAll(ctx)
	case r < 76:
		touched = w.deny(ctx)
	case r < 84:
		touched = subjects[w.pick(len(subjects))]
		w.version(ctx, touched)
	default:
		w.tick()
		touched = subjects[w.pick(len(subjects))]
	}
	if w.step%20 == 19 {
		for _, s := range subjects {
			w.compareSubject(ctx, s)
		}
		return
	}
	w.compareSubject(ctx, touched)
}

func (w *world) tick() {
	steps := []time.Duration{time.Millisecond, time.Second, 3 * time.Second, 9 * time.Second, 10 * time.Second, 10 * time.Second, 10 * time.Second, 11 * time.Second, 15 * time.Second, time.Minute, 30 * time.Minute, 2 * time.Hour}
	d := steps[w.pick(len(steps))]
	if w.now.Add(d).Before(t0.Add(maxRun)) {
		w.now = w.now.Add(d)
	}
}

func (w *world) create(ctx context.Context) string {
	subject := subjects[w.pick(len(subjects))]
	id := fmt.Sprintf("s%04d", len(w.sessions))
	if w.pick(20) == 0 {
		// An id the subject holds: every store refuses it. (An id another
		// subject holds is the store's choice: the contract leaves it.)
		for _, x := range w.sessions {
			if x.subject == subject {
				id = x.id
				break
			}
		}
	}
	n := store.NewSession{
		Session: store.Session{
			ID: id, Subject: subject, Scope: "read write", Generation: 1,
			Device:    store.Device{UserAgent: "difftest/" + strconv.Itoa(w.step), IP: "192.0.2.1"},
			CreatedAt: w.now, IdleExpiresAt: w.now.Add(idleTTL), ExpiresAt: w.now.Add(absTTL),
		},
		Hash: w.hash(),
	}
	if w.pick(2) == 0 {
		n.Session.Claims = []byte(`{"step":` + strconv.Itoa(w.step) + `}`)
	}
	if w.pick(10) == 0 {
		n.Session.ClientID = "client-" + strconv.Itoa(w.pick(3))
	}
	a, errA := w.ref.Create(ctx, n)
	b, errB := w.got.Create(ctx, n)
	if !sameErr(errA, errB) || a != b {
		w.fail("Create(%s/%s): reference %+v, %v; store %+v, %v", subject, id, a, errA, b, errB)
		return subject
	}
	if errA == nil {
		w.sessions = append(w.sessions, sess{subject, id})
		tok := token{a.Handle, n.Hash}
		w.tokens = append(w.tokens, tok)
		w.latest[id] = tok
	}
	return subject
}

// presented picks a token to present: mostly the latest of a session or
// an older one, sometimes a forged secret, a foreign tag or another
// generation.
func (w *world) presented() (tok token, subject string) {
	s := w.sessions[w.pick(len(w.sessions))]
	switch prev, ok := w.previous[s.id]; {
	case w.pick(5) < 2:
		tok = w.latest[s.id]
	case ok && w.pick(2) == 0: // a retry, within the grace window or not
		tok = prev
	default:
		tok = w.tokens[w.pick(len(w.tokens))]
	}
	h, err := store.ParseStatefulHandle(tok.handle)
	if err != nil {
		w.fail("a handle the stores issued does not parse: %v", err)
		return tok, s.subject
	}
	for _, x := range w.sessions {
		if x.id == h.SessionID {
			subject = x.subject
		}
	}
	switch w.pick(12) {
	case 0:
		tok.hash = w.hash()
	case 1:
		h.Tag = store.SubjectTag("mallory")
		tok.handle = store.FormatHandle(h)
	case 2:
		h.Generation += uint64(w.pick(3)) + 1
		tok.handle = store.FormatHandle(h)
	case 3:
		if h.Generation > 1 {
			h.Generation--
			tok.handle = store.FormatHandle(h)
		}
	case 4:
		tok.handle = "not-a-handle"
	}
	return tok, subject
}

func (w *world) rotate(ctx context.Context) string {
	tok, subject := w.presented()
	graces := []time.Duration{10 * time.Second, 10 * time.Second, 0, -time.Second, 2 * time.Minute}
	sealed := make([]byte, 40+w.pick(40))
	for i := range sealed {
		sealed[i] = byte(w.rng.Uint32())
	}
	r := store.Rotation{
		Handle: tok.handle, Presented: tok.hash, Next: w.hash(), Sealed: sealed,
		Now: w.now, Grace: graces[w.pick(len(graces))], IdleExpiresAt: w.now.Add(idleTTL),
	}
	if w.pick(10) == 0 {
		r.IdleExpiresAt = w.now.Add(2 * absTTL) // capped at ExpiresAt
	}
	if w.pick(4) == 0 {
		r.Claims = []byte(`{"rotated":` + strconv.Itoa(w.step) + `}`)
	}
	a, errA := w.ref.Rotate(ctx, r)
	b, errB := w.got.Rotate(ctx, r)
	if !sameErr(errA, errB) || a.Outcome != b.Outcome || a.Handle != b.Handle || !bytes.Equal(a.Sealed, b.Sealed) ||
		a.Version != b.Version || !sameSession(a.Session, b.Session) {
		w.fail("Rotate(%s, grace %v) at %v:\nreference %v %q version %d %+v, %v\n    store %v %q version %d %+v, %v",
			tok.handle, r.Grace, w.now.Sub(t0), a.Outcome, a.Handle, a.Version, a.Session, errA, b.Outcome, b.Handle, b.Version, b.Session, errB)
		return subject
	}
	if a.Outcome == store.Rotated {
		next := token{a.Handle, r.Next}
		w.tokens = append(w.tokens, next)
		w.previous[a.Session.ID] = w.latest[a.Session.ID]
		w.latest[a.Session.ID] = next
	}
	return subject
}

// prove presents a token to Lookup or Revoke, the two calls that take a
// proof, named by op, on both stores.
func (w *world) prove(op string, call func(s store.Store, handle string, hash [32]byte) (store.Session, error)) string {
	tok, subject := w.presented()
	a, errA := call(w.ref, tok.handle, tok.hash)
	b, errB := call(w.got, tok.handle, tok.hash)
	if !sameErr(errA, errB) || !sameSession(a, b) {
		w.fail("%s(%s): reference %+v, %v; store %+v, %v", op, tok.handle, a, errA, b, errB)
	}
	return subject
}

func (w *world) lookup(ctx context.Context) string {
	return w.prove("Lookup", func(s store.Store, handle string, hash [32]byte) (store.Session, error) {
		return s.Lookup(ctx, handle, hash, w.now)
	})
}

func (w *world) revoke(ctx context.Context) string {
	return w.prove("Revoke", func(s store.Store, handle string, hash [32]byte) (store.Session, error) {
		return s.Revoke(ctx, handle, hash, w.now)
	})
}

func (w *world) revokeSession(ctx context.Context) string {
	s := w.sessions[w.pick(len(w.sessions))]
	subject := s.subject
	if w.pick(5) == 0 {
		subject = subjects[w.pick(len(subjects))] // maybe another subject's
	}
	errA := w.ref.RevokeSession(ctx, subject, s.id, w.now)
	errB := w.got.RevokeSession(ctx, subject, s.id, w.now)
	if !sameErr(errA, errB) {
		w.fail("RevokeSession(%s, %s): reference %v; store %v", subject, s.id, errA, errB)
	}
	return s.subject
}

func (w *world) revokeAll(ctx context.Context) string {
	subject := subjects[w.pick(len(subjects))]
	a, errA := w.ref.RevokeAll(ctx, subject, w.now)
	b, errB := w.got.RevokeAll(ctx, subject, w.now)
	if !sameErr(errA, errB) || a != b {
		w.fail("RevokeAll(%s): reference %d, %v; store %d, %v", subject, a, errA, b, errB)
	}
	return subject
}

func (w *world) deny(ctx context.Context) string {
	subject := subjects[w.pick(len(subjects))]
	jti := "jti-" + strconv.Itoa(w.pick(6))
	until := w.now.Add([]time.Duration{time.Second, 10 * time.Minute, 3 * time.Hour}[w.pick(3)])
	errA := w.ref.Deny(ctx, subject, jti, until)
	errB := w.got.Deny(ctx, subject, jti, until)
	if !sameErr(errA, errB) {
		w.fail("Deny(%s, %s): reference %v; store %v", subject, jti, errA, errB)
	}
	return subject
}

func (w *world) version(ctx context.Context, subject string) {
	a, errA := w.ref.Version(ctx, subject)
	b, errB := w.got.Version(ctx, subject)
	if !sameErr(errA, errB) || a != b {
		w.fail("Version(%s): reference %d, %v; store %d, %v", subject, a, errA, b, errB)
	}
}

// compareSubject compares what the stores hold for subject: its live
// sessions, and the access state of every session id and of a few jtis.
func (w *world) compareSubject(ctx context.Context, subject string) {
	a, errA := w.ref.Sessions(ctx, subject, w.now)
	b, errB := w.got.Sessions(ctx, subject, w.now)
	same := sameErr(errA, errB) && len(a) == len(b)
	for i := 0; same && i < len(a); i++ {
		same = sameSession(a[i], b[i])
	}
	if !same {
		w.fail("Sessions(%s) at %v:\nreference %+v, %v\n    store %+v, %v", subject, w.now.Sub(t0), a, errA, b, errB)
		return
	}
	jti := "jti-" + strconv.Itoa(w.pick(6))
	ids := []string{"", w.sessions[w.pick(len(w.sessions))].id} // and one of anyone's
	for _, s := range w.sessions {
		if s.subject == subject {
			ids = append(ids, s.id)
		}
	}
	for _, id := range ids {
		q := store.AccessCheck{Subject: subject, SessionID: id, JTI: jti, Now: w.now}
		a, errA := w.ref.CheckAccess(ctx, q)
		b, errB := w.got.CheckAccess(ctx, q)
		if !sameErr(errA, errB) || a != b {
			w.fail("CheckAccess(%+v): reference %+v, %v; store %+v, %v", q, a, errA, b, errB)
			return
		}
	}
}

// sameErr reports whether two answers failed alike: both succeeded, or
// both failed with the same class of error.
func sameErr(a, b error) bool { return class(a) == class(b) }

func class(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, store.ErrNotFound):
		return "not found"
	case errors.Is(err, store.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, store.ErrUnsupported):
		return "unsupported"
	case errors.Is(err, store.ErrTooLarge):
		return "too large"
	case strings.Contains(err.Error(), "already exists"):
		return "exists"
	default:
		return "other"
	}
}

// sameSession compares two sessions field by field, times by instant and
// claims by content.
func sameSession(a, b store.Session) bool {
	return a.ID == b.ID && a.Subject == b.Subject && a.ClientID == b.ClientID && a.Scope == b.Scope &&
		bytes.Equal(a.Claims, b.Claims) && a.Device == b.Device && a.Generation == b.Generation &&
		a.CreatedAt.Equal(b.CreatedAt) && a.LastUsedAt.Equal(b.LastUsedAt) &&
		a.IdleExpiresAt.Equal(b.IdleExpiresAt) && a.ExpiresAt.Equal(b.ExpiresAt)
}
