package redisstore

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/store"
)

// DefaultPrefix is the key prefix used when Options.Prefix is empty.
const DefaultPrefix = "sessionkit:"

// DefaultExpiryMargin is the clean-up margin used when Options.ExpiryMargin
// is zero.
const DefaultExpiryMargin = 5 * time.Minute

// maxGeneration is the largest generation the scripts compare exactly (Lua
// numbers are doubles). No session rotates that often; a handle naming a
// larger generation names nothing.
const maxGeneration = 1 << 53

// Compile-time check that *Store implements the contract.
var _ store.Store = (*Store)(nil)

// Options configures a Store. The zero value is valid.
type Options struct {
	// Prefix is prepended to every key (default DefaultPrefix), so that
	// several applications, or tests, can share a server. It must not
	// contain '{' or '}': the subject's hash tag follows it.
	Prefix string
	// ExpiryMargin is how long after a record stops counting its native
	// expiry (PXAT) removes it (default DefaultExpiryMargin). It absorbs
	// clock differences between the application servers, whose now decides
	// liveness, and the Redis server, whose clock runs the expiry. Negative
	// values are refused.
	ExpiryMargin time.Duration
}

// Store is a store.Store on Redis. Create one with New; it is safe for
// concurrent use. It does not own the client: close the client yourself.
type Store struct {
	client redis.UniversalClient
	prefix string
	margin int64 // ms
	// channel is where the scripts that revoke announce it (view.go):
	// Channel(prefix); channelArg, the same as a script argument, boxed
	// once.
	channel    string
	channelArg any
	// ctxDeadlines reports that the client sets its socket deadlines from
	// the context (ContextTimeoutEnabled), so a call whose context has a
	// deadline needs no guard goroutine.
	ctxDeadlines bool
	// The servers' clocks, for the cut-off of a rotation (serverclock.go):
	// clock for a client that talks to one server at a time, clocks (node
	// address -> *serverClock) for a Cluster client (cluster non-nil).
	clock   serverClock
	clocks  sync.Map
	cluster *redis.ClusterClient
	// noCutoff switches the cut-off off: the tests' way to show what it
	// prevents (export_test.go).
	noCutoff bool
}

// New returns a Store on client, which may be a single node, a Sentinel
// failover client or a Cluster client (any redis.UniversalClient). It
// checks opts; it does not contact the server.
func New(client redis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: New needs a client")
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("redisstore: Options.Prefix %q must not contain '{' or '}' (the subject's hash tag follows it)", prefix)
	}
	margin := opts.ExpiryMargin
	switch {
	case margin < 0:
		return nil, fmt.Errorf("redisstore: Options.ExpiryMargin must not be negative, got %v", margin)
	case margin == 0:
		margin = DefaultExpiryMargin
	}
	if margin < time.Millisecond {
		margin = time.Millisecond
	}
	return &Store{
		client:       client,
		prefix:       prefix,
		channel:      Channel(prefix),
		channelArg:   Channel(prefix),
		margin:       margin.Milliseconds(),
		ctxDeadlines: honoursContextDeadlines(client),
		cluster:      clusterOf(client),
	}, nil
}

// honoursContextDeadlines reports whether client is one of go-redis's own
// clients configured to take its socket deadlines from the context:
// ContextTimeoutEnabled, and read and write deadlines not switched off
// (go-redis sets no deadline at all when they are, context or not).
func honoursContextDeadlines(c redis.UniversalClient) bool {
	ok := func(enabled bool, read, write time.Duration) bool {
		return enabled && read >= 0 && write >= 0
	}
	switch c := c.(type) {
	case *redis.Client:
		o := c.Options()
		return ok(o.ContextTimeoutEnabled, o.ReadTimeout, o.WriteTimeout)
	case *redis.ClusterClient:
		o := c.Options()
		return ok(o.ContextTimeoutEnabled, o.ReadTimeout, o.WriteTimeout)
	case *redis.Ring:
		o := c.Options()
		return ok(o.ContextTimeoutEnabled, o.ReadTimeout, o.WriteTimeout)
	}
	return false
}

