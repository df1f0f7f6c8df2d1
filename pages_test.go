package sessionkit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store/memstore"
)

// pagesFixture is an Issuer with Config.Pages, its ready-made handlers and
// a page behind PageMiddleware at /notes.
func pagesFixture(t *testing.T) (*authFixture, http.Handler) {
	t.Helper()
	f := newAuthFixture(t, func(c *Config) { c.Pages = Pages{LoginURL: "/login"} })
	mux := http.NewServeMux()
	mux.Handle("/", f.h)
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := ClaimsFromContext(r.Context())
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<p>notes of " + c.Subject + " " + r.URL.RawQuery + "</p>"))
	})
	mux.Handle("/notes", f.iss.PageMiddleware(MiddlewareOptions{})(page))
	return f, mux
}

func wantLocation(t *testing.T, rec *httptest.ResponseRecorder, want string) {
	t.Helper()
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != want {
		t.Fatalf("answer %d Location %q; want 303 %q (%s)", rec.Code, rec.Header().Get("Location"), want, rec.Body)
	}
}

// TestPagesRenewThemselves: a page load with an expired access cookie goes
// to the refresh route and back with new cookies; a session that is gone
// goes to the login page; next survives both ways.
func TestPagesRenewThemselves(t *testing.T) {
	t.Parallel()
	f, mux := pagesFixture(t)
	b := f.login(t, "u1", "ua")
	b.h = mux
	if rec := b.send("GET", "/notes?tab=2"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "notes of u1 tab=2") {
		t.Fatalf("page: %d %s", rec.Code, rec.Body)
	}
	f.clock.Advance(time.Hour) // the access cookie's token expired
	oldRefresh := b.refresh()
	rec := b.send("GET", "/notes?tab=2")
	wantLocation(t, rec, "/auth/refresh?next=%2Fnotes%3Ftab%3D2")
	rec = b.send("GET", rec.Header().Get("Location"))
	wantLocation(t, rec, "/notes?tab=2")
	if b.refresh() == oldRefresh || b.access() == "" {
		t.Fatal("the renewal set no new cookies")
	}
	if rec := b.send("GET", "/notes?tab=2"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "notes of u1") {
		t.Fatalf("page after renewal: %d %s", rec.Code, rec.Body)
	}

	// Logged out elsewhere: the renewal ends at the login page, with next.
	f.clock.Advance(time.Hour)
	if err := f.iss.LogoutAll(t.Context(), "u1"); err != nil {
		t.Fatal(err)
	}
	rec = b.send("GET", "/notes")
	wantLocation(t, rec, "/auth/refresh?next=%2Fnotes")
	rec = b.send("GET", rec.Header().Get("Location"))
	wantLocation(t, rec, "/login?next=%2Fnotes")
	wantCleared(t, rec)

	// No session at all: the same way to the login page.
	anon := newBrowser(t, mux, "ua")
	rec = anon.send("GET", "/notes")
	wantLocation(t, rec, "/auth/refresh?next=%2Fnotes")
	wantLocation(t, anon.send("GET", rec.Header().Get("Location")), "/login?next=%2Fnotes")
}

