// Package store defines the contract between sessionkit and its session stores.
//
// A Store keeps sessions (refresh-token families), per-subject token versions,
// the access-token deny-list and use-once keys. Every method is ONE atomic step
// of the backend: a mutex section, one Lua script (one Redis round trip), one
// bbolt transaction. The package imports only the standard library so that
// third-party stores depend on nothing else; the conformance suite in
// store/storetest pins the rules below and every backend runs it.
//
// Rules every store follows:
//
//   - Liveness is decided by the now passed in, never by the store's own clock.
//     Native expiry (Redis PXAT, a janitor) is clean-up only, set with a margin
//     after the moment the record stops counting.
//   - Token versions never expire.
//   - A revoked or expired session is remembered (so Rotate answers Revoked or
//     Expired to its holder) at least until its absolute ExpiresAt; after that
//     it may be forgotten and answer Unknown.
//   - Refresh secrets are never stored: only their SHA-256, compared in
//     constant time. The successor token kept for the grace window is sealed by
//     the caller; stores keep it as opaque bytes.
//   - All records of one subject can share one Redis Cluster hash tag: use
//     [SubjectTag] and carry the tag in the handle, so that a rotation, which
//     only has the handle, touches the same slot as the subject's index,
//     version and deny-list.
//   - Errors the caller cannot fix (network, disk, corruption) wrap
//     [ErrUnavailable]; a cancelled or expired context gives an error that
//     wraps both ErrUnavailable and ctx.Err().
//   - A store method never holds a lock across a callback into user code, and
//     never changes anything when it returns an error.
//   - Subjects, session subjects and use-once namespaces are opaque strings,
//     compared byte for byte. sessionkit's Issuers hand a store only names
//     scoped to their issuer identifier (they may contain U+001F, never NUL)
//     and bind the identifier into every secret hash, so that Issuers sharing
//     one store never name the same record; a store needs no notion of
//     issuer for that, and must not interpret or rewrite the names.
//
// Stores that can share signing keys across a fleet also implement
// [KeyStore] (store/keys.go), a contract of its own: per name, one opaque
// blob and a version, read in one step and replaced by one atomic
// compare-and-set. sessionkit keeps its managed signing keys there, the
// private keys sealed before they reach the store, under names scoped to
// the issuer identifier. memstore, boltstore, redisstore and pgstore
// implement it; the sealed store does not (it keeps nothing of its own).
package store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Errors shared by every store. Their messages carry the sessionkit prefix
// because the root package re-exports them as its own sentinels.
var (
	// ErrNotFound means no live record answers the request: an unknown,
	// malformed or foreign handle, a session of another subject, or a record
	// whose expiry has passed.
	ErrNotFound = errors.New("sessionkit: not found")
	// ErrUnavailable means the backend could not be reached or failed; the
	// operation did not happen. Callers fail closed on it.
	ErrUnavailable = errors.New("sessionkit: store unavailable")
	// ErrUnsupported means the store lacks the capability the call needs
	// (see [Capabilities]).
	ErrUnsupported = errors.New("sessionkit: not supported by this store")
	// ErrTooLarge means a session, subject or key exceeds a limit of the
	// store (a sealed handle's size, a key's length); nothing was written.
	// It is the caller's input, not an outage: sessionkit reports it as
	// a configuration error.
	ErrTooLarge = errors.New("sessionkit: too large for the store")
)

// MaxHandleLen is the longest handle a store may return, in bytes. Handles
// travel inside refresh tokens and cookies (limited to 4096 bytes in all).
const MaxHandleLen = 3072

// MinSpentHistory is the least number of spent (rotated-away) secret hashes a
// store with reuse detection keeps per session. A presented secret that matches
// one of them is reuse; one that matches nothing is unknown.
const MinSpentHistory = 16

// Device describes the client a session was created from.
type Device struct {
	// UserAgent is the client's User-Agent header, as given at login.
	UserAgent string `json:"user_agent,omitempty"`
	// IP is the client's address, as given at login.
	IP string `json:"ip,omitempty"`
}

