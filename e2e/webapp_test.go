package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/sessionkit/sessionkit"
	webapp "github.com/sessionkit/sessionkit/examples/webapp/app"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// expire is how far the webapp test moves the server's clock to expire an
// access token: past its lifetime (the default) and the verification
// leeway. The browser keeps the cookie, which lives by the wall clock, so
// the server sees an expired token.
const expire = sessionkit.DefaultAccessTTL + sessionkit.DefaultLeeway + time.Second

// newWebappHarness serves the server-rendered demo.
func newWebappHarness(t *testing.T) *harness {
	t.Helper()
	return serveDemo(t, func(base string, now func() time.Time, log *slog.Logger) (http.Handler, error) {
		s, err := webapp.New(webapp.Config{Issuer: base, Store: memstore.New(), Now: now, BcryptCost: bcrypt.MinCost, Logger: log})
		return s, err
	})
}

// otherSite serves pages (path: HTML) over https on 127.0.0.2, a site other
// than the webapp's 127.0.0.1 for the browser: an IP address is a site of
// its own, so its requests to the webapp are cross-site.
func otherSite(t *testing.T, pages map[string]string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatalf("listening on 127.0.0.2, the other site: %v", err)
	}
	mux := http.NewServeMux()
	for path, body := range pages {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, body)
		})
	}
	srv := httptest.NewUnstartedServer(mux)
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

// shown is what a tab shows: its location, the page's heading (its h2) and
// its text.
type shown struct{ url, heading, text string }

func (s shown) String() string { return fmt.Sprintf("%s, heading %q", s.url, s.heading) }

