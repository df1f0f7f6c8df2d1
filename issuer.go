package sessionkit

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sessionkit/sessionkit/internal/jose"
	"github.com/sessionkit/sessionkit/internal/scope"
	"github.com/sessionkit/sessionkit/store"
)

// Defaults for Config's zero values.
const (
	// DefaultAccessTTL is the access-token lifetime when Config.AccessTTL is 0.
	DefaultAccessTTL = 15 * time.Minute
	// DefaultRefreshTTL is a session's idle lifetime when Config.RefreshTTL is 0.
	DefaultRefreshTTL = 7 * 24 * time.Hour
	// DefaultSessionTTL is a session's absolute lifetime when Config.SessionTTL is 0.
	DefaultSessionTTL = 30 * 24 * time.Hour
	// DefaultReuseGrace is the reuse grace window when Config.ReuseGrace is 0.
	DefaultReuseGrace = 10 * time.Second
	// MaxReuseGrace caps Config.ReuseGrace.
	MaxReuseGrace = 60 * time.Second
)

// Limits on what Login accepts.
const (
	maxSubjectLen = 1024
	maxScopeLen   = 1024
	maxClaimsSize = 4096
)

// Config configures an Issuer. Zero values mean the documented defaults.
type Config struct {
	// Issuer is the iss of every access token, usually the auth server's
	// https URL. Required.
	Issuer string
	// Audience is the aud of every access token; Verify accepts a token
	// whose aud contains any of them. Required.
	Audience []string
	// Keys signs access tokens and verifies them: NewKeySet, or
	// ManagedKeys.Keys for keys kept in the store and rotated across a
	// fleet. Required.
	Keys *KeySet
	// Store keeps sessions, versions and the deny-list. Required.
	Store store.Store

	// AccessTTL is the access-token lifetime (default 15 minutes).
	AccessTTL time.Duration
	// RefreshTTL is the idle lifetime of a session: each refresh moves its
	// end to now + RefreshTTL (default 7 days).
	RefreshTTL time.Duration
	// SessionTTL is the absolute lifetime of a session, which no refresh
	// extends (default 30 days).
	SessionTTL time.Duration
	// ReuseGrace is how long after a rotation the previous refresh token
	// still gets the same successor back (multi-tab races, lost responses).
	// Default 10 seconds, at most MaxReuseGrace; negative disables it.
	ReuseGrace time.Duration
	// MaxTokenAge, when set, bounds the access tokens Verify (and the
	// introspection endpoint) accepts, whatever their exp says: a token
	// whose lifetime (exp - iat) exceeds it is invalid, one issued (iat)
	// longer ago than it, plus the leeway, has expired (ErrTokenExpired),
	// and one without iat is invalid. Zero, the default, sets no bound;
	// negative is refused. New refuses a value below AccessTTL (rounded up
	// to whole seconds, as tokens carry times): every token the Issuer
	// mints would fail. Set it to AccessTTL to have tokens minted under an
	// earlier, longer AccessTTL stop verifying at once.
	MaxTokenAge time.Duration
	// Leeway is the clock-skew allowance for exp, nbf and iat (default 30
	// seconds, at most MaxLeeway; negative means none).
	Leeway time.Duration
	// MaxTokenSize caps the size of access tokens Verify reads (default
	// DefaultMaxTokenSize, at most MaxTokenSizeLimit).
	MaxTokenSize int
	// SkipRevocationCheck makes Verify stateless: no deny-list, version or
	// session check, so revocations only take effect when tokens expire.
	SkipRevocationCheck bool
	// VerifyCacheSize is how many verified access tokens Verify remembers
	// (default DefaultVerifyCacheSize; negative: none), so that a token
	// presented again skips its signature check. Only the signature and
	// the parsing are saved: every presentation is checked against the
	// clock (exp, nbf, iat), and against the store unless
	// SkipRevocationCheck is set, as the first was. A change of the key set
	// (a rotation, a retired key) drops every entry, and a refused token is
	// never remembered. See Claims on sharing.
	VerifyCacheSize int
	// AcceptStoreLimits lists the capabilities the application accepts the
	// Store lacks. New refuses a store lacking one the Issuer relies on
	// (store.ReuseDetection for Refresh's reuse detection,
	// store.RevokeSessions for Logout and RevokeSession, store.ListSessions
	// for Sessions, store.Versions for LogoutAll, and store.DenyList for
	// RevokeAccessToken unless SkipRevocationCheck is set) unless it is
	// listed here; the methods needing a missing capability then return an
	// error wrapping ErrUnsupported, and without ReuseDetection a refresh
	// token presented again simply rotates again. Verify's revocation check
	// needs store.Versions and store.DenyList whatever this says: a store
	// lacking either requires SkipRevocationCheck. The zero value accepts
	// nothing. The stateless sealed store (store/sealedstore) needs
	// store.All here and SkipRevocationCheck.
	AcceptStoreLimits store.Capabilities
	// LegacyUnscopedStore makes the Issuer name its store records as
	// sessionkit did before issuer scoping, so that a store written then
	// keeps its sessions, token versions, deny-list entries and use-once
	// records. Without it (the default) every record is scoped to Issuer:
	// Issuers with different identifiers may share one store instance and
	// never see each other's sessions, versions, deny-list or use-once
	// entries (see "Many issuers, one store" in the package documentation). Set it on at
	// most ONE Issuer per store, the one that wrote the store before the
	// upgrade (and on the TrustedIssuer of a Verifier reading the same
	// store for it); Issuers without it stay isolated from it and from each
	// other.
	LegacyUnscopedStore bool

	// OnRefresh, when set, runs at every refresh before anything is
	// written, with the session the presented refresh token proves (one
	// extra store read). Returning an error refuses the refresh: the session
	// is revoked (with a store lacking store.RevokeSessions nothing is
	// written, and the hook refuses each later refresh in turn) and Refresh
	// returns an error wrapping ErrSessionRevoked and the hook's error.
	// Returning non-nil claims replaces the session's application claims,
	// stored by the rotation itself, for this and later access tokens. It
	// is never called while sessionkit holds a lock.
	OnRefresh func(ctx context.Context, s Session) (claims map[string]any, err error)
	// Events, when set, is told of logins, refreshes, reuse and
	// revocations, and of every refusal with its Reason: access tokens
	// refused by Verify and the Middleware, failed refreshes, refused
	// token-endpoint requests (see EventKind and "Operations" in the
	// package documentation). It runs synchronously, after the store step,
	// on the request's goroutine: keep it fast (count, enqueue).
	Events func(ctx context.Context, e Event)
	// StoreTimeout is the deadline of every store call the Issuer makes
	// (for Verify, the middleware and the handlers too) whose context has
	// none, as an http.Request's has not: default DefaultStoreTimeout (one
	// second); negative means none. A hung store then answers
	// ErrStoreUnavailable (503) in about that time instead of holding the
	// request for as long as the store client's own timeouts and retries
	// take. A caller's own deadline always wins.
	StoreTimeout time.Duration
	// Pages turns on server-rendered pages that renew themselves
	// (Issuer.PageMiddleware, and GET at RefreshHandler).
	Pages Pages
	// WriteRefusal, when set, writes the ready-made handlers' answers to
	// refused requests (RefreshHandler, LogoutHandler, LogoutAllHandler,
	// SessionsHandler) instead of their default JSON: see RefusalWriter.
	// The OAuth endpoints always answer as RFC 6749 says.
	WriteRefusal RefusalWriter
	// Logger receives security-relevant records (reuse detected, refreshes
	// refused, store failures) and the ready-made handlers' refusals, one
	// record per refused request (see Reason.LogLevel); nil discards them.
	// Records never contain token material.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time

	// Cookies names and scopes the session cookies of browser apps and
	// configures their cross-origin check, for LoginCookies, the
	// ready-made handlers and Middleware over the Issuer
	// (MiddlewareOptions.AccessCookie), which all read them here. The zero
	// value is the secure default (see Cookies); New refuses an
	// inconsistent one.
	Cookies Cookies
}

