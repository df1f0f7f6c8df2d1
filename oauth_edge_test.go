package sessionkit

// Edge cases of the OAuth endpoints found by a security review: each test
// pins the behaviour that closes one hole, or required behaviour the main
// tests in oauth_test.go do not cover.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// A session issued to a client (Grant.ClientID) refreshes only with that
// client's private_key_jwt authentication: not through the ready-made
// RefreshHandler (JSON body, no cookie), not through Issuer.Refresh, so a
// stolen client refresh token never bypasses private_key_jwt.
func TestOAuthClientSessionRefreshBypass(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	ctx := context.Background()

	t.Run("RefreshHandler JSON body", func(t *testing.T) {
		cs, err := f.iss.Login(ctx, Grant{Subject: "carol", ClientID: "svc-ec", Scope: "read"})
		if err != nil {
			t.Fatal(err)
		}
		// The token endpoint refuses it without client authentication...
		if code, body, _ := post(t, f.token, refreshForm(cs.RefreshToken)); code != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("token endpoint without client auth: %d %v", code, body)
		}
		// ...but the cookie handler's body mode rotates it.
		h := f.iss.RefreshHandler()
		r := httptest.NewRequest("POST", "/auth/refresh", strings.NewReader(`{"refresh_token":"`+cs.RefreshToken+`"}`))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			t.Errorf("RefreshHandler rotated a client session's refresh token without client authentication: %d %s", w.Code, w.Body.String())
		}
	})
	t.Run("Issuer.Refresh", func(t *testing.T) {
		cs, err := f.iss.Login(ctx, Grant{Subject: "dave", ClientID: "svc-ec", Scope: "read"})
		if err != nil {
			t.Fatal(err)
		}
		if toks, err := f.iss.Refresh(ctx, cs.RefreshToken); err == nil {
			c, _ := f.iss.Verify(ctx, toks.AccessToken)
			t.Errorf("Issuer.Refresh rotated a client session without client authentication (new token for %s via %s)", c.Subject, c.ClientID)
		}
	})
}

// RFC 7662 §2.2: active is true only if the token is currently usable.
// store.Lookup also accepts the previous and kept spent secrets, so the
// introspection endpoint must not report a rotated-away refresh token (one
// whose presentation would revoke the session as reuse) as active.
func TestOAuthIntrospectSpentRefreshToken(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	ctx := context.Background()
	cs, err := f.iss.Login(ctx, Grant{Subject: "carol", ClientID: "svc-ed", Scope: "read"})
	if err != nil {
		t.Fatal(err)
	}
	code, body, _ := post(t, f.token, refreshForm(cs.RefreshToken, clientAuth(f.assertion(t, "svc-ed", nil))...))
	if code != 200 {
		t.Fatalf("refresh: %d %v", code, body)
	}
	f.clock.Advance(time.Minute) // well past the grace window: the old token is spent
	_, body, _ = post(t, f.inspect, url.Values{"token": {cs.RefreshToken},
		"client_assertion_type": {ClientAssertionTypeJWTBearer}, "client_assertion": {f.assertion(t, "svc-ed", nil)}})
	if body["active"] != false {
		t.Errorf("a spent (rotated-away) refresh token introspects as %v", body)
	}
}

// "never says which check failed in a way that helps an attacker
// enumerate clients": with an ActAs policy, an assertion whose sub names
// another registered client gets the same answer as any other refused
// subject, so no client learns which ids are registered clients.
func TestOAuthActAsClientEnumeration(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, true) // the policy lets svc-ec act for nobody
	desc := func(sub string) (int, string) {
		a := f.assertion(t, "svc-ec", func(c, _ map[string]any) { c["sub"] = sub })
		code, body, _ := post(t, f.token, bearerForm(a))
		d, _ := body["error"].(string)
		dd, _ := body["error_description"].(string)
		return code, d + "|" + dd
	}
	c1, registered := desc("svc-ed")
	c2, unknown := desc("no-such-principal")
	if c1 != c2 || registered != unknown {
		t.Errorf("act-as refusals differ: sub=<registered client> %d %q, sub=<other> %d %q", c1, registered, c2, unknown)
	}
}

