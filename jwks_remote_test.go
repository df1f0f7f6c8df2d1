package sessionkit

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func TestMaxAge(t *testing.T) {
	t.Parallel()
	cases := []struct {
		fields []string
		want   time.Duration
		ok     bool
	}{
		{nil, 0, false},
		{[]string{"public, max-age=300"}, 300 * time.Second, true},
		{[]string{"max-age=\"60\""}, time.Minute, true},
		{[]string{"Max-Age=60, must-revalidate"}, time.Minute, true},
		{[]string{"public", "max-age=7"}, 7 * time.Second, true},
		{[]string{"max-age=10, max-age=20"}, 10 * time.Second, true},
		{[]string{"max-age=-1"}, 0, false},
		{[]string{"max-age=abc"}, 0, false},
		{[]string{"max-age=99999999999"}, 0, false},
		{[]string{"no-store"}, 0, true},
		{[]string{"max-age=600, no-cache"}, 0, true},
	}
	for _, tc := range cases {
		got, ok := maxAge(tc.fields)
		if got != tc.want || ok != tc.ok {
			t.Errorf("maxAge(%q) = %v, %v; want %v, %v", tc.fields, got, ok, tc.want, tc.ok)
		}
	}
}

// jwksBody is the JWKS document of ks.
func jwksBody(t *testing.T, ks *KeySet) []byte {
	t.Helper()
	return append([]byte(nil), ks.load().jwks...)
}

func TestJWKSCacheTTL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		cacheControl string
		min, max     time.Duration
		want         time.Duration
	}{
		{"max-age within bounds", "public, max-age=600", 0, 0, 10 * time.Minute},
		{"max-age under the minimum", "max-age=1", 0, 0, DefaultMinCacheTTL},
		{"max-age over the maximum", "max-age=864000", 0, 0, DefaultMaxCacheTTL},
		{"no Cache-Control", "", 0, 0, DefaultMinCacheTTL},
		{"no-store", "no-store", 0, 0, DefaultMinCacheTTL},
		{"configured bounds: max", "max-age=3600", time.Minute, 10 * time.Minute, 10 * time.Minute},
		{"configured bounds: min", "max-age=5", time.Minute, 10 * time.Minute, time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newRemoteFixture(t, ES256, func(c *VerifierConfig) {
				c.MinCacheTTL, c.MaxCacheTTL = tc.min, tc.max
				if tc.min != 0 {
					c.RefetchInterval = 10 * time.Second
				}
			})
			f.srv.set(staticJWKS(jwksBody(t, f.keys), tc.cacheControl))
			verify := func(wantHits int64) {
				t.Helper()
				tok := login(t, f.iss, "alice").AccessToken
				if _, err := f.v.Verify(context.Background(), tok); err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if n := f.srv.hits.Load(); n != wantHits {
					t.Fatalf("after %v: %d fetches, want %d", f.clock.Now().Sub(testEpoch), n, wantHits)
				}
			}
			verify(1)
			f.clock.Advance(tc.want - time.Second)
			verify(1)
			f.clock.Advance(time.Second)
			verify(2)
		})
	}
}

// randomKIDToken is a well-formed RS256 token whose kid nobody has.
func randomKIDToken(t testing.TB, k *SigningKey, now time.Time) string {
	var kid [16]byte
	_, _ = rand.Read(kid[:])
	return craft(t, k, fmt.Sprintf(`{"alg":"RS256","kid":%q,"typ":"at+jwt"}`, b64.EncodeToString(kid[:])),
		fmt.Sprintf(`{"iss":%q,"sub":"x","aud":"api","exp":%d,"iat":%d,"jti":"j"}`, testIssuer, now.Add(time.Minute).Unix(), now.Unix()))
}

