package sessionkit

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/jose"
)

// eventLog records the Events a hook is told of.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) hook(_ context.Context, e Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

// take returns the events recorded since the last take.
func (l *eventLog) take() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.events
	l.events = nil
	return out
}

// of returns the events of kind k among es.
func of(es []Event, k EventKind) []Event {
	var out []Event
	for _, e := range es {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// wantOneEvent checks that es is exactly one event of kind k with reason
// why, and that no field of it holds any of secrets.
func wantOneEvent(t *testing.T, es []Event, k EventKind, why Reason, secrets ...string) Event {
	t.Helper()
	if len(es) != 1 || es[0].Kind != k || es[0].Reason != why {
		t.Fatalf("events = %+v; want exactly one %v with reason %q", es, k, why)
	}
	e := es[0]
	for _, s := range secrets {
		for _, field := range []string{e.Issuer, e.Subject, e.ClientID, e.SessionID, string(e.Reason)} {
			if s != "" && field != "" && (strings.Contains(field, s) || strings.Contains(s, field) && len(field) > 16) {
				t.Errorf("event %+v holds token material", e)
			}
		}
	}
	return e
}

// ownHeader is the header of the test issuer's RS256 key, with typ.
func ownHeader(k *SigningKey, typ string) string {
	return `{"alg":"RS256","kid":"` + k.KeyID() + `","typ":"` + typ + `"}`
}

// ownClaims is a claims set of the test issuer for alice, changed by mod.
func ownClaims(now time.Time, mod map[string]any) string {
	c := map[string]any{
		"iss": testIssuer, "sub": "alice", "aud": testAudience,
		"exp": now.Add(time.Minute).Unix(), "iat": now.Unix(),
		"jti": "jti-1", "sid": "sid-1", "ver": 0,
	}
	for k, v := range mod {
		c[k] = v
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// TestVerifyRefusalEvents: every refusal of Issuer.Verify is one
// EventAccessTokenRefused with its Reason, the issuer, and the subject and
// session once the signature verified; errors.Is is unchanged.
func TestVerifyRefusalEvents(t *testing.T) {
	t.Parallel()
	var log eventLog
	fs := &failingStore{}
	key := testKey(t, RS256, 0)
	iss, clock := newTestIssuer(t, func(c *Config) {
		c.Keys = NewKeySet(key)
		fs.Store = c.Store
		c.Store = fs
		c.Events = log.hook
	})
	now := clock.Now()
	signed := func(mod map[string]any) string { return craft(t, key, ownHeader(key, "at+jwt"), ownClaims(now, mod)) }
	valid := login(t, iss, "alice")
	revoked := login(t, iss, "alice")
	if err := iss.Logout(context.Background(), revoked.RefreshToken); err != nil {
		t.Fatal(err)
	}
	log.take()
	tests := []struct {
		name    string
		token   string
		down    bool // the store fails
		want    error
		reason  Reason
		subject string // "" when the refusal comes before the signature
	}{
		{"malformed", "not-a-token", false, ErrInvalidToken, ReasonMalformed, ""},
		{"too large", strings.Repeat("a", DefaultMaxTokenSize+1), false, ErrInvalidToken, ReasonTooLarge, ""},
		{"wrong type", craft(t, key, ownHeader(key, "JWT"), ownClaims(now, nil)), false, ErrInvalidToken, ReasonWrongType, ""},
		{"algorithm", craft(t, key, `{"alg":"ES256","kid":"`+key.KeyID()+`","typ":"at+jwt"}`, ownClaims(now, nil)), false, ErrInvalidToken, ReasonAlgorithm, ""},
		{"unknown key", craft(t, key, `{"alg":"RS256","kid":"nope","typ":"at+jwt"}`, ownClaims(now, nil)), false, ErrInvalidToken, ReasonUnknownKey, ""},
		{"bad signature", tamper(valid.AccessToken), false, ErrInvalidToken, ReasonBadSignature, ""},
		{"wrong issuer", signed(map[string]any{"iss": testIssuer + "/"}), false, ErrInvalidToken, ReasonWrongIssuer, "alice"},
		{"wrong audience", signed(map[string]any{"aud": "other"}), false, ErrInvalidToken, ReasonWrongAudience, "alice"},
		{"not yet valid", signed(map[string]any{"nbf": now.Add(time.Hour).Unix()}), false, ErrInvalidToken, ReasonNotYetValid, "alice"},
		{"expired", signed(map[string]any{"exp": now.Add(-time.Hour).Unix()}), false, ErrTokenExpired, ReasonExpired, "alice"},
		{"claims of the wrong type", signed(map[string]any{"sub": 7}), false, ErrInvalidToken, ReasonMalformed, ""},
		{"revoked", revoked.AccessToken, false, ErrTokenRevoked, ReasonRevoked, "alice"},
		{"store unavailable", valid.AccessToken, true, ErrStoreUnavailable, ReasonStoreUnavailable, "alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs.down.Store(tt.down)
			defer fs.down.Store(false)
			_, err := iss.Verify(context.Background(), tt.token)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify: %v; want %v", err, tt.want)
			}
			e := wantOneEvent(t, log.take(), EventAccessTokenRefused, tt.reason, tt.token)
			if e.Issuer != testIssuer || e.Subject != tt.subject || !e.Time.Equal(now) {
				t.Errorf("event %+v; want issuer %q, subject %q, time %v", e, testIssuer, tt.subject, now)
			}
			if tt.subject != "" && e.SessionID == "" {
				t.Errorf("event %+v names no session", e)
			}
			if strings.Contains(err.Error(), tt.token) {
				t.Errorf("error %v shows the token", err)
			}
		})
	}
	if _, err := iss.Verify(context.Background(), valid.AccessToken); err != nil {
		t.Fatal(err)
	}
	if es := log.take(); len(es) != 0 {
		t.Errorf("a success reported %+v", es)
	}

	// A typed nil Issuer behind the Middleware reports nothing, and
	// panics nowhere on a request without a token.
	res := run(Middleware((*Issuer)(nil), MiddlewareOptions{}), newRequest("GET", "/"))
	if res.ran || res.rec.Code != http.StatusUnauthorized {
		t.Errorf("typed nil Issuer: ran %v, %d", res.ran, res.rec.Code)
	}
}

// TestVerifierRefusalReasons: the reasons a Verifier's own options bring:
// a forged token without kid is a bad signature (and still refetches as
// an unknown key would), a lifetime over MaxTokenAge its own reason.
func TestVerifierRefusalReasons(t *testing.T) {
	t.Parallel()
	var log eventLog
	key := testKey(t, RS256, 0)
	clock := newTestClock()
	now := clock.Now()
	v := newTestVerifier(t, VerifierConfig{
		Issuers:     []TrustedIssuer{{Issuer: testIssuer, Keys: NewKeySet(key)}},
		Audience:    []string{testAudience},
		MaxTokenAge: 30 * time.Second,
		Now:         clock.Now,
		Events:      log.hook,
	}, nil)
	kidless := craft(t, key, `{"alg":"RS256","typ":"at+jwt"}`, ownClaims(now, map[string]any{"exp": now.Add(20 * time.Second).Unix()}))
	if _, err := v.Verify(context.Background(), kidless); err != nil {
		t.Fatalf("a genuine token without kid: %v", err)
	}
	_, err := v.Verify(context.Background(), tamper(kidless))
	if !errors.Is(err, ErrInvalidToken) || !errors.Is(err, errUnknownKey) {
		t.Errorf("forged without kid: %v; want ErrInvalidToken wrapping the unknown-key refusal", err)
	}
	wantOneEvent(t, log.take(), EventAccessTokenRefused, ReasonBadSignature, kidless)
	long := craft(t, key, ownHeader(key, "at+jwt"), ownClaims(now, nil)) // a minute: over MaxTokenAge
	if _, err := v.Verify(context.Background(), long); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("long-lived: %v", err)
	}
	wantOneEvent(t, log.take(), EventAccessTokenRefused, ReasonLifetime, long)
}

// TestIntrospectionReportsNoRefusal: an inactive token at the
// introspection endpoint is an answer, not a refused request.
func TestIntrospectionReportsNoRefusal(t *testing.T) {
	t.Parallel()
	var log eventLog
	f := newOAuthFixtureWith(t, false, func(c *Config) { c.Events = log.hook })
	form := url.Values{"token": {"not-a-token"}}
	auth := clientAuth(f.assertion(t, "svc-rsa", nil))
	for i := 0; i+1 < len(auth); i += 2 {
		form.Set(auth[i], auth[i+1])
	}
	code, body, _ := post(t, f.inspect, form)
	if code != http.StatusOK || body["active"] != false {
		t.Fatalf("introspection: %d %v", code, body)
	}
	if es := log.take(); len(of(es, EventAccessTokenRefused)) != 0 || len(of(es, EventTokenRequestRefused)) != 0 {
		t.Errorf("events %+v", es)
	}
}

// TestReasonsAreClosed: every reason the codec gives is one of the
// exported constants, and every constant has a documented level.
func TestReasonsAreClosed(t *testing.T) {
	t.Parallel()
	exported := map[Reason]bool{}
	for _, r := range []Reason{ReasonMissing, ReasonMalformed, ReasonWrongType, ReasonAlgorithm, ReasonUnknownKey,
		ReasonBadSignature, ReasonWrongIssuer, ReasonWrongAudience, ReasonExpired, ReasonNotYetValid, ReasonTooLarge,
		ReasonRevoked, ReasonInsufficientScope, ReasonCrossOrigin, ReasonKeysUnavailable, ReasonStoreUnavailable,
		ReasonUnknownToken, ReasonSessionExpired, ReasonSessionRevoked, ReasonInvalidClient, ReasonInvalidGrant,
		ReasonAssertionReplayed, ReasonInvalidRequest, ReasonInvalidScope, ReasonUnauthorizedClient,
		ReasonUnsupportedGrant, ReasonFetchFailed, ReasonBadDocument, ReasonReused, ReasonInternal, ReasonLifetime} {
		if exported[r] {
			t.Errorf("reason %q twice", r)
		}
		exported[r] = true
	}
	// Every constant declared in events.go is in the list above.
	src, err := os.ReadFile("events.go")
	if err != nil {
		t.Fatal(err)
	}
	decl := regexp.MustCompile(`(?m)^\s*Reason\w+\s+Reason = "([a-z_]+)"`)
	all := decl.FindAllSubmatch(src, -1)
	if len(all) != len(exported) {
		t.Errorf("events.go declares %d reasons; the test lists %d", len(all), len(exported))
	}
	for _, m := range all {
		if !exported[Reason(m[1])] {
			t.Errorf("reason %q is not in the test's list", m[1])
		}
	}
	for _, r := range []string{jose.ReasonMalformed, jose.ReasonTooLarge, jose.ReasonWrongType, jose.ReasonAlgorithm,
		jose.ReasonUnknownKey, jose.ReasonBadSignature} {
		if !exported[Reason(r)] {
			t.Errorf("the codec's reason %q is not exported", r)
		}
	}
	for _, code := range []string{"invalid_request", "invalid_client", "invalid_grant", "invalid_scope", "unauthorized_client", "unsupported_grant_type"} {
		if !exported[(&oauthError{code: code}).reasonOf()] {
			t.Errorf("the OAuth code %q maps to no exported reason", code)
		}
	}
	warn := []Reason{ReasonBadSignature, ReasonWrongIssuer, ReasonWrongAudience, ReasonUnknownKey, ReasonReused}
	debug := []Reason{ReasonMissing, ReasonExpired}
	for _, r := range warn {
		if r.LogLevel() != slog.LevelWarn {
			t.Errorf("%q logs at %v; want WARN", r, r.LogLevel())
		}
	}
	for _, r := range debug {
		if r.LogLevel() != slog.LevelDebug {
			t.Errorf("%q logs at %v; want DEBUG", r, r.LogLevel())
		}
	}
}

// TestVerifierRefusalEvents: the Verifier reports its refusals, naming the
// trusted issuer (never an untrusted iss), and its failed fetches.
func TestVerifierRefusalEvents(t *testing.T) {
	t.Parallel()
	var log eventLog
	f := newRemoteFixture(t, RS256, func(c *VerifierConfig) { c.Events = log.hook })
	toks := login(t, f.iss, "alice")
	if _, err := f.v.Verify(context.Background(), toks.AccessToken); err != nil {
		t.Fatal(err)
	}
	if es := log.take(); len(es) != 0 {
		t.Fatalf("a success reported %+v", es)
	}
	f.clock.Advance(time.Hour)
	_, err := f.v.Verify(context.Background(), toks.AccessToken)
	e := wantOneEvent(t, log.take(), EventAccessTokenRefused, ReasonExpired, toks.AccessToken)
	if !errors.Is(err, ErrTokenExpired) || e.Issuer != testIssuer || e.Subject != "alice" || e.SessionID == "" {
		t.Errorf("Verify: %v, event %+v", err, e)
	}

	// Two trusted issuers: a token of a third names no issuer in its event.
	other, _ := newTestIssuer(t, func(c *Config) { c.Issuer = "https://evil.example" })
	multi := newTestVerifier(t, VerifierConfig{
		Issuers: []TrustedIssuer{
			{Issuer: testIssuer, Keys: f.keys},
			{Issuer: "https://second.example", Keys: f.keys},
		},
		Audience: []string{testAudience},
		Now:      f.clock.Now,
		Events:   log.hook,
	}, nil)
	evil := login(t, other, "mallory").AccessToken
	_, err = multi.Verify(context.Background(), evil)
	e = wantOneEvent(t, log.take(), EventAccessTokenRefused, ReasonWrongIssuer, evil)
	if !errors.Is(err, ErrInvalidToken) || e.Issuer != "" || e.Subject != "" {
		t.Errorf("Verify: %v, event %+v", err, e)
	}

	// The JWKS endpoint fails, then serves garbage: each failed fetch is
	// one EventKeysFetchFailed, and the token refused for want of keys.
	for _, tt := range []struct {
		name   string
		h      http.Handler
		reason Reason
	}{
		{"500", status(http.StatusInternalServerError), ReasonFetchFailed},
		{"not a JWKS", staticJWKS([]byte(`{"keys": 7}`), ""), ReasonBadDocument},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := newRemoteFixture(t, RS256, func(c *VerifierConfig) { c.Events = log.hook })
			g.srv.set(tt.h)
			tok := login(t, g.iss, "alice").AccessToken
			_, err := g.v.Verify(context.Background(), tok)
			if !errors.Is(err, ErrKeysUnavailable) {
				t.Fatalf("Verify: %v", err)
			}
			es := log.take()
			fe := wantOneEvent(t, of(es, EventKeysFetchFailed), EventKeysFetchFailed, tt.reason)
			wantOneEvent(t, of(es, EventAccessTokenRefused), EventAccessTokenRefused, ReasonKeysUnavailable, tok)
			if len(es) != 2 || fe.Issuer != testIssuer {
				t.Errorf("events %+v", es)
			}
		})
	}
}

