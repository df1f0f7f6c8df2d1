package sessionkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/sessionkit/sessionkit/internal/jose"
	"github.com/sessionkit/sessionkit/internal/scope"
	"github.com/sessionkit/sessionkit/store"
)

// DefaultLeeway is the clock-skew allowance for exp, nbf and iat.
const DefaultLeeway = 30 * time.Second

// MaxLeeway caps every configured leeway. A revoked access token stays on the
// deny-list until its exp plus MaxLeeway, so no verifier's leeway can bring it
// back.
const MaxLeeway = 5 * time.Minute

// Claims are the verified claims of an access token.
//
// Treat them as read-only: Verify gives the same *Claims to every
// presentation of one token it remembers (Config.VerifyCacheSize,
// VerifierConfig.VerifyCacheSize), so a change made by one request's
// handler would show in the next, and race with it. Clone them to change
// them.
type Claims struct {
	// Issuer is iss.
	Issuer string
	// Subject is sub: the user (or, for client tokens, the client).
	Subject string
	// Audience is aud, always as a list.
	Audience []string
	// ExpiresAt is exp.
	ExpiresAt time.Time
	// IssuedAt is iat.
	IssuedAt time.Time
	// NotBefore is nbf; zero when absent.
	NotBefore time.Time
	// ID is jti, unique per token.
	ID string
	// SessionID is sid, the session (refresh-token family) the token
	// belongs to; empty for client tokens.
	SessionID string
	// Version is ver, the subject's token version when it was issued.
	Version uint64
	// Scope is the space-separated scope.
	Scope string
	// ClientID is client_id (RFC 9068), set on tokens issued to OAuth clients.
	ClientID string
	// Extra holds the application claims (every member not listed above),
	// decoded with encoding/json; nil when there are none.
	Extra map[string]any

	// hasVersion reports that the token carried ver: every token an Issuer
	// mints does, and the stateful check refuses one without it.
	hasVersion bool
	// storeSubject memoizes the store's name for the subject (scoped to
	// the issuer), set by the first stateful check: the verified-token
	// cache keeps it, so a hit's check builds no string.
	storeSubject string
}

// Clone returns a deep copy of c, to modify.
func (c *Claims) Clone() *Claims {
	d := *c
	d.Audience = slices.Clone(c.Audience)
	if c.Extra != nil {
		d.Extra = cloneJSON(c.Extra).(map[string]any)
	}
	return &d
}

// cloneJSON deep-copies a value decoded by encoding/json into any.
func cloneJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = cloneJSON(e)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, e := range v {
			l[i] = cloneJSON(e)
		}
		return l
	default:
		return v // string, float64, json.Number, bool, nil: immutable
	}
}

// HasScope reports whether Scope, scope tokens separated by spaces (RFC
// 6749 §3.3: U+0020 only), contains s.
func (c *Claims) HasScope(s string) bool {
	if s == "" {
		return false
	}
	for f := range strings.SplitSeq(c.Scope, " ") {
		if f == s {
			return true
		}
	}
	return false
}

// registeredClaims are the claim names sessionkit sets or interprets;
// application claims may not use them.
var registeredClaims = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true,
	"jti": true, "sid": true, "ver": true, "scope": true, "scp": true, "client_id": true,
	"cnf": true, "act": true, "azp": true,
}

// parseClaims reads an access token's claims set strictly, as the Issuer
// does its own: parseClaimsSet with iat required, of its own tokens.
func parseClaims(payload string) (*Claims, error) { return parseClaimsSet(payload, true, true) }

