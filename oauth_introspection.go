package sessionkit

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit/internal/jose"
	"github.com/sessionkit/sessionkit/store"
)

// RevocationEndpoint returns the OAuth 2.0 token revocation endpoint (RFC
// 7009), mounted at e.g. POST /oauth/revoke. The client authenticates with
// private_key_jwt (client_assertion, as at the TokenEndpoint; 401
// invalid_client otherwise) and names a token; token_type_hint is accepted
// and needs no trust, since the two kinds of token look different.
//
//   - An access token issued to this client (client_id) goes on the
//     deny-list until its exp plus MaxLeeway.
//   - A refresh token of a session issued to this client ends the session,
//     and with it the session's access tokens (RFC 7009 §2.1).
//
// Anything else (unknown, malformed, expired, another client's or a user's
// token) answers 200 and changes nothing (RFC 7009 §2.2), so the endpoint
// tells no one whether a token exists. Store outages answer 503; a store
// that cannot revoke (the stateless sealed store) answers 400
// unsupported_token_type rather than pretend.
func (iss *Issuer) RevocationEndpoint(cfg TokenEndpointConfig) (http.Handler, error) {
	e, err := iss.newOAuthEndpoint(cfg, "RevocationEndpoint")
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, oerr := e.readForm(w, r)
		if oerr == nil {
			oerr = e.revoke(r.Context(), form)
		}
		if oerr != nil {
			e.fail(w, r, oerr)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	}), nil
}

func (e *oauthEndpoint) revoke(ctx context.Context, form url.Values) *oauthError {
	client, oerr := e.authenticate(ctx, form, true)
	if oerr != nil {
		return oerr
	}
	if oerr := e.revokeFor(ctx, form, client); oerr != nil {
		if oerr.client == "" {
			oerr.client = client.ID // authenticated
		}
		return oerr
	}
	return nil
}

// revokeFor is revoke once the client authenticated.
func (e *oauthEndpoint) revokeFor(ctx context.Context, form url.Values, client *Client) *oauthError {
	tok := form.Get("token")
	if tok == "" {
		return requestError("token is missing")
	}
	var err error
	if strings.HasPrefix(tok, refreshPrefix) {
		// Bound to the client (scope.Scope.SecretHash): another owner's
		// token matches nothing and changes nothing.
		err = e.iss.logout(ctx, tok, client.ID)
	} else {
		var c *Claims
		c, err = e.iss.parseOwnAccessToken(tok, e.iss.now())
		if err != nil || c.ClientID != client.ID {
			return nil
		}
		err = e.iss.RevokeAccessToken(ctx, tok)
	}
	switch {
	case errors.Is(err, ErrStoreUnavailable):
		return unavailable(err)
	case errors.Is(err, ErrUnsupported):
		return &oauthError{status: 400, code: "unsupported_token_type", desc: "this server's store cannot revoke that kind of token", cause: err}
	}
	return nil
}

// IntrospectionEndpoint returns the OAuth 2.0 token introspection endpoint
// (RFC 7662), mounted at e.g. POST /oauth/introspect, for resource servers
// that would rather ask than verify. The caller authenticates as a
// registered client with private_key_jwt (401 invalid_client otherwise).
//
// A live access token (Verify passes, with the stateful checks whenever the
// store can make them, even under Config.SkipRevocationCheck) answers
// {"active": true} with its claims:
// scope, client_id, sub, aud, iss, exp, iat, nbf, jti, sid, token_type
// "Bearer", and the application claims. A refresh token answers active only
// to the client it was issued to, and only while it is the session's
// current one (or the previous one inside the grace window): a spent token
// is not active. Anything else answers {"active": false}. Store or key
// outages answer 503, never a guess.
func (iss *Issuer) IntrospectionEndpoint(cfg TokenEndpointConfig) (http.Handler, error) {
	e, err := iss.newOAuthEndpoint(cfg, "IntrospectionEndpoint")
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, oerr := e.readForm(w, r)
		var answer map[string]any
		if oerr == nil {
			answer, oerr = e.introspect(r.Context(), form)
		}
		if oerr != nil {
			e.fail(w, r, oerr)
			return
		}
		writeOAuthJSON(w, http.StatusOK, answer)
	}), nil
}

