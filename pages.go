package sessionkit

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"unicode"
)

// Pages configures server-rendered pages that renew themselves
// (Issuer.PageMiddleware, and the refresh handler's page navigations). The
// zero value turns them off.
type Pages struct {
	// LoginURL is the application's sign-in page, a path on this site
	// ("/login"). PageMiddleware and RefreshHandler send a browser there,
	// with the page it wanted in the next query parameter, when its
	// session is gone. Setting it turns the pages on.
	LoginURL string
	// RefreshURL is where RefreshHandler is mounted, a path under
	// Cookies.RefreshPath (default: RefreshPath + "/refresh").
	RefreshURL string
}

// The query parameters of page renewal.
const (
	// nextParam carries the page to come back to: a path on this site.
	nextParam = "next"
	// bounceParam marks a page request that PageMiddleware sent back to
	// itself from a page of its own (see bounce), so that it does so once.
	bounceParam = "sk_renew"
	// maxNext caps the next parameter.
	maxNext = 2048
)

// pageSettings are Config.Pages, checked.
type pageSettings struct {
	login, refresh string
	loginPath      string // login without its query (none is allowed)
}

// newPageSettings checks p against the cookies' RefreshPath; nil when
// pages are off.
func newPageSettings(p Pages, c Cookies) (*pageSettings, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: Pages: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if p.LoginURL == "" {
		if p.RefreshURL != "" {
			return nil, bad("RefreshURL is set without LoginURL")
		}
		return nil, nil
	}
	if localPath(p.LoginURL) != p.LoginURL || strings.ContainsAny(p.LoginURL, "?#") {
		return nil, bad("LoginURL %q must be a path on this site without a query, as in /login", shorten(p.LoginURL))
	}
	refresh := p.RefreshURL
	if refresh == "" {
		refresh = strings.TrimSuffix(c.refreshPath(), "/") + "/refresh"
	}
	if localPath(refresh) != refresh || strings.Contains(refresh, "?") {
		return nil, bad("RefreshURL %q must be a path on this site without a query", shorten(refresh))
	}
	if !cookiePathMatches(refresh, c.refreshPath()) {
		return nil, bad("RefreshURL %q is outside Cookies.RefreshPath %q: browsers never send the refresh cookie there", refresh, c.refreshPath())
	}
	if cookiePathMatches(p.LoginURL, refresh) {
		return nil, bad("LoginURL %q is under RefreshURL %q", p.LoginURL, refresh)
	}
	return &pageSettings{login: p.LoginURL, refresh: refresh, loginPath: p.LoginURL}, nil
}

// localPath returns next when it is a path on this site that a redirect
// may go to, else "": it starts with one "/", and has no scheme, host,
// backslash, control character or white space (so "//evil.example",
// "/\evil.example" and "https://evil.example" are refused), and is at
// most 2048 bytes.
func localPath(next string) string {
	if len(next) > maxNext || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsFunc(next, func(r rune) bool { return r == '\\' || unicode.IsControl(r) || unicode.IsSpace(r) }) {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") ||
		strings.HasPrefix(u.Path, "//") || strings.ContainsRune(u.Path, '\\') {
		return ""
	}
	return next
}

// withNext is target with the next parameter set to next.
func withNext(target, next string) string {
	return target + "?" + url.Values{nextParam: {next}}.Encode()
}

// PageMiddleware is Middleware for the application's server-rendered
// pages (it reads the access cookie, as with MiddlewareOptions.AccessCookie,
// which it sets). A page load (a GET document navigation) without a valid access token,
// its token missing, expired or revoked, is not refused: it is sent with
// 303 to the refresh route (Config.Pages.RefreshURL) with the page in the
// next parameter. RefreshHandler rotates the refresh cookie, which the
// browser sends only there, and sends it back to the page with 303, or to
// Config.Pages.LoginURL (with next) when the session is gone. The
// application writes no renewal code.
//
// The refresh cookie is SameSite=Strict, so a browser that arrived from a
// link on another site does not send it, even through the redirect. Such a
// navigation gets a tiny page of ours instead, which reloads the same page
// at once (an HTML meta refresh, no script): that reload is same-origin,
// so the redirect chain carries the cookie. It happens once per page load
// (the reload carries the marker sk_renew=1 in its query, which a page
// whose token turns out valid then sees).
//
// With MiddlewareOptions.Optional, a request without an access cookie is
// anonymous, not renewed (renewing every visitor would send them all to
// the login page): such a page shows a user signed out once the access
// cookie has expired, until a protected page renews the session.
//
// The login page (Pages.LoginURL) and the refresh route pass through
// unauthenticated, so PageMiddleware may wrap the whole site.
//
// Everything else is refused as Middleware refuses it, by o.WriteRefusal
// when set: other methods (a form post whose token expired gets 401, as a
// renewal would lose its body: render forms with a fresh page instead),
// forged or malformed tokens, store outages. PageMiddleware panics, with an
// error wrapping ErrInvalidConfig, when Config.Pages is not set, or for the
// reasons Middleware does.
func (iss *Issuer) PageMiddleware(o MiddlewareOptions) func(http.Handler) http.Handler {
	if iss == nil || iss.pages == nil {
		panic(fmt.Errorf("%w: PageMiddleware needs Config.Pages (LoginURL at least)", ErrInvalidConfig))
	}
	o.AccessCookie = true
	m := newMiddleware(iss, o)
	m.out.pages = iss.pages
	pages := iss.pages
	return func(next http.Handler) http.Handler {
		guarded := m.handler(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if pages.public(r.URL.Path) {
				// The login page and the refresh route are reached
				// signed out: in front of them, a renewal would loop.
				next.ServeHTTP(w, r)
				return
			}
			guarded.ServeHTTP(w, r)
		})
	}
}

