package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"math/big"
	"strings"
	"testing"
)

// jwkOf returns the public JWK of the cached key of alg.
func jwkOf(t testing.TB, alg Algorithm) string {
	t.Helper()
	_, k := testKey(t, alg)
	b, err := MarshalJWK(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseJWKRoundTrip(t *testing.T) {
	t.Parallel()
	for _, alg := range []Algorithm{RS256, ES256, EdDSA} {
		_, k := testKey(t, alg)
		jwk, err := ParseJWK(jwkOf(t, alg))
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if jwk.KID != k.KID() || jwk.Alg != string(alg) || !jwk.HasAlg || jwk.ForSignatures() != nil {
			t.Fatalf("%s: %+v", alg, jwk)
		}
		pub, err := jwk.PublicKey()
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if !pub.(interface{ Equal(x crypto.PublicKey) bool }).Equal(k.Public()) {
			t.Fatalf("%s: another key came back", alg)
		}
	}
}

func TestParseJWKRefuses(t *testing.T) {
	t.Parallel()
	rsaJWK, ecJWK, edJWK := jwkOf(t, RS256), jwkOf(t, ES256), jwkOf(t, EdDSA)
	with := func(jwk, extra string) string { return jwk[:len(jwk)-1] + "," + extra + "}" }
	// set replaces the value of member name in jwk.
	set := func(jwk, name, val string) string {
		i := strings.Index(jwk, `"`+name+`":"`)
		if i < 0 {
			t.Fatalf("no %s in %s", name, jwk)
		}
		j := i + len(name) + 4
		k := j + strings.IndexByte(jwk[j:], '"')
		return jwk[:j] + val + jwk[k:]
	}
	param := func(jwk, name string) string {
		i := strings.Index(jwk, `"`+name+`":"`) + len(name) + 4
		return jwk[i : i+strings.IndexByte(jwk[i:], '"')]
	}
	rk := testKeys()[RS256].(*rsa.PrivateKey)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ek := testKeys()[ES256].(*ecdsa.PrivateKey)
	var y [32]byte
	new(big.Int).Add(ek.Y, big.NewInt(1)).FillBytes(y[:])
	flip := func(s string) string { // non-canonical: the unused low bits set
		last := strings.IndexByte(alphabet, s[len(s)-1])
		return s[:len(s)-1] + string(alphabet[last|1])
	}
	tests := []struct {
		name, jwk string
		stage     string // "parse", "use" or "key": where it must fail
		reason    string
	}{
		{"duplicate member", with(rsaJWK, `"kid":"x"`), "parse", "duplicate"},
		{"duplicate deep down", with(rsaJWK, `"ext":{"a":[{"b":1,"b":2}]}`), "parse", "duplicate"},
		{"invalid UTF-8", with(rsaJWK, "\"note\":\"\xff\""), "parse", "malformed"},
		{"not an object", `["RSA"]`, "parse", "not a JSON object"},
		{"trailing bytes", rsaJWK + "x", "parse", "trailing"},
		{"kid not a string", with(strings.Replace(rsaJWK, `"kid":`, `"x":`, 1), `"kid":1`), "parse", "kid is not a string"},
		{"use null", with(strings.Replace(rsaJWK, `"use":"sig",`, ``, 1), `"use":null`), "parse", "use is not a string"},
		{"n a number", strings.Replace(rsaJWK, `"n":"`+param(rsaJWK, "n")+`"`, `"n":1`, 1), "parse", "n is not a string"},
		{"key_ops a string", with(rsaJWK, `"key_ops":"verify"`), "parse", "key_ops is not an array"},
		{"use enc, USE sig", with(set(rsaJWK, "use", "enc"), `"USE":"sig"`), "use", `use "enc" is not sig`},
		{"use empty", set(rsaJWK, "use", ""), "use", `use "" is not sig`},
		{"key_ops without verify", with(rsaJWK, `"key_ops":["sign","encrypt"]`), "use", "key_ops"},
		{"key_ops empty", with(rsaJWK, `"key_ops":[]`), "use", "key_ops"},
		{"private d", with(rsaJWK, `"d":"AQAB"`), "key", "private key material (member d)"},
		{"private p", with(rsaJWK, `"p":"AQAB"`), "key", "member p"},
		{"private q", with(rsaJWK, `"q":"AQAB"`), "key", "member q"},
		{"private dp", with(rsaJWK, `"dp":"AQAB"`), "key", "member dp"},
		{"private dq", with(rsaJWK, `"dq":"AQAB"`), "key", "member dq"},
		{"private qi", with(rsaJWK, `"qi":"AQAB"`), "key", "member qi"},
		{"private oth", with(rsaJWK, `"oth":[]`), "key", "member oth"},
		{"private k", with(rsaJWK, `"k":"AQAB"`), "key", "member k"},
		{"private d of EC", with(ecJWK, `"d":null`), "key", "member d"},
		{"private d of OKP", with(edJWK, `"d":"AA"`), "key", "member d"},
		{"symmetric", `{"kty":"oct","k":"c2VjcmV0"}`, "key", "member k"},
		{"symmetric without k", `{"kty":"oct","kid":"a"}`, "key", "symmetric"},
		{"kty missing", `{"n":"AQAB","e":"AQAB"}`, "key", "kty missing"},
		{"kty unknown", `{"kty":"XYZ"}`, "key", "kty XYZ"},
		{"kty in another case", strings.Replace(rsaJWK, `"kty":"RSA"`, `"kty":"rsa"`, 1), "key", "kty rsa"},
		{"n missing", strings.Replace(rsaJWK, `"n":`, `"N":`, 1), "key", "n missing"},
		{"e missing", strings.Replace(rsaJWK, `"e":`, `"E":`, 1), "key", "e missing"},
		{"n empty", set(rsaJWK, "n", ""), "key", "n missing"},
		{"n not canonical", set(rsaJWK, "n", flip(param(rsaJWK, "n"))), "key", "n is not canonical"},
		{"n padded", set(rsaJWK, "n", param(rsaJWK, "n")+"=="), "key", "n is not canonical"},
		{"n with a newline", set(rsaJWK, "n", param(rsaJWK, "n")[:10]+`\n`+param(rsaJWK, "n")[10:]), "key", "n is not canonical"},
		{"n standard alphabet", set(rsaJWK, "n", strings.NewReplacer("-", "+", "_", "/").Replace(param(rsaJWK, "n"))+"+"), "key", "n is not canonical"},
		{"e=1", set(rsaJWK, "e", "AQ"), "key", "too small"},
		{"e=2", set(rsaJWK, "e", "Ag"), "key", "too small"},
		{"e=0", set(rsaJWK, "e", "AA"), "key", "too small"},
		{"e even", set(rsaJWK, "e", "AQAA"), "key", "even"},
		{"e of five bytes", set(rsaJWK, "e", "AQAAAAE"), "key", "larger than 2^31-1"},
		{"e of 2^31+1", set(rsaJWK, "e", b64.EncodeToString([]byte{0x80, 0, 0, 1})), "key", "larger than 2^31-1"},
		{"n even", set(rsaJWK, "n", b64.EncodeToString(new(big.Int).Add(rk.N, big.NewInt(1)).Bytes())), "key", "even"},
		{"RSA 1024 bits", set(rsaJWK, "n", b64.EncodeToString(small.N.Bytes())), "key", "at least 2048"},
		{"RSA 4104 bits", set(rsaJWK, "n", b64.EncodeToString(append([]byte{1}, make([]byte, 512)...))), "key", "at most 4096"},
		{"EC off the curve", set(ecJWK, "y", b64.EncodeToString(y[:])), "key", "not a point on P-256"},
		{"EC short x", set(ecJWK, "x", b64.EncodeToString(make([]byte, 31))), "key", "x has 31 bytes"},
		{"EC long y", set(ecJWK, "y", b64.EncodeToString(make([]byte, 33))), "key", "y has 33 bytes"},
		{"EC y missing", strings.Replace(ecJWK, `"y":`, `"Y":`, 1), "key", "y missing"},
		{"EC P-224", set(ecJWK, "crv", "P-224"), "key", "P-224"},
		{"EC P-384 with P-256 coordinates", set(ecJWK, "crv", "P-384"), "key", "x has 32 bytes; want 48"},
		{"EC crv missing", strings.Replace(ecJWK, `"crv":`, `"CRV":`, 1), "key", `curve ""`},
		{"OKP X25519", set(edJWK, "crv", "X25519"), "key", "X25519"},
		{"OKP short x", set(edJWK, "x", b64.EncodeToString(make([]byte, 31))), "key", "x has 31 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			jwk, err := ParseJWK(tt.jwk)
			stage := "parse"
			if err == nil {
				stage = "use"
				err = jwk.ForSignatures()
			}
			if err == nil {
				stage = "key"
				_, err = jwk.PublicKey()
			}
			if err == nil || stage != tt.stage || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("%s: refused at %s with %v; want at %s saying %q", tt.jwk, stage, err, tt.stage, tt.reason)
			}
		})
	}
}

