// Package boltstore is a [store.Store] in an embedded bbolt file: sessions
// survive a restart, with nothing else to run.
//
// One process opens the file ([Open]; a second one waits Options.LockTimeout
// for the file lock, then fails with an error wrapping [ErrLocked]), or an
// application hands over a bbolt database it already has ([New]). Several
// processes cannot share the file: use redisstore for that. boltstore
// implements the whole contract, declares [store.All] and runs the
// store/storetest conformance suite.
//
// # Layout
//
// The store keeps its data in eight top-level buckets of the file:
//
//   - "sessions": session id → the session (data, current hash, the last
//     [store.MinSpentHistory] spent hashes, the time of the last rotation
//     and the sealed successor, the revoked flag);
//   - "subjects": subject + session id → nothing, the index behind Sessions
//     and RevokeAll;
//   - "versions": subject → token version (never removed);
//   - "deny": subject + jti → the time the entry lasts until;
//   - "once": namespace + key → the time the record lasts until;
//   - "expiry": forget time + kind + key → nothing, the order in which the
//     janitor reclaims records;
//   - "meta": the format of the file, checked when the store is opened;
//   - "keys": key-ring name → version and blob ([store.KeyStore], for
//     sessionkit's managed signing keys), created by the first
//     [Store.SwapKeys], so that older files open unchanged.
//
// Subjects and namespaces in keys are preceded by their length, so no
// subject is a prefix of another's keys.
//
// # Atomicity and durability
//
// Every method is one bbolt transaction: reads are read transactions, and every
// write (a rotation included) decides its outcome and writes it in one write
// transaction, committed (fsynced) before the method returns. A method that
// returns an error has changed nothing. Concurrent writers share commits (group
// commit): writers that arrive while a transaction commits are run together in
// the next transaction, which commits once, so eight concurrent rotations cost
// one or two fsyncs instead of eight, while a lone writer commits at once, with
// no delay to tune. A write that decides to write nothing (an unknown token, a
// replay within the grace window) rolls back instead of committing and costs no
// fsync.
//
// Open uses bbolt's hash-map freelist and does not write the freelist at
// every commit (bbolt's NoFreelistSync): otherwise each commit rewrites the
// list of every free page, and a file with many free pages (after a bulk
// load, or after the janitor reclaimed many sessions) makes every rotation
// pay for it. Open rebuilds the freelist by scanning the file instead;
// BENCHMARKS.md gives both costs. A database given to New keeps the options
// it was opened with; these two are recommended for it. The file never
// shrinks: bbolt reuses the pages of removed records (its "compact" command
// rewrites a file offline).
//
// # Contexts
//
// Every method checks its context before it starts. A write waiting for its
// turn in the group commit gives up when its context ends, without having
// changed anything. Once a bbolt transaction has begun it cannot be stopped
// midway, so a method whose transaction is running finishes it even if its
// context ends meanwhile, and returns its outcome. So a rotation never takes
// effect after its caller gave up, nor is its answer lost: a slow disk holds
// the caller until the commit, and a retry comes after the answer (see
// [store.Rotation] on stores whose calls can be abandoned); the Issuer
// sets no default deadline on a [store.InProcess] store.
//
// # Expiry
//
// Liveness is decided by the now passed to each method: a record whose
// expiry has passed at that now is absent at once. Expired records stay in
// the file until the janitor, started only when Options.JanitorInterval is
// positive and stopped by Close, removes them: sessions one minute after
// their absolute expiry (revoked and expired sessions are remembered until
// then), deny-list and use-once entries one minute after their time. Token
// versions are never removed.
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/sessionkit/sessionkit/store"
)

const (
	// defaultLockTimeout is how long Open waits for the file lock when
	// Options.LockTimeout is zero.
	defaultLockTimeout = time.Second
	// sweepMargin is how long after its expiry a record is kept before the
	// janitor removes it, so that callers whose clocks differ slightly
	// still agree (the contract's "clean-up with a margin").
	sweepMargin = time.Minute
	// sweepChunk is how many records one janitor transaction removes at
	// most, so that writers never wait long behind it.
	sweepChunk = 1000
	// maxKeyPart is the longest subject, jti, use-once namespace or key the
	// store accepts, in bytes: two of them and a length make one bbolt key,
	// which may not exceed bbolt.MaxKeySize.
	maxKeyPart = 8 << 10
)

