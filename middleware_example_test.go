package sessionkit_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit"
)

func ExampleMiddleware() {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	iss := exampleIssuer(&now)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		claims, _ := sessionkit.ClaimsFromContext(r.Context())
		fmt.Fprintln(w, "hello", claims.Subject)
	})
	// Writes need the "write" scope on top of authentication.
	mux.Handle("POST /notes", sessionkit.RequireScope("write")(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })))
	// Browsers send the access cookie; API clients send Authorization: Bearer.
	handler := sessionkit.Middleware(iss, sessionkit.MiddlewareOptions{AccessCookie: true})(mux)

	toks, _ := iss.Login(context.Background(), sessionkit.Grant{Subject: "alice", Scope: "read"})
	do := func(method, path string, header ...string) {
		r := httptest.NewRequest(method, path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		if c := w.Header().Get("WWW-Authenticate"); c != "" {
			fmt.Println(w.Code, "WWW-Authenticate:", c)
		} else {
			fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
		}
	}

	do("GET", "/me", "Authorization", "Bearer "+toks.AccessToken)
	do("GET", "/me", "Cookie", "__Host-sk_access="+toks.AccessToken)
	do("GET", "/me")
	do("POST", "/notes", "Authorization", "Bearer "+toks.AccessToken)
	do("POST", "/notes", "Cookie", "__Host-sk_access="+toks.AccessToken, "Sec-Fetch-Site", "cross-site")

	now = now.Add(time.Hour) // the access token has expired: refreshing helps
	do("GET", "/me", "Authorization", "Bearer "+toks.AccessToken)
	// Output:
	// 200 hello alice
	// 200 hello alice
	// 401 WWW-Authenticate: Bearer realm="sessionkit"
	// 403 WWW-Authenticate: Bearer realm="sessionkit", error="insufficient_scope", error_description="the access token lacks a required scope", scope="write"
	// 403 {"error":"forbidden","error_description":"cross-origin request refused"}
	// 401 WWW-Authenticate: Bearer realm="sessionkit", error="invalid_token", error_description="the access token expired"
}

// A server-rendered app answers refusals with pages: a redirect to the
// login page when the user must sign in, an HTML page otherwise.
func ExampleRefusalWriter() {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	iss := exampleIssuer(&now)
	pages := func(w http.ResponseWriter, r *http.Request, status int, err error) {
		switch {
		case errors.Is(err, sessionkit.ErrMissingToken), errors.Is(err, sessionkit.ErrTokenExpired),
			errors.Is(err, sessionkit.ErrTokenRevoked), errors.Is(err, sessionkit.ErrInvalidToken):
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.Path), http.StatusSeeOther)
		default:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(status)
			fmt.Fprintf(w, "<h1>%s</h1>\n", html.EscapeString(http.StatusText(status)))
		}
	}
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "<h1>Your notes</h1>") })
	handler := sessionkit.Middleware(iss, sessionkit.MiddlewareOptions{AccessCookie: true, WriteRefusal: pages})(page)

	w := httptest.NewRecorder()
	handler.ServeHTTP(w, httptest.NewRequest("GET", "/notes", nil))
	fmt.Println(w.Code, w.Header().Get("Location"))
	// Output:
	// 303 /login?next=%2Fnotes
}
