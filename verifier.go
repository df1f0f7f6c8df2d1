package sessionkit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessionkit/internal/jose"
	"github.com/sessionkit/sessionkit/internal/scope"
	"github.com/sessionkit/sessionkit/store"
)

// VerifierConfig configures a Verifier: the resource-server side, for
// services that check sessionkit access tokens without issuing them. Zero
// values mean the documented defaults.
type VerifierConfig struct {
	// Issuer and JWKSURL name one trusted issuer and where its JWKS lives.
	// Without JWKSURL the JWKS is discovered through the issuer's metadata
	// (see TrustedIssuer.JWKSURL). Use Issuers instead for several (or for
	// a local KeySet or HMAC keys).
	Issuer  string
	JWKSURL string
	// Issuers lists the trusted issuers. Not together with Issuer/JWKSURL.
	Issuers []TrustedIssuer
	// Audience is required: a token's aud must name one of these.
	Audience []string
	// Algorithms is the allow-list (default RS256, ES256 and EdDSA). RS384,
	// RS512, PS256, PS384, PS512, ES384 and ES512 verify when listed here,
	// for issuers that sign with them. Each key verifies only with its own
	// algorithm: a JWK's alg member, or without one its type's default
	// (RS256 for RSA, the curve's ES* for EC). HS256, HS384 and HS512 are
	// accepted only when listed here and only with secrets configured in
	// TrustedIssuer.HMACKeys, never from a JWKS.
	Algorithms []Algorithm
	// TokenTypes are the accepted values of the typ header, for every
	// trusted issuer without TokenTypes of its own (default {"at+jwt"}, the
	// RFC 9068 type sessionkit issues). Compared as RFC 7515 §4.1.9 says:
	// without case, the "application/" prefix optional. An empty string
	// admits tokens without typ. Widen it only for issuers whose access
	// tokens carry another typ (see "Other issuers" in the package
	// documentation): the typ is what keeps an ID token or another JWT of
	// the same issuer from passing for an access token.
	TokenTypes []string
	// MaxTokenAge, when set, bounds the tokens Verify accepts whatever
	// their exp says, for issuers that mint longer-lived tokens than this
	// service wants to trust: a token whose lifetime (exp - iat) exceeds it
	// is invalid, one issued (iat) longer ago than it, plus the leeway, has
	// expired (ErrTokenExpired), and one without iat is invalid. Zero, the
	// default, sets no bound; negative is refused.
	MaxTokenAge time.Duration
	// Leeway is the clock-skew allowance for exp, nbf and iat (default 30
	// seconds, at most MaxLeeway so that deny-list entries always outlive
	// it; negative means none).
	Leeway time.Duration
	// MaxTokenSize caps tokens before any decoding (default
	// DefaultMaxTokenSize, at most MaxTokenSizeLimit).
	MaxTokenSize int
	// VerifyCacheSize is how many verified tokens Verify remembers
	// (default DefaultVerifyCacheSize; negative: none), so that a token
	// presented again skips its signature check. Every presentation is
	// still checked against the clock and, with a Store, against the
	// store; a change of an issuer's keys (a JWKS refetch that changed
	// them, a local KeySet's rotation) drops its entries, and a refused
	// token is never remembered. See Claims on sharing.
	VerifyCacheSize int
	// Store, when set, is the issuers' store (shared with the Issuer):
	// Verify then also checks the jti deny-list, the subject's token version
	// and session liveness in one store read, so revocations and logout-all
	// take effect at once. Without it, a token stays valid until it
	// expires.
	Store store.Store
	// HTTPClient fetches JWKS and discovery documents (default: a new
	// http.Client). It is copied; a fetch follows a few redirects at most,
	// each only to the origin (scheme, host and port) of the URL it asked
	// (the JWKS URL, or the discovery location), never to anything but
	// https unless InsecureAllowHTTP.
	HTTPClient *http.Client
	// FetchTimeout bounds one JWKS fetch, and one discovery (both its
	// locations together) before it (default DefaultFetchTimeout). Every
	// caller also waits no longer than its own context allows.
	FetchTimeout time.Duration
	// MinCacheTTL and MaxCacheTTL clamp the Cache-Control max-age of JWKS
	// and discovery responses (defaults DefaultMinCacheTTL and
	// DefaultMaxCacheTTL). A response without max-age is kept for
	// MinCacheTTL.
	MinCacheTTL time.Duration
	MaxCacheTTL time.Duration
	// RefetchInterval rate-limits the fetches of one issuer's JWKS (default
	// DefaultRefetchInterval). A token with a kid the cached set lacks
	// triggers a refetch at once unless the last refetch for an unknown kid
	// is less than this old; then it is refused at once. A refresh of an
	// expired set, or a retry after a failure, waits this long after the
	// last fetch of any kind. So one issuer costs at most two fetches per
	// interval.
	RefetchInterval time.Duration
	// InsecureAllowHTTP permits http:// JWKS URLs, issuers to discover,
	// discovered jwks_uri values and redirects (tests on loopback, local
	// development).
	InsecureAllowHTTP bool
	// StoreTimeout is the deadline of a Store call whose context has none,
	// as Config.StoreTimeout (default DefaultStoreTimeout; negative: none).
	StoreTimeout time.Duration
	// Cookies names the session cookies, as the issuer's Config.Cookies
	// does (the zero value: its secure defaults), for a Middleware over
	// this Verifier that reads the access cookie
	// (MiddlewareOptions.AccessCookie); NewVerifier validates it.
	Cookies Cookies
	// Events, when set, is told of refused tokens (EventAccessTokenRefused)
	// and failed JWKS or discovery fetches (EventKeysFetchFailed), with
	// their Reason. It runs synchronously.
	Events func(ctx context.Context, e Event)
	// Logger receives JWKS fetch and discovery failures, refused keys and
	// the store failures Check finds; nil discards. Records never contain token material.
	Logger *slog.Logger
	// Now is the clock (default time.Now). It decides token expiry, the
	// expiry of cached JWKS and discovery documents and the refetch rate
	// limit.
	Now func() time.Time
}

