package sessionkit

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/sessionkit/sessionkit/internal/jose"
)

// EventKind says what happened.
type EventKind int

// The events sessionkit reports through Config.Events.
const (
	// EventLogin: a session was created.
	EventLogin EventKind = iota + 1
	// EventRefresh: a refresh token was rotated (or replayed in grace).
	EventRefresh
	// EventReuseDetected: a rotated refresh token was presented again; the
	// session was revoked. Treat it as a sign of token theft.
	EventReuseDetected
	// EventRefreshRefused: Config.OnRefresh refused a refresh; the session
	// was revoked.
	EventRefreshRefused
	// EventLogout: a session was ended with its refresh token.
	EventLogout
	// EventLogoutAll: every session of a subject was ended.
	EventLogoutAll
	// EventSessionRevoked: a session was revoked by id.
	EventSessionRevoked
	// EventAccessTokenRevoked: an access token's jti was denied.
	EventAccessTokenRevoked
	// EventClientToken: the TokenEndpoint issued an access token for an
	// assertion (RFC 7523); Subject is the client or the user it acts for.
	EventClientToken
	// EventClientRevoked: every access token of a client for itself was
	// revoked (Issuer.RevokeClient); Subject is the client id.
	EventClientRevoked
	// EventAccessTokenRefused: an access token was refused, by
	// Issuer.Verify, a Verifier or the Middleware (once per refusal: the
	// Middleware reports only what it refuses itself, such as a missing
	// token); Reason says why.
	EventAccessTokenRefused
	// EventRefreshFailed: a refresh token was refused (Refresh, the
	// refresh handler, the token endpoint's refresh grant); Reason is
	// ReasonUnknownToken, ReasonSessionExpired, ReasonSessionRevoked,
	// ReasonStoreUnavailable or ReasonInternal, and, for what
	// RefreshHandler refuses before Refresh, ReasonMissing,
	// ReasonCrossOrigin or ReasonInvalidRequest. Reuse has its own kind,
	// EventReuseDetected, and a refusal of OnRefresh EventRefreshRefused.
	// A refused refresh grant at the TokenEndpoint is also an
	// EventTokenRequestRefused: count one kind or the other, not both.
	EventRefreshFailed
	// EventTokenRequestRefused: the TokenEndpoint (or the revocation or
	// introspection endpoint) refused a request; Reason is
	// ReasonInvalidClient or ReasonBadSignature (an assertion that proves
	// no client: the answer is the same for both), ReasonInvalidGrant,
	// ReasonAssertionReplayed, ReasonReused (a reused refresh token),
	// ReasonInvalidRequest, ReasonInvalidScope, ReasonUnauthorizedClient,
	// ReasonUnsupportedGrant, ReasonStoreUnavailable,
	// ReasonKeysUnavailable or ReasonInternal.
	EventTokenRequestRefused
	// EventKeysFetchFailed: a Verifier could not fetch or use an issuer's
	// JWKS or discovery document; Reason is ReasonFetchFailed or
	// ReasonBadDocument, Issuer the trusted issuer. Fetches run on a
	// goroutine of their own (single-flight), so this event may arrive
	// after the Verify that started the fetch has returned.
	EventKeysFetchFailed
)

var eventNames = map[EventKind]string{
	EventLogin:               "login",
	EventRefresh:             "refresh",
	EventReuseDetected:       "reuse_detected",
	EventRefreshRefused:      "refresh_refused",
	EventLogout:              "logout",
	EventLogoutAll:           "logout_all",
	EventSessionRevoked:      "session_revoked",
	EventAccessTokenRevoked:  "access_token_revoked",
	EventClientToken:         "client_token",
	EventClientRevoked:       "client_revoked",
	EventAccessTokenRefused:  "access_token_refused",
	EventRefreshFailed:       "refresh_failed",
	EventTokenRequestRefused: "token_request_refused",
	EventKeysFetchFailed:     "keys_fetch_failed",
}

// Reason says why sessionkit refused a token or a request, or why a fetch
// failed: a small closed set, fit for a metric's label. Event.Reason carries
// it.
type Reason string

