package sessionkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Limits of the ready-made handlers and the login helper.
const (
	// maxRefreshBody caps the JSON body of a refresh or logout request.
	maxRefreshBody = 16 << 10
	// maxDeviceUserAgent caps the User-Agent LoginCookies records.
	maxDeviceUserAgent = 512
	// maxSessionIDParam caps the id parameter of a session DELETE.
	maxSessionIDParam = 256
)

// The handlers' answers that Middleware does not give.
var (
	refuseRefresh = refusal{status: http.StatusUnauthorized, code: "invalid_token", desc: "the refresh token is invalid or its session has ended",
		reason: ReasonUnknownToken, err: ErrInvalidToken}
	refuseMethod = refusal{status: http.StatusMethodNotAllowed, code: "method_not_allowed", desc: "method not allowed",
		err: fmt.Errorf("%w: method not allowed", ErrInvalidRequest)}
	refuseNotUser = refusal{status: http.StatusForbidden, code: "forbidden", desc: "the access token is not a user's session token",
		err: fmt.Errorf("%w: not a user's session token", ErrInvalidToken)}
	refuseNoSuch   = refusal{status: http.StatusNotFound, code: "not_found", desc: "no live session with that id", err: ErrNotFound}
	refuseInternal = refusal{status: http.StatusInternalServerError, code: "server_error", desc: "internal error", reason: ReasonInternal}
	refuseNotImpl  = refusal{status: http.StatusNotImplemented, code: "not_supported", desc: "the session store cannot do this", err: ErrUnsupported}
)

// warnPlainHTTP logs once, at Warn, when a login comes over plain http to
// a host that is not loopback while the cookies are Secure: the browser
// will drop them, so the login seems to work and the next request is
// anonymous. A request a proxy forwarded from https (X-Forwarded-Proto)
// is not plain.
func (iss *Issuer) warnPlainHTTP(r *http.Request) {
	if r.TLS != nil || iss.cookies.c.InsecureAllowHTTP || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		return
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if isLoopback(strings.Trim(host, "[]")) {
		return
	}
	iss.plainHTTP.Do(func() {
		iss.log.Warn("sessionkit: a login came over plain http, but the session cookies are Secure: the browser drops them, so the user stays signed out; serve over https (or set X-Forwarded-Proto behind a proxy), or set Cookies.InsecureAllowHTTP for local development",
			"host", shorten(r.Host))
	})
}

// LoginCookies completes a browser login once the application has
// authenticated the user: it checks that r is not a login forged by another
// site, creates the session (Issuer.Login) and sets both session cookies
// (Config.Cookies; see Cookies.Set). The application then answers as it
// likes (a JSON body, a redirect). On error nothing is written to w and no
// session remains.
//
// The check (login CSRF: another site must not log the browser into the
// attacker's account) is http.CrossOriginProtection with
// Cookies.TrustedOrigins; GET, HEAD and OPTIONS requests, which it lets
// through, are refused too. Both refusals wrap ErrCrossOrigin: answer 403.
//
// When g.Device is zero it is taken from r: the User-Agent (at most 512
// bytes) and the address of r.RemoteAddr; behind a proxy, set it yourself.
// When r carries a refresh cookie (the login route lives under
// Cookies.RefreshPath), the session it names is ended after the new one is
// set: the browser forgets that token anyway. Other errors are Login's
// (ErrInvalidGrant for a bad grant, ErrStoreUnavailable) and Cookies.Set's.
func (iss *Issuer) LoginCookies(w http.ResponseWriter, r *http.Request, g Grant) (*Tokens, error) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil, fmt.Errorf("%w: a login must use POST; %s skips the cross-origin check", ErrCrossOrigin, r.Method)
	}
	if err := iss.cookies.csrf.Check(r); err != nil {
		return nil, ErrCrossOrigin
	}
	iss.warnPlainHTTP(r)
	if g.Device == (Device{}) {
		g.Device = deviceOf(r)
	}
	toks, err := iss.Login(r.Context(), g)
	if err != nil {
		return nil, err
	}
	if err := iss.cookies.c.set(w, toks, iss.now()); err != nil {
		// Nobody will hold this session's token: end it.
		_ = iss.Logout(context.WithoutCancel(r.Context()), toks.RefreshToken)
		return nil, err
	}
	if old, n := cookieValue(r, iss.cookies.c.refreshName()); n == 1 && old != "" {
		// Best effort: a token that is unknown, spent or already ended
		// changes nothing.
		_ = iss.Logout(r.Context(), old)
	}
	return toks, nil
}