// TestDiscoveryFailureEvents: a discovery document naming another issuer
// is a bad document; a location that answers 500, a failed fetch.
func TestDiscoveryFailureEvents(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		doc    func(f *discoveryFixture) http.Handler
		reason Reason
	}{
		{"mix-up", func(f *discoveryFixture) http.Handler {
			return staticJWKS(f.document(map[string]any{"issuer": strings.TrimSuffix(f.issuer, "/")}), "")
		}, ReasonBadDocument},
		{"500", func(*discoveryFixture) http.Handler { return status(http.StatusInternalServerError) }, ReasonFetchFailed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var log eventLog
			f := newDiscoveryFixture(t, func(c *VerifierConfig) { c.Events = log.hook })
			f.route(oidcPath, tt.doc(f))
			if _, err := f.v.Verify(context.Background(), login(t, f.iss, "alice").AccessToken); !errors.Is(err, ErrKeysUnavailable) {
				t.Fatalf("Verify: %v", err)
			}
			es := log.take()
			e := wantOneEvent(t, of(es, EventKeysFetchFailed), EventKeysFetchFailed, tt.reason)
			if e.Issuer != f.issuer {
				t.Errorf("event %+v", e)
			}
		})
	}
}

// TestMiddlewareReportsOncePerRefusal: a refusal Verify reports is not
// reported again by the Middleware; what only the Middleware sees (no
// token, a cross-origin cookie request, a missing scope) it reports.
func TestMiddlewareReportsOncePerRefusal(t *testing.T) {
	t.Parallel()
	var log eventLog
	iss, _ := newTestIssuer(t, func(c *Config) { c.Events = log.hook })
	toks := login(t, iss, "alice")
	log.take()
	mw := Middleware(iss, MiddlewareOptions{AccessCookie: true})
	scoped := func(h http.Handler) http.Handler { return mw(RequireScope("admin")(h)) }
	tests := []struct {
		name    string
		mw      func(http.Handler) http.Handler
		req     *http.Request
		reason  Reason
		subject string
	}{
		{"missing", mw, newRequest("GET", "/"), ReasonMissing, ""},
		{"two tokens", mw, newRequest("GET", "/", withHeader("Authorization", "Bearer "+toks.AccessToken), withCookie(accessCookie, toks.AccessToken)), ReasonInvalidRequest, ""},
		{"cross-origin", mw, newRequest("POST", "/", withCookie(accessCookie, toks.AccessToken), withHeader("Sec-Fetch-Site", crossSite)), ReasonCrossOrigin, ""},
		{"bad signature", mw, newRequest("GET", "/", withHeader("Authorization", "Bearer "+tamper(toks.AccessToken))), ReasonBadSignature, ""},
		{"scope", scoped, newRequest("GET", "/", withHeader("Authorization", "Bearer "+toks.AccessToken)), ReasonInsufficientScope, "alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if res := run(tt.mw, tt.req); res.ran {
				t.Fatal("the handler ran")
			}
			e := wantOneEvent(t, log.take(), EventAccessTokenRefused, tt.reason, toks.AccessToken)
			if e.Issuer != testIssuer || e.Subject != tt.subject {
				t.Errorf("event %+v", e)
			}
		})
	}
}

