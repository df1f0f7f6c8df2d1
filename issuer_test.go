package sessionkit

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// testEpoch is the fixed start of every test clock.
var testEpoch = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// testClock is a settable clock for Config.Now; tests never sleep.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: testEpoch} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const (
	testIssuer   = "https://auth.example.com"
	testAudience = "api"
)

// newTestIssuer builds an Issuer on a fresh memstore with a fixed clock and
// the first cached RS256 key (or the key alg given through cfg.Keys).
func newTestIssuer(t testing.TB, mod func(*Config)) (*Issuer, *testClock) {
	t.Helper()
	clock := newTestClock()
	cfg := Config{
		Issuer:   testIssuer,
		Audience: []string{testAudience},
		Keys:     NewKeySet(testKey(t, RS256, 0)),
		Store:    memstore.New(),
		Now:      clock.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	iss, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return iss, clock
}

func login(t testing.TB, iss *Issuer, subject string) *Tokens {
	t.Helper()
	toks, err := iss.Login(context.Background(), Grant{Subject: subject, Scope: "read write",
		Device: Device{UserAgent: "test-agent/1.0", IP: "192.0.2.1"}})
	if err != nil {
		t.Fatalf("Login(%q): %v", subject, err)
	}
	return toks
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	keys := NewKeySet(testKey(t, RS256, 0))
	st := memstore.New()
	base := func() Config {
		return Config{Issuer: testIssuer, Audience: []string{testAudience}, Keys: keys, Store: st}
	}
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"missing issuer", func(c *Config) { c.Issuer = "" }},
		{"issuer with spaces", func(c *Config) { c.Issuer = " https://x " }},
		{"issuer with a control character (it would break store scoping)", func(c *Config) { c.Issuer = "https://a\x1fu\x1fx" }},
		{"issuer with NUL", func(c *Config) { c.Issuer = "https://a\x00" }},
		{"issuer not UTF-8", func(c *Config) { c.Issuer = "https://\xff" }},
		{"issuer over 1024 bytes", func(c *Config) { c.Issuer = "https://" + strings.Repeat("a", 1020) }},
		{"missing audience", func(c *Config) { c.Audience = nil }},
		{"empty audience entry", func(c *Config) { c.Audience = []string{""} }},
		{"missing keys", func(c *Config) { c.Keys = nil }},
		{"missing store", func(c *Config) { c.Store = nil }},
		{"negative access ttl", func(c *Config) { c.AccessTTL = -time.Minute }},
		{"refresh longer than session", func(c *Config) { c.RefreshTTL = 40 * 24 * time.Hour }},
		{"grace above cap", func(c *Config) { c.ReuseGrace = 61 * time.Second }},
		{"leeway above cap", func(c *Config) { c.Leeway = 6 * time.Minute }},
		{"issuer without a scheme", func(c *Config) { c.Issuer = "auth.example.com" }},
		{"issuer not a URL", func(c *Config) { c.Issuer = "auth-service" }},
		{"issuer of another scheme", func(c *Config) { c.Issuer = "urn:example:auth" }},
		{"issuer with a query", func(c *Config) { c.Issuer = "https://auth.example.com/?tenant=1" }},
		{"issuer with an empty query", func(c *Config) { c.Issuer = "https://auth.example.com/?" }},
		{"issuer with a fragment", func(c *Config) { c.Issuer = "https://auth.example.com/#x" }},
		{"issuer with user info", func(c *Config) { c.Issuer = "https://u:p@auth.example.com" }},
		{"issuer without a host", func(c *Config) { c.Issuer = "https:///tenant" }},
		{"issuer with a port and no host", func(c *Config) { c.Issuer = "https://:443" }},
		{"leeway over half the access ttl", func(c *Config) { c.AccessTTL, c.Leeway = 10*time.Second, 6*time.Second }},
		{"tiny token cap", func(c *Config) { c.MaxTokenSize = 100 }},
		{"token cap over the limit", func(c *Config) { c.MaxTokenSize = MaxTokenSizeLimit + 1 }},
		{"token cap of 1 MiB", func(c *Config) { c.MaxTokenSize = 1 << 20 }},
		{"store lacking capabilities", func(c *Config) { c.Store = limitedStore{st} }},
		{"negative max token age", func(c *Config) { c.MaxTokenAge = -time.Second }},
		{"max token age below the access ttl", func(c *Config) { c.MaxTokenAge = DefaultAccessTTL - time.Second }},
		{"max token age below the access ttl in whole seconds", func(c *Config) {
			c.AccessTTL, c.MaxTokenAge = 1500*time.Millisecond, 1500*time.Millisecond
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := base()
			tt.mod(&cfg)
			if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New: got %v, want ErrInvalidConfig", err)
			}
		})
	}
	t.Run("zero values mean defaults", func(t *testing.T) {
		t.Parallel()
		iss, err := New(base())
		if err != nil {
			t.Fatal(err)
		}
		if iss.accessTTL != DefaultAccessTTL || iss.refreshTTL != DefaultRefreshTTL ||
			iss.sessionTTL != DefaultSessionTTL || iss.grace != DefaultReuseGrace ||
			iss.rules.leeway != DefaultLeeway || iss.maxTokenSize != DefaultMaxTokenSize {
			t.Fatalf("defaults not applied: %+v", iss)
		}
	})
	t.Run("max token age of the access ttl", func(t *testing.T) {
		t.Parallel()
		cfg := base()
		cfg.AccessTTL, cfg.MaxTokenAge = 1500*time.Millisecond, 2*time.Second
		if _, err := New(cfg); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a default leeway over half the access ttl is capped and said", func(t *testing.T) {
		t.Parallel()
		var buf lockedBuffer
		cfg := base()
		cfg.AccessTTL, cfg.Logger = 5*time.Second, newTestLogger(&buf)
		iss, err := New(cfg)
		if err != nil || iss.rules.leeway != 2500*time.Millisecond {
			t.Fatalf("leeway %v, err %v", iss.rules.leeway, err)
		}
		if n := strings.Count(buf.String(), "level=WARN"); n != 1 {
			t.Errorf("%d warnings, want 1:\n%s", n, buf.String())
		}
	})
	t.Run("plain http off loopback with secure cookies is said", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			issuer   string
			insecure bool
			warns    bool
		}{
			{"http://auth.example.com", false, true},
			{"http://auth.example.com", true, false},
			{"http://127.0.0.1:8080", false, false},
			{"http://[::1]:8080", false, false},
			{"http://localhost:8080", false, false},
			{"https://auth.example.com", false, false},
		} {
			var buf lockedBuffer
			cfg := base()
			cfg.Issuer, cfg.Logger, cfg.Cookies.InsecureAllowHTTP = tt.issuer, newTestLogger(&buf), tt.insecure
			if _, err := New(cfg); err != nil {
				t.Fatalf("%s: %v", tt.issuer, err)
			}
			if got := strings.Contains(buf.String(), "drop Secure cookies"); got != tt.warns {
				t.Errorf("%s (insecure %v): warned %v, want %v:\n%s", tt.issuer, tt.insecure, got, tt.warns, buf.String())
			}
		}
	})
	t.Run("negative grace disables", func(t *testing.T) {
		t.Parallel()
		cfg := base()
		cfg.ReuseGrace = -1
		iss, err := New(cfg)
		if err != nil || iss.grace != 0 {
			t.Fatalf("grace = %v, err %v", iss.grace, err)
		}
	})
}

