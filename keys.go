package sessionkit

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessionkit/internal/jose"
)

// Algorithm is a JWS signature algorithm sessionkit signs and verifies with.
type Algorithm string

// The supported algorithms. RS256 is the default. sessionkit signs with
// RS256, ES256 and EdDSA; a Verifier verifies the others too when they are
// listed in VerifierConfig.Algorithms (tokens of other issuers), each key
// with its own algorithm only.
const (
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256, RSA keys of at least 2048 bits.
	RS256 Algorithm = "RS256"
	// RS384 is RSASSA-PKCS1-v1_5 with SHA-384 (verification only).
	RS384 Algorithm = "RS384"
	// RS512 is RSASSA-PKCS1-v1_5 with SHA-512 (verification only).
	RS512 Algorithm = "RS512"
	// PS256 is RSASSA-PSS with SHA-256, MGF1 with SHA-256 and a 32-byte
	// salt (RFC 7518 §3.5; verification only).
	PS256 Algorithm = "PS256"
	// PS384 is RSASSA-PSS with SHA-384 (verification only).
	PS384 Algorithm = "PS384"
	// PS512 is RSASSA-PSS with SHA-512 (verification only).
	PS512 Algorithm = "PS512"
	// ES256 is ECDSA on P-256 with SHA-256.
	ES256 Algorithm = "ES256"
	// ES384 is ECDSA on P-384 with SHA-384 (verification only).
	ES384 Algorithm = "ES384"
	// ES512 is ECDSA on P-521 with SHA-512 (verification only).
	ES512 Algorithm = "ES512"
	// EdDSA is Ed25519.
	EdDSA Algorithm = "EdDSA"
	// HS256 is HMAC with SHA-256. sessionkit never signs with it; a Verifier
	// accepts it only with a secret configured in TrustedIssuer.HMACKeys and
	// the algorithm in VerifierConfig.Algorithms, never from a JWKS.
	HS256 Algorithm = "HS256"
	// HS384 is HMAC with SHA-384; see HS256.
	HS384 Algorithm = "HS384"
	// HS512 is HMAC with SHA-512; see HS256.
	HS512 Algorithm = "HS512"
)

// minRSABits is the smallest RSA modulus sessionkit signs or verifies with.
const minRSABits = jose.MinRSABits

// JWKSMaxAge is how long verifiers may cache the JWKS: the max-age of the
// Cache-Control header KeySet.ServeHTTP sends. It is also the least time a
// fleet waits between KeySet.Publish and KeySet.Promote, so that every
// verifier has fetched the new key before the first token signed with it
// arrives; verifiers that cache longer than max-age says need longer (see
// KeySet).
const JWKSMaxAge = 5 * time.Minute

// keyErr returns an error wrapping ErrInvalidConfig. Messages name the
// problem, never key material.
func keyErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
}

// SigningKey is a private key with its algorithm and key id. It is
// immutable and safe for concurrent use. Printing it with the fmt package
// shows only its algorithm and key id.
type SigningKey struct {
	pub  publicKey
	priv crypto.Signer
	jwk  []byte // the public JWK (with kid, alg, use) as JSON, for the JWKS
}

// GenerateSigningKey generates a new signing key for alg: a 2048-bit RSA key
// for RS256, a P-256 key for ES256, an Ed25519 key for EdDSA. Its key id is
// the RFC 7638 thumbprint of the public key.
func GenerateSigningKey(alg Algorithm) (*SigningKey, error) {
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, minRSABits)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, keyErr("unsupported algorithm %q; use RS256, ES256 or EdDSA", string(alg))
	}
	if err != nil {
		return nil, fmt.Errorf("sessionkit: generating %s key: %w", alg, err)
	}
	return newSigningKey(priv)
}