// Kinds of entries in the expiry bucket.
const (
	kindSession = 's'
	kindDeny    = 'd'
	kindOnce    = 'o'
)

var (
	bucketMeta     = []byte("meta")
	bucketSessions = []byte("sessions")
	bucketSubjects = []byte("subjects")
	bucketVersions = []byte("versions")
	bucketDeny     = []byte("deny")
	bucketOnce     = []byte("once")
	bucketExpiry   = []byte("expiry")

	keyFormat = []byte("format")
	// fileFormat names the layout described in the package documentation.
	fileFormat = []byte("sessionkit/boltstore/v1")
)

// ErrLocked is wrapped by the error Open returns when another process holds
// the database file (bbolt allows one writer process per file) and did not
// release it within Options.LockTimeout.
var ErrLocked = errors.New("boltstore: database file is locked by another process")

// Compile-time check that *Store implements the contract.
var _ store.Store = (*Store)(nil)

// Options configures a Store. The zero value opens the file with mode 0600,
// waits up to one second for its lock and starts no janitor.
type Options struct {
	// LockTimeout is how long Open waits for another process to release the
	// file before failing with an error wrapping ErrLocked. Zero means one
	// second; negative means one attempt, no waiting. Open only.
	LockTimeout time.Duration
	// FileMode is the permission of a file Open creates; zero means 0600
	// (owner only: the file holds session data). Open only.
	FileMode os.FileMode
	// MaxBatchSize caps how many concurrent writes share one transaction
	// (see the package documentation); zero or negative means 1000.
	MaxBatchSize int
	// JanitorInterval, when positive, starts one goroutine that removes
	// expired records at this interval until Close. Zero or negative starts
	// no goroutine, and expired records stay in the file (absent to every
	// method all the same).
	JanitorInterval time.Duration
	// Now is the janitor's clock; nil means time.Now. Only the janitor reads
	// it: every method decides liveness by the now it is given.
	Now func() time.Time
	// Logger receives the janitor's failures (a failed sweep is retried at
	// the next interval); nil discards them. Messages never contain token
	// material.
	Logger *slog.Logger
}

// Store is the bbolt store. Create one with Open or New; it is safe for
// concurrent use. Call Close when done.
type Store struct {
	db    *bbolt.DB
	owned bool // Open opened db: Close closes it
	batch *batcher

	now   func() time.Time
	log   *slog.Logger
	swept func(removed int, err error) // test hook, called after each janitor sweep

	stop      chan struct{} // nil without a janitor
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// hooks lets tests drive the janitor: tick replaces its ticker, swept is
// called after each sweep.
type hooks struct {
	tick  <-chan time.Time
	swept func(removed int, err error)
}

// Open opens (creating it if needed) the bbolt file at path and returns a
// store over it. If another process holds the file, Open waits up to
// opts.LockTimeout and then fails with an error wrapping [ErrLocked]. A
// file written by something other than this package's layout is refused.
// Close closes the file.
func Open(path string, opts Options) (*Store, error) {
	wait := opts.LockTimeout
	switch {
	case wait == 0:
		wait = defaultLockTimeout
	case wait < 0:
		wait = time.Nanosecond // bbolt: try once
	}
	mode := opts.FileMode
	if mode == 0 {
		mode = 0o600
	}
	if err := alreadyOpen(path); err != nil {
		return nil, err
	}
	db, err := bbolt.Open(path, mode, &bbolt.Options{
		Timeout:        wait,
		FreelistType:   bbolt.FreelistMapType,
		NoFreelistSync: true, // see "Atomicity and durability" in the package documentation
	})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, &lockedError{path: path, waited: max(opts.LockTimeout, 0), cause: err}
		}
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	s, err := newStore(db, true, opts, hooks{})
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	holdFile(s, path)
	return s, nil
}

// lockedError is Open's error for a file locked by another process.
type lockedError struct {
	path   string
	waited time.Duration // zero: Options.LockTimeout was negative
	cause  error
}

func (e *lockedError) Error() string {
	if e.waited == 0 {
		return fmt.Sprintf("boltstore: %s is locked by another process", e.path)
	}
	return fmt.Sprintf("boltstore: %s is locked by another process (waited %v)", e.path, e.waited)
}

func (e *lockedError) Is(target error) bool { return target == ErrLocked }

func (e *lockedError) Unwrap() error { return e.cause }