// TestJWKSRandomKIDFloodCostsOneFetchPerInterval: 10,000 tokens with
// random kids cost at most one fetch per refetch interval, whenever they
// come; only a cache expiry adds its own fetch.
func TestJWKSRandomKIDFloodCostsOneFetchPerInterval(t *testing.T) {
	t.Parallel()
	f := newRemoteFixture(t, RS256, nil)
	good := login(t, f.iss, "alice").AccessToken
	ctx := context.Background()
	if _, err := f.v.Verify(ctx, good); err != nil {
		t.Fatal(err)
	}
	flood := func() {
		t.Helper()
		// One token crafted per flood, its kid changed per request: signing
		// 10,000 RSA tokens would only slow the test; the kid is all that
		// matters.
		tmpl := randomKIDToken(t, testKey(t, RS256, 1), f.clock.Now())
		var wg sync.WaitGroup
		var accepted atomic.Int64
		for w := range 8 {
			wg.Go(func() {
				for i := w; i < 10000; i += 8 {
					tok := withKID(t, tmpl, fmt.Sprintf("random-%d-%d", time.Now().UnixNano(), i))
					if _, err := f.v.Verify(ctx, tok); err == nil {
						accepted.Add(1)
					} else if !errors.Is(err, ErrInvalidToken) {
						t.Errorf("random kid: %v, want ErrInvalidToken", err)
						return
					}
				}
			})
		}
		wg.Wait()
		if accepted.Load() != 0 {
			t.Fatalf("%d random-kid tokens accepted", accepted.Load())
		}
	}
	steps := []struct {
		what    string
		advance time.Duration // before the flood
		fetches int64         // the flood's fetches
	}{
		// The cache fill does not count: the first unknown kid refetches.
		{"right after the first fetch", 0, 1},
		{"within the interval", DefaultRefetchInterval - time.Second, 0},
		{"one interval after the last refetch", time.Second, 1},
		{"half an interval later", DefaultRefetchInterval / 2, 0},
		{"again within the interval", DefaultRefetchInterval/2 - time.Second, 0},
		// At expiry, the refresh and one refetch: two, never more.
		{"when the cache expires", DefaultMinCacheTTL, 2},
		{"right after the expiry", 0, 0},
	}
	for _, st := range steps {
		f.clock.Advance(st.advance)
		before := f.srv.hits.Load()
		flood()
		if n := f.srv.hits.Load() - before; n != st.fetches {
			t.Errorf("10,000 random kids %s: %d fetches, want %d", st.what, n, st.fetches)
		}
	}
	if _, err := f.v.Verify(ctx, good); err != nil {
		t.Errorf("good token after the flood: %v", err)
	}
}

// withKID replaces the kid of a token crafted by randomKIDToken (its
// signature no longer matters: the kid is unknown either way).
func withKID(t testing.TB, tok, kid string) string {
	h := fmt.Sprintf(`{"alg":"RS256","kid":%q,"typ":"at+jwt"}`, kid)
	_, rest, ok := strings.Cut(tok, ".")
	if !ok {
		t.Fatal("bad template")
	}
	return b64.EncodeToString([]byte(h)) + "." + rest
}

func TestJWKSUnknownKIDRefetchIsSingleFlight(t *testing.T) {
	t.Parallel()
	f := newRemoteFixture(t, EdDSA, nil)
	ctx := context.Background()
	if _, err := f.v.Verify(ctx, login(t, f.iss, "alice").AccessToken); err != nil {
		t.Fatal(err)
	}
	// The issuer rotates; tokens of the new kid arrive after the interval.
	if err := f.keys.Rotate(testKey(t, EdDSA, 1)); err != nil {
		t.Fatal(err)
	}
	tok := login(t, f.iss, "bob").AccessToken
	f.clock.Advance(DefaultRefetchInterval)
	release := f.srv.hold(t)

	const n = 64
	errs := goVerify(f.v, tok, n)
	<-f.srv.arrived // the one fetch is in flight and held

	// A caller whose context ends stops waiting at once, the fetch goes on.
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := f.v.Verify(cctx, tok); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, ErrKeysUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: %v, want ErrKeysUnavailable and context.Canceled", err)
	}
	dctx, dcancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer dcancel()
	if _, err := f.v.Verify(dctx, tok); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("caller with a deadline: %v, want context.DeadlineExceeded", err)
	}

	release()
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("waiting caller: %v", err)
		}
	}
	if got := f.srv.hits.Load(); got != 2 {
		t.Errorf("%d fetches, want 2 (the first use and one refetch for %d callers)", got, n)
	}
}

