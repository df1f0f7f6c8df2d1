package sessionkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// verifierFunc adapts a function to TokenVerifier.
type verifierFunc func(ctx context.Context, token string) (*Claims, error)

func (f verifierFunc) Verify(ctx context.Context, token string) (*Claims, error) {
	return f(ctx, token)
}

// neverVerify panics if called: requests refused before verification must
// never reach it.
var neverVerify = verifierFunc(func(context.Context, string) (*Claims, error) {
	panic("Verify must not be called")
})

// scopeVerifier accepts any token as subject u1 with the given scope.
func scopeVerifier(scope string) verifierFunc {
	return func(context.Context, string) (*Claims, error) {
		return &Claims{Subject: "u1", Scope: scope}, nil
	}
}

// errVerifier fails every token with err.
func errVerifier(err error) verifierFunc {
	return func(context.Context, string) (*Claims, error) { return nil, err }
}

// result is what one request through a middleware produced.
type result struct {
	rec    *httptest.ResponseRecorder
	ran    bool          // the handler ran
	claims *Claims       // ClaimsFromContext in the handler
	ok     bool          // ditto
	req    *http.Request // the request the handler got
}

// run sends r through mw to a handler that records what it sees.
func run(mw func(http.Handler) http.Handler, r *http.Request) result {
	var res result
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res.ran, res.req = true, r
		res.claims, res.ok = ClaimsFromContext(r.Context())
		_, _ = w.Write([]byte("ok"))
	}))
	res.rec = httptest.NewRecorder()
	h.ServeHTTP(res.rec, r)
	return res
}

// wantRefused checks a refusal: status, the exact WWW-Authenticate ("" for
// none), the JSON body and its headers, that the handler did not run, and
// that none of secrets shows anywhere in the answer.
func wantRefused(t *testing.T, res result, status int, challenge, code, desc string, secrets ...string) {
	t.Helper()
	rec := res.rec
	if res.ran {
		t.Errorf("the handler ran")
	}
	if rec.Code != status {
		t.Errorf("status = %d, want %d (body %s)", rec.Code, status, rec.Body)
	}
	if got := rec.Header().Get("WWW-Authenticate"); got != challenge {
		t.Errorf("WWW-Authenticate = %q, want %q", got, challenge)
	}
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q is not a JSON object of strings: %v", rec.Body, err)
	}
	want := map[string]string{"error": code, "error_description": desc}
	if len(body) != 2 || body["error"] != code || body["error_description"] != desc {
		t.Errorf("body = %v, want %v", body, want)
	}
	wantNoSecrets(t, rec, secrets...)
}

// wantNoSecrets checks that none of secrets ("" skipped) shows in the body
// or a header of rec.
func wantNoSecrets(t *testing.T, rec *httptest.ResponseRecorder, secrets ...string) {
	t.Helper()
	for i, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(rec.Body.String(), s) {
			t.Errorf("the body reveals secret %d", i)
		}
		for name, vs := range rec.Header() {
			for _, v := range vs {
				if strings.Contains(v, s) {
					t.Errorf("header %s reveals secret %d", name, i)
				}
			}
		}
	}
}

// wantPassed checks that the handler ran with claims of subject sub.
func wantPassed(t *testing.T, res result, sub string) {
	t.Helper()
	if res.rec.Code != http.StatusOK || !res.ran {
		t.Fatalf("status = %d, handler ran = %v, body %s, WWW-Authenticate %q",
			res.rec.Code, res.ran, res.rec.Body, res.rec.Header().Get("WWW-Authenticate"))
	}
	if !res.ok || res.claims == nil || res.claims.Subject != sub {
		t.Fatalf("ClaimsFromContext = %+v, %v; want subject %q", res.claims, res.ok, sub)
	}
}

const (
	accessCookie   = "__Host-sk_access"
	bareChallenge  = `Bearer realm="sessionkit"`
	cookieOrigin   = "https://example.com" // httptest.NewRequest's Host
	trustedOrigin  = "https://app.example.com"
	crossSite      = "cross-site"
	invalidRequest = `Bearer realm="sessionkit", error="invalid_request", error_description="`
)

func newRequest(method, target string, mod ...func(*http.Request)) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for _, m := range mod {
		m(r)
	}
	return r
}

func withHeader(name, value string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Add(name, value) }
}

func withCookie(name, value string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Add("Cookie", name+"="+value) }
}

