// Package recipetest is the test every framework recipe of this module
// passes, over a real Issuer on the memory store: a recipe's test builds the
// recipe's router (see Build) and calls Run, which checks that a good token
// passes with its claims, that every refusal stops the framework's chain,
// that the status line is written once, and that the ready-made handlers
// work where the recipe mounts them.
package recipetest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// Build returns a recipe's router over iss, with these routes:
//
//   - POST /auth/refresh: iss.RefreshHandler();
//   - POST /auth/logout: iss.LogoutHandler();
//   - GET /api/me: sessionkit.Middleware(iss, o), then a handler of the
//     framework's own chain that calls hit("after"), then a handler that
//     calls hit("me") and answers 200 "hello SUBJECT\n";
//   - POST /api/notes: the same two first, then
//     sessionkit.RequireScope("write"), then a handler that calls
//     hit("notes") and answers 201.
type Build func(iss *sessionkit.Issuer, o sessionkit.MiddlewareOptions, hit func(stage string)) http.Handler

// NewIssuer returns an Issuer of "https://auth.example.com" for audience
// "api" on a memory store, with default cookie settings and a fresh EdDSA
// key, and a function that moves its clock (Config.Now) forward.
func NewIssuer() (iss *sessionkit.Issuer, advance func(time.Duration)) {
	key, err := sessionkit.GenerateSigningKey(sessionkit.EdDSA)
	if err != nil {
		panic(err)
	}
	start := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	var offset atomic.Int64 // nanoseconds
	iss, err = sessionkit.New(sessionkit.Config{
		Issuer:   "https://auth.example.com",
		Audience: []string{"api"},
		Keys:     sessionkit.NewKeySet(key),
		Store:    memstore.New(),
		Now:      func() time.Time { return start.Add(time.Duration(offset.Load())) },
	})
	if err != nil {
		panic(err)
	}
	return iss, func(d time.Duration) { offset.Add(int64(d)) }
}

// Login logs subject in with scope and returns the tokens.
func Login(iss *sessionkit.Issuer, subject, scope string) *sessionkit.Tokens {
	toks, err := iss.Login(context.Background(), sessionkit.Grant{Subject: subject, Scope: scope})
	if err != nil {
		panic(err)
	}
	return toks
}

// Request is one request to a recipe's router.
type Request struct {
	Method, Path string
	Bearer       string // the Authorization: Bearer token, if any
	Cookie       string // a Cookie header, if any
	JSON         string // a JSON body, if any
}

// Answer is what the router answered.
type Answer struct {
	Status  int
	Header  http.Header
	Body    string
	Written int // how often the status line was written: 1, or the recipe is wrong
}

// Do serves req with h.
func Do(h http.Handler, req Request) Answer {
	var body io.Reader
	if req.JSON != "" {
		body = strings.NewReader(req.JSON)
	}
	r := httptest.NewRequest(req.Method, req.Path, body)
	if req.JSON != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if req.Bearer != "" {
		r.Header.Set("Authorization", "Bearer "+req.Bearer)
	}
	if req.Cookie != "" {
		r.Header.Set("Cookie", req.Cookie)
	}
	w := &countingWriter{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(w, r)
	return Answer{Status: w.Code, Header: w.Header(), Body: w.Body.String(), Written: w.written}
}

// Tour logs alice in with scope "read" and prints what h, a router as
// Build describes, answers her, for examples: GET /api/me with her access
// token and without one, POST /api/notes (which needs "write"), then
// POST /auth/refresh with her refresh token.
func Tour(h http.Handler, iss *sessionkit.Issuer) {
	toks := Login(iss, "alice", "read")
	body := `{"refresh_token":"` + toks.RefreshToken + `"}`
	for _, req := range []Request{
		{Method: "GET", Path: "/api/me", Bearer: toks.AccessToken},
		{Method: "GET", Path: "/api/me"},
		{Method: "POST", Path: "/api/notes", Bearer: toks.AccessToken},
		{Method: "POST", Path: "/auth/refresh", JSON: body},
	} {
		a := Do(h, req)
		what := req.Method + " " + req.Path
		switch {
		case req.Bearer != "":
			what += " (token)"
		case req.JSON != "":
			what += " (refresh token)"
		}
		switch {
		case a.Header.Get("WWW-Authenticate") != "":
			fmt.Printf("%s: %d WWW-Authenticate: %s\n", what, a.Status, a.Header.Get("WWW-Authenticate"))
		case strings.HasPrefix(req.Path, "/auth/"):
			fmt.Printf("%s: %d\n", what, a.Status)
		default:
			fmt.Printf("%s: %d %s\n", what, a.Status, strings.TrimSpace(a.Body))
		}
	}
}

// countingWriter counts the status lines written: explicit WriteHeader
// calls, and the implicit 200 of a Write before any.
type countingWriter struct {
	*httptest.ResponseRecorder
	written int
}

func (w *countingWriter) WriteHeader(status int) {
	w.written++
	w.ResponseRecorder.WriteHeader(status)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if w.written == 0 {
		w.written++
	}
	return w.ResponseRecorder.Write(b)
}

// LoginRedirect is a sessionkit.RefusalWriter that sends every refused
// request to /login, with its path in next.
func LoginRedirect(w http.ResponseWriter, r *http.Request, _ int, _ error) {
	http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.Path), http.StatusSeeOther)
}

