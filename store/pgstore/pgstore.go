package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit/store"
)

const (
	// DefaultSchema is the PostgreSQL schema the store's tables live in
	// when Options.Schema is empty.
	DefaultSchema = "public"
	// forgetMargin is how long after its expiry a record is kept before
	// the janitor may remove it (and Create may reuse a session id), so
	// that callers whose clocks differ slightly still agree: the
	// contract's "clean-up with a margin".
	forgetMargin = time.Minute
	// maxName is the longest subject, jti, use-once namespace or key the
	// store accepts, in bytes. Rows are looked up by a hash of the names,
	// so the limit only keeps absurd inputs out of the table.
	maxName = 64 << 10
	// maxAttempts bounds the read-decide-write rounds of a rotation or a
	// revocation that keep losing their compare-and-set to concurrent
	// writers of the same session.
	maxAttempts = 8
)

// Options configures a Store. The zero value is valid.
type Options struct {
	// Schema is the PostgreSQL schema holding the store's tables
	// (default "public"). Migrate creates it if it does not exist. Two
	// applications (or two test runs) sharing one database keep apart by
	// using different schemas.
	Schema string
	// JanitorInterval, when positive, starts one goroutine that removes
	// expired rows at this interval until Close (see Expiry in the package
	// documentation). Zero or negative starts none: expired rows then stay
	// until something else deletes them, never counting as live.
	JanitorInterval time.Duration
	// Now is the janitor's clock; nil means time.Now. Only the janitor
	// reads it: every method decides liveness by the now it is given.
	Now func() time.Time
	// Logger receives the janitor's failures (a failed sweep is retried at
	// the next interval); nil means slog.Default().
	Logger *slog.Logger
}

// Store is a [store.Store] and a [store.KeyStore] in PostgreSQL. It is
// safe for concurrent use. Create it with [New]; the pool stays the
// caller's.
type Store struct {
	pool *pgxpool.Pool
	q    queries
	now  func() time.Time
	log  *slog.Logger

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}

	schema string
}

// New returns a Store on pool, with its tables in opts.Schema. It does no
// I/O: call [Store.Migrate] once before the first use (at every start is
// fine: it is idempotent), or [NewChecked], which migrates too. It starts
// a janitor goroutine only when opts.JanitorInterval is positive; stop it
// with Close.
func New(pool *pgxpool.Pool, opts Options) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgstore: New: nil pool")
	}
	schema := opts.Schema
	if schema == "" {
		schema = DefaultSchema
	}
	if len(schema) > 63 {
		return nil, fmt.Errorf("pgstore: New: schema name %q longer than 63 bytes (PostgreSQL would truncate it)", schema)
	}
	s := &Store{pool: pool, q: newQueries(schema), now: opts.Now, log: opts.Logger, schema: schema}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.startJanitor(opts.JanitorInterval)
	return s, nil
}

// startJanitor starts the janitor when every is positive.
func (s *Store) startJanitor(every time.Duration) {
	if every > 0 {
		s.stop = make(chan struct{})
		s.done = make(chan struct{})
		go s.janitor(every)
	}
}

// NewChecked is New followed by Migrate: for a program that should not
// start without its database, it fails at once with the reason (server
// down, wrong credentials, a schema newer than this code). Give ctx a
// deadline. On failure nothing is started and the pool stays open: it is
// the caller's.
func NewChecked(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	noJanitor := opts
	noJanitor.JanitorInterval = 0
	s, err := New(pool, noJanitor)
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		return nil, err
	}
	s.startJanitor(opts.JanitorInterval)
	return s, nil
}