func TestMiddlewareTokenSources(t *testing.T) {
	t.Parallel()
	iss, _ := newTestIssuer(t, nil)
	tok := login(t, iss, "u1").AccessToken
	q := "/?access_token=" + url.QueryEscape(tok)
	tests := []struct {
		name string
		opts MiddlewareOptions
		req  *http.Request
		pass bool // false: 401 for a missing token
	}{
		{"bearer header", MiddlewareOptions{}, newRequest("GET", "/", withHeader("Authorization", "Bearer "+tok)), true},
		{"lowercase scheme", MiddlewareOptions{}, newRequest("GET", "/", withHeader("Authorization", "bearer "+tok)), true},
		{"uppercase scheme, several spaces", MiddlewareOptions{}, newRequest("GET", "/", withHeader("Authorization", "BEARER   "+tok)), true},
		{"access cookie", MiddlewareOptions{AccessCookie: true}, newRequest("GET", "/", withCookie(accessCookie, tok)), true},
		{"access cookie among others", MiddlewareOptions{AccessCookie: true},
			newRequest("GET", "/", withCookie("theme", "dark"), withCookie(accessCookie, tok), withCookie("__Secure-sk_refresh", "skr1.x.y")), true},
		{"cookie under another name", MiddlewareOptions{AccessCookie: true}, newRequest("GET", "/", withCookie("sk_access", tok)), false},
		{"cookie not read without Cookies", MiddlewareOptions{}, newRequest("GET", "/", withCookie(accessCookie, tok)), false},
		{"empty cookie counts as none", MiddlewareOptions{AccessCookie: true}, newRequest("GET", "/", withCookie(accessCookie, "")), false},
		{"query token when allowed", MiddlewareOptions{AllowQueryToken: true}, newRequest("GET", q), true},
		{"query token ignored by default", MiddlewareOptions{}, newRequest("GET", q), false},
		{"form body never read", MiddlewareOptions{AllowQueryToken: true}, func() *http.Request {
			r := httptest.NewRequest("POST", "/", strings.NewReader("access_token="+url.QueryEscape(tok)))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}(), false},
		{"basic scheme is no bearer token", MiddlewareOptions{}, newRequest("GET", "/", withHeader("Authorization", "Basic dTE6cHc=")), false},
		{"scheme without token separator", MiddlewareOptions{}, newRequest("GET", "/", withHeader("Authorization", "Bearer"+tok)), false},
		{"empty Authorization header", MiddlewareOptions{}, newRequest("GET", "/", withHeader("Authorization", "")), false},
		{"basic scheme and cookie", MiddlewareOptions{AccessCookie: true},
			newRequest("GET", "/", withHeader("Authorization", "Basic dTE6cHc="), withCookie(accessCookie, tok)), true},
		{"no token at all", MiddlewareOptions{AccessCookie: true, AllowQueryToken: true}, newRequest("GET", "/"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := run(Middleware(iss, tt.opts), tt.req)
			if tt.pass {
				wantPassed(t, res, "u1")
				return
			}
			wantRefused(t, res, http.StatusUnauthorized, bareChallenge, "unauthorized", "authentication required", tok)
		})
	}
}

// cookieVerifier is a TokenVerifier with cookie settings, as an Issuer's
// or a Verifier's configuration gives them.
type cookieVerifier struct {
	TokenVerifier
	settings *cookieSettings
}

func (v cookieVerifier) cookieSettings() *cookieSettings { return v.settings }

// withCookies gives v the cookie settings c.
func withCookies(t testing.TB, v TokenVerifier, c Cookies) TokenVerifier {
	t.Helper()
	settings, err := newCookieSettings(c)
	if err != nil {
		t.Fatal(err)
	}
	return cookieVerifier{v, settings}
}

// TestMiddlewareCookieSettings: the access cookie the Middleware reads is
// the one the verifier's configuration names, for an Issuer and a
// Verifier alike.
func TestMiddlewareCookieSettings(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		c      Cookies
		cookie string
	}{
		{"defaults", Cookies{}, accessCookie},
		{"insecure", Cookies{InsecureAllowHTTP: true}, "sk_access"},
		{"custom name", Cookies{AccessName: "at"}, "at"},
		{"domain", Cookies{Domain: "example.com"}, "__Secure-sk_access"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			iss, clock := newTestIssuer(t, func(c *Config) { c.Cookies = tt.c })
			tok := login(t, iss, "u1").AccessToken
			v := newTestVerifier(t, VerifierConfig{Issuers: []TrustedIssuer{{Issuer: testIssuer, Keys: iss.keys}}, Audience: []string{testAudience}, Cookies: tt.c, Now: clock.Now}, nil)
			for _, tv := range []TokenVerifier{iss, v} {
				mw := Middleware(tv, MiddlewareOptions{AccessCookie: true})
				wantPassed(t, run(mw, newRequest("GET", "/", withCookie(tt.cookie, tok))), "u1")
				other := "sk_other"
				res := run(mw, newRequest("GET", "/", withCookie(other, tok)))
				wantRefused(t, res, http.StatusUnauthorized, bareChallenge, "unauthorized", "authentication required", tok)
				// Unsafe methods pass the settings' cross-origin check.
				res = run(mw, newRequest("POST", "/", withCookie(tt.cookie, tok), withHeader("Sec-Fetch-Site", crossSite)))
				if res.ran || res.rec.Code != http.StatusForbidden {
					t.Errorf("cross-site POST: ran %v, %d", res.ran, res.rec.Code)
				}
			}
			if got := iss.Cookies(); got.AccessName != tt.c.AccessName || got.InsecureAllowHTTP != tt.c.InsecureAllowHTTP {
				t.Errorf("Cookies() = %+v; want %+v", got, tt.c)
			}
		})
	}
	if _, err := NewVerifier(VerifierConfig{Issuers: []TrustedIssuer{{Issuer: testIssuer, Keys: NewKeySet(testKey(t, RS256, 0))}}, Audience: []string{testAudience},
		Cookies: Cookies{TrustedOrigins: []string{"app.example.com"}}}); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "app.example.com") {
		t.Errorf("NewVerifier with a bad trusted origin: %v", err)
	}
}