var inactive = map[string]any{"active": false}

func (e *oauthEndpoint) introspect(ctx context.Context, form url.Values) (map[string]any, *oauthError) {
	client, oerr := e.authenticate(ctx, form, true)
	if oerr != nil {
		return nil, oerr
	}
	answer, oerr := e.introspectFor(ctx, form, client)
	if oerr != nil && oerr.client == "" {
		oerr.client = client.ID // authenticated
	}
	return answer, oerr
}

// introspectFor is introspect once the client authenticated.
func (e *oauthEndpoint) introspectFor(ctx context.Context, form url.Values, client *Client) (map[string]any, *oauthError) {
	tok := form.Get("token")
	if tok == "" {
		return nil, requestError("token is missing")
	}
	if strings.HasPrefix(tok, refreshPrefix) {
		ref, oerr := e.lookupRefresh(ctx, tok, client.ID)
		if oerr != nil {
			return nil, oerr
		}
		if ref == nil || !ref.current(e.iss.now(), e.iss.grace) {
			return inactive, nil // a spent token is not active, whatever Lookup proves
		}
		s := &ref.session
		exp := s.IdleExpiresAt
		if s.ExpiresAt.Before(exp) {
			exp = s.ExpiresAt
		}
		a := map[string]any{
			"active": true, "token_type": "refresh_token", "iss": e.iss.issuer,
			"sub": s.Subject, "client_id": s.ClientID, "sid": s.ID,
			"iat": s.CreatedAt.Unix(), "exp": exp.Unix(),
		}
		if s.Scope != "" {
			a["scope"] = s.Scope
		}
		return a, nil
	}
	// The stateful checks whenever the store can make them, even under
	// Config.SkipRevocationCheck: introspection answers for the server's
	// whole state (RFC 7662 §2.2).
	c, err := e.iss.verifyToken(ctx, tok, e.iss.caps.Has(store.DenyList|store.Versions))
	switch {
	case errors.Is(err, ErrStoreUnavailable), errors.Is(err, ErrKeysUnavailable):
		return nil, unavailable(err)
	case err != nil:
		return inactive, nil
	}
	a := make(map[string]any, 12+len(c.Extra))
	for k, v := range c.Extra {
		a[k] = v
	}
	a["active"] = true
	a["token_type"] = "Bearer"
	a["iss"] = c.Issuer
	a["sub"] = c.Subject
	a["aud"] = c.Audience
	a["exp"] = c.ExpiresAt.Unix()
	a["iat"] = c.IssuedAt.Unix()
	a["jti"] = c.ID
	if !c.NotBefore.IsZero() {
		a["nbf"] = c.NotBefore.Unix()
	}
	if c.Scope != "" {
		a["scope"] = c.Scope
	}
	if c.ClientID != "" {
		a["client_id"] = c.ClientID
	}
	if c.SessionID != "" {
		a["sid"] = c.SessionID
	}
	return a, nil
}

// parseOwnAccessToken checks that tok is an access token this issuer
// signed (signature, typ, iss, aud; expiry and MaxTokenAge aside: a token
// too old or too long-lived for Verify may still be revoked, for verifiers
// without that bound) and returns its claims.
func (iss *Issuer) parseOwnAccessToken(tok string, now time.Time) (*Claims, error) {
	payload, err := jose.Verify(tok, iss.maxTokenSize, iss.keys.load(), jose.AccessTokens)
	if err != nil {
		return nil, err
	}
	c, err := parseClaims(payload)
	if err != nil {
		return nil, err
	}
	rules := iss.rules
	rules.maxAge = 0
	if err := rules.check(c, now); err != nil && !errors.Is(err, ErrTokenExpired) {
		return nil, err
	}
	return c, nil
}