// waitShown waits until the tab of ctx shows href with the heading, and
// returns what it shows. It polls from here, not in the page, since the tab
// may go through several navigations first.
func waitShown(t *testing.T, ctx context.Context, href, heading string) shown {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		ectx, cancel := context.WithTimeout(ctx, wait)
		v, err := chromedp.Run(ectx, chromedp.Evaluate[[]string](
			`[location.href, document.querySelector("h2")?.textContent ?? "", document.body?.innerText ?? ""]`))
		cancel()
		var s shown
		if err == nil && len(v) == 3 { // an error: the tab is between two pages
			s = shown{v[0], v[1], v[2]}
			if s.url == href && s.heading == heading {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tab shows %v (%v), want %s, heading %q", s, err, href, heading)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitSequence waits until the server has seen the wanted exchanges since
// mark m, in this order (see inSequence), and returns them.
func (h *harness) waitSequence(t *testing.T, m int, want ...exchange) []exchange {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		got, ok := inSequence(h.rec.since(m), want...)
		if ok {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not see %v in that order; it saw %v", want, h.rec.since(m))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// refreshes returns the requests to the refresh route since mark m.
func (h *harness) refreshes(m int) []exchange {
	var out []exchange
	for _, e := range h.rec.since(m) {
		if e.path == "/auth/refresh" {
			out = append(out, e)
		}
	}
	return out
}

// wantRenewedOnce checks that the refresh route was asked once since mark
// m, with the refresh cookie refresh, and that the cookie rotated.
func (h *harness) wantRenewedOnce(t *testing.T, ctx context.Context, m int, refresh string) {
	t.Helper()
	if r := h.refreshes(m); len(r) != 1 || r[0].refresh != refresh {
		t.Errorf("requests to the refresh route: %v; want 1, with the refresh cookie the browser had", r)
	}
	if now := h.cookieValue(t, ctx, refreshCookie); now == "" || now == refresh {
		t.Error("the refresh cookie did not rotate")
	}
}

// signInForm fills in the sign-in form the tab shows and submits it.
func signInForm(t *testing.T, ctx context.Context, user, password string) {
	t.Helper()
	do(t, ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), user),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
	)
}

// nextField is the next value the sign-in form will post.
func nextField(t *testing.T, ctx context.Context) string {
	t.Helper()
	return run(t, ctx, chromedp.Value(chromedp.CSS(`input[name="next"]`)))
}

// TestWebappInChromium drives the server-rendered demo (examples/webapp)
// in Chromium: an expired access token on a page load renews the session
// through GET /auth/refresh and comes back; another site can neither
// renew nor log out, and its link to a page comes through the bounce page
// signed in; an attacker's next never leads off the site.
func TestWebappInChromium(t *testing.T) {
	h := newWebappHarness(t)
	alice := webapp.DemoLogins[0]
	hello := h.base + "/hello"
	helloHeading, homeHeading := "A protected page", "Hello, "+alice.Name
	b := h.profile(t)

	t.Run("an expired access cookie on a page load renews the session", func(t *testing.T) {
		// Without a session the page goes through the refresh route to
		// the sign-in form, which keeps the page in next.
		m := h.rec.mark()
		do(t, b, chromedp.Navigate(hello))
		waitShown(t, b, h.base+"/login?next=%2Fhello", "Sign in")
		h.waitSequence(t, m,
			exchange{method: "GET", path: "/hello", status: http.StatusSeeOther, location: "/auth/refresh?next=%2Fhello"},
			exchange{method: "GET", path: "/auth/refresh", uri: "/auth/refresh?next=%2Fhello", status: http.StatusSeeOther, location: "/login?next=%2Fhello"},
			exchange{method: "GET", path: "/login", uri: "/login?next=%2Fhello", status: http.StatusOK})
		if got := nextField(t, b); got != "/hello" {
			t.Fatalf("the sign-in form posts next %q, want /hello", got)
		}
		signInForm(t, b, alice.Username, alice.Password)
		if s := waitShown(t, b, hello, helloHeading); !strings.Contains(s.text, "Hello, "+alice.Name) {
			t.Fatalf("after sign-in /hello shows %q", s.text)
		}
		refresh, access := h.cookieValue(t, b, refreshCookie), h.cookieValue(t, b, accessCookie)
		if refresh == "" || access == "" {
			t.Fatalf("cookies after sign-in: %v", h.cookies(t, b))
		}

		// The access token expires (the server's clock moves; the browser
		// keeps the cookie); a reload renews the session and comes back.
		h.clock.Advance(expire)
		m = h.rec.mark()
		do(t, b, chromedp.Reload())
		if s := waitShown(t, b, hello, helloHeading); !strings.Contains(s.text, "Hello, "+alice.Name) {
			t.Fatalf("after the renewal /hello shows %q", s.text)
		}
		got := h.waitSequence(t, m,
			exchange{method: "GET", path: "/hello", uri: "/hello", status: http.StatusSeeOther, location: "/auth/refresh?next=%2Fhello"},
			exchange{method: "GET", path: "/auth/refresh", uri: "/auth/refresh?next=%2Fhello", status: http.StatusSeeOther, location: "/hello"},
			exchange{method: "GET", path: "/hello", uri: "/hello", status: http.StatusOK})
		if got[0].access != access {
			t.Error("the reload did not carry the access cookie, now expired, that sign-in set")
		}
		h.wantRenewedOnce(t, b, m, refresh)
		if now := h.cookieValue(t, b, accessCookie); now == "" || now == access {
			t.Error("no new access cookie")
		}
	})

	other := otherSite(t, map[string]string{
		"/refresh": `<!doctype html><title>Prize</title><h2>Win a prize</h2>` +
			`<p><a id="go" href="` + h.base + `/auth/refresh?next=%2F">Claim it</a></p>`,
		"/logout-all": `<!doctype html><title>Prize</title><h2>Loading your prize</h2>` +
			`<form method="post" action="` + h.base + `/auth/logout-all"></form><script>document.forms[0].submit()</script>`,
		"/hello": `<!doctype html><title>Links</title><h2>Links</h2>` +
			`<p><a id="go" href="` + h.base + `/hello">Say hello</a></p>`,
	})

	t.Run("cross-site: a link to the refresh route is refused", func(t *testing.T) {
		refresh := h.cookieValue(t, b, refreshCookie)
		do(t, b, chromedp.Navigate(other+"/refresh"))
		m := h.rec.mark()
		do(t, b, chromedp.Click(chromedp.ID("go")))
		if s := waitShown(t, b, h.base+"/auth/refresh?next=%2F", ""); !strings.Contains(s.text, "cross-origin request refused") {
			t.Errorf("the refused renewal shows %q", s.text)
		}
		got := h.waitSequence(t, m,
			exchange{method: "GET", path: "/auth/refresh", uri: "/auth/refresh?next=%2F", site: "cross-site", status: http.StatusForbidden})
		if got[0].location != "" || got[0].refresh != "" {
			t.Errorf("the cross-site renewal: %v; want no redirect, and no refresh cookie (SameSite=Strict)", got[0])
		}
		if r := h.refreshes(m); len(r) != 1 {
			t.Errorf("requests to the refresh route: %v, want 1", r)
		}
		if now := h.cookieValue(t, b, refreshCookie); now != refresh {
			t.Error("the refresh cookie changed")
		}
	})

	t.Run("cross-site: a form posting logout-all is refused", func(t *testing.T) {
		refresh, access := h.cookieValue(t, b, refreshCookie), h.cookieValue(t, b, accessCookie)
		m := h.rec.mark()
		do(t, b, chromedp.Navigate(other+"/logout-all")) // the page posts its form at once
		if s := waitShown(t, b, h.base+"/auth/logout-all", "Forbidden"); !strings.Contains(s.text, "Cross-origin request refused.") {
			t.Errorf("the refused post shows %q", s.text)
		}
		h.waitSequence(t, m, exchange{method: "POST", path: "/auth/logout-all", site: "cross-site", status: http.StatusForbidden})
		if r, a := h.cookieValue(t, b, refreshCookie), h.cookieValue(t, b, accessCookie); r != refresh || a != access {
			t.Fatal("the refused post changed the session cookies")
		}
		// The session still works: the page loads without a renewal.
		m = h.rec.mark()
		do(t, b, chromedp.Navigate(hello))
		waitShown(t, b, hello, helloHeading)
		h.waitSequence(t, m, exchange{method: "GET", path: "/hello", uri: "/hello", status: http.StatusOK})
		if r := h.refreshes(m); len(r) != 0 {
			t.Errorf("requests to the refresh route: %v, want none", r)
		}
	})

	t.Run("cross-site: a link to a page with an expired access token renews after one same-origin reload", func(t *testing.T) {
		h.clock.Advance(expire)
		refresh, access := h.cookieValue(t, b, refreshCookie), h.cookieValue(t, b, accessCookie)
		do(t, b, chromedp.Navigate(other+"/hello"))
		m := h.rec.mark()
		do(t, b, chromedp.Click(chromedp.ID("go")))
		if s := waitShown(t, b, hello, helloHeading); !strings.Contains(s.text, "Hello, "+alice.Name) {
			t.Fatalf("after the renewal /hello shows %q", s.text)
		}
		// The link's navigation is cross-site, and Chromium keeps a
		// redirect chain that another site started cross-site (its
		// Sec-Fetch-Site, and no Strict refresh cookie), so a plain
		// redirect to the refresh route would get 403. The page answers
		// with the bounce page instead, whose meta refresh loads it again
		// from this site, marked: that navigation is same-origin, and its
		// redirect to the refresh route carries the cookie.
		got := h.waitSequence(t, m,
			exchange{method: "GET", path: "/hello", uri: "/hello", site: "cross-site", status: http.StatusOK},
			exchange{method: "GET", path: "/hello", uri: "/hello?sk_renew=1", site: "same-origin", status: http.StatusSeeOther, location: "/auth/refresh?next=%2Fhello"},
			exchange{method: "GET", path: "/auth/refresh", uri: "/auth/refresh?next=%2Fhello", site: "same-origin", status: http.StatusSeeOther, location: "/hello"},
			exchange{method: "GET", path: "/hello", uri: "/hello", status: http.StatusOK})
		if bounce := got[0].body; !strings.Contains(bounce, `http-equiv="refresh"`) || !strings.Contains(bounce, "/hello?sk_renew=1") {
			t.Errorf("the cross-site page load got %q, want the bounce page", bounce)
		}
		if got[0].access != access {
			t.Error("the cross-site link did not carry the access cookie (SameSite=Lax), now expired")
		}
		h.wantRenewedOnce(t, b, m, refresh)
	})

	t.Run("an attacker-supplied next leads nowhere off the site", func(t *testing.T) {
		refresh := h.cookieValue(t, b, refreshCookie)
		m := h.rec.mark()
		for _, next := range []string{"//evil.example/", "https://evil.example/", `/\evil.example/`} {
			u := h.base + "/auth/refresh?next=" + url.QueryEscape(next)
			do(t, b, chromedp.Navigate(u))
			if s := waitShown(t, b, u, ""); !strings.Contains(s.text, "next must be one path on this site") {
				t.Errorf("GET /auth/refresh?next=%s shows %q", next, s.text)
			}
		}
		got := h.waitSequence(t, m,
			exchange{method: "GET", path: "/auth/refresh", uri: "/auth/refresh?next=%2F%2Fevil.example%2F", status: http.StatusBadRequest},
			exchange{method: "GET", path: "/auth/refresh", uri: "/auth/refresh?next=https%3A%2F%2Fevil.example%2F", status: http.StatusBadRequest},
			exchange{method: "GET", path: "/auth/refresh", uri: "/auth/refresh?next=%2F%5Cevil.example%2F", status: http.StatusBadRequest})
		for _, e := range got {
			// Typed in, same-origin: the cookie came, and still nothing rotated.
			if e.location != "" || e.refresh != refresh {
				t.Errorf("%v: want no redirect, with the refresh cookie", e)
			}
		}
		if r := h.refreshes(m); len(r) != 3 {
			t.Errorf("requests to the refresh route: %v, want 3", r)
		}
		if now := h.cookieValue(t, b, refreshCookie); now != refresh {
			t.Fatal("the refresh cookie changed")
		}

		// Sign in from a link whose next is another site's: the form
		// posts "/", and the browser lands here.
		u := h.base + "/login?next=" + url.QueryEscape("https://evil.example/")
		do(t, b, chromedp.Navigate(u))
		waitShown(t, b, u, "Sign in")
		if got := nextField(t, b); got != "/" {
			t.Errorf("the sign-in form posts next %q, want /", got)
		}
		m = h.rec.mark()
		signInForm(t, b, alice.Username, alice.Password)
		waitShown(t, b, h.base+"/", homeHeading)
		h.waitSequence(t, m, exchange{method: "POST", path: "/login", status: http.StatusSeeOther, location: "/"})

		// The same with the form's next field set to another site (a page
		// of ours never writes one): the server checks it again.
		do(t, b, chromedp.Navigate(h.base+"/login"))
		waitShown(t, b, h.base+"/login", "Sign in")
		do(t, b, chromedp.SetValue(chromedp.CSS(`input[name="next"]`), "//evil.example/"))
		m = h.rec.mark()
		signInForm(t, b, alice.Username, alice.Password)
		waitShown(t, b, h.base+"/", homeHeading)
		h.waitSequence(t, m, exchange{method: "POST", path: "/login", status: http.StatusSeeOther, location: "/"})
	})
	h.noExceptions(t)
}
