package sessionkit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/sessionkit/sessionkit/internal/jose"
)

// TokenVerifier is anything that verifies access tokens: *Issuer and
// *Verifier. Its errors should wrap ErrInvalidToken, ErrTokenExpired,
// ErrTokenRevoked, ErrKeysUnavailable or ErrStoreUnavailable (see Middleware).
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (*Claims, error)
}

// MiddlewareOptions configures Middleware. The zero value reads the
// Authorization header only and requires a token.
type MiddlewareOptions struct {
	// Realm is the realm of the WWW-Authenticate challenges (default
	// "sessionkit"). It must be printable ASCII without '"' or '\'.
	Realm string
	// AccessCookie makes the middleware also read the access cookie, as
	// the TokenVerifier's configuration names it: Config.Cookies of an
	// *Issuer, VerifierConfig.Cookies of a *Verifier. Requests
	// authenticated by it with an unsafe method must pass the cross-origin
	// check of those settings (see Middleware).
	AccessCookie bool
	// AllowQueryToken also accepts the token in the access_token query
	// parameter (RFC 6750 §2.3). Off by default: URLs end up in logs,
	// browser history and Referer headers. A token in a form body is never
	// read.
	AllowQueryToken bool
	// Optional lets requests carrying no token at all through, with no
	// claims in their context. A request carrying a token is still refused
	// if the token is bad.
	Optional bool
	// WriteRefusal, when set, writes the answers to refused requests
	// instead of the default RFC 6750 JSON (see RefusalWriter): an HTML
	// page, a redirect to a login page, an application's own JSON.
	WriteRefusal RefusalWriter
	// Logger receives one record per refused request: its status, Reason,
	// method and path, at the reason's level (Reason.LogLevel: Debug for a
	// missing or expired token, Warn for a bad signature, a wrong issuer or
	// audience, an unknown key; 503s carry the Verify error too). Records
	// never contain a token, cookie or Authorization value. Nil discards
	// them.
	Logger *slog.Logger
}

// RefusalWriter writes the answer to a refused request: status is the one
// the default answer has (400, 401, 403, 404, 405, 500, 501, 503), and
// errors.Is on err tells why: ErrMissingToken, ErrInvalidRequest,
// ErrCrossOrigin, ErrInsufficientScope, ErrTokenExpired, ErrTokenRevoked,
// ErrInvalidToken, ErrKeysUnavailable, ErrStoreUnavailable; from
// RefreshHandler also ErrRefreshReused, ErrSessionExpired,
// ErrSessionRevoked; from the handlers ErrNotFound and ErrUnsupported.
// The headers RFC 6750 asks for (WWW-Authenticate on 401 and 403,
// Retry-After on 503) and "Cache-Control: no-store" are set before it runs;
// it may change them and answer anything, a page or a redirect. err's
// message is for the log: it carries no token material, but it may name
// internal causes, so do not echo it to the client. The refusal is logged
// and reported before it runs.
type RefusalWriter func(w http.ResponseWriter, r *http.Request, status int, err error)

// defaultRealm is the realm when MiddlewareOptions.Realm is empty.
const defaultRealm = "sessionkit"

// retryAfter is the Retry-After of 503 answers, in seconds.
const retryAfter = "5"

var discardLogger = slog.New(slog.DiscardHandler)

// authKey is the context key of an *authInfo.
type authKey struct{}

// authInfo is what Middleware leaves in a request's context.
type authInfo struct {
	claims *Claims // nil for an anonymous request (Optional)
	out    *outlet
	sink   refusalSink // nil when the TokenVerifier reports no events
}

// outlet is where refusals go: the log, the challenge's realm and the
// writer of the answer (nil: the default JSON).
type outlet struct {
	log   *slog.Logger
	realm string
	write RefusalWriter
	pages *pageSettings // PageMiddleware's: renewable page loads are renewed
}

