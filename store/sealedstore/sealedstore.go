// Package sealedstore is the encrypted-stateless [store.Store]: the session
// lives inside the refresh token itself, sealed with AES-256-GCM under a key
// ring the application holds, so the server keeps nothing per session.
//
// # Handles
//
// A handle is the sealed session in base64url: a header in clear (format,
// mode, the id of the key that sealed it, a 256-bit random salt) and the
// ciphertext of the session (id, subject, client id, scope, claims, device,
// times, generation) together with the SHA-256 of the refresh secret of its
// generation. Each blob is encrypted under its own key, HKDF-SHA256 of the
// ring key and the salt, so nonces never repeat and a ring key has no usage
// bound. The purpose "sessionkit/sealed-session/v1", the issuer and the whole
// header are associated data: a handle opens only for the issuer and mode it
// was sealed for, and changing any bit of it makes it unknown. Times are kept
// at millisecond precision (truncated). A handle has room for about 2,150
// bytes (hybrid: 2,050) of session id, subject, client id, scope, claims
// and device data together; sessionkit's subjects carry the issuer
// identifier (its store scoping), which takes its length plus 3 bytes of
// that room. A realistic session (600 bytes of claims, a browser's
// User-Agent) makes a refresh token of about 1,500 bytes. Create and Rotate
// refuse a session whose handle would exceed [store.MaxHandleLen], before
// writing anything, with an error wrapping [ErrTooLarge] (and
// store.ErrTooLarge, which sessionkit reports as a configuration error).
//
// Keys rotate without logging anyone out: see [Keys].
//
// # Stateless: the honest limits
//
// On its own ([Options].State nil) the store declares no capability. Every
// refresh token is self-contained, so the store cannot tell a token that was
// already rotated from the current one: a stolen refresh token keeps working
// until its session's idle or absolute expiry, and presenting a
// pre-rotation token again simply rotates it again (a fork, not reuse).
// Nothing can end one session or all of a subject's sessions early, list
// sessions, deny an access token or record use-once keys: those methods
// return [store.ErrUnsupported]. An application that chooses this mode
// accepts those limits explicitly (sessionkit's Config.AcceptStoreLimits and
// SkipRevocationCheck), keeps access tokens short-lived, and logs a device
// out by clearing its cookies.
//
// # Hybrid: sealed data, small server state
//
// Given any stateful store in [Options].State (memstore, redisstore,
// boltstore, or a third party's), the store keeps a small shadow session
// there through the ordinary contract: session id, subject, times,
// generation and refresh-secret hashes; never scope, claims or device data,
// which stay in the token. Create and Rotate are each one step of the state
// store, so reuse detection, the grace window (the state store keeps the
// sealed successor, handle included), per-session revocation, logout-all
// with versions, the deny-list and use-once all come from the state store,
// and the store declares what the state store declares, except
// ListSessions (the listed data lives in the tokens). A hybrid handle is the
// blob, "~" and the state store's handle (at most 128 bytes), which the blob
// must agree with (session id, generation, subject tag).
//
// Lookup, Revoke and Reused answer with the session data of the handle
// presented (an earlier token carries the claims of its own generation)
// and the generation and times the state store holds now.
//
// The store is immutable after New and safe for concurrent use; it starts no
// goroutine. It runs the store/storetest conformance suite in both modes.
package sealedstore

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// MaxStateHandleLen is the longest handle a hybrid store accepts from its
// state store, in bytes (store.FormatHandle handles take at most 91).
const MaxStateHandleLen = 128

// ErrTooLarge means a session does not fit in a handle of at most
// store.MaxHandleLen bytes: its claims, scope, subject or device data are too
// large. Nothing was written. It wraps store.ErrTooLarge.
var ErrTooLarge = fmt.Errorf("sealedstore: session too large to seal into a handle: %w", store.ErrTooLarge)

// Compile-time check that *Store implements the contract.
var _ store.Store = (*Store)(nil)

// Options configures a Store.
type Options struct {
	// Keys is the key ring that seals and opens handles. Required.
	Keys Keys
	// Issuer is bound into every handle as associated data: a handle sealed
	// for one issuer never opens for another, even under the same keys. Use
	// the issuer's identifier (sessionkit's Config.Issuer). Required.
	Issuer string
	// State, when set, makes the store hybrid: a stateful store that keeps
	// the shadow sessions, versions, deny-list and use-once keys. It must
	// declare store.ReuseDetection and store.RevokeSessions. Nil means
	// stateless.
	State store.Store
}

