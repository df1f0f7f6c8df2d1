package sessionkit

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store/memstore"
)

func TestCookiesNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                   string
		c                      Cookies
		access, refresh, rpath string
	}{
		{"zero value", Cookies{}, "__Host-sk_access", "__Secure-sk_refresh", "/auth"},
		{"insecure http", Cookies{InsecureAllowHTTP: true}, "sk_access", "sk_refresh", "/auth"},
		{"domain drops __Host-", Cookies{Domain: "example.com"}, "__Secure-sk_access", "__Secure-sk_refresh", "/auth"},
		{"insecure http with domain", Cookies{Domain: "example.com", InsecureAllowHTTP: true}, "sk_access", "sk_refresh", "/auth"},
		{"custom", Cookies{AccessName: "at", RefreshName: "rt", RefreshPath: "/api/auth", InsecureAllowHTTP: true}, "at", "rt", "/api/auth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.c.accessName(); got != tt.access {
				t.Errorf("accessName = %q, want %q", got, tt.access)
			}
			if got := tt.c.refreshName(); got != tt.refresh {
				t.Errorf("refreshName = %q, want %q", got, tt.refresh)
			}
			if got := tt.c.refreshPath(); got != tt.rpath {
				t.Errorf("refreshPath = %q, want %q", got, tt.rpath)
			}
		})
	}
}

func TestCookiesRead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		c              Cookies
		cookie         string // the Cookie header; "" for none
		access, refres string
		accessCount    int
	}{
		{"no cookies", Cookies{}, "", "", "", 0},
		{"both", Cookies{}, "__Host-sk_access=at.x.y; __Secure-sk_refresh=skr1.h.s", "at.x.y", "skr1.h.s", 1},
		{"among other cookies", Cookies{}, "a=1; __Host-sk_access=at; b=2", "at", "", 1},
		{"unprefixed names are not ours", Cookies{}, "sk_access=at; sk_refresh=rt", "", "", 0},
		{"insecure names", Cookies{InsecureAllowHTTP: true}, "sk_access=at; sk_refresh=rt", "at", "rt", 1},
		{"custom names", Cookies{AccessName: "A", RefreshName: "R"}, "A=at; R=rt", "at", "rt", 1},
		{"duplicate access cookie", Cookies{}, "__Host-sk_access=one; __Host-sk_access=two; __Secure-sk_refresh=rt", "", "rt", 2},
		{"duplicate refresh cookie", Cookies{}, "__Secure-sk_refresh=one; __Secure-sk_refresh=two", "", "", 0},
		{"empty value", Cookies{}, "__Host-sk_access=", "", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, _ := http.NewRequest("GET", "https://example.com/", nil)
			if tt.cookie != "" {
				r.Header.Set("Cookie", tt.cookie)
			}
			if got := tt.c.AccessToken(r); got != tt.access {
				t.Errorf("AccessToken = %q, want %q", got, tt.access)
			}
			if got := tt.c.RefreshToken(r); got != tt.refres {
				t.Errorf("RefreshToken = %q, want %q", got, tt.refres)
			}
			if v, n := cookieValue(r, tt.c.accessName()); v != tt.access || n != tt.accessCount {
				t.Errorf("cookieValue = %q, %d; want %q, %d", v, n, tt.access, tt.accessCount)
			}
		})
	}
}