// Grant is what Login turns into a session.
type Grant struct {
	// Subject identifies the user (sub). Required; at most 1024 bytes of
	// UTF-8 without control characters.
	Subject string
	// Scope is the space-separated scope of the session's access tokens;
	// at most 1024 bytes.
	Scope string
	// Claims are application claims added to every access token of the
	// session. Registered names (iss, sub, aud, exp, nbf, iat, jti, sid, ver,
	// scope, client_id, cnf, act, azp) are refused.
	Claims map[string]any
	// Device describes the client, for session listings.
	Device Device
	// ClientID, when set, issues the session to that OAuth client (acting
	// for Subject): its access tokens carry client_id, and its refresh
	// tokens work at the TokenEndpoint only with that client's
	// authentication (private_key_jwt). It must differ from Subject.
	ClientID string
}

// Device describes the client a session was created from.
type Device = store.Device

// Tokens is what Login and Refresh return.
type Tokens struct {
	// AccessToken is a JWS compact access token (typ at+jwt).
	AccessToken string
	// RefreshToken is the opaque refresh token ("skr1." ...). Keep it secret:
	// it is the session.
	RefreshToken string
	// AccessExpiresAt is the access token's exp.
	AccessExpiresAt time.Time
	// RefreshExpiresAt is when the refresh token stops working if unused:
	// the session's idle expiry, never past its absolute expiry.
	RefreshExpiresAt time.Time
	// SessionID is the session's id (the sid claim).
	SessionID string
	// Scope is the granted scope.
	Scope string
}

