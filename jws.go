package sessionkit

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

// This file is sessionkit's own strict compact-JWS codec over crypto/*. It is
// the hot path of signing and verification, and the place where strictness
// lives: one serialization (compact, three segments), canonical base64url, an
// explicit algorithm allow-list, and no header that could bring its own key,
// extra processing rules or compression.

// DefaultMaxTokenSize is the size cap applied to access tokens before any
// decoding work.
const DefaultMaxTokenSize = 8 << 10

// accessTokenType is the typ header of access tokens (RFC 9068).
const accessTokenType = "at+jwt"

var b64 = base64.RawURLEncoding.Strict()

// b64URLChar marks the characters of the base64url alphabet.
var b64URLChar = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		t[c] = true
	}
	return t
}()

// publicKey is a verification key: algorithm, key id and public half (or,
// for HS256/HS384/HS512 only, a shared secret that a Verifier was given
// explicitly). header is the exact base64url header segment sessionkit
// emits for access tokens signed by this key; a token carrying exactly it
// skips header parsing.
type publicKey struct {
	alg    Algorithm
	kid    string
	key    crypto.PublicKey // *rsa.PublicKey, *ecdsa.PublicKey (P-256), ed25519.PublicKey; nil for HMAC
	secret []byte           // the HMAC secret of an HS* key; nil otherwise
	header string
}

// compactHeader returns the base64url header segment for an access token
// signed with alg by the key kid.
func compactHeader(alg Algorithm, kid, typ string) string {
	var buf []byte
	buf = append(buf, `{"alg":`...)
	buf = appendJSONString(buf, string(alg))
	buf = append(buf, `,"kid":`...)
	buf = appendJSONString(buf, kid)
	buf = append(buf, `,"typ":`...)
	buf = appendJSONString(buf, typ)
	buf = append(buf, '}')
	return b64.EncodeToString(buf)
}

// signCompact signs payload (raw JSON) with k under the header segment h
// (k.pub.header for access tokens) and returns the compact JWS.
func signCompact(k *SigningKey, h string, payload []byte) (string, error) {
	pl := b64.EncodedLen(len(payload))
	siglen := k.signatureSize()
	buf := make([]byte, 0, len(h)+1+pl+1+b64.EncodedLen(siglen))
	buf = append(buf, h...)
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, payload)
	sig, err := k.sign(buf)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, sig)
	return string(buf), nil
}

// signatureSize is the length of k's raw JWS signature.
func (k *SigningKey) signatureSize() int { return signatureSize(&k.pub) }

// signatureSize is the length of a raw JWS signature by k.
func signatureSize(k *publicKey) int {
	switch pk := k.key.(type) {
	case *rsa.PublicKey:
		return pk.Size()
	case *ecdsa.PublicKey:
		return 64
	default:
		return ed25519.SignatureSize
	}
}

// sign produces the raw JWS signature of input.
func (k *SigningKey) sign(input []byte) ([]byte, error) {
	switch k.pub.alg {
	case RS256:
		priv, ok := k.priv.(*rsa.PrivateKey)
		if !ok {
			break
		}
		d := sha256.Sum256(input)
		return rsa.SignPKCS1v15(nil, priv, crypto.SHA256, d[:])
	case ES256:
		priv, ok := k.priv.(*ecdsa.PrivateKey)
		if !ok {
			break
		}
		d := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, priv, d[:])
		if err != nil {
			return nil, err
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out, nil
	case EdDSA:
		priv, ok := k.priv.(ed25519.PrivateKey)
		if !ok {
			break
		}
		return ed25519.Sign(priv, input), nil
	}
	return nil, fmt.Errorf("%w: key does not match its algorithm", ErrInvalidConfig)
}

// verify checks sig over input with k, using k's own algorithm only.
func (k *publicKey) verify(input, sig []byte) bool {
	switch k.alg {
	case RS256:
		pub, ok := k.key.(*rsa.PublicKey)
		if !ok || len(sig) != pub.Size() {
			return false
		}
		d := sha256.Sum256(input)
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig) == nil
	case ES256:
		pub, ok := k.key.(*ecdsa.PublicKey)
		if !ok || len(sig) != 64 {
			return false
		}
		d := sha256.Sum256(input)
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(pub, d[:], r, s)
	case EdDSA:
		pub, ok := k.key.(ed25519.PublicKey)
		if !ok || len(sig) != ed25519.SignatureSize {
			return false
		}
		return ed25519.Verify(pub, input, sig)
	case HS256, HS384, HS512:
		if k.key != nil || len(k.secret) == 0 {
			return false
		}
		mac := hmac.New(hmacHash(k.alg), k.secret)
		mac.Write(input)
		return hmac.Equal(mac.Sum(nil), sig) // constant time
	}
	return false
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

// keyResolver finds verification keys. KeySet snapshots and the remote key
// cache implement it.
type keyResolver interface {
	// keyForHeader returns the key whose exact header segment this is, or nil.
	keyForHeader(seg string) *publicKey
	// keyForKID returns the key with this kid, or nil.
	keyForKID(kid string) *publicKey
	// allows reports whether alg is in the allow-list.
	allows(alg Algorithm) bool
}

// jwsParts is a compact JWS split and decoded, signature checked.
type jwsParts struct {
	key     *publicKey
	header  jwsHeader
	payload string
}

// errMalformed wraps ErrInvalidToken with a reason; reasons never include
// token bytes.
func errMalformed(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, reason)
}

// errUnknownKey is verifyCompact's answer for an allowed algorithm whose kid
// no key has: the one failure a remote key set answers with a refetch.
var errUnknownKey = errMalformed("unknown key id")