// public reports whether path is the login page or under the refresh
// route, which PageMiddleware passes through unauthenticated.
func (p *pageSettings) public(path string) bool {
	return path == p.loginPath || cookiePathMatches(path, p.refresh)
}

// renewable reports whether PageMiddleware sends a refusal f of r to a
// renewal: a page load whose token is missing, expired or revoked.
//
// Only a document navigation is renewed (Fetch Metadata: mode navigate,
// destination document, or no such headers): a fetch, an image or a frame
// cannot follow the renewal and gets the 401 its script can read. The
// login page and the refresh route are never renewed (PageMiddleware lets
// them through), so a renewal cannot loop.
func (p *pageSettings) renewable(r *http.Request, f refusal) bool {
	if r.Method != http.MethodGet || !documentNavigation(r) {
		return false
	}
	if p.public(r.URL.Path) {
		return false
	}
	return errors.Is(f.err, ErrMissingToken) || errors.Is(f.err, ErrTokenExpired) || errors.Is(f.err, ErrTokenRevoked)
}

// documentNavigation reports whether r's Fetch Metadata, when it has any,
// says a top-level document navigation.
func documentNavigation(r *http.Request) bool {
	mode, dest := r.Header.Get("Sec-Fetch-Mode"), r.Header.Get("Sec-Fetch-Dest")
	return (mode == "" || mode == "navigate") && (dest == "" || dest == "document")
}

// renew answers a page load that needs a renewal: 303 to the refresh
// route, or, for a navigation from another site, a page that reloads this
// one same-origin (see PageMiddleware).
func renew(w http.ResponseWriter, r *http.Request, pages *pageSettings) {
	h := w.Header()
	h.Del("WWW-Authenticate")
	h.Set("Cache-Control", "no-store")
	page := pageURL(r)
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		if withoutBounce(r.URL.RawQuery) != r.URL.RawQuery {
			// Bounced once and still not same-origin: sign in.
			http.Redirect(w, r, withNext(pages.login, page), http.StatusSeeOther)
			return
		}
		bounce(w, page)
		return
	}
	http.Redirect(w, r, withNext(pages.refresh, page), http.StatusSeeOther)
}

// pageURL is the path and query of r, as a next value: without the bounce
// marker, and "/" when it is not a local path.
func pageURL(r *http.Request) string {
	u := *r.URL
	u.RawQuery = withoutBounce(u.RawQuery)
	if p := localPath(u.RequestURI()); p != "" {
		return p
	}
	return "/"
}

