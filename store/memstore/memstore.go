// Package memstore is an in-memory [store.Store] for single-process
// applications and tests.
//
// Everything lives in the memory of one process behind one sync.RWMutex, so
// every method is trivially one atomic step. A restart forgets every session
// and two processes share nothing: use memstore for a single server, for
// development and for tests; use redisstore when several processes serve the
// same users, and boltstore when sessions must survive a restart. It
// implements the whole contract and declares every capability;
// it runs the store/storetest conformance suite.
//
// A call is never abandoned: it runs its mutex section and returns what
// happened, so a rotation cannot take effect after its caller gave up, nor
// can its answer be lost (see [store.Rotation] on stores whose calls can
// be abandoned); the Issuer sets no default deadline on a
// [store.InProcess] store.
//
// Liveness is decided by the now passed to each method, never by the store's
// clock. Memory stays bounded by expiry without any goroutine: writes count,
// and once enough writes have happened since the last sweep (at least 1024,
// and at least as many as there were records after it) the writing call
// removes every record whose expiry, plus a one-minute margin, has passed at
// its now. An optional janitor (Options.JanitorInterval) sweeps on a timer
// as well, until Close. Token versions are never removed.
//
// It also keeps key rings ([store.KeyStore]): sessionkit's managed signing
// keys, shared by the Issuers of one process (a restart forgets them too).
package memstore

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

const (
	// sweepMargin is how long after its expiry a record is kept before a
	// sweep removes it, so that callers whose clocks differ slightly still
	// agree (the contract's "clean-up with a margin").
	sweepMargin = time.Minute
	// minSweepEvery is the least number of writes between two sweeps.
	minSweepEvery = 1024
)

// Compile-time checks that *Store implements the contracts.
var (
	_ store.Store    = (*Store)(nil)
	_ store.KeyStore = (*Store)(nil)
)

// Options configures a Store. The zero value is a store without a janitor.
type Options struct {
	// JanitorInterval, when positive, starts one goroutine that removes
	// expired records at this interval until Close. Zero or negative starts
	// no goroutine; writes still sweep expired records now and then.
	JanitorInterval time.Duration
	// Now is the janitor's clock; nil means time.Now. Only the janitor reads
	// it: every method decides liveness by the now it is given.
	Now func() time.Time
}

// Store is the in-memory store. Create one with New; it is safe for
// concurrent use. Call Close when it was created with a janitor.
type Store struct {
	mu        sync.RWMutex
	sessions  map[string]*record
	bySubject map[string]map[string]struct{}
	versions  map[string]uint64
	denied    map[denyKey]time.Time
	once      map[onceKey]time.Time
	rings     map[string]keyRing

	writes  int       // writes since the last sweep
	sweepAt int       // writes that trigger the next sweep
	latest  time.Time // latest now given to a write, for Deny's sweep
	sweeps  int       // sweeps done, for tests

	now       func() time.Time
	stop      chan struct{} // nil without a janitor
	done      chan struct{}
	closeOnce sync.Once
}

// record is one stored session: the record the rotation rules of
// [store.Record] decide over, whose slices the store owns, and its
// subject tag, kept so that a rotation hashes nothing to find it.
type record struct {
	store.Record
	tag string // store.SubjectTag(Session.Subject)
}

// keyRing is one stored key ring.
type keyRing struct {
	blob    []byte // owned by the store
	version uint64
}

type denyKey struct{ subject, jti string }

type onceKey struct{ namespace, key string }

// New returns an empty Store without a janitor: no goroutine starts, and
// writes sweep expired records now and then.
func New() *Store { return NewWithOptions(Options{}) }