// The reasons of refusals and failures.
const (
	// Access tokens.
	ReasonMissing           Reason = "missing"            // no token in the request (Middleware)
	ReasonMalformed         Reason = "malformed"          // not a compact JWS, bad base64 or JSON, a claim of the wrong type, a required claim missing, a forbidden header
	ReasonWrongType         Reason = "wrong_type"         // typ not accepted (TokenTypes)
	ReasonAlgorithm         Reason = "algorithm"          // alg not allowed, or not the key's own
	ReasonUnknownKey        Reason = "unknown_key"        // kid of no key of the issuer
	ReasonBadSignature      Reason = "bad_signature"      // the signature does not verify
	ReasonWrongIssuer       Reason = "wrong_issuer"       // iss not a trusted issuer
	ReasonWrongAudience     Reason = "wrong_audience"     // aud without ours
	ReasonExpired           Reason = "expired"            // exp passed, or iat longer ago than MaxTokenAge
	ReasonLifetime          Reason = "lifetime"           // exp - iat longer than MaxTokenAge: the issuer mints longer-lived tokens than this verifier takes
	ReasonNotYetValid       Reason = "not_yet_valid"      // nbf or iat in the future
	ReasonTooLarge          Reason = "too_large"          // over the size cap
	ReasonRevoked           Reason = "revoked"            // denied jti, logged out everywhere, session ended
	ReasonInsufficientScope Reason = "insufficient_scope" // RequireScope
	ReasonCrossOrigin       Reason = "cross_origin"       // the cross-origin check refused a cookie request
	ReasonKeysUnavailable   Reason = "keys_unavailable"   // no keys could be obtained
	ReasonStoreUnavailable  Reason = "store_unavailable"  // the store did not answer

	// Refresh tokens (reuse is EventReuseDetected).
	ReasonUnknownToken   Reason = "unknown_token"   // not a token of a session this Issuer knows
	ReasonSessionExpired Reason = "session_expired" // the session's idle or absolute expiry passed
	ReasonSessionRevoked Reason = "session_revoked" // the session was ended

	// Token endpoint (RFC 6749 §5.2 and RFC 7523).
	ReasonInvalidClient      Reason = "invalid_client"
	ReasonInvalidGrant       Reason = "invalid_grant"
	ReasonAssertionReplayed  Reason = "assertion_replayed"
	ReasonInvalidRequest     Reason = "invalid_request"
	ReasonInvalidScope       Reason = "invalid_scope"
	ReasonUnauthorizedClient Reason = "unauthorized_client"
	ReasonUnsupportedGrant   Reason = "unsupported_grant_type"

	// JWKS and discovery fetches.
	ReasonFetchFailed Reason = "fetch_failed" // network error, timeout, HTTP status, refused redirect
	ReasonBadDocument Reason = "bad_document" // not a usable JWKS or discovery document (issuer mismatch included)

	// Others.
	ReasonReused   Reason = "reused"   // a rotated refresh token presented again (EventReuseDetected; the handlers' log records)
	ReasonInternal Reason = "internal" // a failure none of the above names (a TokenVerifier's own error, a failed cookie write): fail closed
)

// LogLevel is the level at which Middleware, RequireScope and the
// ready-made handlers (RefreshHandler, LogoutHandler, LogoutAllHandler,
// SessionsHandler, TokenEndpoint, RevocationEndpoint,
// IntrospectionEndpoint) log a refusal with this reason, one record per
// refused request, with the reason, the status, the request's method and
// path, and never a token, cookie or Authorization value:
//
//   - Debug, what ordinary traffic does: ReasonMissing, ReasonExpired,
//     ReasonRevoked, ReasonSessionExpired, ReasonSessionRevoked,
//     ReasonUnknownToken (a stale cookie), ReasonInsufficientScope,
//     ReasonInvalidRequest;
//   - Info, a client's mistake: ReasonNotYetValid (clock skew),
//     ReasonMalformed, ReasonTooLarge, ReasonInvalidGrant,
//     ReasonInvalidScope, ReasonUnauthorizedClient, ReasonUnsupportedGrant;
//   - Warn, a sign of an attack or a misconfiguration: ReasonBadSignature,
//     ReasonUnknownKey, ReasonWrongIssuer, ReasonWrongAudience,
//     ReasonWrongType, ReasonAlgorithm, ReasonLifetime, ReasonCrossOrigin, ReasonReused,
//     ReasonInvalidClient, ReasonAssertionReplayed, and the outages
//     (ReasonStoreUnavailable, ReasonKeysUnavailable, ReasonFetchFailed,
//     ReasonBadDocument, ReasonInternal), whose records also carry the
//     error.
//
// An unknown reason logs at Warn.
func (r Reason) LogLevel() slog.Level {
	switch r {
	case ReasonMissing, ReasonExpired, ReasonRevoked, ReasonSessionExpired, ReasonSessionRevoked,
		ReasonUnknownToken, ReasonInsufficientScope, ReasonInvalidRequest:
		return slog.LevelDebug
	case ReasonNotYetValid, ReasonMalformed, ReasonTooLarge, ReasonInvalidGrant, ReasonInvalidScope,
		ReasonUnauthorizedClient, ReasonUnsupportedGrant:
		return slog.LevelInfo
	}
	return slog.LevelWarn
}

// reasonOf is the Reason of an error of verification: the sentinel it
// wraps, or the codec's finer reason for ErrInvalidToken. An error that
// wraps none of them is ReasonInternal (callers fail closed on it).
func reasonOf(err error) Reason {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrTokenExpired):
		return ReasonExpired
	case errors.Is(err, ErrTokenRevoked):
		return ReasonRevoked
	case errors.Is(err, ErrStoreUnavailable):
		return ReasonStoreUnavailable
	case errors.Is(err, ErrKeysUnavailable):
		return ReasonKeysUnavailable
	case errors.Is(err, ErrRefreshReused):
		return ReasonReused
	case errors.Is(err, ErrSessionExpired):
		return ReasonSessionExpired
	case errors.Is(err, ErrSessionRevoked):
		return ReasonSessionRevoked
	}
	if r := jose.ReasonOf(err); r != "" {
		return Reason(r)
	}
	if errors.Is(err, ErrInvalidToken) {
		return ReasonMalformed
	}
	return ReasonInternal
}

