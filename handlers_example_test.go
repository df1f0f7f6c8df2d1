package sessionkit_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// A browser app's auth routes: the login helper, the ready-made handlers and
// the middleware, all sharing one Cookies value (the zero value: secure
// defaults).
func ExampleIssuer_RefreshHandler() {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	key, _ := sessionkit.GenerateSigningKey(sessionkit.EdDSA)
	c := sessionkit.Cookies{}
	iss, err := sessionkit.New(sessionkit.Config{
		Issuer:   "https://auth.example.com",
		Audience: []string{"api"},
		Keys:     sessionkit.NewKeySet(key),
		Store:    memstore.New(),
		Cookies:  c,
		Now:      func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth/login", func(w http.ResponseWriter, r *http.Request) {
		// The application checks the password first; then one call creates
		// the session and sets both cookies.
		_, err := iss.LoginCookies(w, r, sessionkit.Grant{Subject: "alice"})
		switch {
		case errors.Is(err, sessionkit.ErrCrossOrigin):
			http.Error(w, "forbidden", http.StatusForbidden)
		case err != nil:
			http.Error(w, "login failed", http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	mux.Handle("POST /auth/refresh", iss.RefreshHandler())
	mux.Handle("POST /auth/logout", iss.LogoutHandler())
	mux.Handle("POST /auth/logout-all", iss.LogoutAllHandler())
	sessions := iss.SessionsHandler()
	mux.Handle("GET /auth/sessions", sessions)
	mux.Handle("DELETE /auth/sessions", sessions)
	mux.Handle("GET /api/me", sessionkit.Middleware(iss, sessionkit.MiddlewareOptions{AccessCookie: true})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims, _ := sessionkit.ClaimsFromContext(r.Context())
			fmt.Fprintf(w, "hello %s\n", claims.Subject)
		})))

	// A browser on https://example.com, with its cookie jar.
	jar, _ := cookiejar.New(nil)
	site, _ := url.Parse("https://example.com/")
	send := func(method, path, fetchSite string) {
		r := httptest.NewRequest(method, "https://example.com"+path, nil)
		for _, ck := range jar.Cookies(site.ResolveReference(&url.URL{Path: path})) {
			r.AddCookie(ck)
		}
		r.Header.Set("Sec-Fetch-Site", fetchSite)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		jar.SetCookies(site, w.Result().Cookies())
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%s %s %s: %d %s", method, path, fetchSite, w.Code, w.Body)))
		for _, line := range w.Header().Values("Set-Cookie") {
			name, _, _ := strings.Cut(line, "=")
			_, attrs, _ := strings.Cut(line, ";")
			fmt.Printf("  Set-Cookie: %s=…;%s\n", name, attrs)
		}
	}

	send("POST", "/auth/login", "same-origin")
	send("GET", "/api/me", "same-origin")
	now = now.Add(time.Minute)
	send("POST", "/auth/refresh", "same-origin")
	send("POST", "/auth/refresh", "cross-site") // another site's form: refused
	send("POST", "/auth/logout", "same-origin")
	send("GET", "/api/me", "same-origin")
	// Output:
	// POST /auth/login same-origin: 204
	//   Set-Cookie: __Host-sk_access=…; Path=/; Max-Age=900; HttpOnly; Secure; SameSite=Lax
	//   Set-Cookie: __Secure-sk_refresh=…; Path=/auth; Max-Age=604800; HttpOnly; Secure; SameSite=Strict
	// GET /api/me same-origin: 200 hello alice
	// POST /auth/refresh same-origin: 200 {"access_expires_at":"2026-01-02T15:20:05Z","refresh_expires_at":"2026-01-09T15:05:05Z"}
	//   Set-Cookie: __Host-sk_access=…; Path=/; Max-Age=900; HttpOnly; Secure; SameSite=Lax
	//   Set-Cookie: __Secure-sk_refresh=…; Path=/auth; Max-Age=604800; HttpOnly; Secure; SameSite=Strict
	// POST /auth/refresh cross-site: 403 {"error":"forbidden","error_description":"cross-origin request refused"}
	// POST /auth/logout same-origin: 204
	//   Set-Cookie: __Host-sk_access=…; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax
	//   Set-Cookie: __Secure-sk_refresh=…; Path=/auth; Max-Age=0; HttpOnly; Secure; SameSite=Strict
	// GET /api/me same-origin: 401 {"error":"unauthorized","error_description":"authentication required"}
}
