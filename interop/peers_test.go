package interop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gojose "github.com/go-jose/go-jose/v4"
	gojosejwt "github.com/go-jose/go-jose/v4/jwt"
	gjwt "github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	jwxjwt "github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/sessionkit/sessionkit"
)

// This file plays issuers built on the common Go JWT libraries: each makes
// its keys, publishes them as a JWKS with its own encoder (golang-jwt has
// none: there the JWKS is written by hand, as its users do or with a
// helper library), and signs access tokens with the header it writes by
// default.

// peerIssuer is the URL the Go peers put in iss.
const peerIssuer = "https://svc.interop.test"

// peerKey is a signing key of a peer issuer.
type peerKey struct {
	alg  sessionkit.Algorithm
	kid  string
	priv crypto.Signer
}

// newPeerKey makes a key for alg: RSA 2048 for RS* and PS*, P-256 for
// ES256, Ed25519 for EdDSA.
func newPeerKey(t *testing.T, alg sessionkit.Algorithm, kid string) *peerKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case sessionkit.RS256, sessionkit.PS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case sessionkit.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case sessionkit.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("no key type for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &peerKey{alg: alg, kid: kid, priv: priv}
}

// peerClaims are the access-token claims a peer signs: iss peerIssuer, aud
// audience and scope "read" besides these.
type peerClaims struct {
	sub, jti string
	iat, exp time.Time
}

// goPeer is a Go JWT library in the role of an issuer.
type goPeer struct {
	name string
	// typ is the typ header the library writes by default ("" for none).
	typ string
	// jwks encodes the public halves of keys as a JWK Set.
	jwks func(t *testing.T, keys []*peerKey) []byte
	// sign signs c with k under the library's default header, with k's kid
	// when withKID is set (as a user does who publishes several keys).
	sign func(t *testing.T, k *peerKey, withKID bool, c peerClaims) string
}

