package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"strings"
)

// Algorithm is a JWS algorithm ("alg" header value) the codec knows.
type Algorithm string

// The algorithms the codec signs and verifies with (RFC 7518 §3, RFC 8037).
// It signs with RS256, ES256 and EdDSA; the others verify only.
const (
	RS256 Algorithm = "RS256"
	RS384 Algorithm = "RS384"
	RS512 Algorithm = "RS512"
	PS256 Algorithm = "PS256"
	PS384 Algorithm = "PS384"
	PS512 Algorithm = "PS512"
	ES256 Algorithm = "ES256"
	ES384 Algorithm = "ES384"
	ES512 Algorithm = "ES512"
	EdDSA Algorithm = "EdDSA"
	HS256 Algorithm = "HS256"
	HS384 Algorithm = "HS384"
	HS512 Algorithm = "HS512"
)

// Known reports whether the codec implements alg.
func Known(alg Algorithm) bool {
	switch alg {
	case RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, HS256, HS384, HS512:
		return true
	}
	return false
}

// algHash is the hash of an RS*, PS*, ES* or HS* algorithm.
func algHash(alg Algorithm) crypto.Hash {
	switch alg {
	case RS384, PS384, ES384, HS384:
		return crypto.SHA384
	case RS512, PS512, ES512, HS512:
		return crypto.SHA512
	default:
		return crypto.SHA256
	}
}

// AccessTokenType is the typ header of access tokens (RFC 9068).
const AccessTokenType = "at+jwt"

// MaxHeaderMembers is the most members a JOSE header may have, and
// MaxHeaderSize the longest header segment, in base64url characters (1.5
// KiB of JSON). A header has a handful of short members (alg, kid, typ,
// perhaps cty or x5t: a few hundred bytes, the members that could make it
// long, jwk and x5c, being refused anyway); the caps bound the work spent
// on a header before its signature is checked.
const (
	MaxHeaderMembers = 16
	MaxHeaderSize    = 2 << 10
)

// ErrInvalidToken is what every refusal of a token wraps. The root package
// re-exports it as sessionkit.ErrInvalidToken.
var ErrInvalidToken = errors.New("sessionkit: invalid token")

// The reasons of refusals the codec tells apart (Refusal.Reason). They are
// values of the root package's Reason type, which names them for users.
const (
	ReasonMalformed    = "malformed"
	ReasonTooLarge     = "too_large"
	ReasonWrongType    = "wrong_type"
	ReasonAlgorithm    = "algorithm"
	ReasonUnknownKey   = "unknown_key"
	ReasonBadSignature = "bad_signature"
)

// Refusal is a refused token: why, as one of a small closed set of names
// (Reason), and a message for people. It wraps ErrInvalidToken, and its
// message reads "sessionkit: invalid token: " and the message; neither
// ever includes token bytes.
type Refusal struct {
	Reason string
	msg    string
	wraps  error // what Unwrap returns: ErrInvalidToken, or a refusal it refines
}

func (e *Refusal) Error() string { return ErrInvalidToken.Error() + ": " + e.msg }

// Unwrap returns ErrInvalidToken, or the refusal this one refines (which
// wraps ErrInvalidToken).
func (e *Refusal) Unwrap() error {
	if e.wraps != nil {
		return e.wraps
	}
	return ErrInvalidToken
}

// Refuse returns a *Refusal for reason with message msg.
func Refuse(reason, msg string) error { return &Refusal{Reason: reason, msg: msg} }

// Malformed returns a refusal for ReasonMalformed: msg says what is
// wrong, never with token bytes.
func Malformed(msg string) error { return Refuse(ReasonMalformed, msg) }

// ReasonOf returns the reason of the Refusal err wraps, or "" when it
// wraps none.
//
// It walks the chain as errors.As would, but without a target that
// escapes: a refusal's reason costs no allocation.
func ReasonOf(err error) string {
	for err != nil {
		switch e := err.(type) {
		case *Refusal:
			return e.Reason
		case interface{ Unwrap() error }:
			err = e.Unwrap()
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				if r := ReasonOf(inner); r != "" {
					return r
				}
			}
			return ""
		default:
			return ""
		}
	}
	return ""
}

// ErrUnknownKey is Verify's answer for an allowed algorithm whose kid no
// key has: the one failure a remote key set answers with a refetch.
var ErrUnknownKey = Refuse(ReasonUnknownKey, "unknown key id")

