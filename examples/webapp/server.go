package main

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/examples/internal/demo"
	"github.com/sessionkit/sessionkit/store"
)

//go:embed templates static
var assets embed.FS

var pages = template.Must(template.ParseFS(assets, "templates/*.html"))

// config configures the server.
type config struct {
	issuer       string
	store        store.Store
	keys         *sessionkit.KeySet // nil: a key made now, for tests
	insecureHTTP bool               // Cookies.InsecureAllowHTTP, for plain http on 127.0.0.1
	accessTTL    time.Duration
	now          func() time.Time // nil: time.Now
	users        *demo.Users
	log          *slog.Logger
}

// server is the webapp: server-rendered pages, the session in sessionkit's
// cookies, and redirects instead of a script.
type server struct {
	iss      *sessionkit.Issuer
	c        sessionkit.Cookies
	users    *demo.Users
	insecure bool
	log      *slog.Logger
	routes   http.Handler
}

// newServer returns the webapp.
func newServer(cfg config) (*server, error) {
	keys := cfg.keys
	if keys == nil {
		key, err := sessionkit.GenerateSigningKey(sessionkit.ES256)
		if err != nil {
			return nil, err
		}
		keys = sessionkit.NewKeySet(key)
	}
	c := sessionkit.Cookies{InsecureAllowHTTP: cfg.insecureHTTP}
	iss, err := sessionkit.New(sessionkit.Config{
		Issuer:    cfg.issuer,
		Audience:  []string{"webapp-demo"},
		Keys:      keys,
		Store:     cfg.store,
		AccessTTL: cfg.accessTTL,
		Cookies:   c,
		Now:       cfg.now,
		Logger:    cfg.log,
	})
	if err != nil {
		return nil, err
	}
	s := &server{iss: iss, c: c, users: cfg.users, insecure: cfg.insecureHTTP, log: cfg.log}
	files, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(files)))
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /hello", s.hello)
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	// Under /auth, the refresh cookie's path: the browser sends it there only.
	mux.HandleFunc("POST /auth/renew", s.renew)
	mux.HandleFunc("POST /auth/logout", s.logout)
	mux.HandleFunc("POST /auth/logout-all", s.logoutAll)
	mux.HandleFunc("POST /auth/sessions/revoke", s.revoke)
	mux.Handle("GET /readyz", sessionkit.ReadinessHandler(iss))

	// Every form post carries the session cookies: refuse cross-origin
	// ones before any handler runs (LoginCookies checks the login again).
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.render(w, http.StatusForbidden, "error", page{Title: "Forbidden", Message: "Cross-origin request refused."})
	}))
	s.routes = demo.SecurityHeaders(csrf.Handler(mux))
	return s, nil
}

// ServeHTTP serves the webapp's routes.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.routes.ServeHTTP(w, r) }

// Check reports whether the webapp can serve: Issuer.Check (the store
// answers, the signing key is there). main runs it before serving.
func (s *server) Check(ctx context.Context) error { return s.iss.Check(ctx) }

// page is what the templates get.
type page struct {
	Title    string
	Message  string
	Insecure bool
	Logins   []demo.Login
	User     string
	Name     string
	Sessions []sessionRow
	Hello    string
	Next     string
	Username string
}

type sessionRow struct {
	ID, Device, IP, Created, LastUsed string
	Current                           bool
}

func (s *server) render(w http.ResponseWriter, status int, name string, p page) {
	p.Insecure = s.insecure
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, p); err != nil {
		s.log.Error("rendering a page", "page", name, "error", err)
	}
}

// renewedMarker is added to the URL the browser goes back to after a
// renewal. A request carrying it that still has no valid session goes to
// the sign-in page instead of renewing again: one attempt, never a loop.
const renewedMarker = "renewed"

// session authenticates a request by its access cookie. Without a valid
// access token it renews the session once: a GET gets a page that posts to
// /auth/renew and comes back, a form post under /auth is renewed on the
// spot (renewNow). If that fails, or the request comes back from a renewal
// still without a valid token, it redirects to the sign-in page and returns
// false.
func (s *server) session(w http.ResponseWriter, r *http.Request) (*sessionkit.Claims, bool) {
	tok := s.c.AccessToken(r)
	if tok != "" {
		claims, err := s.iss.Verify(r.Context(), tok)
		switch {
		case err == nil:
			return claims, true
		case errors.Is(err, sessionkit.ErrStoreUnavailable), errors.Is(err, sessionkit.ErrKeysUnavailable):
			s.unavailable(w)
			return nil, false
		}
		// Expired, revoked or invalid: the refresh cookie may still
		// save the session.
	}
	if r.Method != http.MethodGet {
		return s.renewNow(w, r)
	}
	if r.URL.Query().Has(renewedMarker) {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return nil, false
	}
	// The access cookie expired with its token. The refresh cookie is
	// only sent to /auth, and only on same-site requests (SameSite=Strict),
	// so a page of our own posts there: it works even when the user
	// arrived from a link on another site.
	s.render(w, http.StatusOK, "renew", page{Title: "Renewing your session", Next: r.URL.RequestURI()})
	return nil, false
}

// renewNow serves a form post (under /auth, where the refresh cookie goes)
// whose access token has expired: it refreshes right away and goes on with
// the new token, or sends the browser to the sign-in page.
func (s *server) renewNow(w http.ResponseWriter, r *http.Request) (*sessionkit.Claims, bool) {
	if rt := s.c.RefreshToken(r); rt != "" {
		toks, err := s.iss.Refresh(r.Context(), rt)
		if errors.Is(err, sessionkit.ErrStoreUnavailable) {
			s.unavailable(w)
			return nil, false
		}
		if err == nil {
			if err := s.c.Set(w, toks); err == nil {
				if claims, err := s.iss.Verify(r.Context(), toks.AccessToken); err == nil {
					return claims, true
				}
			}
		}
	}
	s.c.Clear(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil, false
}

func (s *server) unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "5")
	s.render(w, http.StatusServiceUnavailable, "error", page{Title: "Unavailable", Message: "Sessions are unavailable; try again in a moment."})
}

