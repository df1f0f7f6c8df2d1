package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/examples/spa/app"
	"github.com/sessionkit/sessionkit/store/memstore"
)

const (
	// accessTTL is short, so that the browser drops the access cookie
	// while the test watches.
	accessTTL     = 8 * time.Second
	accessCookie  = "__Host-sk_access"
	refreshCookie = "__Secure-sk_refresh"
	// wait bounds every wait for the page; the page normally answers in
	// well under a second.
	wait = 30 * time.Second
)

// findBrowser returns the Chromium to drive: $CHROMIUM, or the first of the
// usual names on the PATH. Without one the test skips, or fails under
// CI=true.
func findBrowser(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium found (set CHROMIUM, or apt-get install chromium); under CI=true the browser tests must run")
	}
	t.Skip("no Chromium found: set CHROMIUM or install chromium to run the browser tests")
	return ""
}

// offsetClock is the server's clock: the wall clock (the browser expires
// cookies by it) plus an offset the test moves forward, to step past the
// reuse grace window without sleeping through it.
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *offsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// exchange is one request the server answered.
type exchange struct {
	method, path string
	uri          string // path and query
	site         string // Sec-Fetch-Site
	status       int
	location     string // the Location of the answer
	body         string // the answer's first bodyPrefix bytes
	access       string // the access cookie the request carried
	refresh      string // the refresh cookie the request carried
}

// bodyPrefix is how much of an answer's body an exchange keeps.
const bodyPrefix = 512

// String shows an exchange without the cookies' values or the body.
func (e exchange) String() string {
	s := fmt.Sprintf("%s %s %d", e.method, e.uri, e.status)
	if e.location != "" {
		s += " -> " + e.location
	}
	return s + fmt.Sprintf(" (Sec-Fetch-Site %q, access cookie: %v, refresh cookie: %v)", e.site, e.access != "", e.refresh != "")
}

// matches reports whether e is an exchange that want describes: its
// method, path and status, and its uri, Location and Sec-Fetch-Site where
// want gives them.
func (want exchange) matches(e exchange) bool {
	return e.method == want.method && e.path == want.path && e.status == want.status &&
		(want.uri == "" || e.uri == want.uri) && (want.location == "" || e.location == want.location) &&
		(want.site == "" || e.site == want.site)
}

// recorder wraps the app: it logs every exchange and can hold refresh
// requests until several have arrived, to make tabs race for sure.
type recorder struct {
	next http.Handler

	mu        sync.Mutex
	log       []exchange
	holdUntil int           // hold refreshes until this many arrived; 0: off
	arrived   int           // refreshes arrived since hold was armed
	release   chan struct{} // closed when holdUntil refreshes arrived
}

// hold makes the next n refresh requests wait for one another.
func (rc *recorder) hold(n int) {
	rc.mu.Lock()
	rc.holdUntil, rc.arrived, rc.release = n, 0, make(chan struct{})
	rc.mu.Unlock()
}

// unhold ends hold and reports how many refreshes arrived under it.
func (rc *recorder) unhold() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := rc.arrived
	rc.holdUntil = 0
	return n
}

// mark returns the position of the next exchange.
func (rc *recorder) mark() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.log)
}

// since returns the exchanges from position m on.
func (rc *recorder) since(m int) []exchange {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.log[m:])
}

type statusWriter struct {
	http.ResponseWriter
	status int
	body   []byte // the first bodyPrefix bytes
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body = append(w.body, b[:min(len(b), bodyPrefix-len(w.body))]...)
	return w.ResponseWriter.Write(b)
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var at, rt string
	if c, err := r.Cookie(accessCookie); err == nil {
		at = c.Value
	}
	if c, err := r.Cookie(refreshCookie); err == nil {
		rt = c.Value
	}
	if r.Method == http.MethodPost && r.URL.Path == "/auth/refresh" {
		rc.mu.Lock()
		want, release := rc.holdUntil, rc.release
		if want > 0 {
			rc.arrived++
			if rc.arrived == want {
				close(release)
			}
		}
		rc.mu.Unlock()
		if want > 0 {
			// A safety net, not a timing assertion: unhold reports how
			// many refreshes really arrived together.
			select {
			case <-release:
			case <-time.After(wait):
			case <-r.Context().Done():
			}
		}
	}
	sw := &statusWriter{ResponseWriter: w}
	rc.next.ServeHTTP(sw, r)
	rc.mu.Lock()
	rc.log = append(rc.log, exchange{method: r.Method, path: r.URL.Path, uri: r.URL.RequestURI(), site: r.Header.Get("Sec-Fetch-Site"),
		status: sw.status, location: sw.Header().Get("Location"), body: string(sw.body), access: at, refresh: rt})
	rc.mu.Unlock()
}

