package sessionkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// OAuth 2.0 identifiers the endpoints understand.
const (
	// GrantTypeJWTBearer is the RFC 7523 §2.1 assertion grant.
	GrantTypeJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// GrantTypeRefreshToken is the RFC 6749 §6 refresh grant.
	GrantTypeRefreshToken = "refresh_token"
	// ClientAssertionTypeJWTBearer is the RFC 7523 §2.2 client
	// authentication (private_key_jwt).
	ClientAssertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// DefaultMaxFormSize caps the request body of the OAuth endpoints when
// TokenEndpointConfig.MaxBodySize is 0.
const DefaultMaxFormSize = 64 << 10

// TokenEndpointConfig configures the OAuth endpoints of an Issuer:
// TokenEndpoint, RevocationEndpoint and IntrospectionEndpoint.
type TokenEndpointConfig struct {
	// Clients finds the registered clients and their public keys. Required.
	Clients ClientRegistry
	// ActAs, when set, lets a client obtain tokens for a subject other than
	// itself (an assertion whose sub is a user): it reports whether client
	// may act for subject. When nil, a client may only obtain tokens for
	// itself, and other assertions answer unauthorized_client. A sub equal
	// to the client id always means the client itself, and a sub naming
	// another registered client is refused, so client and user identities
	// never mix.
	ActAs func(ctx context.Context, client *Client, subject string) (bool, error)
	// MaxBodySize caps the form body (default DefaultMaxFormSize).
	MaxBodySize int64
}

// oauthEndpoint is the state the three endpoints share.
type oauthEndpoint struct {
	iss     *Issuer
	clients ClientRegistry
	actAs   func(context.Context, *Client, string) (bool, error)
	maxBody int64
}

func (iss *Issuer) newOAuthEndpoint(cfg TokenEndpointConfig, which string) (*oauthEndpoint, error) {
	bad := func(format string, args ...any) (*oauthEndpoint, error) {
		return nil, fmt.Errorf("%w: %s: %s", ErrInvalidConfig, which, fmt.Sprintf(format, args...))
	}
	if cfg.Clients == nil {
		return bad("TokenEndpointConfig.Clients is required")
	}
	if !iss.store.Capabilities().Has(store.UseOnce) {
		return bad("the store lacks use-once keys, which assertion replay protection needs")
	}
	e := &oauthEndpoint{iss: iss, clients: cfg.Clients, actAs: cfg.ActAs, maxBody: cfg.MaxBodySize}
	if e.maxBody == 0 {
		e.maxBody = DefaultMaxFormSize
	}
	if e.maxBody < 1024 {
		return bad("MaxBodySize %d is too small (at least 1024)", e.maxBody)
	}
	return e, nil
}

// TokenEndpoint returns the OAuth 2.0 token endpoint (RFC 6749 §3.2),
// mounted at e.g. POST /oauth/token. It takes POST
// application/x-www-form-urlencoded requests (no parameter twice, nothing
// in the query string, a body of at most MaxBodySize) and answers JSON with
// Cache-Control: no-store. Grants:
//
//   - GrantTypeJWTBearer with assertion (RFC 7523 §2.1): a JWT the client
//     signed with one of its registered keys, checked as described at
//     SignClientAssertion (iss the client, aud exactly our issuer
//     identifier, exp at most MaxAssertionLifetime ahead, a jti used once,
//     atomically, per client, across restarts and instances); a client_id
//     parameter, when sent, must be that client's id (RFC 7521 §4.2;
//     invalid_client otherwise). The access token it earns carries
//     client_id and no session: Verify applies the deny-list and token
//     version to it, not a session check. No refresh token: the client
//     signs a new assertion instead.
//   - GrantTypeRefreshToken with refresh_token: rotation with Refresh's
//     reuse rules. A session issued to a client (Grant.ClientID) needs that
//     client's authentication: client_assertion_type
//     ClientAssertionTypeJWTBearer and client_assertion (private_key_jwt,
//     RFC 7523 §2.2).
//
// A requested scope must be within the client's Scopes (invalid_scope); no
// scope means all of them. Success is 200 {access_token, token_type
// "Bearer", expires_in, scope} plus refresh_token for the refresh grant.
// Errors follow RFC 6749 §5.2: invalid_request, invalid_client (401),
// invalid_grant, unauthorized_client, unsupported_grant_type,
// invalid_scope; 503 temporarily_unavailable when the store or the client
// registry cannot answer. Before a signature verifies, every failure gets the
// same answer, so the endpoint never tells which clients or keys exist.
//
// TokenEndpoint returns an error wrapping ErrInvalidConfig when
// cfg.Clients is nil, cfg.MaxBodySize is below 1024 or the store lacks
// use-once keys.
func (iss *Issuer) TokenEndpoint(cfg TokenEndpointConfig) (http.Handler, error) {
	e, err := iss.newOAuthEndpoint(cfg, "TokenEndpoint")
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(e.token), nil
}

func (e *oauthEndpoint) token(w http.ResponseWriter, r *http.Request) {
	r = r.WithContext(withRequest(r))
	form, oerr := e.readForm(w, r)
	if oerr == nil {
		var answer map[string]any
		switch gt := form.Get("grant_type"); gt {
		case GrantTypeJWTBearer:
			answer, oerr = e.jwtBearer(r.Context(), form)
		case GrantTypeRefreshToken:
			answer, oerr = e.refresh(r.Context(), form)
		case "":
			oerr = requestError("grant_type is missing")
		default:
			oerr = &oauthError{status: 400, code: "unsupported_grant_type", desc: "supported: " + GrantTypeJWTBearer + ", " + GrantTypeRefreshToken}
		}
		if oerr == nil {
			writeOAuthJSON(w, http.StatusOK, answer)
			return
		}
	}
	e.fail(w, r, oerr)
}

// jwtBearer serves the RFC 7523 §2.1 grant.
func (e *oauthEndpoint) jwtBearer(ctx context.Context, form url.Values) (map[string]any, *oauthError) {
	assertion := form.Get("assertion")
	if assertion == "" {
		return nil, requestError("assertion is missing")
	}
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		// The assertion itself authenticates the client (RFC 7523 §3.1).
		return nil, requestError("the jwt-bearer grant takes no client_assertion")
	}
	va, oerr := e.iss.verifyAssertion(ctx, e.clients, assertion, useGrant)
	if oerr != nil {
		return nil, oerr
	}
	answer, oerr := e.grantFor(ctx, form, va)
	if oerr != nil && oerr.client == "" {
		oerr.client = va.client.ID // proved by the assertion
	}
	return answer, oerr
}

