package sessionkit

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store/memstore"
)

// jwksServer serves a JWKS on 127.0.0.1 and counts the requests. Its
// handler can be swapped (to fail, to serve a crafted document) and gated
// (to hold requests until the test releases them).
type jwksServer struct {
	*httptest.Server
	hits    atomic.Int64
	mu      sync.Mutex
	handler http.Handler
	gate    chan struct{} // when non-nil, requests wait for it to close
	arrived chan struct{} // receives one value per gated request
}

func newJWKSServer(t *testing.T, h http.Handler) *jwksServer {
	t.Helper()
	return startJWKSServer(t, h, httptest.NewServer)
}

// startJWKSServer is newJWKSServer with the server started by start
// (httptest.NewServer, or httptest.NewTLSServer for https).
func startJWKSServer(t *testing.T, h http.Handler, start func(http.Handler) *httptest.Server) *jwksServer {
	t.Helper()
	s := &jwksServer{handler: h, arrived: make(chan struct{}, 1024)}
	s.Server = start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		h, gate := s.handler, s.gate
		s.mu.Unlock()
		if gate != nil {
			s.arrived <- struct{}{}
			<-gate
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(h http.Handler) {
	s.mu.Lock()
	s.handler = h
	s.mu.Unlock()
}

func (s *jwksServer) setGate(g chan struct{}) {
	s.mu.Lock()
	s.gate = g
	s.mu.Unlock()
}

// hold makes requests wait until release is called, at the latest when
// the test ends; release may be called more than once.
func (s *jwksServer) hold(t *testing.T) (release func()) {
	gate := make(chan struct{})
	s.setGate(gate)
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return release
}

// goVerify starts n concurrent Verify calls of tok and returns, once all
// have started, the channel their errors arrive on.
func goVerify(v *Verifier, tok string, n int) <-chan error {
	errs := make(chan error, n)
	var started sync.WaitGroup
	started.Add(n)
	for range n {
		go func() {
			started.Done()
			_, err := v.Verify(context.Background(), tok)
			errs <- err
		}()
	}
	started.Wait()
	return errs
}

// staticJWKS serves body with the given Cache-Control.
func staticJWKS(body []byte, cacheControl string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if cacheControl != "" {
			w.Header().Set("Cache-Control", cacheControl)
		}
		_, _ = w.Write(body)
	})
}

// lockedBuffer is a bytes.Buffer safe for concurrent loggers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// remoteFixture is an Issuer whose KeySet is served over HTTP and a
// Verifier reading it, on one test clock.
type remoteFixture struct {
	iss   *Issuer
	keys  *KeySet
	clock *testClock
	srv   *jwksServer
	v     *Verifier
	log   *lockedBuffer
}

func newRemoteFixture(t *testing.T, alg Algorithm, mod func(*VerifierConfig)) *remoteFixture {
	t.Helper()
	f := &remoteFixture{keys: NewKeySet(testKey(t, alg, 0)), log: &lockedBuffer{}}
	f.iss, f.clock = newTestIssuer(t, func(c *Config) {
		c.Keys = f.keys
		c.SkipRevocationCheck = true
	})
	f.srv = newJWKSServer(t, f.keys)
	cfg := VerifierConfig{
		Issuer:            testIssuer,
		JWKSURL:           f.srv.URL + "/.well-known/jwks.json",
		Audience:          []string{testAudience},
		InsecureAllowHTTP: true,
		Now:               f.clock.Now,
		Logger:            newTestLogger(f.log),
	}
	f.v = newTestVerifier(t, cfg, mod)
	return f
}