// Close stops the janitor, if one runs, and waits for it. It does not
// close the pool. Calling it more than once is fine.
func (s *Store) Close() error {
	if s.stop == nil {
		return nil
	}
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

// Schema names the PostgreSQL schema holding the store's tables.
func (s *Store) Schema() string { return s.schema }

// Capabilities reports every feature of the contract.
func (s *Store) Capabilities() store.Capabilities { return store.All }

// ParseHandle decodes a handle made by this store (see
// [store.ParseStatefulHandle]); errors wrap [store.ErrNotFound].
func (s *Store) ParseHandle(handle string) (store.HandleInfo, error) {
	return store.ParseStatefulHandle(handle)
}

// unavailable wraps a failure of the database as store.ErrUnavailable,
// with ctx's error when ctx ended, and a hint when the tables are missing.
func unavailable(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("pgstore: %s: %w: %w", op, store.ErrUnavailable, cerr)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000") {
		return fmt.Errorf("pgstore: %s: the store's tables are missing (call Store.Migrate once before use): %w: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("pgstore: %s: %w: %w", op, store.ErrUnavailable, err)
}

// tooLong checks the names a write keys by.
func tooLong(op string, names ...string) error {
	for _, n := range names {
		if len(n) > maxName {
			return fmt.Errorf("pgstore: %s: a name of %d bytes exceeds %d: %w", op, len(n), maxName, store.ErrTooLarge)
		}
	}
	return nil
}

// validID reports whether id can be a session id of this store (1 to 64
// base64url characters, as store.CheckNewSession requires). Ids from
// elsewhere (a sid claim, a revocation request) that are not cannot name
// a session, and never reach the text column, which would refuse bytes
// that are not UTF-8 with an error.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// b converts a string to the bytes of a NOT NULL bytea column (never nil,
// which pgx would send as NULL).
func b(s string) []byte {
	if s == "" {
		return []byte{}
	}
	return []byte(s)
}

// Create stores a new session and returns the handle of its first
// generation with the subject's current token version, in one statement.
// The session must pass [store.NewRecord]'s checks and have a Subject of
// at most 64 KiB. An ID the store still remembers is an error, never
// overwritten; one it may forget (a minute past its absolute expiry, at
// CreatedAt) is replaced.
func (s *Store) Create(ctx context.Context, n store.NewSession) (store.Created, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.Created{}, err
	}
	rec, err := store.NewRecord(n)
	if err != nil {
		return store.Created{}, fmt.Errorf("pgstore: create session: %w", err)
	}
	if err := tooLong("create session", rec.Session.Subject); err != nil {
		return store.Created{}, err
	}
	ss := &rec.Session
	var epoch int64
	err = s.pool.QueryRow(ctx, s.q.create,
		ss.ID, subjectKey(ss.Subject), b(ss.Subject), b(ss.ClientID), b(ss.Scope), ss.Claims,
		b(ss.Device.UserAgent), b(ss.Device.IP), ns(ss.CreatedAt), ns(ss.LastUsedAt),
		ns(ss.IdleExpiresAt), ns(ss.ExpiresAt), rec.Current[:], ns(ss.CreatedAt.Add(-forgetMargin)),
	).Scan(&epoch)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Created{}, fmt.Errorf("pgstore: create session: id %q already exists", ss.ID)
	}
	if err != nil {
		return store.Created{}, unavailable(ctx, "create session", err)
	}
	handle := store.FormatHandle(store.HandleInfo{Tag: store.SubjectTag(ss.Subject), SessionID: ss.ID, Generation: 1})
	return store.Created{Handle: handle, Version: uint64(epoch)}, nil
}

// row is a session row as read: the record the rules decide over, with
// what the compare-and-set of a write needs.
type row struct {
	rec store.Record
	// version is the subject's token version, read with the row.
	version uint64
	// serverMicros is the server's clock when it read the row (Unix
	// microseconds), no later than arrived on the local clock.
	serverMicros int64
	arrived      time.Time
}

// read reads session id with its subject's version in one statement; nil
// when there is none.
func (s *Store) read(ctx context.Context, id string) (*row, error) {
	r := &row{}
	var (
		subject, clientID, scope, ua, ip, current, spent []byte
		created, lastUsed, idle, expires, gen, epoch     int64
		version                                          int64
		rotated                                          *int64
		revoked                                          bool
	)
	ss := &r.rec.Session
	err := s.pool.QueryRow(ctx, s.q.read, id).Scan(&subject, &clientID, &scope, &ss.Claims, &ua, &ip,
		&created, &lastUsed, &idle, &expires, &gen, &current, &spent, &rotated, &r.rec.Sealed, &revoked, &epoch,
		&version, &r.serverMicros)
	r.arrived = time.Now()
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(current) != 32 || gen < 1 || epoch < 0 || version < 0 {
		return nil, errCorrupt
	}
	if r.rec.Spent, err = decodeSpent(spent); err != nil {
		return nil, err
	}
	ss.ID, ss.Subject, ss.ClientID, ss.Scope = id, string(subject), string(clientID), string(scope)
	ss.Device = store.Device{UserAgent: string(ua), IP: string(ip)}
	ss.CreatedAt, ss.LastUsedAt = fromNS(created), fromNS(lastUsed)
	ss.IdleExpiresAt, ss.ExpiresAt = fromNS(idle), fromNS(expires)
	ss.Generation = uint64(gen)
	copy(r.rec.Current[:], current)
	if rotated != nil {
		r.rec.RotatedAt = fromNS(*rotated)
	}
	r.version = uint64(version)
	// A logout-all after the session's creation revoked it.
	r.rec.Revoked = revoked || uint64(epoch) < r.version
	return r, nil
}