// Session describes a live session, for listings and the OnRefresh hook.
type Session struct {
	// ID is the session id (the sid claim of its access tokens).
	ID string
	// Subject is the user the session belongs to.
	Subject string
	// ClientID is set for sessions of OAuth clients.
	ClientID string
	// Scope is the granted scope.
	Scope string
	// Claims are the application claims carried into access tokens.
	Claims map[string]any
	// Device is the client the session was created from.
	Device Device
	// CreatedAt is the login time.
	CreatedAt time.Time
	// LastUsedAt is the time of the last refresh (or the login).
	LastUsedAt time.Time
	// IdleExpiresAt is when the session ends unless refreshed.
	IdleExpiresAt time.Time
	// ExpiresAt is when the session ends regardless.
	ExpiresAt time.Time
}

// Issuer issues, refreshes, verifies and revokes tokens. It is immutable and
// safe for concurrent use.
type Issuer struct {
	issuer         string
	audience       []string
	keys           *KeySet
	store          store.Store
	accessTTL      time.Duration
	refreshTTL     time.Duration
	sessionTTL     time.Duration
	grace          time.Duration
	maxTokenSize   int
	skipRevocation bool
	verified       *verifiedCache // nil: no cache
	onRefresh      func(context.Context, Session) (map[string]any, error)
	events         func(context.Context, Event)
	log            *slog.Logger
	writeRefusal   RefusalWriter // Config.WriteRefusal
	clock          func() time.Time
	rules          claimRules
	// caps is what the store declares (Config.AcceptStoreLimits may have
	// accepted some missing).
	caps store.Capabilities
	// audJSON is the aud claim, pre-encoded.
	audJSON []byte
	// cookies is Config.Cookies, checked, with its cross-origin check.
	cookies *cookieSettings
	// pages is Config.Pages, checked; nil when off.
	pages *pageSettings
	// plainHTTP says once that logins come over plain http (warnPlainHTTP).
	plainHTTP sync.Once
	// abandoned are the rotations this Issuer gave up on (refresh.go).
	abandoned abandonedRotations
	// scope names every record the Issuer keeps in its store.
	scope scope.Scope
}