func TestParseJWKAccepts(t *testing.T) {
	t.Parallel()
	rsaJWK := jwkOf(t, RS256)
	with := func(jwk, extra string) string { return jwk[:len(jwk)-1] + "," + extra + "}" }
	rk := testKeys()[RS256].(*rsa.PrivateKey)
	for name, jwk := range map[string]string{
		"unknown members":          with(rsaJWK, `"ext":true,"x5c":["not even base64"],"x5t":1,"USE":"enc","D":"x"`),
		"key_ops with verify":      with(rsaJWK, `"key_ops":["verify","sign"]`),
		"no use, no alg, no kid":   fmt.Sprintf(`{"kty":"RSA","n":%q,"e":"AQAB"}`, b64.EncodeToString(rk.N.Bytes())),
		"leading zeros in n and e": fmt.Sprintf(`{"kty":"RSA","n":%q,"e":"AAEAAQ"}`, b64.EncodeToString(append([]byte{0}, rk.N.Bytes()...))),
		"escaped member names":     strings.Replace(rsaJWK, `"kty":`, `"\u006bty":`, 1),
	} {
		j, err := ParseJWK(jwk)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := j.ForSignatures(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		pub, err := j.PublicKey()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !pub.(*rsa.PublicKey).Equal(&rk.PublicKey) {
			t.Fatalf("%s: another key", name)
		}
	}
}

func TestParseJWKSet(t *testing.T) {
	t.Parallel()
	ok := fmt.Sprintf(`{"keys":[%s, "x" ,{},%s],"other":{"keys":1}}`, jwkOf(t, RS256), jwkOf(t, EdDSA))
	keys, err := ParseJWKSet(ok)
	if err != nil || len(keys) != 4 || keys[1] != `"x"` || keys[2] != `{}` || keys[0] != jwkOf(t, RS256) {
		t.Fatalf("ParseJWKSet: %q %v", keys, err)
	}
	if keys, err := ParseJWKSet(`{"keys":[]}`); err != nil || len(keys) != 0 {
		t.Fatalf("empty set: %q %v", keys, err)
	}
	for doc, want := range map[string]string{
		`{"kees":[]}`:                    `no "keys"`,
		`{"keys":null}`:                  `"keys" is not an array`,
		`{"keys":[],"keys":[]}`:          "duplicate",
		`{"keys":[{"kty":"a","kty":1}]}`: "duplicate",
		`<html>`:                         "not a JSON object",
		`{"keys":[]} trailing`:           "trailing",
	} {
		if _, err := ParseJWKSet(doc); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseJWKSet(%s): %v, want %q", doc, err, want)
		}
	}
}

// alphabet is the base64url alphabet in value order.
const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