// Session is a refresh-token family as the store holds it.
type Session struct {
	// ID is the session id, the sid claim of its access tokens.
	ID string
	// Subject is the user (or, for client sessions, the client) it belongs to.
	Subject string
	// ClientID is set when the session belongs to an OAuth client rather than
	// a user; empty for user sessions.
	ClientID string
	// Scope is the space-separated scope granted at login.
	Scope string
	// Claims is the JSON object of application claims carried into every
	// access token; nil when there are none. Stores keep it verbatim.
	Claims []byte
	// Device is the client the session was created from.
	Device Device
	// CreatedAt is when the session was created.
	CreatedAt time.Time
	// LastUsedAt is when it was created or last rotated.
	LastUsedAt time.Time
	// IdleExpiresAt is the sliding expiry, moved forward at each rotation
	// but never past ExpiresAt.
	IdleExpiresAt time.Time
	// ExpiresAt is the absolute end of the session.
	ExpiresAt time.Time
	// Generation counts the refresh tokens issued for the session: 1 for the
	// login token, plus one per rotation.
	Generation uint64
}

// Live reports whether the session still counts at now.
func (s *Session) Live(now time.Time) bool {
	return now.Before(s.IdleExpiresAt) && now.Before(s.ExpiresAt)
}

// NewSession is what [Store.Create] stores.
type NewSession struct {
	// Session holds the session's data. Its Generation must be 1 and
	// LastUsedAt equals CreatedAt.
	Session Session
	// Hash is SHA-256 of the first refresh secret.
	Hash [32]byte
}

// Created is the answer of [Store.Create].
type Created struct {
	// Handle names the session (at its first generation) in the refresh token.
	Handle string
	// Version is the subject's current token version, to put in access tokens.
	Version uint64
}

// Rotation asks [Store.Rotate] to replace the current refresh secret.
//
// A store whose calls can outlive their caller (a networked store that
// returns at the context's deadline while the command is still queued at
// the server) must not let a rotation take effect after the context's
// deadline: its caller has given up, and its retry with the old token
// would be taken for reuse once more than Grace has passed since Now. Such
// a rotation writes nothing and the call fails with ErrUnavailable.
// redisstore checks the deadline inside its script against the server's
// clock (see its "Stalls"). A store whose calls always finish before they
// return, and return their outcome (memstore's mutex section; a boltstore
// transaction, which a deadline withdraws only before it begins), has
// nothing to do: a rotation never takes effect after its caller gave up,
// and its answer is never lost.
type Rotation struct {
	// Handle is the handle from the presented refresh token.
	Handle string
	// Presented is SHA-256 of the presented secret.
	Presented [32]byte
	// Next is SHA-256 of the successor's secret.
	Next [32]byte
	// Sealed is the successor's secret sealed by the caller (under a key
	// derived from the presented secret, with the session id and the
	// successor's generation as associated data). The store keeps it for the
	// grace window and hands it back on [Replayed]; it is opaque here.
	Sealed []byte
	// Now is the moment of the rotation; it decides every expiry.
	Now time.Time
	// Grace is the reuse grace window; zero or negative disables it.
	// sessionkit passes more than its ReuseGrace, and more than
	// MaxReuseGrace, for a token whose earlier rotation it gave up on (it
	// checks the successor of such a replay itself): take it as given.
	Grace time.Duration
	// IdleExpiresAt is the new sliding expiry; the store caps it at the
	// session's absolute ExpiresAt.
	IdleExpiresAt time.Time
	// Claims, when non-nil, replaces the session's application claims in
	// the same step, if (and only if) the outcome is Rotated.
	Claims []byte
}

// Outcome is the result of a rotation.
type Outcome int

// The outcomes of [Store.Rotate].
const (
	// Unknown: no live or remembered session has this handle, or the
	// presented secret was never issued for it. Nothing was written.
	Unknown Outcome = iota
	// Rotated: the presented secret was current; the session now expects
	// Next, its generation went up by one, and its idle expiry slid.
	Rotated
	// Replayed: the presented secret is the immediately previous one, within
	// the grace window of its rotation. Nothing was written; the result
	// carries the sealed successor and its handle.
	Replayed
	// Reused: the presented secret was spent (rotated away) before, outside
	// the grace window. The session was revoked in the same step (or had
	// been revoked already).
	Reused
	// Expired: the secret belongs to the session, but the session's idle or
	// absolute expiry has passed. Nothing was written.
	Expired
	// Revoked: the secret belongs to the session, but the session was
	// revoked. Nothing was written.
	Revoked
)