// harness is a demo served over https (the real secure cookie defaults)
// and one Chromium.
type harness struct {
	base    string
	clock   *offsetClock
	rec     *recorder
	browser context.Context

	mu         sync.Mutex
	exceptions []string
}

// newHarness serves the SPA demo.
func newHarness(t *testing.T) *harness {
	t.Helper()
	return serveDemo(t, func(base string, now func() time.Time, log *slog.Logger) (http.Handler, error) {
		a, err := app.New(app.Config{
			Issuer:     base,
			Store:      memstore.New(),
			AccessTTL:  accessTTL,
			Now:        now,
			BcryptCost: bcrypt.MinCost,
			Logger:     log,
		})
		return a, err
	})
}

// serveDemo serves the demo that build makes for the server's URL (its
// issuer identifier), the harness's clock and a logger to the test log,
// and starts Chromium.
func serveDemo(t *testing.T, build func(base string, now func() time.Time, log *slog.Logger) (http.Handler, error)) *harness {
	t.Helper()
	exe := findBrowser(t)
	h := &harness{clock: &offsetClock{}}
	srv := httptest.NewUnstartedServer(nil)
	h.base = "https://" + srv.Listener.Addr().String()
	handler, err := build(h.base, h.clock.Now, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	h.rec = &recorder{next: handler}
	srv.Config.Handler = h.rec
	srv.StartTLS()
	t.Cleanup(srv.Close)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 900),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// httptest's certificate: the page is still https, so Secure
		// and prefixed cookies behave as in production.
		chromedp.Flag("ignore-certificate-errors", true),
		// The tests reach their servers by IP address; no host name is
		// looked up (the webapp test's evil.example stays unresolved).
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE 127.0.0.2"),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("starting Chromium (%s): %v", exe, err)
	}
	h.browser = browserCtx
	return h
}

// testWriter sends the app's log records to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// profile opens a browser context of its own (its own cookie jar, like a
// separate browser profile) with one tab, and fails the test if a page in
// it throws an uncaught exception.
func (h *harness) profile(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(h.browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	h.watchConsole(t, ctx)
	return ctx
}

// tab opens another tab in the browser context of ctx (same cookies).
func (h *harness) tab(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	tabCtx, cancel := chromedp.NewContext(ctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatal(err)
	}
	h.watchConsole(t, tabCtx)
	return tabCtx
}

// watchConsole collects the uncaught exceptions of the tab of ctx; the test
// fails on them at its end (noExceptions).
func (h *harness) watchConsole(t *testing.T, ctx context.Context) {
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() {
				h.mu.Lock()
				h.exceptions = append(h.exceptions, m.String())
				h.mu.Unlock()
			}
		}
	}()
}

func (h *harness) noExceptions(t *testing.T) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.exceptions {
		t.Errorf("uncaught exception in a page: %s", e)
	}
}

// do runs actions with a deadline.
func do(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := chromedp.Do(tctx, actions...); err != nil {
		t.Fatal(err)
	}
}

func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// waitView waits until the page shows view ("login" or "app").
func waitView(t *testing.T, ctx context.Context, view string) {
	t.Helper()
	run(t, ctx, chromedp.Poll[bool](fmt.Sprintf(`document.body.dataset.view === %q`, view),
		chromedp.WithPollingTimeout(wait)))
}

func view(t *testing.T, ctx context.Context) string {
	t.Helper()
	return run(t, ctx, chromedp.Evaluate[string](`document.body.dataset.view`))
}

