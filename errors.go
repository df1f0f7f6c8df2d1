package sessionkit

import (
	"errors"

	"github.com/sessionkit/sessionkit/internal/jose"
	"github.com/sessionkit/sessionkit/store"
)

// The errors sessionkit returns. Every error it returns wraps one of them, so
// callers branch with errors.Is. Messages never contain token material.
var (
	// ErrInvalidToken means a token is malformed, tampered, signed by an
	// unknown key or algorithm, issued for someone else, or otherwise not one
	// of ours. It says nothing about a session's state.
	ErrInvalidToken = jose.ErrInvalidToken
	// ErrTokenExpired means an access token's exp has passed (beyond the
	// leeway). Refreshing helps.
	ErrTokenExpired = errors.New("sessionkit: token expired")
	// ErrTokenRevoked means an access token was revoked: its jti is denied,
	// its subject logged out everywhere after it was issued, or its session
	// ended.
	ErrTokenRevoked = errors.New("sessionkit: token revoked")
	// ErrRefreshReused means a refresh token that had already been rotated
	// was presented again outside the grace window: a sign of theft. The
	// whole session has been revoked.
	ErrRefreshReused = errors.New("sessionkit: refresh token reused; session revoked")
	// ErrSessionExpired means the session's idle or absolute lifetime ended.
	ErrSessionExpired = errors.New("sessionkit: session expired")
	// ErrSessionRevoked means the session was logged out or revoked.
	ErrSessionRevoked = errors.New("sessionkit: session revoked")
	// ErrStoreUnavailable means the store could not answer; nothing was
	// granted and nothing changed. It is the same value as
	// store.ErrUnavailable.
	ErrStoreUnavailable = store.ErrUnavailable
	// ErrKeysUnavailable means no verification keys could be obtained.
	ErrKeysUnavailable = errors.New("sessionkit: keys unavailable")
	// ErrUnsupported means the configured store cannot do what was asked. It
	// is the same value as store.ErrUnsupported.
	ErrUnsupported = store.ErrUnsupported
	// ErrNotFound means no live session matches: an unknown id, or a session
	// of another subject. It is the same value as store.ErrNotFound.
	ErrNotFound = store.ErrNotFound
	// ErrInvalidConfig means a Config (or another configuration value) was
	// rejected; the message says which field and why.
	ErrInvalidConfig = errors.New("sessionkit: invalid configuration")
	// ErrInvalidGrant means Login (or LoginCookies) was given a Grant it
	// cannot use: no subject, a subject or client id that is too long or
	// holds control characters, a bad scope; the message says which
	// field.
	ErrInvalidGrant = errors.New("sessionkit: invalid grant")
	// ErrMissingToken means a request carried no token: Middleware (401
	// with a bare challenge) and RefreshHandler refuse it so, and a
	// RefusalWriter sees it.
	ErrMissingToken = errors.New("sessionkit: no token in the request")
	// ErrInvalidRequest means a request is malformed: a token sent twice
	// or by two methods, a bad body, a method the route does not take (RFC
	// 6750 invalid_request).
	ErrInvalidRequest = errors.New("sessionkit: invalid request")
	// ErrInsufficientScope means the token lacks a scope RequireScope
	// wants (RFC 6750 insufficient_scope).
	ErrInsufficientScope = errors.New("sessionkit: insufficient scope")
	// ErrCrossOrigin means Issuer.LoginCookies refused a request that
	// http.CrossOriginProtection (with Cookies.TrustedOrigins) finds
	// cross-origin, or that used a safe method (GET, HEAD, OPTIONS), which
	// that check lets through: a login forged by another site. Answer 403.
	// Middleware and the ready-made handlers refuse cross-origin cookie
	// requests with it too (see RefusalWriter).
	ErrCrossOrigin = errors.New("sessionkit: cross-origin request refused")
)
