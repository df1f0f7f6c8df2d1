package sessionkit

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit/internal/jose"
)

// ClientKey is a public key an OAuth client signs its assertions with
// (RFC 7523). It verifies only with its own algorithm, RS256, ES256 or
// EdDSA, never HMAC. Build it with NewClientKey or ParseClientKey; the zero
// value verifies nothing.
type ClientKey struct {
	pub *publicKey
}

// NewClientKey wraps a client's public key (*rsa.PublicKey of at least 2048
// bits with an odd public exponent of at least 3, *ecdsa.PublicKey whose
// point is on P-256, or ed25519.PublicKey). The algorithm follows from the
// key type. An empty kid means the RFC 7638 thumbprint; assertions naming a
// kid must name this one, assertions without a kid are tried against every
// key of the client with their algorithm.
func NewClientKey(pub crypto.PublicKey, kid string) (ClientKey, error) {
	alg, err := algorithmFor(pub)
	if err != nil {
		return ClientKey{}, err
	}
	k, err := newPublicKey(alg, kid, pub)
	if err != nil {
		return ClientKey{}, err
	}
	return ClientKey{pub: k}, nil
}

// ParseClientKey reads a client's public key from a PEM "PUBLIC KEY" block
// (PKIX) or a JWK (a JSON object with kty, the public parameters and
// optionally kid, alg, use and key_ops), read as strictly as tokens are:
// exact member names, no duplicates, canonical base64url. Private keys,
// symmetric keys, keys not for signatures (use other than "sig", key_ops
// without "verify"), RSA under 2048 bits or with a public exponent under 3
// or even, and curves other than P-256 are refused. Errors wrap
// ErrInvalidConfig.
func ParseClientKey(data []byte) (ClientKey, error) {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.HasPrefix(data, []byte("{")):
		jwk, err := jose.ParseJWK(string(data))
		if err != nil {
			return ClientKey{}, keyErr("not a usable JWK: %v", err)
		}
		if jwk.Kty == "oct" {
			return ClientKey{}, keyErr("the JWK holds a symmetric key; give the client's public key")
		}
		if err := jwk.ForSignatures(); err != nil {
			return ClientKey{}, keyErr("the JWK is not for signatures: %v", err)
		}
		pub, err := jwk.PublicKey()
		if err != nil {
			return ClientKey{}, keyErr("not a usable JWK: %v", err)
		}
		k, err := NewClientKey(pub, jwk.KID)
		if err != nil {
			return ClientKey{}, err
		}
		if jwk.HasAlg && Algorithm(jwk.Alg) != k.Algorithm() {
			return ClientKey{}, keyErr("the JWK's alg %q does not match its key (%s)", shorten(jwk.Alg), k.Algorithm())
		}
		return k, nil
	case bytes.HasPrefix(data, []byte("-----BEGIN ")):
		block, rest := pem.Decode(data)
		if block == nil || len(bytes.TrimSpace(rest)) > 0 {
			return ClientKey{}, keyErr("want exactly one PEM block")
		}
		if block.Type != "PUBLIC KEY" {
			return ClientKey{}, keyErr("PEM block %q is not a PUBLIC KEY", shorten(block.Type))
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return ClientKey{}, keyErr("cannot parse the public key: %v", err)
		}
		return NewClientKey(pub, "")
	default:
		return ClientKey{}, keyErr("a client key is a PEM PUBLIC KEY block or a JWK")
	}
}

// KeyID returns the key's kid.
func (k ClientKey) KeyID() string {
	if k.pub == nil {
		return ""
	}
	return k.pub.KID()
}

// Algorithm returns the algorithm the key verifies.
func (k ClientKey) Algorithm() Algorithm {
	if k.pub == nil {
		return ""
	}
	return Algorithm(k.pub.Algorithm())
}

// Client is an OAuth client registered with the TokenEndpoint: a service
// that authenticates with assertions signed by its own private key.
type Client struct {
	// ID is the client_id; its assertions carry it as iss (and sub).
	ID string
	// Keys are the client's public keys. Several allow rotation.
	Keys []ClientKey
	// Scopes are the scopes the client may request. A request without a
	// scope parameter gets all of them.
	Scopes []string
}

// ClientRegistry finds registered clients. Implementations must be safe for
// concurrent use; MemoryClients is the in-memory one.
type ClientRegistry interface {
	// Client returns the client with this id, or an error wrapping
	// ErrNotFound when there is none. Other errors count as outages.
	Client(ctx context.Context, id string) (*Client, error)
}

// MemoryClients is a fixed, in-memory ClientRegistry.
type MemoryClients struct {
	byID map[string]*Client
}

