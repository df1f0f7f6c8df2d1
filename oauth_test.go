package sessionkit

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// oauthFixture is an Issuer with three registered clients and its OAuth
// endpoints.
type oauthFixture struct {
	iss      *Issuer
	clock    *testClock
	st       *failingStore
	clients  *MemoryClients
	keys     map[string]*SigningKey // client id -> its private key
	token    http.Handler
	revoke   http.Handler
	inspect  http.Handler
	mu       sync.Mutex
	actAsLog []string
}

func newOAuthFixture(t testing.TB, actAs bool) *oauthFixture {
	t.Helper()
	return newOAuthFixtureWith(t, actAs, nil)
}

// newOAuthFixtureWith is newOAuthFixture with the Issuer's Config changed
// by mod (after the fixture's own settings) when mod is not nil.
func newOAuthFixtureWith(t testing.TB, actAs bool, mod func(*Config)) *oauthFixture {
	t.Helper()
	f := &oauthFixture{keys: map[string]*SigningKey{
		"svc-rsa": testKey(t, RS256, 1),
		"svc-ec":  testKey(t, ES256, 1),
		"svc-ed":  testKey(t, EdDSA, 1),
	}}
	mem := memstore.New()
	t.Cleanup(func() { _ = mem.Close() })
	f.st = &failingStore{Store: mem}
	f.iss, f.clock = newTestIssuer(t, func(c *Config) {
		c.Store = f.st
		if mod != nil {
			mod(c)
		}
	})
	var clients []Client
	for id, k := range f.keys {
		ck, err := NewClientKey(k.Public(), k.KeyID())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, Client{ID: id, Keys: []ClientKey{ck}, Scopes: []string{"read", "write"}})
	}
	var err error
	if f.clients, err = NewMemoryClients(clients...); err != nil {
		t.Fatal(err)
	}
	cfg := TokenEndpointConfig{Clients: f.clients}
	if actAs {
		cfg.ActAs = func(_ context.Context, c *Client, sub string) (bool, error) {
			f.mu.Lock()
			f.actAsLog = append(f.actAsLog, c.ID+"->"+sub)
			f.mu.Unlock()
			return c.ID == "svc-rsa" && strings.HasPrefix(sub, "user-"), nil
		}
	}
	f.token = must(f.iss.TokenEndpoint(cfg))
	f.revoke = must(f.iss.RevocationEndpoint(cfg))
	f.inspect = must(f.iss.IntrospectionEndpoint(cfg))
	return f
}

// assertion signs an assertion by client id with its key; mod edits the
// claims (nil values delete), hdr the header.
func (f *oauthFixture) assertion(t testing.TB, id string, mod func(claims, hdr map[string]any)) string {
	t.Helper()
	k := f.keys[id]
	if k == nil {
		k = testKey(t, RS256, 2)
	}
	now := f.clock.Now()
	claims := map[string]any{
		"iss": id, "sub": id, "aud": testIssuer,
		"exp": now.Add(time.Minute).Unix(), "iat": now.Unix(),
		"jti": fmt.Sprintf("jti-%d-%s", time.Now().UnixNano(), id),
	}
	hdr := map[string]any{"alg": string(k.Algorithm()), "kid": k.KeyID(), "typ": "JWT"}
	if mod != nil {
		mod(claims, hdr)
	}
	maps.DeleteFunc(claims, func(_ string, v any) bool { return v == nil })
	maps.DeleteFunc(hdr, func(_ string, v any) bool { return v == nil })
	h, _ := json.Marshal(hdr)
	c, _ := json.Marshal(claims)
	return craft(t, k, string(h), string(c))
}

// post sends form to h and decodes the JSON answer.
func post(t testing.TB, h http.Handler, form url.Values) (int, map[string]any, http.Header) {
	t.Helper()
	r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var body map[string]any
	if w.Body.Len() > 0 {
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("answer is not JSON: %q", w.Body.String())
		}
	}
	return w.Code, body, w.Header()
}