// NewWithOptions returns an empty Store configured by opts. It starts a
// janitor goroutine only when opts.JanitorInterval is positive; stop it with
// Close.
func NewWithOptions(opts Options) *Store {
	s := &Store{
		sessions:  make(map[string]*record),
		bySubject: make(map[string]map[string]struct{}),
		versions:  make(map[string]uint64),
		denied:    make(map[denyKey]time.Time),
		once:      make(map[onceKey]time.Time),
		rings:     make(map[string]keyRing),
		sweepAt:   minSweepEvery,
		now:       opts.Now,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if opts.JanitorInterval > 0 {
		s.stop = make(chan struct{})
		s.done = make(chan struct{})
		go s.janitor(opts.JanitorInterval)
	}
	return s
}

// Close stops the janitor, if any, and waits for it to exit. It is safe to
// call more than once and on a store without a janitor; it always returns
// nil. The store stays usable after Close (without a janitor).
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.stop != nil {
			close(s.stop)
			<-s.done
		}
	})
	return nil
}

func (s *Store) janitor(interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			now := s.now() // user code: called outside the lock
			s.mu.Lock()
			s.sweep(now)
			s.mu.Unlock()
		}
	}
}

// Capabilities reports every capability: memstore implements the whole
// contract.
func (s *Store) Capabilities() store.Capabilities { return store.All | store.InProcess }

// ParseHandle decodes a handle made by this store (see
// [store.ParseStatefulHandle]); errors wrap [store.ErrNotFound].
func (s *Store) ParseHandle(handle string) (store.HandleInfo, error) {
	return store.ParseStatefulHandle(handle)
}

// Create stores a new session and returns the handle of its first generation
// with the subject's current token version. The session must have a
// non-empty ID made of at most 64 base64url characters (so that its handle
// parses), a non-empty Subject, Generation 1 and ExpiresAt after CreatedAt;
// a zero LastUsedAt is set to CreatedAt and IdleExpiresAt is capped at
// ExpiresAt. An ID the store still remembers is an error, never overwritten.
func (s *Store) Create(ctx context.Context, n store.NewSession) (store.Created, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.Created{}, err
	}
	nr, err := store.NewRecord(n)
	if err != nil {
		return store.Created{}, fmt.Errorf("memstore: create session: %w", err)
	}
	r := &record{Record: nr, tag: store.SubjectTag(nr.Session.Subject)}
	id, now := r.Session.ID, r.Session.CreatedAt
	handle := store.FormatHandle(store.HandleInfo{Tag: r.tag, SessionID: id, Generation: 1})

	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.sessions[id]; ok {
		if !forgettable(old.Session.ExpiresAt, now) {
			return store.Created{}, fmt.Errorf("memstore: create session: id %q already exists", id)
		}
		s.forget(id, old)
	}
	s.sessions[id] = r
	idx := s.bySubject[r.Session.Subject]
	if idx == nil {
		idx = make(map[string]struct{})
		s.bySubject[r.Session.Subject] = idx
	}
	idx[id] = struct{}{}
	version := s.versions[r.Session.Subject]
	s.wrote(now)
	return store.Created{Handle: handle, Version: version}, nil
}

// Rotate replaces the current secret of the session the handle names; the
// decision is [store.Record.Rotate]'s, made inside the mutex section.
func (s *Store) Rotate(ctx context.Context, r store.Rotation) (store.RotateResult, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.RotateResult{}, err
	}
	// 1. The handle must parse ...
	h, err := store.ParseStatefulHandle(r.Handle)
	if err != nil {
		return store.RotateResult{Outcome: store.Unknown}, nil
	}
	// The record keeps what it is given: copies, made outside the lock.
	r.Sealed, r.Claims = bytes.Clone(r.Sealed), bytes.Clone(r.Claims)

	s.mu.Lock()
	defer s.mu.Unlock()
	// ... and name a remembered session whose subject tag matches.
	rec := s.sessions[h.SessionID]
	if rec == nil || rec.tag != h.Tag {
		return store.RotateResult{Outcome: store.Unknown}, nil
	}
	res, write := rec.Rotate(h, &r)
	if write {
		s.wrote(r.Now)
	}
	// The result shares memory with the record: hand out copies.
	res.Session.Claims = bytes.Clone(res.Session.Claims)
	res.Sealed = bytes.Clone(res.Sealed)
	if res.Outcome == store.Rotated || res.Outcome == store.Replayed {
		res.Version = s.versions[rec.Session.Subject]
	}
	return res, nil
}