// verifyCompact splits, decodes and checks the signature of a compact JWS.
// It enforces the size cap before any decoding, the header rules and the
// typ header (wantTyp). Only a token whose signature verifies with an allowed
// key returns its payload.
func verifyCompact(token string, maxSize int, keys keyResolver, wantTyp string) (*jwsParts, error) {
	d1, d2, err := splitCompact(token, maxSize)
	if err != nil {
		return nil, err
	}
	hseg := token[:d1]

	var p jwsParts
	if k := keys.keyForHeader(hseg); k != nil && wantTyp == accessTokenType {
		// Our own exact header: alg, kid and typ are known to be right.
		p.key = k
		p.header = jwsHeader{Alg: string(k.alg), Kid: k.kid, Typ: accessTokenType}
	} else {
		raw, err := b64.DecodeString(hseg)
		if err != nil {
			return nil, errMalformed("header is not canonical base64url")
		}
		h, err := parseHeader(string(raw))
		if err != nil {
			return nil, err
		}
		if !strings.EqualFold(h.Typ, wantTyp) && !strings.EqualFold(h.Typ, "application/"+wantTyp) {
			return nil, errMalformed("wrong token type (typ header)")
		}
		alg := Algorithm(h.Alg)
		if !knownAlgorithm(alg) || !keys.allows(alg) {
			return nil, errMalformed("algorithm not allowed")
		}
		k := keys.keyForKID(h.Kid)
		if k == nil {
			return nil, errUnknownKey
		}
		if k.alg != alg {
			return nil, errMalformed("algorithm does not match the key")
		}
		p.key = k
		p.header = h
	}

	p.payload, err = verifySigned(token, d1, d2, p.key)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// verifySigned checks the signature of a compact JWS (dots at d1 and d2)
// with k and returns the decoded payload.
func verifySigned(token string, d1, d2 int, k *publicKey) (string, error) {
	// One buffer: the token's bytes, then the decoded signature and payload.
	buf := make([]byte, 0, len(token)+b64.DecodedLen(len(token)-d2-1)+b64.DecodedLen(d2-d1-1))
	buf = append(buf, token...)
	input, pbytes, sbytes := buf[:d2], buf[d1+1:d2], buf[d2+1:]
	buf, err := b64.AppendDecode(buf, sbytes)
	if err != nil {
		return "", errMalformed("signature is not canonical base64url")
	}
	if !k.verify(input, buf[len(token):]) {
		return "", errMalformed("bad signature")
	}
	n := len(buf)
	buf, err = b64.AppendDecode(buf, pbytes)
	if err != nil {
		return "", errMalformed("payload is not canonical base64url")
	}
	return string(buf[n:]), nil
}

// splitCompact checks the shape of a compact JWS before any decoding: the
// size cap, only base64url characters and exactly two dots, no empty
// segment. It returns the positions of the two dots.
func splitCompact(token string, maxSize int) (d1, d2 int, err error) {
	if len(token) > maxSize {
		return 0, 0, errMalformed("token exceeds the size limit")
	}
	if len(token) == 0 {
		return 0, 0, errMalformed("empty token")
	}
	if token[0] == '{' {
		return 0, 0, errMalformed("JWS JSON serialization is not accepted")
	}
	// One pass: only the base64url alphabet and exactly two dots. (The
	// base64 decoder would otherwise skip CR and LF.)
	d1, d2 = -1, -1
	for i := 0; i < len(token); i++ {
		c := token[i]
		if b64URLChar[c] {
			continue
		}
		if c != '.' {
			return 0, 0, errMalformed("character outside the base64url alphabet")
		}
		switch {
		case d1 < 0:
			d1 = i
		case d2 < 0:
			d2 = i
		default:
			return 0, 0, errMalformed("too many segments (JWE or garbage)")
		}
	}
	if d2 < 0 {
		return 0, 0, errMalformed("not a compact JWS")
	}
	if d1 == 0 || d2 == d1+1 || d2 == len(token)-1 {
		return 0, 0, errMalformed("empty segment")
	}
	return d1, d2, nil
}

func knownAlgorithm(a Algorithm) bool {
	switch a {
	case RS256, ES256, EdDSA, HS256, HS384, HS512:
		return true
	}
	return false
}

// jwsHeader is the protected header, parsed strictly.
type jwsHeader struct {
	Alg string
	Kid string
	Typ string
}

// parseHeader parses a JOSE header strictly: a JSON object without duplicate
// members; alg and kid required strings; no crit, no key-carrying members
// (jwk, jku, x5u, x5c), no zip, no b64.
func parseHeader(raw string) (jwsHeader, error) {
	h, sawKid, err := parseJOSEHeader(raw)
	if err != nil {
		return h, err
	}
	if !sawKid {
		return h, errMalformed("header: kid missing")
	}
	return h, nil
}

// parseJOSEHeader is parseHeader with kid optional; sawKid reports whether
// the header had one.
func parseJOSEHeader(raw string) (h jwsHeader, sawKid bool, err error) {
	var sawAlg bool
	err = scanObject(raw, func(name string, v *jsonValue) error {
		switch name {
		case "alg":
			if !v.isString() {
				return errors.New("alg is not a string")
			}
			h.Alg, sawAlg = v.str, true
			if strings.EqualFold(h.Alg, "none") {
				return errors.New(`alg "none" is not accepted`)
			}
		case "kid":
			if !v.isString() {
				return errors.New("kid is not a string")
			}
			h.Kid, sawKid = v.str, true
		case "typ":
			if !v.isString() {
				return errors.New("typ is not a string")
			}
			h.Typ = v.str
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
		return h, false, errMalformed("header: " + err.Error())
	}
	if !sawAlg {
		return h, false, errMalformed("header: alg missing")
	}
	return h, sawKid, nil
}