// New returns a store over db, an open, writable bbolt database, without a
// janitor. It creates the store's buckets if they are missing; other
// buckets of db are left alone. Close does not close db.
func New(db *bbolt.DB) (*Store, error) { return NewWithOptions(db, Options{}) }

// NewWithOptions is New configured by opts (LockTimeout and FileMode, which
// concern Open, are ignored). It starts a janitor goroutine only when
// opts.JanitorInterval is positive; stop it with Close, which does not close
// db.
func NewWithOptions(db *bbolt.DB, opts Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("boltstore: New needs a database, got nil")
	}
	return newStore(db, false, opts, hooks{})
}

func newStore(db *bbolt.DB, owned bool, opts Options, h hooks) (*Store, error) {
	if err := initFile(db, owned); err != nil {
		return nil, err
	}
	maxBatch := opts.MaxBatchSize
	if maxBatch <= 0 {
		maxBatch = defaultMaxBatch
	}
	s := &Store{
		db:    db,
		owned: owned,
		batch: &batcher{db: db, max: maxBatch},
		now:   opts.Now,
		log:   opts.Logger,
		swept: h.swept,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if opts.JanitorInterval > 0 || h.tick != nil {
		tick, stopTicker := h.tick, func() {}
		if tick == nil {
			t := time.NewTicker(opts.JanitorInterval)
			tick, stopTicker = t.C, t.Stop
		}
		s.stop = make(chan struct{})
		s.done = make(chan struct{})
		go s.janitor(tick, stopTicker)
	}
	return s, nil
}

// initFile creates the store's buckets and format mark if they are missing,
// and refuses a file of another format. A file that is ready already is
// only read. With own (the file is the store's alone, from Open), a file
// that holds buckets but no format mark is refused too: it belongs to
// something else.
func initFile(db *bbolt.DB, own bool) error {
	ready := false
	err := db.View(func(tx *bbolt.Tx) error {
		var err error
		ready, err = checkFormat(tx, own)
		return err
	})
	if err == nil && !ready {
		err = db.Update(func(tx *bbolt.Tx) error {
			if ready, err := checkFormat(tx, own); err != nil || ready {
				return err
			}
			for _, name := range [][]byte{bucketMeta, bucketSessions, bucketSubjects, bucketVersions, bucketDeny, bucketOnce, bucketExpiry} {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return fmt.Errorf("create bucket %q: %w", name, err)
				}
			}
			return tx.Bucket(bucketMeta).Put(keyFormat, fileFormat)
		})
	}
	if err != nil {
		return fmt.Errorf("boltstore: prepare %s: %w", db.Path(), err)
	}
	return nil
}

// checkFormat reports whether the file has this package's format mark and
// every bucket. A different mark is an error, and so, with own, is a file
// with buckets but no mark.
func checkFormat(tx *bbolt.Tx, own bool) (bool, error) {
	var f []byte
	if meta := tx.Bucket(bucketMeta); meta != nil {
		f = meta.Get(keyFormat)
	}
	switch {
	case f != nil && !bytes.Equal(f, fileFormat):
		return false, fmt.Errorf("the file holds format %q, this package reads %q", f, fileFormat)
	case f == nil && own:
		foreign := tx.ForEach(func([]byte, *bbolt.Bucket) error { return errForeign })
		if foreign != nil {
			return false, foreign
		}
		return false, nil
	case f == nil:
		return false, nil
	}
	_, err := bucketsOf(tx)
	return err == nil, nil
}

var errForeign = errors.New("the file holds buckets but no boltstore format mark: it is not a boltstore file")

// Close stops the janitor, if any, and waits for it to exit; a store made by
// Open also closes its file (and returns that error). Close is safe to call
// more than once. After Close, a store made by Open fails every method with
// an error wrapping [store.ErrUnavailable]; a store made by New keeps
// working (without a janitor) as long as its database is open.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.stop != nil {
			close(s.stop)
			<-s.done
		}
		if s.owned {
			s.closeErr = s.db.Close()
			releaseFile(s)
		}
	})
	return s.closeErr
}

// buckets are the store's buckets as one transaction sees them.
type buckets struct {
	sessions, subjects, versions, deny, once, expiry *bbolt.Bucket
}

var errMissingBucket = errors.New("boltstore: a bucket of the store is missing from the file")