func TestMiddlewareClaimsReachHandler(t *testing.T) {
	t.Parallel()
	iss, _ := newTestIssuer(t, nil)
	toks := login(t, iss, "u1")
	res := run(Middleware(iss, MiddlewareOptions{}), newRequest("GET", "/", withHeader("Authorization", "Bearer "+toks.AccessToken)))
	wantPassed(t, res, "u1")
	if c := res.claims; c.SessionID != toks.SessionID || c.Scope != "read write" || !c.ExpiresAt.Equal(toks.AccessExpiresAt) {
		t.Fatalf("claims = %+v", c)
	}
	if got := res.rec.Header().Get("Cache-Control"); got != "" {
		t.Errorf("a header token set Cache-Control %q", got)
	}
}

func TestMiddlewareInvalidRequest(t *testing.T) {
	t.Parallel()
	const tok = "eyJh.eyJz.c2ln"
	bearer := withHeader("Authorization", "Bearer "+tok)
	cookie := withCookie(accessCookie, tok)
	tests := []struct {
		name     string
		optional bool
		req      *http.Request
		desc     string
	}{
		{"header and cookie", false, newRequest("GET", "/", bearer, cookie), "the access token was sent by more than one method"},
		{"header and query", false, newRequest("GET", "/?access_token="+tok, bearer), "the access token was sent by more than one method"},
		{"cookie and query", false, newRequest("GET", "/?access_token="+tok, cookie), "the access token was sent by more than one method"},
		{"all three", false, newRequest("GET", "/?access_token="+tok, bearer, cookie), "the access token was sent by more than one method"},
		{"query parameter twice", false, newRequest("GET", "/?access_token="+tok+"&access_token="+tok), "the access_token parameter appears more than once"},
		{"two Authorization headers", false, newRequest("GET", "/", bearer, bearer), "more than one Authorization header"},
		{"two Authorization headers, one basic", false, newRequest("GET", "/", withHeader("Authorization", "Basic dTE6cHc="), bearer), "more than one Authorization header"},
		{"duplicate access cookie", false, newRequest("GET", "/", cookie, withCookie(accessCookie, "other")), "the access cookie appears more than once"},
		{"duplicate access cookie, one empty", false, newRequest("GET", "/", cookie, withCookie(accessCookie, "")), "the access cookie appears more than once"},
		{"bearer without token", false, newRequest("GET", "/", withHeader("Authorization", "Bearer")), "the access token is empty"},
		{"bearer and spaces only", false, newRequest("GET", "/", withHeader("Authorization", "Bearer   ")), "the access token is empty"},
		{"empty query parameter", false, newRequest("GET", "/?access_token="), "the access token is empty"},
		{"space inside token", false, newRequest("GET", "/", withHeader("Authorization", "Bearer "+tok+" extra")), "the access token is malformed"},
		{"comma in token", false, newRequest("GET", "/", withHeader("Authorization", "Bearer a,b")), "the access token is malformed"},
		{"quote in token", false, newRequest("GET", "/", withHeader("Authorization", `Bearer a"b`)), "the access token is malformed"},
		{"padding inside token", false, newRequest("GET", "/", withHeader("Authorization", "Bearer ab=c")), "the access token is malformed"},
		{"only padding", false, newRequest("GET", "/", withHeader("Authorization", "Bearer ==")), "the access token is malformed"},
		{"tab separator", false, newRequest("GET", "/", withHeader("Authorization", "Bearer \t"+tok)), "the access token is malformed"},
		{"non-ASCII token", false, newRequest("GET", "/", withHeader("Authorization", "Bearer t\u00f6ken")), "the access token is malformed"},
		{"malformed cookie", false, newRequest("GET", "/", withCookie(accessCookie, "abc!def")), "the access token is malformed"},
		{"malformed query token", false, newRequest("GET", "/?access_token=a%20b"), "the access token is malformed"},
		{"optional: more than one method", true, newRequest("GET", "/", bearer, cookie), "the access token was sent by more than one method"},
		{"optional: malformed token", true, newRequest("GET", "/", withHeader("Authorization", "Bearer a,b")), "the access token is malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mw := Middleware(withCookies(t, neverVerify, Cookies{}), MiddlewareOptions{AccessCookie: true, AllowQueryToken: true, Optional: tt.optional})
			res := run(mw, tt.req)
			wantRefused(t, res, http.StatusBadRequest, invalidRequest+tt.desc+`"`, "invalid_request", tt.desc,
				tok, "abc!def", "t\u00f6ken", `a"b`)
		})
	}
}