// TestRefreshFailureEvents: failed refreshes are EventRefreshFailed with
// why; reuse and OnRefresh refusals keep their own kinds, and nothing is
// reported twice.
func TestRefreshFailureEvents(t *testing.T) {
	t.Parallel()
	var log eventLog
	fs := &failingStore{}
	var banned sync.Map
	iss, clock := newTestIssuer(t, func(c *Config) {
		fs.Store = c.Store
		c.Store = fs
		c.Events = log.hook
		c.OnRefresh = func(_ context.Context, s Session) (map[string]any, error) {
			if _, ok := banned.Load(s.Subject); ok {
				return nil, errors.New("banned")
			}
			return nil, nil
		}
	})
	ctx := context.Background()
	refresh := func(rt string) error { _, err := iss.Refresh(ctx, rt); return err }

	if err := refresh("skr1.bm90LWEtaGFuZGxl.c2VjcmV0"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("unknown: %v", err)
	}
	wantOneEvent(t, log.take(), EventRefreshFailed, ReasonUnknownToken)

	gone := login(t, iss, "alice")
	if err := iss.Logout(ctx, gone.RefreshToken); err != nil {
		t.Fatal(err)
	}
	log.take()
	if err := refresh(gone.RefreshToken); !errors.Is(err, ErrSessionRevoked) && !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("revoked: %v", err)
	}
	es := log.take()
	if len(es) != 1 || es[0].Kind != EventRefreshFailed || (es[0].Reason != ReasonSessionRevoked && es[0].Reason != ReasonUnknownToken) {
		t.Fatalf("revoked: events %+v", es)
	}

	down := login(t, iss, "alice")
	log.take()
	fs.down.Store(true)
	if err := refresh(down.RefreshToken); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("down: %v", err)
	}
	fs.down.Store(false)
	wantOneEvent(t, log.take(), EventRefreshFailed, ReasonStoreUnavailable, secretPart(down.RefreshToken))

	old := login(t, iss, "alice")
	if err := refresh(old.RefreshToken); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute) // past the grace window
	log.take()
	if err := refresh(old.RefreshToken); !errors.Is(err, ErrRefreshReused) {
		t.Fatalf("reuse: %v", err)
	}
	e := wantOneEvent(t, log.take(), EventReuseDetected, ReasonReused, secretPart(old.RefreshToken))
	if e.Subject != "alice" || e.SessionID == "" {
		t.Errorf("reuse event %+v", e)
	}

	ban := login(t, iss, "bob")
	banned.Store("bob", true)
	log.take()
	if err := refresh(ban.RefreshToken); !errors.Is(err, ErrSessionRevoked) {
		t.Fatalf("banned: %v", err)
	}
	wantOneEvent(t, log.take(), EventRefreshRefused, "", secretPart(ban.RefreshToken))

	idle := login(t, iss, "carol")
	clock.Advance(DefaultRefreshTTL + time.Hour)
	log.take()
	if err := refresh(idle.RefreshToken); !errors.Is(err, ErrSessionExpired) && !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("expired: %v", err)
	}
	es = log.take()
	if len(es) != 1 || es[0].Kind != EventRefreshFailed || (es[0].Reason != ReasonSessionExpired && es[0].Reason != ReasonUnknownToken) {
		t.Fatalf("expired: events %+v", es)
	}
}

