package jose

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// maxJWKRSABits is the largest RSA modulus a JWK may carry (go-jose's
// limit too): it bounds the cost of every signature check with the key.
const maxJWKRSABits = 4096

// JWK is a JSON Web Key (RFC 7517) read by ParseJWK: its metadata, and its
// public parameters, which PublicKey checks and decodes.
type JWK struct {
	// Kty is the key type; "" when absent.
	Kty string
	// KID is the key id; "" when absent.
	KID string
	// Alg is the algorithm the key is for; HasAlg reports that the member
	// was present (an empty alg matches no algorithm).
	Alg    string
	HasAlg bool

	use       string
	hasUse    bool
	keyOps    []string
	hasKeyOps bool
	crv       string
	n, e      string // base64url, as read
	x, y      string
	private   string // the first private member present, "" if none
}

// jwkStrings are the JWK members whose values must be strings.
var jwkStrings = []string{"kty", "kid", "alg", "use", "crv", "n", "e", "x", "y"}

// jwkPrivate are the members that only private or symmetric keys have.
var jwkPrivate = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// ParseJWK reads one JWK with the rules of ScanObject (exact member names,
// no duplicates at any depth, valid UTF-8). kty, kid, alg, use, crv, n, e,
// x and y must be strings and key_ops an array of strings when present;
// other members are ignored (RFC 7517 §4), certificates (x5c, x5t, x5u)
// included: the key is its public parameters. Nothing about the key
// material is checked here; PublicKey does that.
func ParseJWK(data string) (*JWK, error) {
	k := new(JWK)
	err := ScanObject(data, func(name string, v *Value) error {
		if slices.Contains(jwkPrivate, name) {
			if k.private == "" {
				k.private = name
			}
			return nil
		}
		if name == "key_ops" {
			ops, ok := v.Strings()
			if !ok {
				return errors.New("key_ops is not an array of strings")
			}
			k.keyOps, k.hasKeyOps = ops, true
			return nil
		}
		if !slices.Contains(jwkStrings, name) {
			return nil
		}
		if v.Kind() != String {
			return fmt.Errorf("%s is not a string", name)
		}
		s := v.Str()
		switch name {
		case "kty":
			k.Kty = s
		case "kid":
			k.KID = s
		case "alg":
			k.Alg, k.HasAlg = s, true
		case "use":
			k.use, k.hasUse = s, true
		case "crv":
			k.crv = s
		case "n":
			k.n = s
		case "e":
			k.e = s
		case "x":
			k.x = s
		case "y":
			k.y = s
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// ForSignatures returns why the key is not meant for verifying signatures
// (a use other than "sig", key_ops without "verify"), or nil.
func (k *JWK) ForSignatures() error {
	if k.hasUse && k.use != "sig" {
		return fmt.Errorf("use %q is not sig", shorten(k.use))
	}
	if k.hasKeyOps && !slices.Contains(k.keyOps, "verify") {
		return errors.New("key_ops does not include verify")
	}
	return nil
}

// PublicKey decodes the key's public parameters: *rsa.PublicKey (kty RSA,
// n and e, at most 4096 bits), *ecdsa.PublicKey (kty EC, crv P-256, P-384
// or P-521, x and y of the curve's full width) or ed25519.PublicKey (kty OKP, crv Ed25519, x of 32
// bytes). Every parameter must be canonical base64url. It refuses private
// members, symmetric keys, other key types and curves, and what
// AlgorithmFor refuses (weak RSA parameters, points off the curve).
func (k *JWK) PublicKey() (crypto.PublicKey, error) {
	if k.private != "" {
		return nil, fmt.Errorf("private key material (member %s) in a public key", k.private)
	}
	var pub crypto.PublicKey
	switch k.Kty {
	case "RSA":
		n, e, err := decodeParams("n", k.n, "e", k.e, 0)
		if err != nil {
			return nil, err
		}
		nn := new(big.Int).SetBytes(n)
		if nn.BitLen() > maxJWKRSABits {
			return nil, fmt.Errorf("RSA key has %d bits; at most %d are accepted", nn.BitLen(), maxJWKRSABits)
		}
		e = bytes.TrimLeft(e, "\x00")
		if len(e) > 4 {
			return nil, errors.New("RSA public exponent is larger than 2^31-1")
		}
		pub = &rsa.PublicKey{N: nn, E: int(new(big.Int).SetBytes(e).Int64())}
	case "EC":
		var curve elliptic.Curve
		var dh ecdh.Curve
		switch k.crv {
		case "P-256":
			curve, dh = elliptic.P256(), ecdh.P256()
		case "P-384":
			curve, dh = elliptic.P384(), ecdh.P384()
		case "P-521":
			curve, dh = elliptic.P521(), ecdh.P521()
		default:
			return nil, fmt.Errorf("unsupported curve %q; P-256, P-384 or P-521", shorten(k.crv))
		}
		x, y, err := decodeParams("x", k.x, "y", k.y, coordSize(curve))
		if err != nil {
			return nil, err
		}
		if _, err := dh.NewPublicKey(slices.Concat([]byte{4}, x, y)); err != nil {
			return nil, fmt.Errorf("EC key is not a point on %s", k.crv)
		}
		pub = &ecdsa.PublicKey{Curve: curve, X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
	case "OKP":
		if k.crv != "Ed25519" {
			return nil, fmt.Errorf("unsupported curve %q; only Ed25519 (EdDSA)", shorten(k.crv))
		}
		x, err := jwkParam("x", k.x, ed25519.PublicKeySize)
		if err != nil {
			return nil, err
		}
		pub = ed25519.PublicKey(x)
	case "oct":
		return nil, errors.New("symmetric (oct) key")
	case "":
		return nil, errors.New("kty missing")
	default:
		return nil, fmt.Errorf("unsupported key type (kty %s)", shorten(k.Kty))
	}
	if _, err := AlgorithmFor(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// decodeParams decodes two parameters of a JWK with jwkParam.
func decodeParams(name1, val1, name2, val2 string, size int) ([]byte, []byte, error) {
	b1, err := jwkParam(name1, val1, size)
	if err != nil {
		return nil, nil, err
	}
	b2, err := jwkParam(name2, val2, size)
	return b1, b2, err
}

// jwkParam decodes the base64url parameter name of a JWK: present,
// canonical, and of exactly size bytes unless size is 0.
func jwkParam(name, val string, size int) ([]byte, error) {
	if val == "" {
		return nil, fmt.Errorf("%s missing", name)
	}
	b, err := b64.DecodeString(val)
	if err != nil || strings.ContainsAny(val, "\r\n") { // the decoder skips CR and LF
		return nil, fmt.Errorf("%s is not canonical base64url", name)
	}
	if size > 0 && len(b) != size {
		return nil, fmt.Errorf("%s has %d bytes; want %d", name, len(b), size)
	}
	return b, nil
}

// ParseJWKSet reads a JWK Set (RFC 7517 §5) with the rules of ScanObject
// and returns the raw elements of its "keys" array, each for ParseJWK.
// Other members are ignored.
func ParseJWKSet(data string) ([]string, error) {
	var keys []string
	sawKeys := false
	err := ScanObject(data, func(name string, v *Value) error {
		if name != "keys" {
			return nil
		}
		if v.Kind() != Array {
			return errors.New(`"keys" is not an array`)
		}
		sawKeys = true
		keys = elements(v.Raw())
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !sawKeys {
		return nil, errors.New(`no "keys" array`)
	}
	return keys, nil
}

// elements returns the raw elements of raw, a valid JSON array.
func elements(raw string) []string {
	r := reader{b: raw}
	var out []string
	for i := skipWS(raw, 1); i < len(raw) && raw[i] != ']'; {
		r.i = i
		_ = r.skip(nil) // validated by the scan that found raw
		out = append(out, raw[i:r.i])
		if i = skipWS(raw, r.i); i < len(raw) && raw[i] == ',' {
			i = skipWS(raw, i+1)
		}
	}
	return out
}

// shorten bounds a string taken from input before it goes into an error.
func shorten(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