// defaultOutlet is the outlet of RequireScope without a Middleware before
// it.
var defaultOutlet = &outlet{log: discardLogger, realm: defaultRealm}

// refusalSink is a TokenVerifier that reports refusals as Events (*Issuer
// and *Verifier, to their Events hooks): the Middleware reports through it
// the refusals Verify never sees (no token, a cross-origin cookie request,
// a missing scope).
type refusalSink interface {
	reportRefusal(ctx context.Context, e Event)
}

// report tells sink, when there is one, of a refusal of the request itself.
func report(sink refusalSink, r *http.Request, why Reason, c *Claims) {
	if sink == nil {
		return
	}
	e := Event{Kind: EventAccessTokenRefused, Reason: why}
	if c != nil {
		e.Subject, e.ClientID, e.SessionID = c.Subject, c.ClientID, c.SessionID
	}
	sink.reportRefusal(r.Context(), e)
}

// tokenSource is how a request carried its access token.
type tokenSource int

const (
	noToken tokenSource = iota
	fromHeader
	fromCookie
	fromQuery
)

// Middleware returns HTTP middleware that authenticates requests with v and
// passes the verified claims to the next handler (see ClaimsFromContext).
//
// The token comes from the "Authorization: Bearer" header (the scheme is
// case-insensitive; other schemes such as Basic count as no token), from the
// access cookie when o.AccessCookie is set, or from the access_token query
// parameter when o.AllowQueryToken is set; in that last case the handler sees
// the URL without the parameter, and the response gets "Cache-Control:
// private" unless the handler sets its own.
//
// Refusals follow RFC 6750 §3, with a JSON body {"error", "error_description"}
// and "Cache-Control: no-store"; neither the body nor the headers ever echo
// the token or the verifier's error:
//
//   - 400 invalid_request: a token sent by more than one method, two
//     Authorization headers, a repeated access_token parameter or access
//     cookie, an empty token or one that is not an RFC 6750 b64token.
//   - 401 with a bare challenge (no error code): no token, unless
//     o.Optional is set.
//   - 401 invalid_token: Verify failed with ErrTokenExpired ("the access
//     token expired": refreshing helps), ErrTokenRevoked or ErrInvalidToken.
//   - 403 forbidden: a request authenticated by cookie with a method other
//     than GET, HEAD and OPTIONS that http.CrossOriginProtection (with
//     Cookies.TrustedOrigins) finds cross-origin; Verify is not called.
//     Header and query tokens are not sent by browsers on their own, so they
//     skip this check.
//   - 503 temporarily_unavailable, with Retry-After: Verify failed with
//     ErrKeysUnavailable, ErrStoreUnavailable or any other error (fail
//     closed).
//
// Over an *Issuer or a *Verifier, the refusals Verify never sees (no
// token, an invalid request, a cross-origin cookie request; RequireScope's
// missing scope) are reported to its Events hook as EventAccessTokenRefused;
// Verify reports the others itself. Each refused request is logged once to
// o.Logger (see Reason.LogLevel).
//
// Middleware panics, with an error wrapping ErrInvalidConfig, when v is nil,
// o.Realm is not a valid quoted string, or o.AccessCookie is set for a
// TokenVerifier other than an *Issuer or a *Verifier.
func Middleware(v TokenVerifier, o MiddlewareOptions) func(http.Handler) http.Handler {
	return newMiddleware(v, o).handler
}

// handler is the middleware function of m.
func (m *middleware) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.serve(w, r, next)
	})
}

