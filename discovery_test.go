package sessionkit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The paths of the discovery fixture's issuer, https://127.0.0.1:port/tenant/.
const (
	oidcPath     = "/tenant" + oidcDiscoverySuffix
	rfc8414Path  = oauthMetadataSuffix + "/tenant"
	discJWKSPath = "/tenant/jwks"
)

// discoveryFixture is an issuer at https://127.0.0.1:port/tenant/ whose
// metadata and JWKS one TLS server serves, route by route, and a Verifier
// configured with the issuer alone, on one test clock.
type discoveryFixture struct {
	issuer string
	iss    *Issuer
	keys   *KeySet
	clock  *testClock
	srv    *jwksServer // counts every request; can hold them (setGate)
	v      *Verifier
	log    *lockedBuffer

	mu     sync.Mutex
	routes map[string]http.Handler // by path; none answers 404
	hits   map[string]int
}

func newDiscoveryFixture(t *testing.T, mod func(*VerifierConfig)) *discoveryFixture {
	t.Helper()
	f := &discoveryFixture{
		keys:   NewKeySet(testKey(t, ES256, 0)),
		log:    &lockedBuffer{},
		routes: make(map[string]http.Handler),
		hits:   make(map[string]int),
	}
	f.srv = startJWKSServer(t, http.HandlerFunc(f.serve), httptest.NewTLSServer)
	f.issuer = f.srv.URL + "/tenant/"
	f.iss, f.clock = newTestIssuer(t, func(c *Config) {
		c.Issuer = f.issuer
		c.Keys = f.keys
		c.SkipRevocationCheck = true
	})
	f.route(oidcPath, staticJWKS(f.document(nil), ""))
	f.route(discJWKSPath, f.keys)
	cfg := VerifierConfig{
		Issuer:     f.issuer,
		Audience:   []string{testAudience},
		HTTPClient: f.srv.Client(),
		Now:        f.clock.Now,
		Logger:     newTestLogger(f.log),
	}
	f.v = newTestVerifier(t, cfg, mod)
	return f
}

func (f *discoveryFixture) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	h := f.routes[r.URL.Path]
	f.hits[r.URL.Path]++
	f.mu.Unlock()
	if h == nil {
		http.NotFound(w, r)
		return
	}
	h.ServeHTTP(w, r)
}

// route serves h at path; nil removes the route (404).
func (f *discoveryFixture) route(path string, h http.Handler) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if h == nil {
		delete(f.routes, path)
	} else {
		f.routes[path] = h
	}
}

// count is the number of requests for path so far.
func (f *discoveryFixture) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[path]
}