// ---- keys ----
//
// Every key of a subject carries its tag, store.SubjectTag(subject), in
// braces: the Redis Cluster hash tag, so they all live in one slot. The
// prefix, which cannot contain braces, comes first.

func (s *Store) sessionPrefix(tag string) string { return s.prefix + "s:{" + tag + "}:" }

func (s *Store) sessionKey(tag, id string) string { return s.sessionPrefix(tag) + id }

func (s *Store) indexKey(tag string) string { return s.prefix + "i:{" + tag + "}" }

func (s *Store) versionKey(tag string) string { return s.prefix + "v:{" + tag + "}" }

// rotateFieldsLen is the length of rotateScript's numbers argument: five
// header numbers, two lengths and the cut-off.
const rotateFieldsLen = 6*numWidth + 2*lenWidth

// rotateKeys returns rotateScript's keys (session, versions, index) cut
// from one string: one allocation for the three.
func (s *Store) rotateKeys(tag, id string) [3]string {
	all := s.prefix + "s:{" + tag + "}:" + id + s.prefix + "v:{" + tag + "}" + s.prefix + "i:{" + tag + "}"
	n := len(s.prefix) + 5 + len(tag) + len(id)
	m := n + len(s.prefix) + 4 + len(tag)
	return [3]string{all[:n], all[n:m], all[m:]}
}

func (s *Store) denyKey(tag, jti string) string { return s.prefix + "d:{" + tag + "}:" + jti }

// onceKey names a use-once record. The namespace's length makes the name
// unambiguous whatever the namespace and key contain.
func (s *Store) onceKey(namespace, key string) string {
	return s.prefix + "o:" + strconv.Itoa(len(namespace)) + ":" + namespace + ":" + key
}

// ---- round trips ----

// result is what one round trip answered.
type result struct {
	v   any
	err error
}