// MemoryClients.Client returns a copy (the TokenEndpoint passes it to the
// ActAs hook): a caller or hook that edits it changes nothing in the
// registry.
func TestOAuthMemoryClientsAliasing(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	c, err := f.clients.Client(context.Background(), "svc-ed")
	if err != nil {
		t.Fatal(err)
	}
	c.Scopes[0] = "admin" // e.g. an ActAs hook or an admin page "just looking"
	code, body, _ := post(t, f.token, bearerForm(f.assertion(t, "svc-ed", nil), "scope", "admin"))
	if code == 200 {
		t.Errorf("editing the *Client returned by MemoryClients.Client granted scope admin: %v", body)
	}
}

// RFC 7662 / RFC 7009 with Config.SkipRevocationCheck: a token the
// RevocationEndpoint revoked never introspects as active, because
// introspection makes the stateful checks whenever the store can.
func TestOAuthIntrospectRevokedWithSkipRevocationCheck(t *testing.T) {
	t.Parallel()
	iss, clock := newTestIssuer(t, func(c *Config) { c.SkipRevocationCheck = true })
	k := testKey(t, EdDSA, 1)
	ck, err := NewClientKey(k.Public(), k.KeyID())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := NewMemoryClients(Client{ID: "svc", Keys: []ClientKey{ck}, Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := TokenEndpointConfig{Clients: reg}
	tokenEP, revokeEP, inspectEP := must(iss.TokenEndpoint(cfg)), must(iss.RevocationEndpoint(cfg)), must(iss.IntrospectionEndpoint(cfg))
	auth := func() string {
		a, err := SignClientAssertion(k, "svc", testIssuer, clock.Now(), 0)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	_, body, _ := post(t, tokenEP, bearerForm(auth()))
	tok, _ := body["access_token"].(string)
	if tok == "" {
		t.Fatalf("no token: %v", body)
	}
	if code, body, _ := post(t, revokeEP, url.Values{"token": {tok}, "client_assertion_type": {ClientAssertionTypeJWTBearer}, "client_assertion": {auth()}}); code != 200 {
		t.Fatalf("revoke: %d %v", code, body)
	}
	_, body, _ = post(t, inspectEP, url.Values{"token": {tok}, "client_assertion_type": {ClientAssertionTypeJWTBearer}, "client_assertion": {auth()}})
	if body["active"] != false {
		t.Errorf("a token the RevocationEndpoint just revoked introspects as %v", body)
	}
}

// RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if
// they were omitted from the request": an empty scope= gets the default
// scope on both grants.
func TestOAuthEmptyParameterIsOmitted(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	code, body, _ := post(t, f.token, bearerForm(f.assertion(t, "svc-ed", nil), "scope", ""))
	if code != 200 || body["scope"] != "read write" {
		t.Errorf("jwt-bearer with scope=: %d %v, want the default scope \"read write\"", code, body)
	}
	toks := login(t, f.iss, "alice")
	code, body, _ = post(t, f.token, refreshForm(toks.RefreshToken, "scope", ""))
	if code != 200 {
		t.Errorf("refresh with scope=: %d %v, want 200", code, body)
	}
}

// RFC 6749 §6: the requested scope "MUST NOT include any scope not
// originally granted"; a narrower one is legitimate and narrows the new
// access token.
func TestOAuthRefreshNarrowerScope(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	toks := login(t, f.iss, "alice") // scope "read write"
	code, body, _ := post(t, f.token, refreshForm(toks.RefreshToken, "scope", "read"))
	if code != 200 || body["scope"] != "read" {
		t.Errorf("refresh with a narrower scope: %d %v, want 200 scope=read", code, body)
	}
}

// RFC 6749 §5.2: error_description "MUST NOT include characters outside
// the set %x20-21 / %x23-5B / %x5D-7E" (no '"', no '\', ASCII only), and
// never echoes attacker-chosen parameter names.
func TestOAuthErrorDescriptionCharset(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	for _, name := range []string{"grant_type", "é"} {
		body := url.Values{name: {"a", "b"}}.Encode()
		r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		f.token.ServeHTTP(w, r)
		var ans map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &ans)
		desc, _ := ans["error_description"].(string)
		for _, c := range []byte(desc) {
			if c < 0x20 || c == 0x22 || c == 0x5c || c > 0x7e {
				t.Errorf("duplicate %q: error_description %q has the byte %#x, outside RFC 6749's set", name, desc, c)
				break
			}
		}
	}
}

// Client authentication failures at the revocation and introspection
// endpoints must not tell an unknown client from a known one with a bad
// signature, an unregistered key or an HS256 assertion.
func TestOAuthClientAuthUniform(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	user := login(t, f.iss, "alice")
	cases := map[string]string{
		"unknown client":      f.assertion(t, "nobody", nil),
		"bad signature":       flipLastBits(f.assertion(t, "svc-rsa", nil)),
		"unregistered key":    f.assertion(t, "svc-rsa", func(_, h map[string]any) { h["kid"] = "other" }),
		"sub is not a client": f.assertion(t, "svc-rsa", func(c, _ map[string]any) { c["sub"] = "alice" }),
	}
	for _, ep := range []struct {
		name string
		h    http.Handler
	}{{"revoke", f.revoke}, {"introspect", f.inspect}} {
		var first string
		for name, a := range cases {
			code, body, _ := post(t, ep.h, url.Values{"token": {user.AccessToken}, "client_assertion_type": {ClientAssertionTypeJWTBearer}, "client_assertion": {a}})
			if code != 401 || body["error"] != "invalid_client" {
				t.Errorf("%s, %s: %d %v", ep.name, name, code, body)
			}
			if name == "sub is not a client" {
				continue // after the signature: may say more
			}
			d, _ := body["error_description"].(string)
			if first == "" {
				first = d
			} else if d != first {
				t.Errorf("%s, %s: description %q differs from %q", ep.name, name, d, first)
			}
		}
	}
	if _, err := f.iss.Verify(context.Background(), user.AccessToken); err != nil {
		t.Errorf("the token survived every refused revocation: %v", err)
	}
}

// One jti namespace per client covers both uses of an assertion: one
// consumed as client_assertion cannot be replayed as a jwt-bearer grant
// (and vice versa), and a revocation endpoint that refuses the token still
// consumed it.
func TestOAuthAssertionJTISharedAcrossUses(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	a := f.assertion(t, "svc-rsa", nil)
	if code, _, _ := post(t, f.revoke, url.Values{"token": {"garbage"}, "client_assertion_type": {ClientAssertionTypeJWTBearer}, "client_assertion": {a}}); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	if code, body, _ := post(t, f.token, bearerForm(a)); code != 400 || !strings.Contains(body["error_description"].(string), "already used") {
		t.Errorf("a client_assertion replayed as a grant: %d %v", code, body)
	}
	b := f.assertion(t, "svc-rsa", nil)
	if code, _, _ := post(t, f.token, bearerForm(b)); code != 200 {
		t.Fatalf("grant: %d", code)
	}
	if code, body, _ := post(t, f.inspect, url.Values{"token": {"x"}, "client_assertion_type": {ClientAssertionTypeJWTBearer}, "client_assertion": {b}}); code != 401 {
		t.Errorf("a grant assertion replayed as client_assertion: %d %v", code, body)
	}
}

// A client may revoke and introspect-as-refresh only what it was issued:
// another client's act-as token and client-session tokens survive its
// revocation attempts; the owner's revocation of an act-as token works.
func TestOAuthRevocationOwnership(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, true)
	ctx := context.Background()
	_, body, _ := post(t, f.token, bearerForm(f.assertion(t, "svc-rsa", func(c, _ map[string]any) { c["sub"] = "user-alice" })))
	actAs, _ := body["access_token"].(string)
	if actAs == "" {
		t.Fatalf("act-as: %v", body)
	}
	cs, err := f.iss.Login(ctx, Grant{Subject: "carol", ClientID: "svc-rsa"})
	if err != nil {
		t.Fatal(err)
	}
	revoke := func(by, tok string) {
		t.Helper()
		if code, body, _ := post(t, f.revoke, url.Values{"token": {tok}, "client_assertion_type": {ClientAssertionTypeJWTBearer}, "client_assertion": {f.assertion(t, by, nil)}}); code != 200 {
			t.Fatalf("revoke by %s: %d %v", by, code, body)
		}
	}
	for _, tok := range []string{actAs, cs.AccessToken, cs.RefreshToken} {
		revoke("svc-ed", tok)
	}
	for _, tok := range []string{actAs, cs.AccessToken} {
		if _, err := f.iss.Verify(ctx, tok); err != nil {
			t.Errorf("a token another client tried to revoke: %v", err)
		}
	}
	revoke("svc-rsa", actAs)
	if _, err := f.iss.Verify(ctx, actAs); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("act-as token after its client revoked it: %v", err)
	}
	// A stolen spent client-session token without the client's key changes
	// nothing (no reuse-detection DoS without client authentication).
	code, body, _ := post(t, f.token, refreshForm(cs.RefreshToken, clientAuth(f.assertion(t, "svc-rsa", nil))...))
	if code != 200 {
		t.Fatalf("refresh: %d %v", code, body)
	}
	f.clock.Advance(time.Minute)
	if code, _, _ := post(t, f.token, refreshForm(cs.RefreshToken)); code != 400 {
		t.Errorf("spent client token without client auth: %d, want 400", code)
	}
	if _, err := f.iss.Verify(ctx, body["access_token"].(string)); err != nil {
		t.Errorf("the session after an unauthenticated replay: %v", err)
	}
}

