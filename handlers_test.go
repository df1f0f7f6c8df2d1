package sessionkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

const (
	refreshCookie = "__Secure-sk_refresh"
	evilOrigin    = "https://evil.example"
)

// browserJar plays a browser for the handler tests: it keeps the cookies the
// answers set (a Max-Age of 0 deletes), sends each where a browser would
// (by path) and, unless told otherwise, marks its requests same-origin with
// Sec-Fetch-Site and Origin as a browser does.
type browserJar struct {
	t       *testing.T
	h       http.Handler
	ua      string
	cookies map[string]*http.Cookie
}

func newBrowser(t *testing.T, h http.Handler, ua string) *browserJar {
	return &browserJar{t: t, h: h, ua: ua, cookies: map[string]*http.Cookie{}}
}

// fork returns a second browser holding copies of b's cookies, as a thief
// or a second tab would.
func (b *browserJar) fork() *browserJar {
	c := newBrowser(b.t, b.h, b.ua)
	for n, ck := range b.cookies {
		cp := *ck
		c.cookies[n] = &cp
	}
	return c
}

func (b *browserJar) access() string  { return b.value(accessCookie) }
func (b *browserJar) refresh() string { return b.value(refreshCookie) }

func (b *browserJar) value(name string) string {
	if c := b.cookies[name]; c != nil {
		return c.Value
	}
	return ""
}

// request builds a request carrying b's cookies for target's path, marked
// same-origin; mods run last and may change that.
func (b *browserJar) request(method, target, body string, mods ...func(*http.Request)) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	for _, c := range b.cookies {
		if c.Path == "/" || r.URL.Path == c.Path || strings.HasPrefix(r.URL.Path, c.Path+"/") {
			r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	if b.ua != "" {
		r.Header.Set("User-Agent", b.ua)
	}
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.Header.Set("Origin", cookieOrigin)
	for _, m := range mods {
		m(r)
	}
	return r
}

// do serves r and keeps the cookies the answer sets.
func (b *browserJar) do(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, r)
	for n, c := range setCookies(b.t, rec) {
		if c.MaxAge < 0 {
			delete(b.cookies, n)
		} else {
			b.cookies[n] = c
		}
	}
	return rec
}

func (b *browserJar) send(method, target string, mods ...func(*http.Request)) *httptest.ResponseRecorder {
	return b.do(b.request(method, target, "", mods...))
}

// fromSite marks a request as sent by a page of another origin.
func fromSite(site, origin string) func(*http.Request) {
	return func(r *http.Request) {
		r.Header.Set("Sec-Fetch-Site", site)
		r.Header.Set("Origin", origin)
	}
}

var crossSiteEvil = fromSite(crossSite, evilOrigin)

// jsonBody makes r a JSON-body request.
func jsonBody(r *http.Request) { r.Header.Set("Content-Type", "application/json") }

// authFixture is an Issuer (on a failingStore, with a test clock) and a mux
// with the login helper and every ready-made handler mounted without method
// patterns, so that the handlers' own method checks answer.
type authFixture struct {
	iss   *Issuer
	clock *testClock
	fs    *failingStore
	c     Cookies
	h     http.Handler
}

func newAuthFixture(t *testing.T, mod func(*Config)) *authFixture {
	t.Helper()
	f := &authFixture{fs: &failingStore{}, c: Cookies{TrustedOrigins: []string{trustedOrigin}}}
	f.iss, f.clock = newTestIssuer(t, func(cfg *Config) {
		f.fs.Store = cfg.Store
		cfg.Store = f.fs
		cfg.Cookies = f.c
		if mod != nil {
			mod(cfg)
		}
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/auth/login", func(w http.ResponseWriter, r *http.Request) {
		// The application has checked the password.
		_, err := f.iss.LoginCookies(w, r, Grant{Subject: r.URL.Query().Get("user"), Scope: "read"})
		switch {
		case errors.Is(err, ErrCrossOrigin):
			writeJSONError(w, http.StatusForbidden, "forbidden", "cross-origin request refused")
		case err != nil:
			writeJSONError(w, http.StatusInternalServerError, "server_error", "login failed")
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	mux.Handle("/auth/refresh", f.iss.RefreshHandler())
	mux.Handle("/auth/logout", f.iss.LogoutHandler())
	mux.Handle("/auth/logout-all", f.iss.LogoutAllHandler())
	mux.Handle("/auth/sessions", f.iss.SessionsHandler())
	f.h = mux
	return f
}

// login logs user in from a new browser through LoginCookies.
func (f *authFixture) login(t *testing.T, user, ua string) *browserJar {
	t.Helper()
	b := newBrowser(t, f.h, ua)
	if rec := b.send("POST", "/auth/login?user="+url.QueryEscape(user)); rec.Code != http.StatusNoContent {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	if b.access() == "" || b.refresh() == "" {
		t.Fatalf("login set cookies %v", b.cookies)
	}
	return b
}

// verifies reports whether an access token still passes Verify.
func (f *authFixture) verifies(tok string) bool {
	_, err := f.iss.Verify(context.Background(), tok)
	return err == nil
}

// refreshes reports whether a refresh token still rotates, by Refresh
// itself; a spent or ended one does not.
func (f *authFixture) refreshes(tok string) bool {
	_, err := f.iss.Refresh(context.Background(), tok)
	return err == nil
}

// sessionIDs lists the ids of subject's live sessions.
func (f *authFixture) sessionIDs(t *testing.T, subject string) []string {
	t.Helper()
	list, err := f.iss.Sessions(context.Background(), subject)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(list))
	for i, s := range list {
		ids[i] = s.ID
	}
	return ids
}

// wantAnswer checks a handler's answer: status, JSON error code (none for
// "": then the body must be empty or JSON without "error"), no-store, and
// that none of secrets shows anywhere.
func wantAnswer(t *testing.T, rec *httptest.ResponseRecorder, status int, code string, secrets ...string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d (body %s)", rec.Code, status, rec.Body)
	}
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if code != "" {
		var body map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %q is not a JSON object of strings: %v", rec.Body, err)
		}
		if body["error"] != code || body["error_description"] == "" || len(body) != 2 {
			t.Errorf("body = %v, want error %q", body, code)
		}
		if got := rec.Header().Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type = %q", got)
		}
	}
	wantNoSecrets(t, rec, secrets...)
}

