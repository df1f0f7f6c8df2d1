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
	// Cookies, when set, makes the middleware also read the access cookie.
	// Requests authenticated by it with an unsafe method must pass the
	// cross-origin check (see Middleware).
	Cookies *Cookies
	// AllowQueryToken also accepts the token in the access_token query
	// parameter (RFC 6750 §2.3). Off by default: URLs end up in logs,
	// browser history and Referer headers. A token in a form body is never
	// read.
	AllowQueryToken bool
	// Optional lets requests carrying no token at all through, with no
	// claims in their context. A request carrying a token is still refused
	// if the token is bad.
	Optional bool
	// Logger receives one record per refused request: its status, Reason,
	// method and path, at the reason's level (Reason.LogLevel: Debug for a
	// missing or expired token, Warn for a bad signature, a wrong issuer or
	// audience, an unknown key; 503s carry the Verify error too). Records
	// never contain a token, cookie or Authorization value. Nil discards
	// them.
	Logger *slog.Logger
}

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
	realm  string
	log    *slog.Logger
	sink   refusalSink // nil when the TokenVerifier reports no events
}

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
// access cookie when o.Cookies is set, or from the access_token query
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
// o.Realm is not a valid quoted string or a trusted origin is invalid.
func Middleware(v TokenVerifier, o MiddlewareOptions) func(http.Handler) http.Handler {
	if v == nil {
		panic(fmt.Errorf("%w: Middleware needs a TokenVerifier", ErrInvalidConfig))
	}
	m := &middleware{verifier: v, realm: o.Realm, allowQuery: o.AllowQueryToken, optional: o.Optional, log: o.Logger}
	m.sink, _ = v.(refusalSink)
	if m.realm == "" {
		m.realm = defaultRealm
	}
	if !validRealm(m.realm) {
		panic(fmt.Errorf("%w: MiddlewareOptions.Realm %q must be printable ASCII without '\"' or '\\'", ErrInvalidConfig, m.realm))
	}
	if o.Cookies != nil {
		csrf, err := o.Cookies.crossOriginProtection()
		if err != nil {
			panic(err)
		}
		m.cookie, m.csrf = o.Cookies.accessName(), csrf
	}
	if m.log == nil {
		m.log = discardLogger
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m.serve(w, r, next)
		})
	}
}

// middleware is the state Middleware builds once.
type middleware struct {
	verifier   TokenVerifier
	realm      string
	cookie     string // the access cookie's name; "" when cookies are not read
	csrf       *http.CrossOriginProtection
	allowQuery bool
	optional   bool
	log        *slog.Logger
	sink       refusalSink // v's, when it reports events
}

func (m *middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	token, src, problem := m.token(r)
	if problem != "" {
		report(m.sink, r, ReasonInvalidRequest, nil)
		refuse(w, r, m.log, m.realm, badRequest(problem), "", nil)
		return
	}
	info := &authInfo{realm: m.realm, log: m.log, sink: m.sink}
	if src == noToken {
		if !m.optional {
			report(m.sink, r, ReasonMissing, nil)
			refuse(w, r, m.log, m.realm, refuseMissing, "", nil)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), authKey{}, info)))
		return
	}
	if src == fromCookie {
		if err := m.csrf.Check(r); err != nil {
			report(m.sink, r, ReasonCrossOrigin, nil)
			refuse(w, r, m.log, m.realm, refuseCrossOrigin, "", nil)
			return
		}
	}
	claims, err := m.verifier.Verify(r.Context(), token)
	if f, bad := verifyRefusal(claims, err); bad {
		var cause error // logged for outages only: the operator needs it
		if f.status == http.StatusServiceUnavailable {
			cause = cmp.Or(err, errNoClaims)
		}
		refuse(w, r, m.log, m.realm, f, "", cause) // Verify reported it
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
				info = &authInfo{realm: defaultRealm, log: discardLogger}
			}
			if info.claims == nil {
				report(info.sink, r, ReasonMissing, nil)
				refuse(w, r, info.log, info.realm, refuseMissing, "", nil)
				return
			}
			for _, s := range scopes {
				if !info.claims.HasScope(s) {
					report(info.sink, r, ReasonInsufficientScope, info.claims)
					refuse(w, r, info.log, info.realm, refuseScope, want, nil)
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

// refusal is an error answer: status, error code and description, and
// the Reason its log record gives ("" for answers that refuse no
// credential, such as 405).
type refusal struct {
	status int
	code   string
	desc   string
	reason Reason
	logged bool // the refusal's record was written already (reuse: by Issuer.emit)
}

// because returns f with reason why.
func (f refusal) because(why Reason) refusal {
	f.reason = why
	return f
}

// badRequest is the 400 invalid_request refusal of a request whose problem
// this is.
func badRequest(problem string) refusal {
	return refusal{http.StatusBadRequest, "invalid_request", problem, ReasonInvalidRequest, false}
}

var (
	refuseMissing     = refusal{http.StatusUnauthorized, "unauthorized", "authentication required", ReasonMissing, false}
	refuseExpired     = refusal{http.StatusUnauthorized, "invalid_token", "the access token expired", ReasonExpired, false}
	refuseRevoked     = refusal{http.StatusUnauthorized, "invalid_token", "the access token was revoked", ReasonRevoked, false}
	refuseInvalid     = refusal{http.StatusUnauthorized, "invalid_token", "the access token is invalid", ReasonMalformed, false}
	refuseCrossOrigin = refusal{http.StatusForbidden, "forbidden", "cross-origin request refused", ReasonCrossOrigin, false}
	refuseScope       = refusal{http.StatusForbidden, "insufficient_scope", "the access token lacks a required scope", ReasonInsufficientScope, false}
	refuseUnavailable = refusal{http.StatusServiceUnavailable, "temporarily_unavailable", "authentication is temporarily unavailable; try again later", ReasonStoreUnavailable, false}
)

// errNoClaims stands for a Verify that returned neither claims nor an error.
var errNoClaims = errors.New("sessionkit: Verify returned no claims and no error")

// refuse logs f (with cause, when set) and writes it: the WWW-Authenticate
// challenge RFC 6750 asks for (scope, when set, names the required scopes),
// then the JSON body.
func refuse(w http.ResponseWriter, r *http.Request, log *slog.Logger, realm string, f refusal, scope string, cause error) {
	if !f.logged {
		level := slog.LevelInfo // answers that refuse no credential
		if f.reason != "" {
			level = f.reason.LogLevel()
		}
		attrs := []slog.Attr{
			slog.Int("status", f.status), slog.String("reason", string(f.reason)),
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
		}
		if cause != nil {
			attrs = append(attrs, slog.Any("error", cause))
		}
		log.LogAttrs(r.Context(), level, "sessionkit: request refused", attrs...)
	}

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
	writeJSONError(w, f.status, f.code, f.desc)
}

// writeJSONError writes an error answer: {"error": code,
// "error_description": desc}, uncacheable.
func writeJSONError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, desc})
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