// newTestVerifier is NewVerifier of cfg changed by mod (when not nil); an
// error fails the test.
func newTestVerifier(t *testing.T, cfg VerifierConfig, mod func(*VerifierConfig)) *Verifier {
	t.Helper()
	if mod != nil {
		mod(&cfg)
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func TestVerifierMatchesIssuerVerify(t *testing.T) {
	t.Parallel()
	for _, alg := range keyAlgs {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			f := newRemoteFixture(t, alg, nil)
			toks := login(t, f.iss, "alice")
			ctx := context.Background()
			want, err := f.iss.Verify(ctx, toks.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.v.Verify(ctx, toks.AccessToken)
			if err != nil {
				t.Fatalf("Verifier.Verify: %v", err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("claims differ:\nverifier %+v\nissuer   %+v", got, want)
			}
			// Tampered, wrong audience, expired: refused with the issuer's errors.
			if _, err := f.v.Verify(ctx, flipLastBits(toks.AccessToken)); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("tampered: %v, want ErrInvalidToken", err)
			}
			f.clock.Advance(DefaultAccessTTL + DefaultLeeway)
			if _, err := f.v.Verify(ctx, toks.AccessToken); !errors.Is(err, ErrTokenExpired) {
				t.Errorf("expired: %v, want ErrTokenExpired", err)
			}
			// One fetch at first use, one when the 5-minute cache expired.
			if n := f.srv.hits.Load(); n != 2 {
				t.Errorf("%d JWKS fetches, want 2", n)
			}
		})
	}
}

func TestVerifierClaimRules(t *testing.T) {
	t.Parallel()
	f := newRemoteFixture(t, ES256, func(c *VerifierConfig) { c.Audience = []string{"other-api"} })
	toks := login(t, f.iss, "alice")
	if _, err := f.v.Verify(context.Background(), toks.AccessToken); !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "audience") {
		t.Errorf("wrong audience: %v", err)
	}
	g := newRemoteFixture(t, ES256, func(c *VerifierConfig) { c.Issuer = "https://someone-else.example" })
	toks = login(t, g.iss, "alice")
	if _, err := g.v.Verify(context.Background(), toks.AccessToken); !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "issuer") {
		t.Errorf("wrong issuer: %v", err)
	}
	// An algorithm outside the allow-list is refused before any key lookup.
	h := newRemoteFixture(t, EdDSA, func(c *VerifierConfig) { c.Algorithms = []Algorithm{RS256} })
	toks = login(t, h.iss, "alice")
	if _, err := h.v.Verify(context.Background(), toks.AccessToken); !errors.Is(err, ErrKeysUnavailable) {
		// The JWKS holds only an EdDSA key, which the RS256-only list drops:
		// no usable key at all.
		t.Errorf("EdDSA key with an RS256-only list: %v, want ErrKeysUnavailable", err)
	}
}