func bearerForm(assertion string, extra ...string) url.Values {
	f := url.Values{"grant_type": {GrantTypeJWTBearer}, "assertion": {assertion}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

func TestTokenEndpointJWTBearer(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	ctx := context.Background()
	for id := range f.keys {
		code, body, hdr := post(t, f.token, bearerForm(f.assertion(t, id, nil)))
		if code != 200 {
			t.Fatalf("%s: %d %v", id, code, body)
		}
		if hdr.Get("Cache-Control") != "no-store" || body["token_type"] != "Bearer" || body["scope"] != "read write" {
			t.Errorf("%s: answer %v, Cache-Control %q", id, body, hdr.Get("Cache-Control"))
		}
		if body["expires_in"] != float64(DefaultAccessTTL/time.Second) || body["refresh_token"] != nil {
			t.Errorf("%s: expires_in %v, refresh_token %v", id, body["expires_in"], body["refresh_token"])
		}
		c, err := f.iss.Verify(ctx, body["access_token"].(string))
		if err != nil {
			t.Fatalf("%s: Verify: %v", id, err)
		}
		if c.Subject != id || c.ClientID != id || !c.IsClient() || c.SessionID != "" {
			t.Errorf("%s: claims %+v", id, c)
		}
	}
	// A narrower scope, and one beyond the client's.
	code, body, _ := post(t, f.token, bearerForm(f.assertion(t, "svc-ed", nil), "scope", "read"))
	if code != 200 || body["scope"] != "read" {
		t.Errorf("scope=read: %d %v", code, body)
	}
	code, body, _ = post(t, f.token, bearerForm(f.assertion(t, "svc-ed", nil), "scope", "read admin"))
	if code != 400 || body["error"] != "invalid_scope" {
		t.Errorf("scope=read admin: %d %v", code, body)
	}
}

// TestTokenEndpointJWTBearerClientID: a client_id parameter sent with the
// jwt-bearer grant must name the client whose assertion it is (RFC 7521
// §4.2), as with client authentication.
func TestTokenEndpointJWTBearerClientID(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	cases := []struct {
		name     string
		clientID string
		status   int
		code     string
	}{
		{"none", "", 200, ""},
		{"the assertion's issuer", "svc-rsa", 200, ""},
		{"another registered client", "svc-ec", 401, "invalid_client"},
		{"an unknown client", "nobody", 401, "invalid_client"},
		{"another case", "SVC-RSA", 401, "invalid_client"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := f.assertion(t, "svc-rsa", func(c, _ map[string]any) { c["jti"] = "client-id-" + tc.name })
			code, body, _ := post(t, f.token, bearerForm(a, "client_id", tc.clientID))
			if code != tc.status || (tc.code != "" && body["error"] != tc.code) {
				t.Fatalf("%d %v, want %d %s", code, body["error"], tc.status, tc.code)
			}
			if tc.code != "" && body["access_token"] != nil {
				t.Errorf("a refused request got a token")
			}
		})
	}
}

func TestTokenEndpointAssertionFaults(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	der, err := x509.MarshalPKIXPublicKey(f.keys["svc-rsa"].Public())
	if err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	hsWithPublicKey := func(secret []byte) string {
		c, _ := json.Marshal(map[string]any{"iss": "svc-rsa", "sub": "svc-rsa", "aud": testIssuer, "exp": now.Add(time.Minute).Unix(), "jti": "hs"})
		return hsToken("HS256", fmt.Sprintf(`{"alg":"HS256","kid":%q}`, f.keys["svc-rsa"].KeyID()), string(c), secret)
	}
	replayed := f.assertion(t, "svc-ec", nil)
	if code, body, _ := post(t, f.token, bearerForm(replayed)); code != 200 {
		t.Fatalf("first use: %d %v", code, body)
	}
	const generic = "the assertion is invalid"
	cases := []struct {
		name      string
		assertion string
		desc      string // "" means the generic answer
	}{
		{"bad signature", flipLastBits(f.assertion(t, "svc-rsa", nil)), ""},
		{"unknown client", f.assertion(t, "nobody", nil), ""},
		{"unregistered key (kid of another key)", func() string {
			k := testKey(t, RS256, 2)
			c, _ := json.Marshal(map[string]any{"iss": "svc-rsa", "sub": "svc-rsa", "aud": testIssuer, "exp": now.Add(time.Minute).Unix(), "jti": "u1"})
			return craft(t, k, fmt.Sprintf(`{"alg":"RS256","kid":%q}`, f.keys["svc-rsa"].KeyID()), string(c))
		}(), ""},
		{"unregistered key (its own kid)", func() string {
			k := testKey(t, RS256, 2)
			c, _ := json.Marshal(map[string]any{"iss": "svc-rsa", "sub": "svc-rsa", "aud": testIssuer, "exp": now.Add(time.Minute).Unix(), "jti": "u2"})
			return craft(t, k, fmt.Sprintf(`{"alg":"RS256","kid":%q}`, k.KeyID()), string(c))
		}(), ""},
		{"unregistered key (no kid)", func() string {
			k := testKey(t, RS256, 2)
			c, _ := json.Marshal(map[string]any{"iss": "svc-rsa", "sub": "svc-rsa", "aud": testIssuer, "exp": now.Add(time.Minute).Unix(), "jti": "u3"})
			return craft(t, k, `{"alg":"RS256"}`, string(c))
		}(), ""},
		{"alg of another key type", f.assertion(t, "svc-rsa", func(_, h map[string]any) { h["alg"] = "ES256" }), ""},
		{"alg none", b64.EncodeToString([]byte(`{"alg":"none"}`)) + "." + b64.EncodeToString([]byte(`{"iss":"svc-rsa","sub":"svc-rsa","aud":"`+testIssuer+`","exp":9999999999,"jti":"n"}`)) + ".", ""},
		{"alg none, signature kept", func() string {
			p := strings.Split(f.assertion(t, "svc-rsa", nil), ".")
			return b64.EncodeToString([]byte(`{"alg":"none"}`)) + "." + p[1] + "." + p[2]
		}(), ""},
		{"HS256 keyed by the public key (DER)", hsWithPublicKey(der), ""},
		{"HS256 keyed by the public key (PEM)", hsWithPublicKey(pemPublic(der)), ""},
		{"typ at+jwt (an access token is no assertion)", f.assertion(t, "svc-rsa", func(_, h map[string]any) { h["typ"] = "at+jwt" }), ""},
		{"embedded jwk header", f.assertion(t, "svc-rsa", func(_, h map[string]any) { h["jwk"] = map[string]any{"kty": "oct"} }), ""},
		{"iss missing", f.assertion(t, "svc-rsa", func(c, _ map[string]any) { c["iss"] = nil }), ""},
		{"garbage", "not-a-jwt", ""},
		{"oversized", strings.Repeat("a", 9000) + ".b.c", ""},
		{"wrong aud: the token endpoint URL", f.assertion(t, "svc-rsa", func(c, _ map[string]any) { c["aud"] = testIssuer + "/oauth/token" }), "aud must be exactly"},
		{"wrong aud: a list with ours", f.assertion(t, "svc-rsa", func(c, _ map[string]any) { c["aud"] = []string{testIssuer, "https://evil.example"} }), "aud must be exactly"},
		{"aud missing", f.assertion(t, "svc-rsa", func(c, _ map[string]any) { c["aud"] = nil }), "aud must be exactly"},
		{"expired", f.assertion(t, "svc-rsa", func(c, _ map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }), "expired"},
		{"exp too far ahead", f.assertion(t, "svc-rsa", func(c, _ map[string]any) { c["exp"] = now.Add(10 * time.Minute).Unix() }), "ahead"},
		{"exp missing", f.assertion(t, "svc-rsa", func(c, _ map[string]any) { c["exp"] = nil }), ""},
		{"nbf in the future", f.assertion(t, "svc-rsa", func(c, _ map[string]any) { c["nbf"] = now.Add(2 * time.Minute).Unix() }), "nbf"},
		{"iat in the future", f.assertion(t, "svc-rsa", func(c, _ map[string]any) { c["iat"] = now.Add(2 * time.Minute).Unix() }), "iat"},
		{"jti missing", f.assertion(t, "svc-rsa", func(c, _ map[string]any) { c["jti"] = nil }), "jti is missing"},
		{"jti replayed", replayed, "already used"},
		{"sub missing", f.assertion(t, "svc-rsa", func(c, _ map[string]any) { c["sub"] = nil }), "sub is missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := post(t, f.token, bearerForm(tc.assertion))
			if code != 400 || body["error"] != "invalid_grant" {
				t.Fatalf("%d %v, want 400 invalid_grant", code, body)
			}
			desc, _ := body["error_description"].(string)
			if tc.desc == "" && desc != generic {
				t.Errorf("description %q, want the generic %q", desc, generic)
			}
			if tc.desc != "" && !strings.Contains(desc, tc.desc) {
				t.Errorf("description %q, want it to mention %q", desc, tc.desc)
			}
			if strings.Contains(desc, tc.assertion) {
				t.Error("the answer echoes the assertion")
			}
		})
	}
	// A jti is burnt only by a valid assertion: the faulty ones above
	// consumed nothing, and another client may use the same jti.
	for _, id := range []string{"svc-rsa", "svc-ed"} {
		a := f.assertion(t, id, func(c, _ map[string]any) { c["jti"] = "shared-jti" })
		if code, body, _ := post(t, f.token, bearerForm(a)); code != 200 {
			t.Errorf("%s with a jti another client used: %d %v", id, code, body)
		}
	}
}

