package sessionkit

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/internal/jose"
)

// FuzzVerify feeds arbitrary strings to the access-token path. It must never
// panic, and it may only accept a token the issuer really signed.
func FuzzVerify(f *testing.F) {
	iss, _ := newTestIssuer(f, func(c *Config) { c.SkipRevocationCheck = true })
	toks := login(f, iss, "u1")
	parts := strings.Split(toks.AccessToken, ".")
	f.Add(toks.AccessToken)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(parts[0] + ".e30." + parts[2])
	f.Add(`{"payload":"` + parts[1] + `"}`)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(toks.RefreshToken)
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := iss.Verify(context.Background(), tok)
		if err != nil {
			if c != nil {
				t.Fatal("claims returned with an error")
			}
			return
		}
		// Only our own signature can verify: the signing input must be
		// byte-identical to one we produced, so the claims are ours.
		if c.Issuer != testIssuer || c.Subject != "u1" {
			t.Fatalf("accepted a token with foreign claims: %+v", c)
		}
	})
}

// FuzzParseHeaderAndClaims drives the header and claims readers directly:
// no panics, and whatever they accept encoding/json accepts too. (The
// reader itself is fuzzed against encoding/json in internal/jose.)
func FuzzParseHeaderAndClaims(f *testing.F) {
	f.Add([]byte(`{"alg":"RS256","kid":"k","typ":"at+jwt"}`))
	f.Add([]byte(`{"iss":"a","aud":["x","y"],"exp":1e3,"iat":1,"ver":2,"x":{"y":[1,{"z":null}]}}`))
	f.Add([]byte(`{"a":"\ud83d\ude00\u00e9\n"}`))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		jws, err := jose.Split(b64.EncodeToString(data)+".e30.AA", 1<<20)
		if err == nil {
			if _, err := jws.Header(); err == nil && !json.Valid(data) {
				t.Fatalf("the header reader accepted invalid JSON %q", data)
			}
		}
		c, err := parseClaims(string(data))
		if err != nil {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("parseClaims accepted what encoding/json refuses: %v", err)
		}
		if iss, _ := m["iss"].(string); iss != c.Issuer {
			t.Fatalf("iss decoded as %q, encoding/json says %q", c.Issuer, iss)
		}
	})
}

// FuzzRefresh feeds arbitrary strings to the refresh-token path: it must
// never panic, and garbage must never rotate or revoke the real session.
func FuzzRefresh(f *testing.F) {
	iss, _ := newTestIssuer(f, func(c *Config) { c.ReuseGrace = -1 })
	toks := login(f, iss, "u1")
	f.Add(toks.RefreshToken)
	f.Add("skr1.")
	f.Add("skr1.a~b~1." + strings.Repeat("A", 43))
	f.Add(toks.RefreshToken[:len(toks.RefreshToken)-1] + "B")
	f.Add(strings.Replace(toks.RefreshToken, "~1.", "~2.", 1))
	f.Fuzz(func(t *testing.T, tok string) {
		handle, secret, err := parseRefreshToken(tok)
		if err == nil {
			if again := refreshPrefix + handle + "." + b64.EncodeToString(secret[:]); again != tok {
				t.Fatalf("parse is not canonical: %q -> %q", tok, again)
			}
		}
		if tok == toks.RefreshToken {
			return
		}
		if _, err := iss.Refresh(context.Background(), tok); err == nil {
			t.Fatalf("a token we never issued refreshed")
		}
		if err := iss.Logout(context.Background(), tok); err == nil {
			t.Fatalf("a token we never issued logged out")
		}
	})
}