// document is the issuer's metadata, hand-written in the shape common
// issuers serve, with the members of mod set (nil deletes one).
func (f *discoveryFixture) document(mod map[string]any) []byte {
	m := map[string]any{
		"issuer":                                f.issuer,
		"jwks_uri":                              f.srv.URL + discJWKSPath,
		"authorization_endpoint":                f.srv.URL + "/tenant/authorize",
		"token_endpoint":                        f.srv.URL + "/tenant/token",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		"mtls_endpoint_aliases":                 map[string]any{"token_endpoint": "https://mtls.example/token"},
		"request_parameter_supported":           false,
	}
	for k, v := range mod {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// status answers code to every request.
func status(code int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", code) })
}

// etagged serves body with a strong ETag and cacheControl, answering 304
// to a request whose If-None-Match names it; notModified counts those.
func etagged(body []byte, cacheControl string, notModified *atomic.Int64) http.Handler {
	sum := sha256.Sum256(body)
	etag := fmt.Sprintf(`"%x"`, sum[:8])
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", etag)
		w.Header().Set("Cache-Control", cacheControl)
		if r.Header.Get("If-None-Match") == etag {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

func TestDiscoveryLocations(t *testing.T) {
	t.Parallel()
	cases := []struct {
		issuer     string
		insecure   bool
		oidc, rfc  string
		wantErrSub string
	}{
		{issuer: "https://tenant.example.com/",
			oidc: "https://tenant.example.com/.well-known/openid-configuration",
			rfc:  "https://tenant.example.com/.well-known/oauth-authorization-server"},
		{issuer: "https://tenant.example.com",
			oidc: "https://tenant.example.com/.well-known/openid-configuration",
			rfc:  "https://tenant.example.com/.well-known/oauth-authorization-server"},
		{issuer: "https://login.example.com/tid/v2.0",
			oidc: "https://login.example.com/tid/v2.0/.well-known/openid-configuration",
			rfc:  "https://login.example.com/.well-known/oauth-authorization-server/tid/v2.0"},
		{issuer: "https://kc.example.com:8443/realms/a%20b/",
			oidc: "https://kc.example.com:8443/realms/a%20b/.well-known/openid-configuration",
			rfc:  "https://kc.example.com:8443/.well-known/oauth-authorization-server/realms/a%20b"},
		{issuer: "http://127.0.0.1:8080/t", insecure: true,
			oidc: "http://127.0.0.1:8080/t/.well-known/openid-configuration",
			rfc:  "http://127.0.0.1:8080/.well-known/oauth-authorization-server/t"},
		{issuer: "http://127.0.0.1:8080/t", wantErrSub: "Issuer must be https"},
		{issuer: "https://tenant.example.com/?a=b", wantErrSub: "query or fragment"},
		{issuer: "https://tenant.example.com/?", wantErrSub: "query or fragment"},
		{issuer: "https://tenant.example.com/#x", wantErrSub: "query or fragment"},
		{issuer: "https://u:p@tenant.example.com/", wantErrSub: "user info"},
		{issuer: "https:///path", wantErrSub: "no host"},
		{issuer: "tenant.example.com", wantErrSub: "not https"},
		{issuer: "urn:example:issuer", wantErrSub: "not https"},
	}
	for _, tc := range cases {
		locs, err := discoveryLocations(tc.issuer, tc.insecure)
		switch {
		case tc.wantErrSub != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErrSub) {
				t.Errorf("discoveryLocations(%q) = %q, %v; want an error mentioning %q", tc.issuer, locs, err, tc.wantErrSub)
			}
		case err != nil || locs != [2]string{tc.oidc, tc.rfc}:
			t.Errorf("discoveryLocations(%q) = %q, %v; want %q and %q", tc.issuer, locs, err, tc.oidc, tc.rfc)
		}
	}
}

// TestDiscovery: where the document is looked for, and every document or
// answer that is refused, with what the Verifier logs about it.
func TestDiscovery(t *testing.T) {
	t.Parallel()
	doc := func(mod map[string]any) func(*testing.T, *discoveryFixture) {
		return func(_ *testing.T, f *discoveryFixture) { f.route(oidcPath, staticJWKS(f.document(mod), "")) }
	}
	raw := func(body string) func(*testing.T, *discoveryFixture) {
		return func(_ *testing.T, f *discoveryFixture) {
			f.route(oidcPath, staticJWKS([]byte(strings.ReplaceAll(body, "ISSUER", f.issuer)), ""))
		}
	}
	// padded is the document grown to size bytes by a member of spaces.
	padded := func(size int) func(*testing.T, *discoveryFixture) {
		return func(_ *testing.T, f *discoveryFixture) {
			body := f.document(map[string]any{"x_pad": ""})
			i := bytes.Index(body, []byte(`"x_pad":""`)) + len(`"x_pad":"`)
			pad := bytes.Repeat([]byte(" "), size-len(body))
			f.route(oidcPath, staticJWKS(append(append(body[:i:i], pad...), body[i:]...), ""))
		}
	}
	cases := []struct {
		name  string
		setup func(*testing.T, *discoveryFixture)
		log   string         // "": the token verifies; else the refusal's reason, logged
		hits  map[string]int // requests per path
	}{
		{"OpenID Connect location", nil, "",
			map[string]int{oidcPath: 1, rfc8414Path: 0, discJWKSPath: 1}},
		{"RFC 8414 location after a 404", func(_ *testing.T, f *discoveryFixture) {
			f.route(oidcPath, nil)
			f.route(rfc8414Path, staticJWKS(f.document(nil), ""))
		}, "", map[string]int{oidcPath: 1, rfc8414Path: 1, discJWKSPath: 1}},
		{"RFC 8414 location after a 410", func(_ *testing.T, f *discoveryFixture) {
			f.route(oidcPath, status(http.StatusGone))
			f.route(rfc8414Path, staticJWKS(f.document(nil), ""))
		}, "", map[string]int{oidcPath: 1, rfc8414Path: 1, discJWKSPath: 1}},
		{"no fallback after a 403 (a firewall's answer says nothing of the document)", func(_ *testing.T, f *discoveryFixture) {
			f.route(oidcPath, status(http.StatusForbidden))
			f.route(rfc8414Path, staticJWKS(f.document(nil), ""))
		}, "endpoint answered 403", map[string]int{oidcPath: 1, rfc8414Path: 0, discJWKSPath: 0}},
		{"no document at either location", func(_ *testing.T, f *discoveryFixture) { f.route(oidcPath, nil) },
			rfc8414Path + ": the discovery document endpoint answered 404",
			map[string]int{oidcPath: 1, rfc8414Path: 1, discJWKSPath: 0}},
		{"no fallback after a 500", func(_ *testing.T, f *discoveryFixture) {
			f.route(oidcPath, status(http.StatusInternalServerError))
			f.route(rfc8414Path, staticJWKS(f.document(nil), ""))
		}, "endpoint answered 500", map[string]int{oidcPath: 1, rfc8414Path: 0, discJWKSPath: 0}},
		{"no fallback after a 429", func(_ *testing.T, f *discoveryFixture) {
			f.route(oidcPath, status(http.StatusTooManyRequests))
			f.route(rfc8414Path, staticJWKS(f.document(nil), ""))
		}, "endpoint answered 429", map[string]int{oidcPath: 1, rfc8414Path: 0, discJWKSPath: 0}},
		{"no fallback from a document for another issuer", func(_ *testing.T, f *discoveryFixture) {
			f.route(oidcPath, staticJWKS(f.document(map[string]any{"issuer": "https://evil.example/"}), ""))
			f.route(rfc8414Path, staticJWKS(f.document(nil), ""))
		}, "mix-up", map[string]int{oidcPath: 1, rfc8414Path: 0, discJWKSPath: 0}},
		{"issuer without the trailing slash", func(t *testing.T, f *discoveryFixture) {
			doc(map[string]any{"issuer": strings.TrimSuffix(f.issuer, "/")})(t, f)
		}, "mix-up", map[string]int{discJWKSPath: 0}},
		{"issuer with one more trailing slash", func(t *testing.T, f *discoveryFixture) {
			doc(map[string]any{"issuer": f.issuer + "/"})(t, f)
		}, "mix-up", map[string]int{discJWKSPath: 0}},
		{"issuer of another tenant on the same host", func(t *testing.T, f *discoveryFixture) {
			doc(map[string]any{"issuer": f.srv.URL + "/other/"})(t, f)
		}, "mix-up", map[string]int{discJWKSPath: 0}},
		{"issuer differing in case", func(t *testing.T, f *discoveryFixture) {
			doc(map[string]any{"issuer": strings.ToUpper(f.issuer)})(t, f)
		}, "mix-up", map[string]int{discJWKSPath: 0}},
		{"no issuer", doc(map[string]any{"issuer": nil}), "has no issuer", map[string]int{discJWKSPath: 0}},
		{"issuer not a string", doc(map[string]any{"issuer": 1}), "issuer is not a string", map[string]int{discJWKSPath: 0}},
		{"http jwks_uri", func(t *testing.T, f *discoveryFixture) {
			doc(map[string]any{"jwks_uri": "http://" + f.srv.Listener.Addr().String() + discJWKSPath})(t, f)
		}, "jwks_uri must be https", map[string]int{discJWKSPath: 0}},
		{"relative jwks_uri", doc(map[string]any{"jwks_uri": discJWKSPath}), "jwks_uri scheme", map[string]int{discJWKSPath: 0}},
		{"jwks_uri with user info", func(t *testing.T, f *discoveryFixture) {
			doc(map[string]any{"jwks_uri": "https://u:p@" + f.srv.Listener.Addr().String() + discJWKSPath})(t, f)
		}, "jwks_uri must not carry user info", map[string]int{discJWKSPath: 0}},
		{"no jwks_uri", doc(map[string]any{"jwks_uri": nil}), "has no jwks_uri", map[string]int{discJWKSPath: 0}},
		{"jwks_uri not a string", doc(map[string]any{"jwks_uri": []string{"https://a/b"}}), "jwks_uri is not a string", map[string]int{discJWKSPath: 0}},
		{"duplicate issuer member", raw(`{"issuer":"ISSUER","jwks_uri":"https://a.example/jwks","issuer":"ISSUER"}`),
			"duplicate member name", map[string]int{discJWKSPath: 0}},
		{"duplicate member deep inside", raw(`{"issuer":"ISSUER","jwks_uri":"https://a.example/jwks","x":[{"a":1,"a":2}]}`),
			"duplicate member name", map[string]int{discJWKSPath: 0}},
		{"not JSON", raw(`<html>login</html>`), "unusable", map[string]int{discJWKSPath: 0}},
		{"trailing data", raw(`{"issuer":"ISSUER","jwks_uri":"https://a.example/jwks"}{}`), "trailing data", map[string]int{discJWKSPath: 0}},
		{"MaxDiscoverySize bytes", padded(MaxDiscoverySize), "", map[string]int{discJWKSPath: 1}},
		{"one byte over MaxDiscoverySize", padded(MaxDiscoverySize + 1), "larger than 262144 bytes", map[string]int{discJWKSPath: 0}},
		{"redirect on the same origin", func(t *testing.T, f *discoveryFixture) {
			f.route(oidcPath, http.RedirectHandler("/tenant/moved", http.StatusFound))
			f.route("/tenant/moved", staticJWKS(f.document(nil), ""))
		}, "", map[string]int{oidcPath: 1, "/tenant/moved": 1, discJWKSPath: 1}},
		{"redirect to another origin", func(t *testing.T, f *discoveryFixture) {
			var otherHits atomic.Int64
			other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				otherHits.Add(1)
				_, _ = w.Write(f.document(nil))
			}))
			t.Cleanup(func() {
				other.Close()
				if otherHits.Load() != 0 {
					t.Errorf("the other origin was asked %d times", otherHits.Load())
				}
			})
			f.route(oidcPath, http.RedirectHandler(other.URL+oidcPath, http.StatusFound))
			f.route(rfc8414Path, staticJWKS(f.document(nil), ""))
		}, "redirect to another origin refused", map[string]int{oidcPath: 1, rfc8414Path: 0, discJWKSPath: 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newDiscoveryFixture(t, nil)
			if tc.setup != nil {
				tc.setup(t, f)
			}
			tok := login(t, f.iss, "alice").AccessToken
			_, err := f.v.Verify(context.Background(), tok)
			log := f.log.String()
			switch {
			case tc.log == "" && err != nil:
				t.Errorf("Verify: %v", err)
			case tc.log != "" && (!errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrInvalidToken)):
				t.Errorf("Verify: %v, want ErrKeysUnavailable only", err)
			case tc.log != "" && (!strings.Contains(log, tc.log) || strings.Count(log, "discovery failed") != 1):
				t.Errorf("want one record of the failed discovery, mentioning %q:\n%s", tc.log, log)
			case tc.log != "" && strings.Contains(log, "JWKS fetch failed"):
				t.Errorf("the failed discovery is logged twice:\n%s", log)
			case strings.Contains(log, strings.Split(tok, ".")[2]):
				t.Errorf("the log shows the token:\n%s", log)
			}
			for path, want := range tc.hits {
				if got := f.count(path); got != want {
					t.Errorf("%d requests for %s, want %d", got, path, want)
				}
			}
		})
	}
}