var outcomeNames = [...]string{"unknown", "rotated", "replayed", "reused", "expired", "revoked"}

// String returns the outcome's name.
func (o Outcome) String() string {
	if o < 0 || int(o) >= len(outcomeNames) {
		return "outcome(" + strconv.Itoa(int(o)) + ")"
	}
	return outcomeNames[o]
}

// RotateResult is the answer of [Store.Rotate].
type RotateResult struct {
	// Outcome says what happened.
	Outcome Outcome
	// Handle names the successor: the new generation for Rotated, the one
	// issued by the earlier rotation for Replayed; empty otherwise.
	Handle string
	// Sealed is the successor kept at the earlier rotation, for Replayed only.
	Sealed []byte
	// Session is the session after the step, for Rotated, Replayed and
	// Reused (whose session is now revoked); zero otherwise.
	Session Session
	// Version is the subject's token version, for Rotated and Replayed.
	Version uint64
}

// AccessCheck asks [Store.CheckAccess] about one access token.
type AccessCheck struct {
	// Subject is the token's sub (for client tokens, the issuer's subject key).
	Subject string
	// SessionID is the token's sid; empty for tokens without a session.
	SessionID string
	// JTI is the token's jti.
	JTI string
	// Now decides deny-list and session expiry.
	Now time.Time

	// Version, IssuedAt and ExpiresAt are the token's ver, iat and exp. A
	// store that reads its records ignores them; one that answers from a
	// local view of pushed revocations (redisstore.View) needs them to
	// tell whether its view covers the token: one issued before the view
	// was last in step with the store, or living longer than the view
	// remembers revocations, is read from the store.
	Version   uint64
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// AccessState is the answer of [Store.CheckAccess]: facts, not a verdict.
type AccessState struct {
	// Denied reports a live deny-list entry for the jti.
	Denied bool
	// Version is the subject's current token version.
	Version uint64
	// SessionLive reports that the session exists, belongs to Subject, is
	// neither revoked nor expired. Always false when SessionID is empty.
	SessionLive bool
}

// Capabilities is the set of optional features a store supports.
type Capabilities uint32

// The capabilities a store may declare. A stateful store declares them all;
// the sealed store, on its own, declares none of them.
const (
	// ReuseDetection: Rotate answers Replayed and Reused (it keeps the
	// current and spent hashes and the sealed successor).
	ReuseDetection Capabilities = 1 << iota
	// RevokeSessions: RevokeSession and Revoke end a session for good, and
	// Rotate answers Revoked afterwards.
	RevokeSessions
	// ListSessions: Sessions lists a subject's sessions.
	ListSessions
	// Versions: RevokeAll bumps a version that CheckAccess and Version read.
	Versions
	// DenyList: Deny records jtis that CheckAccess reports.
	DenyList
	// UseOnce: UseOnce records keys.
	UseOnce
	// InProcess: every call is answered in this process, never waiting on
	// a network or another process (memstore; boltstore, whose file lock
	// Open takes once), so a call cannot hang: the Issuer and the Verifier
	// give such a store's calls no default deadline (their StoreTimeout),
	// which would cost an allocation per call for nothing. Not a feature:
	// All leaves it out.
	InProcess
)

// All is every feature capability (every one but InProcess).
const All = ReuseDetection | RevokeSessions | ListSessions | Versions | DenyList | UseOnce

// Has reports whether every capability in want is in c.
func (c Capabilities) Has(want Capabilities) bool { return c&want == want }

var capabilityNames = [...]struct {
	c    Capabilities
	name string
}{
	{ReuseDetection, "ReuseDetection"},
	{RevokeSessions, "RevokeSessions"},
	{ListSessions, "ListSessions"},
	{Versions, "Versions"},
	{DenyList, "DenyList"},
	{UseOnce, "UseOnce"},
	{InProcess, "InProcess"},
}

// String names the capabilities in c joined by "|", e.g.
// "ReuseDetection|UseOnce"; "(none)" for none.
func (c Capabilities) String() string {
	var names []string
	for _, n := range capabilityNames {
		if c&n.c != 0 {
			names = append(names, n.name)
			c &^= n.c
		}
	}
	if c != 0 {
		names = append(names, fmt.Sprintf("%#x", uint32(c)))
	}
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, "|")
}