func TestTokenEndpointConcurrentReplay(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	a := f.assertion(t, "svc-ed", nil)
	var wg sync.WaitGroup
	codes := make(chan int, 32)
	for range 32 {
		wg.Go(func() {
			code, _, _ := post(t, f.token, bearerForm(a))
			codes <- code
		})
	}
	wg.Wait()
	close(codes)
	ok := 0
	for c := range codes {
		switch c {
		case 200:
			ok++
		case 400:
		default:
			t.Errorf("unexpected status %d", c)
		}
	}
	if ok != 1 {
		t.Errorf("%d of 32 concurrent uses of one assertion got a token, want exactly 1", ok)
	}
}

func TestTokenEndpointRequestShape(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	good := func() string { return bearerForm(f.assertion(t, "svc-rsa", nil)).Encode() }
	cases := []struct {
		name   string
		method string
		ctype  string
		query  string
		body   string
		auth   string
		status int
		code   string
	}{
		{"GET", "GET", "", "", "", "", 405, "invalid_request"},
		{"JSON body", "POST", "application/json", "", `{"grant_type":"x"}`, "", 400, "invalid_request"},
		{"query parameters", "POST", "application/x-www-form-urlencoded", "assertion=x", good(), "", 400, "invalid_request"},
		{"repeated parameter", "POST", "application/x-www-form-urlencoded", "", good() + "&grant_type=refresh_token", "", 400, "invalid_request"},
		{"malformed form", "POST", "application/x-www-form-urlencoded", "", "a=%zz", "", 400, "invalid_request"},
		{"body over the cap", "POST", "application/x-www-form-urlencoded", "", "grant_type=x&pad=" + strings.Repeat("a", DefaultMaxFormSize), "", 413, "invalid_request"},
		{"no grant_type", "POST", "application/x-www-form-urlencoded", "", "assertion=x", "", 400, "invalid_request"},
		{"unknown grant_type", "POST", "application/x-www-form-urlencoded", "", "grant_type=password&username=a&password=b", "", 400, "unsupported_grant_type"},
		{"client_credentials", "POST", "application/x-www-form-urlencoded", "", "grant_type=client_credentials", "", 400, "unsupported_grant_type"},
		{"no assertion", "POST", "application/x-www-form-urlencoded", "", "grant_type=" + url.QueryEscape(GrantTypeJWTBearer), "", 400, "invalid_request"},
		{"Basic authentication", "POST", "application/x-www-form-urlencoded", "", good(), "Basic c3ZjOnNlY3JldA==", 401, "invalid_client"},
		{"charset parameter is fine", "POST", "application/x-www-form-urlencoded; charset=UTF-8", "", good(), "", 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := "/oauth/token"
			if tc.query != "" {
				target += "?" + tc.query
			}
			r := httptest.NewRequest(tc.method, target, strings.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			f.token.ServeHTTP(w, r)
			var body map[string]any
			_ = json.Unmarshal(w.Body.Bytes(), &body)
			if w.Code != tc.status || (tc.code != "" && body["error"] != tc.code) {
				t.Errorf("%d %v, want %d %s", w.Code, body, tc.status, tc.code)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", w.Header().Get("Cache-Control"))
			}
		})
	}
}

