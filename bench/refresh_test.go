package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
)

// BenchmarkRedisRefresh/<alg>/<case> is Issuer.Refresh on redisstore
// (REDIS_URL) beside its floor, in one run: "refresh" is the whole call
// (parse the refresh token, one rotation script, seal the successor, sign
// the access token); "sign+GET" is a bare signature of an access token's
// signing input with the same key followed by one GET on the same client:
// what any refresh that signs a token and reads the store once costs.
func BenchmarkRedisRefresh(b *testing.B) {
	for _, alg := range algs {
		b.Run(string(alg), func(b *testing.B) {
			client, st, key := redisFixture(b, alg)
			iss, err := sessionkit.New(sessionkit.Config{
				Issuer: issuerID, Audience: []string{audience}, Keys: sessionkit.NewKeySet(key), Store: st,
			})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			toks, err := iss.Login(ctx, sessionkit.Grant{Subject: subject, Scope: scope})
			if err != nil {
				b.Fatal(err)
			}
			b.Run("refresh", func(b *testing.B) {
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
			b.Run("sign+GET", func(b *testing.B) {
				sign := bareSigner(b, key)
				input := []byte(toks.AccessToken[:strings.LastIndexByte(toks.AccessToken, '.')])
				b.ReportAllocs()
				for b.Loop() {
					if err := sign(input); err != nil {
						b.Fatal(err)
					}
					if err := client.Get(ctx, "skbench:get").Err(); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// bareSigner signs with key's private key straight through the standard
// library, as a JWS of its algorithm would.
func bareSigner(b *testing.B, key *sessionkit.SigningKey) func([]byte) error {
	p, err := key.MarshalPEM()
	if err != nil {
		b.Fatal(err)
	}
	blk, _ := pem.Decode(p)
	priv, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		b.Fatal(err)
	}
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		return func(in []byte) error {
			d := sha256.Sum256(in)
			_, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, d[:])
			return err
		}
	case *ecdsa.PrivateKey:
		return func(in []byte) error {
			d := sha256.Sum256(in)
			_, _, err := ecdsa.Sign(rand.Reader, k, d[:])
			return err
		}
	case ed25519.PrivateKey:
		return func(in []byte) error {
			ed25519.Sign(k, in)
			return nil
		}
	}
	b.Fatalf("unexpected key type %T", priv)
	return nil
}