// The assertion time rules at their boundaries: exp at most
// MaxAssertionLifetime ahead (plus the leeway), nbf and iat in the future
// only within the leeway.
func TestOAuthAssertionTimeBoundaries(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	now := f.clock.Now()
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	for _, tc := range []struct {
		name string
		mod  func(c map[string]any)
		ok   bool
	}{
		{"exp exactly 5 min ahead", func(c map[string]any) { c["exp"] = at(MaxAssertionLifetime) }, true},
		{"exp 5 min + leeway ahead", func(c map[string]any) { c["exp"] = at(MaxAssertionLifetime + DefaultLeeway) }, true},
		{"exp 5 min + leeway + 1 s ahead", func(c map[string]any) { c["exp"] = at(MaxAssertionLifetime + DefaultLeeway + time.Second) }, false},
		{"exp passed within the leeway", func(c map[string]any) { c["exp"] = at(-DefaultLeeway + time.Second) }, true},
		{"exp passed by the leeway", func(c map[string]any) { c["exp"] = at(-DefaultLeeway) }, false},
		{"nbf ahead within the leeway", func(c map[string]any) { c["nbf"] = at(DefaultLeeway) }, true},
		{"nbf ahead beyond the leeway", func(c map[string]any) { c["nbf"] = at(DefaultLeeway + time.Second) }, false},
		{"iat ahead within the leeway", func(c map[string]any) { c["iat"] = at(DefaultLeeway) }, true},
		{"iat ahead beyond the leeway", func(c map[string]any) { c["iat"] = at(DefaultLeeway + time.Second) }, false},
		{"iat absent", func(c map[string]any) { c["iat"] = nil }, true},
		{"jti of 257 bytes", func(c map[string]any) { c["jti"] = strings.Repeat("j", 257) }, false},
	} {
		code, body, _ := post(t, f.token, bearerForm(f.assertion(t, "svc-ed", func(c, _ map[string]any) { tc.mod(c) })))
		if (code == 200) != tc.ok {
			t.Errorf("%s: %d %v, want ok=%v", tc.name, code, body, tc.ok)
		}
	}
}