// parseClaimsSet reads a claims set strictly: registered claims must have
// their JSON types, the rest lands in Extra. exp is required, iat only
// with requireIat (RFC 7523 assertions need only exp).
//
// With own set (the Issuer's own tokens, which it minted), scope is a
// space-separated string, ver a non-negative integer when present, and
// scp is an application claim like any other (in Extra). Otherwise (a
// Verifier's tokens, of any issuer) scope may also be an array of scope
// strings, scp (the same shapes; Entra ID's and Okta's) stands for scope
// when scope is absent and lands in Extra otherwise, and a ver that is not
// sessionkit's (Entra ID's "2.0") lands in Extra: the token has no
// version, which the stateful check refuses.
func parseClaimsSet(payload string, requireIat, own bool) (*Claims, error) {
	c := new(Claims)
	var extra map[string]json.RawMessage
	var sawExp, sawIat, sawScope bool
	var scp, scpRaw string // scp, when present: joined, and as sent
	var sawScp bool
	addExtra := func(name, raw string) {
		if extra == nil {
			extra = make(map[string]json.RawMessage)
		}
		extra[name] = json.RawMessage(raw)
	}
	err := jose.ScanObject(payload, func(name string, v *jose.Value) error {
		switch name {
		case "scope", "scp":
			if own {
				if name == "scp" {
					addExtra(name, v.Raw())
					return nil
				}
				if v.Kind() != jose.String {
					return errors.New("scope is not a string")
				}
			}
			joined, err := scopeClaim(name, v)
			if err != nil {
				return err
			}
			if name == "scope" {
				c.Scope, sawScope = joined, true
			} else {
				scp, scpRaw, sawScp = joined, v.Raw(), true
			}
		case "iss", "sub", "jti", "sid", "client_id":
			if v.Kind() != jose.String {
				return fmt.Errorf("%s is not a string", name)
			}
			switch name {
			case "iss":
				c.Issuer = v.Str()
			case "sub":
				c.Subject = v.Str()
			case "jti":
				c.ID = v.Str()
			case "sid":
				c.SessionID = v.Str()
			case "client_id":
				c.ClientID = v.Str()
			}
		case "aud":
			switch aud, ok := v.Strings(); {
			case v.Kind() == jose.String:
				c.Audience = []string{v.Str()}
			case ok:
				c.Audience = aud
			default:
				return errors.New("aud is not a string or an array of strings")
			}
		case "exp", "iat", "nbf":
			n, ok := v.NumericDate()
			if !ok {
				return fmt.Errorf("%s is not a valid NumericDate", name)
			}
			t := time.Unix(n, 0)
			switch name {
			case "exp":
				c.ExpiresAt, sawExp = t, true
			case "iat":
				c.IssuedAt, sawIat = t, true
			case "nbf":
				c.NotBefore = t
			}
		case "ver":
			n, err := strconv.ParseUint(v.Raw(), 10, 64)
			switch {
			case v.Kind() == jose.Number && err == nil:
				c.Version, c.hasVersion = n, true
			case own:
				return errors.New("ver is not a non-negative integer")
			default:
				addExtra(name, v.Raw())
			}
		default:
			addExtra(name, v.Raw())
		}
		return nil
	})
	if err != nil {
		return nil, errMalformed("claims: " + err.Error())
	}
	if !sawExp {
		return nil, errMalformed("claims: exp missing")
	}
	if !sawIat && requireIat {
		return nil, errMalformed("claims: iat missing")
	}
	switch {
	case sawScp && !sawScope:
		c.Scope = scp
	case sawScp:
		addExtra("scp", scpRaw)
	}
	if extra != nil {
		c.Extra = make(map[string]any, len(extra))
		for k, raw := range extra {
			var x any
			if err := json.Unmarshal(raw, &x); err != nil {
				return nil, errMalformed("claims: " + k + " is not valid JSON")
			}
			c.Extra[k] = x
		}
	}
	return c, nil
}

// scopeClaim reads a scope claim (scope or scp): a space-separated string,
// or an array of scope strings (non-empty, without white space), which it
// joins with spaces.
func scopeClaim(name string, v *jose.Value) (string, error) {
	if v.Kind() == jose.String {
		return v.Str(), nil
	}
	list, ok := v.Strings()
	if !ok {
		return "", fmt.Errorf("%s is not a string or an array of strings", name)
	}
	for _, s := range list {
		if s == "" || strings.ContainsFunc(s, unicode.IsSpace) {
			return "", fmt.Errorf("%s has an element that is empty or holds white space", name)
		}
	}
	return strings.Join(list, " "), nil
}