// deviceOf describes the client of r for the session listing.
func deviceOf(r *http.Request) Device {
	ua := r.UserAgent()
	if len(ua) > maxDeviceUserAgent {
		ua = ua[:maxDeviceUserAgent]
		for len(ua) > 0 && !utf8.ValidString(ua) {
			ua = ua[:len(ua)-1]
		}
	}
	ip := r.RemoteAddr
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	return Device{UserAgent: ua, IP: ip}
}

// authHandler is the state the ready-made handlers share.
type authHandler struct {
	iss  *Issuer
	c    Cookies
	csrf *http.CrossOriginProtection
	out  *outlet

	misplaced sync.Once // the log record of underRefreshPath
}

// newAuthHandler returns the handlers' shared state, on Config.Cookies.
func (iss *Issuer) newAuthHandler() *authHandler {
	return &authHandler{iss: iss, c: iss.cookies.c, csrf: iss.cookies.csrf,
		out: &outlet{log: iss.log, realm: defaultRealm, write: iss.writeRefusal}}
}

// RefreshHandler returns the handler of the refresh route, for POST
// requests (others get 405). Mount it under Cookies.RefreshPath, where the
// browser sends the refresh cookie:
//
//	mux.Handle("POST /auth/refresh", iss.RefreshHandler())
//
// A browser sends the refresh cookie and gets the rotated tokens as new
// cookies, with a JSON body of their expiry times:
//
//	{"access_expires_at": "2026-01-02T15:19:05Z", "refresh_expires_at": "2026-01-09T15:04:05.123Z"}
//
// A client without cookies sends a JSON body (Content-Type
// application/json) {"refresh_token": "skr1...."} and gets the new tokens
// in the answer: {"token_type": "Bearer", "access_token", "refresh_token",
// "access_expires_at", "refresh_expires_at"}. When a request carries the
// refresh cookie, its body is not read.
//
// Every request that carries the refresh cookie or has no JSON body goes
// through the cross-origin check (Cookies.TrustedOrigins) first: a
// cross-site request gets 403 and changes nothing. Answers to failures are JSON
// {"error", "error_description"}, "Cache-Control: no-store", and never
// echo a token or an internal error:
//
//   - 400 invalid_request: the refresh cookie sent twice, a malformed body;
//   - 401 with a bare challenge: no refresh token;
//   - 401 invalid_token: reuse (the session is now revoked), an expired or
//     ended session, an unknown token. For a cookie request the answer also
//     clears both cookies: the browser has no session left;
//   - 503 temporarily_unavailable, with Retry-After: the store is down; the
//     cookies are kept, so a retry can succeed.
//
// Tabs racing with the same cookie are served by the grace window
// (Config.ReuseGrace): each gets the same new cookies.
//
// With Config.Pages set it also takes GET, the page navigations
// PageMiddleware sends for a renewal: GET <RefreshURL>?next=/page rotates
// the refresh cookie and answers 303 to next, or 303 to Pages.LoginURL
// (with next) when there is no session. Only a same-origin top-level
// navigation rotates (Fetch Metadata; a cross-site or non-navigation
// request gets 403 and changes nothing), and next must be a path on this
// site (an absolute or scheme-relative one gets 400).
func (iss *Issuer) RefreshHandler() http.Handler {
	h := iss.newAuthHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		methods := []string{http.MethodPost}
		if iss.pages != nil {
			methods = append(methods, http.MethodGet)
		}
		if !h.allow(w, r, methods...) || !h.underRefreshPath(w, r, "RefreshHandler") {
			return
		}
		if r.Method == http.MethodGet {
			h.servePageRefresh(w, r)
			return
		}
		tok, fromCookie, ok := h.refreshToken(w, r, h.refreshRefused)
		if !ok {
			return
		}
		if tok == "" {
			h.refreshRefused(r, ReasonMissing)
			h.refuse(w, r, refuseMissing)
			return
		}
		toks, err := iss.Refresh(withRequest(r), tok)
		if err != nil {
			if ended(err) {
				if fromCookie {
					h.c.Clear(w)
				}
				f := refuseRefresh.because(refreshReason(err)).from(err)
				// Issuer.emit wrote the record of a reuse and of a refusal
				// of OnRefresh, with the request.
				f.logged = f.reason == ReasonReused || errors.Is(err, errOnRefresh)
				h.refuse(w, r, f)
				return
			}
			h.fail(w, r, "refresh", err)
			return
		}
		if !fromCookie {
			writeJSON(w, http.StatusOK, refreshAnswer{
				TokenType:        "Bearer",
				AccessToken:      toks.AccessToken,
				RefreshToken:     toks.RefreshToken,
				AccessExpiresAt:  toks.AccessExpiresAt.UTC(),
				RefreshExpiresAt: toks.RefreshExpiresAt.UTC(),
			})
			return
		}
		if err := h.c.set(w, toks, iss.now()); err != nil {
			// The browser cannot hold the new tokens (cookies too large
			// after OnRefresh grew the claims): end the session rather
			// than leave it half-alive.
			ctx := context.WithoutCancel(r.Context())
			logRefusal(ctx, iss.log, r, http.StatusInternalServerError, ReasonInternal, slog.String("sid", toks.SessionID),
				slog.Any("error", fmt.Errorf("the session cookies cannot be set, so the session was ended: %w", err)))
			_ = iss.Logout(ctx, toks.RefreshToken)
			h.c.Clear(w)
			f := refuseInternal.from(err)
			f.logged = true // just above
			h.refuse(w, r, f)
			return
		}
		writeJSON(w, http.StatusOK, refreshAnswer{
			AccessExpiresAt:  toks.AccessExpiresAt.UTC(),
			RefreshExpiresAt: toks.RefreshExpiresAt.UTC(),
		})
	})
}