// New validates cfg and returns an Issuer.
func New(cfg Config) (*Issuer, error) {
	bad := func(format string, args ...any) (*Issuer, error) {
		return nil, fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if err := validIssuer(cfg.Issuer); err != nil {
		return bad("Issuer %v", err)
	}
	issuerURL, err := issuerIdentifier(cfg.Issuer)
	if err != nil {
		return bad("Issuer %q %v", shorten(cfg.Issuer), err)
	}
	if len(cfg.Audience) == 0 {
		return bad("Audience is required")
	}
	for _, a := range cfg.Audience {
		if a == "" {
			return bad("Audience has an empty entry")
		}
	}
	if cfg.Keys == nil || cfg.Keys.load() == nil || cfg.Keys.load().signing == nil {
		return bad("Keys is required and must have a signing key")
	}
	if cfg.Store == nil {
		return bad("Store is required")
	}
	iss := &Issuer{
		issuer:         cfg.Issuer,
		audience:       append([]string(nil), cfg.Audience...),
		keys:           cfg.Keys,
		store:          withDeadlines(cfg.Store, storeTimeout(cfg.StoreTimeout)),
		accessTTL:      orDefault(cfg.AccessTTL, DefaultAccessTTL),
		refreshTTL:     orDefault(cfg.RefreshTTL, DefaultRefreshTTL),
		sessionTTL:     orDefault(cfg.SessionTTL, DefaultSessionTTL),
		grace:          orDefault(cfg.ReuseGrace, DefaultReuseGrace),
		maxTokenSize:   cfg.MaxTokenSize,
		skipRevocation: cfg.SkipRevocationCheck,
		verified:       newVerifiedCache(cfg.VerifyCacheSize),
		onRefresh:      cfg.OnRefresh,
		events:         cfg.Events,
		log:            cfg.Logger,
		writeRefusal:   cfg.WriteRefusal,
		clock:          cfg.Now,
		scope:          scope.New(cfg.Issuer, cfg.LegacyUnscopedStore),
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"AccessTTL", iss.accessTTL}, {"RefreshTTL", iss.refreshTTL}, {"SessionTTL", iss.sessionTTL}} {
		if d.v < time.Second {
			return bad("%s must be at least one second", d.name)
		}
	}
	if iss.refreshTTL > iss.sessionTTL {
		return bad("RefreshTTL (%v) exceeds SessionTTL (%v)", iss.refreshTTL, iss.sessionTTL)
	}
	if iss.accessTTL > iss.sessionTTL {
		return bad("AccessTTL (%v) exceeds SessionTTL (%v)", iss.accessTTL, iss.sessionTTL)
	}
	if cfg.MaxTokenAge < 0 {
		return bad("MaxTokenAge %v is negative (zero sets no bound)", cfg.MaxTokenAge)
	}
	whole := iss.accessTTL.Truncate(time.Second) // tokens carry whole seconds
	if whole < iss.accessTTL {
		whole += time.Second
	}
	if cfg.MaxTokenAge > 0 && cfg.MaxTokenAge < whole {
		return bad("MaxTokenAge %v is shorter than AccessTTL (%v in whole seconds): Verify would refuse every token this Issuer mints", cfg.MaxTokenAge, whole)
	}
	if m := cfg.Keys.managed; m != nil {
		if m.issuer != cfg.Issuer {
			return bad("Keys are managed for issuer %q, not this one: each Issuer has a ring of its own", m.issuer)
		}
		if whole > m.accessTTL {
			return bad("AccessTTL (%v in whole seconds) exceeds the managed keys' AccessTTL (%v): they would retire a key while tokens it signed are live; raise ManagedKeysConfig.AccessTTL", whole, m.accessTTL)
		}
	}
	if iss.grace > MaxReuseGrace {
		return bad("ReuseGrace %v exceeds the maximum %v", iss.grace, MaxReuseGrace)
	}
	if iss.grace < 0 {
		iss.grace = 0
	}
	leeway := orDefault(cfg.Leeway, DefaultLeeway)
	if leeway > MaxLeeway {
		return bad("Leeway %v exceeds the maximum %v", leeway, MaxLeeway)
	}
	if leeway < 0 {
		leeway = 0
	}
	// A leeway past half the lifetime more than doubles how long a token
	// passes: refused when chosen, capped (and said, below) when default.
	leewayCapped := false
	if half := iss.accessTTL / 2; leeway > half {
		if cfg.Leeway != 0 {
			return bad("Leeway %v exceeds half of AccessTTL (%v): a token would pass up to %v after it was minted; set Leeway to at most %v",
				leeway, iss.accessTTL, iss.accessTTL+leeway, half)
		}
		leeway, leewayCapped = half, true
	}
	if iss.maxTokenSize == 0 {
		iss.maxTokenSize = DefaultMaxTokenSize
	}
	if iss.maxTokenSize < 512 {
		return bad("MaxTokenSize %d is too small", iss.maxTokenSize)
	}
	if iss.maxTokenSize > MaxTokenSizeLimit {
		return bad("MaxTokenSize %d exceeds the maximum %d (MaxTokenSizeLimit)", iss.maxTokenSize, MaxTokenSizeLimit)
	}
	if cfg.VerifyCacheSize > MaxVerifyCacheSize {
		return bad("VerifyCacheSize %d exceeds the maximum %d (MaxVerifyCacheSize)", cfg.VerifyCacheSize, MaxVerifyCacheSize)
	}
	iss.caps = cfg.Store.Capabilities()
	if lacking := (store.Versions | store.DenyList) &^ iss.caps; lacking != 0 && !iss.skipRevocation {
		return bad("the store lacks %s, which Verify's revocation check needs: set SkipRevocationCheck", lacking)
	}
	need := store.ReuseDetection | store.RevokeSessions | store.ListSessions | store.Versions
	if !iss.skipRevocation {
		need |= store.DenyList
	}
	if missing := need &^ iss.caps &^ cfg.AcceptStoreLimits; missing != 0 {
		return bad("the store lacks %s, which this configuration relies on (list what the application does without in AcceptStoreLimits)", missing)
	}
	if iss.log == nil {
		iss.log = slog.New(slog.DiscardHandler)
	}
	if iss.clock == nil {
		iss.clock = time.Now
	}
	if err := iss.initCookies(cfg.Cookies); err != nil {
		return nil, err
	}
	if iss.pages, err = newPageSettings(cfg.Pages, iss.cookies.c); err != nil {
		return nil, err
	}
	if leewayCapped {
		iss.log.Warn("sessionkit: the default Leeway exceeds half of AccessTTL; it is capped to half of AccessTTL (set Leeway to choose)",
			"issuer", iss.issuer, "access_ttl", iss.accessTTL, "leeway", leeway)
	}
	if issuerURL.Scheme == "http" && !cfg.Cookies.InsecureAllowHTTP && !isLoopback(issuerURL.Hostname()) {
		// Bearer-only deployments never set cookies, so this is said,
		// not refused.
		iss.log.Warn("sessionkit: Config.Issuer is plain http on a host that is not loopback, but the session cookies are Secure: browsers drop Secure cookies over http, so browser logins would seem to work and then fail; serve over https, or set Cookies.InsecureAllowHTTP for local development",
			"issuer", iss.issuer)
	}
	iss.rules = claimRules{issuer: iss.issuer, audience: iss.audience, leeway: leeway, requireJTI: true, own: true, maxAge: cfg.MaxTokenAge}
	if len(iss.audience) == 1 {
		iss.audJSON = appendJSONString(nil, iss.audience[0])
	} else {
		iss.audJSON = append(iss.audJSON, '[')
		for i, a := range iss.audience {
			if i > 0 {
				iss.audJSON = append(iss.audJSON, ',')
			}
			iss.audJSON = appendJSONString(iss.audJSON, a)
		}
		iss.audJSON = append(iss.audJSON, ']')
	}
	return iss, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func (iss *Issuer) now() time.Time { return iss.clock() }

// Keys returns the issuer's key set (its ServeHTTP serves the JWKS).
func (iss *Issuer) Keys() *KeySet { return iss.keys }

// Login creates a session for g and returns its first tokens. Call it after
// the application has authenticated the user.
func (iss *Issuer) Login(ctx context.Context, g Grant) (*Tokens, error) {
	if err := checkSubject(g.Subject); err != nil {
		return nil, fmt.Errorf("%w: Grant.Subject %w: it is the id of the user the application authenticated", ErrInvalidGrant, err)
	}
	if len(g.Scope) > maxScopeLen || !utf8.ValidString(g.Scope) || strings.IndexFunc(g.Scope, unicode.IsControl) >= 0 {
		return nil, fmt.Errorf("%w: Grant.Scope must be UTF-8 without control characters, at most %d bytes", ErrInvalidGrant, maxScopeLen)
	}
	if g.ClientID != "" {
		if err := checkSubject(g.ClientID); err != nil {
			return nil, fmt.Errorf("%w: Grant.ClientID %w", ErrInvalidGrant, err)
		}
		if g.ClientID == g.Subject {
			return nil, fmt.Errorf("%w: a client's own tokens come from the TokenEndpoint, not Login (Grant.ClientID equals Grant.Subject)", ErrInvalidGrant)
		}
	}
	claims, err := encodeClaims(g.Claims, ErrInvalidGrant)
	if err != nil {
		return nil, err
	}
	now := iss.now().Truncate(time.Millisecond)
	var rnd [16 + 32]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	secret := rnd[16:]
	s := store.Session{
		ID:            b64.EncodeToString(rnd[:16]),
		Subject:       g.Subject,
		ClientID:      g.ClientID,
		Scope:         g.Scope,
		Claims:        claims,
		Device:        g.Device,
		CreatedAt:     now,
		LastUsedAt:    now,
		ExpiresAt:     now.Add(iss.sessionTTL),
		IdleExpiresAt: now.Add(iss.refreshTTL),
		Generation:    1,
	}
	if err := iss.fits(&s); err != nil {
		return nil, err
	}
	stored := s
	stored.Subject = iss.scope.User(s.Subject)
	created, err := iss.store.Create(ctx, store.NewSession{Session: stored, Hash: iss.scope.SecretHash(secret, s.ClientID)})
	if err != nil {
		iss.log.ErrorContext(ctx, "sessionkit: login failed: store error", "subject", g.Subject, "error", err)
		return nil, storeFailure(err)
	}
	toks, err := iss.tokens(&s, created.Handle, secret, created.Version, now)
	if err != nil {
		// Do not leave a session nobody holds a token for.
		_ = iss.store.RevokeSession(context.WithoutCancel(ctx), stored.Subject, s.ID, now)
		return nil, err
	}
	iss.emit(ctx, Event{Kind: EventLogin, Subject: s.Subject, ClientID: s.ClientID, SessionID: s.ID, Time: now})
	return toks, nil
}

// tokens builds the Tokens for session s: a fresh access token and the
// refresh token naming handle with secret.
func (iss *Issuer) tokens(s *store.Session, handle string, secret []byte, version uint64, now time.Time) (*Tokens, error) {
	at, exp, err := iss.mint(s, version, now)
	if err != nil {
		return nil, err
	}
	rt := make([]byte, 0, len(refreshPrefix)+len(handle)+1+b64.EncodedLen(len(secret)))
	rt = append(rt, refreshPrefix...)
	rt = append(rt, handle...)
	rt = append(rt, '.')
	rt = b64.AppendEncode(rt, secret)
	refreshExp := s.IdleExpiresAt
	if s.ExpiresAt.Before(refreshExp) {
		refreshExp = s.ExpiresAt
	}
	return &Tokens{
		AccessToken:      at,
		RefreshToken:     string(rt),
		AccessExpiresAt:  exp,
		RefreshExpiresAt: refreshExp,
		SessionID:        s.ID,
		Scope:            s.Scope,
	}, nil
}

// mint signs an access token for session s. Its lifetime never outlasts the
// session's absolute expiry.
func (iss *Issuer) mint(s *store.Session, version uint64, now time.Time) (string, time.Time, error) {
	k := iss.keys.load().signing
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", time.Time{}, err
	}
	exp := now.Add(iss.accessTTL).Unix()
	if e := s.ExpiresAt.Unix(); e < exp {
		exp = e
	}
	payload := iss.accessPayload(s, version, jti[:], now.Unix(), exp)
	tok, err := signCompact(k, k.pub.Header(), payload)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sessionkit: signing access token: %w", err)
	}
	return tok, time.Unix(exp, 0), nil
}