func bucketsOf(tx *bbolt.Tx) (*buckets, error) {
	b := &buckets{
		sessions: tx.Bucket(bucketSessions),
		subjects: tx.Bucket(bucketSubjects),
		versions: tx.Bucket(bucketVersions),
		deny:     tx.Bucket(bucketDeny),
		once:     tx.Bucket(bucketOnce),
		expiry:   tx.Bucket(bucketExpiry),
	}
	if b.sessions == nil || b.subjects == nil || b.versions == nil || b.deny == nil || b.once == nil || b.expiry == nil {
		return nil, errMissingBucket
	}
	return b, nil
}

// view runs fn in a read transaction over the store's buckets.
func (s *Store) view(fn func(b *buckets) error) error {
	return s.db.View(func(tx *bbolt.Tx) error {
		b, err := bucketsOf(tx)
		if err != nil {
			return err
		}
		return fn(b)
	})
}

// update runs fn in a write transaction over the store's buckets, shared
// with concurrent writers (see batcher). fn must reset its results first:
// it may run more than once.
func (s *Store) update(ctx context.Context, fn func(b *buckets) (wrote bool, err error)) error {
	return s.batch.do(ctx, func(tx *bbolt.Tx) (bool, error) {
		b, err := bucketsOf(tx)
		if err != nil {
			return false, err
		}
		return fn(b)
	})
}

// unavailable wraps an error of the database (I/O, a closed file, a corrupt
// record) so that it is [store.ErrUnavailable].
func unavailable(op string, err error) error {
	if errors.Is(err, store.ErrUnavailable) {
		return fmt.Errorf("boltstore: %s: %w", op, err)
	}
	return fmt.Errorf("%w: boltstore: %s: %w", store.ErrUnavailable, op, err)
}

// ---- keys ----

// prefixKey returns a's length, a, then b: the key of b under a (a session
// id under its subject, a jti under its subject, a use-once key under its
// namespace). With b empty it is the prefix of all of a's keys.
func prefixKey(a, b string) []byte {
	k := make([]byte, 0, binary.MaxVarintLen64+len(a)+len(b))
	k = appendString(k, a)
	return append(k, b...)
}

// expiryKey returns the expiry-bucket key of a record of kind whose expiry
// is at: the second from which it may be forgotten (at + sweepMargin,
// rounded up), big-endian with the sign bit flipped so that keys sort by
// time, then kind and the record's key.
func expiryKey(kind byte, at time.Time, key []byte) []byte {
	k := make([]byte, 0, 9+len(key))
	k = binary.BigEndian.AppendUint64(k, uint64(forgetSecond(at))^(1<<63))
	k = append(k, kind)
	return append(k, key...)
}

// forgetSecond is the Unix second from which a record that stops counting
// at at may be forgotten.
func forgetSecond(at time.Time) int64 {
	if at.After(maxTime) {
		at = maxTime
	}
	f := at.Add(sweepMargin)
	sec := f.Unix()
	if f.Nanosecond() != 0 {
		sec++
	}
	return sec
}

// forgettable reports whether a record that stops counting at expiry may be
// removed at now.
func forgettable(expiry, now time.Time) bool {
	return !now.Before(expiry.Add(sweepMargin))
}

// ---- sessions ----

// Capabilities reports every capability: boltstore implements the whole
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
// parses), a non-empty Subject of at most 8 KiB, Generation 1 and ExpiresAt
// after CreatedAt; a zero LastUsedAt is set to CreatedAt and IdleExpiresAt
// is capped at ExpiresAt. An ID the store still remembers is an error, never
// overwritten; one it may forget (a minute past its absolute expiry, at
// CreatedAt) is replaced.
func (s *Store) Create(ctx context.Context, n store.NewSession) (store.Created, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.Created{}, err
	}
	nr, err := store.NewRecord(n)
	if err != nil {
		return store.Created{}, fmt.Errorf("boltstore: create session: %w", err)
	}
	if err := validate(&nr.Session); err != nil {
		return store.Created{}, err
	}
	rec := &record{nr}
	id := rec.Session.ID
	handle := store.FormatHandle(store.HandleInfo{Tag: store.SubjectTag(rec.Session.Subject), SessionID: id, Generation: 1})

	var version uint64
	var taken bool
	err = s.update(ctx, func(b *buckets) (bool, error) {
		var err error
		taken, version, err = b.create(rec)
		return !taken && err == nil, err
	})
	if err != nil {
		return store.Created{}, unavailable("create session", err)
	}
	if taken {
		return store.Created{}, fmt.Errorf("boltstore: create session: id %q already exists", id)
	}
	return store.Created{Handle: handle, Version: version}, nil
}

