package sessionkit

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// Refresh tokens are "skr1." + handle + "." + secret: the store's handle for
// the session (which names its generation) and 256 random bits, base64url.
const (
	refreshPrefix        = "skr1."
	refreshSecretLen     = 32
	refreshSecretB64Len  = 43
	maxRefreshTokenSize  = len(refreshPrefix) + store.MaxHandleLen + 1 + refreshSecretB64Len
	successorInfo        = "sessionkit/successor/v1"
	successorNonceLen    = 12
	successorSealedBytes = successorNonceLen + refreshSecretLen + 16
)

// parseRefreshToken splits a refresh token into the store handle and the
// secret. It checks shape only; errors wrap ErrInvalidToken and never quote
// the token.
func parseRefreshToken(tok string) (handle string, secret [refreshSecretLen]byte, err error) {
	if len(tok) > maxRefreshTokenSize {
		return "", secret, errMalformed("refresh token exceeds the size limit")
	}
	if len(tok) < len(refreshPrefix) || tok[:len(refreshPrefix)] != refreshPrefix {
		return "", secret, errMalformed("not a sessionkit refresh token (want prefix skr1.)")
	}
	rest := tok[len(refreshPrefix):]
	if len(rest) < refreshSecretB64Len+2 || rest[len(rest)-refreshSecretB64Len-1] != '.' {
		return "", secret, errMalformed("malformed refresh token")
	}
	handle = rest[:len(rest)-refreshSecretB64Len-1]
	for i := 0; i < len(handle); i++ {
		c := handle[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '~') {
			return "", secret, errMalformed("malformed refresh token handle")
		}
	}
	n, err := b64.Decode(secret[:], []byte(rest[len(rest)-refreshSecretB64Len:]))
	if err != nil || n != refreshSecretLen {
		return "", secret, errMalformed("malformed refresh token secret")
	}
	return handle, secret, nil
}