// roundTrip runs f, the one command of a method, so that the call returns
// by ctx's deadline whatever the client's timeouts are. go-redis sets socket
// deadlines from the context only with ContextTimeoutEnabled; otherwise a
// call on a hung server would wait for the client's ReadTimeout. So when ctx
// has a deadline that the client is not known to honour, f runs on a
// goroutine and roundTrip returns when ctx is done (deadline or
// cancellation); the goroutine ends when the client gives up on its own.
// A context without a deadline is not watched: handing the command to a
// goroutine costs a scheduler round trip, a large part of a Redis round trip,
// and such a call is bounded by the client's timeouts anyway.
func (s *Store) roundTrip(ctx context.Context, f func(context.Context) (any, error)) (any, error) {
	if _, ok := ctx.Deadline(); !ok || s.ctxDeadlines {
		return f(ctx)
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f(ctx)
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// eval runs one script: one round trip.
func (s *Store) eval(ctx context.Context, sc *redis.Script, keys []string, args ...any) (any, error) {
	return s.roundTrip(ctx, func(ctx context.Context) (any, error) {
		return sc.Run(ctx, s.client, keys, args...).Result()
	})
}

// get runs one GET, answering "" and found == false for a missing key.
func (s *Store) get(ctx context.Context, key string) (string, bool, error) {
	v, err := s.roundTrip(ctx, func(ctx context.Context) (any, error) {
		return s.client.Get(ctx, key).Result()
	})
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return v.(string), true, nil
}

// unavailable wraps a failed round trip: ErrUnavailable, and ctx's error
// when the context ended. Redis errors carry no arguments, so no secret
// reaches the message.
func unavailable(ctx context.Context, op string, err error) error {
	if cerr := contextError(ctx); cerr != nil {
		if errors.Is(err, cerr) {
			return fmt.Errorf("redisstore: %s: %w: %w", op, store.ErrUnavailable, cerr)
		}
		return fmt.Errorf("redisstore: %s: %w: %w (%v)", op, store.ErrUnavailable, cerr, err)
	}
	return fmt.Errorf("redisstore: %s: %w: %w", op, store.ErrUnavailable, err)
}

// contextError is ctx.Err(), or DeadlineExceeded once the deadline has
// passed: a client that honours deadlines reports its socket timeout a
// moment before the context's own timer fires.
func contextError(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// corrupt reports a record or reply the store cannot read: an error the
// caller cannot fix.
func corrupt(op string, err error) error {
	return fmt.Errorf("redisstore: %s: %w: %w", op, store.ErrUnavailable, err)
}

func reply(v any) ([]any, error) {
	a, ok := v.([]any)
	if !ok || len(a) == 0 {
		return nil, fmt.Errorf("unexpected script reply %T", v)
	}
	return a, nil
}

func replyInt(v any) (int64, error) {
	n, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("unexpected script reply %T", v)
	}
	return n, nil
}

// replyRecord decodes a record up to its claims, as the scripts answer.
func replyRecord(v any) (*record, error) {
	b, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("unexpected script reply %T", v)
	}
	return decodeRecord(b, false)
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// ---- the contract ----

// Capabilities reports every capability: the Redis store implements the
// whole contract.
func (s *Store) Capabilities() store.Capabilities { return store.All }

// ParseHandle decodes a handle made by this store (see
// store.ParseStatefulHandle); errors wrap store.ErrNotFound.
func (s *Store) ParseHandle(handle string) (store.HandleInfo, error) {
	return store.ParseStatefulHandle(handle)
}

// Create stores a new session and returns the handle of its first
// generation with the subject's token version, in one script (one round
// trip): it refuses an id whose key still holds a session that may not be
// forgotten yet, stores the record with its native expiry at ExpiresAt plus
// the margin, and adds it to the subject's index. The session must have a
// non-empty ID of at most 64 base64url characters, a non-empty Subject,
// Generation 1 and ExpiresAt after CreatedAt; a zero LastUsedAt is set to
// CreatedAt and IdleExpiresAt is capped at ExpiresAt. Session ids are unique
// per subject (sessionkit's are 128 random bits).
func (s *Store) Create(ctx context.Context, n store.NewSession) (store.Created, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.Created{}, err
	}
	if err := validate(&n.Session); err != nil {
		return store.Created{}, err
	}
	sess := n.Session
	store.NormalizeNew(&sess)
	rec, err := encodeNew(&sess, n.Hash)
	if err != nil {
		return store.Created{}, fmt.Errorf("redisstore: create session: %w", err)
	}
	tag := store.SubjectTag(sess.Subject)
	keys, args := s.createCall(&sess, tag, rec)
	v, err := s.eval(ctx, createScript, keys, args...)
	if err != nil {
		return store.Created{}, unavailable(ctx, "create session", err)
	}
	version, err := replyInt(v)
	if err != nil {
		return store.Created{}, corrupt("create session", err)
	}
	if version < 0 {
		return store.Created{}, fmt.Errorf("redisstore: create session: id %q already exists", sess.ID)
	}
	return store.Created{
		Handle:  store.FormatHandle(store.HandleInfo{Tag: tag, SessionID: sess.ID, Generation: 1}),
		Version: uint64(version),
	}, nil
}

// createCall returns createScript's keys and arguments for storing rec, the
// encoding of sess, whose subject tag is tag.
func (s *Store) createCall(sess *store.Session, tag string, rec []byte) ([]string, []any) {
	exp := ms(sess.ExpiresAt)
	return []string{s.sessionKey(tag, sess.ID), s.indexKey(tag), s.versionKey(tag)},
		[]any{rec, itoa(exp), itoa(exp + s.margin), itoa(ms(sess.CreatedAt)), itoa(s.margin), sess.Subject, sess.ID}
}

func validate(s *store.Session) error {
	if err := store.CheckNewSession(s); err != nil {
		return fmt.Errorf("redisstore: create session: %w", err)
	}
	return nil
}

// handleable reports whether a handle naming session id parses back: the
// store's handles and keys carry the id, so it must fit their format.
func handleable(id string) bool {
	h := store.HandleInfo{Tag: store.SubjectTag(""), SessionID: id, Generation: 1}
	got, err := store.ParseStatefulHandle(store.FormatHandle(h))
	return err == nil && got.SessionID == id
}

// Rotate replaces the current secret of the session the handle names,
// following the decision procedure of store.Store.Rotate in one script (one
// round trip; see rotateScript). The session key carries the handle's
// subject tag, so a handle with another tag names no session. A failed call
// may have rotated all the same (its answer was lost): presenting the same
// token again within the grace window then answers Replayed with the
// successor (and sessionkit's Issuer stretches the window for a token whose
// rotation it gave up on: see the package documentation, Stalls).
//
// When ctx has a deadline, the script writes nothing once the server's clock
// is past the deadline less a margin (see the package documentation,
// Stalls): a rotation stuck in a stalled server does not take effect when the
// server resumes, after its caller gave up. Rotate then returns an error
// wrapping store.ErrUnavailable (and ctx's error once ctx has ended). With no
// fresh reading of the server's clock (the first call, or none for
// sampleMaxAge) it reads it first, one more round trip.
func (s *Store) Rotate(ctx context.Context, r store.Rotation) (store.RotateResult, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.RotateResult{}, err
	}
	h, err := store.ParseStatefulHandle(r.Handle)
	if err != nil || h.Generation > maxGeneration {
		return store.RotateResult{Outcome: store.Unknown}, nil
	}
	replace := "0"
	if r.Claims != nil {
		replace = "1"
	}
	if len(r.Claims) > maxPart || len(r.Sealed) > maxPart {
		return store.RotateResult{}, fmt.Errorf("redisstore: rotate: %w", errTooLong)
	}
	nowMS, idleMS, grace := ms(r.Now), ms(r.IdleExpiresAt), r.Grace.Milliseconds()
	for _, v := range [...]int64{nowMS, idleMS, grace} {
		if v < minNum || v > maxNum {
			return store.RotateResult{}, fmt.Errorf("redisstore: rotate: %w", errOutOfRange)
		}
	}
	keys := s.rotateKeys(h.Tag, h.SessionID)
	clk, err := s.clockFor(ctx, keys[0])
	if err != nil {
		return store.RotateResult{}, unavailable(ctx, "rotate", err)
	}
	var cutoff int64
	if deadline, ok := ctx.Deadline(); ok && !s.noCutoff {
		if cutoff, err = s.rotateCutoff(ctx, clk, keys[0], deadline); err != nil {
			return store.RotateResult{}, unavailable(ctx, "rotate", err)
		}
		cutoff = max(min(cutoff, maxNum), 1) // a cut-off already past stays past
	}
	var f [rotateFieldsLen]byte
	b := appendPad(f[:0], int64(h.Generation), numWidth)
	b = appendPad(b, nowMS, numWidth)
	b = appendPad(b, grace, numWidth)
	b = appendPad(b, idleMS, numWidth)
	b = appendPad(b, int64(h.Generation)+1, numWidth)
	b = appendPad(b, int64(len(r.Claims)), lenWidth)
	b = appendPad(b, int64(len(r.Sealed)), lenWidth)
	b = appendPad(b, cutoff, numWidth)
	fields := string(b)
	v, err := s.roundTrip(ctx, func(ctx context.Context) (any, error) {
		sent := time.Now()
		v, err := rotateScript.Run(ctx, s.client, keys[:],
			fields, r.Presented[:], r.Next[:], r.Sealed, replace, r.Claims, h.SessionID, s.channelArg).Result()
		if err == nil {
			clk.observeRotate(v, sent, time.Now())
		}
		return v, err
	})
	if err != nil {
		return store.RotateResult{}, unavailable(ctx, "rotate", err)
	}
	res, err := rotateResult(h, v)
	if errors.Is(err, errLate) {
		return store.RotateResult{}, unavailable(ctx, "rotate", err)
	}
	if err != nil {
		return store.RotateResult{}, corrupt("rotate", err)
	}
	return res, nil
}