// validate checks what boltstore adds to store.CheckNewSession.
func validate(s *store.Session) error {
	if len(s.Subject) > maxKeyPart {
		return fmt.Errorf("boltstore: create session: Subject longer than %d bytes: %w", maxKeyPart, store.ErrTooLarge)
	}
	return nil
}

// create stores the new session r with its index and expiry entries and
// reads its subject's version. If a session with r's id is still
// remembered at r's CreatedAt it writes nothing and reports taken; one that
// may be forgotten is replaced.
func (b *buckets) create(r *record) (taken bool, version uint64, err error) {
	id, subject := r.Session.ID, r.Session.Subject
	if old := b.sessions.Get([]byte(id)); old != nil {
		prev, err := decodeRecord(id, old)
		if err != nil {
			return false, 0, err
		}
		if !forgettable(prev.Session.ExpiresAt, r.Session.CreatedAt) {
			return true, 0, nil
		}
		if err := b.forget(prev); err != nil {
			return false, 0, err
		}
	}
	if err := b.putSession(r); err != nil {
		return false, 0, err
	}
	if err := b.subjects.Put(prefixKey(subject, id), []byte{}); err != nil {
		return false, 0, err
	}
	if err := b.expiry.Put(expiryKey(kindSession, r.Session.ExpiresAt, []byte(id)), []byte{}); err != nil {
		return false, 0, err
	}
	version, err = b.version(subject)
	return false, version, err
}

// putSession writes r's value under its id.
func (b *buckets) putSession(r *record) error {
	return b.sessions.Put([]byte(r.Session.ID), r.encode())
}

// forget removes session r with its index and expiry entries.
func (b *buckets) forget(r *record) error {
	id := []byte(r.Session.ID)
	if err := b.sessions.Delete(id); err != nil {
		return err
	}
	if err := b.subjects.Delete(prefixKey(r.Session.Subject, r.Session.ID)); err != nil {
		return err
	}
	return b.expiry.Delete(expiryKey(kindSession, r.Session.ExpiresAt, id))
}

// version reads subject's token version.
func (b *buckets) version(subject string) (uint64, error) {
	v := b.versions.Get(prefixKey(subject, ""))
	if v == nil {
		return 0, nil
	}
	return decodeUint64(v)
}

// record reads session id; nil if there is none.
func (b *buckets) record(id string) (*record, error) {
	v := b.sessions.Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	return decodeRecord(id, v)
}

// Rotate replaces the current secret of the session the handle names,
// following the decision procedure of [store.Store.Rotate] step by step, in
// one write transaction (which commits only for Rotated and Reused).
func (s *Store) Rotate(ctx context.Context, r store.Rotation) (store.RotateResult, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.RotateResult{}, err
	}
	// 1. The handle must parse ...
	h, err := store.ParseStatefulHandle(r.Handle)
	if err != nil {
		return store.RotateResult{Outcome: store.Unknown}, nil
	}
	var res store.RotateResult
	err = s.update(ctx, func(b *buckets) (wrote bool, err error) {
		res, wrote, err = b.rotate(h, &r)
		return wrote, err
	})
	if err != nil {
		return store.RotateResult{}, unavailable("rotate", err)
	}
	return res, nil
}

// rotate is Rotate inside the transaction, decided by store.Record.Rotate;
// it reports whether it wrote.
func (b *buckets) rotate(h store.HandleInfo, r *store.Rotation) (store.RotateResult, bool, error) {
	// ... and name a remembered session whose subject tag matches.
	rec, err := b.record(h.SessionID)
	if err != nil || rec == nil || !rec.Names(h) {
		return store.RotateResult{Outcome: store.Unknown}, false, err
	}
	// The record lives for this transaction only: bbolt copies what Put
	// is given, so the rotation's slices need no copy.
	res, write := rec.Rotate(h, r)
	if write {
		if err := b.putSession(rec); err != nil {
			return store.RotateResult{}, false, err
		}
	}
	if res.Outcome == store.Rotated || res.Outcome == store.Replayed {
		v, err := b.version(rec.Session.Subject)
		if err != nil {
			return store.RotateResult{}, false, err
		}
		res.Version = v
	}
	return res, write, nil
}