// TrustedIssuer is one issuer a Verifier accepts tokens from. It has one
// source of asymmetric keys, JWKSURL, Keys or discovery, and optionally
// HMAC keys; HMAC keys alone are allowed too. An issuer with none of
// JWKSURL, Keys and HMACKeys discovers its JWKS; one with HMACKeys alone
// fetches nothing (set JWKSURL to add remote keys to HMAC keys).
type TrustedIssuer struct {
	// Issuer is the exact iss value.
	Issuer string
	// JWKSURL is where its JWKS is fetched (https unless
	// VerifierConfig.InsecureAllowHTTP).
	//
	// Without JWKSURL, Keys and HMACKeys, the JWKS is discovered: Issuer
	// must then be an https URL without query or fragment, and the
	// Verifier reads the jwks_uri of its metadata, from
	// Issuer+"/.well-known/openid-configuration" (any trailing "/" of
	// Issuer removed; OpenID Connect Discovery §4) or, when that location
	// answers a client error such as 404 (not 429), from
	// /.well-known/oauth-authorization-server inserted between the host
	// and Issuer's path (RFC 8414 §3). The document must name Issuer as its
	// issuer exactly (a trailing "/" counts), or it is refused (the mix-up
	// defence), and its jwks_uri must pass the checks of a JWKSURL. The
	// document is read as strictly as a JWKS, at most MaxDiscoverySize
	// bytes, cached like the JWKS (Cache-Control max-age clamped by
	// MinCacheTTL and MaxCacheTTL, then revalidated with its ETag) and
	// refreshed by the JWKS fetch that finds it expired, so a changed
	// jwks_uri is used from the next JWKS fetch on. A failed discovery is
	// logged, and the last good document keeps serving; before the first,
	// Verify fails with ErrKeysUnavailable.
	JWKSURL string
	// Keys, instead of JWKSURL, verifies with a local key set (an issuer in
	// the same process); its rotations apply at once.
	Keys *KeySet
	// HMACKeys are shared secrets for HS256/HS384/HS512 tokens of this
	// issuer. Each algorithm must also be in VerifierConfig.Algorithms.
	//
	// A KeyID must differ from the kid of every asymmetric key of the
	// issuer, so that a kid always names one key: NewVerifier refuses one
	// that a key of Keys already has. A conflict that appears later (Keys
	// publishes a key with that kid, or the JWKS fetched from JWKSURL
	// carries a usable one) fails closed: tokens with that kid verify with
	// neither key, and an Error-level record naming the issuer and the kid
	// (never key material) is logged each time such a key set is taken
	// into use, until one of the two keys goes.
	HMACKeys []HMACKey
	// TokenTypes, when set, replaces VerifierConfig.TokenTypes for this
	// issuer (same rules).
	TokenTypes []string
	// LegacyUnscopedStore reads VerifierConfig.Store for this issuer under
	// the names sessionkit used before issuer scoping; set it exactly when
	// the Issuer itself has Config.LegacyUnscopedStore.
	LegacyUnscopedStore bool
}