// Replay protection holds across instances sharing a store, and an
// assertion jti equal to an access token's jti neither burns nor revokes
// that token.
func TestOAuthReplayAcrossInstances(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	ctx := context.Background()
	other, err := New(Config{Issuer: testIssuer, Audience: []string{testAudience}, Keys: f.iss.Keys(), Store: f.st, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	otherEP := must(other.TokenEndpoint(TokenEndpointConfig{Clients: f.clients}))
	a := f.assertion(t, "svc-ec", nil)
	code, body, _ := post(t, f.token, bearerForm(a))
	if code != 200 {
		t.Fatalf("first instance: %d %v", code, body)
	}
	if code, body, _ := post(t, otherEP, bearerForm(a)); code != 400 {
		t.Errorf("replay on a second instance: %d %v", code, body)
	}
	tok := body["access_token"].(string)
	c, err := f.iss.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	b := f.assertion(t, "svc-ec", func(cl, _ map[string]any) { cl["jti"] = c.ID })
	if code, body, _ := post(t, otherEP, bearerForm(b)); code != 200 {
		t.Errorf("an assertion whose jti equals an access token's: %d %v", code, body)
	}
	if _, err := f.iss.Verify(ctx, tok); err != nil {
		t.Errorf("the access token after an assertion reused its jti: %v", err)
	}
}

// The reuse rules of Refresh hold for client sessions at the token
// endpoint: the previous token in the grace window gets the same
// successor, a spent one revokes the session.
func TestOAuthClientSessionReuse(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	ctx := context.Background()
	cs, err := f.iss.Login(ctx, Grant{Subject: "carol", ClientID: "svc-ec", Scope: "read"})
	if err != nil {
		t.Fatal(err)
	}
	auth := func() []string { return clientAuth(f.assertion(t, "svc-ec", nil)) }
	_, first, _ := post(t, f.token, refreshForm(cs.RefreshToken, auth()...))
	_, again, _ := post(t, f.token, refreshForm(cs.RefreshToken, auth()...))
	if first["refresh_token"] == nil || first["refresh_token"] != again["refresh_token"] {
		t.Fatalf("replay in grace: %v / %v", first, again)
	}
	f.clock.Advance(time.Minute)
	code, body, _ := post(t, f.token, refreshForm(cs.RefreshToken, auth()...))
	if code != 400 || body["error"] != "invalid_grant" || !strings.Contains(body["error_description"].(string), "already used") {
		t.Errorf("reuse: %d %v", code, body)
	}
	if code, _, _ := post(t, f.token, refreshForm(first["refresh_token"].(string), auth()...)); code != 400 {
		t.Errorf("successor after reuse: %d, want the session revoked", code)
	}
}

// The revocation and introspection endpoints check the request's shape
// like the token endpoint.
func TestOAuthOtherEndpointsRequestShape(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	for name, h := range map[string]http.Handler{"revoke": f.revoke, "introspect": f.inspect} {
		for _, tc := range []struct {
			method, target, ctype, auth string
			status                      int
		}{
			{"GET", "/x", "", "", 405},
			{"POST", "/x?token=a", "application/x-www-form-urlencoded", "", 400},
			{"POST", "/x", "application/json", "", 400},
			{"POST", "/x", "application/x-www-form-urlencoded", "Basic c3ZjOnNlY3JldA==", 401},
		} {
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader("token=a"))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status || w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("%s %s %s %q: %d %s", name, tc.method, tc.target, tc.ctype, w.Code, w.Body.String())
			}
		}
	}
}