// TestTokenEndpointRefusalEvents: the token endpoint reports each refused
// request once, with its reason and, once an assertion proved it, the
// client.
func TestTokenEndpointRefusalEvents(t *testing.T) {
	t.Parallel()
	var log eventLog
	f := newOAuthFixtureWith(t, false, func(c *Config) { c.Events = log.hook })
	replayed := f.assertion(t, "svc-rsa", nil)
	if code, body, _ := post(t, f.token, bearerForm(replayed)); code != http.StatusOK {
		t.Fatalf("first use: %d %v", code, body)
	}
	log.take()
	forged := f.assertion(t, "svc-rsa", func(_, hdr map[string]any) { hdr["kid"] = nil })
	forged = tamper(forged)
	tests := []struct {
		name   string
		form   url.Values
		code   string
		reason Reason
		client string
	}{
		{"replayed", bearerForm(replayed), "invalid_grant", ReasonAssertionReplayed, "svc-rsa"},
		{"forged", bearerForm(forged), "invalid_grant", ReasonBadSignature, ""},
		{"unknown client", bearerForm(f.assertion(t, "svc-nobody", nil)), "invalid_grant", ReasonInvalidClient, ""},
		{"bad client auth", refreshForm("skr1.x.y", clientAuth(forged)...), "invalid_client", ReasonBadSignature, ""},
		{"grant type", url.Values{"grant_type": {"password"}}, "unsupported_grant_type", ReasonUnsupportedGrant, ""},
		{"missing assertion", url.Values{"grant_type": {GrantTypeJWTBearer}}, "invalid_request", ReasonInvalidRequest, ""},
		{"scope", bearerForm(f.assertion(t, "svc-ec", nil), "scope", "admin"), "invalid_scope", ReasonInvalidScope, "svc-ec"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body, _ := post(t, f.token, tt.form)
			if body["error"] != tt.code {
				t.Fatalf("answer %v; want %s", body, tt.code)
			}
			e := wantOneEvent(t, of(log.take(), EventTokenRequestRefused), EventTokenRequestRefused, tt.reason)
			if e.Issuer != testIssuer || e.ClientID != tt.client {
				t.Errorf("event %+v; want client %q", e, tt.client)
			}
		})
	}

	// The refresh grant: a failed refresh is both a failed refresh and a
	// refused request; a reuse, a reuse and a refused request.
	toks := login(t, f.iss, "alice")
	log.take()
	post(t, f.token, refreshForm(toks.RefreshToken+"x"))
	es := log.take()
	wantOneEvent(t, of(es, EventRefreshFailed), EventRefreshFailed, ReasonUnknownToken)
	wantOneEvent(t, of(es, EventTokenRequestRefused), EventTokenRequestRefused, ReasonInvalidGrant)
	if code, body, _ := post(t, f.token, refreshForm(toks.RefreshToken)); code != http.StatusOK {
		t.Fatalf("refresh: %d %v", code, body)
	}
	f.clock.Advance(time.Minute)
	log.take()
	post(t, f.token, refreshForm(toks.RefreshToken))
	es = log.take()
	wantOneEvent(t, of(es, EventReuseDetected), EventReuseDetected, ReasonReused)
	wantOneEvent(t, of(es, EventTokenRequestRefused), EventTokenRequestRefused, ReasonReused)
	if len(of(es, EventRefreshFailed)) != 0 {
		t.Errorf("reuse also reported as a failed refresh: %+v", es)
	}
}