// TestDiscoveryConfigForms: the issuer alone discovers, in VerifierConfig
// and in Issuers; HMAC keys alone fetch nothing.
func TestDiscoveryConfigForms(t *testing.T) {
	t.Parallel()
	secret := bytes.Repeat([]byte("s"), 32)
	f := newDiscoveryFixture(t, func(c *VerifierConfig) {
		c.Algorithms = []Algorithm{ES256, HS256}
		c.Issuers = []TrustedIssuer{
			{Issuer: c.Issuer},
			{Issuer: "https://hs.example", HMACKeys: []HMACKey{{KeyID: "h1", Algorithm: HS256, Secret: secret}}},
		}
		c.Issuer = ""
	})
	ctx := context.Background()
	if _, err := f.v.Verify(ctx, login(t, f.iss, "alice").AccessToken); err != nil {
		t.Errorf("token of the discovered issuer: %v", err)
	}
	hs := hsToken("HS256", `{"alg":"HS256","kid":"h1","typ":"at+jwt"}`, hsClaims("https://hs.example", f.clock.Now()), secret)
	if _, err := f.v.Verify(ctx, hs); err != nil {
		t.Errorf("token of the HMAC issuer: %v", err)
	}
	if n := f.srv.hits.Load(); n != 2 {
		t.Errorf("%d requests, want 2 (discovery and JWKS of the first issuer)", n)
	}
}