// errLate is the error of a rotation that reached the server too close to
// its context's deadline, or after it: nothing was written.
var errLate = errors.New("the rotation reached Redis too late for its deadline; nothing was written")

// rotateResult reads rotateScript's answer: errLate for codeLate.
func rotateResult(h store.HandleInfo, v any) (store.RotateResult, error) {
	a, err := reply(v)
	if err != nil {
		return store.RotateResult{}, err
	}
	if len(a) < 2 {
		return store.RotateResult{}, errors.New("unexpected script reply length")
	}
	a = a[:len(a)-1] // the server's TIME (observeRotate)
	code, err := replyInt(a[0])
	if err != nil {
		return store.RotateResult{}, err
	}
	switch code {
	case codeLate:
		return store.RotateResult{}, errLate
	case codeUnknown:
		return store.RotateResult{Outcome: store.Unknown}, nil
	case codeExpired:
		return store.RotateResult{Outcome: store.Expired}, nil
	case codeRevoked:
		return store.RotateResult{Outcome: store.Revoked}, nil
	case codeRotated, codeReplayed, codeReused:
	default:
		return store.RotateResult{}, fmt.Errorf("unexpected outcome %d", code)
	}
	if len(a) != 3 && !(code == codeReplayed && len(a) == 4) {
		return store.RotateResult{}, errors.New("unexpected script reply length")
	}
	rec, err := replyRecord(a[1])
	if err != nil {
		return store.RotateResult{}, err
	}
	version, err := replyInt(a[2])
	if err != nil || version < 0 {
		return store.RotateResult{}, errors.New("unexpected version in script reply")
	}
	res := store.RotateResult{Outcome: store.Outcome(code), Session: rec.session(h.SessionID)}
	if code == codeReused {
		return res, nil
	}
	res.Version = uint64(version)
	res.Handle = store.FormatHandle(store.HandleInfo{Tag: h.Tag, SessionID: h.SessionID, Generation: rec.gen})
	if code == codeReplayed {
		sealed, ok := a[3].(string)
		if !ok || sealed == "" {
			return store.RotateResult{}, errors.New("replayed session has no sealed successor")
		}
		res.Sealed = []byte(sealed)
	}
	return res, nil
}

