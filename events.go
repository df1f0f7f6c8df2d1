package sessionkit

import (
	"context"
	"log/slog"
	"time"
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
)

var eventNames = map[EventKind]string{
	EventLogin:              "login",
	EventRefresh:            "refresh",
	EventReuseDetected:      "reuse_detected",
	EventRefreshRefused:     "refresh_refused",
	EventLogout:             "logout",
	EventLogoutAll:          "logout_all",
	EventSessionRevoked:     "session_revoked",
	EventAccessTokenRevoked: "access_token_revoked",
	EventClientToken:        "client_token",
	EventClientRevoked:      "client_revoked",
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
	// tenants of one store) can be told apart.
	Issuer string
	// Subject is the user (or client) concerned.
	Subject string
	// ClientID is the OAuth client concerned, if any: the client a session
	// or token was issued to, or that obtained a token.
	ClientID string
	// SessionID is the session concerned, if any.
	SessionID string
	// Time is the issuer's clock at the event.
	Time time.Time
}

// emit reports e to Config.Events and, for the events that call for
// attention, to the logger.
func (iss *Issuer) emit(ctx context.Context, e Event) {
	e.Issuer = iss.issuer
	switch e.Kind {
	case EventReuseDetected:
		iss.log.WarnContext(ctx, "sessionkit: refresh token reuse detected; session revoked",
			slog.String("issuer", e.Issuer), slog.String("subject", e.Subject), slog.String("sid", e.SessionID))
	case EventRefreshRefused:
		iss.log.InfoContext(ctx, "sessionkit: refresh refused by OnRefresh; session revoked",
			slog.String("issuer", e.Issuer), slog.String("subject", e.Subject), slog.String("sid", e.SessionID))
	case EventLogoutAll:
		iss.log.InfoContext(ctx, "sessionkit: logged out everywhere", slog.String("issuer", e.Issuer), slog.String("subject", e.Subject))
	case EventClientRevoked:
		iss.log.InfoContext(ctx, "sessionkit: client tokens revoked", slog.String("issuer", e.Issuer), slog.String("client_id", e.Subject))
	}
	if iss.events != nil {
		iss.events(ctx, e)
	}
}