// HMACKey is a shared secret a Verifier accepts HS256, HS384 or HS512
// tokens with. It verifies only with its own algorithm.
type HMACKey struct {
	// KeyID is the kid tokens signed with it carry. Required.
	KeyID string
	// Algorithm is HS256, HS384 or HS512.
	Algorithm Algorithm
	// Secret is at least as long as the algorithm's hash: 32, 48 or 64
	// bytes. It is copied.
	Secret []byte
}

// Verifier checks access tokens of trusted issuers, with the same claim
// checks as Issuer.Verify. It is immutable and safe for concurrent use.
type Verifier struct {
	single       *trustedIssuer // the only issuer, when there is one
	byIssuer     map[string]*trustedIssuer
	store        store.Store
	maxTokenSize int
	verified     *verifiedCache // nil: no cache
	clock        func() time.Time
	log          *slog.Logger                 // VerifierConfig.Logger, for Check
	events       func(context.Context, Event) // VerifierConfig.Events
	cookies      *cookieSettings              // VerifierConfig.Cookies
}

// trustedIssuer is one issuer's claim rules and key source.
type trustedIssuer struct {
	rules  claimRules
	policy *jose.Policy  // typ and kid rules of its tokens' headers
	scope  scope.Scope   // names the issuer's records in VerifierConfig.Store
	remote *remoteKeys   // JWKS URL, configured or discovered
	local  *localKeys    // local KeySet
	static *resolvedKeys // HMAC keys only
}

// keys returns the issuer's current key set.
func (ti *trustedIssuer) keys(ctx context.Context, now time.Time) (*resolvedKeys, error) {
	switch {
	case ti.remote != nil:
		return ti.remote.get(ctx, now)
	case ti.local != nil:
		return ti.local.get(), nil
	default:
		return ti.static, nil
	}
}

// localKeys adapts a local KeySet: the allow-list applied and HMAC keys
// merged, rebuilt only when the KeySet changes.
type localKeys struct {
	ks     *KeySet
	allow  algSet
	hmac   []*publicKey
	issuer string       // for the kid-conflict log record
	log    *slog.Logger // likewise
	view   atomic.Pointer[localView]
}

type localView struct {
	src  *keySnapshot
	keys *resolvedKeys
}

func (l *localKeys) get() *resolvedKeys {
	snap := l.ks.load()
	if v := l.view.Load(); v != nil && v.src == snap {
		return v.keys
	}
	pubs := make([]*publicKey, len(snap.keys))
	for i, k := range snap.keys {
		pubs[i] = &k.pub
	}
	keys, conflicts := newResolvedKeys(l.allow, l.hmac, pubs)
	logKIDConflicts(context.Background(), l.log, l.issuer, conflicts)
	l.view.Store(&localView{src: snap, keys: keys})
	return keys
}

// defaultVerifierAlgorithms is the allow-list when Algorithms is empty.
var defaultVerifierAlgorithms = []Algorithm{RS256, ES256, EdDSA}

