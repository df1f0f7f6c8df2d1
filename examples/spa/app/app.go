// Package app is the server of the single-page-app demo (examples/spa): a
// static page with no build step, the sessionkit auth routes and a small
// protected API. The demo's main and the browser tests (e2e/) both build it
// with New.
//
// Routes:
//
//	GET  /                      the page (index.html, app.js, style.css)
//	GET  /api/info              public: demo users, whether cookies are insecure
//	POST /auth/login            {"username", "password"}: checks the bcrypt hash, then Issuer.LoginCookies;
//	                            answers {"user", "name", "access_expires_at"}
//	POST /auth/refresh          Issuer.RefreshHandler
//	POST /auth/logout           Issuer.LogoutHandler
//	POST /auth/logout-all       Issuer.LogoutAllHandler
//	GET, DELETE /auth/sessions  Issuer.SessionsHandler
//	GET  /api/me, /api/hello    the protected API (sessionkit.Middleware)
//	GET  /.well-known/jwks.json the public keys, for other services
//	GET  /.well-known/oauth-authorization-server, /.well-known/openid-configuration
//	                            Issuer.MetadataHandler: where other services find those keys
//	GET  /readyz                sessionkit.ReadinessHandler: 200 once the store answers, else 503
package app

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/examples/internal/demo"
	"github.com/sessionkit/sessionkit/store"
)

//go:embed static
var static embed.FS

// Audience is the aud of the demo's access tokens.
const Audience = "spa-demo"

// DemoLogins are the demo users' credentials, which the page shows.
var DemoLogins = demo.Logins

// Config configures the demo server.
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
	// AccessTTL and ReuseGrace are sessionkit's (zero: its defaults).
	AccessTTL  time.Duration
	ReuseGrace time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// BcryptCost hashes the demo passwords (0: bcrypt.DefaultCost).
	BcryptCost int
	// Logger receives the server's records (nil: discarded).
	Logger *slog.Logger
	// Events is sessionkit's Config.Events (nil: none); examples/metrics
	// sets it to count the events as OpenTelemetry metrics.
	Events func(context.Context, sessionkit.Event)
}

// server is the demo's state.
type server struct {
	iss      *sessionkit.Issuer
	users    *demo.Users
	insecure bool
	now      func() time.Time
	log      *slog.Logger
}

// App is the demo server: its routes, and Check, the readiness check its
// main runs before it serves.
type App struct {
	http.Handler
	iss *sessionkit.Issuer
}

// Check reports whether the server can serve: Issuer.Check (the store
// answers, the signing key is there).
func (a *App) Check(ctx context.Context) error { return a.iss.Check(ctx) }

// New returns the demo server.
func New(cfg Config) (*App, error) {
	d, err := demo.NewDefaults(cfg.Logger, cfg.BcryptCost, cfg.Keys)
	if err != nil {
		return nil, err
	}
	log, users, keys := d.Log, d.Users, d.Keys
	// One Cookies value for the issuer, the handlers and the middleware.
	c := sessionkit.Cookies{InsecureAllowHTTP: cfg.InsecureHTTP}
	iss, err := sessionkit.New(sessionkit.Config{
		Issuer:     cfg.Issuer,
		Audience:   []string{Audience},
		Keys:       keys,
		Store:      cfg.Store,
		AccessTTL:  cfg.AccessTTL,
		ReuseGrace: cfg.ReuseGrace,
		Cookies:    c,
		Now:        cfg.Now,
		Logger:     log,
		Events:     cfg.Events,
	})
	if err != nil {
		return nil, err
	}
	s := &server{iss: iss, users: users, insecure: cfg.InsecureHTTP, now: cfg.Now, log: log}
	if s.now == nil {
		s.now = time.Now
	}
	files, err := fs.Sub(static, "static")
	if err != nil {
		return nil, err
	}
	api := sessionkit.Middleware(iss, sessionkit.MiddlewareOptions{AccessCookie: true, Logger: log})

	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(files))
	mux.HandleFunc("GET /api/info", s.info)
	mux.HandleFunc("POST /auth/login", s.login)
	mux.Handle("POST /auth/refresh", iss.RefreshHandler())
	mux.Handle("POST /auth/logout", iss.LogoutHandler())
	mux.Handle("POST /auth/logout-all", iss.LogoutAllHandler())
	sessions := iss.SessionsHandler()
	mux.Handle("GET /auth/sessions", sessions)
	mux.Handle("DELETE /auth/sessions", sessions)
	mux.Handle("GET /api/me", api(http.HandlerFunc(s.me)))
	mux.Handle("GET /api/hello", api(sessionkit.RequireScope("hello")(http.HandlerFunc(s.hello))))
	mux.Handle("GET /.well-known/jwks.json", iss.Keys())
	// No OAuth endpoints here: the metadata only leads verifiers to the JWKS.
	md, err := iss.MetadataHandler(sessionkit.MetadataConfig{InsecureAllowHTTP: cfg.InsecureHTTP})
	if err != nil {
		return nil, err
	}
	mux.Handle("GET /.well-known/oauth-authorization-server", md)
	mux.Handle("GET /.well-known/openid-configuration", md)
	mux.Handle("GET /readyz", sessionkit.ReadinessHandler(iss))
	return &App{Handler: demo.SecurityHeaders(mux), iss: iss}, nil
}

// info answers what the page shows before sign-in.
func (s *server) info(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"insecure_http": s.insecure, "users": demo.Logins})
}

// login checks the password and, if it matches, logs the browser in.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "invalid_request", "send JSON")
		return
	}
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "send {\"username\", \"password\"}")
		return
	}
	u, ok := s.users.Check(in.Username, in.Password)
	if !ok {
		s.log.InfoContext(r.Context(), "sign-in refused", "username", in.Username)
		writeError(w, http.StatusUnauthorized, "invalid_credentials", "wrong username or password")
		return
	}
	toks, err := s.iss.LoginCookies(w, r, sessionkit.Grant{
		Subject: u.Username,
		Scope:   "profile hello",
		Claims:  map[string]any{"name": u.Name},
	})
	switch {
	case errors.Is(err, sessionkit.ErrCrossOrigin):
		writeError(w, http.StatusForbidden, "forbidden", "cross-origin request refused")
		return
	case errors.Is(err, sessionkit.ErrStoreUnavailable):
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "try again later")
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "sign-in failed", "username", u.Username, "error", err)
		writeError(w, http.StatusInternalServerError, "server_error", "sign-in failed")
		return
	}
	s.log.InfoContext(r.Context(), "signed in", "username", u.Username)
	// The expiry lets the page start its countdown at once.
	writeJSON(w, http.StatusOK, map[string]any{"user": u.Username, "name": u.Name, "access_expires_at": toks.AccessExpiresAt.UTC()})
}

// me tells the page who is signed in.
func (s *server) me(w http.ResponseWriter, r *http.Request) {
	claims, _ := sessionkit.ClaimsFromContext(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{
		"user":              claims.Subject,
		"name":              s.users.Name(claims.Subject),
		"session_id":        claims.SessionID,
		"scope":             claims.Scope,
		"access_expires_at": claims.ExpiresAt.UTC(),
	})
}

// hello is the protected API; it needs the hello scope.
func (s *server) hello(w http.ResponseWriter, r *http.Request) {
	claims, _ := sessionkit.ClaimsFromContext(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{
		"message":   fmt.Sprintf("Hello, %s! This answer needed a valid access token.", s.users.Name(claims.Subject)),
		"served_at": s.now().UTC().Format(time.RFC3339),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}
