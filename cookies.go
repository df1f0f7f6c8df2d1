package sessionkit

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Default cookie names and refresh-cookie path (see Cookies).
const (
	defaultAccessCookie          = "__Host-sk_access"
	defaultAccessCookieDomain    = "__Secure-sk_access"
	defaultRefreshCookie         = "__Secure-sk_refresh"
	defaultInsecureAccessCookie  = "sk_access"
	defaultInsecureRefreshCookie = "sk_refresh"
	defaultRefreshPath           = "/auth"
)

// maxCookieAttribute is the longest cookie attribute value browsers keep
// (RFC 6265bis): they ignore a longer Path or Domain attribute and store
// the cookie without it.
const maxCookieAttribute = 1024

// MaxCookieSize is the size limit of one session cookie, in bytes: the whole
// Set-Cookie value, name and attributes included. Browsers drop larger
// cookies without a word; Cookies.Set refuses them with an error instead.
const MaxCookieSize = 4096

// Cookies names and scopes the session cookies of a browser application: the
// access-token cookie, sent with every request to the site, and the
// refresh-token cookie, sent only to the auth routes under RefreshPath. The
// zero value means secure defaults, which a subdomain or a plain-http page
// cannot overwrite (cookie tossing) and page scripts cannot read:
//
//   - the access cookie "__Host-sk_access": Path=/, Secure, HttpOnly,
//     SameSite=Lax, Max-Age the access token's remaining lifetime;
//   - the refresh cookie "__Secure-sk_refresh": Path=/auth, Secure,
//     HttpOnly, SameSite=Strict, Max-Age the refresh token's remaining
//     lifetime (the session's idle expiry, capped by its absolute one).
//
// An access cookie that has expired with its token is simply missing: the
// application's script answers a 401 by calling the refresh route once.
//
// The settings live in one place: Config.Cookies of the Issuer, where New
// validates them, and which the login helper, the ready-made handlers
// (Issuer.RefreshHandler and the others) and Middleware over the Issuer
// (MiddlewareOptions.AccessCookie) all read, so they agree on names, paths
// and trusted origins. A resource server names them once too, in
// VerifierConfig.Cookies.
//
// Requests authenticated by a cookie and using an unsafe method (anything but
// GET, HEAD and OPTIONS) must pass a cross-origin check first
// (http.CrossOriginProtection, with TrustedOrigins): Middleware, the
// ready-made handlers and Issuer.LoginCookies refuse cross-site ones. SameSite
// alone is not enough: it treats sibling subdomains as the same site.
type Cookies struct {
	// AccessName is the access cookie's name. Default "__Host-sk_access"
	// ("__Secure-sk_access" when Domain is set, "sk_access" with
	// InsecureAllowHTTP).
	AccessName string
	// RefreshName is the refresh cookie's name. Default
	// "__Secure-sk_refresh" ("sk_refresh" with InsecureAllowHTTP).
	RefreshName string
	// RefreshPath scopes the refresh cookie: browsers send it only to paths
	// under it, so the refresh and logout routes must live there. Default
	// "/auth".
	RefreshPath string
	// Domain, when set, shares the cookies with the subdomains of that
	// domain. A cookie with a Domain cannot carry the __Host- prefix, so the
	// default access cookie name becomes "__Secure-sk_access"; leave Domain
	// empty unless the subdomains need the session.
	Domain string
	// Partitioned marks the cookies Partitioned (CHIPS), for applications
	// embedded in a frame of a third-party site: the browser keeps a
	// separate cookie jar per top-level site. Such cookies are also
	// SameSite=None, or the browser would never send them inside the
	// embedding site's frame; the partitioning and the cross-origin check
	// take SameSite's place. Requires Secure (not InsecureAllowHTTP).
	Partitioned bool
	// TrustedOrigins lists extra origins ("scheme://host[:port]", lowercase,
	// e.g. "https://app.example.com") whose cross-origin requests the CSRF
	// check allows, for a front end served from another origin than the API.
	TrustedOrigins []string
	// InsecureAllowHTTP is for local development over plain http: the
	// cookies lose the Secure attribute and the name prefixes (browsers
	// refuse prefixed cookies without Secure). New logs a warning when it
	// is set. Never set it in production: the cookies would travel in clear
	// text and could be overwritten from any subdomain.
	InsecureAllowHTTP bool
}