// TestJWKSNewKIDRightAfterAFetch: a kid the issuer publishes just after a
// fetch verifies at once: the refetch limit counts only refetches for
// unknown kids, not the fetch that filled the cache.
func TestJWKSNewKIDRightAfterAFetch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		first time.Duration // when the cache is filled, after testEpoch
		tok   time.Duration // when the first token of the new kid arrives
	}{
		{"cache fill at t0, new kid at t0+2s", 0, 2 * time.Second},
		{"scheduled refresh, new kid 2s later", DefaultMinCacheTTL, DefaultMinCacheTTL + 2*time.Second},
		{"new kid in the same instant as the fetch", 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newRemoteFixture(t, ES256, nil)
			ctx := context.Background()
			old := login(t, f.iss, "alice").AccessToken
			if _, err := f.v.Verify(ctx, old); err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(tc.first)
			if _, err := f.v.Verify(ctx, old); err != nil {
				t.Fatal(err)
			}
			fetches := f.srv.hits.Load()
			f.clock.Advance((tc.tok - tc.first) / 2)
			if err := f.keys.Rotate(testKey(t, ES256, 1)); err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(tc.tok - tc.first - (tc.tok-tc.first)/2)
			if _, err := f.v.Verify(ctx, login(t, f.iss, "bob").AccessToken); err != nil {
				t.Fatalf("token of the new kid: %v, want it verified after one refetch", err)
			}
			if n := f.srv.hits.Load() - fetches; n != 1 {
				t.Errorf("%d fetches for the new kid, want 1", n)
			}
			// The refetch renewed the cache: no refresh is due before it
			// expires in turn.
			f.clock.Advance(DefaultMinCacheTTL - time.Second)
			if _, err := f.v.Verify(ctx, login(t, f.iss, "carol").AccessToken); err != nil {
				t.Fatal(err)
			}
			if n := f.srv.hits.Load() - fetches; n != 1 {
				t.Errorf("%d fetches until the refetched set expires, want 1", n)
			}
		})
	}
}

func TestJWKSFetchTimeout(t *testing.T) {
	t.Parallel()
	f := newRemoteFixture(t, ES256, func(c *VerifierConfig) { c.FetchTimeout = 50 * time.Millisecond })
	gate := make(chan struct{})
	f.srv.setGate(gate)
	t.Cleanup(func() { close(gate) })
	start := time.Now()
	_, err := f.v.Verify(context.Background(), login(t, f.iss, "alice").AccessToken)
	if !errors.Is(err, ErrKeysUnavailable) {
		t.Errorf("hanging JWKS endpoint: %v, want ErrKeysUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Verify took %v with a 50ms fetch timeout", d)
	}
}

func TestJWKSFailedFetchKeepsLastGoodSet(t *testing.T) {
	t.Parallel()
	f := newRemoteFixture(t, RS256, nil)
	ctx := context.Background()
	tok := login(t, f.iss, "alice").AccessToken
	if _, err := f.v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	f.srv.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusBadGateway) }))
	f.clock.Advance(DefaultMinCacheTTL)
	if _, err := f.v.Verify(ctx, tok); err != nil {
		t.Errorf("with the JWKS endpoint down: %v, want the last good set to verify", err)
	}
	if n := f.srv.hits.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
	if !strings.Contains(f.log.String(), "JWKS fetch failed") || !strings.Contains(f.log.String(), "502") {
		t.Errorf("no log line for the failed fetch:\n%s", f.log.String())
	}
	// Within the interval the failing endpoint is not asked again.
	f.clock.Advance(DefaultRefetchInterval / 2)
	if _, err := f.v.Verify(ctx, tok); err != nil {
		t.Error(err)
	}
	if n := f.srv.hits.Load(); n != 2 {
		t.Errorf("%d fetches within the interval after a failure, want 2", n)
	}
	// Back up: the next attempt after the interval succeeds.
	f.srv.set(f.keys)
	f.clock.Advance(DefaultRefetchInterval / 2)
	if _, err := f.v.Verify(ctx, tok); err != nil {
		t.Error(err)
	}
	if n := f.srv.hits.Load(); n != 3 {
		t.Errorf("%d fetches, want 3", n)
	}
}