func TestCookiesCrossOriginProtection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		origins []string
		bad     string // the entry the error must name; "" when valid
	}{
		{"none", nil, ""},
		{"valid", []string{"https://app.example.com", "http://localhost:5173"}, ""},
		{"no scheme", []string{"https://ok.example.com", "app.example.com"}, "app.example.com"},
		{"trailing slash", []string{"https://app.example.com/"}, "https://app.example.com/"},
		{"path", []string{"https://app.example.com/login"}, "https://app.example.com/login"},
		{"uppercase", []string{"HTTPS://app.example.com"}, "HTTPS://app.example.com"},
		{"empty", []string{""}, `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := Cookies{TrustedOrigins: tt.origins}.crossOriginProtection()
			if tt.bad == "" {
				if err != nil || p == nil {
					t.Fatalf("crossOriginProtection: %v", err)
				}
				for _, o := range tt.origins {
					r, _ := http.NewRequest("POST", "https://api.example.com/", nil)
					r.Header.Set("Sec-Fetch-Site", "cross-site")
					r.Header.Set("Origin", o)
					if err := p.Check(r); err != nil {
						t.Errorf("trusted origin %q refused: %v", o, err)
					}
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.bad) {
				t.Fatalf("got %v, want ErrInvalidConfig naming %s", err, tt.bad)
			}
		})
	}
}

// setCookies parses the Set-Cookie headers of rec by name, checking that
// each is a valid cookie and appears once.
func setCookies(t *testing.T, rec *httptest.ResponseRecorder) map[string]*http.Cookie {
	t.Helper()
	out := map[string]*http.Cookie{}
	for _, line := range rec.Header().Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		if err := c.Valid(); err != nil {
			t.Fatalf("Set-Cookie %q is not valid: %v", line, err)
		}
		if len(line) > MaxCookieSize {
			t.Fatalf("Set-Cookie of %s takes %d bytes", c.Name, len(line))
		}
		if _, dup := out[c.Name]; dup {
			t.Fatalf("cookie %s set twice", c.Name)
		}
		out[c.Name] = c
	}
	return out
}

// cookieWant is the expected shape of one session cookie.
type cookieWant struct {
	name, path, domain string
	maxAge             int // as http.Cookie reads it: -1 for Max-Age=0
	secure, partition  bool
	sameSite           http.SameSite
}

func checkCookie(t *testing.T, got *http.Cookie, want cookieWant, value string) {
	t.Helper()
	if got == nil {
		t.Fatalf("cookie %s not set", want.name)
	}
	if got.Value != value {
		t.Errorf("%s: value %q, want %q", want.name, got.Value, value)
	}
	if got.Path != want.path || got.Domain != want.domain || got.MaxAge != want.maxAge ||
		got.Secure != want.secure || !got.HttpOnly || got.SameSite != want.sameSite || got.Partitioned != want.partition {
		t.Errorf("%s: got Path=%q Domain=%q MaxAge=%d Secure=%v HttpOnly=%v SameSite=%v Partitioned=%v; want %+v",
			want.name, got.Path, got.Domain, got.MaxAge, got.Secure, got.HttpOnly, got.SameSite, got.Partitioned, want)
	}
	if !got.Expires.IsZero() {
		t.Errorf("%s: Expires set; Max-Age alone carries the lifetime", want.name)
	}
}

func TestCookiesSetAndClear(t *testing.T) {
	t.Parallel()
	now := testEpoch.Add(250 * time.Millisecond)
	toks := &Tokens{
		AccessToken:      "aaa.bbb.ccc",
		RefreshToken:     "skr1.tag~sid~1.secret",
		AccessExpiresAt:  testEpoch.Add(15 * time.Minute),
		RefreshExpiresAt: testEpoch.Add(7 * 24 * time.Hour),
	}
	const accessAge, refreshAge = 15*60 - 1, 7*24*3600 - 1 // whole seconds left
	lax, strict, none := http.SameSiteLaxMode, http.SameSiteStrictMode, http.SameSiteNoneMode
	tests := []struct {
		name            string
		c               Cookies
		access, refresh cookieWant
	}{
		{"zero value: secure defaults", Cookies{},
			cookieWant{"__Host-sk_access", "/", "", accessAge, true, false, lax},
			cookieWant{"__Secure-sk_refresh", "/auth", "", refreshAge, true, false, strict}},
		{"domain", Cookies{Domain: "example.com"},
			cookieWant{"__Secure-sk_access", "/", "example.com", accessAge, true, false, lax},
			cookieWant{"__Secure-sk_refresh", "/auth", "example.com", refreshAge, true, false, strict}},
		{"partitioned", Cookies{Partitioned: true},
			cookieWant{"__Host-sk_access", "/", "", accessAge, true, true, none},
			cookieWant{"__Secure-sk_refresh", "/auth", "", refreshAge, true, true, none}},
		{"insecure http", Cookies{InsecureAllowHTTP: true},
			cookieWant{"sk_access", "/", "", accessAge, false, false, lax},
			cookieWant{"sk_refresh", "/auth", "", refreshAge, false, false, strict}},
		{"custom names and path", Cookies{AccessName: "__Host-at", RefreshName: "__Secure-rt", RefreshPath: "/api/session"},
			cookieWant{"__Host-at", "/", "", accessAge, true, false, lax},
			cookieWant{"__Secure-rt", "/api/session", "", refreshAge, true, false, strict}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			if err := tt.c.set(rec, toks, now); err != nil {
				t.Fatalf("set: %v", err)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q", got)
			}
			got := setCookies(t, rec)
			if len(got) != 2 {
				t.Fatalf("set %d cookies, want 2", len(got))
			}
			checkCookie(t, got[tt.access.name], tt.access, toks.AccessToken)
			checkCookie(t, got[tt.refresh.name], tt.refresh, toks.RefreshToken)

			// The cookies read back.
			r := httptest.NewRequest("GET", "https://example.com/", nil)
			for _, c := range got {
				r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
			}
			if tt.c.AccessToken(r) != toks.AccessToken || tt.c.RefreshToken(r) != toks.RefreshToken {
				t.Errorf("read back %q, %q", tt.c.AccessToken(r), tt.c.RefreshToken(r))
			}

			// Clear expires both, with the same attributes.
			rec = httptest.NewRecorder()
			tt.c.Clear(rec)
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Clear: Cache-Control = %q", got)
			}
			cleared := setCookies(t, rec)
			if len(cleared) != 2 {
				t.Fatalf("Clear set %d cookies, want 2", len(cleared))
			}
			a, rf := tt.access, tt.refresh
			a.maxAge, rf.maxAge = -1, -1
			checkCookie(t, cleared[a.name], a, "")
			checkCookie(t, cleared[rf.name], rf, "")
		})
	}
}

func TestCookiesSetPublicUsesWallClock(t *testing.T) {
	t.Parallel()
	toks := &Tokens{AccessToken: "a.b.c", RefreshToken: "skr1.h.s",
		AccessExpiresAt: time.Now().Add(time.Hour), RefreshExpiresAt: time.Now().Add(48 * time.Hour)}
	rec := httptest.NewRecorder()
	if err := (Cookies{}).Set(rec, toks); err != nil {
		t.Fatal(err)
	}
	got := setCookies(t, rec)
	// Whole seconds left, never more than the token's lifetime.
	if a := got["__Host-sk_access"].MaxAge; a > 3600 || a < 3600-60 {
		t.Errorf("access Max-Age = %d, want about 3600", a)
	}
	if r := got["__Secure-sk_refresh"].MaxAge; r > 48*3600 || r < 48*3600-60 {
		t.Errorf("refresh Max-Age = %d, want about %d", r, 48*3600)
	}
}

func TestCookiesSetMaxAge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		left time.Duration // the access token's remaining lifetime
		want int           // Max-Age; 0: ErrTokenExpired
	}{
		{"whole seconds", 900 * time.Second, 900},
		{"rounded down, never outliving the token", 900*time.Second - time.Millisecond, 899},
		{"under a second is one second, not a session cookie", 300 * time.Millisecond, 1},
		{"expired now", 0, 0},
		{"expired before", -time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			toks := &Tokens{AccessToken: "a.b.c", RefreshToken: "skr1.h.s",
				AccessExpiresAt: testEpoch.Add(tt.left), RefreshExpiresAt: testEpoch.Add(time.Hour)}
			rec := httptest.NewRecorder()
			err := Cookies{}.set(rec, toks, testEpoch)
			if tt.want == 0 {
				if !errors.Is(err, ErrTokenExpired) {
					t.Fatalf("got %v, want ErrTokenExpired", err)
				}
				if len(rec.Header()) != 0 {
					t.Fatalf("wrote headers %v", rec.Header())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := setCookies(t, rec)["__Host-sk_access"].MaxAge; got != tt.want {
				t.Errorf("Max-Age = %d, want %d", got, tt.want)
			}
		})
	}
	// An expired refresh token is refused the same way.
	rec := httptest.NewRecorder()
	err := Cookies{}.set(rec, &Tokens{AccessToken: "a", RefreshToken: "r", AccessExpiresAt: testEpoch.Add(time.Hour), RefreshExpiresAt: testEpoch}, testEpoch)
	if !errors.Is(err, ErrTokenExpired) || len(rec.Header()) != 0 {
		t.Fatalf("expired refresh token: %v, headers %v", err, rec.Header())
	}
}

func TestCookiesSetRefuses(t *testing.T) {
	t.Parallel()
	exp := testEpoch.Add(time.Hour)
	// sized returns a token whose access cookie takes exactly n bytes.
	sized := func(n int) string {
		rec := httptest.NewRecorder()
		if err := (Cookies{}).set(rec, &Tokens{AccessToken: "x", RefreshToken: "y", AccessExpiresAt: exp, RefreshExpiresAt: exp}, testEpoch); err != nil {
			t.Fatal(err)
		}
		overhead := len(rec.Header().Values("Set-Cookie")[0]) - 1
		return strings.Repeat("t", n-overhead)
	}
	tests := []struct {
		name           string
		c              Cookies
		access, rtoken string
		want           error // nil: accepted
	}{
		{"access cookie of exactly MaxCookieSize", Cookies{}, sized(MaxCookieSize), "skr1.h.s", nil},
		{"access cookie one byte over", Cookies{}, sized(MaxCookieSize + 1), "skr1.h.s", ErrInvalidConfig},
		{"refresh cookie over", Cookies{}, "a.b.c", strings.Repeat("r", MaxCookieSize), ErrInvalidConfig},
		{"empty access token", Cookies{}, "", "skr1.h.s", ErrInvalidToken},
		{"empty refresh token", Cookies{}, "a.b.c", "", ErrInvalidToken},
		{"token with a byte cookies cannot carry", Cookies{}, "a.b;c=d", "skr1.h.s", ErrInvalidToken},
		{"token with a quote", Cookies{}, "a.b.c", `skr1."h".s`, ErrInvalidToken},
		{"invalid Cookies", Cookies{Domain: "example.com", AccessName: "__Host-x"}, "a.b.c", "skr1.h.s", ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			toks := &Tokens{AccessToken: tt.access, RefreshToken: tt.rtoken, AccessExpiresAt: exp, RefreshExpiresAt: exp}
			err := tt.c.set(rec, toks, testEpoch)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("set: %v", err)
				}
				setCookies(t, rec)
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if len(rec.Header()) != 0 {
				t.Errorf("wrote headers on error: %v", rec.Header())
			}
			for _, secret := range []string{tt.access, tt.rtoken} {
				if len(secret) > 2 && strings.Contains(err.Error(), secret) {
					t.Errorf("the error reveals a token: %v", err)
				}
			}
		})
	}
	if err := (Cookies{}).Set(httptest.NewRecorder(), nil); err == nil {
		t.Error("Set(nil tokens) succeeded")
	}
}

func TestCookiesCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    Cookies
		bad  string // a fragment of the error; "" when valid
	}{
		{"zero value", Cookies{}, ""},
		{"domain with default names", Cookies{Domain: "example.com"}, ""},
		{"domain with a leading dot", Cookies{Domain: ".example.com"}, ""},
		{"insecure http", Cookies{InsecureAllowHTTP: true}, ""},
		{"insecure http with unprefixed names", Cookies{InsecureAllowHTTP: true, AccessName: "a", RefreshName: "r"}, ""},
		{"__Host- refresh cookie at the root", Cookies{RefreshName: "__Host-r", RefreshPath: "/"}, ""},
		{"partitioned", Cookies{Partitioned: true}, ""},
		{"refresh path of 1024 bytes", Cookies{RefreshPath: "/" + strings.Repeat("a", 1023)}, ""},

		{"__Host- access name with a domain", Cookies{Domain: "example.com", AccessName: "__Host-a"}, "__Host- prefix, which forbids a Domain"},
		{"__host- in lower case with a domain", Cookies{Domain: "example.com", AccessName: "__host-a"}, "forbids a Domain"},
		{"__Host- refresh name with a domain", Cookies{Domain: "example.com", RefreshName: "__Host-r", RefreshPath: "/"}, "forbids a Domain"},
		{"__Host- refresh name under /auth", Cookies{RefreshName: "__Host-r"}, "needs Path=/"},
		{"__Secure- name over http", Cookies{InsecureAllowHTTP: true, AccessName: "__Secure-a"}, "needs Secure cookies"},
		{"__Host- name over http", Cookies{InsecureAllowHTTP: true, RefreshName: "__HOST-r", RefreshPath: "/"}, "needs Secure cookies"},
		{"partitioned over http", Cookies{InsecureAllowHTTP: true, Partitioned: true}, "Partitioned"},
		{"name with a space", Cookies{AccessName: "sk access"}, "not a valid cookie name"},
		{"name with a separator", Cookies{RefreshName: "sk;refresh"}, "not a valid cookie name"},
		{"same names", Cookies{AccessName: "__Secure-x", RefreshName: "__Secure-x"}, "both"},
		{"same names but for case", Cookies{AccessName: "__Secure-x", RefreshName: "__secure-X"}, "both"},
		{"relative refresh path", Cookies{RefreshPath: "auth"}, "RefreshPath"},
		{"refresh path with ;", Cookies{RefreshPath: "/auth;x"}, "RefreshPath"},
		{"refresh path with a control byte", Cookies{RefreshPath: "/auth\n"}, "RefreshPath"},
		{"bad domain", Cookies{Domain: "exa mple.com"}, "Domain"},
		{"refresh path over 1024 bytes", Cookies{RefreshPath: "/" + strings.Repeat("a", 1024)}, "RefreshPath takes 1025 bytes"},
		{"domain over 1024 bytes", Cookies{Domain: strings.Repeat("a.", 512) + "com"}, "Domain takes 1027 bytes"},
		{"bad trusted origin", Cookies{TrustedOrigins: []string{"app.example.com"}}, "TrustedOrigins"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.c.validate()
			if tt.bad == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.bad) {
				t.Fatalf("got %v, want ErrInvalidConfig mentioning %q", err, tt.bad)
			}
			// New refuses the same configuration, and Clear writes nothing
			// with it (the trusted origins play no part in the cookies).
			_, err = New(Config{Issuer: testIssuer, Audience: []string{testAudience},
				Keys: NewKeySet(testKey(t, RS256, 0)), Store: memstore.New(), Cookies: tt.c})
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.bad) {
				t.Errorf("New: got %v, want ErrInvalidConfig mentioning %q", err, tt.bad)
			}
			if len(tt.c.TrustedOrigins) > 0 {
				return
			}
			rec := httptest.NewRecorder()
			tt.c.Clear(rec)
			if len(rec.Header()) != 0 {
				t.Errorf("Clear wrote %v", rec.Header())
			}
		})
	}
}

func TestNewWarnsAboutInsecureCookies(t *testing.T) {
	t.Parallel()
	for _, insecure := range []bool{false, true} {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, nil))
		newTestIssuer(t, func(c *Config) {
			c.Logger = log
			c.Cookies = Cookies{InsecureAllowHTTP: insecure}
		})
		warned := strings.Contains(buf.String(), "level=WARN") && strings.Contains(buf.String(), "InsecureAllowHTTP")
		if warned != insecure {
			t.Errorf("InsecureAllowHTTP=%v: log %q", insecure, buf.String())
		}
	}
}

func TestNewKeepsItsOwnCookies(t *testing.T) {
	t.Parallel()
	origins := []string{trustedOrigin}
	iss, _ := newTestIssuer(t, func(c *Config) { c.Cookies = Cookies{TrustedOrigins: origins} })
	origins[0] = "https://evil.example" // the caller's slice changes afterwards
	r := httptest.NewRequest("POST", "/auth/login", nil)
	r.Header.Set("Sec-Fetch-Site", crossSite)
	r.Header.Set("Origin", trustedOrigin)
	if _, err := iss.LoginCookies(httptest.NewRecorder(), r, Grant{Subject: "u1"}); err != nil {
		t.Fatalf("the trusted origin given to New was refused: %v", err)
	}
	r.Header.Set("Origin", "https://evil.example")
	if _, err := iss.LoginCookies(httptest.NewRecorder(), r, Grant{Subject: "u1"}); !errors.Is(err, ErrCrossOrigin) {
		t.Fatalf("an origin New was not given passed: %v", err)
	}
}