// open loads the page and waits until it has decided which view to show.
func (h *harness) open(t *testing.T, ctx context.Context) string {
	t.Helper()
	do(t, ctx, chromedp.Navigate(h.base+"/"))
	run(t, ctx, chromedp.Poll[bool](`document.body.dataset.view !== "loading"`, chromedp.WithPollingTimeout(wait)))
	return view(t, ctx)
}

// signIn types the credentials into the form and waits for the app view.
func signIn(t *testing.T, ctx context.Context, user, password string) {
	t.Helper()
	waitView(t, ctx, "login")
	do(t, ctx,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("username").value = ""; document.getElementById("password").value = ""`),
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("login-button")),
	)
	waitView(t, ctx, "app")
	if got := run(t, ctx, chromedp.Text(chromedp.ID("who-user"))); got != user {
		t.Fatalf("signed in as %q, want %q", got, user)
	}
}

// waitSessions waits until the page lists n sessions.
func waitSessions(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	run(t, ctx, chromedp.Poll[bool](fmt.Sprintf(`document.getElementById("sessions").dataset.count === "%d"`, n),
		chromedp.WithPollingTimeout(wait)))
}

// callAPI clicks "Call the protected API" and returns the view the page
// ends in: "app" once the answer is shown, "login" if the session ended.
func callAPI(t *testing.T, ctx context.Context) string {
	t.Helper()
	before := run(t, ctx, chromedp.Evaluate[string](`document.getElementById("api-result").dataset.calls`))
	do(t, ctx, chromedp.Click(chromedp.ID("call-api")))
	run(t, ctx, chromedp.Poll[bool](fmt.Sprintf(
		`document.body.dataset.view === "login" || document.getElementById("api-result").dataset.calls !== %q`, before),
		chromedp.WithPollingTimeout(wait)))
	v := view(t, ctx)
	if v == "app" {
		if got := run(t, ctx, chromedp.Text(chromedp.ID("api-result"))); !strings.Contains(got, "This answer needed a valid access token") {
			t.Fatalf("API result %q", got)
		}
	}
	return v
}

// cookies returns the browser's cookies for the refresh route, where both
// session cookies apply, by name.
func (h *harness) cookies(t *testing.T, ctx context.Context) map[string]*network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{h.base + "/auth/refresh"}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*network.Cookie{}
	for _, c := range res.Cookies {
		out[c.Name] = c
	}
	return out
}

func (h *harness) cookieValue(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	if c := h.cookies(t, ctx)[name]; c != nil {
		return c.Value
	}
	return ""
}

// dropAccessCookie deletes the access cookie, as its expiry would.
func (h *harness) dropAccessCookie(t *testing.T, ctx context.Context) {
	t.Helper()
	if _, err := chromedp.Call(ctx, network.DeleteCookies, network.DeleteCookiesParams{Name: accessCookie, URL: h.base + "/"}); err != nil {
		t.Fatal(err)
	}
	if h.cookieValue(t, ctx, accessCookie) != "" {
		t.Fatal("the access cookie is still there")
	}
}

// callAPIRefreshing calls the API from a page whose access cookie is gone
// and checks that the page refreshed silently: the server saw the call
// refused, a refresh, and the call again, and the page shows the answer.
func (h *harness) callAPIRefreshing(t *testing.T, ctx context.Context) {
	t.Helper()
	m := h.rec.mark()
	if v := callAPI(t, ctx); v != "app" {
		t.Fatalf("after the access cookie expired the page shows %q, want the API's answer", v)
	}
	wantSequence(t, h.rec.since(m),
		exchange{method: "GET", path: "/api/hello", status: http.StatusUnauthorized},
		exchange{method: "POST", path: "/auth/refresh", status: http.StatusOK},
		exchange{method: "GET", path: "/api/hello", status: http.StatusOK})
}

// inSequence returns the exchanges of log that want describes, in this
// order (others may come between them), and whether it found them all.
func inSequence(log []exchange, want ...exchange) ([]exchange, bool) {
	var got []exchange
	for _, e := range log {
		if len(got) < len(want) && want[len(got)].matches(e) {
			got = append(got, e)
		}
	}
	return got, len(got) == len(want)
}

// wantSequence checks that log holds the wanted exchanges in this order
// (see inSequence).
func wantSequence(t *testing.T, log []exchange, want ...exchange) {
	t.Helper()
	if _, ok := inSequence(log, want...); !ok {
		t.Fatalf("the server did not see %v in that order; it saw %v", want, log)
	}
}

func ptr[T any](v T) *T { return &v }

func TestSPAInChromium(t *testing.T) {
	h := newHarness(t)
	alice := app.DemoLogins[0]
	bob := app.DemoLogins[1]

	// Context A: alice's browser, used by the first four steps in turn.
	a := h.profile(t)

	t.Run("sign in, reload, cookie attributes, screenshot", func(t *testing.T) {
		if v := h.open(t, a); v != "login" {
			t.Fatalf("first visit shows %q, want the sign-in form", v)
		}
		signIn(t, a, alice.Username, alice.Password)

		// The cookies as Chromium stores them: point 1's defaults.
		ck := h.cookies(t, a)
		at, rt := ck[accessCookie], ck[refreshCookie]
		if at == nil || rt == nil {
			t.Fatalf("cookies after sign-in: %v", ck)
		}
		host := strings.TrimPrefix(h.base, "https://")
		host = host[:strings.LastIndex(host, ":")]
		now := float64(time.Now().Unix())
		for _, c := range []struct {
			got      *network.Cookie
			path     string
			sameSite network.CookieSameSite
			maxLife  time.Duration
		}{
			{at, "/", network.CookieSameSiteLax, accessTTL},
			{rt, "/auth", network.CookieSameSiteStrict, sessionkit.DefaultRefreshTTL},
		} {
			g := c.got
			if g.Path != c.path || !g.Secure || !g.HTTPOnly || g.SameSite != c.sameSite || g.Domain != host || g.Session || g.PartitionKey != nil {
				t.Errorf("%s: Path=%q Secure=%v HttpOnly=%v SameSite=%q Domain=%q Session=%v PartitionKey=%v; want Path=%q Secure HttpOnly SameSite=%q host-only %q",
					g.Name, g.Path, g.Secure, g.HTTPOnly, g.SameSite, g.Domain, g.Session, g.PartitionKey, c.path, c.sameSite, host)
			}
			// Max-Age is the token's remaining lifetime.
			if left := g.Expires - now; left <= 0 || left > c.maxLife.Seconds()+1 {
				t.Errorf("%s expires in %.0fs, want within its token's lifetime %v", g.Name, left, c.maxLife)
			}
		}
		// HttpOnly: the page's script cannot read them.
		if dc := run(t, a, chromedp.Evaluate[string](`document.cookie`)); strings.Contains(dc, "sk_") {
			t.Errorf("document.cookie shows the session cookies: %q", dc)
		}

		// A reload keeps the session.
		do(t, a, chromedp.Reload())
		run(t, a, chromedp.Poll[bool](`document.body.dataset.view !== "loading"`, chromedp.WithPollingTimeout(wait)))
		if v := view(t, a); v != "app" {
			t.Fatalf("after a reload the page shows %q", v)
		}
		waitSessions(t, a, 1)

		shot := run(t, a, chromedp.CaptureScreenshot())
		saveScreenshot(t, shot, "spa-signed-in.png")
	})

	t.Run("silent refresh when the access cookie expires", func(t *testing.T) {
		before := h.cookieValue(t, a, refreshCookie)
		// Chromium drops the access cookie by its Max-Age, the token's
		// lifetime; wait for that to happen.
		run(t, a, func(ctx context.Context, tab *chromedp.Target) (chromedp.Void, error) {
			for {
				res, err := cdp.Call(ctx, tab, network.GetCookies, network.GetCookiesParams{URLs: []string{h.base + "/"}})
				if err != nil {
					return chromedp.Void{}, err
				}
				if !slices.ContainsFunc(res.Cookies, func(c *network.Cookie) bool { return c.Name == accessCookie }) {
					return chromedp.Void{}, nil
				}
				select {
				case <-ctx.Done():
					return chromedp.Void{}, fmt.Errorf("the access cookie outlived its Max-Age: %w", ctx.Err())
				case <-time.After(250 * time.Millisecond):
				}
			}
		})
		h.callAPIRefreshing(t, a)
		after := h.cookieValue(t, a, refreshCookie)
		if after == "" || after == before {
			t.Fatal("the refresh cookie did not rotate")
		}
		if h.cookieValue(t, a, accessCookie) == "" {
			t.Fatal("no new access cookie")
		}
	})

	t.Run("two tabs refreshing at once both stay signed in", func(t *testing.T) {
		a2 := h.tab(t, a)
		if v := h.open(t, a2); v != "app" {
			t.Fatalf("the second tab shows %q", v)
		}
		waitSessions(t, a2, 1) // the tab's page load is over: no request in flight
		shared := h.cookieValue(t, a, refreshCookie)
		h.dropAccessCookie(t, a)
		// Both tabs' next call gets 401 and posts the same refresh cookie;
		// the server holds the first until the second has arrived.
		tabs := []context.Context{a, a2}
		calls := make([]string, len(tabs))
		for i, tab := range tabs {
			calls[i] = run(t, tab, chromedp.Evaluate[string](`document.getElementById("api-result").dataset.calls`))
		}
		h.rec.hold(2)
		m := h.rec.mark()
		var wg sync.WaitGroup
		views := make([]string, len(tabs))
		for i, tab := range tabs {
			wg.Go(func() {
				tctx, cancel := context.WithTimeout(tab, wait)
				defer cancel()
				if err := chromedp.Do(tctx, chromedp.Click(chromedp.ID("call-api"))); err != nil {
					t.Error(err)
					return
				}
				_, err := chromedp.Run(tctx, chromedp.Poll[bool](fmt.Sprintf(
					`document.body.dataset.view === "login" || document.getElementById("api-result").dataset.calls !== %q`, calls[i]),
					chromedp.WithPollingTimeout(wait)))
				if err != nil {
					t.Error(err)
					return
				}
				views[i], err = chromedp.Run(tctx, chromedp.Evaluate[string](`document.body.dataset.view`))
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := h.rec.unhold(); n != 2 {
			t.Fatalf("%d refreshes arrived together, want 2", n)
		}
		for i, v := range views {
			if v != "app" {
				t.Errorf("tab %d shows %q after the race, want the app", i+1, v)
			}
		}
		var refreshes []exchange
		for _, e := range h.rec.since(m) {
			if e.path == "/auth/refresh" {
				refreshes = append(refreshes, e)
			}
		}
		if len(refreshes) != 2 || refreshes[0].status != http.StatusOK || refreshes[1].status != http.StatusOK ||
			refreshes[0].refresh != shared || refreshes[1].refresh != shared {
			same := len(refreshes) == 2 && refreshes[0].refresh == shared && refreshes[1].refresh == shared
			t.Fatalf("refreshes: %v (both with the shared cookie: %v); want two 200s for the same cookie", refreshes, same)
		}
		// Both go on working.
		for _, tab := range []context.Context{a, a2} {
			if v := callAPI(t, tab); v != "app" {
				t.Fatalf("a tab lost its session after the race: %q", v)
			}
		}
	})

	t.Run("an old refresh cookie replayed elsewhere ends the session in both", func(t *testing.T) {
		old := h.cookieValue(t, a, refreshCookie)
		h.dropAccessCookie(t, a)
		if v := callAPI(t, a); v != "app" { // rotates: old is now spent
			t.Fatalf("rotation: %q", v)
		}
		if h.cookieValue(t, a, refreshCookie) == old {
			t.Fatal("the refresh cookie did not rotate")
		}
		h.clock.Advance(sessionkit.DefaultReuseGrace + time.Second) // past the grace window

		// A thief's browser holds the old cookie.
		b := h.profile(t)
		_, err := chromedp.Call(b, network.SetCookie, network.SetCookieParams{
			Name: refreshCookie, Value: old, URL: h.base + "/auth/refresh", Path: "/auth",
			Secure: ptr(true), HTTPOnly: ptr(true), SameSite: network.CookieSameSiteStrict,
		})
		if err != nil {
			t.Fatal(err)
		}
		m := h.rec.mark()
		if v := h.open(t, b); v != "login" {
			t.Fatalf("the replaying browser shows %q, want the sign-in form", v)
		}
		wantSequence(t, h.rec.since(m), exchange{method: "POST", path: "/auth/refresh", status: http.StatusUnauthorized})
		if ck := h.cookies(t, b); len(ck) != 0 {
			t.Errorf("the replaying browser keeps cookies: %v", ck)
		}
		// The legitimate browser's next request finds the session ended.
		if v := callAPI(t, a); v != "login" {
			t.Fatalf("after the replay alice's browser shows %q, want the sign-in form", v)
		}
		if ck := h.cookies(t, a); len(ck) != 0 {
			t.Errorf("alice's browser keeps cookies: %v", ck)
		}
	})

	t.Run("logout-all in one browser logs out the other on its next request", func(t *testing.T) {
		x, y := h.profile(t), h.profile(t)
		for _, p := range []context.Context{x, y} {
			h.open(t, p)
			signIn(t, p, bob.Username, bob.Password)
		}
		waitSessions(t, y, 2)
		do(t, y, chromedp.Click(chromedp.ID("logout-all")))
		waitView(t, y, "login")
		if v := callAPI(t, x); v != "login" {
			t.Fatalf("the other browser shows %q after logout-all, want the sign-in form", v)
		}
		if ck := h.cookies(t, x); len(ck) != 0 {
			t.Errorf("cookies left: %v", ck)
		}
	})

	t.Run("revoke another session, then log out", func(t *testing.T) {
		x, y := h.profile(t), h.profile(t)
		h.open(t, x)
		signIn(t, x, alice.Username, alice.Password)
		h.open(t, y)
		signIn(t, y, alice.Username, alice.Password)
		do(t, x, chromedp.Click(chromedp.ID("reload-sessions")))
		waitSessions(t, x, 2)
		do(t, x, chromedp.Click(chromedp.CSS(`#sessions tr:not(.current) button.revoke`)))
		waitSessions(t, x, 1)
		if v := callAPI(t, y); v != "login" {
			t.Fatalf("the revoked browser shows %q", v)
		}
		do(t, x, chromedp.Click(chromedp.ID("logout")))
		waitView(t, x, "login")
		if ck := h.cookies(t, x); len(ck) != 0 {
			t.Errorf("cookies left after logout: %v", ck)
		}
		if v := h.open(t, x); v != "login" {
			t.Fatalf("after logout a reload shows %q", v)
		}
	})
	h.noExceptions(t)
}