// claimRules are the checks every verifier applies after the signature.
type claimRules struct {
	issuer   string
	audience []string
	leeway   time.Duration
	maxAge   time.Duration // MaxTokenAge; 0: no bound
	// requireJTI refuses a token without jti: always for the Issuer's own
	// tokens, for a Verifier's when it has a store (the deny-list keys on
	// it).
	requireJTI bool
	// own reads the claims as the Issuer's own tokens (see parseClaimsSet):
	// a strict ver and scope, scp not interpreted.
	own bool
}

// check applies the time, issuer and audience rules to c at now.
//
// With maxAge set, a token needs an iat, its lifetime (exp - iat, both the
// issuer's clock: no leeway) must not exceed maxAge (ErrInvalidToken: the
// issuer mints longer-lived tokens than this verifier accepts), and it must
// not have been issued more than maxAge ago, the leeway in its favour
// (ErrTokenExpired: a fresh token helps). Given the lifetime bound, a token
// that old has also passed its exp; the age rule comes first to say why.
func (r *claimRules) check(c *Claims, now time.Time) error {
	if c.Issuer != r.issuer {
		return errRefused(ReasonWrongIssuer, "wrong issuer")
	}
	if !audienceMatches(c.Audience, r.audience) {
		return errRefused(ReasonWrongAudience, "audience does not include ours")
	}
	if c.Subject == "" {
		return errMalformed("sub missing")
	}
	if c.ID == "" && r.requireJTI {
		return errMalformed("jti missing")
	}
	if r.maxAge > 0 {
		switch {
		case c.IssuedAt.IsZero():
			return errMalformed("iat missing (MaxTokenAge is set)")
		case c.ExpiresAt.Sub(c.IssuedAt) > r.maxAge:
			return errRefused(ReasonLifetime, "lifetime (exp - iat) exceeds MaxTokenAge")
		case now.Add(-r.leeway).Sub(c.IssuedAt) > r.maxAge:
			return fmt.Errorf("%w: issued longer ago than MaxTokenAge (iat)", ErrTokenExpired)
		}
	}
	if !now.Before(c.ExpiresAt.Add(r.leeway)) {
		return fmt.Errorf("%w: exp has passed", ErrTokenExpired)
	}
	late := now.Add(r.leeway)
	if !c.NotBefore.IsZero() && late.Before(c.NotBefore) {
		return errRefused(ReasonNotYetValid, "not valid yet (nbf)")
	}
	if late.Before(c.IssuedAt) {
		return errRefused(ReasonNotYetValid, "issued in the future (iat)")
	}
	return nil
}

func audienceMatches(have, want []string) bool {
	for _, h := range have {
		for _, w := range want {
			if h == w {
				return true
			}
		}
	}
	return false
}

// verifyAccess is the stateless verification shared by Issuer.Verify and
// Verifier: signature with an allowed key, the header policy (typ, kid),
// claims syntax and rules.
//
// When the claims fail the rules (expired, wrong audience...), it returns
// them with the error, for the refusal's event only: they are signed, so
// their subject and session may be reported, but they grant nothing.
// Otherwise a failure returns nil claims.
func verifyAccess(token string, maxSize int, keys keyResolver, policy *jose.Policy, rules *claimRules, now time.Time) (*Claims, error) {
	payload, err := jose.Verify(token, maxSize, keys, policy)
	if err != nil {
		return nil, err
	}
	c, err := parseClaimsSet(payload, true, rules.own)
	if err != nil {
		return nil, err
	}
	if err := rules.check(c, now); err != nil {
		return c, err
	}
	return c, nil
}