// errLate reports a write withheld because the caller's deadline had
// passed on the server's clock.
var errLate = errors.New("the context's deadline passed before the write reached the server")

// writeBack writes the record of r, as the rules left it, if and only if
// the row still holds the session read (same id, subject and creation
// time) in the state read: the same generation, not revoked, not ended by
// a logout-all since. It reports false, having written nothing, when a concurrent
// writer won. With cutoff, the write also takes effect only if the
// server reaches and locks the row before ctx's deadline on its clock
// (errLate otherwise).
func (s *Store) writeBack(ctx context.Context, r *row, readGen uint64, cutoff bool) (bool, error) {
	rec := &r.rec
	var late *int64
	if cutoff {
		if d, ok := ctx.Deadline(); ok {
			// The server read the row at serverMicros, no later than
			// arrived on the local clock: a server time below
			// serverMicros + (d - arrived) is before d here.
			v := r.serverMicros + d.Sub(r.arrived).Microseconds()
			late = &v
		}
	}
	var rotated *int64
	if !rec.RotatedAt.IsZero() {
		v := ns(rec.RotatedAt)
		rotated = &v
	}
	ss := &rec.Session
	var wrote, tooLate bool
	err := s.pool.QueryRow(ctx, s.q.writeBack, ss.ID, int64(readGen), subjectKey(ss.Subject), late,
		int64(ss.Generation), rec.Current[:], encodeSpent(rec.Spent), rotated, rec.Sealed,
		ns(ss.LastUsedAt), ns(ss.IdleExpiresAt), ss.Claims, rec.Revoked, ns(ss.CreatedAt),
	).Scan(&wrote, &tooLate)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "22012" {
		return false, errLate // the row lock came after the deadline: nothing written
	}
	if err != nil {
		return false, err
	}
	if !wrote && tooLate {
		return false, errLate
	}
	return wrote, nil
}

// Rotate replaces the current secret of the session the handle names,
// deciding the outcome with [store.Record.Rotate]. It reads the session
// with its subject's version in one statement; the outcomes that write
// (Rotated, Reused) then write back with a compare-and-set on the
// generation read, which a concurrent rotation of the same session makes
// fail: then it reads again and decides again. A rotation under a context
// with a deadline takes effect only before that deadline on the server's
// clock (see [store.Rotation]); past it, it writes nothing and fails with
// an error wrapping store.ErrUnavailable. (Only the commit itself, when the
// server's disk or a synchronous standby delays it past the deadline, can
// still land late: see Contexts and faults in the package documentation.)
func (s *Store) Rotate(ctx context.Context, r store.Rotation) (store.RotateResult, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.RotateResult{}, err
	}
	// 1. The handle must parse ...
	h, err := store.ParseStatefulHandle(r.Handle)
	if err != nil {
		return store.RotateResult{Outcome: store.Unknown}, nil
	}
	for range maxAttempts {
		row, err := s.read(ctx, h.SessionID)
		if err != nil {
			return store.RotateResult{}, unavailable(ctx, "rotate", err)
		}
		// ... and name a remembered session whose subject tag matches.
		if row == nil || !row.rec.Names(h) {
			return store.RotateResult{Outcome: store.Unknown}, nil
		}
		readGen := row.rec.Session.Generation
		res, write := row.rec.Rotate(h, &r)
		if write {
			// Only a rotation must not take effect late; a revocation
			// for reuse may.
			wrote, err := s.writeBack(ctx, row, readGen, res.Outcome == store.Rotated)
			if err != nil {
				return store.RotateResult{}, unavailable(ctx, "rotate", err)
			}
			if !wrote {
				continue // a concurrent writer changed the session: decide again
			}
		}
		if res.Outcome == store.Rotated || res.Outcome == store.Replayed {
			res.Version = row.version
		}
		return res, nil
	}
	return store.RotateResult{}, unavailable(ctx, "rotate", fmt.Errorf("the session changed under %d attempts in a row", maxAttempts))
}