// newMiddleware checks o and builds the Middleware of v.
func newMiddleware(v TokenVerifier, o MiddlewareOptions) *middleware {
	if v == nil {
		panic(fmt.Errorf("%w: Middleware needs a TokenVerifier", ErrInvalidConfig))
	}
	m := &middleware{verifier: v, allowQuery: o.AllowQueryToken, optional: o.Optional,
		out: &outlet{log: o.Logger, realm: o.Realm, write: o.WriteRefusal}}
	m.sink, _ = v.(refusalSink)
	if m.out.realm == "" {
		m.out.realm = defaultRealm
	}
	if !validRealm(m.out.realm) {
		panic(fmt.Errorf("%w: MiddlewareOptions.Realm %q must be printable ASCII without '\"' or '\\'", ErrInvalidConfig, m.out.realm))
	}
	if o.AccessCookie {
		src, ok := v.(cookieSource)
		if !ok {
			panic(fmt.Errorf("%w: MiddlewareOptions.AccessCookie needs an *Issuer or a *Verifier, whose configuration names the cookies", ErrInvalidConfig))
		}
		settings := src.cookieSettings()
		m.cookie, m.csrf = settings.c.accessName(), settings.csrf
	}
	if m.out.log == nil {
		m.out.log = discardLogger
	}
	return m
}

// middleware is the state Middleware builds once.
type middleware struct {
	verifier   TokenVerifier
	out        *outlet
	cookie     string // the access cookie's name; "" when cookies are not read
	csrf       *http.CrossOriginProtection
	allowQuery bool
	optional   bool
	sink       refusalSink // v's, when it reports events
}

func (m *middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	token, src, problem := m.token(r)
	if problem != "" {
		report(m.sink, r, ReasonInvalidRequest, nil)
		refuse(w, r, m.out, badRequest(problem), "")
		return
	}
	info := &authInfo{out: m.out, sink: m.sink}
	if src == noToken {
		if !m.optional {
			report(m.sink, r, ReasonMissing, nil)
			refuse(w, r, m.out, refuseMissing, "")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), authKey{}, info)))
		return
	}
	if src == fromCookie {
		if err := m.csrf.Check(r); err != nil {
			report(m.sink, r, ReasonCrossOrigin, nil)
			refuse(w, r, m.out, refuseCrossOrigin, "")
			return
		}
	}
	claims, err := m.verifier.Verify(r.Context(), token)
	if f, bad := verifyRefusal(claims, err); bad {
		refuse(w, r, m.out, f.from(cmp.Or(err, errNoClaims)), "") // Verify reported it
		return
	}
	info.claims = claims
	r = r.WithContext(context.WithValue(r.Context(), authKey{}, info))
	if src == fromQuery {
		r.URL = withoutQueryToken(r.URL)
		r.RequestURI = r.URL.RequestURI()
		w.Header().Set("Cache-Control", "private")
	}
	next.ServeHTTP(w, r)
}

// token finds r's access token and how it came. problem is set, and names
// what is wrong, for a request RFC 6750 calls invalid_request.
func (m *middleware) token(r *http.Request) (token string, src tokenSource, problem string) {
	n := 0
	found := func(t string, s tokenSource) { token, src, n = t, s, n+1 }

	auth := r.Header.Values("Authorization")
	if len(auth) > 1 {
		return "", noToken, "more than one Authorization header"
	}
	if len(auth) == 1 {
		if t, ok := bearerToken(auth[0]); ok {
			found(t, fromHeader)
		}
	}
	if m.cookie != "" {
		v, count := cookieValue(r, m.cookie)
		if count > 1 {
			return "", noToken, "the access cookie appears more than once"
		}
		if v != "" { // an empty cookie counts as none
			found(v, fromCookie)
		}
	}
	if m.allowQuery {
		q := r.URL.Query()["access_token"]
		if len(q) > 1 {
			return "", noToken, "the access_token parameter appears more than once"
		}
		if len(q) == 1 {
			found(q[0], fromQuery)
		}
	}
	switch {
	case n > 1:
		return "", noToken, "the access token was sent by more than one method"
	case n == 1 && token == "":
		return "", noToken, "the access token is empty"
	case n == 1 && !validB64Token(token):
		return "", noToken, "the access token is malformed"
	}
	return token, src, ""
}