// Sessions lists subject's live sessions, oldest first (by CreatedAt, then
// ID), in one script (one round trip) over the subject's index, which it
// cleans of members that are gone, revoked or past their absolute expiry
// plus the margin. The slice is never nil.
func (s *Store) Sessions(ctx context.Context, subject string, now time.Time) ([]store.Session, error) {
	if err := store.ContextError(ctx); err != nil {
		return nil, err
	}
	tag := store.SubjectTag(subject)
	nowMS := ms(now)
	v, err := s.eval(ctx, sessionsScript, []string{s.indexKey(tag)},
		subject, itoa(nowMS), s.sessionPrefix(tag), itoa(nowMS-s.margin))
	if err != nil {
		return nil, unavailable(ctx, "list sessions", err)
	}
	a, ok := v.([]any)
	if !ok || len(a)%2 != 0 {
		return nil, corrupt("list sessions", fmt.Errorf("unexpected script reply %T", v))
	}
	list := make([]store.Session, 0, len(a)/2)
	for i := 0; i < len(a); i += 2 {
		id, ok := a[i].(string)
		if !ok {
			return nil, corrupt("list sessions", fmt.Errorf("unexpected script reply %T", a[i]))
		}
		rec, err := replyRecord(a[i+1])
		if err != nil {
			return nil, corrupt("list sessions", err)
		}
		list = append(list, rec.session(id))
	}
	store.SortSessions(list)
	return list, nil
}

// Lookup reads the live session the handle names, with one GET, when
// presented is the hash its generation selects (compared in constant time
// in Go); it writes nothing.
func (s *Store) Lookup(ctx context.Context, handle string, presented [32]byte, now time.Time) (store.Session, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.Session{}, err
	}
	h, err := store.ParseStatefulHandle(handle)
	if err != nil {
		return store.Session{}, err
	}
	b, ok, err := s.get(ctx, s.sessionKey(h.Tag, h.SessionID))
	if err != nil {
		return store.Session{}, unavailable(ctx, "look up session", err)
	}
	if !ok {
		return store.Session{}, fmt.Errorf("%w: redisstore: no session for this token", store.ErrNotFound)
	}
	rec, err := decodeRecord(b, true)
	if err != nil {
		return store.Session{}, corrupt("look up session", err)
	}
	// The key carries the handle's subject tag, as in Rotate: a handle with
	// another tag named another key.
	want := rec.expected(h.Generation)
	if want == "" || subtle.ConstantTimeCompare([]byte(want), presented[:]) != 1 {
		return store.Session{}, fmt.Errorf("%w: redisstore: no session for this token", store.ErrNotFound)
	}
	if !rec.live(ms(now)) {
		return store.Session{}, fmt.Errorf("%w: redisstore: session is no longer live", store.ErrNotFound)
	}
	return rec.session(h.SessionID), nil
}