// NewVerifier validates cfg and returns a Verifier. It fetches nothing: the
// first Verify for each remote issuer does.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	bad := func(format string, args ...any) (*Verifier, error) {
		return nil, fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if cfg.VerifyCacheSize > MaxVerifyCacheSize {
		return bad("VerifyCacheSize %d exceeds the maximum %d (MaxVerifyCacheSize)", cfg.VerifyCacheSize, MaxVerifyCacheSize)
	}
	issuers := cfg.Issuers
	switch {
	case len(issuers) > 0 && (cfg.Issuer != "" || cfg.JWKSURL != ""):
		return bad("set either Issuer and JWKSURL or Issuers, not both")
	case len(issuers) == 0 && cfg.Issuer == "":
		return bad("Issuer (with JWKSURL, or alone to discover the JWKS) or Issuers is required")
	case len(issuers) == 0:
		issuers = []TrustedIssuer{{Issuer: cfg.Issuer, JWKSURL: cfg.JWKSURL}}
	}
	if len(cfg.Audience) == 0 {
		return bad("Audience is required")
	}
	for _, a := range cfg.Audience {
		if a == "" {
			return bad("Audience has an empty entry")
		}
	}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = defaultVerifierAlgorithms
	}
	var allow algSet
	for _, a := range algs {
		if algBit(a) == 0 {
			return bad("Algorithms: unsupported algorithm %q (use RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, HS256, HS384 or HS512)", shorten(string(a)))
		}
		allow |= algBit(a)
	}
	leeway := orDefault(cfg.Leeway, DefaultLeeway)
	if leeway > MaxLeeway {
		return bad("Leeway %v exceeds the maximum %v", leeway, MaxLeeway)
	}
	leeway = max(leeway, 0)
	maxSize := cfg.MaxTokenSize
	if maxSize == 0 {
		maxSize = DefaultMaxTokenSize
	}
	if maxSize < 512 {
		return bad("MaxTokenSize %d is too small", maxSize)
	}
	if maxSize > MaxTokenSizeLimit {
		return bad("MaxTokenSize %d exceeds the maximum %d (MaxTokenSizeLimit)", maxSize, MaxTokenSizeLimit)
	}
	minTTL := orDefault(cfg.MinCacheTTL, DefaultMinCacheTTL)
	maxTTL := orDefault(cfg.MaxCacheTTL, DefaultMaxCacheTTL)
	interval := orDefault(cfg.RefetchInterval, DefaultRefetchInterval)
	timeout := orDefault(cfg.FetchTimeout, DefaultFetchTimeout)
	switch {
	case minTTL < 0 || maxTTL < 0 || interval < 0 || timeout < 0:
		return bad("MinCacheTTL, MaxCacheTTL, RefetchInterval and FetchTimeout cannot be negative")
	case minTTL > maxTTL:
		return bad("MinCacheTTL %v exceeds MaxCacheTTL %v", minTTL, maxTTL)
	case interval > minTTL:
		return bad("RefetchInterval %v exceeds MinCacheTTL %v", interval, minTTL)
	}
	if cfg.MaxTokenAge < 0 {
		return bad("MaxTokenAge %v is negative (zero sets no bound)", cfg.MaxTokenAge)
	}
	if cfg.Store != nil && !cfg.Store.Capabilities().Has(store.DenyList|store.Versions) {
		return bad("Store lacks the deny-list and versions the revocation check reads")
	}

	cookies, err := newCookieSettings(cfg.Cookies)
	if err != nil {
		return nil, err
	}
	v := &Verifier{
		cookies:      cookies,
		byIssuer:     make(map[string]*trustedIssuer, len(issuers)),
		store:        withDeadlines(cfg.Store, storeTimeout(cfg.StoreTimeout)),
		maxTokenSize: maxSize,
		verified:     newVerifiedCache(cfg.VerifyCacheSize),
		clock:        cfg.Now,
		events:       cfg.Events,
	}
	if v.clock == nil {
		v.clock = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	v.log = log
	client := jwksClient(cfg.HTTPClient, cfg.InsecureAllowHTTP)
	newRemote := func(issuer string, hmac []*publicKey) *remoteKeys {
		return &remoteKeys{
			issuer: issuer, client: client, allow: allow, hmac: hmac, insecure: cfg.InsecureAllowHTTP,
			minTTL: minTTL, maxTTL: maxTTL, interval: interval, timeout: timeout,
			log: log, events: cfg.Events, now: v.clock,
		}
	}
	var hmacAlgs algSet // the HS* algorithms some issuer has a key for
	legacy := -1        // the one issuer reading the store unscoped
	for i, t := range issuers {
		if err := validIssuer(t.Issuer); err != nil {
			return bad("Issuers[%d]: Issuer %v", i, err)
		}
		if _, dup := v.byIssuer[t.Issuer]; dup {
			return bad("Issuers[%d]: issuer %q is listed twice", i, shorten(t.Issuer))
		}
		if t.LegacyUnscopedStore {
			if legacy >= 0 && cfg.Store != nil {
				return bad("Issuers[%d] and Issuers[%d] both set LegacyUnscopedStore: on one store, unscoped records belong to one issuer at most", legacy, i)
			}
			legacy = i
		}
		hmacKeys, err := hmacPublicKeys(t.HMACKeys, allow)
		if err != nil {
			return bad("Issuers[%d]: %v", i, err)
		}
		for _, k := range hmacKeys {
			hmacAlgs |= algBit(Algorithm(k.Algorithm()))
		}
		policy, err := tokenPolicy(cfg.TokenTypes, t.TokenTypes)
		if err != nil {
			return bad("Issuers[%d]: %v", i, err)
		}
		ti := &trustedIssuer{
			rules: claimRules{
				issuer: t.Issuer, audience: append([]string(nil), cfg.Audience...), leeway: leeway, maxAge: cfg.MaxTokenAge,
				requireJTI: cfg.Store != nil, // the deny-list keys on it
			},
			policy: policy,
			scope:  scope.New(t.Issuer, t.LegacyUnscopedStore),
		}
		switch {
		case t.JWKSURL != "" && t.Keys != nil:
			return bad("Issuers[%d]: set JWKSURL or Keys, not both", i)
		case t.JWKSURL != "":
			if err := checkFetchURL("JWKSURL", t.JWKSURL, cfg.InsecureAllowHTTP); err != nil {
				return bad("Issuers[%d]: %v", i, err)
			}
			ti.remote = newRemote(t.Issuer, hmacKeys)
			ti.remote.url = t.JWKSURL
		case t.Keys != nil:
			for j, h := range hmacKeys {
				if t.Keys.load().find(h.KID()) != nil {
					return bad("Issuers[%d]: HMACKeys[%d]: KeyID %q is also the kid of a key of Keys: a kid must name one key", i, j, h.KID())
				}
			}
			ti.local = &localKeys{ks: t.Keys, allow: allow, hmac: hmacKeys, issuer: t.Issuer, log: log}
		case len(hmacKeys) > 0:
			ti.static, _ = newResolvedKeys(allow, hmacKeys, nil)
		default:
			locs, err := discoveryLocations(t.Issuer, cfg.InsecureAllowHTTP)
			if err != nil {
				return bad("Issuers[%d]: no keys (set JWKSURL, Keys or HMACKeys) and no discovery: %v", i, err)
			}
			ti.remote = newRemote(t.Issuer, nil)
			ti.remote.locations = locs
		}
		v.byIssuer[t.Issuer] = ti
	}
	for _, a := range algs {
		if isHMAC(a) && !hmacAlgs.has(a) {
			return bad("Algorithms lists %s but no issuer has an HMACKeys entry for it (HMAC keys never come from a JWKS)", a)
		}
	}
	if len(issuers) == 1 {
		v.single = v.byIssuer[issuers[0].Issuer]
	}
	return v, nil
}