// Sessions lists subject's live sessions (neither revoked nor expired at
// now), oldest first: by CreatedAt, then by ID. The slice is never nil.
func (s *Store) Sessions(ctx context.Context, subject string, now time.Time) ([]store.Session, error) {
	if err := store.ContextError(ctx); err != nil {
		return nil, err
	}
	var list []store.Session
	err := s.view(func(b *buckets) error {
		list = []store.Session{}
		prefix := prefixKey(subject, "")
		c := b.subjects.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			rec, err := b.record(string(k[len(prefix):]))
			if err != nil {
				return err
			}
			if rec != nil && rec.LiveFor(subject, now) {
				list = append(list, rec.Session)
			}
		}
		return nil
	})
	if err != nil {
		return nil, unavailable("list sessions", err)
	}
	store.SortSessions(list)
	return list, nil
}

// Lookup returns the live session the handle names if presented is the hash
// its generation selects; it writes nothing.
func (s *Store) Lookup(ctx context.Context, handle string, presented [32]byte, now time.Time) (store.Session, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.Session{}, err
	}
	h, err := store.ParseStatefulHandle(handle)
	if err != nil {
		return store.Session{}, err
	}
	var rec *record
	var why error
	err = s.view(func(b *buckets) error {
		var err error
		rec, why, err = b.proven(h, presented, now)
		return err
	})
	if err != nil {
		return store.Session{}, unavailable("look up session", err)
	}
	if why != nil {
		return store.Session{}, why
	}
	return rec.Session, nil
}

// proven finds the live session handle h names under the proof presented.
// A missing or dead session is reported by why (wrapping
// store.ErrNotFound); err is a failure of the database.
func (b *buckets) proven(h store.HandleInfo, presented [32]byte, now time.Time) (rec *record, why, err error) {
	rec, err = b.record(h.SessionID)
	if err != nil {
		return nil, nil, err
	}
	if rec == nil || !rec.Proves(h, presented, now) {
		return nil, fmt.Errorf("%w: boltstore: no live session for this token", store.ErrNotFound), nil
	}
	return rec, nil, nil
}

// Revoke ends the live session the handle names when presented is the hash
// its generation selects (current, previous or a kept spent one), and
// returns the session as it was. Anything else is [store.ErrNotFound] and
// changes nothing.
func (s *Store) Revoke(ctx context.Context, handle string, presented [32]byte, now time.Time) (store.Session, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.Session{}, err
	}
	h, err := store.ParseStatefulHandle(handle)
	if err != nil {
		return store.Session{}, err
	}
	var was store.Session
	var why error
	err = s.update(ctx, func(b *buckets) (bool, error) {
		was, why = store.Session{}, nil
		rec, notFound, err := b.proven(h, presented, now)
		if err != nil || notFound != nil {
			why = notFound
			return false, err
		}
		was = rec.Session
		rec.Revoked = true
		return true, b.putSession(rec)
	})
	if err != nil {
		return store.Session{}, unavailable("revoke session", err)
	}
	if why != nil {
		return store.Session{}, why
	}
	return was, nil
}

// RevokeSession ends subject's live session id. A session of another
// subject, a dead one or none is [store.ErrNotFound] and changes nothing.
func (s *Store) RevokeSession(ctx context.Context, subject, id string, now time.Time) error {
	if err := store.ContextError(ctx); err != nil {
		return err
	}
	found := false
	err := s.update(ctx, func(b *buckets) (bool, error) {
		found = false
		rec, err := b.record(id)
		if err != nil || rec == nil || !rec.LiveFor(subject, now) {
			return false, err
		}
		found = true
		rec.Revoked = true
		return true, b.putSession(rec)
	})
	if err != nil {
		return unavailable("revoke session", err)
	}
	if !found {
		return fmt.Errorf("%w: boltstore: no live session with this id for this subject", store.ErrNotFound)
	}
	return nil
}

// RevokeAll revokes every session of subject and bumps its token version in
// the same transaction, returning the new version.
func (s *Store) RevokeAll(ctx context.Context, subject string, now time.Time) (uint64, error) {
	if err := store.ContextError(ctx); err != nil {
		return 0, err
	}
	if len(subject) > maxKeyPart {
		return 0, fmt.Errorf("boltstore: revoke all: subject longer than %d bytes: %w", maxKeyPart, store.ErrTooLarge)
	}
	var version uint64
	err := s.update(ctx, func(b *buckets) (bool, error) {
		version = 0
		prefix := prefixKey(subject, "")
		c := b.subjects.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			rec, err := b.record(string(k[len(prefix):]))
			if err != nil {
				return false, err
			}
			if rec == nil || rec.Revoked || rec.Session.Subject != subject {
				continue
			}
			rec.Revoked = true
			if err := b.putSession(rec); err != nil {
				return false, err
			}
		}
		v, err := b.version(subject)
		if err != nil {
			return false, err
		}
		version = v + 1
		return true, b.versions.Put(prefix, encodeUint64(version))
	})
	if err != nil {
		return 0, unavailable("revoke all", err)
	}
	return version, nil
}