// Set writes toks as the access and refresh cookies of the response, each
// with a Max-Age of its token's remaining lifetime (see Cookies), and marks
// the response "Cache-Control: no-store". Call it after Issuer.Login or
// Issuer.Refresh when not using Issuer.LoginCookies or the ready-made
// handlers. The remaining lifetimes are counted from the wall clock
// (time.Now); LoginCookies and the handlers count them from Config.Now.
//
// Set writes nothing and returns an error when c is invalid (errors wrap
// ErrInvalidConfig, as from New), when a cookie would exceed MaxCookieSize
// (ErrInvalidConfig: fewer application claims or a smaller key helps), or
// when a token has already expired (ErrTokenExpired). Errors never contain
// token material.
func (c Cookies) Set(w http.ResponseWriter, toks *Tokens) error {
	return c.set(w, toks, time.Now())
}

// Clear expires both session cookies in the browser, with the attributes Set
// gives them (a browser only deletes a cookie whose name, path, domain and
// prefix match), and marks the response "Cache-Control: no-store". It does
// nothing when c is invalid; New and the ready-made handlers refuse such a
// value.
func (c Cookies) Clear(w http.ResponseWriter) {
	if c.check() != nil {
		return
	}
	h := w.Header()
	for _, ck := range []*http.Cookie{c.accessCookie("", -1), c.refreshCookie("", -1)} {
		h.Add("Set-Cookie", ck.String())
	}
	h.Set("Cache-Control", "no-store")
}

// set is Set with the issuer's clock.
func (c Cookies) set(w http.ResponseWriter, toks *Tokens, now time.Time) error {
	if err := c.check(); err != nil {
		return err
	}
	if toks == nil {
		return errors.New("sessionkit: Cookies.Set needs tokens")
	}
	accessAge, err := cookieMaxAge(toks.AccessExpiresAt, now, "access")
	if err != nil {
		return err
	}
	refreshAge, err := cookieMaxAge(toks.RefreshExpiresAt, now, "refresh")
	if err != nil {
		return err
	}
	lines := make([]string, 0, 2)
	for _, ck := range []struct {
		what   string
		cookie *http.Cookie
	}{
		{"access", c.accessCookie(toks.AccessToken, accessAge)},
		{"refresh", c.refreshCookie(toks.RefreshToken, refreshAge)},
	} {
		if ck.cookie.Value == "" {
			return fmt.Errorf("%w: Cookies.Set: the %s token is empty", ErrInvalidToken, ck.what)
		}
		if ck.cookie.Valid() != nil {
			// Valid's message quotes the offending byte: say less.
			return fmt.Errorf("%w: Cookies.Set: the %s token is not a valid cookie value", ErrInvalidToken, ck.what)
		}
		line := ck.cookie.String()
		if len(line) > MaxCookieSize {
			return fmt.Errorf("%w: the %s cookie would take %d bytes, more than MaxCookieSize (%d); use fewer application claims or a smaller signing key",
				ErrInvalidConfig, ck.what, len(line), MaxCookieSize)
		}
		lines = append(lines, line)
	}
	h := w.Header()
	for _, l := range lines {
		h.Add("Set-Cookie", l)
	}
	h.Set("Cache-Control", "no-store")
	return nil
}

// cookieMaxAge is a cookie's Max-Age for a token expiring at exp: whole seconds
// left, at least 1 (0 would make a session cookie), or an error when the
// token has expired.
func cookieMaxAge(exp, now time.Time, what string) (int, error) {
	left := exp.Sub(now)
	if left <= 0 {
		return 0, fmt.Errorf("%w: Cookies.Set: the %s token has expired", ErrTokenExpired, what)
	}
	return max(1, int(left/time.Second)), nil
}

// accessCookie is the access cookie carrying value; age is its Max-Age
// (negative: expire it now).
func (c Cookies) accessCookie(value string, age int) *http.Cookie {
	ck := c.cookie(c.accessName(), value, "/", age)
	if !c.Partitioned {
		ck.SameSite = http.SameSiteLaxMode
	}
	return ck
}