// session returns a copy of the record's session that shares no memory
// with the store.
func (r *record) session() store.Session {
	s := r.Session
	s.Claims = bytes.Clone(r.Session.Claims)
	return s
}

// liveFor reports whether r is a record of subject's live session.
func (r *record) liveFor(subject string, now time.Time) bool {
	return r != nil && r.LiveFor(subject, now)
}

// Sessions lists subject's live sessions (neither revoked nor expired at
// now), oldest first: by CreatedAt, then by ID. The slice is never nil.
func (s *Store) Sessions(ctx context.Context, subject string, now time.Time) ([]store.Session, error) {
	if err := store.ContextError(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	idx := s.bySubject[subject]
	list := make([]store.Session, 0, len(idx))
	for id := range idx {
		if rec := s.sessions[id]; rec.liveFor(subject, now) {
			list = append(list, rec.session())
		}
	}
	s.mu.RUnlock()
	store.SortSessions(list)
	return list, nil
}

// Lookup returns the live session the handle names if presented is the hash
// its generation selects; it writes nothing.
func (s *Store) Lookup(ctx context.Context, handle string, presented [32]byte, now time.Time) (store.Session, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.Session{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec, err := s.proven(handle, presented, now)
	if err != nil {
		return store.Session{}, err
	}
	return rec.session(), nil
}

// proven finds the live session a handle names under the proof presented.
// The caller holds the lock.
func (s *Store) proven(handle string, presented [32]byte, now time.Time) (*record, error) {
	h, err := store.ParseStatefulHandle(handle)
	if err != nil {
		return nil, err
	}
	rec := s.sessions[h.SessionID]
	if rec == nil || rec.tag != h.Tag || !rec.Proves(h, presented, now) {
		return nil, fmt.Errorf("%w: memstore: no live session for this token", store.ErrNotFound)
	}
	return rec, nil
}

// Revoke ends the live session the handle names when presented is the hash
// its generation selects (current, previous or a kept spent one), and
// returns the session as it was. Anything else is [store.ErrNotFound] and
// changes nothing.
func (s *Store) Revoke(ctx context.Context, handle string, presented [32]byte, now time.Time) (store.Session, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.Session{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.proven(handle, presented, now)
	if err != nil {
		return store.Session{}, err
	}
	was := rec.session()
	rec.Revoked = true
	s.wrote(now)
	return was, nil
}

// RevokeSession ends subject's live session id. A session of another
// subject, a dead one or none is [store.ErrNotFound] and changes nothing.
func (s *Store) RevokeSession(ctx context.Context, subject, id string, now time.Time) error {
	if err := store.ContextError(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.sessions[id]
	if !rec.liveFor(subject, now) {
		return fmt.Errorf("%w: memstore: no live session with this id for this subject", store.ErrNotFound)
	}
	rec.Revoked = true
	s.wrote(now)
	return nil
}

// RevokeAll revokes every session of subject and bumps its token version in
// the same critical section, returning the new version.
func (s *Store) RevokeAll(ctx context.Context, subject string, now time.Time) (uint64, error) {
	if err := store.ContextError(ctx); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.bySubject[subject] {
		if rec := s.sessions[id]; rec != nil {
			rec.Revoked = true
		}
	}
	s.versions[subject]++
	v := s.versions[subject]
	s.wrote(now)
	return v, nil
}

// Deny puts jti, an access token of subject, on the deny-list until the
// given time (keeping the later time if the entry exists). CheckAccess
// reports it while until is after its now.
func (s *Store) Deny(ctx context.Context, subject, jti string, until time.Time) error {
	if err := store.ContextError(ctx); err != nil {
		return err
	}
	k := denyKey{subject, jti}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.denied[k]; !ok || until.After(cur) {
		s.denied[k] = until
	}
	// Deny has no now: its sweep uses the latest now given to a write.
	s.wrote(s.latest)
	return nil
}

// Version reads subject's token version, 0 if it was never bumped.
func (s *Store) Version(ctx context.Context, subject string) (uint64, error) {
	if err := store.ContextError(ctx); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.versions[subject], nil
}

// CheckAccess reads the deny-list entry of the token's jti, the subject's
// token version and the liveness of the token's session in one read.
func (s *Store) CheckAccess(ctx context.Context, q store.AccessCheck) (store.AccessState, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.AccessState{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var st store.AccessState
	if until, ok := s.denied[denyKey{q.Subject, q.JTI}]; ok && q.Now.Before(until) {
		st.Denied = true
	}
	st.Version = s.versions[q.Subject]
	if q.SessionID != "" {
		st.SessionLive = s.sessions[q.SessionID].liveFor(q.Subject, q.Now)
	}
	return st, nil
}

// UseOnce records key in namespace until the given time and reports true
// only if no live record of it (one whose until is after now) existed. When
// a live record exists it answers false and keeps the later of both times.
func (s *Store) UseOnce(ctx context.Context, namespace, key string, until, now time.Time) (bool, error) {
	if err := store.ContextError(ctx); err != nil {
		return false, err
	}
	k := onceKey{namespace, key}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.once[k]
	first := !ok || !now.Before(cur)
	if first || until.After(cur) {
		s.once[k] = until
	}
	s.wrote(now)
	return first, nil
}

// LoadKeys reads the key ring called name: a copy of its blob and its
// version, or nil and 0 when there is none.
func (s *Store) LoadKeys(ctx context.Context, name string) ([]byte, uint64, error) {
	if err := store.ContextError(ctx); err != nil {
		return nil, 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.rings[name]
	return bytes.Clone(r.blob), r.version, nil
}

// SwapKeys replaces the key ring called name with a copy of blob if its
// version is still version, in one mutex section, and reports whether it
// did. Key rings are never swept.
func (s *Store) SwapKeys(ctx context.Context, name string, version uint64, blob []byte) (bool, error) {
	if err := store.ContextError(ctx); err != nil {
		return false, err
	}
	if err := store.CheckKeyRing(name, blob); err != nil {
		return false, fmt.Errorf("memstore: swap keys: %w", err)
	}
	blob = bytes.Clone(blob)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rings[name].version != version {
		return false, nil
	}
	s.rings[name] = keyRing{blob: blob, version: version + 1}
	return true, nil
}

// wrote counts one write made at now and, once enough writes have happened
// since the last sweep, sweeps. Called with s.mu held for writing.
func (s *Store) wrote(now time.Time) {
	if now.After(s.latest) {
		s.latest = now
	}
	s.writes++
	if s.writes >= s.sweepAt {
		s.sweep(now)
	}
}

// sweep removes every record that may be forgotten at now: sessions past
// their absolute expiry, deny-list and use-once entries past their until,
// each plus sweepMargin. Versions are never removed. Called with s.mu held
// for writing.
func (s *Store) sweep(now time.Time) {
	for id, rec := range s.sessions {
		if forgettable(rec.Session.ExpiresAt, now) {
			s.forget(id, rec)
		}
	}
	for k, until := range s.denied {
		if forgettable(until, now) {
			delete(s.denied, k)
		}
	}
	for k, until := range s.once {
		if forgettable(until, now) {
			delete(s.once, k)
		}
	}
	s.writes = 0
	s.sweepAt = max(minSweepEvery, len(s.sessions)+len(s.denied)+len(s.once))
	s.sweeps++
}

// forgettable reports whether a record that stops counting at expiry may be
// removed at now.
func forgettable(expiry, now time.Time) bool {
	return !now.Before(expiry.Add(sweepMargin))
}

// forget removes session id and its index entry. Called with s.mu held for
// writing.
func (s *Store) forget(id string, rec *record) {
	delete(s.sessions, id)
	if idx := s.bySubject[rec.Session.Subject]; idx != nil {
		delete(idx, id)
		if len(idx) == 0 {
			delete(s.bySubject, rec.Session.Subject)
		}
	}
}