// "requested scope within the client's allowed scopes": a client session
// created with a scope beyond the client's registered Scopes (Login cannot
// see the registry), or whose client later lost a scope, refreshes into
// access tokens narrowed to the client's current Scopes.
func TestOAuthClientSessionScopeBeyondClient(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false) // svc-ec may have read and write
	cs, err := f.iss.Login(context.Background(), Grant{Subject: "carol", ClientID: "svc-ec", Scope: "read admin"})
	if err != nil {
		t.Fatal(err)
	}
	code, body, _ := post(t, f.token, refreshForm(cs.RefreshToken, clientAuth(f.assertion(t, "svc-ec", nil))...))
	if code == 200 && strings.Contains(" "+body["scope"].(string)+" ", " admin ") {
		t.Errorf("the token endpoint issued scope %q to svc-ec, whose allowed scopes are read and write", body["scope"])
	}
}

// The client bound into a session's secret hash keeps every path but the
// owner's authenticated one away from it: Logout and Refresh of its token
// are unknown tokens and change nothing; the owner still refreshes.
func TestClientSessionBoundToItsClient(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	ctx := context.Background()
	cs, err := f.iss.Login(ctx, Grant{Subject: "erin", ClientID: "svc-rsa", Scope: "read"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.iss.Logout(ctx, cs.RefreshToken); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Logout of a client session's token: %v, want ErrInvalidToken", err)
	}
	if _, err := f.iss.Refresh(ctx, cs.RefreshToken); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Refresh of a client session's token: %v, want ErrInvalidToken", err)
	}
	if _, err := f.iss.Verify(ctx, cs.AccessToken); err != nil {
		t.Errorf("the session after those attempts: %v", err)
	}
	code, body, _ := post(t, f.token, refreshForm(cs.RefreshToken, clientAuth(f.assertion(t, "svc-rsa", nil))...))
	if code != 200 {
		t.Errorf("the owner's refresh: %d %v", code, body)
	}
}