// withoutBounce is the raw query q without the bounce marker, the rest
// as it was (order, separators, flags without values).
func withoutBounce(q string) string {
	var kept []string
	for part := range strings.SplitSeq(q, "&") {
		if part != "" && part != bounceParam+"=1" {
			kept = append(kept, part)
		}
	}
	return strings.Join(kept, "&")
}

// pathOf is the path of a local next value.
func pathOf(next string) string {
	path, _, _ := strings.Cut(next, "?")
	path, _, _ = strings.Cut(path, "#")
	return path
}

// bounce writes the page that reloads page same-origin, once (bounceParam).
func bounce(w http.ResponseWriter, page string) {
	u, _ := url.Parse(page) // a localPath: it parses
	u.RawQuery = strings.TrimSuffix(bounceParam+"=1&"+u.RawQuery, "&")
	target := html.EscapeString(u.RequestURI())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprintf(w, `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0; url=%s"><title>Renewing your session</title><p><a href="%s">Continue</a></p>`+"\n", target, target)
}

// servePageRefresh serves RefreshHandler's GET: a page navigation that
// PageMiddleware sent for a renewal. Only a same-origin (or typed-in)
// top-level navigation rotates; anything else changes nothing and is
// refused with 403 (cross_origin). It rotates the refresh cookie and
// answers 303 to next, or to the login page when there is no session.
func (h *authHandler) servePageRefresh(w http.ResponseWriter, r *http.Request) {
	pages := h.iss.pages
	if !navigation(r) {
		h.refreshRefused(r, ReasonCrossOrigin)
		h.refuse(w, r, refuseCrossOrigin)
		return
	}
	nexts := r.URL.Query()[nextParam]
	next := "/"
	if len(nexts) > 1 || len(nexts) == 1 && (localPath(nexts[0]) == "" || cookiePathMatches(pathOf(nexts[0]), pages.refresh)) {
		h.refreshRefused(r, ReasonInvalidRequest)
		h.refuse(w, r, badRequest("next must be one path on this site"))
		return
	}
	if len(nexts) == 1 {
		next = nexts[0]
	}
	w.Header().Set("Cache-Control", "no-store")
	tok, n := cookieValue(r, h.c.refreshName())
	if tok == "" || n > 1 {
		// Not cleared: a browser withholds the SameSite=Strict cookie on
		// a chain another site began, and clearing it then would log a
		// live session out.
		h.refreshRefused(r, ReasonMissing)
		http.Redirect(w, r, withNext(pages.login, next), http.StatusSeeOther)
		return
	}
	toks, err := h.iss.Refresh(withRequest(r), tok)
	switch {
	case err != nil && ended(err):
		h.c.Clear(w)
		http.Redirect(w, r, withNext(pages.login, next), http.StatusSeeOther)
		return
	case err != nil:
		h.fail(w, r, "refresh", err)
		return
	}
	if err := h.c.set(w, toks, h.iss.now()); err != nil {
		// The browser cannot hold the new tokens: end the session, as
		// the POST does, rather than leave its old token to look reused.
		ctx := context.WithoutCancel(r.Context())
		logRefusal(ctx, h.iss.log, r, http.StatusSeeOther, ReasonInternal, slog.String("sid", toks.SessionID),
			slog.Any("error", fmt.Errorf("the session cookies cannot be set, so the session was ended: %w", err)))
		_ = h.iss.Logout(ctx, toks.RefreshToken)
		h.c.Clear(w)
		http.Redirect(w, r, withNext(pages.login, next), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// navigation reports whether r is a top-level navigation of this site:
// Fetch Metadata says same-origin (or none: typed in, a bookmark) and a
// document navigation. A browser that sends no Fetch Metadata passes; the
// refresh cookie's SameSite=Strict keeps other sites' requests from
// carrying it.
func navigation(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	return documentNavigation(r)
}

// LocalRedirect returns next when a redirect may go there: a path on this
// site, by the rules the next parameter of page renewals follows (one
// leading "/", no scheme, host, backslash, control character or white
// space, at most 2048 bytes); else "/". Use it where the application
// redirects after sign-in, so a next parameter never sends a user to
// another site.
func LocalRedirect(next string) string {
	if p := localPath(next); p != "" {
		return p
	}
	return "/"
}