// checkAccess is the stateful half of verification: deny-list, token version
// and session liveness, from one store read, under the names of scope sc.
// Client tokens (no sid) get the deny-list and version checks only.
func checkAccess(ctx context.Context, st store.Store, sc scope.Scope, c *Claims, now time.Time) error {
	if c.SessionID == "" && c.ClientID == "" {
		// Only tokens of the TokenEndpoint's grants lack a session, and
		// they all carry client_id: a user token without sid is not ours.
		return errMalformed("token has neither a session (sid) nor a client (client_id)")
	}
	if !sc.OwnsJTI(c.ID) {
		// Minted under the other store layout (scoped names vs
		// Config.LegacyUnscopedStore): its revocations live in records
		// this check cannot see, so it fails closed.
		return errMalformed("token was issued under another store layout (LegacyUnscopedStore differs from its issuer's)")
	}
	if !c.hasVersion {
		// Every token an Issuer mints carries ver; without it the
		// version check would compare against 0 and pass for every
		// subject never logged out everywhere.
		return errMalformed("token has no version (ver)")
	}
	subject := c.storeSubject
	if subject == "" {
		subject = sc.Subject(c.Subject, c.ClientID)
		c.storeSubject = subject
	}
	state, err := st.CheckAccess(ctx, store.AccessCheck{
		Subject:   subject,
		SessionID: c.SessionID,
		JTI:       c.ID,
		Now:       now,
		Version:   c.Version,
		IssuedAt:  c.IssuedAt,
		ExpiresAt: c.ExpiresAt,
	})
	if err != nil {
		return storeFailure(err)
	}
	switch {
	case state.Denied:
		return fmt.Errorf("%w: token was revoked", ErrTokenRevoked)
	case state.Version != c.Version:
		return fmt.Errorf("%w: subject was logged out everywhere", ErrTokenRevoked)
	case c.SessionID != "" && !state.SessionLive:
		return fmt.Errorf("%w: session has ended", ErrTokenRevoked)
	}
	return nil
}

// storeFailure maps a store error to what callers see: contract sentinels
// pass through, a store limit is the caller's input (ErrInvalidConfig),
// anything else is an outage (fail closed).
func storeFailure(err error) error {
	switch {
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrUnsupported):
		return err
	case errors.Is(err, store.ErrTooLarge):
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	default:
		return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
}

// Verify checks an access token and returns its claims.
//
// Stateless checks come first: size cap, compact serialization, an allowed
// algorithm with a key of this issuer's KeySet, typ "at+jwt", iss, aud,
// exp/nbf/iat with the leeway. Then, unless Config.SkipRevocationCheck is
// set, one store read checks the jti deny-list, the subject's token version
// and that the session is still live.
//
// Errors wrap ErrInvalidToken, ErrTokenExpired, ErrTokenRevoked or
// ErrStoreUnavailable.
func (iss *Issuer) Verify(ctx context.Context, token string) (*Claims, error) {
	return iss.verify(ctx, token, !iss.skipRevocation)
}

// verify is Verify with the stateful checks made when stateful is set.
//
// A refusal is reported as EventAccessTokenRefused, with its reason.
func (iss *Issuer) verify(ctx context.Context, token string, stateful bool) (*Claims, error) {
	now := iss.now()
	c, err := iss.verifyAt(ctx, token, stateful, now)
	if err != nil {
		if iss.events != nil {
			iss.emit(ctx, refusedEvent(c, err, now))
		}
		return nil, err
	}
	return c, nil
}

// verifyToken is verify without the refusal's event, for the
// introspection endpoint: its answer (active or not) refuses no request.
func (iss *Issuer) verifyToken(ctx context.Context, token string, stateful bool) (*Claims, error) {
	c, err := iss.verifyAt(ctx, token, stateful, iss.now())
	if err != nil {
		return nil, err
	}
	return c, nil
}

// verifyAt is the verification of verify at now; on a refusal, the claims
// are verifyAccess's (for the event only), or nil.
func (iss *Issuer) verifyAt(ctx context.Context, token string, stateful bool, now time.Time) (*Claims, error) {
	keys := iss.keys.load()
	var cached Claims
	c, err := iss.verified.check(token, keys, &iss.rules, now, &cached)
	hit := c != nil
	checked := &cached // on a hit, the cache's own copy is what is checked
	if !hit {
		c, err = verifyAccess(token, iss.maxTokenSize, keys, jose.AccessTokens, &iss.rules, now)
		checked = c
	}
	if err == nil && stateful {
		err = checkAccess(ctx, iss.store, iss.scope, checked, now)
	}
	if err == nil && !hit {
		iss.verified.put(token, keys, c)
	}
	return c, err
}
