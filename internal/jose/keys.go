package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"slices"
)

// MinRSABits is the smallest RSA modulus the codec signs or verifies with.
const MinRSABits = 2048

// AlgorithmFor returns the default algorithm of a public key, refusing key
// types, sizes and parameters the codec does not accept: RSA moduli under
// MinRSABits or even, RSA public exponents under 3, even or over 2^31-1, EC
// keys on curves other than P-256, P-384 and P-521 or whose point is not on
// the curve, Ed25519 keys of the wrong length. The default is RS256 for RSA
// keys (which Fits also admits for RS384, RS512 and PS*), ES256, ES384 or
// ES512 by curve, EdDSA for Ed25519. Messages name the problem, never key
// material.
func AlgorithmFor(pub crypto.PublicKey) (Algorithm, error) {
	switch pk := pub.(type) {
	case *rsa.PublicKey:
		switch {
		case pk == nil || pk.N == nil || pk.N.Sign() <= 0:
			return "", errors.New("empty RSA key")
		case pk.N.BitLen() < MinRSABits:
			return "", fmt.Errorf("RSA key has %d bits; at least %d are required", pk.N.BitLen(), MinRSABits)
		case pk.N.Bit(0) == 0:
			return "", errors.New("RSA modulus is even")
		case pk.E < 3:
			return "", fmt.Errorf("RSA public exponent %d is too small; at least 3 is required", pk.E)
		case pk.E%2 == 0:
			return "", fmt.Errorf("RSA public exponent %d is even", pk.E)
		case pk.E > 1<<31-1:
			return "", errors.New("RSA public exponent is larger than 2^31-1")
		}
		return RS256, nil
	case *ecdsa.PublicKey:
		if pk == nil || pk.Curve == nil || pk.X == nil || pk.Y == nil {
			return "", errors.New("empty EC key")
		}
		alg := curveAlgorithm(pk.Curve)
		if alg == "" {
			return "", fmt.Errorf("unsupported curve %s; P-256 (ES256), P-384 (ES384) or P-521 (ES512)", pk.Curve.Params().Name)
		}
		if _, err := pk.ECDH(); err != nil {
			return "", fmt.Errorf("EC key is not a point on %s", pk.Curve.Params().Name)
		}
		return alg, nil
	case ed25519.PublicKey:
		if len(pk) != ed25519.PublicKeySize {
			return "", fmt.Errorf("Ed25519 public key has %d bytes; want %d", len(pk), ed25519.PublicKeySize)
		}
		return EdDSA, nil
	default:
		return "", fmt.Errorf("unsupported key type %T; use RSA, ECDSA (P-256, P-384, P-521) or Ed25519", pub)
	}
}

// curveAlgorithm is the ECDSA algorithm of a curve; "" for other curves.
func curveAlgorithm(c elliptic.Curve) Algorithm {
	switch c {
	case elliptic.P256():
		return ES256
	case elliptic.P384():
		return ES384
	case elliptic.P521():
		return ES512
	}
	return ""
}

// curveName is the JWK crv of a curve AlgorithmFor accepts.
func curveName(c elliptic.Curve) string { return c.Params().Name }

// coordSize is the width of a coordinate (and of r and s in a JWS
// signature) on curve c, in bytes.
func coordSize(c elliptic.Curve) int { return (c.Params().BitSize + 7) / 8 }

// Fits reports whether a key AlgorithmFor accepts, whose default algorithm
// is def, may verify alg: each RSA key one RS* or PS* algorithm, each EC
// key its curve's, an Ed25519 key EdDSA.
func Fits(alg, def Algorithm) bool {
	switch def {
	case RS256:
		switch alg {
		case RS256, RS384, RS512, PS256, PS384, PS512:
			return true
		}
		return false
	default:
		return alg == def
	}
}