// TestPagesRefuse: what a renewal must not do. A forged token and a form
// post are refused, not renewed; a cross-site request to the refresh route
// rotates nothing; an attacker's next is refused; a navigation from
// another site is bounced through a same-origin reload, once.
func TestPagesRefuse(t *testing.T) {
	t.Parallel()
	f, mux := pagesFixture(t)
	b := f.login(t, "u1", "ua")
	b.h = mux
	rt := b.refresh()

	forged := newBrowser(t, mux, "ua")
	forged.cookies[accessCookie] = &http.Cookie{Name: accessCookie, Value: tamper(b.access()), Path: "/"}
	if rec := forged.send("GET", "/notes"); rec.Code != http.StatusUnauthorized {
		t.Errorf("forged token: %d; want 401, not a renewal", rec.Code)
	}
	f.clock.Advance(time.Hour)
	if rec := b.send("POST", "/notes"); rec.Code != http.StatusUnauthorized {
		t.Errorf("form post with an expired token: %d; want 401", rec.Code)
	}

	for _, mod := range []func(*http.Request){
		crossSiteEvil,
		fromSite("same-site", "https://blog.example.com"),
		func(r *http.Request) { r.Header.Set("Sec-Fetch-Mode", "cors"); r.Header.Set("Sec-Fetch-Dest", "empty") },
		func(r *http.Request) {
			r.Header.Set("Sec-Fetch-Mode", "navigate")
			r.Header.Set("Sec-Fetch-Dest", "iframe")
		},
	} {
		rec := b.send("GET", "/auth/refresh?next=%2Fnotes", mod)
		if rec.Code != http.StatusForbidden || len(setCookies(t, rec)) != 0 {
			t.Errorf("cross-site or not a navigation: %d %v", rec.Code, rec.Header())
		}
	}
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "/%5Cevil.example", "/%2F%2Fevil.example", "javascript:alert(1)", "evil", "/a\nb"} {
		rec := b.send("GET", "/auth/refresh?next="+url.QueryEscape(next))
		if rec.Code != http.StatusBadRequest || rec.Header().Get("Location") != "" || len(setCookies(t, rec)) != 0 {
			t.Errorf("next %q: %d Location %q", next, rec.Code, rec.Header().Get("Location"))
		}
	}
	if b.refresh() != rt || !f.refreshes(rt) {
		t.Fatal("a refused request rotated the refresh token")
	}

	// Arriving from a link on another site: the Strict refresh cookie is
	// not sent, so the page reloads itself same-origin, once.
	b2 := f.login(t, "u2", "ua")
	b2.h = mux
	f.clock.Advance(time.Hour)
	rec := b2.send("GET", "/notes?tab=1", crossSiteEvil)
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, `http-equiv="refresh"`) || !strings.Contains(body, "/notes?sk_renew=1&amp;tab=1") {
		t.Fatalf("cross-site page load: %d %s", rec.Code, body)
	}
	if strings.Contains(body, "<script") {
		t.Error("the bounce page runs script")
	}
	wantLocation(t, b2.send("GET", "/notes?sk_renew=1&tab=1"), "/auth/refresh?next=%2Fnotes%3Ftab%3D1")
	wantLocation(t, b2.send("GET", "/notes?sk_renew=1&tab=1", crossSiteEvil), "/login?next=%2Fnotes%3Ftab%3D1")
}