// errNoSingleKey is Verify's answer for a header without kid when the keys
// hold none, or several, of its algorithm. It wraps ErrUnknownKey, so that
// a remote key set refetches as for an unknown kid (an issuer that just
// moved to a new algorithm), within the same rate limit.
var errNoSingleKey = fmt.Errorf("%w: no kid, and no single key of the algorithm", ErrUnknownKey)

// errSingleKeyFails is Verify's answer for a header without kid whose one
// key of the algorithm does not verify the signature: the issuer may have
// replaced the key, so it too wraps ErrUnknownKey (a remote key set
// refetches once, rate-limited, then the token is refused).
//
// Its reason is bad_signature: a forged token without kid is what an
// operator most often sees here, and the alert on bad signatures must
// count it.
var errSingleKeyFails error = &Refusal{
	Reason: ReasonBadSignature,
	msg:    "unknown key id: no kid, and the one key of the algorithm does not verify the signature",
	wraps:  ErrUnknownKey,
}

// b64 is the only base64 the codec reads and writes: base64url without
// padding, canonical (unused bits zero).
var b64 = base64.RawURLEncoding.Strict()

// b64Char marks the characters of the base64url alphabet (for callers
// checking other base64url strings).
var b64Char = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		t[c] = true
	}
	return t
}()

// IsBase64URLChar reports whether c is in the base64url alphabet.
func IsBase64URLChar(c byte) bool { return b64Char[c] }

// Key is a verification key: algorithm, key id and public half, or, for
// HS256/HS384/HS512 only, a shared secret. It is immutable; build it with
// NewKey or NewHMACKey.
type Key struct {
	alg    Algorithm
	kid    string
	pub    crypto.PublicKey // *rsa.PublicKey, *ecdsa.PublicKey (P-256, P-384, P-521), ed25519.PublicKey; nil for HMAC
	secret []byte           // the HMAC secret of an HS* key; nil otherwise
	header string           // the access-token header segment of this key; "" for HMAC
}

// NewHMACKey returns a key that verifies alg (HS256, HS384 or HS512) with
// a copy of secret. The caller checks the secret's length.
func NewHMACKey(alg Algorithm, kid string, secret []byte) *Key {
	return &Key{alg: alg, kid: kid, secret: append([]byte(nil), secret...)}
}

// Algorithm returns the one algorithm the key verifies with.
func (k *Key) Algorithm() Algorithm { return k.alg }

// KID returns the key id.
func (k *Key) KID() string { return k.kid }

// Public returns the public key; nil for an HMAC key.
func (k *Key) Public() crypto.PublicKey { return k.pub }

// IsHMAC reports whether the key is a shared secret.
func (k *Key) IsHMAC() bool { return k.secret != nil }

// Header returns the base64url header segment sessionkit emits for access
// tokens signed by this key; a token carrying exactly it skips header
// parsing. It is "" for HMAC keys.
func (k *Key) Header() string { return k.header }

// SignatureSize returns the length of the key's raw JWS signatures.
func (k *Key) SignatureSize() int {
	switch pk := k.pub.(type) {
	case *rsa.PublicKey:
		return pk.Size()
	case *ecdsa.PublicKey:
		return 2 * coordSize(pk.Curve)
	case ed25519.PublicKey:
		return ed25519.SignatureSize
	}
	return hmacHash(k.alg)().Size()
}

// CompactHeader returns the base64url header segment {"alg","kid","typ"}
// in this order.
func CompactHeader(alg Algorithm, kid, typ string) string {
	var buf []byte
	buf = append(buf, `{"alg":`...)
	buf = AppendJSONString(buf, string(alg))
	buf = append(buf, `,"kid":`...)
	buf = AppendJSONString(buf, kid)
	buf = append(buf, `,"typ":`...)
	buf = AppendJSONString(buf, typ)
	buf = append(buf, '}')
	return b64.EncodeToString(buf)
}

// Sign signs payload (raw JSON) with priv, the private half of k, under
// the header segment header, and returns the compact JWS.
func Sign(k *Key, priv crypto.Signer, header string, payload []byte) (string, error) {
	buf := make([]byte, 0, len(header)+1+b64.EncodedLen(len(payload))+1+b64.EncodedLen(k.SignatureSize()))
	buf = append(buf, header...)
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, payload)
	sig, err := sign(k.alg, priv, buf)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, sig)
	return string(buf), nil
}