// refreshAnswer is RefreshHandler's answer; the tokens are set for body
// clients only.
type refreshAnswer struct {
	TokenType        string    `json:"token_type,omitempty"`
	AccessToken      string    `json:"access_token,omitempty"`
	RefreshToken     string    `json:"refresh_token,omitempty"`
	AccessExpiresAt  time.Time `json:"access_expires_at"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at"`
}

// refreshReason is the Reason of a Refresh error: the reuse and session
// reasons, and ReasonUnknownToken for every token refused as invalid.
func refreshReason(err error) Reason {
	switch r := reasonOf(err); r {
	case ReasonReused, ReasonSessionExpired, ReasonSessionRevoked, ReasonStoreUnavailable, ReasonInternal:
		return r
	}
	return ReasonUnknownToken
}

// refreshRefused reports a refusal of a refresh request that RefreshHandler
// gives itself (no token, a cross-origin or malformed request) as
// EventRefreshFailed; Refresh reports the others.
func (h *authHandler) refreshRefused(r *http.Request, why Reason) {
	if h.iss.events != nil {
		h.iss.emit(r.Context(), Event{Kind: EventRefreshFailed, Reason: why, Time: h.iss.now()})
	}
}

// ended reports whether a Refresh error means the token will never work:
// anything but an outage or an internal failure.
func ended(err error) bool {
	return !errors.Is(err, ErrStoreUnavailable) &&
		(errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrRefreshReused) ||
			errors.Is(err, ErrSessionExpired) || errors.Is(err, ErrSessionRevoked))
}