// accessPayload builds the claims JSON of an access token.
func (iss *Issuer) accessPayload(s *store.Session, version uint64, jti []byte, iat, exp int64) []byte {
	buf := make([]byte, 0, 256+len(s.Subject)+len(s.Scope)+len(s.Claims))
	buf = append(buf, `{"iss":`...)
	buf = appendJSONString(buf, iss.issuer)
	buf = append(buf, `,"sub":`...)
	buf = appendJSONString(buf, s.Subject)
	buf = append(buf, `,"aud":`...)
	buf = append(buf, iss.audJSON...)
	buf = append(buf, `,"exp":`...)
	buf = strconv.AppendInt(buf, exp, 10)
	buf = append(buf, `,"nbf":`...)
	buf = strconv.AppendInt(buf, iat, 10)
	buf = append(buf, `,"iat":`...)
	buf = strconv.AppendInt(buf, iat, 10)
	buf = append(buf, `,"jti":"`...)
	buf = append(buf, iss.scope.JTIPrefix()...) // the store layout's mark
	buf = b64.AppendEncode(buf, jti)
	buf = append(buf, '"')
	if s.ID != "" { // tokens of the TokenEndpoint's grants have no session
		buf = append(buf, `,"sid":`...)
		buf = appendJSONString(buf, s.ID)
	}
	buf = append(buf, `,"ver":`...)
	buf = strconv.AppendUint(buf, version, 10)
	if s.Scope != "" {
		buf = append(buf, `,"scope":`...)
		buf = appendJSONString(buf, s.Scope)
	}
	if s.ClientID != "" {
		buf = append(buf, `,"client_id":`...)
		buf = appendJSONString(buf, s.ClientID)
	}
	if len(s.Claims) > 2 { // a non-empty object: splice its members in
		buf = append(buf, ',')
		claims := unregistered(s.Claims)
		buf = append(buf, claims[1:len(claims)-1]...)
	}
	return append(buf, '}')
}