func TestMiddlewareRejectsBadTokens(t *testing.T) {
	t.Parallel()
	const (
		expired = "the access token expired"
		revoked = "the access token was revoked"
		invalid = "the access token is invalid"
	)
	tests := []struct {
		name  string
		token func(t *testing.T, iss *Issuer, clock *testClock) string
		desc  string
	}{
		{"expired", func(t *testing.T, iss *Issuer, clock *testClock) string {
			tok := login(t, iss, "u1").AccessToken
			clock.Advance(DefaultAccessTTL + DefaultLeeway + time.Second)
			return tok
		}, expired},
		{"logged out everywhere", func(t *testing.T, iss *Issuer, _ *testClock) string {
			tok := login(t, iss, "u1").AccessToken
			if err := iss.LogoutAll(context.Background(), "u1"); err != nil {
				t.Fatal(err)
			}
			return tok
		}, revoked},
		{"access token revoked", func(t *testing.T, iss *Issuer, _ *testClock) string {
			tok := login(t, iss, "u1").AccessToken
			if err := iss.RevokeAccessToken(context.Background(), tok); err != nil {
				t.Fatal(err)
			}
			return tok
		}, revoked},
		{"session logged out", func(t *testing.T, iss *Issuer, _ *testClock) string {
			toks := login(t, iss, "u1")
			if err := iss.Logout(context.Background(), toks.RefreshToken); err != nil {
				t.Fatal(err)
			}
			return toks.AccessToken
		}, revoked},
		{"signature of another token", func(t *testing.T, iss *Issuer, _ *testClock) string {
			a, b := login(t, iss, "u1").AccessToken, login(t, iss, "u2").AccessToken
			return a[:strings.LastIndexByte(a, '.')] + b[strings.LastIndexByte(b, '.'):]
		}, invalid},
		{"foreign issuer", func(t *testing.T, _ *Issuer, _ *testClock) string {
			other, _ := newTestIssuer(t, func(c *Config) { c.Issuer = "https://evil.example" })
			return login(t, other, "u1").AccessToken
		}, invalid},
		{"alg none", func(*testing.T, *Issuer, *testClock) string { return "eyJhbGciOiJub25lIn0.e30." }, invalid},
		{"garbage", func(*testing.T, *Issuer, *testClock) string { return "not-a-jwt" }, invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			iss, clock := newTestIssuer(t, nil)
			tok := tt.token(t, iss, clock)
			for _, optional := range []bool{false, true} {
				res := run(Middleware(iss, MiddlewareOptions{Optional: optional}),
					newRequest("GET", "/", withHeader("Authorization", "Bearer "+tok)))
				challenge := `Bearer realm="sessionkit", error="invalid_token", error_description="` + tt.desc + `"`
				wantRefused(t, res, http.StatusUnauthorized, challenge, "invalid_token", tt.desc, tok, "sessionkit:")
			}
		})
	}
}

func TestMiddlewareFailsClosed(t *testing.T) {
	t.Parallel()
	const tok = "eyJh.eyJz.c2ln"
	fixed := func(err error) func(*testing.T) (TokenVerifier, string) {
		return func(*testing.T) (TokenVerifier, string) { return errVerifier(err), tok }
	}
	tests := []struct {
		name  string
		setup func(t *testing.T) (TokenVerifier, string)
	}{
		{"keys unavailable", fixed(ErrKeysUnavailable)},
		{"keys unavailable, wrapped", fixed(fmt.Errorf("fetching https://internal.example/jwks: %w", ErrKeysUnavailable))},
		{"store unavailable", fixed(fmt.Errorf("%w: dial 10.0.0.7:6379: connection refused", ErrStoreUnavailable))},
		{"unexpected error", fixed(errors.New("internal detail"))},
		{"unsupported", fixed(ErrUnsupported)},
		{"session error from a custom verifier", fixed(ErrSessionRevoked)},
		{"context canceled", fixed(context.Canceled)},
		{"outage beats expiry", fixed(errors.Join(ErrTokenExpired, ErrStoreUnavailable))},
		{"no claims and no error", func(*testing.T) (TokenVerifier, string) {
			return verifierFunc(func(context.Context, string) (*Claims, error) { return nil, nil }), tok
		}},
		{"issuer with its store down", func(t *testing.T) (TokenVerifier, string) {
			fs := &failingStore{}
			iss, _ := newTestIssuer(t, func(c *Config) { fs.Store = c.Store; c.Store = fs })
			tok := login(t, iss, "u1").AccessToken
			fs.down.Store(true)
			return iss, tok
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, token := tt.setup(t)
			for _, optional := range []bool{false, true} {
				res := run(Middleware(v, MiddlewareOptions{Optional: optional}),
					newRequest("GET", "/", withHeader("Authorization", "Bearer "+token)))
				wantRefused(t, res, http.StatusServiceUnavailable, "", "temporarily_unavailable",
					"authentication is temporarily unavailable; try again later",
					token, "internal", "10.0.0.7", "connection refused", "sessionkit:")
				if got := res.rec.Header().Get("Retry-After"); got != "5" {
					t.Errorf("Retry-After = %q", got)
				}
			}
		})
	}
}