func TestNewVerifierValidates(t *testing.T) {
	t.Parallel()
	secret := bytes.Repeat([]byte{7}, 32)
	base := func() VerifierConfig {
		return VerifierConfig{Issuer: testIssuer, JWKSURL: "https://auth.example.com/jwks", Audience: []string{"api"}}
	}
	if _, err := NewVerifier(base()); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	cases := []struct {
		name string
		mod  func(*VerifierConfig)
		want string
	}{
		{"no issuer", func(c *VerifierConfig) { c.Issuer = "" }, "required"},
		{"no JWKS URL, an issuer that is no URL", func(c *VerifierConfig) { c.Issuer, c.JWKSURL = "auth.example.com", "" }, "no discovery"},
		{"no JWKS URL, an http issuer", func(c *VerifierConfig) { c.Issuer, c.JWKSURL = "http://auth.example.com", "" }, "Issuer must be https"},
		{"no JWKS URL, an issuer with a query", func(c *VerifierConfig) { c.Issuer, c.JWKSURL = "https://auth.example.com/?t=1", "" }, "query or fragment"},
		{"no JWKS URL, an issuer with a fragment", func(c *VerifierConfig) { c.Issuer, c.JWKSURL = "https://auth.example.com/#t", "" }, "query or fragment"},
		{"no JWKS URL, an issuer with user info", func(c *VerifierConfig) { c.Issuer, c.JWKSURL = "https://u@auth.example.com", "" }, "user info"},
		{"both forms", func(c *VerifierConfig) { c.Issuers = []TrustedIssuer{{Issuer: "x", JWKSURL: "https://x/j"}} }, "not both"},
		{"no audience", func(c *VerifierConfig) { c.Audience = nil }, "Audience"},
		{"empty audience", func(c *VerifierConfig) { c.Audience = []string{""} }, "Audience"},
		{"http URL", func(c *VerifierConfig) { c.JWKSURL = "http://auth.example.com/jwks" }, "https"},
		{"ftp URL", func(c *VerifierConfig) { c.JWKSURL = "ftp://auth.example.com/jwks" }, "https"},
		{"relative URL", func(c *VerifierConfig) { c.JWKSURL = "/jwks" }, "https"},
		{"user info", func(c *VerifierConfig) { c.JWKSURL = "https://u:p@auth.example.com/jwks" }, "user info"},
		{"leeway too large", func(c *VerifierConfig) { c.Leeway = MaxLeeway + time.Second }, "Leeway"},
		{"none algorithm", func(c *VerifierConfig) { c.Algorithms = []Algorithm{"none"} }, "unsupported algorithm"},
		{"PS257 (no such algorithm)", func(c *VerifierConfig) { c.Algorithms = []Algorithm{"PS257"} }, "unsupported algorithm"},
		{"rs256 (algorithm names are exact)", func(c *VerifierConfig) { c.Algorithms = []Algorithm{"rs256"} }, "unsupported algorithm"},
		{"min over max TTL", func(c *VerifierConfig) { c.MinCacheTTL = 2 * time.Hour; c.MaxCacheTTL = time.Hour }, "exceeds"},
		{"negative TTL", func(c *VerifierConfig) { c.MinCacheTTL = -1 }, "negative"},
		{"tiny MaxTokenSize", func(c *VerifierConfig) { c.MaxTokenSize = 10 }, "too small"},
		{"negative MaxTokenAge", func(c *VerifierConfig) { c.MaxTokenAge = -time.Minute }, "MaxTokenAge"},
		{"MaxTokenSize over the limit", func(c *VerifierConfig) { c.MaxTokenSize = MaxTokenSizeLimit + 1 }, "MaxTokenSizeLimit"},
		{"duplicate issuer", func(c *VerifierConfig) {
			c.Issuer, c.JWKSURL = "", ""
			c.Issuers = []TrustedIssuer{{Issuer: "a", JWKSURL: "https://a/j"}, {Issuer: "a", JWKSURL: "https://b/j"}}
		}, "twice"},
		{"issuer without keys", func(c *VerifierConfig) {
			c.Issuer, c.JWKSURL = "", ""
			c.Issuers = []TrustedIssuer{{Issuer: "a"}}
		}, "no keys"},
		{"URL and KeySet", func(c *VerifierConfig) {
			c.Issuer, c.JWKSURL = "", ""
			c.Issuers = []TrustedIssuer{{Issuer: "a", JWKSURL: "https://a/j", Keys: NewKeySet(nil)}}
		}, "not both"},
		{"HMAC secret not in Algorithms", func(c *VerifierConfig) {
			c.Issuer, c.JWKSURL = "", ""
			c.Issuers = []TrustedIssuer{{Issuer: "a", HMACKeys: []HMACKey{{KeyID: "h", Algorithm: HS256, Secret: secret}}}}
		}, "not in Algorithms"},
		{"HMAC secret too short", func(c *VerifierConfig) {
			c.Issuer, c.JWKSURL = "", ""
			c.Algorithms = []Algorithm{HS256}
			c.Issuers = []TrustedIssuer{{Issuer: "a", HMACKeys: []HMACKey{{KeyID: "h", Algorithm: HS256, Secret: secret[:31]}}}}
		}, "at least 32 bytes"},
		{"HS512 secret of 32 bytes", func(c *VerifierConfig) {
			c.Issuer, c.JWKSURL = "", ""
			c.Algorithms = []Algorithm{HS512}
			c.Issuers = []TrustedIssuer{{Issuer: "a", HMACKeys: []HMACKey{{KeyID: "h", Algorithm: HS512, Secret: secret}}}}
		}, "at least 64 bytes"},
		{"HMAC key with an RSA algorithm", func(c *VerifierConfig) {
			c.Issuer, c.JWKSURL = "", ""
			c.Issuers = []TrustedIssuer{{Issuer: "a", HMACKeys: []HMACKey{{KeyID: "h", Algorithm: RS256, Secret: secret}}}}
		}, "not HS256"},
		{"HS256 allowed without any HMAC key", func(c *VerifierConfig) { c.Algorithms = []Algorithm{RS256, HS256} }, "no issuer has an HMACKeys entry"},
		{"two legacy issuers on one store", func(c *VerifierConfig) {
			c.Issuer, c.JWKSURL = "", ""
			c.Store = memstore.New()
			c.Issuers = []TrustedIssuer{
				{Issuer: "a", JWKSURL: "https://a/j", LegacyUnscopedStore: true},
				{Issuer: "b", JWKSURL: "https://b/j", LegacyUnscopedStore: true},
			}
		}, "both set LegacyUnscopedStore"},
		{"issuer with a control character", func(c *VerifierConfig) { c.Issuer = "https://a\x1f" }, "control characters"},
		{"HMAC key without kid", func(c *VerifierConfig) {
			c.Issuer, c.JWKSURL = "", ""
			c.Algorithms = []Algorithm{HS256}
			c.Issuers = []TrustedIssuer{{Issuer: "a", HMACKeys: []HMACKey{{Algorithm: HS256, Secret: secret}}}}
		}, "KeyID"},
		{"HMAC kid of a key of Keys", func(c *VerifierConfig) {
			c.Issuer, c.JWKSURL = "", ""
			c.Algorithms = []Algorithm{RS256, HS256}
			k := testKey(t, RS256, 0)
			c.Issuers = []TrustedIssuer{{Issuer: "a", Keys: NewKeySet(k), HMACKeys: []HMACKey{{KeyID: k.KeyID(), Algorithm: HS256, Secret: secret}}}}
		}, "also the kid of a key of Keys"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := base()
			tc.mod(&cfg)
			_, err := NewVerifier(cfg)
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewVerifier: %v, want ErrInvalidConfig mentioning %q", err, tc.want)
			}
		})
	}
}

