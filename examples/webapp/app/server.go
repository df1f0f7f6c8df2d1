// Package app is the server of the server-rendered demo (examples/webapp):
// html/template pages and redirects, no script, renewed by sessionkit's
// PageMiddleware and RefreshHandler. The demo's main and the browser tests
// (e2e/) both build it with New.
//
// Routes:
//
//	GET  /, /hello              signed-in pages (Issuer.PageMiddleware): home with the sessions, a protected page
//	GET  /login, POST /login    the sign-in form: checks the bcrypt hash, then Issuer.LoginCookies
//	GET  /auth/refresh          Issuer.RefreshHandler: the page renewals PageMiddleware sends
//	POST /auth/logout           ends this session
//	POST /auth/logout-all       ends every session of the user
//	POST /auth/sessions/revoke  ends one session of the user
//	GET  /static/               the style sheet
//	GET  /readyz                sessionkit.ReadinessHandler: 200 once the store answers, else 503
package app

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/examples/internal/demo"
	"github.com/sessionkit/sessionkit/store"
)

//go:embed templates static
var assets embed.FS

var pages = template.Must(template.ParseFS(assets, "templates/*.html"))

// DemoLogins are the demo users' credentials, which the sign-in page shows.
var DemoLogins = demo.Logins

// Config configures the webapp.
type Config struct {
	// Issuer is the iss of the access tokens: the server's URL. Required.
	Issuer string
	// Store keeps the sessions. Required.
	Store store.Store
	// Keys signs the access tokens (nil: a key made now, for tests).
	Keys *sessionkit.KeySet
	// InsecureHTTP sets Cookies.InsecureAllowHTTP, for plain http on
	// 127.0.0.1: the cookies lose Secure and their __Host-/__Secure-
	// prefixes. Leave it false behind https.
	InsecureHTTP bool
	// AccessTTL is sessionkit's (zero: its default).
	AccessTTL time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// BcryptCost hashes the demo passwords (0: bcrypt.DefaultCost).
	BcryptCost int
	// Logger receives the server's records (nil: discarded).
	Logger *slog.Logger
}

// Server is the webapp: server-rendered pages, the session in sessionkit's
// cookies, renewed by sessionkit's PageMiddleware and RefreshHandler.
type Server struct {
	iss      *sessionkit.Issuer
	users    *demo.Users
	insecure bool
	log      *slog.Logger
	routes   http.Handler
}

// New returns the webapp.
func New(cfg Config) (*Server, error) {
	d, err := demo.NewDefaults(cfg.Logger, cfg.BcryptCost, cfg.Keys)
	if err != nil {
		return nil, err
	}
	log, users, keys := d.Log, d.Users, d.Keys
	s := &Server{users: users, insecure: cfg.InsecureHTTP, log: log}
	iss, err := sessionkit.New(sessionkit.Config{
		Issuer:    cfg.Issuer,
		Audience:  []string{"webapp-demo"},
		Keys:      keys,
		Store:     cfg.Store,
		AccessTTL: cfg.AccessTTL,
		Cookies:   sessionkit.Cookies{InsecureAllowHTTP: cfg.InsecureHTTP},
		Pages:     sessionkit.Pages{LoginURL: "/login"}, // pages renew themselves
		Now:       cfg.Now,
		Logger:    log,
	})
	if err != nil {
		return nil, err
	}
	s.iss = iss
	files, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, err
	}
	// Signed-in pages and forms; what PageMiddleware cannot renew (a
	// forged cookie, a form posted with an expired token, an outage) gets
	// a page of ours.
	signedIn := iss.PageMiddleware(sessionkit.MiddlewareOptions{Logger: log, WriteRefusal: s.refused})
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(files)))
	mux.Handle("GET /{$}", signedIn(http.HandlerFunc(s.home)))
	mux.Handle("GET /hello", signedIn(http.HandlerFunc(s.hello)))
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	// Under /auth, the refresh cookie's path: the browser sends it there only.
	mux.Handle("GET /auth/refresh", iss.RefreshHandler())
	mux.HandleFunc("POST /auth/logout", s.logout)
	mux.Handle("POST /auth/logout-all", signedIn(http.HandlerFunc(s.logoutAll)))
	mux.Handle("POST /auth/sessions/revoke", signedIn(http.HandlerFunc(s.revoke)))
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
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.routes.ServeHTTP(w, r) }

// Check reports whether the webapp can serve: Issuer.Check (the store
// answers, the signing key is there). main runs it before serving.
func (s *Server) Check(ctx context.Context) error { return s.iss.Check(ctx) }

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