// NewMemoryClients validates clients and returns a registry of them. Each
// needs a unique, non-empty ID, at least one key, and scopes that are RFC
// 6749 scope tokens. The clients are copied.
func NewMemoryClients(clients ...Client) (*MemoryClients, error) {
	m := &MemoryClients{byID: make(map[string]*Client, len(clients))}
	for i, c := range clients {
		if err := validSubject(c.ID); err != nil {
			return nil, fmt.Errorf("%w (clients[%d].ID)", err, i)
		}
		if _, dup := m.byID[c.ID]; dup {
			return nil, fmt.Errorf("%w: client %q is registered twice", ErrInvalidConfig, shorten(c.ID))
		}
		if len(c.Keys) == 0 {
			return nil, fmt.Errorf("%w: client %q has no keys", ErrInvalidConfig, shorten(c.ID))
		}
		seen := make(map[string]bool)
		for _, k := range c.Keys {
			if k.pub == nil {
				return nil, fmt.Errorf("%w: client %q has a zero ClientKey; use NewClientKey or ParseClientKey", ErrInvalidConfig, shorten(c.ID))
			}
			if seen[k.KeyID()] {
				return nil, fmt.Errorf("%w: client %q has two keys with kid %q", ErrInvalidConfig, shorten(c.ID), shorten(k.KeyID()))
			}
			seen[k.KeyID()] = true
		}
		for _, s := range c.Scopes {
			if !validScopeToken(s) {
				return nil, fmt.Errorf("%w: client %q has an invalid scope %q", ErrInvalidConfig, shorten(c.ID), shorten(s))
			}
		}
		cp := Client{ID: c.ID, Keys: append([]ClientKey(nil), c.Keys...), Scopes: append([]string(nil), c.Scopes...)}
		m.byID[c.ID] = &cp
	}
	return m, nil
}

// Client returns a copy of the registered client with this id: changing
// it changes nothing in the registry.
func (m *MemoryClients) Client(_ context.Context, id string) (*Client, error) {
	if c, ok := m.byID[id]; ok {
		return &Client{ID: c.ID, Keys: slices.Clone(c.Keys), Scopes: slices.Clone(c.Scopes)}, nil
	}
	return nil, fmt.Errorf("%w: no such client", ErrNotFound)
}

// MaxAssertionLifetime is how far in the future an assertion's exp may lie
// (RFC 7523 assertions are single-use and short-lived).
const MaxAssertionLifetime = 5 * time.Minute

// SignClientAssertion signs an RFC 7523 assertion for a client: iss and sub
// are clientID, aud is the authorization server's issuer identifier
// (Config.Issuer of its Issuer, exactly), exp is now plus ttl (at most
// MaxAssertionLifetime; 0 means one minute), with iat and a random jti.
// Trade it at the TokenEndpoint as the jwt-bearer grant's assertion or as
// client_assertion (private_key_jwt).
func SignClientAssertion(key *SigningKey, clientID, audience string, now time.Time, ttl time.Duration) (string, error) {
	if !key.valid() {
		return "", keyErr("SignClientAssertion: empty signing key")
	}
	if clientID == "" || audience == "" {
		return "", fmt.Errorf("%w: SignClientAssertion needs a client id and an audience", ErrInvalidConfig)
	}
	if ttl == 0 {
		ttl = time.Minute
	}
	if ttl < 0 || ttl > MaxAssertionLifetime {
		return "", fmt.Errorf("%w: assertion lifetime %v is not within (0, %v]", ErrInvalidConfig, ttl, MaxAssertionLifetime)
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	var buf []byte
	buf = append(buf, `{"iss":`...)
	buf = appendJSONString(buf, clientID)
	buf = append(buf, `,"sub":`...)
	buf = appendJSONString(buf, clientID)
	buf = append(buf, `,"aud":`...)
	buf = appendJSONString(buf, audience)
	buf = append(buf, `,"exp":`...)
	buf = strconv.AppendInt(buf, now.Add(ttl).Unix(), 10)
	buf = append(buf, `,"iat":`...)
	buf = strconv.AppendInt(buf, now.Unix(), 10)
	buf = append(buf, `,"jti":`...)
	buf = appendJSONString(buf, b64.EncodeToString(jti[:]))
	buf = append(buf, '}')
	return signCompact(key, compactHeader(key.Algorithm(), key.KeyID(), "JWT"), buf)
}

// scopeWithin reports whether every scope of the space-separated requested
// is in allowed, and returns them deduplicated in request order.
func scopeWithin(requested string, allowed []string) (string, bool) {
	var out []string
	for s := range strings.FieldsSeq(requested) {
		if !slices.Contains(allowed, s) {
			return "", false
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, " "), true
}