func TestMiddlewareCrossOrigin(t *testing.T) {
	t.Parallel()
	cookies := Cookies{TrustedOrigins: []string{trustedOrigin}}
	iss, _ := newTestIssuer(t, func(c *Config) { c.Cookies = cookies })
	tok := login(t, iss, "u1").AccessToken
	cookie := withCookie(accessCookie, tok)
	tests := []struct {
		name     string
		method   string
		target   string
		mod      []func(*http.Request)
		optional bool
		refused  bool
	}{
		{"POST, cookie, Sec-Fetch-Site cross-site", "POST", "/", []func(*http.Request){cookie, withHeader("Sec-Fetch-Site", crossSite), withHeader("Origin", "https://evil.example")}, false, true},
		{"POST, cookie, Sec-Fetch-Site cross-site, no Origin", "POST", "/", []func(*http.Request){cookie, withHeader("Sec-Fetch-Site", crossSite)}, false, true},
		{"POST, cookie, untrusted sibling subdomain", "POST", "/", []func(*http.Request){cookie, withHeader("Sec-Fetch-Site", "same-site"), withHeader("Origin", "https://blog.example.com")}, false, true},
		{"POST, cookie, mismatched Origin, no Sec-Fetch-Site", "POST", "/", []func(*http.Request){cookie, withHeader("Origin", "https://evil.example")}, false, true},
		{"PUT, cookie, cross-site", "PUT", "/", []func(*http.Request){cookie, withHeader("Sec-Fetch-Site", crossSite)}, false, true},
		{"PATCH, cookie, cross-site", "PATCH", "/", []func(*http.Request){cookie, withHeader("Sec-Fetch-Site", crossSite)}, false, true},
		{"DELETE, cookie, cross-site", "DELETE", "/", []func(*http.Request){cookie, withHeader("Sec-Fetch-Site", crossSite)}, false, true},
		{"optional: POST, cookie, cross-site", "POST", "/", []func(*http.Request){cookie, withHeader("Sec-Fetch-Site", crossSite)}, true, true},

		{"POST, cookie, same-origin", "POST", "/", []func(*http.Request){cookie, withHeader("Sec-Fetch-Site", "same-origin"), withHeader("Origin", cookieOrigin)}, false, false},
		{"POST, cookie, Origin matches Host", "POST", "/", []func(*http.Request){cookie, withHeader("Origin", cookieOrigin)}, false, false},
		{"POST, cookie, user-initiated (Sec-Fetch-Site none)", "POST", "/", []func(*http.Request){cookie, withHeader("Sec-Fetch-Site", "none")}, false, false},
		{"POST, cookie, no browser headers", "POST", "/", []func(*http.Request){cookie}, false, false},
		{"POST, cookie, trusted origin", "POST", "/", []func(*http.Request){cookie, withHeader("Sec-Fetch-Site", "same-site"), withHeader("Origin", trustedOrigin)}, false, false},
		{"POST, cookie, trusted origin cross-site", "POST", "/", []func(*http.Request){cookie, withHeader("Sec-Fetch-Site", crossSite), withHeader("Origin", trustedOrigin)}, false, false},
		{"POST, cookie, trusted origin, no Sec-Fetch-Site", "POST", "/", []func(*http.Request){cookie, withHeader("Origin", trustedOrigin)}, false, false},
		{"GET, cookie, cross-site", "GET", "/", []func(*http.Request){cookie, withHeader("Sec-Fetch-Site", crossSite)}, false, false},
		{"HEAD, cookie, cross-site", "HEAD", "/", []func(*http.Request){cookie, withHeader("Sec-Fetch-Site", crossSite)}, false, false},
		{"OPTIONS, cookie, cross-site", "OPTIONS", "/", []func(*http.Request){cookie, withHeader("Sec-Fetch-Site", crossSite)}, false, false},
		{"POST, bearer header, cross-site", "POST", "/", []func(*http.Request){withHeader("Authorization", "Bearer "+tok), withHeader("Sec-Fetch-Site", crossSite), withHeader("Origin", "https://evil.example")}, false, false},
		{"POST, query token, cross-site", "POST", "/?access_token=" + tok, []func(*http.Request){withHeader("Sec-Fetch-Site", crossSite), withHeader("Origin", "https://evil.example")}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var v TokenVerifier = iss
			if tt.refused {
				v = withCookies(t, neverVerify, cookies)
			}
			opts := MiddlewareOptions{
				AccessCookie:    true,
				AllowQueryToken: true,
				Optional:        tt.optional,
			}
			res := run(Middleware(v, opts), newRequest(tt.method, tt.target, tt.mod...))
			if !tt.refused {
				wantPassed(t, res, "u1")
				return
			}
			wantRefused(t, res, http.StatusForbidden, "", "forbidden", "cross-origin request refused", tok)
			if got := strings.TrimSpace(res.rec.Body.String()); got != `{"error":"forbidden","error_description":"cross-origin request refused"}` {
				t.Errorf("body = %s", got)
			}
		})
	}
}