// saveScreenshot checks that a PNG screenshot is not blank (its pixels
// vary; it has many colours, and much of it is not its commonest colour,
// the background) and saves it under the test's output directory: go
// test's -outputdir, else e2e/artifacts.
func saveScreenshot(t *testing.T, shot []byte, name string) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < 100 || b.Dy() < 100 {
		t.Fatalf("the screenshot is %dx%d", b.Dx(), b.Dy())
	}
	var n, sum, sumSq float64
	colours := map[[3]uint32]int{}
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, bl >> 8}]++
			l := (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257 // 0..255
			n, sum, sumSq = n+1, sum+l, sumSq+l*l
		}
	}
	mean := sum / n
	if variance := sumSq/n - mean*mean; variance < 100 {
		t.Errorf("%s looks blank: luminance variance %.1f (mean %.1f)", name, variance, mean)
	}
	background := 0
	for _, c := range colours {
		background = max(background, c)
	}
	if other := 1 - float64(background)/n; len(colours) < 32 || other < 0.05 {
		t.Errorf("%s looks blank: %d colours, %.1f%% of it not the background", name, len(colours), 100*other)
	}
	dir := "artifacts"
	if f := flag.Lookup("test.outputdir"); f != nil && f.Value.String() != "" {
		dir = f.Value.String()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	t.Logf("screenshot: %s", abs)
}