// wantCleared checks that rec expires both session cookies.
func wantCleared(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	got := setCookies(t, rec)
	for _, n := range []string{accessCookie, refreshCookie} {
		if c := got[n]; c == nil || c.MaxAge != -1 || c.Value != "" {
			t.Errorf("cookie %s not cleared: %+v", n, c)
		}
	}
}

// wantNoCookies checks that rec sets no cookie at all.
func wantNoCookies(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if v := rec.Header().Values("Set-Cookie"); len(v) != 0 {
		t.Errorf("Set-Cookie = %q, want none", v)
	}
}

func TestRefreshHandlerRotatesCookies(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t, nil)
	b := f.login(t, "u1", "tab/1")
	oldAccess, oldRefresh := b.access(), b.refresh()
	tab2 := b.fork() // a second tab about to refresh with the same cookie

	f.clock.Advance(time.Minute)
	rec := b.send("POST", "/auth/refresh")
	wantAnswer(t, rec, http.StatusOK, "", oldAccess, oldRefresh)
	now := testEpoch.Add(time.Minute)
	wantBody := fmt.Sprintf(`{"access_expires_at":%q,"refresh_expires_at":%q}`,
		now.Add(DefaultAccessTTL).Format(time.RFC3339), now.Add(DefaultRefreshTTL).Format(time.RFC3339))
	if got := strings.TrimSpace(rec.Body.String()); got != wantBody {
		t.Errorf("body = %s, want %s", got, wantBody)
	}
	set := setCookies(t, rec)
	checkCookie(t, set[accessCookie], cookieWant{accessCookie, "/", "", int(DefaultAccessTTL / time.Second), true, false, http.SameSiteLaxMode}, b.access())
	checkCookie(t, set[refreshCookie], cookieWant{refreshCookie, "/auth", "", int(DefaultRefreshTTL / time.Second), true, false, http.SameSiteStrictMode}, b.refresh())
	if b.refresh() == oldRefresh || b.access() == oldAccess {
		t.Fatal("the cookies did not rotate")
	}
	if !f.verifies(b.access()) {
		t.Fatal("the new access token does not verify")
	}

	// The other tab's refresh, within the grace window, gets the same
	// successor: both tabs stay logged in.
	f.clock.Advance(2 * time.Second)
	rec = tab2.send("POST", "/auth/refresh")
	wantAnswer(t, rec, http.StatusOK, "")
	if tab2.refresh() != b.refresh() {
		t.Fatal("the tab racing in the grace window got another refresh token")
	}
	if !f.verifies(tab2.access()) {
		t.Fatal("the racing tab's access token does not verify")
	}
}

func TestRefreshHandlerConcurrentTabs(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t, nil)
	b := f.login(t, "u1", "")
	const tabs = 8
	recs := make([]*httptest.ResponseRecorder, tabs)
	reqs := make([]*http.Request, tabs)
	for i := range reqs {
		reqs[i] = b.request("POST", "/auth/refresh", "")
	}
	var wg sync.WaitGroup
	for i := range tabs {
		wg.Go(func() {
			recs[i] = httptest.NewRecorder()
			f.h.ServeHTTP(recs[i], reqs[i])
		})
	}
	wg.Wait()
	var successor string
	for i, rec := range recs {
		if rec.Code != http.StatusOK {
			t.Fatalf("tab %d: %d %s", i, rec.Code, rec.Body)
		}
		rt := setCookies(t, rec)[refreshCookie].Value
		if successor == "" {
			successor = rt
		}
		if rt != successor {
			t.Fatalf("tab %d got another successor", i)
		}
	}
	if !f.refreshes(successor) {
		t.Fatal("the shared successor does not work")
	}
}