// tokenPolicy is the header policy of a trusted issuer: its own
// TokenTypes, or the Verifier's, or {"at+jwt"}; a kid optional when the
// issuer has one key of the token's algorithm.
func tokenPolicy(verifierTypes, issuerTypes []string) (*jose.Policy, error) {
	types, field := issuerTypes, "TokenTypes"
	if len(types) == 0 {
		types, field = verifierTypes, "VerifierConfig.TokenTypes"
	}
	if len(types) == 0 {
		types = []string{accessTokenType}
	}
	norm := make([]string, len(types))
	for i, t := range types {
		if len(t) > 255 || strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			return nil, fmt.Errorf("%s: %q is not a media type (visible ASCII, at most 255 bytes)", field, shorten(t))
		}
		// "application/jwt" and "JWT" name one type (RFC 7515 §4.1.9):
		// compare without the prefix, as the codec does a token's typ.
		if rest, ok := cutPrefixFold(t, "application/"); ok && !strings.Contains(rest, "/") {
			t = rest
		}
		norm[i] = t
	}
	return &jose.Policy{
		Types:       norm,
		KIDOptional: true,
		TypesHint:   "list it in TrustedIssuer.TokenTypes or VerifierConfig.TokenTypes to accept it (an empty string admits tokens without typ)",
	}, nil
}