// Sessions lists subject's live sessions (neither revoked nor expired at
// now), oldest first: by CreatedAt, then by ID. The slice is never nil.
func (s *Store) Sessions(ctx context.Context, subject string, now time.Time) ([]store.Session, error) {
	if err := store.ContextError(ctx); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, s.q.sessions, subjectKey(subject), ns(now))
	if err != nil {
		return nil, unavailable(ctx, "list sessions", err)
	}
	list := []store.Session{}
	for rows.Next() {
		var (
			id                                    string
			subj, clientID, scope, claims, ua, ip []byte
			created, lastUsed, idle, expires, gen int64
			revoked                               bool
			epoch, version                        int64
		)
		if err := rows.Scan(&id, &subj, &clientID, &scope, &claims, &ua, &ip, &created, &lastUsed, &idle, &expires, &gen, &revoked, &epoch, &version); err != nil {
			rows.Close()
			return nil, unavailable(ctx, "list sessions", err)
		}
		rec := store.Record{Session: store.Session{
			ID: id, Subject: string(subj), ClientID: string(clientID), Scope: string(scope), Claims: claims,
			Device:    store.Device{UserAgent: string(ua), IP: string(ip)},
			CreatedAt: fromNS(created), LastUsedAt: fromNS(lastUsed), IdleExpiresAt: fromNS(idle), ExpiresAt: fromNS(expires),
			Generation: uint64(gen),
		}, Revoked: revoked || epoch < version}
		if rec.LiveFor(subject, now) {
			list = append(list, rec.Session)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(ctx, "list sessions", err)
	}
	store.SortSessions(list)
	return list, nil
}

// Lookup returns the live session the handle names if presented is the
// hash its generation selects; it writes nothing.
func (s *Store) Lookup(ctx context.Context, handle string, presented [32]byte, now time.Time) (store.Session, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.Session{}, err
	}
	h, err := store.ParseStatefulHandle(handle)
	if err != nil {
		return store.Session{}, err
	}
	row, err := s.read(ctx, h.SessionID)
	if err != nil {
		return store.Session{}, unavailable(ctx, "look up session", err)
	}
	if row == nil || !row.rec.Proves(h, presented, now) {
		return store.Session{}, errNoProvenSession
	}
	return row.rec.Session, nil
}

var errNoProvenSession = fmt.Errorf("%w: pgstore: no live session for this token", store.ErrNotFound)

// Revoke ends the live session the handle names when presented is the
// hash its generation selects (current, previous or a kept spent one), and
// returns the session as it was. Anything else is [store.ErrNotFound] and
// changes nothing. Like Rotate, it reads, decides with [store.Record] and
// writes with a compare-and-set.
func (s *Store) Revoke(ctx context.Context, handle string, presented [32]byte, now time.Time) (store.Session, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.Session{}, err
	}
	h, err := store.ParseStatefulHandle(handle)
	if err != nil {
		return store.Session{}, err
	}
	for range maxAttempts {
		row, err := s.read(ctx, h.SessionID)
		if err != nil {
			return store.Session{}, unavailable(ctx, "revoke session", err)
		}
		if row == nil || !row.rec.Proves(h, presented, now) {
			return store.Session{}, errNoProvenSession
		}
		was := row.rec.Session
		row.rec.Revoked = true
		wrote, err := s.writeBack(ctx, row, was.Generation, false)
		if err != nil {
			return store.Session{}, unavailable(ctx, "revoke session", err)
		}
		if wrote {
			return was, nil
		}
	}
	return store.Session{}, unavailable(ctx, "revoke session", fmt.Errorf("the session changed under %d attempts in a row", maxAttempts))
}

