package sessionkit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit/internal/jose"
	"github.com/sessionkit/sessionkit/store"
)

// maxAssertionSize caps assertions before any decoding.
const maxAssertionSize = 8 << 10

// assertionNamespace prefixes the use-once namespace of a client's
// assertion jtis: one namespace per client, so that no client can burn
// another's jti, and none shared with anything else.
const assertionNamespace = "sessionkit/assertion/"

// assertionAlgorithms are the algorithms a client's assertion may be
// signed with, as the authorization-server metadata announces them.
var assertionAlgorithms = []Algorithm{RS256, ES256, EdDSA}

// oauthError is an RFC 6749 §5.2 error answer. desc never contains token
// material; before a signature has verified it says nothing that tells
// one failed check from another (no client enumeration).
type oauthError struct {
	status int
	code   string
	desc   string
	cause  error  // for the log only
	reason Reason // the event's and log record's; "" derives it from code and cause
	client string // the client id, once an assertion proved it; "" before
	logged bool   // the refusal's record was written already (by Issuer.emit)
}

func (e *oauthError) Error() string { return e.code + ": " + e.desc }

// reasonOf is the Reason of the refusal: its own, or the one its error
// code names (an outage is the store's when the cause says so).
func (e *oauthError) reasonOf() Reason {
	switch {
	case e.reason != "":
		return e.reason
	case e.code == "temporarily_unavailable" && errors.Is(e.cause, ErrStoreUnavailable):
		return ReasonStoreUnavailable
	case e.code == "temporarily_unavailable" && errors.Is(e.cause, ErrKeysUnavailable):
		return ReasonKeysUnavailable
	case e.code == "temporarily_unavailable":
		return ReasonInternal
	case e.code == "unsupported_token_type":
		return ReasonInvalidRequest
	}
	return Reason(e.code) // the Reason constants of the RFC 6749 codes are the codes
}

func grantError(desc string, cause error) *oauthError {
	return &oauthError{status: 400, code: "invalid_grant", desc: desc, cause: cause}
}

func clientError(desc string, cause error) *oauthError {
	return &oauthError{status: 401, code: "invalid_client", desc: desc, cause: cause}
}

func unavailable(cause error) *oauthError {
	return &oauthError{status: 503, code: "temporarily_unavailable", desc: "the authorization server cannot answer now; try again later", cause: cause}
}

// assertionUse says what an assertion is for: the jwt-bearer grant (RFC
// 7523 §2.1), whose sub may be a user the client acts for, or client
// authentication (§2.2), whose sub must be the client.
type assertionUse int

const (
	useGrant assertionUse = iota
	useClientAuth
)

// verifiedAssertion is an assertion that passed every check and whose jti
// has been consumed.
type verifiedAssertion struct {
	client  *Client
	subject string
}