// bearerToken reads an Authorization header value: ok is false for another
// scheme than Bearer; the token is what follows "Bearer" and one or more
// spaces ("" when nothing does).
func bearerToken(h string) (token string, ok bool) {
	scheme, rest, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimLeft(rest, " "), true
}

// validB64Token reports whether s is an RFC 6750 b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func validB64Token(s string) bool {
	i := 0
	for i < len(s) && (jose.IsBase64URLChar(s[i]) || strings.IndexByte(".~+/", s[i]) >= 0) {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(s) && s[i] == '=' {
		i++
	}
	return i == len(s)
}

// withoutQueryToken returns a copy of u without the access_token parameter,
// so that handlers logging their URL do not log the token.
func withoutQueryToken(u *url.URL) *url.URL {
	c := *u
	q := c.Query()
	q.Del("access_token")
	c.RawQuery = q.Encode()
	return &c
}

// verifyRefusal maps the result of Verify to a refusal, with the error's
// Reason; bad is false when the claims may pass. Unknown errors and nil
// claims fail closed (503).
func verifyRefusal(c *Claims, err error) (f refusal, bad bool) {
	switch {
	case err == nil && c != nil:
		return refusal{}, false
	case err == nil:
		return refuseUnavailable.because(ReasonInternal), true
	case errors.Is(err, ErrKeysUnavailable),
		errors.Is(err, ErrStoreUnavailable):
		return refuseUnavailable.because(reasonOf(err)), true
	case errors.Is(err, ErrTokenExpired):
		return refuseExpired, true
	case errors.Is(err, ErrTokenRevoked):
		return refuseRevoked, true
	case errors.Is(err, ErrInvalidToken):
		return refuseInvalid.because(reasonOf(err)), true
	}
	return refuseUnavailable.because(ReasonInternal), true
}

