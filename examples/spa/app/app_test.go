package app

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/sessionkit/sessionkit/store/memstore"
)

// newSite serves the demo over https with the secure cookie defaults (or
// plain http with insecure set) and returns a client with a cookie jar.
func newSite(t *testing.T, insecure bool) (*httptest.Server, *http.Client) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	scheme := "https://"
	if insecure {
		scheme = "http://"
	}
	h, err := New(Config{Issuer: scheme + srv.Listener.Addr().String(), Store: memstore.New(), InsecureHTTP: insecure, BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	if insecure {
		srv.Start()
	} else {
		srv.StartTLS()
	}
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	c := *srv.Client()
	c.Jar = jar
	return srv, &c
}

// call sends a request as the page's script would (same-origin, or as
// fetchSite says) and returns the status and body.
func call(t *testing.T, srv *httptest.Server, c *http.Client, method, path, body, fetchSite string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, _ := http.NewRequest(method, srv.URL+path, rd)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Sec-Fetch-Site", fetchSite)
	res, err := c.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestSPAServer(t *testing.T) {
	t.Parallel()
	srv, c := newSite(t, false)
	login := `{"username":"alice","password":"wonderland"}`

	// The page and its headers.
	res, err := c.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(page), `<script src="/app.js" defer>`) ||
		!strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("GET /: %d %q", res.StatusCode, res.Header)
	}
	if status, body := call(t, srv, c, "GET", "/api/info", "", "same-origin"); status != http.StatusOK || !strings.Contains(body, `"insecure_http":false`) {
		t.Fatalf("info: %d %s", status, body)
	}

	// Signed out, the API answers 401 and so does the refresh.
	if status, _ := call(t, srv, c, "GET", "/api/me", "", "same-origin"); status != http.StatusUnauthorized {
		t.Fatalf("me signed out: %d", status)
	}
	if status, _ := call(t, srv, c, "POST", "/auth/refresh", "", "same-origin"); status != http.StatusUnauthorized {
		t.Fatalf("refresh signed out: %d", status)
	}
	if status, _ := call(t, srv, c, "POST", "/auth/login", `{"username":"alice","password":"nope"}`, "same-origin"); status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", status)
	}
	if status, _ := call(t, srv, c, "POST", "/auth/login", `{"username":"mallory","password":"wonderland"}`, "same-origin"); status != http.StatusUnauthorized {
		t.Fatalf("unknown user: %d", status)
	}
	if status, _ := call(t, srv, c, "POST", "/auth/login", login, "cross-site"); status != http.StatusForbidden {
		t.Fatalf("cross-site login: %d", status)
	}
	u, _ := url.Parse(srv.URL + "/auth/")
	if n := len(c.Jar.Cookies(u)); n != 0 {
		t.Fatalf("refused logins set %d cookies", n)
	}

	if status, body := call(t, srv, c, "POST", "/auth/login", login, "same-origin"); status != http.StatusOK || !strings.Contains(body, "Alice Liddell") || !strings.Contains(body, `"access_expires_at":"`) {
		t.Fatalf("login: %d %s", status, body)
	}
	names := map[string]bool{}
	for _, ck := range c.Jar.Cookies(u) {
		names[ck.Name] = true
	}
	if !names["__Host-sk_access"] || !names["__Secure-sk_refresh"] {
		t.Fatalf("cookies: %v", names)
	}
	status, body := call(t, srv, c, "GET", "/api/me", "", "same-origin")
	var me struct{ User, Name, SessionID string }
	if err := json.Unmarshal([]byte(body), &me); status != http.StatusOK || err != nil || me.User != "alice" || me.Name != "Alice Liddell" {
		t.Fatalf("me: %d %s", status, body)
	}
	if status, body := call(t, srv, c, "GET", "/api/hello", "", "same-origin"); status != http.StatusOK || !strings.Contains(body, "Hello, Alice Liddell!") {
		t.Fatalf("hello: %d %s", status, body)
	}
	if status, body := call(t, srv, c, "POST", "/auth/refresh", "", "same-origin"); status != http.StatusOK || !strings.Contains(body, "access_expires_at") {
		t.Fatalf("refresh: %d %s", status, body)
	}
	if status, body := call(t, srv, c, "GET", "/auth/sessions", "", "same-origin"); status != http.StatusOK || !strings.Contains(body, `"current":true`) || !strings.Contains(body, `"device":"Go-http-client"`) {
		t.Fatalf("sessions: %d %s", status, body)
	}
	if status, _ := call(t, srv, c, "POST", "/auth/logout", "", "cross-site"); status != http.StatusForbidden {
		t.Fatalf("cross-site logout: %d", status)
	}
	if status, _ := call(t, srv, c, "POST", "/auth/logout", "", "same-origin"); status != http.StatusNoContent {
		t.Fatalf("logout: %d", status)
	}
	if status, _ := call(t, srv, c, "GET", "/api/me", "", "same-origin"); status != http.StatusUnauthorized {
		t.Fatalf("me after logout: %d", status)
	}
}

func TestSPAServerInsecureHTTP(t *testing.T) {
	t.Parallel()
	srv, c := newSite(t, true)
	if status, body := call(t, srv, c, "GET", "/api/info", "", "same-origin"); status != http.StatusOK || !strings.Contains(body, `"insecure_http":true`) {
		t.Fatalf("info: %d %s", status, body)
	}
	if status, _ := call(t, srv, c, "POST", "/auth/login", `{"username":"bob","password":"builder"}`, "same-origin"); status != http.StatusOK {
		t.Fatalf("login: %d", status)
	}
	u, _ := url.Parse(srv.URL + "/auth/")
	names := map[string]bool{}
	for _, ck := range c.Jar.Cookies(u) {
		names[ck.Name] = true
	}
	if !names["sk_access"] || !names["sk_refresh"] || len(names) != 2 {
		t.Fatalf("cookies over plain http: %v", names)
	}
	if status, _ := call(t, srv, c, "GET", "/api/hello", "", "same-origin"); status != http.StatusOK {
		t.Fatalf("hello: %d", status)
	}
}

// TestSPAMetadata: other services find the demo's JWKS through its
// authorization-server metadata, at both well-known locations.
func TestSPAMetadata(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		insecure bool
	}{{"https", false}, {"http", true}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c := newSite(t, tt.insecure)
			for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
				code, body := call(t, srv, c, "GET", path, "", "none")
				var md map[string]any
				if err := json.Unmarshal([]byte(body), &md); code != http.StatusOK || err != nil {
					t.Fatalf("GET %s: %d %q", path, code, body)
				}
				if md["issuer"] != srv.URL || md["jwks_uri"] != srv.URL+"/.well-known/jwks.json" || md["token_endpoint"] != nil {
					t.Fatalf("GET %s: %v", path, md)
				}
			}
			if code, body := call(t, srv, c, "GET", "/.well-known/jwks.json", "", "none"); code != http.StatusOK || !strings.Contains(body, `"keys"`) {
				t.Fatalf("GET jwks_uri: %d %q", code, body)
			}
		})
	}
}