// FuzzParseJWKS feeds arbitrary documents to the JWKS reader: no panics,
// and every key it keeps is an allowed asymmetric key with a kid, never a
// shared secret.
func FuzzParseJWKS(f *testing.F) {
	f.Add(string(NewKeySet(testKey(f, RS256, 0)).load().jwks))
	f.Add(string(NewKeySet(testKey(f, ES256, 0)).load().jwks))
	f.Add(string(NewKeySet(testKey(f, EdDSA, 0)).load().jwks))
	f.Add(`{"keys":[{"kty":"oct","kid":"a","k":"c2VjcmV0"}]}`)
	f.Add(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"AA"}]}`)
	f.Add(`{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"AA","y":"AA"}]}`)
	f.Add(`{"keys":null}`)
	f.Add(`[]`)
	for _, c := range []elliptic.Curve{elliptic.P384(), elliptic.P521()} {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			f.Fatal(err)
		}
		jk, err := jose.NewKey(jose.Algorithm(curveAlg(c)), "", &k.PublicKey)
		if err != nil {
			f.Fatal(err)
		}
		jwk, _ := jose.MarshalJWK(jk)
		f.Add(`{"keys":[` + string(jwk) + `]}`)
	}
	psKey, err := jose.NewKey(jose.PS256, "ps", testKey(f, RS256, 0).Public())
	if err != nil {
		f.Fatal(err)
	}
	ps, _ := jose.MarshalJWK(psKey)
	f.Add(`{"keys":[` + string(ps) + `]}`)
	var allow algSet // every algorithm, the curves and PS* included
	for _, a := range knownAlgorithms {
		allow |= algBit(a)
	}
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, doc string) {
		keys, err := parseJWKS(context.Background(), []byte(doc), allow, log, "fuzz")
		if err != nil {
			if keys != nil {
				t.Fatal("keys returned with an error")
			}
			return
		}
		for _, k := range keys {
			alg := Algorithm(k.Algorithm())
			if k.KID() == "" || k.IsHMAC() || k.Public() == nil || isHMAC(alg) || !allow.has(alg) {
				t.Fatalf("unusable key kept: alg %s kid %q", alg, k.KID())
			}
			if def, err := jose.AlgorithmFor(k.Public()); err != nil || !jose.Fits(jose.Algorithm(alg), def) {
				t.Fatalf("key of alg %s does not suit it: %v", alg, err)
			}
		}
	})
}

// FuzzPeekIssuer: reading iss before verification never panics and only
// answers a non-empty string.
func FuzzPeekIssuer(f *testing.F) {
	iss, _ := newTestIssuer(f, nil)
	f.Add(login(f, iss, "u1").AccessToken)
	f.Add("a.eyJpc3MiOjF9.c")
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		s, err := peekIssuer(tok, DefaultMaxTokenSize)
		if (err == nil) == (s == "") {
			t.Fatalf("peekIssuer = %q, %v", s, err)
		}
	})
}

// FuzzTokenEndpointAssertion feeds arbitrary assertions to the jwt-bearer
// grant: never a panic, never a token for anything but the one valid
// assertion the corpus starts from.
func FuzzTokenEndpointAssertion(f *testing.F) {
	fx := newOAuthFixture(f, true)
	valid := fx.assertion(f, "svc-ed", nil)
	f.Add(valid)
	f.Add(fx.assertion(f, "svc-rsa", func(c, _ map[string]any) { c["sub"] = "user-x" }))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, a string) {
		va, oerr := fx.iss.verifyAssertion(context.Background(), fx.clients, a, useGrant)
		if oerr == nil && a != valid && !strings.HasPrefix(va.subject, "user-") {
			t.Fatalf("accepted a forged assertion for %q", va.subject)
		}
		if oerr != nil && strings.Contains(oerr.desc, a) && len(a) > 8 {
			t.Fatal("the error echoes the assertion")
		}
	})
}

// FuzzParseClientKey: no panics, and only asymmetric public keys come out.
func FuzzParseClientKey(f *testing.F) {
	f.Add(testKey(f, EdDSA, 0).jwk)
	f.Add(testKey(f, RS256, 0).jwk)
	f.Add([]byte(`{"kty":"oct","k":"AAAA"}`))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseClientKey(data)
		if err != nil {
			return
		}
		if k.pub == nil || k.pub.IsHMAC() || isHMAC(k.Algorithm()) {
			t.Fatalf("unusable key accepted: %+v", k)
		}
	})
}

func curveAlg(c elliptic.Curve) Algorithm {
	if c == elliptic.P384() {
		return ES384
	}
	return ES512
}