func TestRefreshHandlerBodyClient(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t, nil)
	toks := login(t, f.iss, "u1")
	for _, ct := range []string{"application/json", "application/json; charset=utf-8"} {
		b := newBrowser(t, f.h, "")
		// No cookies, so no cross-origin check: the token itself is the proof.
		r := b.request("POST", "/auth/refresh", `{"refresh_token":"`+toks.RefreshToken+`"}`, crossSiteEvil)
		r.Header.Set("Content-Type", ct)
		rec := b.do(r)
		wantAnswer(t, rec, http.StatusOK, "", toks.RefreshToken)
		wantNoCookies(t, rec)
		var got struct {
			TokenType        string    `json:"token_type"`
			AccessToken      string    `json:"access_token"`
			RefreshToken     string    `json:"refresh_token"`
			AccessExpiresAt  time.Time `json:"access_expires_at"`
			RefreshExpiresAt time.Time `json:"refresh_expires_at"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got.TokenType != "Bearer" || !f.verifies(got.AccessToken) ||
			!got.AccessExpiresAt.Equal(f.clock.Now().Add(DefaultAccessTTL)) || !got.RefreshExpiresAt.Equal(f.clock.Now().Add(DefaultRefreshTTL)) {
			t.Fatalf("answer %+v", got)
		}
		if !f.refreshes(got.RefreshToken) {
			t.Fatal("the returned refresh token does not work")
		}
		f.clock.Advance(time.Minute) // past the grace window
		if f.refreshes(toks.RefreshToken) {
			t.Fatal("the presented token was not spent")
		}
		toks = login(t, f.iss, "u1")
	}
}

func TestRefreshHandlerRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// prepare returns the browser and the request to send; the
		// browser is logged in as u1 unless prepare replaces it.
		prepare func(t *testing.T, f *authFixture, b *browserJar) *http.Request
		status  int
		code    string
		cleared bool
		// after checks the state once the answer is in.
		after func(t *testing.T, f *authFixture, b *browserJar, before string)
	}{
		{"no refresh token", func(t *testing.T, f *authFixture, b *browserJar) *http.Request {
			return newBrowser(t, f.h, "").request("POST", "/auth/refresh", "")
		}, http.StatusUnauthorized, "unauthorized", false, nil},
		{"GET", func(t *testing.T, f *authFixture, b *browserJar) *http.Request {
			return b.request("GET", "/auth/refresh", "")
		}, http.StatusMethodNotAllowed, "method_not_allowed", false, stillRotates},
		{"refresh cookie twice", func(t *testing.T, f *authFixture, b *browserJar) *http.Request {
			return b.request("POST", "/auth/refresh", "", withCookie(refreshCookie, "skr1.other.token"))
		}, http.StatusBadRequest, "invalid_request", false, stillRotates},
		{"malformed JSON body", func(t *testing.T, f *authFixture, b *browserJar) *http.Request {
			return newBrowser(t, f.h, "").request("POST", "/auth/refresh", `{"refresh_token":`, jsonBody)
		}, http.StatusBadRequest, "invalid_request", false, nil},
		{"JSON body with trailing data", func(t *testing.T, f *authFixture, b *browserJar) *http.Request {
			return newBrowser(t, f.h, "").request("POST", "/auth/refresh", `{"refresh_token":"`+b.refresh()+`"} {}`, jsonBody)
		}, http.StatusBadRequest, "invalid_request", false, stillRotates},
		{"JSON body without the member", func(t *testing.T, f *authFixture, b *browserJar) *http.Request {
			return newBrowser(t, f.h, "").request("POST", "/auth/refresh", `{"token":"x"}`, jsonBody)
		}, http.StatusBadRequest, "invalid_request", false, nil},
		{"JSON body of the wrong type", func(t *testing.T, f *authFixture, b *browserJar) *http.Request {
			return newBrowser(t, f.h, "").request("POST", "/auth/refresh", `{"refresh_token":7}`, jsonBody)
		}, http.StatusBadRequest, "invalid_request", false, nil},
		{"JSON body over the limit", func(t *testing.T, f *authFixture, b *browserJar) *http.Request {
			return newBrowser(t, f.h, "").request("POST", "/auth/refresh", `{"refresh_token":"`+strings.Repeat("x", maxRefreshBody)+`"}`, jsonBody)
		}, http.StatusBadRequest, "invalid_request", false, nil},
		{"garbage in the cookie", func(t *testing.T, f *authFixture, b *browserJar) *http.Request {
			b.cookies[refreshCookie].Value = "skr1.not-a-token"
			return b.request("POST", "/auth/refresh", "")
		}, http.StatusUnauthorized, "invalid_token", true, nil},
		{"spent cookie outside the grace window: reuse", func(t *testing.T, f *authFixture, b *browserJar) *http.Request {
			thief := b.fork()
			b.send("POST", "/auth/refresh")
			f.clock.Advance(DefaultReuseGrace + time.Second)
			return thief.request("POST", "/auth/refresh", "")
		}, http.StatusUnauthorized, "invalid_token", true, func(t *testing.T, f *authFixture, b *browserJar, _ string) {
			if f.refreshes(b.refresh()) || f.verifies(b.access()) {
				t.Error("reuse did not end the session for its legitimate holder too")
			}
		}},
		{"session expired", func(t *testing.T, f *authFixture, b *browserJar) *http.Request {
			f.clock.Advance(DefaultRefreshTTL + time.Second)
			return b.request("POST", "/auth/refresh", "")
		}, http.StatusUnauthorized, "invalid_token", true, nil},
		{"session logged out", func(t *testing.T, f *authFixture, b *browserJar) *http.Request {
			if err := f.iss.LogoutAll(context.Background(), "u1"); err != nil {
				t.Fatal(err)
			}
			return b.request("POST", "/auth/refresh", "")
		}, http.StatusUnauthorized, "invalid_token", true, nil},
		{"body client with a spent token", func(t *testing.T, f *authFixture, b *browserJar) *http.Request {
			spent := b.refresh()
			b.send("POST", "/auth/refresh")
			f.clock.Advance(DefaultReuseGrace + time.Second)
			return newBrowser(t, f.h, "").request("POST", "/auth/refresh", `{"refresh_token":"`+spent+`"}`, jsonBody)
		}, http.StatusUnauthorized, "invalid_token", false, nil},
		{"store down", func(t *testing.T, f *authFixture, b *browserJar) *http.Request {
			f.fs.down.Store(true)
			return b.request("POST", "/auth/refresh", "")
		}, http.StatusServiceUnavailable, "temporarily_unavailable", false, func(t *testing.T, f *authFixture, b *browserJar, before string) {
			f.fs.down.Store(false)
			stillRotates(t, f, b, before)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newAuthFixture(t, nil)
			b := f.login(t, "u1", "")
			before := b.refresh()
			r := tt.prepare(t, f, b)
			var secrets []string
			for _, c := range r.Cookies() {
				secrets = append(secrets, c.Value)
			}
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, r)
			wantAnswer(t, rec, tt.status, tt.code, append(secrets, before, b.access())...)
			if tt.cleared {
				wantCleared(t, rec)
			} else {
				wantNoCookies(t, rec)
			}
			switch tt.status {
			case http.StatusMethodNotAllowed:
				if got := rec.Header().Get("Allow"); got != "POST" {
					t.Errorf("Allow = %q", got)
				}
			case http.StatusServiceUnavailable:
				if got := rec.Header().Get("Retry-After"); got == "" {
					t.Error("no Retry-After")
				}
			case http.StatusUnauthorized:
				if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), `Bearer realm="sessionkit"`) {
					t.Errorf("WWW-Authenticate = %q", rec.Header().Get("WWW-Authenticate"))
				}
			}
			if tt.after != nil {
				tt.after(t, f, b, before)
			}
		})
	}
}

// stillRotates checks that the refresh token the browser held before a
// refused request was not spent by it: past the grace window, where a spent
// token would count as reuse, it still rotates.
func stillRotates(t *testing.T, f *authFixture, _ *browserJar, before string) {
	t.Helper()
	f.clock.Advance(DefaultReuseGrace + time.Second)
	if !f.refreshes(before) {
		t.Error("the refused request spent the refresh token")
	}
}

func TestRefreshHandlerCookieTooLarge(t *testing.T) {
	t.Parallel()
	var grow bool
	var mu sync.Mutex
	f := newAuthFixture(t, func(c *Config) {
		c.OnRefresh = func(context.Context, Session) (map[string]any, error) {
			mu.Lock()
			defer mu.Unlock()
			if grow { // claims that fit MaxTokenSize but not a cookie
				return map[string]any{"blob": strings.Repeat("x", 3500)}, nil
			}
			return nil, nil
		}
	})
	b := f.login(t, "u1", "")
	mu.Lock()
	grow = true
	mu.Unlock()
	rec := b.send("POST", "/auth/refresh")
	wantAnswer(t, rec, http.StatusInternalServerError, "server_error")
	if len(b.cookies) != 0 {
		t.Errorf("cookies left: %v", b.cookies)
	}
	if ids := f.sessionIDs(t, "u1"); len(ids) != 0 {
		t.Errorf("the session nobody can hold is still live: %v", ids)
	}
}

func TestLogoutHandler(t *testing.T) {
	t.Parallel()
	t.Run("cookie", func(t *testing.T) {
		t.Parallel()
		f := newAuthFixture(t, nil)
		b := f.login(t, "u1", "")
		other := f.login(t, "u1", "")
		access, rt := b.access(), b.refresh()
		rec := b.send("POST", "/auth/logout")
		wantAnswer(t, rec, http.StatusNoContent, "", access, rt)
		wantCleared(t, rec)
		if f.verifies(access) || f.refreshes(rt) {
			t.Fatal("the session survived its logout")
		}
		if !f.verifies(other.access()) {
			t.Fatal("logout ended another session")
		}
		// Logging out again, without cookies now, still clears and succeeds.
		rec = b.send("POST", "/auth/logout")
		wantAnswer(t, rec, http.StatusNoContent, "")
		wantCleared(t, rec)
	})
	t.Run("cookie of an ended session", func(t *testing.T) {
		t.Parallel()
		f := newAuthFixture(t, nil)
		b := f.login(t, "u1", "")
		if err := f.iss.LogoutAll(context.Background(), "u1"); err != nil {
			t.Fatal(err)
		}
		rec := b.send("POST", "/auth/logout")
		wantAnswer(t, rec, http.StatusNoContent, "")
		wantCleared(t, rec)
	})
	t.Run("body client", func(t *testing.T) {
		t.Parallel()
		f := newAuthFixture(t, nil)
		toks := login(t, f.iss, "u1")
		b := newBrowser(t, f.h, "")
		rec := b.do(b.request("POST", "/auth/logout", `{"refresh_token":"`+toks.RefreshToken+`"}`, jsonBody, crossSiteEvil))
		wantAnswer(t, rec, http.StatusNoContent, "", toks.RefreshToken)
		wantNoCookies(t, rec)
		if f.verifies(toks.AccessToken) {
			t.Fatal("the session survived its logout")
		}
	})
	t.Run("store down", func(t *testing.T) {
		t.Parallel()
		f := newAuthFixture(t, nil)
		b := f.login(t, "u1", "")
		f.fs.down.Store(true)
		rec := b.send("POST", "/auth/logout")
		wantAnswer(t, rec, http.StatusServiceUnavailable, "temporarily_unavailable", b.refresh())
		wantNoCookies(t, rec)
		f.fs.down.Store(false)
		if !f.verifies(b.access()) {
			t.Fatal("the session ended although the answer was 503")
		}
	})
	t.Run("wrong method", func(t *testing.T) {
		t.Parallel()
		f := newAuthFixture(t, nil)
		b := f.login(t, "u1", "")
		rec := b.send("DELETE", "/auth/logout")
		wantAnswer(t, rec, http.StatusMethodNotAllowed, "method_not_allowed")
		if rec.Header().Get("Allow") != "POST" || !f.verifies(b.access()) {
			t.Fatalf("Allow %q; session live %v", rec.Header().Get("Allow"), f.verifies(b.access()))
		}
	})
}

func TestLogoutAllHandler(t *testing.T) {
	t.Parallel()
	t.Run("cookie", func(t *testing.T) {
		t.Parallel()
		f := newAuthFixture(t, nil)
		a, b := f.login(t, "u1", "laptop"), f.login(t, "u1", "phone")
		c := f.login(t, "u2", "")
		rec := b.send("POST", "/auth/logout-all")
		wantAnswer(t, rec, http.StatusNoContent, "")
		wantCleared(t, rec)
		for _, x := range []*browserJar{a, b} {
			if f.verifies(x.access()) {
				t.Error("an access token of u1 survived")
			}
		}
		if f.refreshes(a.refresh()) {
			t.Error("a session of u1 survived")
		}
		if !f.verifies(c.access()) {
			t.Error("u2 was logged out")
		}
		// The other device's next request fails, and so does its refresh.
		rec = a.send("POST", "/auth/refresh")
		wantAnswer(t, rec, http.StatusUnauthorized, "invalid_token")
		wantCleared(t, rec)
	})
	t.Run("bearer header", func(t *testing.T) {
		t.Parallel()
		f := newAuthFixture(t, nil)
		toks := login(t, f.iss, "u1")
		b := newBrowser(t, f.h, "")
		rec := b.send("POST", "/auth/logout-all", withHeader("Authorization", "Bearer "+toks.AccessToken))
		wantAnswer(t, rec, http.StatusNoContent, "", toks.AccessToken)
		wantNoCookies(t, rec)
		if f.verifies(toks.AccessToken) {
			t.Fatal("the token survived")
		}
	})
	t.Run("refusals", func(t *testing.T) {
		t.Parallel()
		f := newAuthFixture(t, nil)
		b := f.login(t, "u1", "")
		anon := newBrowser(t, f.h, "")
		wantAnswer(t, anon.send("POST", "/auth/logout-all"), http.StatusUnauthorized, "unauthorized")
		rec := anon.send("POST", "/auth/logout-all", withHeader("Authorization", "Bearer not.a.token"))
		wantAnswer(t, rec, http.StatusUnauthorized, "invalid_token")
		rec = b.send("GET", "/auth/logout-all")
		wantAnswer(t, rec, http.StatusMethodNotAllowed, "method_not_allowed")
		if rec.Header().Get("Allow") != "POST" {
			t.Errorf("Allow = %q", rec.Header().Get("Allow"))
		}
		f.fs.down.Store(true)
		wantAnswer(t, b.send("POST", "/auth/logout-all"), http.StatusServiceUnavailable, "temporarily_unavailable", b.access())
		f.fs.down.Store(false)
		f.clock.Advance(DefaultAccessTTL + DefaultLeeway + time.Second)
		wantAnswer(t, b.send("POST", "/auth/logout-all"), http.StatusUnauthorized, "invalid_token", b.access())
		if !f.refreshes(b.refresh()) {
			t.Fatal("a refused logout-all ended the session")
		}
	})
	t.Run("store down after verification", func(t *testing.T) {
		t.Parallel()
		// Stateless verification passes; LogoutAll itself meets the outage.
		f := newAuthFixture(t, func(c *Config) { c.SkipRevocationCheck = true })
		b := f.login(t, "u1", "")
		f.fs.down.Store(true)
		rec := b.send("POST", "/auth/logout-all")
		wantAnswer(t, rec, http.StatusServiceUnavailable, "temporarily_unavailable", b.access())
		wantNoCookies(t, rec)
	})
}

// sessionsList is SessionsHandler's GET answer, as a client reads it.
type sessionsList struct {
	Sessions []struct {
		ID         string    `json:"id"`
		Current    bool      `json:"current"`
		UserAgent  string    `json:"user_agent"`
		Device     string    `json:"device"`
		IP         string    `json:"ip"`
		CreatedAt  time.Time `json:"created_at"`
		LastUsedAt time.Time `json:"last_used_at"`
		ExpiresAt  time.Time `json:"expires_at"`
	} `json:"sessions"`
}

func TestSessionsHandler(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t, nil)
	laptop := f.login(t, "u1", "laptop/1.0")
	f.clock.Advance(time.Minute)
	phone := f.login(t, "u1", "phone/2.0")
	stranger := f.login(t, "u2", "")
	f.clock.Advance(time.Minute)
	phone.send("POST", "/auth/refresh")

	rec := laptop.send("GET", "/auth/sessions")
	wantAnswer(t, rec, http.StatusOK, "", laptop.access())
	var got sessionsList
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Sessions) != 2 {
		t.Fatalf("listed %d sessions, want u1's 2: %s", len(got.Sessions), rec.Body)
	}
	l, p := got.Sessions[0], got.Sessions[1]
	if !l.Current || p.Current || l.UserAgent != "laptop/1.0" || p.UserAgent != "phone/2.0" || l.IP != "192.0.2.1" ||
		l.Device != "laptop" || p.Device != "phone" {
		t.Errorf("sessions = %+v", got.Sessions)
	}
	if !l.CreatedAt.Equal(testEpoch) || !p.CreatedAt.Equal(testEpoch.Add(time.Minute)) ||
		!p.LastUsedAt.Equal(testEpoch.Add(2*time.Minute)) || !p.ExpiresAt.Equal(testEpoch.Add(2*time.Minute+DefaultRefreshTTL)) {
		t.Errorf("times = %+v", got.Sessions)
	}
	// HEAD works as GET, without a body.
	if rec := laptop.send("HEAD", "/auth/sessions"); rec.Code != http.StatusOK {
		t.Errorf("HEAD: %d", rec.Code)
	}

	// Another subject's session is not found, and survives.
	strangerID := f.sessionIDs(t, "u2")[0]
	rec = laptop.send("DELETE", "/auth/sessions?id="+url.QueryEscape(strangerID))
	wantAnswer(t, rec, http.StatusNotFound, "not_found")
	if !f.verifies(stranger.access()) {
		t.Fatal("u1 ended u2's session")
	}
	for _, q := range []string{"", "?id=", "?id=a&id=b", "?id=" + strings.Repeat("a", maxSessionIDParam+1)} {
		wantAnswer(t, laptop.send("DELETE", "/auth/sessions"+q), http.StatusBadRequest, "invalid_request")
	}
	rec = laptop.send("PUT", "/auth/sessions")
	wantAnswer(t, rec, http.StatusMethodNotAllowed, "method_not_allowed")
	if got := rec.Header().Get("Allow"); got != "GET, HEAD, DELETE" {
		t.Errorf("Allow = %q", got)
	}

	// Signing the phone out from the laptop: the laptop keeps its cookies.
	rec = laptop.send("DELETE", "/auth/sessions?id="+url.QueryEscape(p.ID))
	wantAnswer(t, rec, http.StatusNoContent, "")
	wantNoCookies(t, rec)
	if f.verifies(phone.access()) || f.refreshes(phone.refresh()) {
		t.Fatal("the revoked session survived")
	}
	// Signing out the current session clears the cookies too.
	rec = laptop.send("DELETE", "/auth/sessions?id="+url.QueryEscape(l.ID))
	wantAnswer(t, rec, http.StatusNoContent, "")
	wantCleared(t, rec)
	if ids := f.sessionIDs(t, "u1"); len(ids) != 0 {
		t.Fatalf("sessions left: %v", ids)
	}
	wantAnswer(t, laptop.send("GET", "/auth/sessions"), http.StatusUnauthorized, "unauthorized")
}

func TestSessionsHandlerBearerAndOutages(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t, func(c *Config) { c.SkipRevocationCheck = true })
	toks := login(t, f.iss, "u1")
	b := newBrowser(t, f.h, "")
	bearer := withHeader("Authorization", "Bearer "+toks.AccessToken)
	rec := b.send("GET", "/auth/sessions", bearer)
	wantAnswer(t, rec, http.StatusOK, "", toks.AccessToken, toks.RefreshToken)
	var got sessionsList
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got.Sessions) != 1 || !got.Sessions[0].Current {
		t.Fatalf("%v %s", err, rec.Body)
	}
	f.fs.down.Store(true)
	wantAnswer(t, b.send("GET", "/auth/sessions", bearer), http.StatusServiceUnavailable, "temporarily_unavailable", toks.AccessToken)
	rec = b.send("DELETE", "/auth/sessions?id="+toks.SessionID, bearer)
	wantAnswer(t, rec, http.StatusServiceUnavailable, "temporarily_unavailable", toks.AccessToken)
	f.fs.down.Store(false)
	if len(f.sessionIDs(t, "u1")) != 1 {
		t.Fatal("a DELETE answered 503 ended the session")
	}
	// A bearer request never touches cookies, even for its own session.
	rec = b.send("DELETE", "/auth/sessions?id="+toks.SessionID, bearer, crossSiteEvil)
	wantAnswer(t, rec, http.StatusNoContent, "")
	wantNoCookies(t, rec)
}

// TestHandlersCrossOrigin sends every cookie-authenticated state change from
// another site (403, nothing changes), then from the page's own origin and
// from a trusted one (success), and the same changes authenticated by a
// header or a body instead of cookies from another site (success: browsers
// do not attach those on their own).
func TestHandlersCrossOrigin(t *testing.T) {
	t.Parallel()
	type state struct {
		f       *authFixture
		b       *browserJar // u1's browser
		other   *browserJar // u1's second session
		otherID string
	}
	fixed := func(target string) func(*state) string { return func(*state) string { return target } }
	tests := []struct {
		name   string
		method string
		target func(s *state) string
		body   func(s *state) string // JSON body instead of cookies; "" for cookies
		header func(s *state) string // Authorization header instead of cookies
		status int                   // on success
		// unchanged checks that a refused request changed nothing.
		unchanged func(t *testing.T, s *state, before string)
	}{
		{name: "refresh", method: "POST", target: fixed("/auth/refresh"), status: http.StatusOK,
			unchanged: func(t *testing.T, s *state, before string) { stillRotates(t, s.f, s.b, before) }},
		{name: "logout", method: "POST", target: fixed("/auth/logout"), status: http.StatusNoContent,
			unchanged: func(t *testing.T, s *state, _ string) { wantLive(t, s.f, s.b) }},
		{name: "logout-all", method: "POST", target: fixed("/auth/logout-all"), status: http.StatusNoContent,
			unchanged: func(t *testing.T, s *state, _ string) { wantLive(t, s.f, s.b); wantLive(t, s.f, s.other) }},
		{name: "revoke a session", method: "DELETE", target: func(s *state) string { return "/auth/sessions?id=" + url.QueryEscape(s.otherID) },
			status: http.StatusNoContent, unchanged: func(t *testing.T, s *state, _ string) { wantLive(t, s.f, s.other) }},
		{name: "login", method: "POST", target: fixed("/auth/login?user=u1"), status: http.StatusNoContent,
			unchanged: func(t *testing.T, s *state, _ string) {
				if n := len(s.f.sessionIDs(t, "u1")); n != 2 {
					t.Errorf("u1 has %d sessions, want the 2 it had", n)
				}
			}},

		{name: "refresh, JSON body", method: "POST", target: fixed("/auth/refresh"), status: http.StatusOK,
			body: func(s *state) string { return `{"refresh_token":"` + s.b.refresh() + `"}` }},
		{name: "logout, JSON body", method: "POST", target: fixed("/auth/logout"), status: http.StatusNoContent,
			body: func(s *state) string { return `{"refresh_token":"` + s.b.refresh() + `"}` }},
		{name: "logout-all, bearer header", method: "POST", target: fixed("/auth/logout-all"), status: http.StatusNoContent,
			header: func(s *state) string { return "Bearer " + s.b.access() }},
		{name: "revoke a session, bearer header", method: "DELETE", status: http.StatusNoContent,
			target: func(s *state) string { return "/auth/sessions?id=" + url.QueryEscape(s.otherID) },
			header: func(s *state) string { return "Bearer " + s.b.access() }},
	}
	for _, tt := range tests {
		for _, from := range []struct {
			name string
			mod  func(*http.Request)
			ok   bool
		}{
			{"cross-site", crossSiteEvil, false},
			{"cross-site without Origin", func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", crossSite); r.Header.Del("Origin") }, false},
			{"sibling subdomain", fromSite("same-site", "https://blog.example.com"), false},
			{"Origin of another site, no Sec-Fetch-Site", func(r *http.Request) { r.Header.Del("Sec-Fetch-Site"); r.Header.Set("Origin", evilOrigin) }, false},
			{"same origin", func(*http.Request) {}, true},
			{"trusted origin", fromSite(crossSite, trustedOrigin), true},
		} {
			if tt.unchanged == nil && from.ok {
				continue // header and body requests: the cross-site cases say it all
			}
			t.Run(tt.name+" from "+from.name, func(t *testing.T) {
				t.Parallel()
				f := newAuthFixture(t, nil)
				s := &state{f: f, b: f.login(t, "u1", "")}
				s.other = f.login(t, "u1", "")
				for _, id := range f.sessionIDs(t, "u1") {
					if id != s.b.sessionID(t) {
						s.otherID = id
					}
				}
				before := s.b.refresh()
				var r *http.Request
				switch {
				case tt.body != nil:
					r = newBrowser(t, f.h, "").request(tt.method, tt.target(s), tt.body(s), jsonBody, from.mod)
				case tt.header != nil:
					r = newBrowser(t, f.h, "").request(tt.method, tt.target(s), "", withHeader("Authorization", tt.header(s)), from.mod)
				default:
					r = s.b.request(tt.method, tt.target(s), "", from.mod)
				}
				rec := httptest.NewRecorder()
				f.h.ServeHTTP(rec, r)
				if from.ok || tt.unchanged == nil {
					if rec.Code != tt.status {
						t.Fatalf("status = %d, want %d (body %s)", rec.Code, tt.status, rec.Body)
					}
					return
				}
				wantAnswer(t, rec, http.StatusForbidden, "forbidden", before, s.b.access())
				wantNoCookies(t, rec)
				tt.unchanged(t, s, before)
			})
		}
	}
}

// wantLive checks that b's session still works.
func wantLive(t *testing.T, f *authFixture, b *browserJar) {
	t.Helper()
	if !f.verifies(b.access()) {
		t.Error("a refused request ended a session")
	}
}

// sessionID is the sid of b's access token.
func (b *browserJar) sessionID(t *testing.T) string {
	t.Helper()
	var c struct {
		SID string `json:"sid"`
	}
	_, payload := decodeSegments(t, b.access())
	if err := json.Unmarshal([]byte(payload), &c); err != nil || c.SID == "" {
		t.Fatalf("no sid in the access token: %v", err)
	}
	return c.SID
}

func TestLoginCookies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	post := func(mods ...func(*http.Request)) *http.Request {
		r := httptest.NewRequest("POST", "/auth/login", nil)
		r.Header.Set("User-Agent", "browser/1.0")
		for _, m := range mods {
			m(r)
		}
		return r
	}
	t.Run("sets the cookies and records the device", func(t *testing.T) {
		t.Parallel()
		f := newAuthFixture(t, nil)
		rec := httptest.NewRecorder()
		toks, err := f.iss.LoginCookies(rec, post(fromSite("same-origin", cookieOrigin)), Grant{Subject: "u1"})
		if err != nil {
			t.Fatal(err)
		}
		set := setCookies(t, rec)
		checkCookie(t, set[accessCookie], cookieWant{accessCookie, "/", "", 900, true, false, http.SameSiteLaxMode}, toks.AccessToken)
		checkCookie(t, set[refreshCookie], cookieWant{refreshCookie, "/auth", "", int(DefaultRefreshTTL / time.Second), true, false, http.SameSiteStrictMode}, toks.RefreshToken)
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Error("no Cache-Control: no-store")
		}
		list, _ := f.iss.Sessions(ctx, "u1")
		if len(list) != 1 || list[0].Device != (Device{UserAgent: "browser/1.0", IP: "192.0.2.1"}) {
			t.Fatalf("sessions %+v", list)
		}
	})
	t.Run("keeps an explicit device; truncates a long user agent", func(t *testing.T) {
		t.Parallel()
		f := newAuthFixture(t, nil)
		if _, err := f.iss.LoginCookies(httptest.NewRecorder(), post(), Grant{Subject: "u1", Device: Device{IP: "203.0.113.9"}}); err != nil {
			t.Fatal(err)
		}
		long := strings.Repeat("é", maxDeviceUserAgent) // 2 bytes each: a cut would split one
		f.clock.Advance(time.Second)                    // sessions list oldest first
		if _, err := f.iss.LoginCookies(httptest.NewRecorder(), post(withHeader("User-Agent", "")), Grant{Subject: "u1"}); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Second)
		r := post()
		r.Header.Set("User-Agent", long+"x")
		r.RemoteAddr = "[2001:db8::1]:443"
		if _, err := f.iss.LoginCookies(httptest.NewRecorder(), r, Grant{Subject: "u1"}); err != nil {
			t.Fatal(err)
		}
		list, _ := f.iss.Sessions(ctx, "u1")
		if len(list) != 3 || list[0].Device != (Device{IP: "203.0.113.9"}) {
			t.Fatalf("sessions %+v", list)
		}
		ua := list[2].Device.UserAgent
		if list[2].Device.IP != "2001:db8::1" || ua != long[:maxDeviceUserAgent] {
			t.Errorf("device %q %d bytes, ip %q", ua[:8], len(ua), list[2].Device.IP)
		}
	})
	t.Run("ends the session of the refresh cookie it replaces", func(t *testing.T) {
		t.Parallel()
		f := newAuthFixture(t, nil)
		b := f.login(t, "u1", "")
		old := b.access()
		f.login(t, "u2", "") // unrelated
		rec := b.send("POST", "/auth/login?user=u3")
		if rec.Code != http.StatusNoContent {
			t.Fatalf("second login: %d", rec.Code)
		}
		if f.verifies(old) || !f.verifies(b.access()) {
			t.Fatal("the replaced session survived, or the new one does not work")
		}
		if len(f.sessionIDs(t, "u2")) != 1 {
			t.Fatal("another browser's session ended")
		}
	})
	t.Run("refusals write nothing and create no session", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name string
			r    *http.Request
			want error
		}{
			{"cross-site", post(crossSiteEvil), ErrCrossOrigin},
			{"sibling subdomain", post(fromSite("same-site", "https://blog.example.com")), ErrCrossOrigin},
			{"GET", httptest.NewRequest("GET", "/auth/login", nil), ErrCrossOrigin},
			{"HEAD", httptest.NewRequest("HEAD", "/auth/login", nil), ErrCrossOrigin},
			{"bad subject", post(), ErrInvalidGrant},
		} {
			f := newAuthFixture(t, nil)
			rec := httptest.NewRecorder()
			sub := "u1"
			if tc.want == ErrInvalidGrant {
				sub = ""
			}
			toks, err := f.iss.LoginCookies(rec, tc.r, Grant{Subject: sub})
			if !errors.Is(err, tc.want) || toks != nil {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
			if len(rec.Header()) != 0 {
				t.Errorf("%s: wrote %v", tc.name, rec.Header())
			}
			if ids := f.sessionIDs(t, "u1"); len(ids) != 0 {
				t.Errorf("%s: created %v", tc.name, ids)
			}
		}
	})
	t.Run("store down", func(t *testing.T) {
		t.Parallel()
		f := newAuthFixture(t, nil)
		f.fs.down.Store(true)
		rec := httptest.NewRecorder()
		if _, err := f.iss.LoginCookies(rec, post(), Grant{Subject: "u1"}); !errors.Is(err, ErrStoreUnavailable) {
			t.Fatalf("got %v", err)
		}
		if len(rec.Header()) != 0 {
			t.Errorf("wrote %v", rec.Header())
		}
	})
	t.Run("a cookie too large ends the new session", func(t *testing.T) {
		t.Parallel()
		f := newAuthFixture(t, nil)
		rec := httptest.NewRecorder()
		_, err := f.iss.LoginCookies(rec, post(), Grant{Subject: "u1", Claims: map[string]any{"blob": strings.Repeat("x", 3500)}})
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "MaxCookieSize") {
			t.Fatalf("got %v", err)
		}
		if len(rec.Header()) != 0 {
			t.Errorf("wrote %v", rec.Header())
		}
		if ids := f.sessionIDs(t, "u1"); len(ids) != 0 {
			t.Errorf("left a session nobody holds: %v", ids)
		}
	})
}

// limitedCaps hides some capabilities of the store it wraps.
type limitedCaps struct {
	store.Store
	hide store.Capabilities
}

func (l limitedCaps) Capabilities() store.Capabilities { return l.Store.Capabilities() &^ l.hide }

func TestHandlersWithStoreLimits(t *testing.T) {
	t.Parallel()
	hide := store.RevokeSessions | store.ListSessions | store.Versions
	f := newAuthFixture(t, func(c *Config) {
		c.Store = limitedCaps{Store: c.Store, hide: hide}
		c.AcceptStoreLimits = hide
		c.SkipRevocationCheck = true // Verify's check needs Versions
	})
	b := f.login(t, "u1", "")
	// Listing, revoking by id and logging out everywhere cannot be done.
	for _, req := range []struct{ method, target string }{
		{"GET", "/auth/sessions"},
		{"DELETE", "/auth/sessions?id=" + url.QueryEscape(b.sessionID(t))},
		{"POST", "/auth/logout-all"},
	} {
		rec := b.send(req.method, req.target)
		wantAnswer(t, rec, http.StatusNotImplemented, "not_supported", b.access())
		wantNoCookies(t, rec)
	}
	// Logout discards the browser's copy, which is all there is to do.
	rec := b.send("POST", "/auth/logout")
	wantAnswer(t, rec, http.StatusNoContent, "")
	wantCleared(t, rec)
}

// FuzzRefreshHandler sends arbitrary bodies, content types and Cookie
// headers to the refresh and logout handlers: they never panic, always
// answer uncacheable JSON with a status from their documented set, and never
// echo what they were sent.
func FuzzRefreshHandler(f *testing.F) {
	iss, _ := newTestIssuer(f, nil)
	toks := login(f, iss, "u1")
	f.Add(`{"refresh_token":"`+toks.RefreshToken+`"}`, "application/json", "", "same-origin")
	f.Add("", "", refreshCookie+"="+toks.RefreshToken, "same-origin")
	f.Add("", "", refreshCookie+"="+toks.RefreshToken, "cross-site")
	f.Add(`{"refresh_token":7}`, "application/json; charset=utf-8", "", "")
	f.Add(`{"refresh_token":"skr1.a~b~1.x"} {}`, "application/json", refreshCookie+"=a; "+refreshCookie+"=b", "none")
	f.Add("refresh_token=x", "application/x-www-form-urlencoded", refreshCookie+"=", "same-site")
	handlers := []http.Handler{iss.RefreshHandler(), iss.LogoutHandler()}
	allowed := map[int]bool{200: true, 204: true, 400: true, 401: true, 403: true}
	known := map[string]bool{
		refuseMissing.desc: true, refuseRefresh.desc: true, refuseCrossOrigin.desc: true,
		"the refresh cookie appears more than once":                  true,
		"the body must be a JSON object with a refresh_token member": true,
		"the refresh_token member is missing":                        true,
	}
	f.Fuzz(func(t *testing.T, body, contentType, cookie, fetchSite string) {
		for _, h := range handlers {
			r := httptest.NewRequest("POST", "/auth/refresh", strings.NewReader(body))
			r.Header.Set("Content-Type", contentType)
			r.Header.Set("Cookie", cookie)
			r.Header.Set("Sec-Fetch-Site", fetchSite)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if !allowed[rec.Code] {
				t.Fatalf("status %d (body %s)", rec.Code, rec.Body)
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("Cache-Control %q", rec.Header().Get("Cache-Control"))
			}
			if rec.Code == http.StatusNoContent {
				continue
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("body is not JSON: %q", rec.Body)
			}
			if rec.Code == http.StatusOK {
				continue
			}
			// Refusals say one of a fixed set of things, so they cannot
			// echo their input.
			var answer map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil || len(answer) != 2 || !known[answer["error_description"]] {
				t.Fatalf("refusal %s", rec.Body)
			}
		}
	})
}

// TestRefreshRouteOutsideCookiePath: a refresh or logout route the refresh
// cookie never reaches answers 500 naming both paths, and is logged once;
// under the path (also behind http.StripPrefix) it serves.
func TestRefreshRouteOutsideCookiePath(t *testing.T) {
	t.Parallel()
	var buf lockedBuffer
	f := newAuthFixture(t, func(c *Config) { c.Logger = newTestLogger(&buf) })
	b := f.login(t, "u1", "ua")
	mux := http.NewServeMux()
	mux.Handle("/api/refresh", f.iss.RefreshHandler())
	mux.Handle("/api/logout", f.iss.LogoutHandler())
	mux.Handle("/auth/", http.StripPrefix("/auth", f.iss.RefreshHandler()))
	for _, path := range []string{"/api/refresh", "/api/refresh", "/api/logout"} {
		r := b.request("POST", path, "")
		r.RequestURI = path
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), path) || !strings.Contains(rec.Body.String(), "/auth") {
			t.Errorf("POST %s: %d %s", path, rec.Code, rec.Body)
		}
	}
	if n := strings.Count(buf.String(), "outside Cookies.RefreshPath"); n != 2 {
		t.Errorf("%d records; want one per handler:\n%s", n, buf.String())
	}
	r := b.request("POST", "/auth/refresh", "")
	r.RequestURI = "/auth/refresh"
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Errorf("under the path, behind StripPrefix: %d %s", rec.Code, rec.Body)
	}
	for _, tt := range []struct {
		req, cookie string
		want        bool
	}{
		{"/auth", "/auth", true}, {"/auth/refresh", "/auth", true}, {"/authx", "/auth", false},
		{"/auth/refresh", "/auth/", true}, {"/api", "/auth", false}, {"/x", "/", true},
	} {
		if got := cookiePathMatches(tt.req, tt.cookie); got != tt.want {
			t.Errorf("cookiePathMatches(%q, %q) = %v", tt.req, tt.cookie, got)
		}
	}
}
