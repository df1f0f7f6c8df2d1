package sessionkit

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"log/slog"
	"math/big"
	"strings"
	"testing"
)

// jwkWith returns k's public JWK with extra members appended.
func jwkWith(k *SigningKey, extra string) string {
	j := string(k.jwk)
	if extra == "" {
		return j
	}
	return j[:len(j)-1] + "," + extra + "}"
}

// jwkSet replaces the string value of member name in a JWK.
func jwkSet(t *testing.T, jwk, name, val string) string {
	t.Helper()
	i := strings.Index(jwk, `"`+name+`":"`)
	if i < 0 {
		t.Fatalf("no %s in %s", name, jwk)
	}
	j := i + len(name) + 4
	return jwk[:j] + val + jwk[j+strings.IndexByte(jwk[j:], '"'):]
}

// weakKeys are public keys that must never be registered: RSA exponents
// that make signatures forgeable or unverifiable, an even modulus, an EC
// point off the curve.
func weakKeys(t *testing.T) map[string]crypto.PublicKey {
	t.Helper()
	rk := testKey(t, RS256, 0).Public().(*rsa.PublicKey)
	ek := testKey(t, ES256, 0).Public().(*ecdsa.PublicKey)
	return map[string]crypto.PublicKey{
		"RSA e=1":          &rsa.PublicKey{N: rk.N, E: 1},
		"RSA e=2":          &rsa.PublicKey{N: rk.N, E: 2},
		"RSA e even":       &rsa.PublicKey{N: rk.N, E: 65536},
		"RSA modulus even": &rsa.PublicKey{N: new(big.Int).Add(rk.N, big.NewInt(1)), E: 65537},
		"EC off the curve": &ecdsa.PublicKey{Curve: elliptic.P256(), X: ek.X, Y: new(big.Int).Add(ek.Y, big.NewInt(1))},
	}
}

// TestNewClientKeyRefusesWeakKeys: weak parameters are refused when the
// key is registered, not first when a signature fails to verify (e=1 was
// accepted).
func TestNewClientKeyRefusesWeakKeys(t *testing.T) {
	t.Parallel()
	for name, pub := range weakKeys(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := NewClientKey(pub, ""); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("NewClientKey: %v, want ErrInvalidConfig", err)
			}
			if _, err := NewClientKey(pub, "kid"); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("NewClientKey with a kid: %v, want ErrInvalidConfig", err)
			}
		})
	}
}

