// Package skotel records sessionkit's events and session-store calls as
// OpenTelemetry metrics. It is a module of its own,
// github.com/sessionkit/sessionkit/otel, so that users of sessionkit who do
// not want OpenTelemetry never download it. Its package name is skotel,
// not otel, so that it reads apart from go.opentelemetry.io/otel beside
// it; import it under that name:
//
//	import (
//		"go.opentelemetry.io/otel"
//		skotel "github.com/sessionkit/sessionkit/otel"
//	)
//
//	events, err := skotel.Events(otel.GetMeterProvider())
//	if err != nil { ... }
//	st, err := skotel.WrapStore(otel.GetMeterProvider(), memstore.New())
//	if err != nil { ... }
//	iss, err := sessionkit.New(sessionkit.Config{..., Store: st, Events: events})
//
// The same hook serves Verifiers (sessionkit.VerifierConfig.Events) and
// any number of Issuers at once.
//
// # Metrics
//
// Every event adds one to exactly one counter. Names follow the
// OpenTelemetry semantic conventions (dotted, no "total", units in UCUM
// with curly-brace annotations for counts); the Prometheus exporter of
// OpenTelemetry shows them with dots as underscores, counters with a
// "_total" suffix, the annotation units dropped and seconds as "_seconds",
// so sessionkit.token.refused is sessionkit_token_refused_total and its
// attribute sessionkit.reason the label sessionkit_reason.
//
//	metric                            Prometheus name                          instrument        unit
//	sessionkit.login                  sessionkit_login_total                   Int64Counter      {session}
//	sessionkit.refresh                sessionkit_refresh_total                 Int64Counter      {refresh}
//	sessionkit.logout                 sessionkit_logout_total                  Int64Counter      {logout}
//	sessionkit.token.revoked          sessionkit_token_revoked_total           Int64Counter      {revocation}
//	sessionkit.client_token           sessionkit_client_token_total            Int64Counter      {token}
//	sessionkit.token.refused          sessionkit_token_refused_total           Int64Counter      {token}
//	sessionkit.token_request.refused  sessionkit_token_request_refused_total   Int64Counter      {request}
//	sessionkit.keys.fetch.failed      sessionkit_keys_fetch_failed_total       Int64Counter      {fetch}
//	sessionkit.event                  sessionkit_event_total                   Int64Counter      {event}
//	sessionkit.store.duration         sessionkit_store_duration_seconds        Float64Histogram  s
//
// What each counts, and with which attributes (described below):
//
//   - sessionkit.login: EventLogin, Login created a session. Attributes:
//     issuer.
//   - sessionkit.refresh: a refresh token presented to Refresh, the
//     refresh handler or the token endpoint's refresh grant. Attributes:
//     issuer, outcome ("rotated" for EventRefresh, a grace replay too;
//     "reused" for EventReuseDetected, whose session was revoked;
//     "refused" for EventRefreshRefused, by Config.OnRefresh; "failed" for
//     EventRefreshFailed) and reason: why a refresh failed, and "reused"
//     on a reuse.
//   - sessionkit.logout: a session ended. Attributes: issuer, event
//     (logout, logout_all, session_revoked). A logout_all counts once,
//     however many sessions it ended.
//   - sessionkit.token.revoked: access tokens revoked. Attributes: issuer,
//     event (access_token_revoked for one jti, client_revoked for every
//     token of a client).
//   - sessionkit.client_token: EventClientToken, the token endpoint issued
//     an access token for a client's assertion. Attributes: issuer.
//   - sessionkit.token.refused: EventAccessTokenRefused, an access token
//     refused by Issuer.Verify, a Verifier or the Middleware. Attributes:
//     issuer, reason.
//   - sessionkit.token_request.refused: EventTokenRequestRefused, a
//     request the token, revocation or introspection endpoint refused.
//     Attributes: issuer, reason.
//   - sessionkit.keys.fetch.failed: EventKeysFetchFailed, a Verifier's
//     JWKS or discovery fetch failed. Attributes: issuer (the trusted
//     issuer), reason.
//   - sessionkit.event: an event of a kind this version of the adapter
//     does not know (a newer sessionkit). Attributes: issuer, event,
//     reason.
//   - sessionkit.store.duration: every call of a store wrapped by
//     WrapStore that takes a context, in seconds. Attributes:
//     sessionkit.store.method, and error.type when the call failed.
//
// The attributes, with their Prometheus labels:
//
//   - issuer: sessionkit.issuer (sessionkit_issuer), Event.Issuer: the
//     Issuer's identifier, or the trusted issuer of a Verifier. Absent when
//     the event has none. At most MaxIssuers distinct values; events of
//     further issuers carry "_OTHER".
//   - reason: sessionkit.reason (sessionkit_reason), Event.Reason, one of
//     the sessionkit.Reason constants (expired, bad_signature, unknown_key,
//     wrong_issuer, wrong_audience, malformed, revoked, store_unavailable,
//     fetch_failed, ...), on every event that has one.
//   - outcome: sessionkit.outcome (sessionkit_outcome), the refresh's
//     outcome: rotated, reused, refused or failed.
//   - event: sessionkit.event (sessionkit_event), the event kind's name
//     (EventKind.String: logout, logout_all, session_revoked,
//     access_token_revoked, client_revoked).
//   - sessionkit.store.method (sessionkit_store_method): the store method,
//     by its Go name: Create, Rotate, Session, Sessions, Lookup, Revoke,
//     RevokeSession, RevokeAll, Deny, Version, CheckAccess, UseOnce,
//     LoadKeys, SwapKeys.
//   - error.type (error_type): set only when the call returned an error,
//     from a closed set: timeout (the context's deadline passed), canceled
//     (the context was canceled), unavailable (store.ErrUnavailable: the
//     backend failed), not_found (store.ErrNotFound, which Session, Lookup,
//     Revoke and RevokeSession answer in ordinary use, for an unknown or
//     foreign session), unsupported (store.ErrUnsupported), too_large
//     (store.ErrTooLarge), and _OTHER for anything else. Error messages
//     never become values.
//
// No attribute ever carries a subject, a session id, a client id, a jti or
// token material: those would make a series per user, and they are
// personal data. Every value comes from a closed set, or from the issuer
// identifiers the application configured, bounded by MaxIssuers.
//
// The store histogram's buckets, in seconds: 0.0001, 0.00025, 0.0005,
// 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 (from a
// store on the same host to one about to time out); an SDK View can
// change them.
//
// Successful JWKS and discovery fetches are not counted: sessionkit
// reports no event for them, only for failures. To see every fetch,
// instrument the Verifier's VerifierConfig.HTTPClient with an HTTP client
// instrumentation of OpenTelemetry.
//
// # Alerts
//
// alerts.yml, beside this file, holds Prometheus alerting rules over these
// metrics as the Prometheus exporter names them: verification failures
// over 100 a minute, refresh-token reuse over 10 a minute, expired tokens
// over 500 a minute and bad signatures over 50 a minute, each with a
// runbook line. A test scrapes the exporter and checks that every metric
// and label the rules name exists, so the rules cannot drift from the
// code; alerts_test.yml exercises each alert with promtool test rules.
//
// # Cost
//
// The hook does no allocation and takes no lock once an event's kind,
// reason and issuer have been seen: their attribute set is built once and
// kept in a copy-on-write map read with one atomic load (events of issuers
// past MaxIssuers take a mutex instead, and are never cached). The store
// wrapper adds two clock reads and one histogram record to a call, and no
// allocation. A successful Verify reports no event at all.
// BENCHMARKS.md in the repository has the measurements, and
// bench-ratios.sh beside this file repeats them.
package skotel