// LogoutHandler returns the handler of the logout route, for POST requests
// (others get 405). Mount it under Cookies.RefreshPath, where the browser
// sends the refresh cookie:
//
//	mux.Handle("POST /auth/logout", iss.LogoutHandler())
//
// It ends the session of the refresh token, from the refresh cookie or, for
// a client without cookies, from a JSON body {"refresh_token": "..."} (see
// RefreshHandler), and answers 204. For a cookie request it also clears both
// cookies, even when there was no token or its session had ended already:
// logging out twice is not an error, and with a store that cannot end
// sessions (Config.AcceptStoreLimits) discarding the browser's copy is all
// there is to do. Requests that carry the refresh cookie or have no JSON
// body go through the cross-origin check first (403 when cross-site,
// nothing changes). A store outage answers 503 and keeps the cookies, so that the
// user can retry instead of believing the session ended.
func (iss *Issuer) LogoutHandler() http.Handler {
	h := iss.newAuthHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.allow(w, r, http.MethodPost) || !h.underRefreshPath(w, r, "LogoutHandler") {
			return
		}
		tok, fromCookie, ok := h.refreshToken(w, r, nil)
		if !ok {
			return
		}
		if tok != "" {
			err := iss.Logout(withRequest(r), tok)
			if err != nil && !errors.Is(err, ErrInvalidToken) && !(fromCookie && errors.Is(err, ErrUnsupported)) {
				h.fail(w, r, "logout", err)
				return
			}
		}
		if fromCookie {
			h.c.Clear(w)
		}
		noContent(w)
	})
}

// LogoutAllHandler returns the handler of the "log out everywhere" route,
// for POST requests (others get 405):
//
//	mux.Handle("POST /auth/logout-all", iss.LogoutAllHandler())
//
// It needs a valid access token, from the access cookie or an
// "Authorization: Bearer" header, and refuses requests like Middleware does
// (cookie requests go through the cross-origin check; 401 for a missing or
// bad token, 503 when the store is down). Then it ends every session of the
// token's subject and makes all its access tokens fail (Issuer.LogoutAll),
// clears the cookies of a cookie request and answers 204. Tokens that do
// not belong to a user's own session (client tokens) get 403; a store that
// cannot do it (a limit accepted in Config.AcceptStoreLimits), 501.
func (iss *Issuer) LogoutAllHandler() http.Handler {
	h := iss.newAuthHandler()
	return h.authenticated([]string{http.MethodPost}, func(w http.ResponseWriter, r *http.Request, claims *Claims) {
		if err := iss.LogoutAll(r.Context(), claims.Subject); err != nil {
			h.fail(w, r, "logout-all", err)
			return
		}
		if h.c.AccessToken(r) != "" {
			h.c.Clear(w)
		}
		noContent(w)
	})
}