// Revoke ends the live session the handle names when presented is the hash
// its generation selects, and returns the session as it was, in one script
// (one round trip). Anything else is store.ErrNotFound and changes nothing.
func (s *Store) Revoke(ctx context.Context, handle string, presented [32]byte, now time.Time) (store.Session, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.Session{}, err
	}
	h, err := store.ParseStatefulHandle(handle)
	if err != nil {
		return store.Session{}, err
	}
	if h.Generation > maxGeneration {
		return store.Session{}, fmt.Errorf("%w: redisstore: no session for this token", store.ErrNotFound)
	}
	v, err := s.eval(ctx, revokeScript, []string{s.sessionKey(h.Tag, h.SessionID), s.indexKey(h.Tag)},
		strconv.FormatUint(h.Generation, 10), presented[:], itoa(ms(now)), h.SessionID, s.channel)
	if err != nil {
		return store.Session{}, unavailable(ctx, "revoke session", err)
	}
	a, err := reply(v)
	if err != nil {
		return store.Session{}, corrupt("revoke session", err)
	}
	if code, err := replyInt(a[0]); err != nil || code != 1 || len(a) != 2 {
		if err == nil && code == 0 {
			return store.Session{}, fmt.Errorf("%w: redisstore: no live session for this token", store.ErrNotFound)
		}
		return store.Session{}, corrupt("revoke session", errors.New("unexpected script reply"))
	}
	rec, err := replyRecord(a[1])
	if err != nil {
		return store.Session{}, corrupt("revoke session", err)
	}
	return rec.session(h.SessionID), nil
}

// RevokeSession ends subject's live session id in one script (one round
// trip). A session of another subject, a dead one or none is
// store.ErrNotFound and changes nothing.
func (s *Store) RevokeSession(ctx context.Context, subject, id string, now time.Time) error {
	if err := store.ContextError(ctx); err != nil {
		return err
	}
	if !handleable(id) {
		return fmt.Errorf("%w: redisstore: no live session with this id for this subject", store.ErrNotFound)
	}
	tag := store.SubjectTag(subject)
	v, err := s.eval(ctx, revokeSessionScript, []string{s.sessionKey(tag, id), s.indexKey(tag)},
		subject, itoa(ms(now)), id, s.channel)
	if err != nil {
		return unavailable(ctx, "revoke session", err)
	}
	n, err := replyInt(v)
	if err != nil {
		return corrupt("revoke session", err)
	}
	if n != 1 {
		return fmt.Errorf("%w: redisstore: no live session with this id for this subject", store.ErrNotFound)
	}
	return nil
}

// RevokeAll revokes every session of subject and bumps its token version
// in one script (one round trip, one slot), returning the new version.
func (s *Store) RevokeAll(ctx context.Context, subject string, now time.Time) (uint64, error) {
	if err := store.ContextError(ctx); err != nil {
		return 0, err
	}
	tag := store.SubjectTag(subject)
	v, err := s.eval(ctx, revokeAllScript, []string{s.indexKey(tag), s.versionKey(tag)},
		subject, s.sessionPrefix(tag), itoa(ms(now)-s.margin), s.channel)
	if err != nil {
		return 0, unavailable(ctx, "revoke all sessions", err)
	}
	n, err := replyInt(v)
	if err != nil || n <= 0 {
		return 0, corrupt("revoke all sessions", fmt.Errorf("unexpected version in script reply"))
	}
	return uint64(n), nil
}