func TestMiddlewareOptional(t *testing.T) {
	t.Parallel()
	iss, _ := newTestIssuer(t, nil)
	tok := login(t, iss, "u1").AccessToken
	mw := Middleware(iss, MiddlewareOptions{Optional: true, AccessCookie: true})
	tests := []struct {
		name string
		req  *http.Request
		sub  string // "" for anonymous
	}{
		{"anonymous", newRequest("GET", "/"), ""},
		{"anonymous POST, cross-site", newRequest("POST", "/", withHeader("Sec-Fetch-Site", crossSite)), ""},
		{"basic scheme is anonymous", newRequest("GET", "/", withHeader("Authorization", "Basic dTE6cHc=")), ""},
		{"bearer token", newRequest("GET", "/", withHeader("Authorization", "Bearer "+tok)), "u1"},
		{"cookie", newRequest("GET", "/", withCookie(accessCookie, tok)), "u1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := run(mw, tt.req)
			if tt.sub != "" {
				wantPassed(t, res, tt.sub)
				return
			}
			if !res.ran || res.rec.Code != http.StatusOK {
				t.Fatalf("status %d, handler ran %v", res.rec.Code, res.ran)
			}
			if res.claims != nil || res.ok {
				t.Fatalf("ClaimsFromContext = %v, %v; want nil, false", res.claims, res.ok)
			}
		})
	}
}

func TestMiddlewareQueryToken(t *testing.T) {
	t.Parallel()
	iss, _ := newTestIssuer(t, nil)
	tok := login(t, iss, "u1").AccessToken
	r := newRequest("GET", "/items?b=2&access_token="+tok+"&a=1")
	res := run(Middleware(iss, MiddlewareOptions{AllowQueryToken: true}), r)
	wantPassed(t, res, "u1")
	if got := res.req.URL.String(); got != "/items?a=1&b=2" {
		t.Errorf("the handler sees URL %q", got)
	}
	if got := res.req.RequestURI; got != "/items?a=1&b=2" {
		t.Errorf("the handler sees RequestURI %q", got)
	}
	if got := res.req.URL.Query().Get("access_token"); got != "" {
		t.Errorf("the handler sees the token")
	}
	if !strings.Contains(r.URL.RawQuery, tok) {
		t.Errorf("the caller's request was modified")
	}
	if got := res.rec.Header().Get("Cache-Control"); got != "private" {
		t.Errorf("Cache-Control = %q, want private (RFC 6750 §2.3)", got)
	}
}

func TestMiddlewareRealm(t *testing.T) {
	t.Parallel()
	mw := Middleware(errVerifier(ErrTokenExpired), MiddlewareOptions{Realm: "api.example.com"})
	res := run(mw, newRequest("GET", "/"))
	wantRefused(t, res, http.StatusUnauthorized, `Bearer realm="api.example.com"`, "unauthorized", "authentication required")
	res = run(mw, newRequest("GET", "/", withHeader("Authorization", "Bearer abc")))
	wantRefused(t, res, http.StatusUnauthorized,
		`Bearer realm="api.example.com", error="invalid_token", error_description="the access token expired"`,
		"invalid_token", "the access token expired")
}

func TestMiddlewarePanicsOnBadConfig(t *testing.T) {
	t.Parallel()
	ok := scopeVerifier("")
	tests := []struct {
		name string
		v    TokenVerifier
		opts MiddlewareOptions
		says string // in the panic's message
	}{
		{"nil verifier", nil, MiddlewareOptions{}, "TokenVerifier"},
		{"realm with a quote", ok, MiddlewareOptions{Realm: `a"b`}, "Realm"},
		{"realm with a backslash", ok, MiddlewareOptions{Realm: `a\b`}, "Realm"},
		{"realm with a newline", ok, MiddlewareOptions{Realm: "a\r\nSet-Cookie: x=y"}, "Realm"},
		{"realm with DEL", ok, MiddlewareOptions{Realm: "a\x7f"}, "Realm"},
		{"realm not ASCII", ok, MiddlewareOptions{Realm: "r\u00e9alm"}, "Realm"},
		{"access cookie of a verifier without cookie settings", ok, MiddlewareOptions{AccessCookie: true}, "AccessCookie"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				err, _ := recover().(error)
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("panic value %v, want an error wrapping ErrInvalidConfig", err)
				}
				if !strings.Contains(err.Error(), tt.says) {
					t.Fatalf("panic %q does not name %q", err, tt.says)
				}
			}()
			Middleware(tt.v, tt.opts)
		})
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestMiddlewareLogs(t *testing.T) {
	t.Parallel()
	iss, clock := newTestIssuer(t, nil)
	expired := login(t, iss, "u1").AccessToken
	clock.Advance(time.Hour)
	const secret = "c2VjcmV0LXRva2Vu.e30.c2ln"
	tests := []struct {
		name   string
		v      TokenVerifier
		req    *http.Request
		level  string
		reason string
		extra  string // another string the record must hold
	}{
		{"missing token", iss, newRequest("GET", "/a"), "DEBUG", "missing", ""},
		{"malformed token", iss, newRequest("GET", "/b", withHeader("Authorization", "Bearer "+secret+" x")), "DEBUG", "invalid_request", ""},
		{"expired token", iss, newRequest("GET", "/c", withHeader("Authorization", "Bearer "+expired)), "DEBUG", "expired", ""},
		{"bad query token", iss, newRequest("GET", "/d?access_token="+secret), "INFO", "malformed", ""},
		{"cross-origin", neverVerify, newRequest("POST", "/e", withCookie(accessCookie, secret), withHeader("Sec-Fetch-Site", crossSite)), "WARN", "cross_origin", ""},
		{"outage", errVerifier(fmt.Errorf("%w: redis down", ErrStoreUnavailable)), newRequest("GET", "/f", withHeader("Authorization", "Bearer "+secret)), "WARN",
			"store_unavailable", "redis down"},
		{"tampered token", iss, newRequest("GET", "/g", withHeader("Authorization", "Bearer "+tamper(expired))), "WARN", "bad_signature", ""},
		{"verifier's own error", errVerifier(errors.New("boom")), newRequest("GET", "/h", withHeader("Authorization", "Bearer "+secret)), "WARN", "internal", "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf syncBuffer
			log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			mw := Middleware(withCookies(t, tt.v, Cookies{}), MiddlewareOptions{Logger: log, AccessCookie: true, AllowQueryToken: true})
			res := run(mw, tt.req)
			if res.ran {
				t.Fatal("the handler ran")
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(buf.String()), &rec); err != nil {
				t.Fatalf("want exactly one record, got %q: %v", buf.String(), err)
			}
			if rec["level"] != tt.level || rec["reason"] != tt.reason || rec["method"] != tt.req.Method ||
				rec["path"] != tt.req.URL.Path || rec["status"] != float64(res.rec.Code) {
				t.Errorf("record = %v", rec)
			}
			if tt.extra != "" && !strings.Contains(buf.String(), tt.extra) {
				t.Errorf("record %s lacks %q", buf.String(), tt.extra)
			}
			for _, s := range []string{secret, "c2VjcmV0", expired, expired[len(expired)-20:], "access_token"} {
				if strings.Contains(buf.String(), s) {
					t.Errorf("record reveals %q: %s", s, buf.String())
				}
			}
		})
	}
}