// cutPrefixFold is strings.CutPrefix ignoring ASCII case.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// hmacPublicKeys validates configured HMAC keys.
func hmacPublicKeys(keys []HMACKey, allow algSet) ([]*publicKey, error) {
	var out []*publicKey
	seen := make(map[string]bool)
	for j, k := range keys {
		switch {
		case !isHMAC(k.Algorithm):
			return nil, fmt.Errorf("HMACKeys[%d]: algorithm %q is not HS256, HS384 or HS512", j, shorten(string(k.Algorithm)))
		case !allow.has(k.Algorithm):
			return nil, fmt.Errorf("HMACKeys[%d]: %s is not in Algorithms", j, k.Algorithm)
		case k.KeyID == "":
			return nil, fmt.Errorf("HMACKeys[%d]: KeyID is required", j)
		case seen[k.KeyID]:
			return nil, fmt.Errorf("HMACKeys[%d]: KeyID %q is used twice", j, shorten(k.KeyID))
		case len(k.Secret) < hmacMinSecret(k.Algorithm):
			return nil, fmt.Errorf("HMACKeys[%d]: a %s secret needs at least %d bytes, has %d", j, k.Algorithm, hmacMinSecret(k.Algorithm), len(k.Secret))
		}
		seen[k.KeyID] = true
		out = append(out, jose.NewHMACKey(jose.Algorithm(k.Algorithm), k.KeyID, k.Secret))
	}
	return out, nil
}

// checkFetchURL accepts absolute https URLs (and http ones when insecure is
// set) with a host and no user info: a JWKSURL, a discovered jwks_uri, an
// issuer to discover. name names raw in errors.
func checkFetchURL(name, raw string, insecure bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s is not a valid URL", name)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && insecure:
	case u.Scheme == "http":
		return fmt.Errorf("%s must be https (InsecureAllowHTTP permits http for local testing)", name)
	default:
		return fmt.Errorf("%s scheme %q is not https", name, shorten(u.Scheme))
	}
	if u.Host == "" {
		return fmt.Errorf("%s has no host", name)
	}
	if u.User != nil {
		return fmt.Errorf("%s must not carry user info", name)
	}
	return nil
}

// maxJWKSRedirects bounds the redirects one JWKS fetch follows.
const maxJWKSRedirects = 5

// jwksClient returns a copy of c (or a new client) whose redirects stay on
// https unless insecure is set, and on the origin of the first request
// (the JWKS URL, or the discovery location): a redirect elsewhere would let
// whoever controls a path of the issuer's site, or a compromised redirect,
// choose the keys.
func jwksClient(c *http.Client, insecure bool) *http.Client {
	var cp http.Client
	if c != nil {
		cp = *c
	}
	next := cp.CheckRedirect
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxJWKSRedirects {
			return errors.New("too many redirects")
		}
		if req.URL.Scheme != "https" && !(insecure && req.URL.Scheme == "http") {
			return errors.New("redirect away from https refused")
		}
		if !sameOrigin(req.URL, via[0].URL) {
			return errors.New("redirect to another origin refused: a redirect must stay on the scheme, host and port of the URL asked")
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &cp
}

// sameOrigin reports whether a and b have the same scheme, host and port
// (RFC 6454), a missing port counting as the scheme's default.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) &&
		originPort(a) == originPort(b)
}

// originPort is u's port, or its scheme's default port when it has none.
func originPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// Verify checks an access token of a trusted issuer and returns its claims.
//
// The checks are Issuer.Verify's, from the same code: size cap, compact
// serialization, an allowed algorithm with a key of the issuer the token's
// iss names (each key only with its own algorithm; without kid, its one key
// of the algorithm), a typ of the issuer's TokenTypes (default "at+jwt"),
// iss, aud, exp/nbf/iat with the leeway; then, when a Store is configured,
// jti, the deny-list, token version and session liveness. Without a Store,
// jti and ver are optional (tokens of other issuers; see "Other issuers" in
// the package documentation). A kid the cached JWKS lacks triggers one
// rate-limited, single-flight refetch.
//
// Errors wrap ErrInvalidToken, ErrTokenExpired, ErrTokenRevoked,
// ErrKeysUnavailable (no keys could be fetched: a server-side problem) or
// ErrStoreUnavailable.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	ti := v.single
	if ti == nil {
		iss, err := peekIssuer(token, v.maxTokenSize)
		if err == nil && v.byIssuer[iss] == nil {
			err = errRefused(ReasonWrongIssuer, "issuer is not trusted")
		}
		if err != nil {
			// The Event names no issuer: an untrusted iss is the
			// sender's choice, not a label to keep.
			v.refused(ctx, "", nil, err)
			return nil, err
		}
		ti = v.byIssuer[iss]
	}
	c, err := v.verify(ctx, ti, token)
	if err != nil {
		v.refused(ctx, ti.rules.issuer, c, err)
		return nil, err
	}
	return c, nil
}