// RevokeSession ends subject's live session id, in one statement. A
// session of another subject, a dead one or none is [store.ErrNotFound]
// and changes nothing.
func (s *Store) RevokeSession(ctx context.Context, subject, id string, now time.Time) error {
	if err := store.ContextError(ctx); err != nil {
		return err
	}
	var n int64
	if validID(id) {
		tag, err := s.pool.Exec(ctx, s.q.revokeSession, id, subjectKey(subject), b(subject), ns(now))
		if err != nil {
			return unavailable(ctx, "revoke session", err)
		}
		n = tag.RowsAffected()
	}
	if n == 0 {
		return fmt.Errorf("%w: pgstore: no live session with this id for this subject", store.ErrNotFound)
	}
	return nil
}

// RevokeAll ends every session of subject by bumping its token version, in
// one statement, and returns the new version: a session counts as revoked
// once the version is above the one it was created under (see "One round
// trip, decisions in Go" in the package documentation), so that no login
// racing the logout-all escapes it.
func (s *Store) RevokeAll(ctx context.Context, subject string, now time.Time) (uint64, error) {
	if err := store.ContextError(ctx); err != nil {
		return 0, err
	}
	if err := tooLong("revoke all", subject); err != nil {
		return 0, err
	}
	var v int64
	if err := s.pool.QueryRow(ctx, s.q.revokeAll, subjectKey(subject)).Scan(&v); err != nil {
		return 0, unavailable(ctx, "revoke all", err)
	}
	return uint64(v), nil
}

// Deny puts jti, an access token of subject, on the deny-list until the
// given time (keeping the later time if the entry exists). CheckAccess
// reports it while until is after its now.
func (s *Store) Deny(ctx context.Context, subject, jti string, until time.Time) error {
	if err := store.ContextError(ctx); err != nil {
		return err
	}
	if err := tooLong("deny", subject, jti); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, s.q.deny, nameKey(keyDeny, subject, jti), ns(until)); err != nil {
		return unavailable(ctx, "deny", err)
	}
	return nil
}

// Version reads subject's token version, 0 if it was never bumped.
func (s *Store) Version(ctx context.Context, subject string) (uint64, error) {
	if err := store.ContextError(ctx); err != nil {
		return 0, err
	}
	var v int64
	if err := s.pool.QueryRow(ctx, s.q.version, subjectKey(subject)).Scan(&v); err != nil {
		return 0, unavailable(ctx, "read version", err)
	}
	return uint64(v), nil
}

// CheckAccess reads the deny-list entry of the token's jti, the subject's
// token version and the liveness of the token's session in one statement.
func (s *Store) CheckAccess(ctx context.Context, q store.AccessCheck) (store.AccessState, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.AccessState{}, err
	}
	var (
		version          int64
		denied           bool
		subject          []byte
		revoked          *bool
		epoch, idle, exp *int64
	)
	sid := q.SessionID
	if !validID(sid) {
		sid = "" // names no session
	}
	err := s.pool.QueryRow(ctx, s.q.checkAccess, subjectKey(q.Subject), nameKey(keyDeny, q.Subject, q.JTI), sid, ns(q.Now)).
		Scan(&version, &denied, &subject, &revoked, &epoch, &idle, &exp)
	if err != nil {
		return store.AccessState{}, unavailable(ctx, "check access", err)
	}
	st := store.AccessState{Denied: denied, Version: uint64(version)}
	if sid != "" && revoked != nil && epoch != nil && idle != nil && exp != nil {
		rec := store.Record{
			Session: store.Session{Subject: string(subject), IdleExpiresAt: fromNS(*idle), ExpiresAt: fromNS(*exp)},
			Revoked: *revoked || *epoch < version,
		}
		st.SessionLive = rec.LiveFor(q.Subject, q.Now)
	}
	return st, nil
}

// UseOnce records key in namespace until the given time and reports true
// only if no live record of it (one whose until is after now) existed, in
// one statement (the row lock of its upsert orders concurrent calls). When
// a live record exists it answers false and keeps the later of both
// times.
func (s *Store) UseOnce(ctx context.Context, namespace, key string, until, now time.Time) (bool, error) {
	if err := store.ContextError(ctx); err != nil {
		return false, err
	}
	if err := tooLong("use once", namespace, key); err != nil {
		return false, err
	}
	var first bool
	if err := s.pool.QueryRow(ctx, s.q.useOnce, nameKey(keyOnce, namespace, key), ns(until), ns(now)).Scan(&first); err != nil {
		return false, unavailable(ctx, "use once", err)
	}
	return first, nil
}