// RequireScope returns middleware that lets a request through only if the
// claims Middleware put in its context include every one of scopes
// (Claims.HasScope). Without claims (no Middleware before it, or an
// anonymous request under MiddlewareOptions.Optional) it answers 401 like a
// missing token; with claims lacking a scope, 403 insufficient_scope with
// the required scopes in the challenge (RFC 6750 §3.1).
//
// RequireScope panics, with an error wrapping ErrInvalidConfig, when scopes
// is empty or one is not an RFC 6749 scope-token.
func RequireScope(scopes ...string) func(http.Handler) http.Handler {
	if len(scopes) == 0 {
		panic(fmt.Errorf("%w: RequireScope needs at least one scope", ErrInvalidConfig))
	}
	for _, s := range scopes {
		if !validScopeToken(s) {
			panic(fmt.Errorf("%w: RequireScope: %q is not a scope token", ErrInvalidConfig, s))
		}
	}
	want := strings.Join(scopes, " ")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			info, _ := r.Context().Value(authKey{}).(*authInfo)
			if info == nil {
				info = &authInfo{out: defaultOutlet}
			}
			if info.claims == nil {
				report(info.sink, r, ReasonMissing, nil)
				refuse(w, r, info.out, refuseMissing, "")
				return
			}
			for _, s := range scopes {
				if !info.claims.HasScope(s) {
					report(info.sink, r, ReasonInsufficientScope, info.claims)
					refuse(w, r, info.out, refuseScope, want)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// ClaimsFromContext returns the claims Middleware verified for the request
// whose context ctx is. ok is false when there are none: no Middleware ran,
// or the request was anonymous under MiddlewareOptions.Optional.
func ClaimsFromContext(ctx context.Context) (claims *Claims, ok bool) {
	info, _ := ctx.Value(authKey{}).(*authInfo)
	if info == nil || info.claims == nil {
		return nil, false
	}
	return info.claims, true
}

// refusal is an error answer: status, error code and description, the
// Reason its log record gives ("" for answers that refuse no credential,
// such as 405), and the error a RefusalWriter is given (and, for 5xx
// answers, the log record).
type refusal struct {
	status int
	code   string
	desc   string
	reason Reason
	err    error
	logged bool // the refusal's record was written already (reuse: by Issuer.emit)
}

// because returns f with reason why.
func (f refusal) because(why Reason) refusal {
	f.reason = why
	return f
}

// from returns f with error err.
func (f refusal) from(err error) refusal {
	f.err = err
	return f
}

// badRequest is the 400 invalid_request refusal of a request whose problem
// this is.
func badRequest(problem string) refusal {
	return refusal{status: http.StatusBadRequest, code: "invalid_request", desc: problem, reason: ReasonInvalidRequest,
		err: fmt.Errorf("%w: %s", ErrInvalidRequest, problem)}
}

var (
	refuseMissing = refusal{status: http.StatusUnauthorized, code: "unauthorized", desc: "authentication required",
		reason: ReasonMissing, err: ErrMissingToken}
	refuseExpired = refusal{status: http.StatusUnauthorized, code: "invalid_token", desc: "the access token expired",
		reason: ReasonExpired, err: ErrTokenExpired}
	refuseRevoked = refusal{status: http.StatusUnauthorized, code: "invalid_token", desc: "the access token was revoked",
		reason: ReasonRevoked, err: ErrTokenRevoked}
	refuseInvalid = refusal{status: http.StatusUnauthorized, code: "invalid_token", desc: "the access token is invalid",
		reason: ReasonMalformed, err: ErrInvalidToken}
	refuseCrossOrigin = refusal{status: http.StatusForbidden, code: "forbidden", desc: "cross-origin request refused",
		reason: ReasonCrossOrigin, err: ErrCrossOrigin}
	refuseScope = refusal{status: http.StatusForbidden, code: "insufficient_scope", desc: "the access token lacks a required scope",
		reason: ReasonInsufficientScope, err: ErrInsufficientScope}
	refuseUnavailable = refusal{status: http.StatusServiceUnavailable, code: "temporarily_unavailable", desc: "authentication is temporarily unavailable; try again later",
		reason: ReasonStoreUnavailable, err: ErrStoreUnavailable}
)

// errNoClaims stands for a Verify that returned neither claims nor an error.
var errNoClaims = errors.New("sessionkit: Verify returned no claims and no error")

// refuse logs f (with its error, for 5xx answers) and writes it: the
// WWW-Authenticate challenge RFC 6750 asks for (scope, when set, names the
// required scopes), then the JSON body, or what out's RefusalWriter writes.
func refuse(w http.ResponseWriter, r *http.Request, out *outlet, f refusal, scope string) {
	if !f.logged {
		if f.err != nil && f.status >= http.StatusInternalServerError {
			logRefusal(r.Context(), out.log, r, f.status, f.reason, slog.Any("error", f.err)) // the operator needs it
		} else {
			logRefusal(r.Context(), out.log, r, f.status, f.reason)
		}
	}
	if out.pages != nil && out.pages.renewable(r, f) {
		renew(w, r, out.pages)
		return
	}
	realm := out.realm

	h := w.Header()
	switch f.code {
	case "unauthorized":
		h.Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
	case "invalid_request", "invalid_token", "insufficient_scope":
		c := `Bearer realm="` + realm + `", error="` + f.code + `", error_description="` + f.desc + `"`
		if scope != "" {
			c += `, scope="` + scope + `"`
		}
		h.Set("WWW-Authenticate", c)
	case "temporarily_unavailable":
		h.Set("Retry-After", retryAfter)
	}
	if out.write != nil {
		h.Set("Cache-Control", "no-store")
		out.write(w, r, f.status, cmp.Or(f.err, error(ErrInvalidRequest)))
		return
	}
	writeJSONError(w, f.status, f.code, f.desc)
}

// validRealm reports whether s can go in a quoted-string as is: printable
// ASCII without '"' or '\'.
func validRealm(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// validScopeToken reports whether s is an RFC 6749 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