// refusedEvent is the EventAccessTokenRefused of err. c, when set, holds
// the token's verified claims (a refusal after the signature: expired,
// revoked, wrong audience...), which name the subject and session.
func refusedEvent(c *Claims, err error, now time.Time) Event {
	e := Event{Kind: EventAccessTokenRefused, Reason: reasonOf(err), Time: now}
	if c != nil {
		e.Subject, e.ClientID, e.SessionID = c.Subject, c.ClientID, c.SessionID
	}
	return e
}

// String returns the event's name, e.g. "reuse_detected".
func (k EventKind) String() string {
	if s, ok := eventNames[k]; ok {
		return s
	}
	return "unknown"
}

// Event is one security-relevant happening. It never carries token material.
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// Issuer is the identifier of the Issuer that reports it
	// (Config.Issuer), so that Issuers sharing one hook or logger (the
	// tenants of one store) can be told apart. A Verifier names the
	// trusted issuer whose rules refused the token (the one its iss named,
	// among the configured ones) or whose keys failed, and nothing when the
	// token named no trusted issuer: never a value outside the
	// configuration.
	Issuer string
	// Subject is the user (or client) concerned.
	Subject string
	// ClientID is the OAuth client concerned, if any: the client a session
	// or token was issued to, or that obtained a token.
	ClientID string
	// SessionID is the session concerned, if any.
	SessionID string
	// Reason says why, for refusals and failures (and ReasonReused for
	// EventReuseDetected); empty otherwise.
	Reason Reason
	// Time is the issuer's clock at the event.
	Time time.Time
}

// requestKey is the context key of a *requestInfo.
type requestKey struct{}

// requestInfo is what a ready-made handler tells the Issuer of the request
// it serves, for the records Issuer.emit writes (reuse).
type requestInfo struct{ method, path string }

// withRequest returns r's context carrying r's method and path.
func withRequest(r *http.Request) context.Context {
	return context.WithValue(r.Context(), requestKey{}, &requestInfo{r.Method, r.URL.Path})
}

// inRequest reports whether ctx is a ready-made handler's (withRequest):
// the handler then logs the refusal, with its cause, once.
func inRequest(ctx context.Context) bool {
	_, ok := ctx.Value(requestKey{}).(*requestInfo)
	return ok
}

// withRequestAttrs appends the method and path of ctx's request, if any,
// to attrs.
func withRequestAttrs(ctx context.Context, attrs ...slog.Attr) []slog.Attr {
	if ri, ok := ctx.Value(requestKey{}).(*requestInfo); ok {
		attrs = append(attrs, slog.String("method", ri.method), slog.String("path", ri.path))
	}
	return attrs
}

// emit reports e to Config.Events and, for the events that call for
// attention, to the logger. Refusals (EventAccessTokenRefused,
// EventRefreshFailed, EventTokenRequestRefused) are not logged here: the
// Middleware and the handlers log each refused request once.
func (iss *Issuer) emit(ctx context.Context, e Event) {
	e.Issuer = iss.issuer
	switch e.Kind {
	case EventReuseDetected:
		// The handlers leave this record as the refusal's own.
		iss.log.LogAttrs(ctx, slog.LevelWarn, "sessionkit: refresh token reuse detected; session revoked",
			withRequestAttrs(ctx, slog.String("issuer", e.Issuer), slog.String("subject", e.Subject), slog.String("sid", e.SessionID), slog.String("reason", string(ReasonReused)))...)
	case EventRefreshRefused:
		// The handlers leave this record as the refusal's own.
		iss.log.LogAttrs(ctx, slog.LevelInfo, "sessionkit: refresh refused by OnRefresh; session revoked",
			withRequestAttrs(ctx, slog.String("issuer", e.Issuer), slog.String("subject", e.Subject), slog.String("sid", e.SessionID))...)
	case EventLogoutAll:
		iss.log.InfoContext(ctx, "sessionkit: logged out everywhere", slog.String("issuer", e.Issuer), slog.String("subject", e.Subject))
	case EventClientRevoked:
		iss.log.InfoContext(ctx, "sessionkit: client tokens revoked", slog.String("issuer", e.Issuer), slog.String("client_id", e.Subject))
	}
	if iss.events != nil {
		iss.events(ctx, e)
	}
}

// reportRefusal reports a refusal of the Middleware (refusalSink).
func (iss *Issuer) reportRefusal(ctx context.Context, e Event) {
	if iss != nil && iss.events != nil {
		e.Time = iss.now()
		iss.emit(ctx, e)
	}
}

// reportRefusal reports a refusal of the Middleware (refusalSink), naming
// the Verifier's issuer when it trusts only one.
func (v *Verifier) reportRefusal(ctx context.Context, e Event) {
	if v == nil || v.events == nil {
		return
	}
	if v.single != nil {
		e.Issuer = v.single.rules.issuer
	}
	e.Time = v.clock()
	v.events(ctx, e)
}