// NewKey returns a verification key for alg after checking that pub suits
// it (AlgorithmFor and Fits). An empty kid becomes the RFC 7638 thumbprint
// of pub. The key's Header is the one sessionkit emits for access tokens
// it signs.
func NewKey(alg Algorithm, kid string, pub crypto.PublicKey) (*Key, error) {
	def, err := AlgorithmFor(pub)
	if err != nil {
		return nil, err
	}
	if !Fits(alg, def) {
		return nil, fmt.Errorf("a %T cannot be used with %q", pub, string(alg))
	}
	if pk, ok := pub.(ed25519.PublicKey); ok {
		pub = slices.Clone(pk)
	}
	if kid == "" {
		if kid, err = Thumbprint(pub); err != nil {
			return nil, err
		}
	}
	return &Key{alg: alg, kid: kid, pub: pub, header: CompactHeader(alg, kid, AccessTokenType)}, nil
}

// jwkParams are the public members of a JWK, base64url-encoded where they
// are numbers or points: what a thumbprint hashes and a JWK publishes.
type jwkParams struct {
	kty, crv string
	n, e     string // RSA
	x, y     string // EC (x, y) and OKP (x)
}

// publicParams returns pub's JWK members: n and e in the fewest octets, EC
// coordinates at the curve's full width (RFC 7518 §6).
func publicParams(pub crypto.PublicKey) (jwkParams, error) {
	if _, err := AlgorithmFor(pub); err != nil {
		return jwkParams{}, err
	}
	switch pk := pub.(type) {
	case *rsa.PublicKey:
		e := big.NewInt(int64(pk.E)).Bytes()
		return jwkParams{kty: "RSA", n: b64.EncodeToString(pk.N.Bytes()), e: b64.EncodeToString(e)}, nil
	case *ecdsa.PublicKey:
		n := coordSize(pk.Curve)
		x, y := make([]byte, n), make([]byte, n)
		pk.X.FillBytes(x)
		pk.Y.FillBytes(y)
		return jwkParams{kty: "EC", crv: curveName(pk.Curve), x: b64.EncodeToString(x), y: b64.EncodeToString(y)}, nil
	default:
		return jwkParams{kty: "OKP", crv: "Ed25519", x: b64.EncodeToString(pub.(ed25519.PublicKey))}, nil
	}
}

// Thumbprint returns the RFC 7638 JWK thumbprint of pub: the SHA-256 of
// its required members in lexicographic order, base64url.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	p, err := publicParams(pub)
	if err != nil {
		return "", err
	}
	var in string
	switch p.kty {
	case "RSA":
		in = `{"e":"` + p.e + `","kty":"RSA","n":"` + p.n + `"}`
	case "EC":
		in = `{"crv":"` + p.crv + `","kty":"EC","x":"` + p.x + `","y":"` + p.y + `"}`
	default:
		in = `{"crv":"` + p.crv + `","kty":"OKP","x":"` + p.x + `"}`
	}
	sum := sha256.Sum256([]byte(in))
	return b64.EncodeToString(sum[:]), nil
}

// MarshalJWK returns k's public JWK with kid, alg and "use":"sig" and no
// private member. The members come in the order go-jose writes them (use,
// kty, kid, crv, alg, x, y, n, e), so that JWKS documents, and their ETags,
// stay what they were when go-jose wrote them.
func MarshalJWK(k *Key) ([]byte, error) {
	p, err := publicParams(k.pub)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 0, 64+len(k.kid)+len(p.n)+len(p.x)+len(p.y))
	buf = append(buf, `{"use":"sig","kty":"`...)
	buf = append(buf, p.kty...)
	buf = append(buf, `","kid":`...)
	buf = AppendJSONString(buf, k.kid)
	if p.crv != "" {
		buf = append(buf, `,"crv":"`...)
		buf = append(buf, p.crv...)
		buf = append(buf, '"')
	}
	buf = append(buf, `,"alg":`...)
	buf = AppendJSONString(buf, string(k.alg))
	for _, m := range [...]struct{ name, val string }{{"x", p.x}, {"y", p.y}, {"n", p.n}, {"e", p.e}} {
		if m.val != "" {
			buf = append(buf, `,"`...)
			buf = append(buf, m.name...)
			buf = append(buf, `":"`...)
			buf = append(buf, m.val...)
			buf = append(buf, '"')
		}
	}
	return append(buf, '}'), nil
}