// hsClaims is a valid claims set of issuer iss at now.
func hsClaims(iss string, now time.Time) string {
	return fmt.Sprintf(`{"iss":%q,"sub":"svc","aud":"api","exp":%d,"iat":%d,"jti":"j1"}`, iss, now.Add(time.Minute).Unix(), now.Unix())
}

func TestVerifierHMAC(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	secret := bytes.Repeat([]byte("s"), 32)
	rsaKey := testKey(t, RS256, 0)
	keys := NewKeySet(rsaKey)
	v, err := NewVerifier(VerifierConfig{
		Issuers: []TrustedIssuer{
			{Issuer: "https://hs.example", HMACKeys: []HMACKey{{KeyID: "h1", Algorithm: HS256, Secret: secret}}},
			{Issuer: "https://rs.example", Keys: keys},
		},
		Audience:   []string{"api"},
		Algorithms: []Algorithm{RS256, HS256},
		Now:        clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509MarshalPKIX(rsaKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := clock.Now()
	hdr := func(alg, kid string) string { return fmt.Sprintf(`{"alg":%q,"kid":%q,"typ":"at+jwt"}`, alg, kid) }
	cases := []struct {
		name  string
		token string
		ok    bool
	}{
		{"HS256 with the configured secret", hsToken("HS256", hdr("HS256", "h1"), hsClaims("https://hs.example", now), secret), true},
		{"HS256 with another secret", hsToken("HS256", hdr("HS256", "h1"), hsClaims("https://hs.example", now), bytes.Repeat([]byte("x"), 32)), false},
		{"HS384 with the HS256 key", hsToken("HS384", hdr("HS384", "h1"), hsClaims("https://hs.example", now), secret), false},
		{"HS512 with the HS256 key", hsToken("HS512", hdr("HS512", "h1"), hsClaims("https://hs.example", now), secret), false},
		{"HS256 key named by an RS256 issuer", hsToken("HS256", hdr("HS256", "h1"), hsClaims("https://rs.example", now), secret), false},
		{"alg confusion: HS256 keyed by the RSA public key", hsToken("HS256", hdr("HS256", rsaKey.KeyID()), hsClaims("https://rs.example", now), der), false},
		{"alg confusion with the PEM of the public key", hsToken("HS256", hdr("HS256", rsaKey.KeyID()), hsClaims("https://rs.example", now), pemPublic(der)), false},
		{"RS256 token of the RSA issuer", craft(t, rsaKey, hdr("RS256", rsaKey.KeyID()), hsClaims("https://rs.example", now)), true},
		{"RS256 token claiming the HMAC issuer", craft(t, rsaKey, hdr("RS256", rsaKey.KeyID()), hsClaims("https://hs.example", now)), false},
		{"untrusted issuer", craft(t, rsaKey, hdr("RS256", rsaKey.KeyID()), hsClaims("https://evil.example", now)), false},
		{"alg none", b64.EncodeToString([]byte(`{"alg":"none","kid":"h1","typ":"at+jwt"}`)) + "." + b64.EncodeToString([]byte(hsClaims("https://hs.example", now))) + ".", false},
	}
	for _, tc := range cases {
		c, err := v.Verify(ctx, tc.token)
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case !tc.ok && err == nil:
			t.Errorf("%s: accepted (sub %q)", tc.name, c.Subject)
		case !tc.ok && !errors.Is(err, ErrInvalidToken):
			t.Errorf("%s: %v, want ErrInvalidToken", tc.name, err)
		}
	}

	// A Verifier that only reads a JWKS never accepts HS256, even when the
	// JWKS carries an oct key with that kid.
	oct, _ := json.Marshal(map[string]any{"keys": []any{
		map[string]any{"kty": "oct", "kid": "h1", "alg": "HS256", "k": b64.EncodeToString(secret)},
		json.RawMessage(rsaKey.jwk),
	}})
	f := newRemoteFixture(t, RS256, func(c *VerifierConfig) {
		// HS256 is allowed, with a configured secret for another kid.
		c.Algorithms = []Algorithm{RS256, HS256}
		c.Issuers = []TrustedIssuer{{Issuer: c.Issuer, JWKSURL: c.JWKSURL,
			HMACKeys: []HMACKey{{KeyID: "configured", Algorithm: HS256, Secret: bytes.Repeat([]byte("c"), 32)}}}}
		c.Issuer, c.JWKSURL = "", ""
	})
	f.srv.set(staticJWKS(oct, ""))
	tok := hsToken("HS256", hdr("HS256", "h1"), hsClaims(testIssuer, f.clock.Now()), secret)
	if _, err := f.v.Verify(ctx, tok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("HS256 token against a JWKS oct key: %v, want ErrInvalidToken", err)
	}
	if !strings.Contains(f.log.String(), "symmetric (oct) key") {
		t.Errorf("no log line for the refused oct key:\n%s", f.log.String())
	}
}

// TestVerifierHMACKIDConflict: a kid an HMAC key shares with an asymmetric
// key of its issuer that appears after NewVerifier (a key the KeySet
// publishes, or the JWKS carries) verifies with neither key, and an
// Error-level record names the issuer and the kid. (NewVerifier refuses the
// conflicts it can see: TestNewVerifierValidates.)
func TestVerifierHMACKIDConflict(t *testing.T) {
	t.Parallel()
	secret := bytes.Repeat([]byte("s"), 32)
	other := testKey(t, RS256, 0)  // verifies throughout
	shared := testKey(t, RS256, 1) // published later; the HMAC key has its kid
	hmacKeys := []HMACKey{{KeyID: shared.KeyID(), Algorithm: HS256, Secret: secret}}
	hdr := func(alg, kid string) string { return fmt.Sprintf(`{"alg":%q,"kid":%q,"typ":"at+jwt"}`, alg, kid) }
	for _, src := range []struct {
		name   string
		remote bool
	}{{"local KeySet", false}, {"remote JWKS", true}} {
		t.Run(src.name, func(t *testing.T) {
			t.Parallel()
			var (
				keys  *KeySet
				v     *Verifier
				clock *testClock
				log   *lockedBuffer
			)
			if src.remote {
				f := newRemoteFixture(t, RS256, func(c *VerifierConfig) {
					c.Algorithms = []Algorithm{RS256, HS256}
					c.Issuers = []TrustedIssuer{{Issuer: c.Issuer, JWKSURL: c.JWKSURL, HMACKeys: hmacKeys}}
					c.Issuer, c.JWKSURL = "", ""
				})
				keys, v, clock, log = f.keys, f.v, f.clock, f.log
			} else {
				keys, clock, log = NewKeySet(other), newTestClock(), &lockedBuffer{}
				var err error
				v, err = NewVerifier(VerifierConfig{
					Issuers:    []TrustedIssuer{{Issuer: testIssuer, Keys: keys, HMACKeys: hmacKeys}},
					Audience:   []string{testAudience},
					Algorithms: []Algorithm{RS256, HS256},
					Logger:     newTestLogger(log),
					Now:        clock.Now,
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			ctx := context.Background()
			verifies := func(tok string) error { _, err := v.Verify(ctx, tok); return err }
			hsTok := func() string {
				return hsToken("HS256", hdr("HS256", shared.KeyID()), hsClaims(testIssuer, clock.Now()), secret)
			}
			rsTok := func(k *SigningKey) string {
				return craft(t, k, hdr("RS256", k.KeyID()), hsClaims(testIssuer, clock.Now()))
			}
			if err := verifies(hsTok()); err != nil {
				t.Fatalf("HS256 token before the conflict: %v", err)
			}
			if err := keys.Publish(shared); err != nil {
				t.Fatal(err)
			}
			clock.Advance(DefaultMinCacheTTL) // the cached JWKS expires
			for _, tc := range []struct {
				what  string
				token string
				ok    bool
			}{
				{"RS256 token of the key with the shared kid", rsTok(shared), false},
				{"HS256 token with the shared kid", hsTok(), false},
				{"RS256 token of another key", rsTok(other), true},
			} {
				switch err := verifies(tc.token); {
				case tc.ok && err != nil:
					t.Errorf("%s: %v", tc.what, err)
				case !tc.ok && !errors.Is(err, ErrInvalidToken):
					t.Errorf("%s: %v, want ErrInvalidToken", tc.what, err)
				}
			}
			out := log.String()
			if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "share a kid") ||
				!strings.Contains(out, "issuer="+testIssuer) || !strings.Contains(out, "kid="+shared.KeyID()) {
				t.Errorf("no Error record naming the issuer and the kid:\n%s", out)
			}
			if strings.Contains(out, string(secret)) || strings.Contains(out, b64.EncodeToString(secret)) {
				t.Errorf("the log shows the secret:\n%s", out)
			}
		})
	}
}

// TestVerifierMaxTokenAge: with MaxTokenAge set, a token's lifetime and age
// are bounded whatever its exp says; without it, only exp counts.
func TestVerifierMaxTokenAge(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	secret := bytes.Repeat([]byte("s"), 32)
	verifier := func(maxAge time.Duration) *Verifier {
		v, err := NewVerifier(VerifierConfig{
			Issuers:     []TrustedIssuer{{Issuer: "https://hs.example", HMACKeys: []HMACKey{{KeyID: "h1", Algorithm: HS256, Secret: secret}}}},
			Audience:    []string{"api"},
			Algorithms:  []Algorithm{HS256},
			MaxTokenAge: maxAge,
			Now:         clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	bounded, unbounded := verifier(10*time.Minute), verifier(0)
	now := clock.Now()
	token := func(iat, exp time.Duration, withIat bool) string {
		claims := fmt.Sprintf(`{"iss":"https://hs.example","sub":"svc","aud":"api","exp":%d,"jti":"j1"`, now.Add(exp).Unix())
		if withIat {
			claims += fmt.Sprintf(`,"iat":%d`, now.Add(iat).Unix())
		}
		return hsToken("HS256", `{"alg":"HS256","kid":"h1","typ":"at+jwt"}`, claims+"}", secret)
	}
	cases := []struct {
		name      string
		token     string
		bounded   error // want from the bounded Verifier; nil: accepted
		unbounded error
	}{
		{"lifetime of MaxTokenAge", token(0, 10*time.Minute, true), nil, nil},
		{"lifetime a second over MaxTokenAge", token(0, 10*time.Minute+time.Second, true), ErrInvalidToken, nil},
		{"a day-long token issued an hour ago", token(-time.Hour, 23*time.Hour, true), ErrInvalidToken, nil},
		{"issued longer ago than MaxTokenAge and the leeway", token(-11*time.Minute, -time.Minute, true), ErrTokenExpired, ErrTokenExpired},
		{"without iat", token(0, time.Minute, false), ErrInvalidToken, ErrInvalidToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, v := range []struct {
				name string
				v    *Verifier
				want error
			}{{"bounded", bounded, tc.bounded}, {"unbounded", unbounded, tc.unbounded}} {
				_, err := v.v.Verify(context.Background(), tc.token)
				switch {
				case v.want == nil && err != nil:
					t.Errorf("%s: %v", v.name, err)
				case v.want != nil && !errors.Is(err, v.want):
					t.Errorf("%s: %v, want %v", v.name, err, v.want)
				case errors.Is(v.want, ErrInvalidToken) && errors.Is(err, ErrTokenExpired):
					t.Errorf("%s: %v, want no ErrTokenExpired (refreshing does not help)", v.name, err)
				}
			}
		})
	}
	if _, err := bounded.Verify(context.Background(), cases[3].token); err == nil || !strings.Contains(err.Error(), "MaxTokenAge") {
		t.Errorf("a token too old: %v, want the reason MaxTokenAge", err)
	}
}

func x509MarshalPKIX(pub crypto.PublicKey) ([]byte, error) { return x509.MarshalPKIXPublicKey(pub) }

func pemPublic(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestVerifierMultipleIssuers(t *testing.T) {
	t.Parallel()
	a := newRemoteFixture(t, RS256, nil)
	// Issuer B lives in this process: a local KeySet.
	bKeys := NewKeySet(testKey(t, EdDSA, 1))
	b, _ := newTestIssuer(t, func(c *Config) {
		c.Issuer = "https://b.example"
		c.Keys = bKeys
		c.SkipRevocationCheck = true
	})
	v, err := NewVerifier(VerifierConfig{
		Issuers: []TrustedIssuer{
			{Issuer: testIssuer, JWKSURL: a.srv.URL + "/jwks"},
			{Issuer: "https://b.example", Keys: bKeys},
		},
		Audience:          []string{testAudience},
		InsecureAllowHTTP: true,
		Now:               a.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ta, tb := login(t, a.iss, "alice"), login(t, b, "bob")
	if c, err := v.Verify(ctx, ta.AccessToken); err != nil || c.Issuer != testIssuer {
		t.Errorf("issuer A token: %v %v", c, err)
	}
	if c, err := v.Verify(ctx, tb.AccessToken); err != nil || c.Issuer != "https://b.example" {
		t.Errorf("issuer B token: %v %v", c, err)
	}
	// B's key signing a token that claims to be A's: A's keys do not have it.
	now := a.clock.Now()
	forged := craft(t, testKey(t, EdDSA, 1), fmt.Sprintf(`{"alg":"EdDSA","kid":%q,"typ":"at+jwt"}`, testKey(t, EdDSA, 1).KeyID()),
		fmt.Sprintf(`{"iss":%q,"sub":"alice","aud":"api","exp":%d,"iat":%d,"jti":"x"}`, testIssuer, now.Add(time.Minute).Unix(), now.Unix()))
	if _, err := v.Verify(ctx, forged); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("token of B's key claiming A: %v", err)
	}
	// B rotates locally: the Verifier follows at once, no fetch involved.
	if err := bKeys.Rotate(testKey(t, EdDSA, 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, login(t, b, "bob").AccessToken); err != nil {
		t.Errorf("token of B's new key: %v", err)
	}
	for _, bad := range []string{"", "a.b", "a.%%%.c", "x." + b64.EncodeToString([]byte(`{"sub":"x"}`)) + ".y", strings.Repeat("a", DefaultMaxTokenSize+1)} {
		if _, err := v.Verify(ctx, bad); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("Verify(%.20q): %v, want ErrInvalidToken", bad, err)
		}
	}
}

func TestVerifierWithStoreSeesRevocations(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	t.Cleanup(func() { _ = mem.Close() })
	st := &failingStore{Store: mem}
	f := newRemoteFixture(t, ES256, func(c *VerifierConfig) { c.Store = st })
	// The fixture's issuer used its own store; use one sharing st.
	iss, _ := newTestIssuer(t, func(c *Config) { c.Keys = f.keys; c.Store = st; c.Now = f.clock.Now })
	ctx := context.Background()
	t1, t2 := login(t, iss, "alice"), login(t, iss, "alice")
	for _, tok := range []*Tokens{t1, t2} {
		if _, err := f.v.Verify(ctx, tok.AccessToken); err != nil {
			t.Fatalf("before revocation: %v", err)
		}
	}
	if err := iss.RevokeAccessToken(ctx, t1.AccessToken); err != nil {
		t.Fatal(err)
	}
	if _, err := f.v.Verify(ctx, t1.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("revoked token: %v, want ErrTokenRevoked", err)
	}
	if _, err := f.v.Verify(ctx, t2.AccessToken); err != nil {
		t.Errorf("other token after revoking one: %v", err)
	}
	if err := iss.LogoutAll(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.v.Verify(ctx, t2.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("after LogoutAll: %v, want ErrTokenRevoked", err)
	}
	// A store outage fails closed.
	t3 := login(t, iss, "bob")
	st.down.Store(true)
	if _, err := f.v.Verify(ctx, t3.AccessToken); !errors.Is(err, ErrStoreUnavailable) {
		t.Errorf("store down: %v, want ErrStoreUnavailable", err)
	}
}