// TestParseClientKeyStrict: a JWK client key is read as strictly as a
// token: exact names, no duplicates, canonical base64url, no private
// members, no weak parameters, for signatures only.
func TestParseClientKeyStrict(t *testing.T) {
	t.Parallel()
	rk, ek, dk := testKey(t, RS256, 1), testKey(t, ES256, 1), testKey(t, EdDSA, 1)
	rsaJWK := string(rk.jwk)
	n := rsaJWK[strings.Index(rsaJWK, `"n":"`)+5:]
	n = n[:strings.IndexByte(n, '"')]
	tests := []struct {
		name string
		jwk  string
		ok   bool
	}{
		{"RSA", rsaJWK, true},
		{"EC", string(ek.jwk), true},
		{"Ed25519", string(dk.jwk), true},
		{"unknown members ignored", jwkWith(rk, `"x5c":["whatever"],"ext":true`), true},
		{"use enc, USE sig", jwkSet(t, jwkWith(rk, `"USE":"sig"`), "use", "enc"), false},
		{"duplicate use", jwkWith(rk, `"use":"sig"`), false},
		{"duplicate kid, escaped", jwkWith(rk, `"\u006bid":"other"`), false},
		{"duplicate deep down", jwkWith(rk, `"ext":{"a":1,"a":2}`), false},
		{"key_ops without verify", jwkWith(rk, `"key_ops":["sign"]`), false},
		{"private exponent", jwkWith(rk, `"d":"AQAB"`), false},
		{"private prime", jwkWith(rk, `"p":"AQAB"`), false},
		{"private oth", jwkWith(rk, `"oth":[]`), false},
		{"EC private key", jwkWith(ek, `"d":"AQAB"`), false},
		{"symmetric", `{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}`, false},
		{"e=1", jwkSet(t, rsaJWK, "e", "AQ"), false},
		{"e=3 accepted", jwkSet(t, strings.Replace(rsaJWK, `"kid":"`+rk.KeyID()+`",`, "", 1), "e", "Aw"), true},
		{"e even", jwkSet(t, rsaJWK, "e", "AQAA"), false},
		{"n padded", jwkSet(t, rsaJWK, "n", n+"=="), false},
		{"n with an escaped newline", jwkSet(t, rsaJWK, "n", n[:8]+`\n`+n[8:]), false},
		{"n in the standard alphabet", jwkSet(t, rsaJWK, "n", strings.NewReplacer("-", "+", "_", "/").Replace(n)+"+"), false},
		{"kid not a string", strings.Replace(rsaJWK, `"kid":"`+rk.KeyID()+`"`, `"kid":7`, 1), false},
		{"invalid UTF-8", jwkWith(rk, "\"note\":\"\xff\""), false},
		{"trailing bytes", rsaJWK + " x", false},
		{"kty in another case", strings.Replace(rsaJWK, `"kty":"RSA"`, `"kty":"rsa"`, 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := ParseClientKey([]byte(tt.jwk))
			if tt.ok {
				if err != nil || k.pub == nil {
					t.Fatalf("ParseClientKey: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("ParseClientKey accepted %s (%v)", tt.jwk, err)
			}
		})
	}
	// The kid comes from the JWK, or is the thumbprint without one.
	k, err := ParseClientKey([]byte(jwkSet(t, strings.Replace(rsaJWK, `"kid":"`+rk.KeyID()+`",`, "", 1), "e", "Aw")))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := NewClientKey(&rsa.PublicKey{N: rk.Public().(*rsa.PublicKey).N, E: 3}, "")
	if k.KeyID() != want.KeyID() {
		t.Fatalf("kid %q, want the thumbprint %q", k.KeyID(), want.KeyID())
	}
}

// TestParseJWKSStrict: the JWKS reader applies the same rules; a key whose
// use is enc is never kept for signatures whatever a differently cased
// member says, a document with duplicate members is refused whole, a weak
// key is skipped with a log line.
func TestParseJWKSStrict(t *testing.T) {
	t.Parallel()
	good, other := testKey(t, RS256, 0), testKey(t, RS256, 1)
	allow := algBit(RS256) | algBit(ES256) | algBit(EdDSA)
	weak := jwkSet(t, string(other.jwk), "e", "AQ")
	tests := []struct {
		name     string
		doc      string
		wantKids []string // nil: the document is refused
		log      string
	}{
		{"good", `{"keys":[` + string(good.jwk) + `]}`, []string{good.KeyID()}, ""},
		{"use enc, USE sig", `{"keys":[` + string(good.jwk) + `,` + jwkSet(t, jwkWith(other, `"USE":"sig"`), "use", "enc") + `]}`,
			[]string{good.KeyID()}, `use \"enc\" is not sig`},
		{"e=1", `{"keys":[` + string(good.jwk) + `,` + weak + `]}`, []string{good.KeyID()}, "too small"},
		{"private member", `{"keys":[` + string(good.jwk) + `,` + jwkWith(other, `"d":"AQAB"`) + `]}`, []string{good.KeyID()}, "private key material"},
		{"duplicate member in a key", `{"keys":[` + jwkWith(good, `"alg":"RS256"`) + `]}`, nil, ""},
		{"duplicate keys member", `{"keys":[],"keys":[` + string(good.jwk) + `]}`, nil, ""},
		{"KEYS", `{"KEYS":[` + string(good.jwk) + `]}`, nil, ""},
		{"invalid UTF-8", "{\"keys\":[" + string(good.jwk) + "],\"x\":\"\xff\"}", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var log bytes.Buffer
			keys, err := parseJWKS(context.Background(), []byte(tt.doc), allow, slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug})), "test")
			if tt.wantKids == nil {
				if err == nil {
					t.Fatalf("document accepted with %d keys", len(keys))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kids []string
			for _, k := range keys {
				kids = append(kids, k.KID())
			}
			if strings.Join(kids, " ") != strings.Join(tt.wantKids, " ") {
				t.Fatalf("kept %q, want %q", kids, tt.wantKids)
			}
			if !strings.Contains(log.String(), tt.log) {
				t.Fatalf("log lacks %q:\n%s", tt.log, log.String())
			}
		})
	}
}