// refreshCookie is the refresh cookie carrying value; age as accessCookie.
func (c Cookies) refreshCookie(value string, age int) *http.Cookie {
	ck := c.cookie(c.refreshName(), value, c.refreshPath(), age)
	if !c.Partitioned {
		ck.SameSite = http.SameSiteStrictMode
	}
	return ck
}

// cookie holds the attributes both cookies share.
func (c Cookies) cookie(name, value, path string, age int) *http.Cookie {
	return &http.Cookie{
		Name:        name,
		Value:       value,
		Path:        path,
		Domain:      c.Domain,
		MaxAge:      age,
		Secure:      !c.InsecureAllowHTTP,
		HttpOnly:    true,
		SameSite:    http.SameSiteNoneMode, // Partitioned; the others override it
		Partitioned: c.Partitioned,
	}
}

// Cookie name prefixes (RFC 6265bis §4.1.3), which browsers match without
// regard to case.
const (
	hostPrefix   = "__host-"
	securePrefix = "__secure-"
)

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// validate checks c whole, as New does: check, then the trusted origins,
// from which it builds the cross-origin check.
func (c Cookies) validate() (*http.CrossOriginProtection, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	return c.crossOriginProtection()
}

// check checks the names, path, domain and attributes of c, defaults
// applied: the cookies Set writes must pass http.Cookie.Valid and be stored
// by browsers as written: browsers refuse prefixed cookies whose attributes
// break the prefix's rules, and drop attribute values over 1024 bytes.
func (c Cookies) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: Cookies: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	access, refresh, path := c.accessName(), c.refreshName(), c.refreshPath()
	for _, n := range []struct{ field, name string }{{"AccessName", access}, {"RefreshName", refresh}} {
		if (&http.Cookie{Name: n.name}).Valid() != nil {
			return bad("%s %q is not a valid cookie name", n.field, n.name)
		}
		prefixed := hasPrefixFold(n.name, hostPrefix) || hasPrefixFold(n.name, securePrefix)
		if prefixed && c.InsecureAllowHTTP {
			return bad("%s %q has a __Host- or __Secure- prefix, which needs Secure cookies: drop the prefix or InsecureAllowHTTP", n.field, n.name)
		}
		if hasPrefixFold(n.name, hostPrefix) && c.Domain != "" {
			return bad("%s %q has the __Host- prefix, which forbids a Domain (Domain is %q): use the __Secure- prefix or leave Domain empty", n.field, n.name, c.Domain)
		}
	}
	if strings.EqualFold(access, refresh) {
		return bad("AccessName and RefreshName are both %q", access)
	}
	for _, a := range []struct{ field, value string }{{"RefreshPath", path}, {"Domain", c.Domain}} {
		if len(a.value) > maxCookieAttribute {
			return bad("%s takes %d bytes; browsers ignore a cookie attribute longer than %d bytes and would store the cookie without it",
				a.field, len(a.value), maxCookieAttribute)
		}
	}
	if !strings.HasPrefix(path, "/") || (&http.Cookie{Name: "n", Path: path}).Valid() != nil {
		return bad("RefreshPath %q must start with / and contain only printable ASCII other than ;", path)
	}
	if hasPrefixFold(refresh, hostPrefix) && path != "/" {
		return bad("RefreshName %q has the __Host- prefix, which needs Path=/ (RefreshPath is %q): use the __Secure- prefix", refresh, path)
	}
	if c.Domain != "" && (&http.Cookie{Name: "n", Domain: c.Domain}).Valid() != nil {
		return bad("Domain %q is not a valid cookie domain", c.Domain)
	}
	if c.Partitioned && c.InsecureAllowHTTP {
		return bad("Partitioned cookies need Secure: Partitioned and InsecureAllowHTTP exclude each other")
	}
	return nil
}

// AccessToken returns the value of r's access cookie, or "" when r carries
// none. A request carrying the access cookie more than once (a cookie tossed
// from a subdomain or a narrower path) also gets "": no copy is trusted over
// the other. Middleware answers such a request 400 invalid_request.
func (c Cookies) AccessToken(r *http.Request) string {
	v, _ := cookieValue(r, c.accessName())
	return v
}