// home shows who is signed in and their sessions.
func (s *server) home(w http.ResponseWriter, r *http.Request) {
	claims, ok := s.session(w, r)
	if !ok {
		return
	}
	list, err := s.iss.Sessions(r.Context(), claims.Subject)
	if err != nil {
		s.unavailable(w)
		return
	}
	p := page{Title: "Home", User: claims.Subject, Name: s.users.Name(claims.Subject)}
	for _, ss := range list {
		p.Sessions = append(p.Sessions, sessionRow{
			ID: ss.ID, Device: ss.Device.UserAgent, IP: ss.Device.IP,
			Created:  ss.CreatedAt.Local().Format(time.DateTime),
			LastUsed: ss.LastUsedAt.Local().Format(time.DateTime),
			Current:  ss.ID == claims.SessionID,
		})
	}
	s.render(w, http.StatusOK, "home", p)
}

// hello is a protected page.
func (s *server) hello(w http.ResponseWriter, r *http.Request) {
	claims, ok := s.session(w, r)
	if !ok {
		return
	}
	s.render(w, http.StatusOK, "hello", page{Title: "Hello", User: claims.Subject, Name: s.users.Name(claims.Subject),
		Hello: "This page needed a valid access token; yours expires at " + claims.ExpiresAt.Local().Format(time.TimeOnly) + "."})
}

func (s *server) loginPage(w http.ResponseWriter, r *http.Request) {
	p := page{Title: "Sign in", Logins: demo.Logins, Next: localPath(r.URL.Query().Get("next"))}
	switch {
	case r.URL.Query().Has("bye"):
		p.Message = "You are signed out."
	case r.URL.Query().Has("everywhere"):
		p.Message = "You are signed out on every device."
	}
	s.render(w, http.StatusOK, "login", p)
}

// login checks the password, then lets sessionkit create the session and
// set its cookies.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	username, password := r.PostFormValue("username"), r.PostFormValue("password")
	next := localPath(r.PostFormValue("next"))
	u, ok := s.users.Check(username, password)
	if !ok {
		s.log.Info("sign-in refused", "username", username)
		s.render(w, http.StatusUnauthorized, "login", page{Title: "Sign in", Logins: demo.Logins, Next: next,
			Username: username, Message: "Wrong username or password."})
		return
	}
	_, err := s.iss.LoginCookies(w, r, sessionkit.Grant{Subject: u.Username, Scope: "profile"})
	switch {
	case errors.Is(err, sessionkit.ErrCrossOrigin):
		s.render(w, http.StatusForbidden, "error", page{Title: "Forbidden", Message: "Cross-origin request refused."})
		return
	case errors.Is(err, sessionkit.ErrStoreUnavailable):
		s.unavailable(w)
		return
	case err != nil:
		s.log.Error("sign-in failed", "username", u.Username, "error", err)
		s.render(w, http.StatusInternalServerError, "error", page{Title: "Error", Message: "Sign-in failed."})
		return
	}
	s.log.Info("signed in", "username", u.Username)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// renew rotates the refresh cookie and goes back to the page that needed
// it, or to the sign-in page when the session is over.
func (s *server) renew(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.PostFormValue("next"))
	rt := s.c.RefreshToken(r)
	if rt == "" {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
		return
	}
	toks, err := s.iss.Refresh(r.Context(), rt)
	if errors.Is(err, sessionkit.ErrStoreUnavailable) {
		s.unavailable(w)
		return
	}
	if err == nil {
		err = s.c.Set(w, toks)
	}
	if err != nil {
		// Reused, expired, revoked or unknown: the session is over.
		s.c.Clear(w)
		http.Redirect(w, r, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
		return
	}
	u, _ := url.Parse(next)
	q := u.Query()
	q.Set(renewedMarker, "1")
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	if rt := s.c.RefreshToken(r); rt != "" {
		err := s.iss.Logout(r.Context(), rt)
		if errors.Is(err, sessionkit.ErrStoreUnavailable) {
			s.unavailable(w) // keep the cookies: the session still lives
			return
		}
	}
	s.c.Clear(w)
	http.Redirect(w, r, "/login?bye", http.StatusSeeOther)
}

func (s *server) logoutAll(w http.ResponseWriter, r *http.Request) {
	claims, ok := s.session(w, r)
	if !ok {
		return
	}
	if err := s.iss.LogoutAll(r.Context(), claims.Subject); err != nil {
		s.unavailable(w)
		return
	}
	s.c.Clear(w)
	http.Redirect(w, r, "/login?everywhere", http.StatusSeeOther)
}

func (s *server) revoke(w http.ResponseWriter, r *http.Request) {
	claims, ok := s.session(w, r)
	if !ok {
		return
	}
	id := r.PostFormValue("id")
	err := s.iss.RevokeSession(r.Context(), claims.Subject, id)
	switch {
	case errors.Is(err, sessionkit.ErrNotFound):
		// Gone already, or not the caller's: nothing to do.
	case err != nil:
		s.unavailable(w)
		return
	case id == claims.SessionID:
		s.c.Clear(w)
		http.Redirect(w, r, "/login?bye", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// localPath returns p if it is a path on this site, else "/": redirects
// never leave the site (no "//evil.example", no "/\evil.example").
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/"
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	q := u.Query()
	q.Del(renewedMarker)
	u.RawQuery = q.Encode()
	return u.RequestURI()
}