func TestTokenEndpointActAs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	noPolicy := newOAuthFixture(t, false)
	a := noPolicy.assertion(t, "svc-rsa", func(c, _ map[string]any) { c["sub"] = "user-alice" })
	if code, body, _ := post(t, noPolicy.token, bearerForm(a)); code != 400 || body["error"] != "unauthorized_client" {
		t.Errorf("act-as without a policy: %d %v", code, body)
	}

	f := newOAuthFixture(t, true)
	code, body, _ := post(t, f.token, bearerForm(f.assertion(t, "svc-rsa", func(c, _ map[string]any) { c["sub"] = "user-alice" })))
	if code != 200 {
		t.Fatalf("allowed act-as: %d %v", code, body)
	}
	c, err := f.iss.Verify(ctx, body["access_token"].(string))
	if err != nil || c.Subject != "user-alice" || c.ClientID != "svc-rsa" || c.IsClient() {
		t.Fatalf("act-as token: %+v %v", c, err)
	}
	// The user's logout-all reaches tokens clients obtained for them.
	if err := f.iss.LogoutAll(ctx, "user-alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.iss.Verify(ctx, body["access_token"].(string)); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("act-as token after the user's LogoutAll: %v", err)
	}
	for _, tc := range []struct{ client, sub, code string }{
		{"svc-ec", "user-bob", "invalid_grant"},    // the policy says no
		{"svc-rsa", "svc-ed", "invalid_grant"},     // another client
		{"svc-rsa", "admin", "invalid_grant"},      // the policy says no
		{"svc-rsa", "bad\x00sub", "invalid_grant"}, // not a valid subject
	} {
		a := f.assertion(t, tc.client, func(c, _ map[string]any) { c["sub"] = tc.sub })
		if code, body, _ := post(t, f.token, bearerForm(a)); code != 400 || body["error"] != tc.code {
			t.Errorf("%s acting for %q: %d %v, want %s", tc.client, tc.sub, code, body, tc.code)
		}
	}
}