// limitedStore hides every optional capability of the store it wraps.
type limitedStore struct{ store.Store }

func (limitedStore) Capabilities() store.Capabilities { return 0 }

func TestLoginAccessTokenShape(t *testing.T) {
	t.Parallel()
	for _, alg := range []Algorithm{RS256, ES256, EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			iss, clock := newTestIssuer(t, func(c *Config) { c.Keys = NewKeySet(testKey(t, alg, 0)) })
			toks, err := iss.Login(context.Background(), Grant{
				Subject: "u1", Scope: "read",
				Claims: map[string]any{"tenant": "acme", "roles": []string{"admin"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			h, payload := decodeSegments(t, toks.AccessToken)
			want := `{"alg":"` + string(alg) + `","kid":"` + testKey(t, alg, 0).KeyID() + `","typ":"at+jwt"}`
			if h != want {
				t.Errorf("header = %s, want %s", h, want)
			}
			c, err := parseClaims(payload)
			if err != nil {
				t.Fatalf("claims: %v (%s)", err, payload)
			}
			now := clock.Now()
			if c.Issuer != testIssuer || c.Subject != "u1" || len(c.Audience) != 1 || c.Audience[0] != testAudience ||
				c.Scope != "read" || c.SessionID != toks.SessionID || c.Version != 0 ||
				!c.IssuedAt.Equal(now) || !c.NotBefore.Equal(now) || !c.ExpiresAt.Equal(now.Add(DefaultAccessTTL)) {
				t.Errorf("claims = %+v", c)
			}
			if rnd, ok := strings.CutPrefix(c.ID, "~"); !ok {
				t.Errorf("jti %q lacks the mark of the scoped store layout", c.ID)
			} else if n, err := b64.DecodeString(rnd); err != nil || len(n) < 16 {
				t.Errorf("jti %q does not carry 128 random bits", c.ID)
			}
			if c.Extra["tenant"] != "acme" {
				t.Errorf("application claim missing: %v", c.Extra)
			}
			if !toks.AccessExpiresAt.Equal(now.Add(DefaultAccessTTL)) || !toks.RefreshExpiresAt.Equal(now.Add(DefaultRefreshTTL)) {
				t.Errorf("expiries %v %v", toks.AccessExpiresAt, toks.RefreshExpiresAt)
			}
			if !strings.HasPrefix(toks.RefreshToken, "skr1.") {
				t.Errorf("refresh token lacks its version prefix")
			}
		})
	}
}

func TestLoginRefusesBadGrants(t *testing.T) {
	t.Parallel()
	iss, _ := newTestIssuer(t, nil)
	tests := []struct {
		name string
		g    Grant
	}{
		{"empty subject", Grant{}},
		{"control character", Grant{Subject: "a\x00b"}},
		{"invalid utf8", Grant{Subject: "\xff"}},
		{"long subject", Grant{Subject: strings.Repeat("x", 1025)}},
		{"registered claim sub", Grant{Subject: "u", Claims: map[string]any{"sub": "admin"}}},
		{"registered claim exp", Grant{Subject: "u", Claims: map[string]any{"exp": 1}}},
		{"registered claim ver", Grant{Subject: "u", Claims: map[string]any{"ver": 9}}},
		{"unencodable claim", Grant{Subject: "u", Claims: map[string]any{"f": func() {}}}},
		{"oversized claims", Grant{Subject: "u", Claims: map[string]any{"big": strings.Repeat("x", 5000)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := iss.Login(context.Background(), tt.g)
			if !errors.Is(err, ErrInvalidGrant) || errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("got %v, want ErrInvalidGrant (the grant is wrong, not the configuration)", err)
			}
			if tt.g.Subject != "u" && !strings.Contains(err.Error(), "Grant.Subject") {
				t.Errorf("%v does not name Grant.Subject", err)
			}
		})
	}
}

func decodeSegments(t testing.TB, tok string) (header, payload string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments", len(parts))
	}
	h, err := b64.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	p, err := b64.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(h), string(p)
}

// TestMaxTokenSizeLimit: New and NewVerifier take MaxTokenSize up to the
// limit and refuse anything above it, and the hostile-token benchmark
// measures tokens of exactly the limit.
func TestMaxTokenSizeLimit(t *testing.T) {
	t.Parallel()
	if hostileTokenSize != MaxTokenSizeLimit {
		t.Fatalf("BenchmarkHostileToken measures %d-byte tokens, the limit is %d", hostileTokenSize, MaxTokenSizeLimit)
	}
	tests := []struct {
		size int
		ok   bool
	}{
		{MaxTokenSizeLimit, true},
		{MaxTokenSizeLimit + 1, false},
		{64 << 10, false},
		{1 << 30, false},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.size), func(t *testing.T) {
			t.Parallel()
			cfg := Config{Issuer: testIssuer, Audience: []string{testAudience}, Keys: NewKeySet(testKey(t, RS256, 0)),
				Store: memstore.New(), MaxTokenSize: tt.size}
			if _, err := New(cfg); (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("New: %v", err)
			}
			vcfg := VerifierConfig{Issuers: []TrustedIssuer{{Issuer: testIssuer, Keys: cfg.Keys}},
				Audience: cfg.Audience, MaxTokenSize: tt.size}
			if _, err := NewVerifier(vcfg); (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("NewVerifier: %v", err)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"localhost": true, "localhost.": true, "app.localhost.": true, "127.0.0.1": true, "::1": true, "::1%lo0": true,
		"example.com": false, "127.0.0.1.example.com": false, "10.0.0.1": false,
	} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v", host, got)
		}
	}
}