// ParseSigningKeyPEM parses a private key from exactly one PEM block: "PRIVATE
// KEY" (PKCS #8: RSA, EC P-256 or Ed25519), "RSA PRIVATE KEY" (PKCS #1) or
// "EC PRIVATE KEY" (SEC 1). The algorithm follows from the key type. It
// refuses RSA keys under 2048 bits, EC curves other than P-256, encrypted
// PEM, PEM headers, public keys and certificates, more than one block, and
// anything but whitespace around the block. Errors wrap ErrInvalidConfig and
// never contain key material.
func ParseSigningKeyPEM(pemBytes []byte) (*SigningKey, error) {
	data := bytes.TrimLeft(pemBytes, " \t\r\n")
	if len(data) == 0 {
		return nil, keyErr("no PEM data")
	}
	if !bytes.HasPrefix(data, []byte("-----BEGIN ")) {
		return nil, keyErr("not a PEM block (or data before the PEM block)")
	}
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, keyErr("malformed PEM block")
	}
	rest = bytes.TrimSpace(rest)
	if bytes.Contains(rest, []byte("-----BEGIN ")) {
		return nil, keyErr("more than one PEM block; give exactly one private key")
	}
	if len(rest) > 0 {
		return nil, keyErr("trailing data after the PEM block")
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
		return nil, keyErr("encrypted PEM keys are not supported; decrypt the key first")
	}
	if len(block.Headers) > 0 {
		return nil, keyErr("PEM headers are not supported")
	}

	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PUBLIC KEY", "RSA PUBLIC KEY", "EC PUBLIC KEY", "CERTIFICATE":
		return nil, keyErr("PEM block %q holds no private key; a signing key needs one", block.Type)
	default:
		return nil, keyErr("unsupported PEM block type %q; want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY", shorten(block.Type))
	}
	if err != nil {
		// The x509 messages describe the structure, never the key bytes.
		return nil, keyErr("cannot parse %s: %v", block.Type, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, keyErr("unsupported key type %T", key)
	}
	return newSigningKey(signer)
}