// verify is Verify once the issuer is known. On a refusal, the claims
// are those verifyAccess returns with it (for the event only), or nil.
func (v *Verifier) verify(ctx context.Context, ti *trustedIssuer, token string) (*Claims, error) {
	now := v.clock()
	keys, err := ti.keys(ctx, now)
	if err != nil {
		return nil, err
	}
	var cached Claims
	c, err := v.verified.check(token, keys, &ti.rules, now, &cached)
	hit := c != nil
	checked := &cached // on a hit, the cache's own copy is what is checked
	if !hit {
		c, err = verifyAccess(token, v.maxTokenSize, keys, ti.policy, &ti.rules, now)
		if errors.Is(err, errUnknownKey) && ti.remote != nil && worthRefetch(token, v.maxTokenSize, &ti.rules, now) {
			fresh, ferr := ti.remote.refetch(ctx)
			switch {
			case ferr != nil:
				return nil, ferr
			case fresh != nil && fresh != keys:
				keys = fresh
				c, err = verifyAccess(token, v.maxTokenSize, fresh, ti.policy, &ti.rules, v.clock())
			}
		}
	}
	if !hit {
		checked = c
	}
	if err == nil && v.store != nil {
		err = checkAccess(ctx, v.store, ti.scope, checked, now)
	}
	if err == nil && !hit {
		v.verified.put(token, keys, c)
	}
	return c, err
}

// refused reports a refusal to VerifierConfig.Events: issuer is the
// trusted issuer the token named ("" when it named none), c its verified
// claims when the refusal came after the signature.
func (v *Verifier) refused(ctx context.Context, issuer string, c *Claims, err error) {
	if v.events == nil {
		return
	}
	e := refusedEvent(c, err, v.clock())
	e.Issuer = issuer
	v.events(ctx, e)
}

// worthRefetch reports whether a token whose key the cached set lacks
// deserves a JWKS refetch: its unverified claims name the issuer and one of
// our audiences and have not expired. A token that would fail those checks
// anyway (stale, misdirected or random) then never spends the issuer's
// unknown-kid refetch, which a genuine new key may need next; a forger can
// still make claims that pass, so the rate limit stays the defence.
func worthRefetch(token string, maxSize int, rules *claimRules, now time.Time) bool {
	jws, err := jose.Split(token, maxSize)
	if err != nil {
		return false
	}
	payload, err := jws.Payload()
	if err != nil {
		return false
	}
	var iss string
	var aud []string
	var exp int64
	err = jose.PeekObject(payload, func(name string, v *jose.Value) error {
		switch name {
		case "iss":
			iss = v.Str()
		case "aud":
			if v.Kind() == jose.String {
				aud = []string{v.Str()}
			} else {
				aud, _ = v.Strings()
			}
		case "exp":
			exp, _ = v.NumericDate()
		}
		return nil
	})
	return err == nil && iss == rules.issuer && audienceMatches(aud, rules.audience) &&
		now.Before(time.Unix(exp, 0).Add(rules.leeway))
}

// peekIssuer reads the iss claim of a compact JWS without verifying it, to
// pick the issuer whose keys verify it. verifyAccess checks iss again after
// the signature.
func peekIssuer(token string, maxSize int) (string, error) {
	jws, err := jose.Split(token, maxSize)
	if err != nil {
		return "", err
	}
	payload, err := jws.Payload()
	if err != nil {
		return "", err
	}
	return issuerOf(payload)
}

// issuerOf reads the iss claim of an unverified payload, and nothing else.
// The whole object must be valid JSON; duplicate members are looked for
// after the signature, when the claims are read.
func issuerOf(payload string) (string, error) {
	var iss string
	err := jose.PeekObject(payload, func(name string, val *jose.Value) error {
		if name == "iss" {
			if val.Kind() != jose.String {
				return errors.New("iss is not a string")
			}
			iss = val.Str()
		}
		return nil
	})
	if err != nil {
		return "", errMalformed("claims: " + err.Error())
	}
	if iss == "" {
		return "", errMalformed("iss missing")
	}
	return iss, nil
}