func TestClientTokensAndUsersNeverMix(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	ctx := context.Background()
	_, body, _ := post(t, f.token, bearerForm(f.assertion(t, "svc-ed", nil)))
	clientTok := body["access_token"].(string)
	// A user whose id equals the client's.
	user := login(t, f.iss, "svc-ed")
	if err := f.iss.LogoutAll(ctx, "svc-ed"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.iss.Verify(ctx, user.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("user token after the user's LogoutAll: %v", err)
	}
	if _, err := f.iss.Verify(ctx, clientTok); err != nil {
		t.Errorf("the client's token after a same-named user's LogoutAll: %v", err)
	}
	// The deny-list applies to client tokens; RevokeClient revokes them all.
	_, body, _ = post(t, f.token, bearerForm(f.assertion(t, "svc-ed", nil)))
	second := body["access_token"].(string)
	if err := f.iss.RevokeAccessToken(ctx, clientTok); err != nil {
		t.Fatal(err)
	}
	if _, err := f.iss.Verify(ctx, clientTok); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("revoked client token: %v", err)
	}
	if _, err := f.iss.Verify(ctx, second); err != nil {
		t.Errorf("the client's other token: %v", err)
	}
	if err := f.iss.RevokeClient(ctx, "svc-ed"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.iss.Verify(ctx, second); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("client token after RevokeClient: %v", err)
	}
	_, body, _ = post(t, f.token, bearerForm(f.assertion(t, "svc-ed", nil)))
	if _, err := f.iss.Verify(ctx, body["access_token"].(string)); err != nil {
		t.Errorf("a new token after RevokeClient: %v", err)
	}
	// Login refuses a session whose client is its subject.
	if _, err := f.iss.Login(ctx, Grant{Subject: "svc-ed", ClientID: "svc-ed"}); !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("Login with ClientID == Subject: %v", err)
	}
}

func clientAuth(assertion string) []string {
	return []string{"client_assertion_type", ClientAssertionTypeJWTBearer, "client_assertion", assertion}
}