func TestRequireScope(t *testing.T) {
	t.Parallel()
	const (
		token = "Bearer eyJh.eyJz.c2ln"
		lacks = "the access token lacks a required scope"
	)
	tests := []struct {
		name      string
		mw        func(http.Handler) http.Handler // nil: RequireScope alone
		scopes    []string
		req       *http.Request
		status    int
		challenge string
	}{
		{"all scopes", Middleware(scopeVerifier("read write admin"), MiddlewareOptions{}), []string{"read", "admin"},
			newRequest("GET", "/", withHeader("Authorization", token)), http.StatusOK, ""},
		{"one scope", Middleware(scopeVerifier("read"), MiddlewareOptions{}), []string{"read"},
			newRequest("GET", "/", withHeader("Authorization", token)), http.StatusOK, ""},
		{"lacking one scope", Middleware(scopeVerifier("read write"), MiddlewareOptions{}), []string{"read", "admin"},
			newRequest("GET", "/", withHeader("Authorization", token)), http.StatusForbidden,
			`Bearer realm="sessionkit", error="insufficient_scope", error_description="` + lacks + `", scope="read admin"`},
		{"no scope claim", Middleware(scopeVerifier(""), MiddlewareOptions{Realm: "api"}), []string{"read"},
			newRequest("GET", "/", withHeader("Authorization", token)), http.StatusForbidden,
			`Bearer realm="api", error="insufficient_scope", error_description="` + lacks + `", scope="read"`},
		{"scope prefix is not the scope", Middleware(scopeVerifier("readonly"), MiddlewareOptions{}), []string{"read"},
			newRequest("GET", "/", withHeader("Authorization", token)), http.StatusForbidden,
			`Bearer realm="sessionkit", error="insufficient_scope", error_description="` + lacks + `", scope="read"`},
		{"no middleware", nil, []string{"read"}, newRequest("GET", "/", withHeader("Authorization", token)),
			http.StatusUnauthorized, bareChallenge},
		{"anonymous under Optional", Middleware(neverVerify, MiddlewareOptions{Optional: true, Realm: "api"}), []string{"read"},
			newRequest("GET", "/"), http.StatusUnauthorized, `Bearer realm="api"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			chain := RequireScope(tt.scopes...)
			if tt.mw != nil {
				chain = func(h http.Handler) http.Handler { return tt.mw(RequireScope(tt.scopes...)(h)) }
			}
			res := run(chain, tt.req)
			switch tt.status {
			case http.StatusOK:
				wantPassed(t, res, "u1")
			case http.StatusUnauthorized:
				wantRefused(t, res, tt.status, tt.challenge, "unauthorized", "authentication required")
			default:
				wantRefused(t, res, tt.status, tt.challenge, "insufficient_scope", lacks, "eyJh")
			}
		})
	}
}

func TestRequireScopePanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		scopes []string
	}{
		{"no scopes", nil},
		{"empty scope", []string{"read", ""}},
		{"space", []string{"read write"}},
		{"quote", []string{`a"b`}},
		{"backslash", []string{`a\b`}},
		{"control character", []string{"a\nb"}},
		{"non-ASCII", []string{"l\u00e9ire"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if err, _ := recover().(error); !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("panic value %v, want an error wrapping ErrInvalidConfig", err)
				}
			}()
			RequireScope(tt.scopes...)
		})
	}
}