// grantFor is the jwt-bearer grant once its assertion verified.
func (e *oauthEndpoint) grantFor(ctx context.Context, form url.Values, va *verifiedAssertion) (map[string]any, *oauthError) {
	if oerr := checkClientID(form, va.client); oerr != nil {
		return nil, oerr
	}
	scope := strings.Join(va.client.Scopes, " ") // no scope parameter: all of them
	if requested := form.Get("scope"); requested != "" {
		var ok bool
		if scope, ok = scopeWithin(requested, va.client.Scopes); !ok {
			return nil, &oauthError{status: 400, code: "invalid_scope", desc: "the requested scope exceeds the client's scopes"}
		}
	}
	if va.subject != va.client.ID {
		if e.actAs == nil {
			return nil, &oauthError{status: 400, code: "unauthorized_client", desc: "this client may only obtain tokens for itself (sub must be its client id)"}
		}
		// One answer for every refusal, so that no client learns which
		// other ids are registered clients.
		refused := grantError("assertion: the client may not act for this subject", nil)
		if err := validSubject(va.subject); err != nil {
			refused.cause = err
			return nil, refused
		}
		if _, err := e.clients.Client(ctx, va.subject); err == nil {
			refused.cause = errors.New("sub names a registered client")
			return nil, refused
		} else if !errors.Is(err, ErrNotFound) {
			return nil, unavailable(fmt.Errorf("client registry: %w", err))
		}
		allowed, err := e.actAs(ctx, va.client, va.subject)
		if err != nil {
			return nil, unavailable(fmt.Errorf("ActAs: %w", err))
		}
		if !allowed {
			return nil, refused
		}
	}
	toks, err := e.iss.clientTokens(ctx, va.client.ID, va.subject, scope)
	if err != nil {
		return nil, issueFailure(err)
	}
	return tokenAnswer(e.iss, toks, false), nil
}

// refresh serves the RFC 6749 §6 grant.
func (e *oauthEndpoint) refresh(ctx context.Context, form url.Values) (map[string]any, *oauthError) {
	rt := form.Get("refresh_token")
	if rt == "" {
		return nil, requestError("refresh_token is missing")
	}
	client, oerr := e.authenticate(ctx, form, false)
	if oerr != nil {
		return nil, oerr
	}
	clientID := ""
	if client != nil {
		clientID = client.ID
	}
	answer, oerr := e.refreshFor(ctx, form, rt, client)
	if oerr != nil && oerr.client == "" {
		oerr.client = clientID // authenticated, or "" for a user session
	}
	return answer, oerr
}

