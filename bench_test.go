package sessionkit

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// The benchmarks behind BENCHMARKS.md. Each Verify/Login/Refresh benchmark
// has a bare-crypto counterpart (BenchmarkFloor...) over the same signing
// input, so the ratio of the two is what sessionkit adds.

var benchAlgs = []Algorithm{RS256, ES256, EdDSA}

func benchIssuer(b *testing.B, alg Algorithm, skipRevocation bool) (*Issuer, *Tokens) {
	b.Helper()
	iss, _ := newTestIssuer(b, func(c *Config) {
		c.Keys = NewKeySet(testKey(b, alg, 0))
		c.SkipRevocationCheck = skipRevocation
	})
	return iss, login(b, iss, "user-1234567890")
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range benchAlgs {
		for _, mode := range []struct {
			name string
			skip bool
		}{{"stateless", true}, {"revocation", false}} {
			b.Run(string(alg)+"/"+mode.name, func(b *testing.B) {
				iss, toks := benchIssuer(b, alg, mode.skip)
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := iss.Verify(ctx, toks.AccessToken); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkFloorVerify is the bare crypto cost of verifying an access token:
// SHA-256 of the signing input (for RS256 and ES256) and the signature check,
// with the signature already decoded.
func BenchmarkFloorVerify(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(string(alg), func(b *testing.B) {
			_, toks := benchIssuer(b, alg, true)
			i := strings.LastIndexByte(toks.AccessToken, '.')
			input := []byte(toks.AccessToken[:i])
			sig, err := b64.DecodeString(toks.AccessToken[i+1:])
			if err != nil {
				b.Fatal(err)
			}
			pub := testKey(b, alg, 0).Public()
			b.ReportAllocs()
			switch alg {
			case RS256:
				for b.Loop() {
					d := sha256.Sum256(input)
					if err := rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, d[:], sig); err != nil {
						b.Fatal(err)
					}
				}
			case ES256:
				for b.Loop() {
					d := sha256.Sum256(input)
					r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
					if !ecdsa.Verify(pub.(*ecdsa.PublicKey), d[:], r, s) {
						b.Fatal("bad signature")
					}
				}
			case EdDSA:
				for b.Loop() {
					if !ed25519.Verify(pub.(ed25519.PublicKey), input, sig) {
						b.Fatal("bad signature")
					}
				}
			}
		})
	}
}

// BenchmarkFloorSign is the bare crypto cost of signing an access token's
// signing input.
func BenchmarkFloorSign(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(string(alg), func(b *testing.B) {
			_, toks := benchIssuer(b, alg, true)
			input := []byte(toks.AccessToken[:strings.LastIndexByte(toks.AccessToken, '.')])
			k := testKey(b, alg, 0)
			b.ReportAllocs()
			switch alg {
			case RS256:
				priv := k.priv.(*rsa.PrivateKey)
				for b.Loop() {
					d := sha256.Sum256(input)
					if _, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, d[:]); err != nil {
						b.Fatal(err)
					}
				}
			case ES256:
				priv := k.priv.(*ecdsa.PrivateKey)
				for b.Loop() {
					d := sha256.Sum256(input)
					if _, _, err := ecdsa.Sign(rand.Reader, priv, d[:]); err != nil {
						b.Fatal(err)
					}
				}
			case EdDSA:
				priv := k.priv.(ed25519.PrivateKey)
				for b.Loop() {
					ed25519.Sign(priv, input)
				}
			}
		})
	}
}

func BenchmarkLogin(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(string(alg), func(b *testing.B) {
			iss, _ := benchIssuer(b, alg, false)
			ctx := context.Background()
			g := Grant{Subject: "user-1234567890", Scope: "read write", Device: Device{UserAgent: "bench", IP: "192.0.2.1"}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := iss.Login(ctx, g); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRefresh(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(string(alg), func(b *testing.B) {
			iss, toks := benchIssuer(b, alg, false)
			ctx := context.Background()
			rt := toks.RefreshToken
			b.ReportAllocs()
			for b.Loop() {
				next, err := iss.Refresh(ctx, rt)
				if err != nil {
					b.Fatal(err)
				}
				rt = next.RefreshToken
			}
		})
	}
}

// BenchmarkMemstoreRotate is one store rotation on the memory store.
func BenchmarkMemstoreRotate(b *testing.B) {
	st := memstore.New()
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	secret := sha256.Sum256([]byte("secret-0"))
	created, err := st.Create(ctx, store.NewSession{
		Session: store.Session{ID: "bench-session-0000000", Subject: "user-1", CreatedAt: now, LastUsedAt: now,
			IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(24 * time.Hour), Generation: 1},
		Hash: secret,
	})
	if err != nil {
		b.Fatal(err)
	}
	handle, cur := created.Handle, secret
	sealed := make([]byte, successorSealedBytes)
	var n uint64
	b.ReportAllocs()
	for b.Loop() {
		n++
		next := sha256.Sum256(cur[:])
		res, err := st.Rotate(ctx, store.Rotation{Handle: handle, Presented: cur, Next: next, Sealed: sealed,
			Now: now, Grace: 10 * time.Second, IdleExpiresAt: now.Add(time.Hour)})
		if err != nil || res.Outcome != store.Rotated {
			b.Fatalf("rotate %d: %v %v", n, res.Outcome, err)
		}
		handle, cur = res.Handle, next
	}
}

// BenchmarkPeerGoJose is the same work through go-jose v4 (already a test
// dependency, the reference of the differential fuzz targets):
// jwt.ParseSigned plus Claims for verify, jose.NewSigner plus jwt.Signed
// for sign. It shows why the hot path has its own codec.
func BenchmarkPeerGoJose(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run("verify/"+string(alg), func(b *testing.B) {
			_, toks := benchIssuer(b, alg, true)
			pub := testKey(b, alg, 0).Public()
			algs := []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)}
			b.ReportAllocs()
			for b.Loop() {
				tok, err := jwt.ParseSigned(toks.AccessToken, algs)
				if err != nil {
					b.Fatal(err)
				}
				var c jwt.Claims
				var extra map[string]any
				if err := tok.Claims(pub, &c, &extra); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("sign/"+string(alg), func(b *testing.B) {
			k := testKey(b, alg, 0)
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: k.priv},
				(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", k.KeyID()))
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			claims := jwt.Claims{Issuer: testIssuer, Subject: "user-1234567890", Audience: jwt.Audience{testAudience},
				Expiry: jwt.NewNumericDate(now.Add(15 * time.Minute)), IssuedAt: jwt.NewNumericDate(now),
				NotBefore: jwt.NewNumericDate(now), ID: "0123456789abcdefghijkl"}
			extra := map[string]any{"sid": "0123456789abcdefghijkl", "ver": 0, "scope": "read write"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := jwt.Signed(signer).Claims(claims).Claims(extra).Serialize(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