func TestJWKSFirstFetchFailing(t *testing.T) {
	t.Parallel()
	good := func(t *testing.T, ks *KeySet) []byte { return jwksBody(t, ks) }
	cases := []struct {
		name string
		h    func(t *testing.T, ks *KeySet) http.Handler
		log  string
	}{
		{"HTTP 500", func(*testing.T, *KeySet) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "x", 500) })
		}, "answered 500"},
		{"not JSON", func(*testing.T, *KeySet) http.Handler { return staticJWKS([]byte("<html>"), "") }, "not a valid JWK Set: not a JSON object"},
		{"no keys member", func(*testing.T, *KeySet) http.Handler { return staticJWKS([]byte(`{"kees":[]}`), "") }, `no \"keys\"`},
		{"empty keys", func(*testing.T, *KeySet) http.Handler { return staticJWKS([]byte(`{"keys":[]}`), "") }, "none of the 0 keys"},
		{"over 1 MiB", func(t *testing.T, ks *KeySet) http.Handler {
			body := good(t, ks)
			pad := bytes.Repeat([]byte(" "), MaxJWKSSize)
			return staticJWKS(append(append(body[:len(body)-1:len(body)-1], pad...), '}'), "")
		}, "larger than"},
		{"redirect loop", func(*testing.T, *KeySet) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.Path, http.StatusFound) })
		}, "too many redirects"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newRemoteFixture(t, ES256, nil)
			f.srv.set(tc.h(t, f.keys))
			tok := login(t, f.iss, "alice").AccessToken
			_, err := f.v.Verify(context.Background(), tok)
			if !errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrInvalidToken) {
				t.Errorf("Verify: %v, want ErrKeysUnavailable only", err)
			}
			if !strings.Contains(f.log.String(), tc.log) {
				t.Errorf("log lacks %q:\n%s", tc.log, f.log.String())
			}
			// Retries are bounded while no set was ever fetched, and the
			// endpoint coming back ends the outage.
			f.srv.set(f.keys)
			if _, err := f.v.Verify(context.Background(), tok); !errors.Is(err, ErrKeysUnavailable) {
				t.Errorf("retry within a second: %v, want ErrKeysUnavailable without a fetch", err)
			}
			f.clock.Advance(time.Second)
			if _, err := f.v.Verify(context.Background(), tok); err != nil {
				t.Errorf("after the endpoint recovered: %v", err)
			}
		})
	}
}

// rawJWK is a key's JWK JSON with extra members set.
func rawJWK(t *testing.T, key any, kid string, extra map[string]any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, _ = json.Marshal(m)
	return b
}

// rsaSigned is an RS256 token signed by priv with the given kid (no key
// checks: for keys sessionkit would never accept).
func rsaSigned(t *testing.T, priv *rsa.PrivateKey, kid string, now time.Time) string {
	t.Helper()
	input := b64.EncodeToString(fmt.Appendf(nil, `{"alg":"RS256","kid":%q,"typ":"at+jwt"}`, kid)) + "." +
		b64.EncodeToString(fmt.Appendf(nil, `{"iss":%q,"sub":"x","aud":"api","exp":%d,"iat":%d,"jti":"j"}`, testIssuer, now.Add(time.Minute).Unix(), now.Unix()))
	d := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64.EncodeToString(sig)
}

func TestJWKSRefusesUnusableKeys(t *testing.T) {
	t.Parallel()
	f := newRemoteFixture(t, RS256, nil)
	now := f.clock.Now()
	rsaPriv := testKey(t, RS256, 1).priv.(*rsa.PrivateKey)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := testKey(t, RS256, 0)
	keys := []json.RawMessage{
		rawJWK(t, &rsaPriv.PublicKey, "enc", map[string]any{"use": "enc"}),
		rawJWK(t, &rsaPriv.PublicKey, "encrypt-only", map[string]any{"key_ops": []string{"encrypt"}}),
		rawJWK(t, &rsaPriv.PublicKey, "ps256", map[string]any{"alg": "PS256"}),
		rawJWK(t, rsaPriv, "private", nil),
		rawJWK(t, &small.PublicKey, "small", nil),
		rawJWK(t, &p384.PublicKey, "p384", nil),
		json.RawMessage(`{"kty":"oct","kid":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}`),
		json.RawMessage(`{"kty":"RSA","kid":"broken","n":"AQAB"}`),
		json.RawMessage(`{"kty":"XYZ","kid":"unknown-kty"}`),
		json.RawMessage(`"not an object"`),
		rawJWK(t, &rsaPriv.PublicKey, "", map[string]any{"kid": nil}),
		json.RawMessage(good.jwk),
		rawJWK(t, &rsaPriv.PublicKey, good.KeyID(), nil), // duplicate kid: the first wins
	}
	doc, _ := json.Marshal(map[string]any{"keys": keys})
	f.srv.set(staticJWKS(doc, ""))
	ctx := context.Background()
	if _, err := f.v.Verify(ctx, login(t, f.iss, "alice").AccessToken); err != nil {
		t.Fatalf("the good key of the set: %v", err)
	}
	for _, kid := range []string{"enc", "encrypt-only", "ps256", "private"} {
		if _, err := f.v.Verify(ctx, rsaSigned(t, rsaPriv, kid, now)); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("token of the %q key: %v, want ErrInvalidToken", kid, err)
		}
	}
	if _, err := f.v.Verify(ctx, rsaSigned(t, small, "small", now)); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("token of the 1024-bit key: %v, want ErrInvalidToken", err)
	}
	if _, err := f.v.Verify(ctx, rsaSigned(t, rsaPriv, good.KeyID(), now)); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("token of the duplicate-kid key: %v, want ErrInvalidToken", err)
	}
	log := f.log.String()
	for _, want := range []string{
		`use \"enc\" is not sig`, "key_ops does not include verify", "algorithm PS256 is not in the allow-list",
		"private key material", "at least 2048 are required", "algorithm ES384 is not in the allow-list", "symmetric (oct) key",
		"unsupported or malformed key (kty RSA)", "kty XYZ", "malformed JWK members", "no kid", "duplicate kid",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", log)
	}
}