// Store is the contract. Every method is one atomic step; see the package
// documentation for the rules.
type Store interface {
	// Capabilities reports the optional features this store supports.
	// Methods needing a missing one return ErrUnsupported.
	Capabilities() Capabilities

	// ParseHandle decodes a handle into the session id and generation it
	// names, without I/O. It fails with ErrNotFound for anything that is not
	// of its shape (malformed, oversized; a store whose handles are
	// authenticated, like the sealed store, also refuses tampered ones).
	ParseHandle(handle string) (HandleInfo, error)

	// Create stores a new session and returns its handle together with the
	// subject's current token version. A session id the store still
	// remembers for the same subject is an error and is never overwritten;
	// whether an id another subject holds is refused too is the store's
	// choice (sessionkit's ids are 128 random bits, so it never asks).
	Create(ctx context.Context, s NewSession) (Created, error)

	// Rotate replaces the current secret of the session the handle names,
	// deciding the outcome from the presented hash. Reuse revokes the session
	// in the same step. Only Rotated and Reused write. The decision, in order:
	//
	//  1. The handle must parse and name a session the store still remembers
	//     (live, or revoked/expired but not yet forgotten) whose subject tag
	//     matches; else Unknown.
	//  2. The handle's generation g selects ONE expected hash: the current
	//     one if g is the session's generation G, the previous one if
	//     g == G-1, a kept spent one if g < G-1. Presented must equal it
	//     (constant time); else Unknown. So a forged token naming a real
	//     session changes nothing.
	//  3. Revoked session: Reused if the presented secret is spent and
	//     outside the grace window (g < G-1, or g == G-1 outside the window;
	//     nothing more is written, the session is revoked already), else
	//     Revoked. Then, expired at Now (idle or absolute): Expired.
	//  4. g == G: Rotated. The current hash joins the spent history, the
	//     previous slot takes it with Sealed and Now as the rotation time,
	//     Next becomes current, G+1 the generation, LastUsedAt = Now,
	//     IdleExpiresAt = min(r.IdleExpiresAt, ExpiresAt), and Claims, if
	//     non-nil, replace the session's claims. Handle names G+1.
	//  5. g == G-1, Grace > 0 and Now is before rotation time + Grace:
	//     Replayed, with the Sealed successor kept at that rotation and the
	//     handle of generation G.
	//  6. Otherwise (g == G-1 outside the window, or g < G-1): Reused; the
	//     session is revoked.
	Rotate(ctx context.Context, r Rotation) (RotateResult, error)

	// Sessions lists subject's live sessions, oldest first.
	Sessions(ctx context.Context, subject string, now time.Time) ([]Session, error)

	// Lookup reads the live session the handle names, if presented is the
	// hash its generation selects (as in Rotate's step 2: current, previous
	// or a kept spent one); otherwise, or if the session is revoked or
	// expired, ErrNotFound. It writes nothing. It lets the caller consult the
	// application (Config.OnRefresh) about a proven session before rotating.
	Lookup(ctx context.Context, handle string, presented [32]byte, now time.Time) (Session, error)

	// Revoke ends the session the handle names, under the same proof as
	// Lookup, and returns the session as it was. Otherwise ErrNotFound and
	// nothing changes.
	Revoke(ctx context.Context, handle string, presented [32]byte, now time.Time) (Session, error)

	// RevokeSession ends subject's live session id. A session of another
	// subject, or none, gives ErrNotFound and nothing changes.
	RevokeSession(ctx context.Context, subject, id string, now time.Time) error

	// RevokeAll ends every session of subject and bumps its token version,
	// together, returning the new version.
	RevokeAll(ctx context.Context, subject string, now time.Time) (uint64, error)

	// Deny puts jti (an access token of subject) on the deny-list until the
	// given time, after which the entry vanishes by itself.
	Deny(ctx context.Context, subject, jti string, until time.Time) error

	// Version reads subject's token version (0 if it was never bumped).
	Version(ctx context.Context, subject string) (uint64, error)

	// CheckAccess reads, in one step, everything stateful verification of an
	// access token needs.
	CheckAccess(ctx context.Context, q AccessCheck) (AccessState, error)

	// UseOnce records key in namespace until the given time and reports true
	// only if no live record of it existed: exactly once, even under
	// concurrency.
	UseOnce(ctx context.Context, namespace, key string, until, now time.Time) (bool, error)
}