// Store is the sealed store. Create one with New.
type Store struct {
	sealer sealer
	state  store.Store // nil when stateless
	caps   store.Capabilities
}

// New validates opts and returns a Store.
func New(opts Options) (*Store, error) {
	if opts.Issuer == "" {
		return nil, errors.New("sealedstore: Issuer is required")
	}
	r, err := newRing(opts.Keys)
	if err != nil {
		return nil, err
	}
	s := &Store{state: opts.State}
	if opts.State == nil {
		s.sealer = newSealer(r, opts.Issuer, modeStateless)
		return s, nil
	}
	caps := opts.State.Capabilities()
	if need := store.ReuseDetection | store.RevokeSessions; !caps.Has(need) {
		return nil, errors.New("sealedstore: the State store must declare ReuseDetection and RevokeSessions")
	}
	s.sealer = newSealer(r, opts.Issuer, modeHybrid)
	s.caps = caps &^ store.ListSessions
	return s, nil
}

// Capabilities reports none when stateless; when hybrid, those of the state
// store except ListSessions.
func (s *Store) Capabilities() store.Capabilities { return s.caps }

// unsupported is the error of a method needing what the store lacks.
func unsupported(method, needs string) error {
	return fmt.Errorf("%w: sealedstore: %s needs %s", store.ErrUnsupported, method, needs)
}

// handle is an opened handle.
type handle struct {
	d     *data
	state string           // the state store's handle; hybrid only
	info  store.HandleInfo // what the handle names
	tag   string           // store.SubjectTag(d.s.Subject); hybrid only
}

// open opens h: the blob, and for a hybrid store the state store's handle,
// which must name the blob's session and generation (and subject tag, if it
// has one). Errors wrap store.ErrNotFound.
func (s *Store) open(h string) (*handle, error) {
	if len(h) > store.MaxHandleLen {
		return nil, errMalformed
	}
	blob, state := h, ""
	if s.state != nil {
		var ok bool
		if blob, state, ok = strings.Cut(h, "~"); !ok {
			return nil, errMalformed
		}
	}
	d, err := s.sealer.open(blob)
	if err != nil {
		return nil, err
	}
	oh := &handle{d: d, state: state, info: store.HandleInfo{SessionID: d.s.ID, Generation: d.s.Generation}}
	if s.state != nil {
		if len(state) > MaxStateHandleLen {
			return nil, errMalformed
		}
		oh.tag = store.SubjectTag(d.s.Subject)
		si, err := s.state.ParseHandle(state)
		if err != nil || !agrees(si, &d.s, oh.tag) {
			return nil, errTampered
		}
		oh.info.Tag = si.Tag
	}
	return oh, nil
}

// agrees reports whether a state store's handle info names session sess at
// its generation; tag is store.SubjectTag(sess.Subject).
func agrees(si store.HandleInfo, sess *store.Session, tag string) bool {
	return si.SessionID == sess.ID && si.Generation == sess.Generation && (si.Tag == "" || si.Tag == tag)
}

// proven opens h (see open) and checks, in constant time, that presented is
// the hash it carries. Errors wrap store.ErrNotFound.
func (s *Store) proven(h string, presented [32]byte) (*handle, error) {
	oh, err := s.open(h)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(oh.d.hash[:], presented[:]) != 1 {
		return nil, fmt.Errorf("%w: sealedstore: no session for this token", store.ErrNotFound)
	}
	return oh, nil
}

// ParseHandle opens the handle and reports the session id and generation it
// carries (and, when hybrid, the state store's subject tag). A handle that
// is malformed, altered, sealed for another issuer or mode, or under a key
// no longer in the ring fails with an error wrapping store.ErrNotFound.
func (s *Store) ParseHandle(h string) (store.HandleInfo, error) {
	oh, err := s.open(h)
	if err != nil {
		return store.HandleInfo{}, err
	}
	return oh.info, nil
}