// fits checks, before anything is stored, that the access tokens of s stay
// within MaxTokenSize whatever their version, times and signing key.
func (iss *Issuer) fits(s *store.Session) error {
	const widest = 1<<63 - 1
	payload := iss.accessPayload(s, 1<<64-1, make([]byte, 16), widest, widest)
	size := 0
	for _, k := range iss.keys.load().byKID {
		size = max(size, len(k.Header())+b64.EncodedLen(len(payload))+b64.EncodedLen(k.SignatureSize())+2)
	}
	if size > iss.maxTokenSize {
		return fmt.Errorf("%w: the access token would take %d bytes, more than MaxTokenSize (%d)", ErrInvalidConfig, size, iss.maxTokenSize)
	}
	return nil
}

// maxIssuerLen bounds Config.Issuer and TrustedIssuer.Issuer.
const maxIssuerLen = 1024

// validIssuer checks an issuer identifier: non-empty, bounded, UTF-8
// without control characters or surrounding spaces (internal/scope relies
// on the absence of control characters). The error completes "Issuer ...".
func validIssuer(iss string) error {
	switch {
	case iss == "":
		return errors.New("is required")
	case len(iss) > maxIssuerLen:
		return fmt.Errorf("is longer than %d bytes", maxIssuerLen)
	case !utf8.ValidString(iss) || strings.IndexFunc(iss, unicode.IsControl) >= 0:
		return errors.New("must be UTF-8 without control characters")
	case strings.TrimSpace(iss) != iss:
		return errors.New("must not have surrounding spaces")
	}
	return nil
}