func TestPagesConfig(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		pages Pages
		ok    bool
	}{
		{"off", Pages{}, true},
		{"login only", Pages{LoginURL: "/login"}, true},
		{"custom refresh", Pages{LoginURL: "/login", RefreshURL: "/auth/renew"}, true},
		{"refresh outside the cookie path", Pages{LoginURL: "/login", RefreshURL: "/renew"}, false},
		{"login elsewhere", Pages{LoginURL: "https://evil.example/login"}, false},
		{"login scheme-relative", Pages{LoginURL: "//evil.example/login"}, false},
		{"refresh without login", Pages{RefreshURL: "/auth/refresh"}, false},
	} {
		_, err := New(Config{Issuer: testIssuer, Audience: []string{testAudience}, Keys: NewKeySet(testKey(t, RS256, 0)),
			Store: memstore.New(), Pages: tt.pages})
		if (err == nil) != tt.ok {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	iss, _ := newTestIssuer(t, nil)
	defer func() {
		if recover() == nil {
			t.Error("PageMiddleware without Config.Pages did not panic")
		}
	}()
	iss.PageMiddleware(MiddlewareOptions{})
}

func TestLocalRedirect(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/hello": "/hello", "/hello?x=1": "/hello?x=1", "": "/", "hello": "/", "//evil.example": "/",
		"/\\evil.example": "/", "https://evil.example/": "/", "/%5Cevil": "/", "/a b": "/", "/\u2028": "/",
		"/" + strings.Repeat("a", maxNext): "/",
	} {
		if got := LocalRedirect(in); got != want {
			t.Errorf("LocalRedirect(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestPagesReviewCases: what the attacker review found, each pinned.
func TestPagesReviewCases(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t, func(c *Config) { c.Pages = Pages{LoginURL: "/login"} })
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("page " + r.URL.RawQuery)) })
	// PageMiddleware in front of everything, the login page and the
	// refresh route included: no loop.
	mux := http.NewServeMux()
	mux.Handle("/auth/", f.h)
	mux.Handle("/", page)
	all := f.iss.PageMiddleware(MiddlewareOptions{})(mux)
	anon := newBrowser(t, all, "ua")
	rec := anon.send("GET", "/notes")
	wantLocation(t, rec, "/auth/refresh?next=%2Fnotes")
	rec = anon.send("GET", rec.Header().Get("Location"))
	wantLocation(t, rec, "/login?next=%2Fnotes")
	if rec := anon.send("GET", "/login?next=%2Fnotes"); rec.Code != http.StatusOK {
		t.Errorf("the login page behind PageMiddleware: %d; want it served, signed out", rec.Code)
	}
	// No refresh cookie arrived (a cross-site chain withholds it): the
	// browser's cookie is not cleared.
	if rec := anon.send("GET", "/auth/refresh?next=%2Fnotes"); strings.Contains(strings.Join(rec.Header().Values("Set-Cookie"), ";"), refreshCookie) {
		t.Errorf("a refresh without a cookie cleared the refresh cookie: %v", rec.Header().Values("Set-Cookie"))
	}
	// A next under the refresh route is refused.
	if rec := anon.send("GET", "/auth/refresh?next="+url.QueryEscape("/auth/refresh?next=/x")); rec.Code != http.StatusBadRequest {
		t.Errorf("next under the refresh route: %d", rec.Code)
	}
	// A fetch, an image, a HEAD: the 401 a script can read, no renewal.
	for _, r := range []*http.Request{
		newRequest("GET", "/notes", withHeader("Sec-Fetch-Mode", "cors"), withHeader("Sec-Fetch-Dest", "empty")),
		newRequest("GET", "/notes", withHeader("Sec-Fetch-Mode", "no-cors"), withHeader("Sec-Fetch-Dest", "image")),
		newRequest("HEAD", "/notes"),
	} {
		if res := run(f.iss.PageMiddleware(MiddlewareOptions{}), r); res.rec.Code != http.StatusUnauthorized {
			t.Errorf("%s %v: %d; want 401", r.Method, r.Header, res.rec.Code)
		}
	}
	// The bounce keeps the page's query as it was.
	b := f.login(t, "u1", "ua")
	b.h = all
	f.clock.Advance(time.Hour)
	rec = b.send("GET", "/notes?q=a;b&flag", crossSiteEvil)
	if !strings.Contains(rec.Body.String(), "/notes?sk_renew=1&amp;q=a;b&amp;flag") {
		t.Errorf("bounce target: %s", rec.Body)
	}
	// LoginURL with a query is refused.
	if _, err := newPageSettings(Pages{LoginURL: "/login?lang=en"}, Cookies{}); err == nil {
		t.Error("LoginURL with a query accepted")
	}
}

// TestPageRefreshCookieTooLarge: GET refresh whose new cookies cannot be
// set ends the session and sends the browser to sign in, rather than
// leave its old token to look reused later.
func TestPageRefreshCookieTooLarge(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t, func(c *Config) {
		c.Pages = Pages{LoginURL: "/login"}
		c.OnRefresh = func(context.Context, Session) (map[string]any, error) {
			return map[string]any{"big": strings.Repeat("x", 3500)}, nil
		}
	})
	b := f.login(t, "u1", "ua")
	rec := b.send("GET", "/auth/refresh?next=%2Fnotes")
	wantLocation(t, rec, "/login?next=%2Fnotes")
	if ids := f.sessionIDs(t, "u1"); len(ids) != 0 {
		t.Errorf("the session lives on: %v", ids)
	}
}