func (s *Server) render(w http.ResponseWriter, status int, name string, p page) {
	p.Insecure = s.insecure
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, p); err != nil {
		s.log.Error("rendering a page", "page", name, "error", err)
	}
}

// refused answers what PageMiddleware refuses: a form posted after the
// access token expired goes home (which renews) to be posted again; the
// rest gets a page that says what happened.
func (s *Server) refused(w http.ResponseWriter, r *http.Request, status int, err error) {
	switch {
	case status == http.StatusUnauthorized && r.Method == http.MethodPost:
		http.Redirect(w, r, "/", http.StatusSeeOther)
	case status == http.StatusServiceUnavailable:
		s.render(w, status, "error", page{Title: "Unavailable", Message: "Sessions are unavailable; try again in a moment."})
	case errors.Is(err, sessionkit.ErrCrossOrigin):
		s.render(w, status, "error", page{Title: "Forbidden", Message: "Cross-origin request refused."})
	default:
		s.render(w, status, "error", page{Title: http.StatusText(status), Message: "Please sign in again."})
	}
}

// claims are the verified claims PageMiddleware put in r's context.
func claims(r *http.Request) *sessionkit.Claims {
	c, _ := sessionkit.ClaimsFromContext(r.Context())
	return c
}

// home shows who is signed in and their sessions.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	c := claims(r)
	list, err := s.iss.Sessions(r.Context(), c.Subject)
	if err != nil {
		s.refused(w, r, http.StatusServiceUnavailable, err)
		return
	}
	p := page{Title: "Home", User: c.Subject, Name: s.users.Name(c.Subject)}
	for _, ss := range list {
		p.Sessions = append(p.Sessions, sessionRow{
			ID: ss.ID, Device: sessionkit.DeviceName(ss.Device.UserAgent), IP: ss.Device.IP,
			Created:  ss.CreatedAt.Local().Format(time.DateTime),
			LastUsed: ss.LastUsedAt.Local().Format(time.DateTime),
			Current:  ss.ID == c.SessionID,
		})
	}
	s.render(w, http.StatusOK, "home", p)
}

// hello is a protected page.
func (s *Server) hello(w http.ResponseWriter, r *http.Request) {
	c := claims(r)
	s.render(w, http.StatusOK, "hello", page{Title: "Hello", User: c.Subject, Name: s.users.Name(c.Subject),
		Hello: "This page needed a valid access token; yours expires at " + c.ExpiresAt.Local().Format(time.TimeOnly) + "."})
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	p := page{Title: "Sign in", Logins: demo.Logins, Next: sessionkit.LocalRedirect(r.URL.Query().Get("next"))}
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
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	username, password := r.PostFormValue("username"), r.PostFormValue("password")
	next := sessionkit.LocalRedirect(r.PostFormValue("next"))
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
		s.refused(w, r, http.StatusForbidden, err)
	case err != nil:
		s.log.Error("sign-in failed", "username", u.Username, "error", err)
		s.refused(w, r, http.StatusServiceUnavailable, err)
	default:
		http.Redirect(w, r, next, http.StatusSeeOther)
	}
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	cookies := s.iss.Cookies()
	if rt := cookies.RefreshToken(r); rt != "" {
		if err := s.iss.Logout(r.Context(), rt); errors.Is(err, sessionkit.ErrStoreUnavailable) {
			s.refused(w, r, http.StatusServiceUnavailable, err) // keep the cookies: the session still lives
			return
		}
	}
	cookies.Clear(w)
	http.Redirect(w, r, "/login?bye", http.StatusSeeOther)
}

func (s *Server) logoutAll(w http.ResponseWriter, r *http.Request) {
	if err := s.iss.LogoutAll(r.Context(), claims(r).Subject); err != nil {
		s.refused(w, r, http.StatusServiceUnavailable, err)
		return
	}
	s.iss.Cookies().Clear(w)
	http.Redirect(w, r, "/login?everywhere", http.StatusSeeOther)
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	c, id := claims(r), r.PostFormValue("id")
	err := s.iss.RevokeSession(r.Context(), c.Subject, id)
	switch {
	case errors.Is(err, sessionkit.ErrNotFound):
		// Gone already, or not the caller's: nothing to do.
	case err != nil:
		s.refused(w, r, http.StatusServiceUnavailable, err)
		return
	case id == c.SessionID:
		s.iss.Cookies().Clear(w)
		http.Redirect(w, r, "/login?bye", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