// TestDiscoveryHangingServer: callers of a hanging discovery location
// return at their own deadlines while the one fetch goes on, detached;
// the fetch itself ends at FetchTimeout.
func TestDiscoveryHangingServer(t *testing.T) {
	t.Parallel()
	t.Run("callers' deadlines", func(t *testing.T) {
		t.Parallel()
		f := newDiscoveryFixture(t, nil) // the default FetchTimeout: 10s
		release := f.srv.hold(t)
		tok := login(t, f.iss, "alice").AccessToken
		for _, d := range []time.Duration{time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond} {
			ctx, cancel := context.WithTimeout(context.Background(), d)
			_, err := f.v.Verify(ctx, tok)
			cancel()
			if !errors.Is(err, ErrKeysUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("caller with a %v deadline: %v, want ErrKeysUnavailable and context.DeadlineExceeded", d, err)
			}
		}
		<-f.srv.arrived // the one discovery request, held
		release()
		if _, err := f.v.Verify(context.Background(), tok); err != nil {
			t.Errorf("after the server answered: %v", err)
		}
		if d, j := f.count(oidcPath), f.count(discJWKSPath); d != 1 || j != 1 {
			t.Errorf("%d discovery and %d JWKS requests, want 1 and 1", d, j)
		}
	})
	t.Run("FetchTimeout", func(t *testing.T) {
		t.Parallel()
		f := newDiscoveryFixture(t, func(c *VerifierConfig) { c.FetchTimeout = 50 * time.Millisecond })
		f.srv.hold(t)
		_, err := f.v.Verify(context.Background(), login(t, f.iss, "alice").AccessToken)
		if !errors.Is(err, ErrKeysUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("hanging discovery location: %v, want ErrKeysUnavailable and context.DeadlineExceeded", err)
		}
		if log := f.log.String(); !strings.Contains(log, "discovery failed") || !strings.Contains(log, oidcPath) {
			t.Errorf("no record of the failed discovery naming the location:\n%s", log)
		}
	})
}