// Deny puts jti, an access token of subject, on the deny-list until the
// given time (keeping the later time if the entry exists). CheckAccess
// reports it while until is after its now.
func (s *Store) Deny(ctx context.Context, subject, jti string, until time.Time) error {
	if err := store.ContextError(ctx); err != nil {
		return err
	}
	if len(subject) > maxKeyPart || len(jti) > maxKeyPart {
		return fmt.Errorf("boltstore: deny: subject or jti longer than %d bytes: %w", maxKeyPart, store.ErrTooLarge)
	}
	key := prefixKey(subject, jti)
	err := s.update(ctx, func(b *buckets) (bool, error) {
		return b.extend(b.deny, kindDeny, key, until)
	})
	if err != nil {
		return unavailable("deny", err)
	}
	return nil
}

// extend records key in bucket (deny or once) until the given time, unless
// it is recorded until that time or later already; it keeps the expiry
// index in step. It reports whether it wrote.
func (b *buckets) extend(bucket *bbolt.Bucket, kind byte, key []byte, until time.Time) (bool, error) {
	if v := bucket.Get(key); v != nil {
		cur, err := decodeTime(v)
		if err != nil {
			return false, err
		}
		if !until.After(cur) {
			return false, nil
		}
		if err := b.expiry.Delete(expiryKey(kind, cur, key)); err != nil {
			return false, err
		}
	}
	if err := bucket.Put(key, encodeTime(until)); err != nil {
		return false, err
	}
	return true, b.expiry.Put(expiryKey(kind, until, key), []byte{})
}

// Version reads subject's token version, 0 if it was never bumped.
func (s *Store) Version(ctx context.Context, subject string) (uint64, error) {
	if err := store.ContextError(ctx); err != nil {
		return 0, err
	}
	var v uint64
	err := s.view(func(b *buckets) error {
		var err error
		v, err = b.version(subject)
		return err
	})
	if err != nil {
		return 0, unavailable("read version", err)
	}
	return v, nil
}

// CheckAccess reads the deny-list entry of the token's jti, the subject's
// token version and the liveness of the token's session in one read
// transaction.
func (s *Store) CheckAccess(ctx context.Context, q store.AccessCheck) (store.AccessState, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.AccessState{}, err
	}
	var st store.AccessState
	err := s.view(func(b *buckets) error {
		st = store.AccessState{}
		if v := b.deny.Get(prefixKey(q.Subject, q.JTI)); v != nil {
			until, err := decodeTime(v)
			if err != nil {
				return err
			}
			st.Denied = q.Now.Before(until)
		}
		var err error
		if st.Version, err = b.version(q.Subject); err != nil {
			return err
		}
		if q.SessionID != "" {
			if v := b.sessions.Get([]byte(q.SessionID)); v != nil {
				st.SessionLive, err = liveIn(v, q.Subject, q.Now)
			}
		}
		return err
	})
	if err != nil {
		return store.AccessState{}, unavailable("check access", err)
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
	if len(namespace) > maxKeyPart || len(key) > maxKeyPart {
		return false, fmt.Errorf("boltstore: use once: namespace or key longer than %d bytes: %w", maxKeyPart, store.ErrTooLarge)
	}
	k := prefixKey(namespace, key)
	first := false
	err := s.update(ctx, func(b *buckets) (bool, error) {
		first = true
		if v := b.once.Get(k); v != nil {
			cur, err := decodeTime(v)
			if err != nil {
				return false, err
			}
			first = !now.Before(cur)
			if first {
				// The old record is dead: replace it whatever its time.
				if err := b.expiry.Delete(expiryKey(kindOnce, cur, k)); err != nil {
					return false, err
				}
				if err := b.once.Delete(k); err != nil {
					return false, err
				}
			}
		}
		return b.extend(b.once, kindOnce, k, until)
	})
	if err != nil {
		return false, unavailable("use once", err)
	}
	return first, nil
}