// refreshFor is the refresh grant once the client, if any, authenticated.
func (e *oauthEndpoint) refreshFor(ctx context.Context, form url.Values, rt string, client *Client) (map[string]any, *oauthError) {
	clientID := ""
	if client != nil {
		clientID = client.ID
	}
	// The secret hash binds the owner (scope.Scope.SecretHash): a client session's
	// token proves nothing without its client's authentication, a user
	// session's nothing with one.
	ref, oerr := e.lookupRefresh(ctx, rt, clientID)
	if oerr != nil {
		return nil, oerr
	}
	var accessScope *string
	if ref != nil {
		scope, oerr := refreshScope(form.Get("scope"), ref.session.Scope, client)
		if oerr != nil {
			return nil, oerr
		}
		if scope != ref.session.Scope {
			accessScope = &scope
		}
	}
	// Without proof (unknown, spent, revoked, expired), the rotation itself
	// answers why; a spent token of a live session is reuse, as at Refresh.
	toks, err := e.iss.refresh(ctx, rt, clientID, accessScope)
	if err != nil {
		return nil, issueFailure(err)
	}
	return tokenAnswer(e.iss, toks, true), nil
}

// refreshScope is the scope of the access token a refresh issues: the
// requested one, which must lie within the session's (RFC 6749 §6), or the
// session's; for a client session, never beyond the client's current
// Scopes.
func refreshScope(requested, session string, client *Client) (string, *oauthError) {
	granted := strings.Fields(session)
	if client != nil {
		granted = slices.DeleteFunc(granted, func(s string) bool { return !slices.Contains(client.Scopes, s) })
	}
	if requested == "" {
		return strings.Join(granted, " "), nil
	}
	scope, ok := scopeWithin(requested, granted)
	if !ok {
		return "", &oauthError{status: 400, code: "invalid_scope", desc: "the requested scope exceeds the session's"}
	}
	return scope, nil
}

// provenRefresh is the session a refresh token proves and the generation
// its handle names.
type provenRefresh struct {
	session    store.Session
	generation uint64
}

// current reports whether the token is the session's current one, or the
// previous one still inside the grace window (what Refresh would accept
// without calling it reuse).
func (p *provenRefresh) current(now time.Time, grace time.Duration) bool {
	g := p.session.Generation
	return p.generation == g || (p.generation+1 == g && grace > 0 && now.Before(p.session.LastUsedAt.Add(grace)))
}

// lookupRefresh reads the live session a refresh token of owner clientID
// proves ("" for user sessions), or nil when it proves none (malformed,
// unknown, another owner's, revoked or expired). Lookup also accepts the
// previous and kept spent secrets: see provenRefresh.current.
func (e *oauthEndpoint) lookupRefresh(ctx context.Context, rt, clientID string) (*provenRefresh, *oauthError) {
	handle, secret, err := parseRefreshToken(rt)
	if err != nil {
		return nil, nil
	}
	info, err := e.iss.store.ParseHandle(handle)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		return nil, unavailable(storeFailure(err))
	}
	s, err := e.iss.store.Lookup(ctx, handle, e.iss.scope.SecretHash(secret[:], clientID), e.iss.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, unavailable(storeFailure(err))
	case s.ClientID != clientID, !e.iss.own(ctx, &s):
		return nil, nil
	}
	return &provenRefresh{session: s, generation: info.Generation}, nil
}

// authenticate reads private_key_jwt client authentication (RFC 7523
// §2.2). With required unset, a request without it returns a nil client.
func (e *oauthEndpoint) authenticate(ctx context.Context, form url.Values, required bool) (*Client, *oauthError) {
	typ, assertion := form.Get("client_assertion_type"), form.Get("client_assertion")
	if typ == "" && assertion == "" {
		if required {
			return nil, clientError("client authentication is required (client_assertion, private_key_jwt)", nil)
		}
		return nil, nil
	}
	if typ != ClientAssertionTypeJWTBearer {
		return nil, clientError("client_assertion_type must be "+ClientAssertionTypeJWTBearer, nil)
	}
	if assertion == "" {
		return nil, clientError("client_assertion is missing", nil)
	}
	va, oerr := e.iss.verifyAssertion(ctx, e.clients, assertion, useClientAuth)
	if oerr != nil {
		return nil, oerr
	}
	if oerr := checkClientID(form, va.client); oerr != nil {
		return nil, oerr
	}
	return va.client, nil
}

// checkClientID refuses a client_id parameter that names another client
// than the one a verified assertion authenticated (RFC 7521 §4.2, and the
// jwt-bearer grant likewise), with invalid_client: a request never speaks
// for two clients. No client_id is fine.
func checkClientID(form url.Values, client *Client) *oauthError {
	if id := form.Get("client_id"); id != "" && id != client.ID {
		return clientError("client_id does not match the client the assertion authenticates", nil)
	}
	return nil
}