// successorAEAD derives the AEAD that seals the successor of the refresh
// token whose secret is prev: AES-256-GCM under HKDF-SHA256(prev, info
// "sessionkit/successor/v1").
func successorAEAD(prev []byte) (cipher.AEAD, error) {
	key, err := hkdfKey32(prev, successorInfo)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// successorAD binds a sealed successor to its session and generation.
func successorAD(sid string, gen uint64) []byte {
	ad := make([]byte, 0, len(successorInfo)+1+len(sid)+8)
	ad = append(ad, successorInfo...)
	ad = append(ad, 0)
	ad = append(ad, sid...)
	return binary.BigEndian.AppendUint64(ad, gen)
}

// sealSuccessor seals next (the successor's secret, generation gen) with
// aead, successorAEAD of the presented secret: under a key only the holder
// of that secret can derive, with a random nonce.
func sealSuccessor(aead cipher.AEAD, sid string, gen uint64, next []byte) ([]byte, error) {
	out := make([]byte, successorNonceLen, successorSealedBytes)
	if _, err := rand.Read(out); err != nil {
		return nil, err
	}
	return aead.Seal(out, out, next, successorAD(sid, gen)), nil
}

// openSuccessor reverses sealSuccessor. A refresh derives aead once and
// uses it for both: the successor it seals and, on a replay, the one the
// earlier rotation sealed under the same presented secret.
func openSuccessor(aead cipher.AEAD, sid string, gen uint64, sealed []byte) ([]byte, error) {
	if len(sealed) != successorSealedBytes {
		return nil, errors.New("sealed successor has the wrong size")
	}
	return aead.Open(nil, sealed[:successorNonceLen], sealed[successorNonceLen:], successorAD(sid, gen))
}

// Refresh rotates a refresh token: it returns a new refresh token and a new
// access token, and the presented one stops working.
//
// Presenting the immediately previous token again within Config.ReuseGrace
// returns the same successor again (with a fresh access token), so two tabs
// or a retried request do not log the user out. Presenting an older token, or
// the previous one after the window, is reuse: the whole session is revoked
// and the error wraps ErrRefreshReused. Other errors wrap ErrInvalidToken
// (not a token of this session: nothing changes), ErrSessionExpired,
// ErrSessionRevoked or ErrStoreUnavailable.
//
// A session issued to an OAuth client (Grant.ClientID) refreshes only at
// the TokenEndpoint, with that client's authentication: here its tokens are
// unknown (ErrInvalidToken) and nothing changes.
func (iss *Issuer) Refresh(ctx context.Context, refreshToken string) (*Tokens, error) {
	return iss.refresh(ctx, refreshToken, "", nil)
}

// refresh is Refresh for the session's owner: clientID is "" for user
// sessions and the authenticated client for client sessions (the secret
// hash binds it, see scope.Scope.SecretHash). accessScope, when set, narrows the scope
// of the new access token (the session keeps its own).
//
// A failure is reported as EventRefreshFailed, except reuse
// (EventReuseDetected) and a refusal of OnRefresh (EventRefreshRefused),
// which have their own events. The event names no subject or session: a
// failed refresh proves neither (a handle names a session, but anyone can
// write one).
func (iss *Issuer) refresh(ctx context.Context, refreshToken, clientID string, accessScope *string) (*Tokens, error) {
	toks, err := iss.redeem(ctx, refreshToken, clientID, accessScope)
	if err != nil && iss.events != nil && !errors.Is(err, ErrRefreshReused) && !errors.Is(err, errOnRefresh) {
		reason := reasonOf(err)
		if reason == ReasonMalformed || reason == ReasonTooLarge {
			reason = ReasonUnknownToken
		}
		iss.emit(ctx, Event{Kind: EventRefreshFailed, Reason: reason, Time: iss.now()})
	}
	return toks, err
}

// errOnRefresh is in the chain of a refresh Config.OnRefresh refused.
var errOnRefresh = errors.New("refused by OnRefresh")

// redeem is refresh without the failure event.
func (iss *Issuer) redeem(ctx context.Context, refreshToken, clientID string, accessScope *string) (*Tokens, error) {
	handle, secret, err := parseRefreshToken(refreshToken)
	if err != nil {
		return nil, err
	}
	info, err := iss.store.ParseHandle(handle)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errMalformed("unknown refresh token")
		}
		return nil, storeFailure(err)
	}
	now := iss.now().Truncate(time.Millisecond)
	presented := iss.scope.SecretHash(secret[:], clientID)
	var claims []byte // nil: unchanged
	if iss.onRefresh != nil {
		if claims, err = iss.consult(ctx, handle, presented, now); err != nil {
			return nil, err
		}
	}
	var next [refreshSecretLen]byte
	if _, err := rand.Read(next[:]); err != nil {
		return nil, err
	}
	aead, err := successorAEAD(secret[:])
	if err != nil {
		return nil, err
	}
	sealed, err := sealSuccessor(aead, info.SessionID, info.Generation+1, next[:])
	if err != nil {
		return nil, err
	}
	nextHash := iss.scope.SecretHash(next[:], clientID)
	grace, abandonedNext := iss.abandoned.grace(presented, now, iss.grace)
	res, err := iss.store.Rotate(ctx, store.Rotation{
		Handle:        handle,
		Presented:     presented,
		Next:          nextHash,
		Sealed:        sealed,
		Now:           now,
		Grace:         grace,
		IdleExpiresAt: now.Add(iss.refreshTTL),
		Claims:        claims,
	})
	if err != nil {
		err = storeFailure(err)
		if errors.Is(err, ErrStoreUnavailable) {
			iss.abandoned.add(presented, nextHash, now) // it may have taken effect
		}
		if !inRequest(ctx) { // a handler logs its refusal, with the error
			iss.log.ErrorContext(ctx, "sessionkit: refresh failed: store error", "sid", info.SessionID, "error", err)
		}
		return nil, err
	}
	if abandonedNext != nil && res.Outcome != store.Replayed {
		iss.abandoned.forget(presented) // rotated: no abandoned call took effect
	}
	switch res.Outcome {
	case store.Rotated, store.Replayed, store.Reused:
		if !iss.own(ctx, &res.Session) {
			return nil, errMalformed("unknown refresh token")
		}
	}
	var successor []byte
	switch res.Outcome {
	case store.Rotated:
		successor = next[:]
	case store.Replayed:
		successor, err = openSuccessor(aead, res.Session.ID, res.Session.Generation, res.Sealed)
		if err != nil {
			iss.log.ErrorContext(ctx, "sessionkit: sealed successor does not open; store data altered?", "sid", res.Session.ID)
			return nil, errMalformed("refresh token cannot be replayed")
		}
		if abandonedNext != nil && !now.Before(res.Session.LastUsedAt.Add(iss.grace)) &&
			!slices.Contains(abandonedNext, iss.scope.SecretHash(successor, clientID)) {
			// Only the stretch for an abandoned call allowed this replay,
			// and the rotation that spent the token was not one of those
			// calls: its caller got the successor, so this is reuse.
			return nil, iss.revokeReused(ctx, &res, iss.scope.SecretHash(successor, clientID), now)
		}
		if claims != nil { // a replay writes nothing, but its access token follows the hook
			res.Session.Claims = claims
		}
	case store.Reused:
		iss.emitReused(ctx, &res.Session, now)
		return nil, ErrRefreshReused
	case store.Expired:
		return nil, ErrSessionExpired
	case store.Revoked:
		return nil, ErrSessionRevoked
	default:
		return nil, errMalformed("unknown refresh token")
	}
	s := &res.Session
	if accessScope != nil {
		narrowed := *s
		narrowed.Scope = *accessScope
		s = &narrowed
	}
	toks, err := iss.tokens(s, res.Handle, successor, res.Version, now)
	if err != nil {
		return nil, err
	}
	iss.emit(ctx, Event{Kind: EventRefresh, Subject: s.Subject, ClientID: s.ClientID, SessionID: s.ID, Time: now})
	return toks, nil
}