// Create seals the new session under the current key and returns its handle.
// Stateless, it writes nothing and reports version 0. Hybrid, it first
// creates the shadow session in the state store (one step) and reports the
// subject's version from there. The session must have an ID of 1 to 64
// base64url characters, a Subject, Generation 1 and ExpiresAt after
// CreatedAt; a zero LastUsedAt is set to CreatedAt and IdleExpiresAt is
// capped at ExpiresAt. A session too large for a handle fails with an error
// wrapping ErrTooLarge before anything is written.
func (s *Store) Create(ctx context.Context, n store.NewSession) (store.Created, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.Created{}, err
	}
	d := &data{s: n.Session, hash: n.Hash}
	d.s.Claims = bytes.Clone(n.Session.Claims)
	store.NormalizeNew(&d.s)
	truncate(&d.s)
	if err := validate(&d.s); err != nil {
		return store.Created{}, err
	}
	if err := s.fits(d); err != nil {
		return store.Created{}, err
	}
	blob, err := s.sealer.seal(d)
	if err != nil {
		return store.Created{}, err
	}
	if s.state == nil {
		return store.Created{Handle: blob}, nil
	}
	created, err := s.state.Create(ctx, store.NewSession{Session: shadow(&d.s), Hash: n.Hash})
	if err != nil {
		return store.Created{}, fmt.Errorf("sealedstore: state store: %w", err)
	}
	if !s.stateHandleNames(created.Handle, &d.s, store.SubjectTag(d.s.Subject)) {
		// A state store whose handles this store cannot carry: undo the
		// shadow so that nothing is left that no token names.
		_ = s.state.RevokeSession(context.WithoutCancel(ctx), d.s.Subject, d.s.ID, d.s.CreatedAt)
		return store.Created{}, fmt.Errorf("%w: sealedstore: the state store returned a handle that is longer than %d bytes or does not name the session", store.ErrUnavailable, MaxStateHandleLen)
	}
	return store.Created{Handle: blob + "~" + created.Handle, Version: created.Version}, nil
}

// stateHandleNames reports whether h, a handle the state store returned, is
// short enough and names sess at its generation; tag is
// store.SubjectTag(sess.Subject).
func (s *Store) stateHandleNames(h string, sess *store.Session, tag string) bool {
	if len(h) > MaxStateHandleLen {
		return false
	}
	si, err := s.state.ParseHandle(h)
	return err == nil && agrees(si, sess, tag)
}

// truncate cuts the session's times to milliseconds, the precision handles
// keep, so that what Create and Rotate return is what later reads return.
func truncate(s *store.Session) {
	for _, t := range []*time.Time{&s.CreatedAt, &s.LastUsedAt, &s.IdleExpiresAt, &s.ExpiresAt} {
		*t = time.UnixMilli(t.UnixMilli()).UTC()
	}
}

func validate(s *store.Session) error {
	if err := store.CheckNewSession(s); err != nil {
		return fmt.Errorf("sealedstore: create session: %w", err)
	}
	return nil
}

// fits checks that the handle sealing d stays within store.MaxHandleLen,
// leaving room for the longest state handle when hybrid.
func (s *Store) fits(d *data) error {
	n := s.sealer.sealedLen(d)
	if s.state != nil {
		n += 1 + MaxStateHandleLen
	}
	if n > store.MaxHandleLen {
		return fmt.Errorf("%w: the handle would take %d bytes, more than %d", ErrTooLarge, n, store.MaxHandleLen)
	}
	return nil
}

// shadow is what a hybrid store keeps of a session in the state store: no
// scope, claims or device data.
func shadow(s *store.Session) store.Session {
	return store.Session{
		ID:            s.ID,
		Subject:       s.Subject,
		CreatedAt:     s.CreatedAt,
		LastUsedAt:    s.LastUsedAt,
		IdleExpiresAt: s.IdleExpiresAt,
		ExpiresAt:     s.ExpiresAt,
		Generation:    s.Generation,
	}
}

// merge is the session a handle carries, with the generation and times the
// state store holds.
func merge(d *data, sh store.Session) store.Session {
	s := d.s
	s.Claims = bytes.Clone(d.s.Claims)
	s.Generation = sh.Generation
	s.LastUsedAt = sh.LastUsedAt
	s.IdleExpiresAt = sh.IdleExpiresAt
	s.ExpiresAt = sh.ExpiresAt
	return s
}

// successor is the data of the generation after d's, as r asks for it.
func successor(d *data, r *store.Rotation) *data {
	n := &data{s: d.s, hash: r.Next}
	n.s.Generation++
	n.s.LastUsedAt = r.Now
	n.s.IdleExpiresAt = r.IdleExpiresAt
	if n.s.IdleExpiresAt.After(n.s.ExpiresAt) {
		n.s.IdleExpiresAt = n.s.ExpiresAt
	}
	if r.Claims != nil {
		n.s.Claims = bytes.Clone(r.Claims)
	}
	truncate(&n.s)
	return n
}