// LocalChecker is implemented by a store that can answer some access
// checks in process, without I/O (redisstore.View, from revocations pushed
// to it). CheckAccessLocal answers as CheckAccess would, with ok true, or
// ok false when the check needs the store's own read. Callers that give
// every store call a deadline try it first, so a check answered locally
// costs no context.
type LocalChecker interface {
	CheckAccessLocal(q AccessCheck) (st AccessState, ok bool)
}

// Readier is implemented by a store whose readiness is more than answering
// a read (redisstore.View with FailClosed: its checks refuse while its
// subscription is not in step). Ready returns nil when the store can serve
// the checks, else an error wrapping ErrUnavailable; it waits no longer
// than ctx allows. sessionkit's readiness checks (Issuer.Check,
// Verifier.Check) call it after their read.
type Readier interface {
	Ready(ctx context.Context) error
}

// HandleInfo is what a handle names.
type HandleInfo struct {
	// Tag is the subject tag ([SubjectTag]) for stateful handles.
	Tag string
	// SessionID is the session id.
	SessionID string
	// Generation is the generation of the refresh token carrying the handle.
	Generation uint64
}

// SubjectTag derives a short, fixed-size tag from a subject: the first 9 bytes
// of its SHA-256, base64url-encoded (12 characters). Stateful stores use it as
// the hash tag of every key of the subject and carry it in their handles.
func SubjectTag(subject string) string {
	sum := sha256.Sum256([]byte(subject))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// FormatHandle encodes h as "tag~sid~generation", the handle format of the
// stateful stores. It uses only characters that are safe in cookies and URLs.
func FormatHandle(h HandleInfo) string {
	return h.Tag + "~" + h.SessionID + "~" + strconv.FormatUint(h.Generation, 36)
}

// ParseStatefulHandle decodes a handle made by [FormatHandle], checking its
// shape strictly. Errors wrap ErrNotFound.
func ParseStatefulHandle(handle string) (HandleInfo, error) {
	if len(handle) > 128 {
		return HandleInfo{}, fmt.Errorf("%w: handle too long", ErrNotFound)
	}
	tag, rest, ok := strings.Cut(handle, "~")
	if !ok || len(tag) != 12 || !isB64URL(tag) {
		return HandleInfo{}, fmt.Errorf("%w: malformed handle", ErrNotFound)
	}
	sid, gen, ok := strings.Cut(rest, "~")
	if !ok || sid == "" || len(sid) > 64 || !isB64URL(sid) || gen == "" || len(gen) > 13 {
		return HandleInfo{}, fmt.Errorf("%w: malformed handle", ErrNotFound)
	}
	n, err := strconv.ParseUint(gen, 36, 64)
	if err != nil || n == 0 || strconv.FormatUint(n, 36) != gen {
		return HandleInfo{}, fmt.Errorf("%w: malformed handle", ErrNotFound)
	}
	return HandleInfo{Tag: tag, SessionID: sid, Generation: n}, nil
}

// CheckNewSession checks what every store requires of the session given
// to Create: an ID of 1 to 64 base64url characters (so that it fits in a
// handle), a non-empty Subject, Generation 1 and ExpiresAt after CreatedAt.
// Stores call it first, then add limits of their own.
func CheckNewSession(s *Session) error {
	switch {
	case s.ID == "":
		return errors.New("empty ID")
	case len(s.ID) > 64 || !isB64URL(s.ID):
		return errors.New("ID must be 1 to 64 base64url characters")
	case s.Subject == "":
		return errors.New("empty Subject")
	case s.Generation != 1:
		return fmt.Errorf("Generation is %d, want 1", s.Generation)
	case !s.ExpiresAt.After(s.CreatedAt):
		return errors.New("ExpiresAt is not after CreatedAt")
	}
	return nil
}

func isB64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ContextError checks ctx before a store touches anything. It returns nil
// while ctx is live, else an error wrapping both ErrUnavailable and ctx.Err().
func ContextError(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}