func TestJWKSRotationAtTheIssuer(t *testing.T) {
	t.Parallel()
	f := newRemoteFixture(t, ES256, nil)
	var conditional atomic.Int64
	f.srv.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") != "" {
			conditional.Add(1)
		}
		f.keys.ServeHTTP(w, r)
	}))
	ctx := context.Background()
	old := testKey(t, ES256, 0)
	tok1 := login(t, f.iss, "alice").AccessToken
	if _, err := f.v.Verify(ctx, tok1); err != nil {
		t.Fatal(err)
	}
	// Unchanged JWKS after the cache expired: a conditional request, 304,
	// the same keys kept.
	f.clock.Advance(JWKSMaxAge)
	if _, err := f.v.Verify(ctx, tok1); err != nil {
		t.Fatal(err)
	}
	if f.srv.hits.Load() != 2 || conditional.Load() != 1 {
		t.Errorf("revalidation: %d fetches, %d conditional; want 2 and 1", f.srv.hits.Load(), conditional.Load())
	}

	// The issuer rotates: a token of the new kid verifies after one
	// refetch, without a restart.
	if err := f.keys.Rotate(testKey(t, ES256, 1)); err != nil {
		t.Fatal(err)
	}
	tok2 := login(t, f.iss, "bob").AccessToken
	f.clock.Advance(DefaultRefetchInterval)
	if _, err := f.v.Verify(ctx, tok2); err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
	if n := f.srv.hits.Load(); n != 3 {
		t.Errorf("%d fetches, want 3", n)
	}
	// The old key is retired: its tokens keep verifying from the cache
	// until it expires, then stop.
	if err := f.keys.Retire(old.KeyID()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.v.Verify(ctx, tok1); err != nil {
		t.Errorf("old token while the cache is fresh: %v", err)
	}
	f.clock.Advance(JWKSMaxAge)
	if _, err := f.v.Verify(ctx, tok1); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("token of the retired key after the cache expired: %v, want ErrInvalidToken", err)
	}
	if _, err := f.v.Verify(ctx, tok2); err != nil {
		t.Errorf("token of the current key: %v", err)
	}
}

func TestJWKSRedirectAwayFromHTTPSRefused(t *testing.T) {
	t.Parallel()
	keys := NewKeySet(testKey(t, EdDSA, 0))
	var plainHits atomic.Int64
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plainHits.Add(1)
		keys.ServeHTTP(w, r)
	}))
	t.Cleanup(plain.Close)
	tlsSrv := httptest.NewTLSServer(http.RedirectHandler(plain.URL+"/jwks", http.StatusFound))
	t.Cleanup(tlsSrv.Close)
	iss, clock := newTestIssuer(t, func(c *Config) { c.Keys = keys })
	v, err := NewVerifier(VerifierConfig{
		Issuer: testIssuer, JWKSURL: tlsSrv.URL + "/jwks", Audience: []string{testAudience},
		HTTPClient: tlsSrv.Client(), Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), login(t, iss, "alice").AccessToken); !errors.Is(err, ErrKeysUnavailable) {
		t.Errorf("https JWKS redirecting to http: %v, want ErrKeysUnavailable", err)
	}
	if plainHits.Load() != 0 {
		t.Errorf("the http target was fetched")
	}
}