// verifyAssertion checks an RFC 7523 assertion and consumes its jti:
//
//   - compact JWS of at most 8 KiB; typ absent or "JWT"; alg RS256, ES256
//     or EdDSA with a key registered for the client the iss names (by kid,
//     or, without a kid, any of its keys of that algorithm), each key only
//     with its own algorithm;
//   - iss the client id; sub present (the client itself for client
//     authentication); aud exactly this issuer's identifier, as a string or
//     a one-element array (never the token endpoint's URL, never a list);
//   - exp present, not passed, at most MaxAssertionLifetime ahead; nbf and
//     iat not in the future; all with the leeway;
//   - jti present and never seen before for this client: consumed through
//     the store's atomic use-once until exp plus the leeway.
//
// A failure before the signature verifies gets one undifferentiated
// answer, so an attacker learns nothing about which clients or keys exist.
func (iss *Issuer) verifyAssertion(ctx context.Context, clients ClientRegistry, token string, use assertionUse) (*verifiedAssertion, *oauthError) {
	fail := func(cause error) *oauthError {
		oerr := grantError("the assertion is invalid", cause)
		if use == useClientAuth {
			oerr = clientError("client authentication failed", cause)
		}
		// One answer for all, but the operator's record says whether
		// the signature failed or the client is not one: both Warn.
		oerr.reason = ReasonInvalidClient
		if jose.ReasonOf(cause) == jose.ReasonBadSignature {
			oerr.reason = ReasonBadSignature
		}
		return oerr
	}
	now := iss.now()
	jws, err := jose.Split(token, maxAssertionSize)
	if err != nil {
		return nil, fail(err)
	}
	h, err := jws.Header()
	if err != nil {
		return nil, fail(err)
	}
	if h.Typ != "" && !strings.EqualFold(h.Typ, "JWT") && !strings.EqualFold(h.Typ, "application/jwt") {
		return nil, fail(errMalformed("typ is not JWT"))
	}
	alg := Algorithm(h.Alg)
	if !slices.Contains(assertionAlgorithms, alg) {
		return nil, fail(errMalformed("algorithm not allowed for assertions"))
	}
	// The payload is read before the signature only to find the client:
	// its iss, nothing else.
	unverified, err := jws.Payload()
	if err != nil {
		return nil, fail(err)
	}
	clientID, err := issuerOf(unverified)
	if err != nil {
		return nil, fail(err)
	}
	client, err := clients.Client(ctx, clientID)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, fail(errMalformed("unknown client"))
	case err != nil:
		return nil, unavailable(fmt.Errorf("client registry: %w", err))
	case client == nil || client.ID != clientID:
		return nil, fail(errMalformed("unknown client"))
	case validSubject(client.ID) != nil:
		// A registry's ids become subjects and store names: the same
		// rules as every subject (no control characters, bounded).
		return nil, fail(errMalformed("unknown client (the registry's id is not a valid subject)"))
	}
	var payload string
	verified := false
	for _, k := range client.Keys {
		if k.pub == nil || k.Algorithm() != alg || (h.HasKID && k.KeyID() != h.KID) {
			continue
		}
		if payload, err = jws.Verify(k.pub); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, fail(errRefused(ReasonBadSignature, "no registered key of the client verifies the signature"))
	}
	c, err := parseClaimsSet(payload, false, false)
	if err != nil {
		return nil, fail(err)
	}

	// The client proved itself: from here on, answers may say what is wrong.
	leeway := iss.rules.leeway
	bad := func(desc string) *oauthError {
		oerr := grantError("assertion: "+desc, nil)
		if use == useClientAuth {
			oerr = clientError("client assertion: "+desc, nil)
		}
		oerr.client = client.ID
		return oerr
	}
	switch {
	case c.Subject == "":
		return nil, bad("sub is missing")
	case use == useClientAuth && c.Subject != client.ID:
		return nil, bad("sub must be the client id")
	case len(c.Audience) != 1 || c.Audience[0] != iss.issuer:
		return nil, bad("aud must be exactly the issuer identifier " + iss.issuer)
	case c.ExpiresAt.IsZero():
		return nil, bad("exp is missing")
	case !now.Before(c.ExpiresAt.Add(leeway)):
		return nil, bad("expired")
	case c.ExpiresAt.After(now.Add(MaxAssertionLifetime + leeway)):
		return nil, bad(fmt.Sprintf("exp is more than %v ahead", MaxAssertionLifetime))
	case !c.NotBefore.IsZero() && now.Add(leeway).Before(c.NotBefore):
		return nil, bad("not valid yet (nbf)")
	case !c.IssuedAt.IsZero() && now.Add(leeway).Before(c.IssuedAt):
		return nil, bad("issued in the future (iat)")
	case c.ID == "":
		return nil, bad("jti is missing")
	case len(c.ID) > 256:
		return nil, bad("jti is longer than 256 bytes")
	}
	first, err := iss.store.UseOnce(ctx, iss.scope.Namespace(assertionNamespace+client.ID), c.ID, c.ExpiresAt.Add(leeway), now)
	if err != nil {
		return nil, unavailable(storeFailure(err))
	}
	if !first {
		oerr := bad("already used (jti replayed)")
		oerr.reason = ReasonAssertionReplayed
		return nil, oerr
	}
	return &verifiedAssertion{client: client, subject: c.Subject}, nil
}

// clientTokens mints an access token for a client, for itself or for a
// subject it acts for: no session, client_id set, the subject's current
// token version (in the client namespace when subject is the client).
func (iss *Issuer) clientTokens(ctx context.Context, clientID, subject, scope string) (*Tokens, error) {
	now := iss.now().Truncate(time.Millisecond)
	version, err := iss.store.Version(ctx, iss.scope.Subject(subject, clientID))
	if err != nil {
		return nil, storeFailure(err)
	}
	s := store.Session{Subject: subject, ClientID: clientID, Scope: scope, ExpiresAt: now.Add(iss.accessTTL)}
	if err := iss.fits(&s); err != nil {
		return nil, err
	}
	at, exp, err := iss.mint(&s, version, now)
	if err != nil {
		return nil, err
	}
	iss.emit(ctx, Event{Kind: EventClientToken, Subject: subject, ClientID: clientID, Time: now})
	return &Tokens{AccessToken: at, AccessExpiresAt: exp, Scope: scope}, nil
}