// The challenges of the default refusals.
const (
	challengeMissing = `Bearer realm="sessionkit"`
	challengeExpired = `Bearer realm="sessionkit", error="invalid_token", error_description="the access token expired"`
	challengeInvalid = `Bearer realm="sessionkit", error="invalid_token", error_description="the access token is invalid"`
	challengeScope   = `Bearer realm="sessionkit", error="insufficient_scope", error_description="the access token lacks a required scope", scope="write"`
)

// stages counts the runs of each stage of a router's chain.
type stages struct {
	mu sync.Mutex
	n  map[string]int
}

// hit counts one run of stage.
func (s *stages) hit(stage string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[string]int{}
	}
	s.n[stage]++
}

// runs returns how often stage ran.
func (s *stages) runs(stage string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[stage]
}

// Run checks the router build returns: a Bearer token passes with its
// claims; no token, an expired token and a forged one answer 401 with the
// RFC 6750 challenge; a token without "write" answers 403 at RequireScope;
// a WriteRefusal redirect answers 303; after every refusal no later stage
// has run, and every answer has written its status line once; the refresh
// (JSON body and cookie) and logout handlers work under /auth. Each case
// has an Issuer of its own and runs in parallel.
func Run(t *testing.T, build Build) {
	t.Helper()
	// A token signed with a key the issuer does not hold, otherwise perfect.
	forger, _ := NewIssuer()
	forged := Login(forger, "alice", "read write").AccessToken

	type want struct {
		status    int
		challenge string
		location  string
		body      string         // a prefix of the body, when set
		cookies   []string       // the names of the cookies set, in order
		hits      map[string]int // the stages that ran, and how often
	}
	cases := []struct {
		name         string
		opts         sessionkit.MiddlewareOptions
		scope        string // of the login; "read" when empty
		expire       bool   // move the clock past the access token's lifetime first
		method, path string
		send         string // "access": the login's access token, "forged", "refresh cookie", "": nothing
		want         want
	}{
		{name: "bearer token passes with its claims", method: "GET", path: "/api/me", send: "access",
			want: want{status: 200, body: "hello alice\n", hits: map[string]int{"after": 1, "me": 1}}},
		{name: "missing token: 401 challenge, chain stops", method: "GET", path: "/api/me",
			want: want{status: 401, challenge: challengeMissing, body: `{"error":"unauthorized"`}},
		{name: "expired token: 401, chain stops", expire: true, method: "GET", path: "/api/me", send: "access",
			want: want{status: 401, challenge: challengeExpired}},
		{name: "forged token: 401, chain stops", method: "GET", path: "/api/me", send: "forged",
			want: want{status: 401, challenge: challengeInvalid}},
		{name: "missing scope: 403, chain stops at RequireScope", method: "POST", path: "/api/notes", send: "access",
			want: want{status: 403, challenge: challengeScope, hits: map[string]int{"after": 1}}},
		{name: "write scope passes RequireScope", scope: "read write", method: "POST", path: "/api/notes", send: "access",
			want: want{status: 201, hits: map[string]int{"after": 1, "notes": 1}}},
		{name: "WriteRefusal redirect: 303, chain stops", opts: sessionkit.MiddlewareOptions{WriteRefusal: LoginRedirect},
			method: "GET", path: "/api/me",
			want: want{status: 303, challenge: challengeMissing, location: "/login?next=%2Fapi%2Fme"}},
		{name: "WriteRefusal redirect of a POST (no body): 303, chain stops", opts: sessionkit.MiddlewareOptions{WriteRefusal: LoginRedirect},
			method: "POST", path: "/api/notes", send: "forged",
			want: want{status: 303, challenge: challengeInvalid, location: "/login?next=%2Fapi%2Fnotes"}},
		{name: "refresh cookie under /auth", method: "POST", path: "/auth/refresh", send: "refresh cookie",
			want: want{status: 200, body: `{"access_expires_at":`, cookies: []string{"__Host-sk_access", "__Secure-sk_refresh"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			iss, advance := NewIssuer()
			var ran stages
			h := build(iss, tc.opts, ran.hit)
			toks := Login(iss, "alice", cmp.Or(tc.scope, "read"))
			if tc.expire {
				advance(time.Hour)
			}
			req := Request{Method: tc.method, Path: tc.path}
			switch tc.send {
			case "access":
				req.Bearer = toks.AccessToken
			case "forged":
				req.Bearer = forged
			case "refresh cookie":
				req.Cookie = "__Secure-sk_refresh=" + toks.RefreshToken
			}
			a := Do(h, req)
			if a.Status != tc.want.status {
				t.Errorf("status %d, want %d (body %q)", a.Status, tc.want.status, a.Body)
			}
			if got := a.Header.Get("WWW-Authenticate"); got != tc.want.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.want.challenge)
			}
			if got := a.Header.Get("Location"); got != tc.want.location {
				t.Errorf("Location %q, want %q", got, tc.want.location)
			}
			if !strings.HasPrefix(a.Body, tc.want.body) {
				t.Errorf("body %q, want it to start with %q", a.Body, tc.want.body)
			}
			var set []string
			for _, c := range (&http.Response{Header: a.Header}).Cookies() {
				set = append(set, c.Name)
			}
			if !slices.Equal(set, tc.want.cookies) {
				t.Errorf("cookies set %q, want %q", set, tc.want.cookies)
			}
			if a.Written != 1 {
				t.Errorf("the status line was written %d times, want once", a.Written)
			}
			for _, stage := range []string{"after", "me", "notes"} {
				if n := ran.runs(stage); n != tc.want.hits[stage] {
					t.Errorf("stage %q ran %d times, want %d", stage, n, tc.want.hits[stage])
				}
			}
		})
	}

	t.Run("refresh and logout under /auth", func(t *testing.T) {
		t.Parallel()
		iss, _ := NewIssuer()
		h := build(iss, sessionkit.MiddlewareOptions{}, func(string) {})
		toks := Login(iss, "alice", "read")

		a := Do(h, Request{Method: "POST", Path: "/auth/refresh", JSON: `{"refresh_token":"` + toks.RefreshToken + `"}`})
		var fresh struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		if err := json.Unmarshal([]byte(a.Body), &fresh); a.Status != 200 || err != nil || fresh.AccessToken == "" {
			t.Fatalf("POST /auth/refresh: %d %q (%v), want 200 with new tokens", a.Status, a.Body, err)
		}
		if a := Do(h, Request{Method: "GET", Path: "/api/me", Bearer: fresh.AccessToken}); a.Status != 200 || a.Body != "hello alice\n" {
			t.Errorf("GET /api/me with the refreshed token: %d %q, want 200 hello alice", a.Status, a.Body)
		}
		if a := Do(h, Request{Method: "POST", Path: "/auth/logout", JSON: `{"refresh_token":"` + fresh.RefreshToken + `"}`}); a.Status != 204 {
			t.Errorf("POST /auth/logout: %d %q, want 204", a.Status, a.Body)
		}
		a = Do(h, Request{Method: "POST", Path: "/auth/refresh", JSON: `{"refresh_token":"` + fresh.RefreshToken + `"}`})
		if a.Status != 401 {
			t.Errorf("POST /auth/refresh after logout: %d %q, want 401", a.Status, a.Body)
		}
		if a := Do(h, Request{Method: "GET", Path: "/api/me", Bearer: fresh.AccessToken}); a.Status != 401 {
			t.Errorf("GET /api/me after logout: %d %q, want 401 (the session ended)", a.Status, a.Body)
		}
	})
}