func refreshForm(rt string, extra ...string) url.Values {
	f := url.Values{"grant_type": {GrantTypeRefreshToken}, "refresh_token": {rt}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

func TestTokenEndpointRefreshGrant(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	ctx := context.Background()

	// A user session: no client authentication needed.
	toks := login(t, f.iss, "alice")
	code, body, _ := post(t, f.token, refreshForm(toks.RefreshToken))
	if code != 200 || body["refresh_token"] == nil || body["refresh_token"] == toks.RefreshToken {
		t.Fatalf("refresh: %d %v", code, body)
	}
	if _, err := f.iss.Verify(ctx, body["access_token"].(string)); err != nil {
		t.Errorf("refreshed access token: %v", err)
	}
	f.clock.Advance(time.Minute) // past the grace window: reuse
	if code, body, _ := post(t, f.token, refreshForm(toks.RefreshToken)); code != 400 || body["error"] != "invalid_grant" {
		t.Errorf("reuse: %d %v", code, body)
	}
	if code, _, _ := post(t, f.token, refreshForm(body["refresh_token"].(string))); code != 400 {
		t.Errorf("the successor after reuse: %d, want the session revoked", code)
	}
	if code, body, _ := post(t, f.token, refreshForm("skr1.garbage")); code != 400 || body["error"] != "invalid_grant" {
		t.Errorf("garbage refresh token: %d %v", code, body)
	}
	// A user session presented with client authentication: not that client's.
	u := login(t, f.iss, "bob")
	if code, body, _ := post(t, f.token, refreshForm(u.RefreshToken, clientAuth(f.assertion(t, "svc-ec", nil))...)); code != 400 || body["error"] != "invalid_grant" {
		t.Errorf("user token with client auth: %d %v", code, body)
	}

	// A session issued to a client needs that client's authentication.
	cs, err := f.iss.Login(ctx, Grant{Subject: "carol", ClientID: "svc-ec", Scope: "read"})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := f.iss.Verify(ctx, cs.AccessToken); err != nil || c.ClientID != "svc-ec" || c.SessionID == "" {
		t.Fatalf("client session token: %+v %v", c, err)
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"no client authentication", refreshForm(cs.RefreshToken), 400, "invalid_grant"},
		{"another client", refreshForm(cs.RefreshToken, clientAuth(f.assertion(t, "svc-ed", nil))...), 400, "invalid_grant"},
		{"client_id mismatch", refreshForm(cs.RefreshToken, append(clientAuth(f.assertion(t, "svc-ec", nil)), "client_id", "svc-ed")...), 401, "invalid_client"},
		{"bad client assertion", refreshForm(cs.RefreshToken, clientAuth(flipLastBits(f.assertion(t, "svc-ec", nil)))...), 401, "invalid_client"},
		{"wrong assertion type", refreshForm(cs.RefreshToken, "client_assertion_type", "password", "client_assertion", "x"), 401, "invalid_client"},
		{"client assertion whose sub is a user", refreshForm(cs.RefreshToken, clientAuth(f.assertion(t, "svc-ec", func(c, _ map[string]any) { c["sub"] = "carol" }))...), 401, "invalid_client"},
		{"another scope", refreshForm(cs.RefreshToken, append(clientAuth(f.assertion(t, "svc-ec", nil)), "scope", "write")...), 400, "invalid_scope"},
	} {
		if code, body, _ := post(t, f.token, tc.form); code != tc.status || body["error"] != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.name, code, body, tc.status, tc.code)
		}
	}
	code, body, _ = post(t, f.token, refreshForm(cs.RefreshToken, append(clientAuth(f.assertion(t, "svc-ec", nil)), "client_id", "svc-ec", "scope", "read")...))
	if code != 200 {
		t.Fatalf("client refresh: %d %v", code, body)
	}
	if c, err := f.iss.Verify(ctx, body["access_token"].(string)); err != nil || c.ClientID != "svc-ec" || c.Subject != "carol" {
		t.Errorf("client refresh token: %+v %v", c, err)
	}
}

func TestTokenEndpointStoreDown(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	a := f.assertion(t, "svc-rsa", nil)
	f.st.down.Store(true)
	code, body, hdr := post(t, f.token, bearerForm(a))
	if code != 503 || body["error"] != "temporarily_unavailable" || hdr.Get("Retry-After") == "" {
		t.Errorf("store down: %d %v", code, body)
	}
	f.st.down.Store(false)
	// Nothing was consumed: the same assertion works once the store is back.
	if code, body, _ := post(t, f.token, bearerForm(a)); code != 200 {
		t.Errorf("after the outage: %d %v", code, body)
	}
}