// Rotate follows the decision of [store.Store.Rotate]. Stateless: the handle
// must open and carry the presented hash (else Unknown); an expired session
// is Expired; otherwise Rotated, with a new handle sealing the next
// generation. It never answers Replayed, Reused or Revoked (see the package
// documentation). Hybrid: the handle must open and carry the presented hash
// (no I/O; else Unknown), then the state store rotates the shadow in one
// step and decides the outcome, expiry included; the successor's handle
// travels in the state store's sealed successor, so Replayed returns the
// very handle Rotated returned.
func (s *Store) Rotate(ctx context.Context, r store.Rotation) (store.RotateResult, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.RotateResult{}, err
	}
	h, err := s.proven(r.Handle, r.Presented)
	if err != nil {
		return store.RotateResult{Outcome: store.Unknown}, nil
	}
	if s.state == nil && !h.d.s.Live(r.Now) {
		return store.RotateResult{Outcome: store.Expired}, nil
	}
	next := successor(h.d, &r)
	if err := s.fits(next); err != nil {
		return store.RotateResult{}, err
	}
	if s.state == nil {
		blob, err := s.sealer.seal(next)
		if err != nil {
			return store.RotateResult{}, err
		}
		return store.RotateResult{Outcome: store.Rotated, Handle: blob, Session: next.s}, nil
	}
	return s.rotateHybrid(ctx, r, h, next)
}

func (s *Store) rotateHybrid(ctx context.Context, r store.Rotation, h *handle, next *data) (store.RotateResult, error) {
	raw, err := s.sealer.sealRaw(next)
	if err != nil {
		return store.RotateResult{}, err
	}
	blob := b64.EncodeToString(raw)
	res, err := s.state.Rotate(ctx, store.Rotation{
		Handle:        h.state,
		Presented:     r.Presented,
		Next:          r.Next,
		Sealed:        packSuccessor(r.Sealed, raw),
		Now:           r.Now,
		Grace:         r.Grace,
		IdleExpiresAt: next.s.IdleExpiresAt,
	})
	if err != nil {
		return store.RotateResult{}, fmt.Errorf("sealedstore: state store: %w", err)
	}
	switch res.Outcome {
	case store.Rotated:
		// A state store keeping the contract never fails this check; one
		// that does has rotated already, and its session is stuck.
		// next has h's subject, so h's tag.
		if !s.stateHandleNames(res.Handle, &next.s, h.tag) {
			return store.RotateResult{}, errStateHandle
		}
		return store.RotateResult{
			Outcome: store.Rotated,
			Handle:  blob + "~" + res.Handle,
			Session: merge(next, res.Session),
			Version: res.Version,
		}, nil
	case store.Replayed:
		sealed, succ, err := s.unpackSuccessor(res.Sealed)
		if err != nil || succ.s.ID != h.d.s.ID || succ.s.Generation != res.Session.Generation ||
			!s.stateHandleNames(res.Handle, &succ.s, store.SubjectTag(succ.s.Subject)) {
			return store.RotateResult{}, errStateSuccessor
		}
		return store.RotateResult{
			Outcome: store.Replayed,
			Handle:  succ.blob + "~" + res.Handle,
			Sealed:  sealed,
			Session: merge(&succ.data, res.Session),
			Version: res.Version,
		}, nil
	case store.Reused:
		return store.RotateResult{Outcome: store.Reused, Session: merge(h.d, res.Session)}, nil
	case store.Expired, store.Revoked:
		return store.RotateResult{Outcome: res.Outcome}, nil
	default:
		return store.RotateResult{Outcome: store.Unknown}, nil
	}
}

var (
	errStateHandle    = fmt.Errorf("%w: sealedstore: the state store returned a handle that does not name the rotated session", store.ErrUnavailable)
	errStateSuccessor = fmt.Errorf("%w: sealedstore: the state store's sealed successor does not open or does not match (state data altered, or its key left the ring)", store.ErrUnavailable)
)

// packSuccessor is what a hybrid rotation gives the state store to keep for
// the grace window: the caller's sealed successor and the successor's raw
// blob (before base64url). The blob is sealed under the ring key, so a dump
// of the state store reads no session data from it.
func packSuccessor(sealed, raw []byte) []byte {
	out := make([]byte, 0, binary.MaxVarintLen64+len(sealed)+len(raw))
	out = binary.AppendUvarint(out, uint64(len(sealed)))
	out = append(out, sealed...)
	return append(out, raw...)
}

// openedBlob is a successor blob from the state store, opened.
type openedBlob struct {
	data
	blob string // base64url, as in a handle
}

// unpackSuccessor reverses packSuccessor and opens the blob.
func (s *Store) unpackSuccessor(p []byte) ([]byte, *openedBlob, error) {
	r := reader{b: p}
	sealed := r.take(r.uvarint())
	if r.bad {
		return nil, nil, errMalformed
	}
	blob := b64.EncodeToString(r.b)
	d, err := s.sealer.open(blob)
	if err != nil {
		return nil, nil, err
	}
	return bytes.Clone(sealed), &openedBlob{data: *d, blob: blob}, nil
}