var goPeers = []goPeer{
	{
		// golang-jwt v5: jwt.NewWithClaims writes {"alg","typ":"JWT"}; a
		// kid goes in through Token.Header. It has no JWK encoder.
		name: "golang-jwt-v5",
		typ:  "JWT",
		jwks: func(t *testing.T, keys []*peerKey) []byte {
			t.Helper()
			set := struct {
				Keys []map[string]string `json:"keys"`
			}{}
			for _, k := range keys {
				set.Keys = append(set.Keys, handJWK(t, k))
			}
			return mustJSON(t, set)
		},
		sign: func(t *testing.T, k *peerKey, withKID bool, c peerClaims) string {
			t.Helper()
			method := map[sessionkit.Algorithm]gjwt.SigningMethod{
				sessionkit.RS256: gjwt.SigningMethodRS256, sessionkit.PS256: gjwt.SigningMethodPS256,
				sessionkit.ES256: gjwt.SigningMethodES256, sessionkit.EdDSA: gjwt.SigningMethodEdDSA,
			}[k.alg]
			type accessClaims struct {
				Scope string `json:"scope"`
				gjwt.RegisteredClaims
			}
			tok := gjwt.NewWithClaims(method, accessClaims{Scope: "read", RegisteredClaims: gjwt.RegisteredClaims{
				Issuer: peerIssuer, Subject: c.sub, Audience: gjwt.ClaimStrings{audience}, ID: c.jti,
				IssuedAt: gjwt.NewNumericDate(c.iat), ExpiresAt: gjwt.NewNumericDate(c.exp),
			}})
			if withKID {
				tok.Header["kid"] = k.kid
			}
			s, err := tok.SignedString(k.priv)
			if err != nil {
				t.Fatalf("golang-jwt: %v", err)
			}
			return s
		},
	},
	{
		// jwx v3: jwt.Sign writes {"alg","typ":"JWT"}, and the key's kid
		// when it signs with a jwk.Key that has one; jwk.Set encodes the
		// JWKS.
		name: "jwx-v3",
		typ:  "JWT",
		jwks: func(t *testing.T, keys []*peerKey) []byte {
			t.Helper()
			set := jwk.NewSet()
			for _, k := range keys {
				pub, err := jwk.PublicKeyOf(k.priv.Public())
				if err != nil {
					t.Fatalf("jwx: %v", err)
				}
				mustSet(t, pub, jwk.KeyIDKey, k.kid)
				mustSet(t, pub, jwk.AlgorithmKey, jwxAlg(k.alg))
				mustSet(t, pub, jwk.KeyUsageKey, "sig")
				if err := set.AddKey(pub); err != nil {
					t.Fatalf("jwx: %v", err)
				}
			}
			return mustJSON(t, set)
		},
		sign: func(t *testing.T, k *peerKey, withKID bool, c peerClaims) string {
			t.Helper()
			tok, err := jwxjwt.NewBuilder().Issuer(peerIssuer).Subject(c.sub).Audience([]string{audience}).
				JwtID(c.jti).IssuedAt(c.iat).Expiration(c.exp).Claim("scope", "read").Build()
			if err != nil {
				t.Fatalf("jwx: %v", err)
			}
			var key any = k.priv
			if withKID {
				jk, err := jwk.Import(k.priv)
				if err != nil {
					t.Fatalf("jwx: %v", err)
				}
				mustSet(t, jk, jwk.KeyIDKey, k.kid)
				key = jk
			}
			s, err := jwxjwt.Sign(tok, jwxjwt.WithKey(jwxAlg(k.alg), key))
			if err != nil {
				t.Fatalf("jwx: %v", err)
			}
			return string(s)
		},
	},
	{
		// go-jose v4: a Signer without options writes {"alg"} only, and the
		// kid of a JSONWebKey it signs with; JSONWebKeySet encodes the JWKS.
		name: "go-jose-v4",
		typ:  "",
		jwks: func(t *testing.T, keys []*peerKey) []byte {
			t.Helper()
			var set gojose.JSONWebKeySet
			for _, k := range keys {
				set.Keys = append(set.Keys, gojose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
			}
			return mustJSON(t, set)
		},
		sign: func(t *testing.T, k *peerKey, withKID bool, c peerClaims) string {
			t.Helper()
			var key any = k.priv
			if withKID {
				key = gojose.JSONWebKey{Key: k.priv, KeyID: k.kid}
			}
			signer, err := gojose.NewSigner(gojose.SigningKey{Algorithm: gojose.SignatureAlgorithm(k.alg), Key: key}, nil)
			if err != nil {
				t.Fatalf("go-jose: %v", err)
			}
			s, err := gojosejwt.Signed(signer).Claims(gojosejwt.Claims{
				Issuer: peerIssuer, Subject: c.sub, Audience: gojosejwt.Audience{audience}, ID: c.jti,
				IssuedAt: gojosejwt.NewNumericDate(c.iat), Expiry: gojosejwt.NewNumericDate(c.exp),
			}).Claims(map[string]any{"scope": "read"}).Serialize()
			if err != nil {
				t.Fatalf("go-jose: %v", err)
			}
			return s
		},
	},
}

func jwxAlg(a sessionkit.Algorithm) jwa.SignatureAlgorithm {
	return map[sessionkit.Algorithm]jwa.SignatureAlgorithm{
		sessionkit.RS256: jwa.RS256(), sessionkit.PS256: jwa.PS256(), sessionkit.ES256: jwa.ES256(), sessionkit.EdDSA: jwa.EdDSA(),
	}[a]
}

func mustSet(t *testing.T, k jwk.Key, name string, v any) {
	t.Helper()
	if err := k.Set(name, v); err != nil {
		t.Fatalf("jwx: set %s: %v", name, err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// handJWK writes the public JWK of k (RFC 7517, RFC 7518 §6, RFC 8037), as
// a golang-jwt user must.
func handJWK(t *testing.T, k *peerKey) map[string]string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	m := map[string]string{"kid": k.kid, "alg": string(k.alg), "use": "sig"}
	switch pub := k.priv.Public().(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		x, y := make([]byte, 32), make([]byte, 32)
		pub.X.FillBytes(x)
		pub.Y.FillBytes(y)
		m["kty"], m["crv"], m["x"], m["y"] = "EC", "P-256", b64(x), b64(y)
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64(pub)
	default:
		t.Fatalf("no JWK for %T", pub)
	}
	return m
}

// rotatingJWKS serves a peer's JWKS, re-encoded whenever its published
// keys change, with a Cache-Control max-age of one minute.
type rotatingJWKS struct {
	mu   sync.Mutex
	body []byte
}

func (j *rotatingJWKS) publish(t *testing.T, p goPeer, keys ...*peerKey) {
	t.Helper()
	body := p.jwks(t, keys)
	j.mu.Lock()
	j.body = body
	j.mu.Unlock()
}

func (j *rotatingJWKS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	j.mu.Lock()
	body := j.body
	j.mu.Unlock()
	staticJSON(body, "public, max-age=60").ServeHTTP(w, r)
}

// testClock is a clock the test moves by hand.
type testClock struct{ ns atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := new(testClock)
	c.ns.Store(t.UnixNano())
	return c
}

func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// headerOf decodes the JOSE header of a compact JWS.
func headerOf(t *testing.T, token string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.SplitN(token, ".", 2)[0])
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("header: %v", err)
	}
	return h
}

// TestVerifierAcrossPeerRotation: for golang-jwt v5, jwx v3 and go-jose v4
// as the issuer, and RS256, ES256, EdDSA and PS256, a Verifier configured
// as doc.go's "Other issuers" says for such services (TokenTypes "JWT" and
// "", and PS256 in Algorithms) verifies the library's default tokens (typ
// JWT or none; no kid unless the user sets one) against the JWKS the
// library encodes, across a key rotation at the issuer:
//
//  1. one key: tokens with and without kid verify;
//  2. a new key is published and signs: its tokens verify at once, right
//     after the first fetch (the unknown kid triggers a refetch), the old
//     key's still do, and a token without kid is refused, since two keys
//     could have signed it;
//  3. the old key leaves the JWKS: its tokens verify while the cached set
//     is fresh, and fail once it expires (MinCacheTTL, here the response's
//     max-age of a minute) and is fetched again; a token without kid
//     verifies again, one key being left.
//
// The Verifier's clock moves by hand (VerifierConfig.Now), nothing sleeps.
// A Verifier with the default TokenTypes refuses the libraries' tokens.
func TestVerifierAcrossPeerRotation(t *testing.T) {
	t.Parallel()
	epoch := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, p := range goPeers {
		for _, alg := range []sessionkit.Algorithm{sessionkit.RS256, sessionkit.ES256, sessionkit.EdDSA, sessionkit.PS256} {
			t.Run(p.name+"/"+string(alg), func(t *testing.T) {
				t.Parallel()
				ctx := t.Context()
				jwks := new(rotatingJWKS)
				jwksURL, hits := serveLoopback(t, jwks)
				clock := newTestClock(epoch)
				newVerifier := func(types []string) *sessionkit.Verifier {
					t.Helper()
					cfg := sessionkit.VerifierConfig{
						Issuer: peerIssuer, JWKSURL: jwksURL, Audience: []string{audience}, TokenTypes: types,
						MinCacheTTL: time.Minute,
						Now:         clock.Now, HTTPClient: loopbackClient(), InsecureAllowHTTP: true,
					}
					if alg == sessionkit.PS256 {
						cfg.Algorithms = []sessionkit.Algorithm{sessionkit.PS256}
					}
					v, err := sessionkit.NewVerifier(cfg)
					if err != nil {
						t.Fatalf("NewVerifier: %v", err)
					}
					return v
				}
				v := newVerifier([]string{"JWT", ""})
				n := 0
				sign := func(k *peerKey, withKID bool) string {
					t.Helper()
					n++
					now := clock.Now()
					tok := p.sign(t, k, withKID, peerClaims{sub: "user-" + k.kid, jti: fmt.Sprintf("jti-%d", n), iat: now, exp: now.Add(time.Hour)})
					// The header is the library's default: alg, its typ, and
					// the kid only when set.
					h := headerOf(t, tok)
					want := []string{"alg"}
					if p.typ != "" {
						want = append(want, "typ")
					}
					if withKID {
						want = append(want, "kid")
					}
					var got []string
					for name := range h {
						got = append(got, name)
					}
					slices.Sort(got)
					slices.Sort(want)
					if !slices.Equal(got, want) || h["alg"] != string(alg) || p.typ != "" && h["typ"] != p.typ || withKID && h["kid"] != k.kid {
						t.Fatalf("%s's header is %v, want members %v with alg %s, typ %q", p.name, h, want, alg, p.typ)
					}
					return tok
				}
				accept := func(step, tok string, k *peerKey) {
					t.Helper()
					c, err := v.Verify(ctx, tok)
					if err != nil {
						t.Fatalf("%s: Verify: %v", step, err)
					}
					if c.Subject != "user-"+k.kid || c.Issuer != peerIssuer || c.Scope != "read" || c.ID == "" {
						t.Fatalf("%s: claims sub=%q iss=%q scope=%q jti=%q", step, c.Subject, c.Issuer, c.Scope, c.ID)
					}
				}
				refuse := func(step, tok, why string) {
					t.Helper()
					_, err := v.Verify(ctx, tok)
					if !errors.Is(err, sessionkit.ErrInvalidToken) || !strings.Contains(err.Error(), why) {
						t.Fatalf("%s: Verify: %v, want ErrInvalidToken saying %q", step, err, why)
					}
				}
				wantHits := func(step string, ok func(int64) bool) {
					t.Helper()
					if h := hits.Load(); !ok(h) {
						t.Fatalf("%s: %d JWKS fetches", step, h)
					}
				}

				// 1. One key.
				key1 := newPeerKey(t, alg, "key-1")
				jwks.publish(t, p, key1)
				tok1, bare1 := sign(key1, true), sign(key1, false)
				accept("one key, kid", tok1, key1)
				accept("one key, no kid", bare1, key1)
				wantHits("one key", func(h int64) bool { return h == 1 })

				// 2. Rotation: key 2 published and signing, right after the
				// Verifier's first fetch: the new kid triggers a refetch at
				// once, whatever the time since the last fetch.
				key2 := newPeerKey(t, alg, "key-2")
				jwks.publish(t, p, key1, key2)
				tok2, bare2 := sign(key2, true), sign(key2, false)
				accept("new key", tok2, key2)
				wantHits("new key", func(h int64) bool { return h == 2 })
				accept("old key, still published", tok1, key1)
				refuse("no kid, two keys", bare2, "no kid")
				refuse("no kid, two keys (old)", bare1, "no kid")

				// 3. Key 1 leaves the JWKS.
				jwks.publish(t, p, key2)
				accept("old key, cached set still fresh", tok1, key1)
				wantHits("cached", func(h int64) bool { return h == 2 })
				clock.Advance(time.Minute)
				refuse("old key, withdrawn", tok1, "unknown key id")
				wantHits("withdrawn", func(h int64) bool { return h >= 3 })
				accept("new key after the refresh", tok2, key2)
				accept("no kid, one key again", bare2, key2)

				// The default TokenTypes (at+jwt) refuses the library's
				// default tokens, and says which setting admits them.
				why := `typ "JWT"`
				if p.typ == "" {
					why = "typ header missing"
				}
				if _, err := newVerifier(nil).Verify(ctx, tok2); !errors.Is(err, sessionkit.ErrInvalidToken) || !strings.Contains(err.Error(), why) || !strings.Contains(err.Error(), "TokenTypes") {
					t.Fatalf("default TokenTypes: Verify: %v, want a refusal saying %q and naming TokenTypes", err, why)
				}
			})
		}
	}
}