func TestRevocationEndpoint(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	ctx := context.Background()
	tokenOf := func(id string) string {
		_, body, _ := post(t, f.token, bearerForm(f.assertion(t, id, nil)))
		return body["access_token"].(string)
	}
	revoke := func(by, tok string, extra ...string) (int, map[string]any) {
		form := url.Values{"token": {tok}}
		if by != "" {
			for i, kv := 0, clientAuth(f.assertion(t, by, nil)); i < len(kv); i += 2 {
				form.Set(kv[i], kv[i+1])
			}
		}
		for i := 0; i+1 < len(extra); i += 2 {
			form.Set(extra[i], extra[i+1])
		}
		code, body, _ := post(t, f.revoke, form)
		return code, body
	}
	mine, theirs, user := tokenOf("svc-rsa"), tokenOf("svc-ed"), login(t, f.iss, "alice")
	if code, body := revoke("", mine); code != 401 || body["error"] != "invalid_client" {
		t.Errorf("unauthenticated: %d %v", code, body)
	}
	if code, body := revoke("svc-rsa", ""); code != 400 || body["error"] != "invalid_request" {
		t.Errorf("no token: %d %v", code, body)
	}
	for _, tok := range []string{theirs, user.AccessToken, user.RefreshToken, "garbage", "skr1.x.y"} {
		if code, body := revoke("svc-rsa", tok, "token_type_hint", "refresh_token"); code != 200 || body != nil {
			t.Errorf("someone else's or an unknown token: %d %v", code, body)
		}
	}
	for _, tok := range []string{theirs, user.AccessToken} {
		if _, err := f.iss.Verify(ctx, tok); err != nil {
			t.Errorf("a token another client tried to revoke: %v", err)
		}
	}
	if _, err := f.iss.Refresh(ctx, user.RefreshToken); err != nil {
		t.Errorf("a user's refresh token a client tried to revoke: %v", err)
	}
	if code, _ := revoke("svc-rsa", mine, "token_type_hint", "access_token"); code != 200 {
		t.Errorf("own token: %d", code)
	}
	if _, err := f.iss.Verify(ctx, mine); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("own token after revocation: %v", err)
	}
	// A refresh token of a session issued to the client ends the session.
	cs, err := f.iss.Login(ctx, Grant{Subject: "carol", ClientID: "svc-rsa"})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := revoke("svc-ed", cs.RefreshToken); code != 200 {
		t.Errorf("another client's refresh token: %d", code)
	}
	if _, err := f.iss.Verify(ctx, cs.AccessToken); err != nil {
		t.Errorf("session after another client's revocation attempt: %v", err)
	}
	if code, _ := revoke("svc-rsa", cs.RefreshToken); code != 200 {
		t.Errorf("own refresh token: %d", code)
	}
	if _, err := f.iss.Verify(ctx, cs.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("access token of the revoked session: %v", err)
	}
	// Store down: 503, the client may retry.
	tok := tokenOf("svc-rsa")
	a := f.assertion(t, "svc-rsa", nil)
	f.st.down.Store(true)
	code, body, _ := post(t, f.revoke, url.Values{"token": {tok}, "client_assertion_type": {ClientAssertionTypeJWTBearer}, "client_assertion": {a}})
	f.st.down.Store(false)
	if code != 503 {
		t.Errorf("store down: %d %v", code, body)
	}
}

func TestIntrospectionEndpoint(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	ctx := context.Background()
	inspect := func(by, tok string) (int, map[string]any) {
		form := url.Values{"token": {tok}}
		if by != "" {
			for i, kv := 0, clientAuth(f.assertion(t, by, nil)); i < len(kv); i += 2 {
				form.Set(kv[i], kv[i+1])
			}
		}
		code, body, _ := post(t, f.inspect, form)
		return code, body
	}
	_, body, _ := post(t, f.token, bearerForm(f.assertion(t, "svc-ec", nil), "scope", "read"))
	tok := body["access_token"].(string)
	if code, body := inspect("", tok); code != 401 || body["error"] != "invalid_client" {
		t.Errorf("unauthenticated: %d %v", code, body)
	}
	code, body := inspect("svc-rsa", tok)
	if code != 200 || body["active"] != true || body["sub"] != "svc-ec" || body["client_id"] != "svc-ec" ||
		body["scope"] != "read" || body["iss"] != testIssuer || body["token_type"] != "Bearer" || body["jti"] == nil || body["exp"] == nil {
		t.Errorf("live token: %d %v", code, body)
	}
	user := login(t, f.iss, "alice")
	if _, body := inspect("svc-rsa", user.AccessToken); body["active"] != true || body["sid"] != user.SessionID {
		t.Errorf("user token: %v", body)
	}
	if err := f.iss.RevokeAccessToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{tok, flipLastBits(user.AccessToken), "garbage", user.RefreshToken} {
		if code, body := inspect("svc-rsa", bad); code != 200 || len(body) != 1 || body["active"] != false {
			t.Errorf("inactive token: %d %v", code, body)
		}
	}
	cs, err := f.iss.Login(ctx, Grant{Subject: "carol", ClientID: "svc-ed", Scope: "read"})
	if err != nil {
		t.Fatal(err)
	}
	if _, body := inspect("svc-ed", cs.RefreshToken); body["active"] != true || body["token_type"] != "refresh_token" || body["sub"] != "carol" {
		t.Errorf("own client's refresh token: %v", body)
	}
	if _, body := inspect("svc-rsa", cs.RefreshToken); body["active"] != false {
		t.Errorf("another client's refresh token: %v", body)
	}
	f.clock.Advance(DefaultAccessTTL + DefaultLeeway)
	if _, body := inspect("svc-ed", user.AccessToken); body["active"] != false {
		t.Errorf("expired token: %v", body)
	}
	a := f.assertion(t, "svc-ed", nil)
	live := login(t, f.iss, "dave")
	f.st.down.Store(true)
	code, body, _ = post(t, f.inspect, url.Values{"token": {live.AccessToken}, "client_assertion_type": {ClientAssertionTypeJWTBearer}, "client_assertion": {a}})
	f.st.down.Store(false)
	if code != 503 {
		t.Errorf("store down: %d %v", code, body)
	}
}