// revokeReused ends the session of res, a replay that turned out to be
// reuse (see abandonedRotations), under the proof of its successor's hash,
// and reports the reuse.
func (iss *Issuer) revokeReused(ctx context.Context, res *store.RotateResult, successor [32]byte, now time.Time) error {
	if _, err := iss.store.Revoke(ctx, res.Handle, successor, now); err != nil && !errors.Is(err, store.ErrNotFound) {
		return storeFailure(err)
	}
	iss.emitReused(ctx, &res.Session, now)
	return ErrRefreshReused
}

// emitReused reports reuse of a refresh token of session s.
func (iss *Issuer) emitReused(ctx context.Context, s *store.Session, now time.Time) {
	iss.emit(ctx, Event{Kind: EventReuseDetected, Reason: ReasonReused, Subject: s.Subject, ClientID: s.ClientID, SessionID: s.ID, Time: now})
}

// consult runs Config.OnRefresh before anything is written, on the session
// the presented secret proves (store.Lookup), holding no lock. A refusal
// revokes the session under the same proof. It returns the encoded claims
// that replace the session's (nil: unchanged).
//
// When Lookup finds nothing (a wrong secret, a revoked or expired session)
// the hook is skipped and Rotate reports why; sessions never come back to
// life, so such a token cannot rotate either, and reuse is still detected.
func (iss *Issuer) consult(ctx context.Context, handle string, presented [32]byte, now time.Time) ([]byte, error) {
	s, err := iss.store.Lookup(ctx, handle, presented, now)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		return nil, storeFailure(err)
	}
	if !iss.own(ctx, &s) {
		return nil, errMalformed("unknown refresh token")
	}
	claims, hookErr := iss.onRefresh(ctx, publicSession(&s))
	if hookErr != nil {
		refused := fmt.Errorf("%w: %w: %w", ErrSessionRevoked, errOnRefresh, hookErr)
		// A store that cannot end the session writes nothing: the hook
		// then refuses each later refresh in turn.
		if iss.caps.Has(store.RevokeSessions) {
			if _, err := iss.store.Revoke(ctx, handle, presented, now); err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, errors.Join(refused, storeFailure(err))
			}
		}
		iss.emit(ctx, Event{Kind: EventRefreshRefused, Subject: s.Subject, ClientID: s.ClientID, SessionID: s.ID, Time: now})
		return nil, refused
	}
	if claims == nil {
		return nil, nil
	}
	enc, err := encodeClaims(claims, ErrInvalidConfig)
	if err != nil {
		return nil, fmt.Errorf("sessionkit: OnRefresh returned bad claims: %w", err)
	}
	if enc == nil {
		enc = []byte("{}") // the hook cleared them
	}
	s.Claims = enc
	if err := iss.fits(&s); err != nil {
		return nil, fmt.Errorf("sessionkit: OnRefresh returned claims that do not fit: %w", err)
	}
	return enc, nil
}