// sign produces the raw JWS signature of input.
func sign(alg Algorithm, priv crypto.Signer, input []byte) ([]byte, error) {
	switch alg {
	case RS256:
		if sk, ok := priv.(*rsa.PrivateKey); ok {
			d := sha256.Sum256(input)
			return rsa.SignPKCS1v15(nil, sk, crypto.SHA256, d[:])
		}
	case ES256:
		if sk, ok := priv.(*ecdsa.PrivateKey); ok {
			d := sha256.Sum256(input)
			r, s, err := ecdsa.Sign(rand.Reader, sk, d[:])
			if err != nil {
				return nil, err
			}
			out := make([]byte, 64)
			r.FillBytes(out[:32])
			s.FillBytes(out[32:])
			return out, nil
		}
	case EdDSA:
		if sk, ok := priv.(ed25519.PrivateKey); ok {
			return ed25519.Sign(sk, input), nil
		}
	}
	return nil, errors.New("the private key does not match its algorithm")
}

// verify checks sig over input with k, using k's own algorithm only.
func (k *Key) verify(input, sig []byte) bool {
	switch k.alg {
	case RS256, RS384, RS512:
		pub, ok := k.pub.(*rsa.PublicKey)
		if !ok || len(sig) != pub.Size() {
			return false
		}
		h := algHash(k.alg)
		var buf [sha512.Size]byte
		return rsa.VerifyPKCS1v15(pub, h, digest(h, input, &buf), sig) == nil
	case PS256, PS384, PS512:
		pub, ok := k.pub.(*rsa.PublicKey)
		if !ok || len(sig) != pub.Size() {
			return false
		}
		// RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
		h := algHash(k.alg)
		var buf [sha512.Size]byte // escapes: VerifyPSS keeps its digest
		return rsa.VerifyPSS(pub, h, digest(h, input, &buf), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
	case ES256, ES384, ES512:
		pub, ok := k.pub.(*ecdsa.PublicKey)
		if !ok {
			return false
		}
		n := coordSize(pub.Curve)
		if len(sig) != 2*n {
			return false
		}
		var buf [sha512.Size]byte
		r := new(big.Int).SetBytes(sig[:n])
		s := new(big.Int).SetBytes(sig[n:])
		return ecdsa.Verify(pub, digest(algHash(k.alg), input, &buf), r, s)
	case EdDSA:
		pub, ok := k.pub.(ed25519.PublicKey)
		if !ok || len(sig) != ed25519.SignatureSize {
			return false
		}
		return ed25519.Verify(pub, input, sig)
	case HS256, HS384, HS512:
		if k.pub != nil || len(k.secret) == 0 {
			return false
		}
		mac := hmac.New(hmacHash(k.alg), k.secret)
		mac.Write(input)
		return hmac.Equal(mac.Sum(nil), sig) // constant time
	}
	return false
}

// digest hashes input with h (SHA-256, SHA-384 or SHA-512) into buf.
func digest(h crypto.Hash, input []byte, buf *[sha512.Size]byte) []byte {
	switch h {
	case crypto.SHA384:
		*(*[sha512.Size384]byte)(buf[:]) = sha512.Sum384(input)
		return buf[:sha512.Size384]
	case crypto.SHA512:
		*buf = sha512.Sum512(input)
		return buf[:]
	default:
		*(*[sha256.Size]byte)(buf[:]) = sha256.Sum256(input)
		return buf[:sha256.Size]
	}
}

// hmacHash is the hash function of an HS* algorithm.
func hmacHash(alg Algorithm) func() hash.Hash {
	switch alg {
	case HS384:
		return sha512.New384
	case HS512:
		return sha512.New
	default:
		return sha256.New
	}
}

// Resolver finds verification keys for Verify.
type Resolver interface {
	// KeyForHeader returns the key whose exact header segment (Key.Header)
	// this is, or nil.
	KeyForHeader(seg string) *Key
	// KeyForKID returns the key with this kid, or nil.
	KeyForKID(kid string) *Key
	// KeyForAlg returns the one key that verifies alg, or nil when there
	// is none or more than one: the key of a header without kid.
	KeyForAlg(alg Algorithm) *Key
	// Allows reports whether alg is in the allow-list.
	Allows(alg Algorithm) bool
}

// Policy is what Verify requires of a header besides an allowed algorithm
// that is its key's own. The zero Policy admits nothing.
type Policy struct {
	// Types are the accepted values of the typ header, compared as RFC
	// 7515 §4.1.9 says (without case, "application/" optional); an empty
	// string admits a header without typ.
	Types []string
	// KIDOptional admits a header without kid when the Resolver holds
	// exactly one key of the token's algorithm (KeyForAlg).
	KIDOptional bool
	// TypesHint ends the message of a refused typ: what admits it.
	TypesHint string
}

// AccessTokens is the Policy of sessionkit's own access tokens: typ at+jwt
// and a kid.
var AccessTokens = &Policy{Types: []string{AccessTokenType}}

// admits reports whether the typ of h is one of p.Types.
func (p *Policy) admits(h *Header) bool {
	for _, t := range p.Types {
		if t == "" && !h.HasTyp || t != "" && h.HasTyp && typeIs(h.Typ, t) {
			return true
		}
	}
	return false
}

// ownHeader reports whether p admits sessionkit's own access-token header
// (typ at+jwt, a kid), which a Key's Header is.
func (p *Policy) ownHeader() bool {
	return p.admits(&Header{Typ: AccessTokenType, HasTyp: true})
}

// typeError is the refusal of h's typ under p.
func (p *Policy) typeError(h *Header) error {
	what := "typ header missing"
	if h.HasTyp {
		what = fmt.Sprintf("typ %q", shorten(h.Typ))
	}
	msg := "wrong token type (" + what + ")"
	if p.TypesHint != "" {
		msg += ": " + p.TypesHint
	}
	return Refuse(ReasonWrongType, msg)
}

// Verify splits a compact JWS, checks its header and its signature, and
// returns the decoded payload, unparsed. It enforces the size cap before
// any decoding, the header rules (see Compact.Header), the policy's typ and
// kid rules, a kid naming a key of keys (or, when the policy allows, no kid
// and exactly one key of the algorithm), and an allowed algorithm that is
// the key's own. A token whose header segment is exactly a key's Header
// skips header parsing when the policy admits sessionkit's own header.
func Verify(token string, maxSize int, keys Resolver, p *Policy) (string, error) {
	c, err := Split(token, maxSize)
	if err != nil {
		return "", err
	}
	k := keys.KeyForHeader(token[:c.d1])
	if k == nil || !p.ownHeader() {
		h, err := c.Header()
		if err != nil {
			return "", err
		}
		if !p.admits(&h) {
			return "", p.typeError(&h)
		}
		if !Known(h.Alg) || !keys.Allows(h.Alg) {
			return "", Refuse(ReasonAlgorithm, "algorithm not allowed")
		}
		switch {
		case h.HasKID:
			k = keys.KeyForKID(h.KID)
			if k == nil {
				return "", ErrUnknownKey
			}
		case !p.KIDOptional:
			return "", Malformed("header: kid missing")
		default:
			if k = keys.KeyForAlg(h.Alg); k == nil {
				return "", errNoSingleKey
			}
			if k.alg != h.Alg {
				return "", Refuse(ReasonAlgorithm, "algorithm does not match the key")
			}
			payload, err := c.Verify(k)
			if err != nil {
				// Without a kid, a key the issuer replaced looks like a
				// bad signature: answer as for an unknown key.
				return "", errSingleKeyFails
			}
			return payload, nil
		}
		if k.alg != h.Alg {
			return "", Refuse(ReasonAlgorithm, "algorithm does not match the key")
		}
	}
	return c.Verify(k)
}

// typeIs reports whether the typ header value h is want or
// "application/"+want, ignoring case (RFC 7515 §4.1.9).
func typeIs(h, want string) bool {
	const app = "application/"
	if len(h) == len(app)+len(want) && strings.EqualFold(h[:len(app)], app) {
		h = h[len(app):]
	}
	return strings.EqualFold(h, want)
}

// Compact is a compact JWS whose shape Split has checked; nothing in it is
// decoded or verified yet.
type Compact struct {
	token  string
	d1, d2 int // the positions of the two dots
}

// Split checks the shape of a compact JWS before any decoding: the size
// cap, exactly two dots (JWS JSON serialization and JWE are refused), no
// empty segment, no CR or LF (which the base64 decoder would skip). Every
// other byte outside the base64url alphabet fails the decoding of its
// segment, which nothing is used without.
func Split(token string, maxSize int) (Compact, error) {
	if len(token) > maxSize {
		return Compact{}, Refuse(ReasonTooLarge, "token exceeds the size limit")
	}
	if len(token) == 0 {
		return Compact{}, Malformed("empty token")
	}
	if token[0] == '{' {
		return Compact{}, Malformed("JWS JSON serialization is not accepted")
	}
	d1 := strings.IndexByte(token, '.')
	if d1 < 0 {
		return Compact{}, Malformed("not a compact JWS")
	}
	d2 := strings.IndexByte(token[d1+1:], '.')
	if d2 < 0 {
		return Compact{}, Malformed("not a compact JWS")
	}
	d2 += d1 + 1
	if strings.IndexByte(token[d2+1:], '.') >= 0 {
		return Compact{}, Malformed("too many segments (JWE or garbage)")
	}
	if strings.IndexByte(token, '\n') >= 0 || strings.IndexByte(token, '\r') >= 0 {
		return Compact{}, Malformed("character outside the base64url alphabet")
	}
	if d1 == 0 || d2 == d1+1 || d2 == len(token)-1 {
		return Compact{}, Malformed("empty segment")
	}
	return Compact{token: token, d1: d1, d2: d2}, nil
}

// Header is a JOSE header read strictly by Compact.Header.
type Header struct {
	Alg    Algorithm
	KID    string
	HasKID bool // kid was present
	Typ    string
	HasTyp bool // typ was present
}

// Header decodes and reads the protected header: at most MaxHeaderSize
// characters of canonical base64url, a JSON object as ScanObject reads it
// with at most MaxHeaderMembers members; alg a string other than "none" (in any case); kid and typ
// strings when present; no crit, no key-carrying members (jwk, jku, x5u,
// x5c), no zip, no b64.
func (c Compact) Header() (Header, error) {
	if c.d1 > MaxHeaderSize {
		return Header{}, Malformed("header: longer than 2048 characters")
	}
	raw, err := b64.DecodeString(c.token[:c.d1])
	if err != nil {
		return Header{}, Malformed("header is not canonical base64url")
	}
	return parseHeader(string(raw))
}

// parseHeader reads a decoded JOSE header; see Compact.Header.
func parseHeader(raw string) (h Header, err error) {
	var sawAlg bool
	members := 0
	err = ScanObject(raw, func(name string, v *Value) error {
		if members++; members > MaxHeaderMembers {
			return fmt.Errorf("more than %d members", MaxHeaderMembers)
		}
		switch name {
		case "alg":
			if v.Kind() != String {
				return errors.New("alg is not a string")
			}
			h.Alg, sawAlg = Algorithm(v.Str()), true
			if strings.EqualFold(string(h.Alg), "none") {
				return errors.New(`alg "none" is not accepted`)
			}
		case "kid":
			if v.Kind() != String {
				return errors.New("kid is not a string")
			}
			h.KID, h.HasKID = v.Str(), true
		case "typ":
			if v.Kind() != String {
				return errors.New("typ is not a string")
			}
			h.Typ, h.HasTyp = v.Str(), true
		case "crit":
			return errors.New("crit header is not supported")
		case "jwk", "jku", "x5u", "x5c":
			return errors.New("embedded or remote key headers are never trusted")
		case "zip":
			return errors.New("compressed payloads are not accepted")
		case "b64":
			return errors.New("unencoded payloads are not accepted")
		}
		return nil
	})
	if err != nil {
		return Header{}, Malformed("header: " + err.Error())
	}
	if !sawAlg {
		return Header{}, Malformed("header: alg missing")
	}
	return h, nil
}

// Payload decodes the payload without verifying anything: for picking the
// key that verifies it, never for trusting it.
func (c Compact) Payload() (string, error) {
	raw, err := b64.DecodeString(c.token[c.d1+1 : c.d2])
	if err != nil {
		return "", Malformed("payload is not canonical base64url")
	}
	return string(raw), nil
}

// Verify checks the signature with k (its own algorithm only, whatever the
// header says) and returns the decoded payload.
func (c Compact) Verify(k *Key) (string, error) {
	token, d1, d2 := c.token, c.d1, c.d2
	// One buffer: the token's bytes, then the decoded signature and payload.
	buf := make([]byte, 0, len(token)+b64.DecodedLen(len(token)-d2-1)+b64.DecodedLen(d2-d1-1))
	buf = append(buf, token...)
	input, pbytes, sbytes := buf[:d2], buf[d1+1:d2], buf[d2+1:]
	buf, err := b64.AppendDecode(buf, sbytes)
	if err != nil {
		return "", Malformed("signature is not canonical base64url")
	}
	if !k.verify(input, buf[len(token):]) {
		return "", Refuse(ReasonBadSignature, "bad signature")
	}
	n := len(buf)
	buf, err = b64.AppendDecode(buf, pbytes)
	if err != nil {
		return "", Malformed("payload is not canonical base64url")
	}
	return string(buf[n:]), nil
}
