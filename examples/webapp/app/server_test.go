package app

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sessionkit/sessionkit/store/memstore"
)

// clock is a settable clock that starts at the wall clock's now (the
// cookie jar expires cookies by the wall clock) and only moves forward.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// site is the webapp served over https with the secure cookie defaults, and
// a client that keeps cookies and does not follow redirects.
type site struct {
	t     *testing.T
	srv   *httptest.Server
	clock *clock
}

func newSite(t *testing.T) *site {
	t.Helper()
	s := &site{t: t, clock: &clock{t: time.Now()}}
	s.srv = httptest.NewUnstartedServer(nil)
	h, err := New(Config{Issuer: "https://" + s.srv.Listener.Addr().String(), Store: memstore.New(),
		BcryptCost: bcrypt.MinCost, Now: s.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s.srv.Config.Handler = h
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)
	return s
}

// browser is a client with its own cookie jar.
func (s *site) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := *s.srv.Client() // trusts the server's certificate; shares its transport
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// do sends a request marked as a browser marks a same-origin one (or as
// fetchSite says) and returns the status, the Location and the body.
func (s *site) do(c *http.Client, method, path string, form url.Values, fetchSite string) (int, string, string) {
	s.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r, err := http.NewRequest(method, s.srv.URL+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r.Header.Set("Sec-Fetch-Site", fetchSite)
	res, err := c.Do(r)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(b)
}

func (s *site) login(c *http.Client, user, password string) {
	s.t.Helper()
	status, loc, body := s.do(c, "POST", "/login", url.Values{"username": {user}, "password": {password}}, "same-origin")
	if status != http.StatusSeeOther || loc != "/" {
		s.t.Fatalf("login: %d %q %s", status, loc, body)
	}
}

func (s *site) cookies(c *http.Client) map[string]string {
	u, _ := url.Parse(s.srv.URL + "/auth/x")
	out := map[string]string{}
	for _, ck := range c.Jar.Cookies(u) {
		out[ck.Name] = ck.Value
	}
	return out
}

// renews follows a page load that PageMiddleware sends for a renewal: 303
// to the refresh route, then 303 from there; it returns where the second
// redirect goes.
func (s *site) renews(c *http.Client, path string) string {
	s.t.Helper()
	status, loc, body := s.do(c, "GET", path, nil, "same-origin")
	if status != http.StatusSeeOther || loc != "/auth/refresh?next="+url.QueryEscape(path) {
		s.t.Fatalf("GET %s: %d %q %s; want a renewal", path, status, loc, body)
	}
	status, loc, body = s.do(c, "GET", loc, nil, "same-origin")
	if status != http.StatusSeeOther {
		s.t.Fatalf("renewal of %s: %d %s", path, status, body)
	}
	return loc
}

func TestWebappFlow(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	b := s.browser()

	// Not signed in: the page tries a renewal, which sends it to sign in.
	if loc := s.renews(b, "/hello"); loc != "/login?next=%2Fhello" {
		t.Fatalf("renewal without a session: %q", loc)
	}
	if status, _, body := s.do(b, "POST", "/login", url.Values{"username": {"alice"}, "password": {"nope"}}, "same-origin"); status != http.StatusUnauthorized || !strings.Contains(body, "Wrong username or password") {
		t.Fatalf("wrong password: %d %s", status, body)
	}
	if status, _, _ := s.do(b, "POST", "/login", url.Values{"username": {"alice"}, "password": {"wonderland"}}, "cross-site"); status != http.StatusForbidden {
		t.Fatalf("cross-site login: %d", status)
	}
	if len(s.cookies(b)) != 0 {
		t.Fatal("a refused login set cookies")
	}
	if status, loc, _ := s.do(b, "POST", "/login", url.Values{"username": {"alice"}, "password": {"wonderland"}, "next": {"//evil.example/"}}, "same-origin"); status != http.StatusSeeOther || loc != "/" {
		t.Fatalf("login with an attacker's next: %d %q", status, loc)
	}
	ck := s.cookies(b)
	if ck["__Host-sk_access"] == "" || ck["__Secure-sk_refresh"] == "" {
		t.Fatalf("cookies after login: %v", ck)
	}
	if status, _, body := s.do(b, "GET", "/hello", nil, "none"); status != http.StatusOK || !strings.Contains(body, "Hello, Alice Liddell") {
		t.Fatalf("GET /hello signed in: %d %s", status, body)
	}

	// The access token expires: the page renews the session and comes back.
	s.clock.Advance(16 * time.Minute)
	if loc := s.renews(b, "/hello"); loc != "/hello" {
		t.Fatalf("renewal: %q", loc)
	}
	if s.cookies(b)["__Secure-sk_refresh"] == ck["__Secure-sk_refresh"] {
		t.Fatal("the refresh cookie did not rotate")
	}
	if status, _, body := s.do(b, "GET", "/hello", nil, "same-origin"); status != http.StatusOK || !strings.Contains(body, "Hello, Alice Liddell") {
		t.Fatalf("after renewal: %d %s", status, body)
	}
	// An attacker's next, a cross-site request to the refresh route: refused.
	if status, loc, _ := s.do(b, "GET", "/auth/refresh?next="+url.QueryEscape("//evil.example/"), nil, "same-origin"); status != http.StatusBadRequest || loc != "" {
		t.Fatalf("attacker's next: %d %q", status, loc)
	}
	if status, _, _ := s.do(b, "GET", "/auth/refresh?next=%2F", nil, "cross-site"); status != http.StatusForbidden {
		t.Fatalf("cross-site renewal: %d", status)
	}

	// A form posted with an expired access token goes home, to be posted
	// again after the renewal; a cross-site one is refused.
	other := s.browser()
	s.login(other, "alice", "wonderland")
	s.clock.Advance(16 * time.Minute)
	if status, loc, _ := s.do(b, "POST", "/auth/logout-all", url.Values{}, "cross-site"); status != http.StatusForbidden || loc != "" {
		t.Fatalf("cross-site logout-all: %d %q", status, loc)
	}
	if status, loc, _ := s.do(b, "POST", "/auth/logout-all", url.Values{}, "same-origin"); status != http.StatusSeeOther || loc != "/" {
		t.Fatalf("logout-all with an expired token: %d %q", status, loc)
	}
	if loc := s.renews(b, "/"); loc != "/" {
		t.Fatalf("renewal: %q", loc)
	}
	if status, loc, _ := s.do(b, "POST", "/auth/logout-all", url.Values{}, "same-origin"); status != http.StatusSeeOther || loc != "/login?everywhere" {
		t.Fatalf("logout-all: %d %q", status, loc)
	}
	if len(s.cookies(b)) != 0 {
		t.Fatalf("cookies left after logout-all: %v", s.cookies(b))
	}
	// The other browser's next page: the renewal fails, and it is sent to
	// sign in.
	if loc := s.renews(other, "/"); loc != "/login?next=%2F" {
		t.Fatalf("other browser after logout-all: %q", loc)
	}
}

func TestWebappSessionsAndLogout(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	laptop, phone := s.browser(), s.browser()
	s.login(laptop, "alice", "wonderland")
	s.login(phone, "alice", "wonderland")
	s.login(s.browser(), "bob", "builder")
	_, _, home := s.do(laptop, "GET", "/", nil, "none")
	if n := strings.Count(home, `name="id"`); n != 2 {
		t.Fatalf("home lists %d sessions, want alice's 2:\n%s", n, home)
	}
	// Revoke the one that is not this browser's.
	var otherID string
	for _, row := range strings.Split(home, "<tr")[1:] {
		if !strings.Contains(row, "(this browser)") && strings.Contains(row, `name="id"`) {
			_, rest, _ := strings.Cut(row, `name="id" value="`)
			otherID, _, _ = strings.Cut(rest, `"`)
		}
	}
	if otherID == "" {
		t.Fatal("no other session listed")
	}
	if status, loc, _ := s.do(laptop, "POST", "/auth/sessions/revoke", url.Values{"id": {otherID}}, "same-origin"); status != http.StatusSeeOther || loc != "/" {
		t.Fatalf("revoke: %d %q", status, loc)
	}
	if loc := s.renews(phone, "/"); loc != "/login?next=%2F" {
		t.Fatalf("the revoked browser: %q", loc)
	}
	if status, loc, _ := s.do(laptop, "POST", "/auth/logout", url.Values{}, "same-origin"); status != http.StatusSeeOther || loc != "/login?bye" {
		t.Fatalf("logout: %d %q", status, loc)
	}
	if len(s.cookies(laptop)) != 0 {
		t.Fatal("logout left cookies")
	}
}
