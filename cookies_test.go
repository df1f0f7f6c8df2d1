package sessionkit

import (
	"errors"
	"net/http"
	"strings"
	"testing"
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