// Only the TokenEndpoint's grants issue tokens without a session, and they
// all carry client_id: a signed token with neither sid nor client_id fails
// the stateful check.
func TestTokenWithoutSessionOrClientRefused(t *testing.T) {
	t.Parallel()
	iss, clock := newTestIssuer(t, nil)
	k := testKey(t, RS256, 0)
	now := clock.Now()
	tok := craft(t, k, fmt.Sprintf(`{"alg":"RS256","kid":%q,"typ":"at+jwt"}`, k.KeyID()),
		fmt.Sprintf(`{"iss":%q,"sub":"alice","aud":"api","exp":%d,"iat":%d,"jti":"j","ver":0}`, testIssuer, now.Add(time.Minute).Unix(), now.Unix()))
	if _, err := iss.Verify(context.Background(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("token without sid or client_id: %v, want ErrInvalidToken", err)
	}
}

// TestIssuerMaxTokenAge: Config.MaxTokenAge bounds what Verify and the
// introspection endpoint accept, so tokens minted under a longer AccessTTL
// stop verifying once it is set; such a token can still be revoked, for
// verifiers without the bound.
func TestIssuerMaxTokenAge(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false) // its Issuer mints 15-minute tokens
	bounded, _ := newTestIssuer(t, func(c *Config) {
		c.Store, c.Now = f.st, f.clock.Now
		c.AccessTTL, c.MaxTokenAge = 5*time.Minute, 5*time.Minute
	})
	inspect := must(bounded.IntrospectionEndpoint(TokenEndpointConfig{Clients: f.clients}))
	ctx := context.Background()
	long, short := login(t, f.iss, "alice").AccessToken, login(t, bounded, "alice").AccessToken
	cases := []struct {
		name   string
		token  string
		active bool
	}{
		{"a token within MaxTokenAge", short, true},
		{"a token living longer than MaxTokenAge", long, false},
	}
	for _, tc := range cases {
		_, err := bounded.Verify(ctx, tc.token)
		if tc.active != (err == nil) || (!tc.active && !errors.Is(err, ErrInvalidToken)) {
			t.Errorf("%s: Verify: %v", tc.name, err)
		}
		form := url.Values{"token": {tc.token}}
		for i, kv := 0, clientAuth(f.assertion(t, "svc-rsa", nil)); i < len(kv); i += 2 {
			form.Set(kv[i], kv[i+1])
		}
		if code, body, _ := post(t, inspect, form); code != 200 || body["active"] != tc.active {
			t.Errorf("%s: introspection: %d %v", tc.name, code, body["active"])
		}
	}
	if err := bounded.RevokeAccessToken(ctx, long); err != nil {
		t.Fatalf("RevokeAccessToken of the long-lived token: %v", err)
	}
	if _, err := f.iss.Verify(ctx, long); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("the long-lived token at an Issuer without the bound, after revocation: %v", err)
	}
}