func TestClientKeysAndRegistry(t *testing.T) {
	t.Parallel()
	k := testKey(t, ES256, 2)
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	fromPEM, err := ParseClientKey(pemPublic(der))
	if err != nil || fromPEM.KeyID() != k.KeyID() || fromPEM.Algorithm() != ES256 {
		t.Fatalf("PEM: %v %q %q", err, fromPEM.KeyID(), fromPEM.Algorithm())
	}
	fromJWK, err := ParseClientKey(k.jwk)
	if err != nil || fromJWK.KeyID() != k.KeyID() {
		t.Fatalf("JWK: %v", err)
	}
	priv, _ := k.MarshalPEM()
	privJWK := []byte(`{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}`)
	for name, bad := range map[string][]byte{
		"private PEM":    priv,
		"symmetric JWK":  privJWK,
		"garbage":        []byte("hello"),
		"alg mismatch":   []byte(strings.Replace(string(k.jwk), `"ES256"`, `"RS256"`, 1)),
		"two PEM blocks": append(pemPublic(der), pemPublic(der)...),
	} {
		if _, err := ParseClientKey(bad); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := NewMemoryClients(Client{ID: "a", Keys: []ClientKey{fromPEM}}, Client{ID: "a", Keys: []ClientKey{fromPEM}}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("duplicate client: %v", err)
	}
	if _, err := NewMemoryClients(Client{ID: "a"}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("client without keys: %v", err)
	}
	if _, err := NewMemoryClients(Client{ID: "a", Keys: []ClientKey{{}}}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("zero ClientKey: %v", err)
	}
	if _, err := NewMemoryClients(Client{ID: "a", Keys: []ClientKey{fromPEM}, Scopes: []string{"bad scope"}}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("bad scope: %v", err)
	}
	// SignClientAssertion produces what the endpoint accepts.
	iss, clock := newTestIssuer(t, nil)
	reg, err := NewMemoryClients(Client{ID: "svc", Keys: []ClientKey{fromJWK}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := SignClientAssertion(k, "svc", testIssuer, clock.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if code, body, _ := post(t, must(iss.TokenEndpoint(TokenEndpointConfig{Clients: reg})), bearerForm(a)); code != 200 || body["scope"] != nil {
		t.Errorf("SignClientAssertion's assertion: %d %v", code, body)
	}
	if _, err := SignClientAssertion(k, "svc", testIssuer, clock.Now(), time.Hour); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("an hour-long assertion: %v", err)
	}
}

// must returns v, and panics on err: for the handler constructors, whose
// configuration the test fixes.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestOAuthEndpointsRefuseBadConfig: the endpoint constructors answer an
// error, never a panic, for a configuration they cannot serve.
func TestOAuthEndpointsRefuseBadConfig(t *testing.T) {
	t.Parallel()
	iss, _ := newTestIssuer(t, nil)
	noOnce, _ := newTestIssuer(t, func(c *Config) {
		c.Store = limitedStore{memstore.New()}
		c.SkipRevocationCheck = true
		c.AcceptStoreLimits = ^store.Capabilities(0)
	})
	clients, err := NewMemoryClients()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		iss  *Issuer
		cfg  TokenEndpointConfig
		want string
	}{
		{"no clients", iss, TokenEndpointConfig{}, "Clients"},
		{"tiny body", iss, TokenEndpointConfig{Clients: clients, MaxBodySize: 100}, "MaxBodySize"},
		{"no use-once keys", noOnce, TokenEndpointConfig{Clients: clients}, "use-once"},
	} {
		for name, mk := range map[string]func(TokenEndpointConfig) (http.Handler, error){
			"TokenEndpoint": tt.iss.TokenEndpoint, "RevocationEndpoint": tt.iss.RevocationEndpoint, "IntrospectionEndpoint": tt.iss.IntrospectionEndpoint,
		} {
			h, err := mk(tt.cfg)
			if h != nil || !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s, %s: %v, %v", tt.name, name, h, err)
			}
		}
	}
}