// TestDiscoverySingleFlight: 64 callers at first use share one discovery
// and one JWKS fetch.
func TestDiscoverySingleFlight(t *testing.T) {
	t.Parallel()
	f := newDiscoveryFixture(t, nil)
	release := f.srv.hold(t)
	const n = 64
	errs := goVerify(f.v, login(t, f.iss, "alice").AccessToken, n)
	<-f.srv.arrived // the discovery request is in flight and held
	release()
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("caller: %v", err)
		}
	}
	if d, j := f.count(oidcPath), f.count(discJWKSPath); d != 1 || j != 1 {
		t.Errorf("%d discovery and %d JWKS requests for %d callers, want 1 and 1", d, j, n)
	}
}

// TestDiscoveryKeepsLastGoodDocument: while discovery fails, the last good
// document's jwks_uri keeps serving, each failure logged once however many
// callers wait for it; once it answers again, discovery resumes.
func TestDiscoveryKeepsLastGoodDocument(t *testing.T) {
	t.Parallel()
	f := newDiscoveryFixture(t, nil)
	ctx := context.Background()
	verifyAll := func(what string) {
		t.Helper()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if _, err := f.v.Verify(ctx, login(t, f.iss, "alice").AccessToken); err != nil {
					t.Errorf("%s: %v", what, err)
				}
			})
		}
		wg.Wait()
	}
	steps := []struct {
		what      string
		advance   time.Duration
		discovery http.Handler // nil: unchanged
		requests  [2]int       // discovery and JWKS requests so far
		failures  int          // discovery failures logged so far
	}{
		{"first use", 0, nil, [2]int{1, 1}, 0},
		{"discovery down, caches expired", DefaultMinCacheTTL, status(http.StatusBadGateway), [2]int{2, 2}, 1},
		{"within the cache lifetime", DefaultMinCacheTTL / 2, nil, [2]int{2, 2}, 1},
		{"still down at the next expiry", DefaultMinCacheTTL / 2, nil, [2]int{3, 3}, 2},
		{"back up", DefaultMinCacheTTL, staticJWKS(f.document(nil), ""), [2]int{4, 4}, 2},
		{"fresh again", DefaultMinCacheTTL - time.Second, nil, [2]int{4, 4}, 2},
	}
	for _, st := range steps {
		if st.discovery != nil {
			f.route(oidcPath, st.discovery)
		}
		f.clock.Advance(st.advance)
		verifyAll(st.what)
		if got := [2]int{f.count(oidcPath), f.count(discJWKSPath)}; got != st.requests {
			t.Errorf("%s: %v discovery and JWKS requests, want %v", st.what, got, st.requests)
		}
		log := f.log.String()
		if got := strings.Count(log, "discovery failed; still using the last good discovery document"); got != st.failures {
			t.Errorf("%s: %d records of failed discoveries, want %d:\n%s", st.what, got, st.failures, log)
		}
		if st.failures > 0 && !strings.Contains(log, "answered 502") {
			t.Errorf("%s: the record lacks the reason:\n%s", st.what, log)
		}
	}
}