// readForm checks the request's shape and parses its form body.
func (e *oauthEndpoint) readForm(w http.ResponseWriter, r *http.Request) (url.Values, *oauthError) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, &oauthError{status: http.StatusMethodNotAllowed, code: "invalid_request", desc: "use POST"}
	}
	if r.Header.Get("Authorization") != "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="sessionkit"`)
		return nil, clientError("only private_key_jwt client authentication is supported (client_assertion in the body)", nil)
	}
	if r.URL.RawQuery != "" {
		return nil, requestError("parameters belong in the form body, not the query string")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, requestError("the body must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, e.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &oauthError{status: http.StatusRequestEntityTooLarge, code: "invalid_request", desc: "the request body is too large"}
		}
		return nil, requestError("the request body could not be read")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, requestError("the form body is malformed")
	}
	for name, vals := range form {
		if len(vals) > 1 {
			return nil, requestError("a parameter appears more than once")
		}
		if vals[0] == "" {
			delete(form, name) // sent without a value: as if omitted (RFC 6749 §3.1)
		}
	}
	return form, nil
}

// fail reports (EventTokenRequestRefused), logs (at its reason's
// LogLevel) and writes an error answer.
func (e *oauthEndpoint) fail(w http.ResponseWriter, r *http.Request, oerr *oauthError) {
	reason := oerr.reasonOf()
	if oerr.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfter)
	}
	attrs := []slog.Attr{
		slog.Int("status", oerr.status), slog.String("reason", string(reason)),
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.String("error", oerr.code), slog.String("description", oerr.desc),
	}
	if oerr.client != "" {
		attrs = append(attrs, slog.String("client_id", oerr.client))
	}
	if oerr.cause != nil {
		attrs = append(attrs, slog.String("cause", oerr.cause.Error()))
	}
	if !oerr.logged { // Issuer.emit wrote the record of a reuse or an OnRefresh refusal
		e.iss.log.LogAttrs(r.Context(), reason.LogLevel(), "sessionkit: OAuth request refused", attrs...)
	}
	if e.iss.events != nil {
		e.iss.emit(r.Context(), Event{Kind: EventTokenRequestRefused, ClientID: oerr.client, Reason: reason, Time: e.iss.now()})
	}
	writeOAuthJSON(w, oerr.status, map[string]any{"error": oerr.code, "error_description": oerr.desc})
}

func requestError(desc string) *oauthError {
	return &oauthError{status: 400, code: "invalid_request", desc: desc}
}

// issueFailure maps an error of Refresh or token minting to an answer.
func issueFailure(err error) *oauthError {
	switch {
	case errors.Is(err, ErrStoreUnavailable):
		return unavailable(err)
	case errors.Is(err, ErrRefreshReused):
		oerr := grantError("the refresh token was already used; the session is revoked", err)
		oerr.reason, oerr.logged = ReasonReused, true // Issuer.emit logged it, with the request
		return oerr
	case errors.Is(err, errOnRefresh):
		oerr := grantError("the session was revoked", err)
		oerr.logged = true // likewise
		return oerr
	case errors.Is(err, ErrSessionExpired):
		return grantError("the session has expired", err)
	case errors.Is(err, ErrSessionRevoked):
		return grantError("the session was revoked", err)
	case errors.Is(err, ErrInvalidToken):
		return grantError("the refresh token is invalid", err)
	case errors.Is(err, ErrInvalidConfig):
		return grantError("the token cannot be issued", err)
	}
	return unavailable(err)
}

// tokenAnswer is the RFC 6749 §5.1 success answer.
func tokenAnswer(iss *Issuer, toks *Tokens, withRefresh bool) map[string]any {
	a := map[string]any{
		"access_token": toks.AccessToken,
		"token_type":   "Bearer",
		"expires_in":   max(int64(toks.AccessExpiresAt.Sub(iss.now()).Seconds()), 0),
	}
	if toks.Scope != "" {
		a["scope"] = toks.Scope
	}
	if withRefresh {
		a["refresh_token"] = toks.RefreshToken
	}
	return a
}

// writeOAuthJSON writes an OAuth answer: JSON, never cached (RFC 6749
// §5.1).
func writeOAuthJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// IsClient reports whether the token belongs to an OAuth client itself
// (issued by the TokenEndpoint for the client's own assertion): client_id
// set and equal to sub. Such a token never belongs to a user, even one whose
// id equals the client's.
func (c *Claims) IsClient() bool { return c.ClientID != "" && c.Subject == c.ClientID }

// RevokeClient revokes every access token a client obtained for itself:
// it bumps the token version of the client's own namespace, so they fail
// their next stateful verification. Tokens it obtained acting for users
// follow those users' versions (LogoutAll).
func (iss *Issuer) RevokeClient(ctx context.Context, clientID string) error {
	if err := validSubject(clientID); err != nil {
		return err
	}
	now := iss.now()
	if _, err := iss.store.RevokeAll(ctx, iss.scope.Subject(clientID, clientID), now); err != nil {
		return storeFailure(err)
	}
	iss.emit(ctx, Event{Kind: EventClientRevoked, Subject: clientID, ClientID: clientID, Time: now})
	return nil
}