// Lookup returns the live session the handle carries when presented is its
// hash. Stateless, liveness is the handle's own expiry; hybrid, the state
// store decides it (revocation, reuse, expiry) and supplies the current
// generation and times. Anything else is store.ErrNotFound. It writes
// nothing.
func (s *Store) Lookup(ctx context.Context, h string, presented [32]byte, now time.Time) (store.Session, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.Session{}, err
	}
	oh, err := s.proven(h, presented)
	if err != nil {
		return store.Session{}, err
	}
	if s.state == nil {
		if !oh.d.s.Live(now) {
			return store.Session{}, fmt.Errorf("%w: sealedstore: session is no longer live", store.ErrNotFound)
		}
		return oh.d.s, nil
	}
	sh, err := s.state.Lookup(ctx, oh.state, presented, now)
	if err != nil {
		return store.Session{}, fmt.Errorf("sealedstore: state store: %w", err)
	}
	return merge(oh.d, sh), nil
}

// Revoke ends the session the handle names, under the same proof as Lookup,
// in the state store (hybrid only; stateless, store.ErrUnsupported).
func (s *Store) Revoke(ctx context.Context, h string, presented [32]byte, now time.Time) (store.Session, error) {
	if s.state == nil {
		return store.Session{}, unsupported("Revoke", "RevokeSessions (a State store)")
	}
	if err := store.ContextError(ctx); err != nil {
		return store.Session{}, err
	}
	oh, err := s.proven(h, presented)
	if err != nil {
		return store.Session{}, err
	}
	sh, err := s.state.Revoke(ctx, oh.state, presented, now)
	if err != nil {
		return store.Session{}, fmt.Errorf("sealedstore: state store: %w", err)
	}
	return merge(oh.d, sh), nil
}

// Sessions always fails with store.ErrUnsupported: session data lives in the
// tokens, not here.
func (s *Store) Sessions(ctx context.Context, subject string, now time.Time) ([]store.Session, error) {
	return nil, unsupported("Sessions", "ListSessions")
}

// RevokeSession ends subject's live session id in the state store (hybrid
// only; stateless, store.ErrUnsupported).
func (s *Store) RevokeSession(ctx context.Context, subject, id string, now time.Time) error {
	if s.state == nil {
		return unsupported("RevokeSession", "RevokeSessions (a State store)")
	}
	return s.state.RevokeSession(ctx, subject, id, now)
}

// RevokeAll ends every session of subject and bumps its version in the state
// store (hybrid with a state store declaring Versions only; else
// store.ErrUnsupported).
func (s *Store) RevokeAll(ctx context.Context, subject string, now time.Time) (uint64, error) {
	if s.state == nil {
		return 0, unsupported("RevokeAll", "Versions (a State store)")
	}
	return s.state.RevokeAll(ctx, subject, now)
}

// Deny puts jti on the state store's deny-list (hybrid only; stateless,
// store.ErrUnsupported).
func (s *Store) Deny(ctx context.Context, subject, jti string, until time.Time) error {
	if s.state == nil {
		return unsupported("Deny", "DenyList (a State store)")
	}
	return s.state.Deny(ctx, subject, jti, until)
}

// Version reads subject's version from the state store (hybrid only;
// stateless, store.ErrUnsupported).
func (s *Store) Version(ctx context.Context, subject string) (uint64, error) {
	if s.state == nil {
		return 0, unsupported("Version", "Versions (a State store)")
	}
	return s.state.Version(ctx, subject)
}

// CheckAccess reads the state store's answer (hybrid only; stateless,
// store.ErrUnsupported: run sessionkit with SkipRevocationCheck).
func (s *Store) CheckAccess(ctx context.Context, q store.AccessCheck) (store.AccessState, error) {
	if s.state == nil {
		return store.AccessState{}, unsupported("CheckAccess", "DenyList, Versions and RevokeSessions (a State store)")
	}
	return s.state.CheckAccess(ctx, q)
}

// UseOnce records key in the state store (hybrid only; stateless,
// store.ErrUnsupported).
func (s *Store) UseOnce(ctx context.Context, namespace, key string, until, now time.Time) (bool, error) {
	if s.state == nil {
		return false, unsupported("UseOnce", "UseOnce (a State store)")
	}
	return s.state.UseOnce(ctx, namespace, key, until, now)
}