// TestJWKSRedirectStaysOnTheOrigin: a JWKS fetch follows a redirect only
// to the scheme, host and port of JWKSURL. Two https servers are two
// origins; the client trusts both and reaches both under any host name
// (httptest's certificate is valid for example.com).
func TestJWKSRedirectStaysOnTheOrigin(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		to   func(front, other *url.URL) string // the redirect target
		log  string                             // why it is refused; "" when followed
	}{
		{"same origin, another path", func(front, _ *url.URL) string { return front.String() + "/jwks" }, ""},
		{"another port", func(_, other *url.URL) string { return other.String() + "/jwks" }, "another origin refused"},
		{"another host name, same port", func(front, _ *url.URL) string { return "https://example.com:" + front.Port() + "/jwks" }, "another origin refused"},
		{"http on the same host and port", func(front, _ *url.URL) string { return "http://" + front.Host + "/jwks" }, "away from https refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			keys := NewKeySet(testKey(t, EdDSA, 0))
			var hits atomic.Int64 // JWKS requests on either server
			mux := http.NewServeMux()
			mux.Handle("/jwks", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				keys.ServeHTTP(w, r)
			}))
			other := httptest.NewTLSServer(mux)
			t.Cleanup(other.Close)
			front := httptest.NewTLSServer(mux)
			t.Cleanup(front.Close)
			frontURL, _ := url.Parse(front.URL)
			otherURL, _ := url.Parse(other.URL)
			mux.Handle("/start", http.RedirectHandler(tc.to(frontURL, otherURL), http.StatusFound))
			client := front.Client()
			tr := client.Transport.(*http.Transport).Clone()
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				_, port, _ := net.SplitHostPort(addr)
				return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
			}
			client.Transport = tr
			log := &lockedBuffer{}
			iss, clock := newTestIssuer(t, func(c *Config) { c.Keys = keys })
			v, err := NewVerifier(VerifierConfig{
				Issuer: testIssuer, JWKSURL: front.URL + "/start", Audience: []string{testAudience},
				HTTPClient: client, Now: clock.Now, Logger: newTestLogger(log),
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(context.Background(), login(t, iss, "alice").AccessToken)
			switch {
			case tc.log == "" && (err != nil || hits.Load() != 1):
				t.Errorf("same-origin redirect: %v (%d JWKS requests)", err, hits.Load())
			case tc.log != "" && (!errors.Is(err, ErrKeysUnavailable) || hits.Load() != 0):
				t.Errorf("redirect: %v (%d JWKS requests), want ErrKeysUnavailable and none", err, hits.Load())
			case !strings.Contains(log.String(), tc.log):
				t.Errorf("log lacks %q:\n%s", tc.log, log.String())
			}
		})
	}
}

// TestMiddlewareOverVerifier: the middleware in front of a Verifier answers
// 503 while no keys can be fetched, never 200 or 401, and serves again once
// the JWKS is back.
func TestMiddlewareOverVerifier(t *testing.T) {
	t.Parallel()
	f := newRemoteFixture(t, RS256, nil)
	f.srv.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusInternalServerError) }))
	var ran atomic.Int64
	h := Middleware(f.v, MiddlewareOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran.Add(1) }))
	tok := login(t, f.iss, "alice").AccessToken
	do := func(token string) int {
		r := httptest.NewRequest("GET", "/api", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if got := do(tok); got != http.StatusServiceUnavailable || ran.Load() != 0 {
		t.Errorf("JWKS down: %d (handler ran %d times), want 503", got, ran.Load())
	}
	f.srv.set(f.keys)
	f.clock.Advance(time.Second)
	if got := do(tok); got != http.StatusOK || ran.Load() != 1 {
		t.Errorf("JWKS back: %d, want 200", got)
	}
	if got := do(flipLastBits(tok)); got != http.StatusUnauthorized || ran.Load() != 1 {
		t.Errorf("tampered token: %d, want 401", got)
	}
}