// RefreshToken returns the value of r's refresh cookie, or "" when r carries
// none or carries it more than once (see AccessToken).
func (c Cookies) RefreshToken(r *http.Request) string {
	v, _ := cookieValue(r, c.refreshName())
	return v
}

// cookieValue returns the value of r's cookie called name and how many
// cookies of that name r carries. The value is "" unless the count is 1.
func cookieValue(r *http.Request, name string) (string, int) {
	cs := r.CookiesNamed(name)
	if len(cs) != 1 {
		return "", len(cs)
	}
	return cs[0].Value, 1
}

// accessName is the access cookie's name, defaults applied.
func (c Cookies) accessName() string {
	switch {
	case c.AccessName != "":
		return c.AccessName
	case c.InsecureAllowHTTP:
		return defaultInsecureAccessCookie
	case c.Domain != "":
		return defaultAccessCookieDomain
	}
	return defaultAccessCookie
}

// refreshName is the refresh cookie's name, defaults applied.
func (c Cookies) refreshName() string {
	switch {
	case c.RefreshName != "":
		return c.RefreshName
	case c.InsecureAllowHTTP:
		return defaultInsecureRefreshCookie
	}
	return defaultRefreshCookie
}

// refreshPath is the refresh cookie's path, default applied.
func (c Cookies) refreshPath() string {
	if c.RefreshPath != "" {
		return c.RefreshPath
	}
	return defaultRefreshPath
}

// crossOriginProtection returns the CSRF check for cookie-authenticated
// requests: http.CrossOriginProtection with every TrustedOrigins entry.
func (c Cookies) crossOriginProtection() (*http.CrossOriginProtection, error) {
	p := http.NewCrossOriginProtection()
	for _, o := range c.TrustedOrigins {
		if o != strings.ToLower(o) {
			// Browsers send origins lowercase and the match is exact: such
			// an entry would never match.
			return nil, fmt.Errorf("%w: Cookies.TrustedOrigins entry %q must be lowercase", ErrInvalidConfig, o)
		}
		if err := p.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("%w: Cookies.TrustedOrigins entry %q: %w", ErrInvalidConfig, o, err)
		}
	}
	return p, nil
}

// cookieSettings are the Cookies of an Issuer (Config.Cookies) or a
// Verifier (VerifierConfig.Cookies), checked, with their cross-origin check
// built once.
type cookieSettings struct {
	c    Cookies
	csrf *http.CrossOriginProtection
}

// newCookieSettings validates c and builds its settings.
func newCookieSettings(c Cookies) (*cookieSettings, error) {
	csrf, err := c.validate()
	if err != nil {
		return nil, err
	}
	c.TrustedOrigins = slices.Clone(c.TrustedOrigins)
	return &cookieSettings{c: c, csrf: csrf}, nil
}

// cookieSource is a TokenVerifier whose configuration names the session
// cookies: *Issuer and *Verifier. Middleware reads the access cookie of
// one (MiddlewareOptions.AccessCookie).
type cookieSource interface {
	cookieSettings() *cookieSettings
}

func (iss *Issuer) cookieSettings() *cookieSettings { return iss.cookies }
func (v *Verifier) cookieSettings() *cookieSettings { return v.cookies }

// Cookies returns Config.Cookies, as New checked it: for the application's
// own use of Cookies.Set, Clear, AccessToken and RefreshToken.
func (iss *Issuer) Cookies() Cookies {
	c := iss.cookies.c
	c.TrustedOrigins = slices.Clone(c.TrustedOrigins)
	return c
}

// initCookies validates Config.Cookies for New and warns about
// InsecureAllowHTTP.
func (iss *Issuer) initCookies(c Cookies) error {
	settings, err := newCookieSettings(c)
	if err != nil {
		return err
	}
	iss.cookies = settings
	if c.InsecureAllowHTTP {
		iss.log.Warn("sessionkit: Cookies.InsecureAllowHTTP is set: session cookies go over plain http without Secure and without name prefixes; for local development only")
	}
	return nil
}