// SessionsHandler returns the handler of the session listing route, for
// GET (or HEAD) and DELETE requests (others get 405):
//
//	sessions := iss.SessionsHandler()
//	mux.Handle("GET /auth/sessions", sessions)
//	mux.Handle("DELETE /auth/sessions", sessions)
//
// It authenticates like LogoutAllHandler. GET answers the caller's live
// sessions, oldest first, the one of the presented token marked current:
//
//	{"sessions": [{"id": "...", "current": true, "user_agent": "...", "device": "Chrome on Linux",
//	  "ip": "192.0.2.7", "created_at": "...", "last_used_at": "...", "expires_at": "..."}]}
//
// where device is DeviceName of the user agent (absent when that is empty)
// and expires_at is when the session ends unless refreshed. DELETE with
// the query parameter id (DELETE /auth/sessions?id=...) ends that session of
// the caller and answers 204, or 404 when the caller has no live session
// with that id; ending the current session from a cookie request also
// clears the cookies. A store that cannot list or end sessions (a limit
// accepted in Config.AcceptStoreLimits) answers 501.
func (iss *Issuer) SessionsHandler() http.Handler {
	h := iss.newAuthHandler()
	methods := []string{http.MethodGet, http.MethodHead, http.MethodDelete}
	return h.authenticated(methods, func(w http.ResponseWriter, r *http.Request, claims *Claims) {
		if r.Method == http.MethodDelete {
			h.revokeSession(w, r, claims)
			return
		}
		list, err := iss.Sessions(r.Context(), claims.Subject)
		if err != nil {
			h.fail(w, r, "sessions", err)
			return
		}
		out := sessionsAnswer{Sessions: make([]sessionAnswer, len(list))}
		for i, s := range list {
			exp := s.IdleExpiresAt
			if s.ExpiresAt.Before(exp) {
				exp = s.ExpiresAt
			}
			out.Sessions[i] = sessionAnswer{
				ID:         s.ID,
				Current:    s.ID == claims.SessionID,
				UserAgent:  s.Device.UserAgent,
				Device:     DeviceName(s.Device.UserAgent),
				IP:         s.Device.IP,
				CreatedAt:  s.CreatedAt.UTC(),
				LastUsedAt: s.LastUsedAt.UTC(),
				ExpiresAt:  exp.UTC(),
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// revokeSession serves SessionsHandler's DELETE.
func (h *authHandler) revokeSession(w http.ResponseWriter, r *http.Request, claims *Claims) {
	ids := r.URL.Query()["id"]
	if len(ids) != 1 || ids[0] == "" || len(ids[0]) > maxSessionIDParam {
		h.refuse(w, r, badRequest("exactly one id parameter naming a session is required"))
		return
	}
	id := ids[0]
	if err := h.iss.RevokeSession(r.Context(), claims.Subject, id); err != nil {
		if errors.Is(err, ErrNotFound) && !errors.Is(err, ErrStoreUnavailable) {
			h.refuse(w, r, refuseNoSuch)
			return
		}
		h.fail(w, r, "revoke session", err)
		return
	}
	if id == claims.SessionID && h.c.AccessToken(r) != "" {
		h.c.Clear(w)
	}
	noContent(w)
}

// sessionsAnswer is SessionsHandler's GET answer.
type sessionsAnswer struct {
	Sessions []sessionAnswer `json:"sessions"`
}

// sessionAnswer is one session in sessionsAnswer.
type sessionAnswer struct {
	ID         string    `json:"id"`
	Current    bool      `json:"current"`
	UserAgent  string    `json:"user_agent,omitempty"`
	Device     string    `json:"device,omitempty"`
	IP         string    `json:"ip,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// authenticated wraps serve in Middleware over the issuer, with the
// handlers' cookies, behind a method check; serve gets the claims of a
// user's session token (client tokens get 403).
func (h *authHandler) authenticated(methods []string, serve func(http.ResponseWriter, *http.Request, *Claims)) http.Handler {
	mw := Middleware(h.iss, MiddlewareOptions{AccessCookie: true, Logger: h.iss.log, WriteRefusal: h.iss.writeRefusal})
	inner := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, ok := ClaimsFromContext(r.Context())
		if !ok { // Middleware lets no request through without claims
			h.refuse(w, r, refuseMissing)
			return
		}
		if claims.SessionID == "" || claims.ClientID != "" {
			h.refuse(w, r, refuseNotUser)
			return
		}
		serve(w, r, claims)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.allow(w, r, methods...) {
			inner.ServeHTTP(w, r)
		}
	})
}

// underRefreshPath answers 500, with a message naming both paths, when r
// came to a route the refresh cookie never reaches (outside
// Cookies.RefreshPath): the handler (which) is mounted in the wrong place,
// and every browser refresh would fail as if the session had ended. The
// first such request is logged at Error. The path checked is the one the
// client asked for (RequestURI), so routers that strip a prefix do not
// mislead it.
func (h *authHandler) underRefreshPath(w http.ResponseWriter, r *http.Request, which string) bool {
	path := r.URL.Path
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != "" {
		path = u.Path
	}
	cookiePath := h.c.refreshPath()
	if cookiePathMatches(path, cookiePath) {
		return true
	}
	msg := fmt.Sprintf("%s is mounted at %s, outside Cookies.RefreshPath %s: browsers never send the refresh cookie there; mount it under %s, or set RefreshPath",
		which, shorten(path), cookiePath, cookiePath)
	h.misplaced.Do(func() { h.iss.log.Error("sessionkit: " + msg) })
	f := refuseInternal.from(fmt.Errorf("%w: %s", ErrInvalidConfig, msg))
	f.desc, f.logged = msg, true
	h.refuse(w, r, f)
	return false
}

// cookiePathMatches reports whether a cookie of path cookiePath is sent to
// requestPath (RFC 6265 §5.1.4).
func cookiePathMatches(requestPath, cookiePath string) bool {
	return requestPath == cookiePath ||
		strings.HasPrefix(requestPath, cookiePath) && (strings.HasSuffix(cookiePath, "/") || requestPath[len(cookiePath)] == '/')
}

// refreshToken finds the refresh token of a RefreshHandler or LogoutHandler
// request. A request without the refresh cookie and with a JSON body is a
// body client's: the token comes from the body. Any other request counts as
// a cookie request and must pass the cross-origin check; its token is the
// refresh cookie's value, "" when it has none. ok is false when a refusal
// was written.
//
// refused, when set, is told the reason of each refusal refreshToken writes.
func (h *authHandler) refreshToken(w http.ResponseWriter, r *http.Request, refused func(*http.Request, Reason)) (token string, fromCookie, ok bool) {
	no := func(f refusal, fromCookie bool) (string, bool, bool) {
		if refused != nil {
			refused(r, f.reason)
		}
		h.refuse(w, r, f)
		return "", fromCookie, false
	}
	v, n := cookieValue(r, h.c.refreshName())
	if n == 0 && isJSON(r) {
		tok, problem := readRefreshBody(w, r)
		if problem != "" {
			return no(badRequest(problem), false)
		}
		return tok, false, true
	}
	if h.csrf.Check(r) != nil {
		return no(refuseCrossOrigin, true)
	}
	if n > 1 {
		return no(badRequest("the refresh cookie appears more than once"), true)
	}
	return v, true, true
}

// isJSON reports whether r's Content-Type is application/json.
func isJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// readRefreshBody reads {"refresh_token": "..."}; problem says what is wrong.
func readRefreshBody(w http.ResponseWriter, r *http.Request) (token, problem string) {
	const want = "the body must be a JSON object with a refresh_token member"
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRefreshBody))
	var in struct {
		RefreshToken *string `json:"refresh_token"`
	}
	if err := dec.Decode(&in); err != nil {
		return "", want
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", want
	}
	if in.RefreshToken == nil || *in.RefreshToken == "" {
		return "", "the refresh_token member is missing"
	}
	return *in.RefreshToken, ""
}

// allow answers 405, with Allow, unless r's method is one of methods.
func (h *authHandler) allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	if slices.Contains(methods, r.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	h.refuse(w, r, refuseMethod)
	return false
}

// refuse writes f as Middleware would (challenge, JSON body, log record).
func (h *authHandler) refuse(w http.ResponseWriter, r *http.Request, f refusal) {
	refuse(w, r, h.out, f, "")
}

// fail answers an error of the issuer that is not the client's fault: 503
// for a store outage, 501 for what the store cannot do (a store limit the
// application accepted), 500 otherwise; the error is logged, never sent.
func (h *authHandler) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	err = fmt.Errorf("%s: %w", what, err) // the refusal's record carries it
	switch {
	case errors.Is(err, ErrStoreUnavailable):
		h.refuse(w, r, refuseUnavailable.from(err))
	case errors.Is(err, ErrUnsupported):
		h.refuse(w, r, refuseNotImpl.from(err))
	default:
		h.refuse(w, r, refuseInternal.from(err))
	}
}