// shorten bounds a string taken from input before it goes into an error.
func shorten(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// MarshalPEM encodes the private key as a PKCS #8 "PRIVATE KEY" PEM block,
// which ParseSigningKeyPEM reads back. Keep the result secret.
func (k *SigningKey) MarshalPEM() ([]byte, error) {
	if !k.valid() {
		return nil, keyErr("empty signing key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		return nil, keyErr("cannot encode the key as PKCS #8: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// KeyID returns the key id: the RFC 7638 JWK thumbprint (SHA-256,
// base64url) of the public key. Tokens carry it in their kid header.
func (k *SigningKey) KeyID() string { return k.pub.KID() }

// Algorithm returns the algorithm the key signs with.
func (k *SigningKey) Algorithm() Algorithm { return Algorithm(k.pub.Algorithm()) }

// Public returns the public key: *rsa.PublicKey, *ecdsa.PublicKey or
// ed25519.PublicKey.
func (k *SigningKey) Public() crypto.PublicKey {
	if pk, ok := k.pub.Public().(ed25519.PublicKey); ok {
		return slices.Clone(pk)
	}
	return k.pub.Public()
}

// Format implements fmt.Formatter so that printing a SigningKey, with any
// verb, shows its algorithm and key id and never private material.
func (k SigningKey) Format(f fmt.State, _ rune) {
	_, _ = fmt.Fprintf(f, "sessionkit.SigningKey{alg: %s, kid: %s}", k.pub.Algorithm(), k.pub.KID())
}

// valid reports whether k came from newSigningKey (not nil, not zero).
func (k *SigningKey) valid() bool {
	return k != nil && k.priv != nil && k.pub.Public() != nil && len(k.jwk) > 0
}

// newSigningKey validates priv, infers its algorithm and computes its key
// id, access-token header and public JWK. priv must be one of the types the
// JWS codec signs with: *rsa.PrivateKey, *ecdsa.PrivateKey,
// ed25519.PrivateKey.
func newSigningKey(priv crypto.Signer) (*SigningKey, error) {
	var pub crypto.PublicKey
	switch sk := priv.(type) {
	case *rsa.PrivateKey:
		if sk == nil {
			return nil, keyErr("no key")
		}
		pub = &sk.PublicKey
	case *ecdsa.PrivateKey:
		if sk == nil {
			return nil, keyErr("no key")
		}
		pub = &sk.PublicKey
	case ed25519.PrivateKey:
		if len(sk) != ed25519.PrivateKeySize {
			return nil, keyErr("Ed25519 private key has %d bytes; want %d", len(sk), ed25519.PrivateKeySize)
		}
		pub = sk.Public()
	case nil:
		return nil, keyErr("no key")
	default:
		return nil, keyErr("unsupported key type %T; use RSA, ECDSA P-256 or Ed25519", priv)
	}
	alg, err := algorithmFor(pub)
	if err != nil {
		return nil, err
	}
	pk, err := newPublicKey(alg, "", pub)
	if err != nil {
		return nil, err
	}
	jwk, err := jose.MarshalJWK(pk)
	if err != nil {
		return nil, keyErr("cannot encode the public key as a JWK: %v", err)
	}
	return &SigningKey{pub: *pk, priv: priv, jwk: jwk}, nil
}

// algorithmFor returns the algorithm sessionkit signs with a key of pub's
// type, and client assertions are checked with: RS256, ES256 or EdDSA. It
// refuses key types, sizes, curves and parameters sessionkit does not
// accept (see jose.AlgorithmFor), and the curves it only verifies.
func algorithmFor(pub crypto.PublicKey) (Algorithm, error) {
	alg, err := jose.AlgorithmFor(pub)
	if err != nil {
		return "", keyErr("%v", err)
	}
	if ec, ok := pub.(*ecdsa.PublicKey); ok && Algorithm(alg) != ES256 {
		// P-384 and P-521 keys verify other issuers' tokens (from a
		// JWKS); sessionkit signs, and checks assertions, with P-256 only.
		return "", keyErr("unsupported curve %s; only P-256 (ES256)", ec.Curve.Params().Name)
	}
	return Algorithm(alg), nil
}

// newPublicKey returns a verification key for alg after checking that pub
// suits it (type, RSA size and exponent, P-256 point). An empty kid becomes
// the RFC 7638 thumbprint of pub. The header is the one sessionkit emits for
// access tokens signed by this key.
func newPublicKey(alg Algorithm, kid string, pub crypto.PublicKey) (*publicKey, error) {
	k, err := jose.NewKey(jose.Algorithm(alg), kid, pub)
	if err != nil {
		return nil, keyErr("%v", err)
	}
	return k, nil
}

// KeySet holds the current signing key and older keys kept for
// verification, and serves them as a JWKS (ServeHTTP). It is safe for
// concurrent use: signing and verification read an immutable snapshot and
// never lock; changes build a new snapshot and swap it in.
//
// Rotation without logging anyone out, on one instance or a fleet:
//
//  1. Publish the next key. It appears in the JWKS and verifies, but nothing
//     is signed with it yet.
//  2. Wait until every verifier's cached JWKS includes it: at least the
//     longest time any verifier of the fleet keeps a JWKS, and never less
//     than JWKSMaxAge. A verifier that honours max-age keeps it JWKSMaxAge;
//     others keep it longer whatever max-age says (jwx's jwk.Cache, for
//     one, keeps a JWKS at least 15 minutes by default), and so does a
//     sessionkit Verifier whose MinCacheTTL is longer. A sessionkit
//     Verifier refetches when a token names a kid it lacks, but at most
//     once per RefetchInterval, and other verifiers may not refetch at
//     all: a verifier that still caches the old set refuses the new key's
//     tokens until its cache expires.
//  3. Promote it. New tokens carry its kid; the old key keeps verifying the
//     tokens it signed.
//  4. Retire the old key only once AccessTTL plus the verification leeway
//     have passed since it last signed; until then its tokens are still
//     live, and retiring it makes them fail.
//
// Rotate does steps 1 and 3 at once, which is right when the issuer is the
// only verifier (it learns of the key immediately).
//
// A KeySet from ManagedKeys.Keys follows a ring kept in a store instead:
// its Publish, Promote, Rotate and Retire methods refuse, and the
// ManagedKeys takes these steps, on a schedule, for the whole fleet.
type KeySet struct {
	mu   sync.Mutex // serializes writers; readers use snap
	snap atomic.Pointer[keySnapshot]
	// managed is set, at construction, on the key set of a ManagedKeys,
	// which alone writes snap.
	managed *ManagedKeys
}

// keySnapshot is an immutable view of a KeySet. It implements keyResolver.
type keySnapshot struct {
	signing  *SigningKey
	keys     []*SigningKey // published keys, oldest first
	byKID    map[string]*publicKey
	byHeader map[string]*publicKey // keyed by publicKey.Header()
	algs     []Algorithm           // distinct algorithms of the published keys: the allow-list
	jwks     []byte                // the JWKS document
	etag     string                // strong ETag of jwks, quoted
}

// emptySnapshot is what a KeySet without keys reads: it resolves nothing
// and serves {"keys":[]}.
var emptySnapshot = newSnapshot(nil, nil)

// cacheControl is the Cache-Control header of JWKS responses.
var cacheControl = "public, max-age=" + strconv.Itoa(int(JWKSMaxAge/time.Second))

// newSnapshot builds the snapshot for signing and the published keys (which
// include signing).
func newSnapshot(signing *SigningKey, keys []*SigningKey) *keySnapshot {
	s := &keySnapshot{
		signing:  signing,
		keys:     keys,
		byKID:    make(map[string]*publicKey, len(keys)),
		byHeader: make(map[string]*publicKey, len(keys)),
	}
	// The signing key comes first in the JWKS, for clients that look no
	// further; the others follow in publication order.
	ordered := make([]*SigningKey, 0, len(keys))
	if signing != nil {
		ordered = append(ordered, signing)
	}
	for _, k := range keys {
		if k != signing {
			ordered = append(ordered, k)
		}
	}
	jwks := []byte(`{"keys":[`)
	for i, k := range ordered {
		s.byKID[k.pub.KID()] = &k.pub
		s.byHeader[k.pub.Header()] = &k.pub
		if !slices.Contains(s.algs, k.Algorithm()) {
			s.algs = append(s.algs, k.Algorithm())
		}
		if i > 0 {
			jwks = append(jwks, ',')
		}
		jwks = append(jwks, k.jwk...)
	}
	s.jwks = append(jwks, "]}"...)
	s.etag = strongETag(s.jwks)
	return s
}

// KeyForHeader returns the key whose access-token header segment is seg.
func (s *keySnapshot) KeyForHeader(seg string) *publicKey { return s.byHeader[seg] }

// KeyForKID returns the published key with this kid.
func (s *keySnapshot) KeyForKID(kid string) *publicKey { return s.byKID[kid] }

// KeyForAlg returns nil: sessionkit's own tokens always name their key, and
// Issuer.Verify requires it (a Verifier over a KeySet resolves through
// resolvedKeys, which answers it).
func (s *keySnapshot) KeyForAlg(jose.Algorithm) *publicKey { return nil }

// Allows reports whether some published key uses alg.
func (s *keySnapshot) Allows(alg jose.Algorithm) bool { return slices.Contains(s.algs, Algorithm(alg)) }

// find returns the published key with this kid.
func (s *keySnapshot) find(kid string) *SigningKey {
	for _, k := range s.keys {
		if k.pub.KID() == kid {
			return k
		}
	}
	return nil
}

// NewKeySet returns a key set that signs with signing and publishes it. A
// nil (or zero) signing key gives an empty set, which New refuses; Publish
// and Promote (or Rotate) can fill it later. The zero KeySet is an empty
// set too. An empty set verifies nothing and never panics.
func NewKeySet(signing *SigningKey) *KeySet {
	ks := &KeySet{}
	if signing.valid() {
		ks.snap.Store(newSnapshot(signing, []*SigningKey{signing}))
	}
	return ks
}

// load returns the current snapshot; never nil, even for a nil or zero
// KeySet.
func (ks *KeySet) load() *keySnapshot {
	if ks != nil {
		if s := ks.snap.Load(); s != nil {
			return s
		}
	}
	return emptySnapshot
}

// Publish adds next to the JWKS and to the verification keys without
// signing with it. Publishing a key that is already published (same kid) is
// a no-op. See KeySet for the rotation steps.
func (ks *KeySet) Publish(next *SigningKey) error {
	if err := ks.unmanaged("Publish"); err != nil {
		return err
	}
	if !next.valid() {
		return keyErr("Publish: empty signing key")
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	cur := ks.load()
	if cur.find(next.pub.KID()) != nil {
		return nil
	}
	ks.snap.Store(newSnapshot(cur.signing, append(slices.Clip(cur.keys), next)))
	return nil
}

// Promote makes the published key kid the signing key. The previous signing
// key stays published and keeps verifying. Promoting the current signing
// key is a no-op; an unknown kid is an error.
func (ks *KeySet) Promote(kid string) error {
	if err := ks.unmanaged("Promote"); err != nil {
		return err
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	cur := ks.load()
	k := cur.find(kid)
	if k == nil {
		return keyErr("Promote: unknown key id %q; Publish the key first", shorten(kid))
	}
	if k != cur.signing {
		ks.snap.Store(newSnapshot(k, cur.keys))
	}
	return nil
}

// Rotate publishes next and makes it the signing key in one atomic step: no
// reader sees one without the other. The previous signing key stays
// published and keeps verifying. Fleets whose verifiers cache the JWKS use
// Publish, wait (at least JWKSMaxAge; see KeySet), then Promote instead.
func (ks *KeySet) Rotate(next *SigningKey) error {
	if err := ks.unmanaged("Rotate"); err != nil {
		return err
	}
	if !next.valid() {
		return keyErr("Rotate: empty signing key")
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	cur := ks.load()
	switch k := cur.find(next.pub.KID()); {
	case k == nil:
		ks.snap.Store(newSnapshot(next, append(slices.Clip(cur.keys), next)))
	case k != cur.signing:
		ks.snap.Store(newSnapshot(k, cur.keys))
	}
	return nil
}

// Retire removes the key kid from the JWKS and the verification keys; tokens
// it signed stop verifying. Retire a key only once AccessTTL plus the
// verification leeway have passed since it last signed. Retiring the
// current signing key (Promote another first) or an unknown kid is an
// error.
func (ks *KeySet) Retire(kid string) error {
	if err := ks.unmanaged("Retire"); err != nil {
		return err
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	cur := ks.load()
	if cur.signing != nil && cur.signing.pub.KID() == kid {
		return keyErr("Retire: key %q is the current signing key; Promote another key first", kid)
	}
	k := cur.find(kid)
	if k == nil {
		return keyErr("Retire: unknown key id %q", shorten(kid))
	}
	keys := make([]*SigningKey, 0, len(cur.keys)-1)
	for _, p := range cur.keys {
		if p != k {
			keys = append(keys, p)
		}
	}
	ks.snap.Store(newSnapshot(cur.signing, keys))
	return nil
}

// unmanaged refuses method on the key set of a ManagedKeys: a change made
// here would be lost at the next reload, and reach no other instance.
func (ks *KeySet) unmanaged(method string) error {
	if ks != nil && ks.managed != nil {
		return keyErr("%s: the key set is managed (OpenManagedKeys); use the ManagedKeys' Rotate and Retire", method)
	}
	return nil
}

// SigningKeyID returns the kid of the current signing key, or "" if there
// is none.
func (ks *KeySet) SigningKeyID() string {
	if s := ks.load().signing; s != nil {
		return s.pub.KID()
	}
	return ""
}

// KeyIDs returns the kids of all published keys, oldest first.
func (ks *KeySet) KeyIDs() []string {
	keys := ks.load().keys
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.pub.KID()
	}
	return ids
}

// ServeHTTP serves the published public keys as a JWK Set (RFC 7517):
// {"keys":[...]} with kty, the public parameters, kid, alg and "use":"sig";
// never private members. It answers GET and HEAD (405 otherwise) with
// Content-Type application/json, Cache-Control "public, max-age=" JWKSMaxAge
// and a strong ETag; a matching If-None-Match answers 304 Not Modified.
// Mount it at /.well-known/jwks.json.
func (ks *KeySet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := ks.load()
	serveJSONDocument(w, r, s.jwks, s.etag, cacheControl)
}

// strongETag is the quoted strong entity tag of a document: a hash of its
// bytes.
func strongETag(doc []byte) string {
	sum := sha256.Sum256(doc)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
}

// serveJSONDocument answers a GET or HEAD request for a public JSON
// document (the JWKS, the authorization-server metadata) with its
// Cache-Control and strong ETag, and 304 Not Modified for a matching
// If-None-Match; other methods get 405 with Allow.
func serveJSONDocument(w http.ResponseWriter, r *http.Request, doc []byte, etag, cacheControl string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", etag)
	if etagMatches(r.Header.Values("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(doc)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(doc)
	}
}

// etagMatches reports whether an If-None-Match field (possibly several
// lines, each "*" or a comma-separated list of entity tags) matches etag.
// If-None-Match uses the weak comparison (RFC 9110 §13.1.2): W/"x" matches
// "x".
func etagMatches(fields []string, etag string) bool {
	for _, f := range fields {
		for {
			f = strings.TrimLeft(f, " \t,")
			if f == "" {
				break
			}
			if f[0] == '*' {
				return true
			}
			f = strings.TrimPrefix(f, "W/")
			if f == "" || f[0] != '"' {
				break // malformed: ignore the rest of this line
			}
			end := strings.IndexByte(f[1:], '"')
			if end < 0 {
				break
			}
			if f[:end+2] == etag {
				return true
			}
			f = f[end+2:]
		}
	}
	return false
}

var _ keyResolver = (*keySnapshot)(nil)
