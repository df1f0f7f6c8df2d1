package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	gojose "github.com/go-jose/go-jose/v4"
)

// TestThumbprintRFC7638 is the example of RFC 7638 §3.1.
func TestThumbprintRFC7638(t *testing.T) {
	t.Parallel()
	n, err := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Thumbprint(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537})
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; err != nil || got != want {
		t.Fatalf("Thumbprint = %q, %v; want %q", got, err, want)
	}
}

// gojoseKeys are keys of every type and awkward shapes: EC coordinates and
// an RSA modulus with leading zero bytes, an RSA exponent other than
// 65537.
func gojoseKeys(t *testing.T) map[string]crypto.PublicKey {
	t.Helper()
	out := map[string]crypto.PublicKey{}
	for alg, priv := range testKeys() {
		out[string(alg)] = priv.Public()
	}
	// EC keys until both a short x and a short y turned up (1 in 256 each).
	for shortX, shortY := false, false; !shortX || !shortY; {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if !shortX && k.X.BitLen() <= 248 {
			out["EC short x"], shortX = &k.PublicKey, true
		}
		if !shortY && k.Y.BitLen() <= 248 {
			out["EC short y"], shortY = &k.PublicKey, true
		}
	}
	rk := testKeys()[RS256].(*rsa.PrivateKey)
	out["RSA e=3"] = &rsa.PublicKey{N: rk.N, E: 3}
	out["RSA e=2^31-1"] = &rsa.PublicKey{N: rk.N, E: 1<<31 - 1}
	return out
}

// TestThumbprintAndJWKMatchGoJose: thumbprints (existing kids) and public
// JWKs (existing JWKS documents and their ETags) are byte-for-byte what
// go-jose made of the same keys.
func TestThumbprintAndJWKMatchGoJose(t *testing.T) {
	t.Parallel()
	for name, pub := range gojoseKeys(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want, err := (&gojose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Thumbprint(pub)
			if err != nil || got != base64.RawURLEncoding.EncodeToString(want) {
				t.Fatalf("Thumbprint = %q, %v; go-jose %q", got, err, base64.RawURLEncoding.EncodeToString(want))
			}
			alg, err := AlgorithmFor(pub)
			if err != nil {
				t.Fatal(err)
			}
			k, err := NewKey(alg, "", pub)
			if err != nil || k.KID() != got {
				t.Fatalf("NewKey: kid %q, %v", k.KID(), err)
			}
			jwk, err := MarshalJWK(k)
			if err != nil {
				t.Fatal(err)
			}
			std, err := json.Marshal(gojose.JSONWebKey{Key: pub, KeyID: k.KID(), Algorithm: string(alg), Use: "sig"})
			if err != nil {
				t.Fatal(err)
			}
			if string(jwk) != string(std) {
				t.Fatalf("MarshalJWK:\n%s\ngo-jose:\n%s", jwk, std)
			}
		})
	}
}

func TestNewKeyRefuses(t *testing.T) {
	t.Parallel()
	rsaPub := testKeys()[RS256].Public()
	tests := []struct {
		name string
		alg  Algorithm
		pub  crypto.PublicKey
	}{
		{"RSA key for ES256", ES256, rsaPub},
		{"EC key for EdDSA", EdDSA, testKeys()[ES256].Public()},
		{"Ed25519 key for RS256", RS256, testKeys()[EdDSA].Public()},
		{"unknown alg", "none", rsaPub},
		{"HMAC alg", HS256, rsaPub},
		{"nil", RS256, nil},
		{"bytes", RS256, []byte("secret")},
	}
	for _, tt := range tests {
		if _, err := NewKey(tt.alg, "k", tt.pub); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}

// TestAlgorithmForRefusesWeakKeys: what can never verify safely is refused
// when a key is registered, not only when a signature is checked.
func TestAlgorithmForRefusesWeakKeys(t *testing.T) {
	t.Parallel()
	rk := testKeys()[RS256].(*rsa.PrivateKey)
	ek := testKeys()[ES256].(*ecdsa.PrivateKey)
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	even := new(big.Int).Add(rk.N, big.NewInt(1))
	offCurve := &ecdsa.PublicKey{Curve: elliptic.P256(), X: ek.X, Y: new(big.Int).Add(ek.Y, big.NewInt(1))}
	tests := []struct {
		name string
		pub  crypto.PublicKey
		want string
	}{
		{"RSA e=1", &rsa.PublicKey{N: rk.N, E: 1}, "too small"},
		{"RSA e=2", &rsa.PublicKey{N: rk.N, E: 2}, "too small"},
		{"RSA e=0", &rsa.PublicKey{N: rk.N, E: 0}, "too small"},
		{"RSA e negative", &rsa.PublicKey{N: rk.N, E: -3}, "too small"},
		{"RSA e even", &rsa.PublicKey{N: rk.N, E: 65536}, "even"},
		{"RSA e over 2^31-1", &rsa.PublicKey{N: rk.N, E: 1<<31 + 1}, "larger"},
		{"RSA even modulus", &rsa.PublicKey{N: even, E: 65537}, "even"},
		{"RSA 1024 bits", &small.PublicKey, "at least 2048"},
		{"RSA without modulus", &rsa.PublicKey{E: 65537}, "empty"},
		{"nil RSA", (*rsa.PublicKey)(nil), "empty"},
		{"EC off the curve", offCurve, "not a point on P-256"},
		{"EC at x=0,y=0", &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int), Y: new(big.Int)}, "not a point"},
		{"EC coordinate over the field", &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).Lsh(big.NewInt(1), 256), Y: ek.Y}, "not a point"},
		{"EC P-224", &p224.PublicKey, "P-224"},
		{"nil EC", (*ecdsa.PublicKey)(nil), "empty"},
		{"Ed25519 31 bytes", ed25519.PublicKey(make([]byte, 31)), "31 bytes"},
		{"Ed25519 private key", testKeys()[EdDSA], "unsupported key type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := AlgorithmFor(tt.pub)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("AlgorithmFor: %v, want an error saying %q", err, tt.want)
			}
			if _, err := Thumbprint(tt.pub); err == nil {
				t.Fatal("Thumbprint of a refused key")
			}
		})
	}
}