// Deny puts jti, an access token of subject, on the deny-list until the
// given time (keeping the later time if the entry exists), in one script
// (one round trip). The entry's native expiry is until plus the margin.
func (s *Store) Deny(ctx context.Context, subject, jti string, until time.Time) error {
	if err := store.ContextError(ctx); err != nil {
		return err
	}
	_, err := s.eval(ctx, denyScript, []string{s.denyKey(store.SubjectTag(subject), jti)},
		subject, itoa(ms(until)), itoa(s.margin), jti, s.channel)
	if err != nil {
		return unavailable(ctx, "deny token", err)
	}
	return nil
}

// Version reads subject's token version (0 if it was never bumped) with
// one HGET.
func (s *Store) Version(ctx context.Context, subject string) (uint64, error) {
	if err := store.ContextError(ctx); err != nil {
		return 0, err
	}
	v, err := s.roundTrip(ctx, func(ctx context.Context) (any, error) {
		return s.client.HGet(ctx, s.versionKey(store.SubjectTag(subject)), subject).Result()
	})
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, unavailable(ctx, "read version", err)
	}
	n, err := strconv.ParseUint(v.(string), 10, 64)
	if err != nil {
		return 0, corrupt("read version", errors.New("malformed version"))
	}
	return n, nil
}

// CheckAccess reads the deny-list entry, the version and the session's
// header and subject (GETRANGE, not the whole record) with three reads in
// one pipeline: one round trip to the subject's slot, no script. The
// three reads are not one atomic step, and need not be: each fact can
// only turn towards refusal (a deny entry lasts past the token's
// expiry, a version only grows, an ended session never lives again), so
// an access granted on the three answers would have been granted by an
// atomic read at the first of them, and one refused, at the last.
func (s *Store) CheckAccess(ctx context.Context, q store.AccessCheck) (store.AccessState, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.AccessState{}, err
	}
	tag := store.SubjectTag(q.Subject)
	var deny, ver, sess *redis.StringCmd
	_, err := s.roundTrip(ctx, func(ctx context.Context) (any, error) {
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			deny = p.HGet(ctx, s.denyKey(tag, q.JTI), q.Subject)
			ver = p.HGet(ctx, s.versionKey(tag), q.Subject)
			if q.SessionID != "" {
				// The header and the subject's field: its length, ':'
				// and the subject.
				sess = p.GetRange(ctx, s.sessionKey(tag, q.SessionID), 0, int64(headerLen+len(strconv.Itoa(len(q.Subject)))+len(q.Subject)))
			}
			return nil
		})
		if errors.Is(err, redis.Nil) {
			err = nil // an absent hash field: each command is read below
		}
		return nil, err
	})
	if err != nil {
		return store.AccessState{}, unavailable(ctx, "check access", err)
	}
	now := ms(q.Now)
	var st store.AccessState
	switch u, err := deny.Int64(); {
	case err == nil:
		st.Denied = now < u
	case !errors.Is(err, redis.Nil):
		return store.AccessState{}, corrupt("check access", errors.New("malformed deny-list entry"))
	}
	switch v, err := ver.Uint64(); {
	case err == nil:
		st.Version = v
	case !errors.Is(err, redis.Nil):
		return store.AccessState{}, corrupt("check access", errors.New("malformed version"))
	}
	if sess != nil {
		h := sess.Val()
		if h != "" {
			live, err := headerLiveFor(h, q.Subject, now)
			if err != nil {
				return store.AccessState{}, corrupt("check access", err)
			}
			st.SessionLive = live
		}
	}
	return st, nil
}

// UseOnce records key in namespace until the given time and reports true
// only if no live record of it (one whose until is after now) existed, in
// one script (one round trip). A live record answers false and keeps the
// later of both times. Use-once keys live under their own namespace of keys
// ("o:"), apart from every subject's.
func (s *Store) UseOnce(ctx context.Context, namespace, key string, until, now time.Time) (bool, error) {
	if err := store.ContextError(ctx); err != nil {
		return false, err
	}
	u := ms(until)
	v, err := s.eval(ctx, useOnceScript, []string{s.onceKey(namespace, key)},
		itoa(ms(now)), itoa(u), itoa(u+s.margin))
	if err != nil {
		return false, unavailable(ctx, "use once", err)
	}
	n, err := replyInt(v)
	if err != nil {
		return false, corrupt("use once", err)
	}
	return n == 1, nil
}
