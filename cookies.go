package sessionkit

import (
	"fmt"
	"net/http"
	"strings"
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

// Cookies names and scopes the session cookies of a browser application: the
// access-token cookie, sent with every request to the site, and the
// refresh-token cookie, sent only to the auth routes under RefreshPath. The
// zero value means secure defaults: Secure, HttpOnly, SameSite cookies named
// with the __Host- and __Secure- prefixes, which a subdomain or a plain-http
// page cannot set (cookie tossing).
//
// Requests authenticated by a cookie and using an unsafe method (anything but
// GET, HEAD and OPTIONS) must pass a cross-origin check first
// (http.CrossOriginProtection): Middleware refuses cross-site ones.
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
	// embedded in a third-party site.
	Partitioned bool
	// TrustedOrigins lists extra origins ("scheme://host[:port]", lowercase,
	// e.g. "https://app.example.com") whose cross-origin requests the CSRF
	// check allows, for a front end served from another origin than the API.
	TrustedOrigins []string
	// InsecureAllowHTTP is for local development over plain http: the
	// cookies lose the Secure attribute and the name prefixes (browsers
	// refuse prefixed cookies without Secure).
	InsecureAllowHTTP bool
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