// issuerIdentifier checks the identifier of an Issuer as RFC 8414 §2 and
// OpenID Connect Discovery describe it (the Verifier trusts other
// issuers' identifiers as they are): an https URL (http for development)
// with a host and no user info, query or fragment.
func issuerIdentifier(iss string) (*url.URL, error) {
	const want = "must be an https URL with a host and no query or fragment, as in https://auth.example.com (RFC 8414 §2)"
	u, err := url.Parse(iss)
	switch {
	case err != nil:
		return nil, errors.New(want)
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, errors.New(want + ": it has no https scheme")
	case u.Hostname() == "" || u.Opaque != "":
		return nil, errors.New(want + ": it has no host")
	case u.User != nil:
		return nil, errors.New(want + ": it has user info")
	case u.RawQuery != "" || u.ForceQuery || strings.Contains(iss, "?"):
		return nil, errors.New(want + ": it has a query")
	case u.Fragment != "" || strings.Contains(iss, "#"):
		return nil, errors.New(want + ": it has a fragment")
	}
	return u, nil
}

// isLoopback reports whether host is localhost or a loopback address,
// where browsers treat plain http as secure and keep Secure cookies.
func isLoopback(host string) bool {
	host = strings.TrimSuffix(host, ".") // a fully qualified name
	if i := strings.IndexByte(host, '%'); i >= 0 {
		host = host[:i] // an IPv6 zone
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validSubject checks a subject: non-empty, bounded, UTF-8 without control
// characters.
func validSubject(sub string) error {
	if err := checkSubject(sub); err != nil {
		return fmt.Errorf("%w: subject %w", ErrInvalidConfig, err)
	}
	return nil
}

// checkSubject says what is wrong with a subject, if anything.
func checkSubject(sub string) error {
	switch {
	case sub == "":
		return errors.New("is required")
	case len(sub) > maxSubjectLen:
		return fmt.Errorf("is longer than %d bytes", maxSubjectLen)
	case !utf8.ValidString(sub):
		return errors.New("is not valid UTF-8")
	case strings.IndexFunc(sub, unicode.IsControl) >= 0:
		return errors.New("contains control characters")
	}
	return nil
}

// encodeClaims turns application claims into the compact JSON object stored
// with the session, refusing registered names and oversized sets.
func encodeClaims(claims map[string]any, sentinel error) ([]byte, error) {
	if len(claims) == 0 {
		return nil, nil
	}
	for name := range claims {
		if !utf8.ValidString(name) {
			return nil, fmt.Errorf("%w: claim name is not valid UTF-8", sentinel)
		}
		if registeredClaims[name] {
			return nil, fmt.Errorf("%w: claim %q is registered and cannot be set by the application", sentinel, name)
		}
		if name == "" {
			return nil, fmt.Errorf("%w: empty claim name", sentinel)
		}
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return nil, fmt.Errorf("%w: claims are not JSON-encodable: %w", sentinel, err)
	}
	if len(b) > maxClaimsSize {
		return nil, fmt.Errorf("%w: claims take %d bytes encoded, more than %d", sentinel, len(b), maxClaimsSize)
	}
	return b, nil
}

// unregistered returns the stored application claims without any member
// whose name is registered (registeredClaims): encodeClaims refuses them,
// but a session stored before a name became registered (scp, say) may hold
// one, which must not reach a token where verifiers would read it as
// theirs. Claims without one come back as they are.
func unregistered(claims []byte) []byte {
	clean := true
	_ = jose.ScanObject(string(claims), func(name string, _ *jose.Value) error {
		if registeredClaims[name] {
			clean = false
		}
		return nil
	})
	if clean {
		return claims
	}
	out := []byte{'{'}
	_ = jose.ScanObject(string(claims), func(name string, v *jose.Value) error {
		if !registeredClaims[name] {
			if len(out) > 1 {
				out = append(out, ',')
			}
			out = appendJSONString(out, name)
			out = append(out, ':')
			out = append(out, v.Raw()...)
		}
		return nil
	})
	return append(out, '}')
}

// decodeClaims is the inverse of encodeClaims.
func decodeClaims(b []byte) map[string]any {
	if len(b) == 0 {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil
	}
	return m
}

// publicSession converts the store's view of a session into the public one.
func publicSession(s *store.Session) Session {
	return Session{
		ID:            s.ID,
		Subject:       s.Subject,
		ClientID:      s.ClientID,
		Scope:         s.Scope,
		Claims:        decodeClaims(s.Claims),
		Device:        s.Device,
		CreatedAt:     s.CreatedAt,
		LastUsedAt:    s.LastUsedAt,
		IdleExpiresAt: s.IdleExpiresAt,
		ExpiresAt:     s.ExpiresAt,
	}
}