// TestDiscoveryFailureAnswers503: with no document yet, the middleware
// answers 503, and serves once discovery succeeds.
func TestDiscoveryFailureAnswers503(t *testing.T) {
	t.Parallel()
	f := newDiscoveryFixture(t, nil)
	f.route(oidcPath, status(http.StatusServiceUnavailable))
	h := Middleware(f.v, MiddlewareOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tok := login(t, f.iss, "alice").AccessToken
	do := func() int {
		r := httptest.NewRequest("GET", "/api", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if got := do(); got != http.StatusServiceUnavailable {
		t.Errorf("no discovery document: %d, want 503", got)
	}
	f.route(oidcPath, staticJWKS(f.document(nil), ""))
	f.clock.Advance(time.Second)
	if got := do(); got != http.StatusOK {
		t.Errorf("discovery back: %d, want 200", got)
	}
}

// TestDiscoveryRotation: a key rotation at the issuer is picked up through
// the discovered jwks_uri without asking for the document again; the
// document is revalidated with its ETag when it expires; a changed
// jwks_uri is used from the next JWKS fetch on.
func TestDiscoveryRotation(t *testing.T) {
	t.Parallel()
	f := newDiscoveryFixture(t, nil)
	var notModified atomic.Int64
	const maxAge = 2 * DefaultMinCacheTTL
	f.route(oidcPath, etagged(f.document(nil), fmt.Sprintf("max-age=%d", int(maxAge/time.Second)), &notModified))
	ctx := context.Background()
	verify := func(what string, docs, jwks, jwks2 int) {
		t.Helper()
		if _, err := f.v.Verify(ctx, login(t, f.iss, "alice").AccessToken); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		got := [3]int{f.count(oidcPath), f.count(discJWKSPath), f.count("/tenant/jwks-v2")}
		if want := [3]int{docs, jwks, jwks2}; got != want {
			t.Errorf("%s: %v requests for the document, the JWKS and the new JWKS; want %v", what, got, want)
		}
	}
	verify("first use", 1, 1, 0)

	if err := f.keys.Rotate(testKey(t, ES256, 1)); err != nil {
		t.Fatal(err)
	}
	verify("token of the new key at once", 1, 2, 0)

	// The issuer moves its JWKS; the cached document still names the old URL.
	f.route("/tenant/jwks-v2", f.keys)
	f.route(oidcPath, etagged(f.document(map[string]any{"jwks_uri": f.srv.URL + "/tenant/jwks-v2"}),
		fmt.Sprintf("max-age=%d", int(maxAge/time.Second)), &notModified))
	f.clock.Advance(DefaultMinCacheTTL)
	verify("JWKS expired, document fresh", 1, 3, 0)
	f.clock.Advance(DefaultMinCacheTTL)
	verify("document expired and changed", 2, 3, 1)
	if !strings.Contains(f.log.String(), "jwks_uri changed") {
		t.Errorf("no record of the changed jwks_uri:\n%s", f.log.String())
	}
	f.route(discJWKSPath, nil) // the old URL is gone
	f.clock.Advance(maxAge)
	verify("document unchanged", 3, 3, 2)
	if notModified.Load() != 1 {
		t.Errorf("%d answers 304 to a conditional discovery request, want 1", notModified.Load())
	}
}

// FuzzParseDiscovery feeds arbitrary documents to the discovery reader: no
// panics, and whatever it accepts is valid JSON naming the issuer exactly
// and a jwks_uri a JWKSURL could be.
func FuzzParseDiscovery(f *testing.F) {
	const issuer = "https://tenant.example.com/"
	f.Add(`{"issuer":"https://tenant.example.com/","jwks_uri":"https://tenant.example.com/jwks"}`)
	f.Add(`{"issuer":"https://tenant.example.com","jwks_uri":"https://tenant.example.com/jwks"}`)
	f.Add(`{"issuer":"https:\/\/tenant.example.com\/","jwks_uri":"https://a/b","x":[{"y":null}]}`)
	f.Add(`{"issuer":"https://tenant.example.com/","jwks_uri":"http://a/b"}`)
	f.Add(`{"issuer":"https://tenant.example.com/","issuer":"https://tenant.example.com/","jwks_uri":"https://a/b"}`)
	f.Add(`{"jwks_uri":1}`)
	f.Fuzz(func(t *testing.T, doc string) {
		jwks, err := parseDiscovery([]byte(doc), issuer, false)
		if err != nil {
			if jwks != "" {
				t.Fatal("a jwks_uri returned with an error")
			}
			return
		}
		if err := checkFetchURL("jwks_uri", jwks, false); err != nil {
			t.Fatalf("accepted jwks_uri %q: %v", jwks, err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("accepted what encoding/json refuses: %v", err)
		}
		if m["issuer"] != issuer || m["jwks_uri"] != jwks {
			t.Fatalf("read issuer %q and jwks_uri %q; encoding/json says %v and %v", issuer, jwks, m["issuer"], m["jwks_uri"])
		}
	})
}

// TestDiscoveryAlwaysAsksOIDCFirst: after the RFC 8414 location served
// (the OpenID Connect one answered 404), the next discovery asks the
// OpenID Connect location first again, so one answer never moves trust to
// the fallback for good.
func TestDiscoveryAlwaysAsksOIDCFirst(t *testing.T) {
	t.Parallel()
	f := newDiscoveryFixture(t, nil)
	ctx := context.Background()
	f.route(oidcPath, nil) // 404
	f.route(rfc8414Path, staticJWKS(f.document(nil), ""))
	if _, err := f.v.Verify(ctx, login(t, f.iss, "alice").AccessToken); err != nil {
		t.Fatalf("through the RFC 8414 location: %v", err)
	}
	f.route(oidcPath, staticJWKS(f.document(nil), ""))
	f.clock.Advance(DefaultMinCacheTTL)
	if _, err := f.v.Verify(ctx, login(t, f.iss, "alice").AccessToken); err != nil {
		t.Fatalf("after the OpenID Connect location came back: %v", err)
	}
	if got := [2]int{f.count(oidcPath), f.count(rfc8414Path)}; got != [2]int{2, 1} {
		t.Fatalf("%v requests to the OpenID Connect and RFC 8414 locations, want [2 1]", got)
	}
}