func TestClaimsFromContext(t *testing.T) {
	t.Parallel()
	c := &Claims{Subject: "u1"}
	tests := []struct {
		name string
		ctx  context.Context
		want *Claims
	}{
		{"empty context", context.Background(), nil},
		{"anonymous", context.WithValue(context.Background(), authKey{}, &authInfo{out: defaultOutlet}), nil},
		{"foreign value", context.WithValue(context.Background(), authKey{}, "u1"), nil},
		{"claims", context.WithValue(context.Background(), authKey{}, &authInfo{claims: c}), c},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := ClaimsFromContext(tt.ctx)
			if got != tt.want || ok != (tt.want != nil) {
				t.Fatalf("ClaimsFromContext = %v, %v", got, ok)
			}
		})
	}
}

func TestValidB64Token(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    string
		want bool
	}{
		{"abc", true},
		{"eyJh.eyJz.c2ln", true},
		{"A-Z_a~z+0/9.", true},
		{"abc=", true},
		{"abc==", true},
		{"", false},
		{"=", false},
		{"==abc", false},
		{"ab=c", false},
		{"a b", false},
		{"a,b", false},
		{`a"b`, false},
		{"a\x00b", false},
		{"t\u00f6ken", false},
	}
	for _, tt := range tests {
		t.Run(tt.s, func(t *testing.T) {
			t.Parallel()
			if got := validB64Token(tt.s); got != tt.want {
				t.Fatalf("validB64Token(%q) = %v", tt.s, got)
			}
		})
	}
}

// TestWriteRefusal: a RefusalWriter answers every refusal of the
// Middleware, RequireScope and the ready-made handlers, with the status
// of the default answer and an error errors.Is tells apart; the RFC 6750
// headers are set before it runs.
func TestWriteRefusal(t *testing.T) {
	t.Parallel()
	type call struct {
		status int
		err    error
	}
	var mu sync.Mutex
	var calls []call
	page := func(w http.ResponseWriter, r *http.Request, status int, err error) {
		mu.Lock()
		calls = append(calls, call{status, err})
		mu.Unlock()
		if status == http.StatusUnauthorized {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.Path), http.StatusSeeOther)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "<h1>Sorry</h1>")
	}
	f := newAuthFixture(t, func(c *Config) { c.WriteRefusal = page })
	b := f.login(t, "u1", "ua")
	expired := b.access()
	mw := Middleware(f.iss, MiddlewareOptions{AccessCookie: true, WriteRefusal: page})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	api := mw(ok)
	admin := mw(RequireScope("admin")(ok))
	tests := []struct {
		name     string
		h        http.Handler
		req      *http.Request
		status   int // the status the writer is given
		want     error
		answered int // what the client sees
	}{
		{"missing", api, newRequest("GET", "/page"), 401, ErrMissingToken, http.StatusSeeOther},
		{"forged", api, newRequest("GET", "/page", withHeader("Authorization", "Bearer "+tamper(expired))), 401, ErrInvalidToken, http.StatusSeeOther},
		{"two tokens", api, newRequest("GET", "/page", withHeader("Authorization", "Bearer "+expired), withCookie(accessCookie, expired)), 400, ErrInvalidRequest, 400},
		{"cross-origin", api, newRequest("POST", "/page", withCookie(accessCookie, expired), withHeader("Sec-Fetch-Site", crossSite)), 403, ErrCrossOrigin, 403},
		{"scope", admin, newRequest("GET", "/admin", withCookie(accessCookie, expired)), 403, ErrInsufficientScope, 403},
		{"refresh without a cookie", f.h, newRequest("POST", "/auth/refresh"), 401, ErrMissingToken, http.StatusSeeOther},
		{"refresh method", f.h, newRequest("GET", "/auth/refresh"), 405, ErrInvalidRequest, 405},
		{"sessions without a token", f.h, newRequest("GET", "/auth/sessions"), 401, ErrMissingToken, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			calls = nil
			mu.Unlock()
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, tt.req)
			mu.Lock()
			got := calls
			mu.Unlock()
			if len(got) != 1 || got[0].status != tt.status || !errors.Is(got[0].err, tt.want) {
				t.Fatalf("writer calls %+v; want one with %d and %v", got, tt.status, tt.want)
			}
			if rec.Code != tt.answered || rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("answer %d, Cache-Control %q", rec.Code, rec.Header().Get("Cache-Control"))
			}
			if tt.status == 401 && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("no challenge before the writer: %v", rec.Header())
			}
			if strings.Contains(rec.Body.String(), `"error"`) {
				t.Errorf("the default JSON was written too: %s", rec.Body)
			}
		})
	}
	// A reused refresh token: the writer sees ErrRefreshReused.
	thief := b.fork()
	if rec := b.send("POST", "/auth/refresh"); rec.Code != http.StatusOK {
		t.Fatalf("refresh: %d", rec.Code)
	}
	f.clock.Advance(time.Minute)
	calls = nil
	thief.send("POST", "/auth/refresh")
	if len(calls) != 1 || calls[0].status != 401 || !errors.Is(calls[0].err, ErrRefreshReused) {
		t.Errorf("reuse: writer calls %+v", calls)
	}
}
