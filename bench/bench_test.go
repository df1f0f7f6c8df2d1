package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	gjwt "github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/jwx/v3/jwk"
	jwxjwt "github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// BenchmarkVerify/<alg>/<impl> verifies the same sessionkit access token
// with each implementation; see README.md. Every implementation first proves
// that it accepts the token and rejects tampered copies of it, so no
// benchmark measures a no-op.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range algs {
		b.Run(string(alg), func(b *testing.B) {
			f := newFixture(b, alg)
			for _, im := range impls {
				b.Run(im.name, func(b *testing.B) {
					bind := im.setup(b, f)
					f.check(b, im.name, bind)
					run := bind(f.token)
					b.ReportAllocs()
					for b.Loop() {
						if _, err := run(); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// TestImplementations runs the checks the benchmarks start with: every
// implementation accepts the token and rejects the tampered ones.
func TestImplementations(t *testing.T) {
	for _, alg := range algs {
		t.Run(string(alg), func(t *testing.T) {
			f := newFixture(t, alg)
			for _, im := range impls {
				t.Run(im.name, func(t *testing.T) { f.check(t, im.name, im.setup(t, f)) })
			}
		})
	}
}

var algs = []sessionkit.Algorithm{sessionkit.RS256, sessionkit.ES256, sessionkit.EdDSA}

const (
	issuerID = "https://auth.example.com"
	audience = "api"
	subject  = "user-1234567890"
	scope    = "read write"
	typ      = "at+jwt"
	jwksPath = "/.well-known/jwks.json"
	// leeway is sessionkit's default (sessionkit.DefaultLeeway), given to
	// the peers too so that all of them accept the same tokens.
	leeway = 30 * time.Second
)

var b64 = base64.RawURLEncoding

// fixture is one algorithm's key, issuer, token and JWKS server.
type fixture struct {
	alg      sessionkit.Algorithm
	key      *sessionkit.SigningKey
	iss      *sessionkit.Issuer // SkipRevocationCheck: the stateless path
	token    string
	tampered map[string]string // what was changed -> token
	jwksURL  string
}

func newFixture(tb testing.TB, alg sessionkit.Algorithm) *fixture {
	tb.Helper()
	key, err := sessionkit.GenerateSigningKey(alg)
	if err != nil {
		tb.Fatal(err)
	}
	iss, err := sessionkit.New(sessionkit.Config{
		Issuer:              issuerID,
		Audience:            []string{audience},
		Keys:                sessionkit.NewKeySet(key),
		Store:               memstore.New(),
		SkipRevocationCheck: true,
		// BenchmarkVerify measures the verification itself; the verified-
		// token cache has benchmarks of its own (cache_test.go).
		VerifyCacheSize: -1,
	})
	if err != nil {
		tb.Fatal(err)
	}
	toks, err := iss.Login(context.Background(), sessionkit.Grant{
		Subject: subject, Scope: scope,
		Device: sessionkit.Device{UserAgent: "bench", IP: "192.0.2.1"},
	})
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+jwksPath, iss.Keys())
	srv := httptest.NewServer(mux) // 127.0.0.1
	tb.Cleanup(srv.Close)

	f := &fixture{alg: alg, key: key, iss: iss, token: toks.AccessToken, jwksURL: srv.URL + jwksPath}
	f.tampered = map[string]string{
		"payload":   tamperPayload(tb, f.token),
		"signature": tamperSignature(f.token),
	}
	return f
}

// tamperPayload re-encodes the payload with another (well-formed) subject
// and keeps the signature: only the signature check can catch it.
func tamperPayload(tb testing.TB, token string) string {
	tb.Helper()
	parts := strings.Split(token, ".")
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		tb.Fatal(err)
	}
	old := `"sub":"` + subject + `"`
	if !strings.Contains(string(payload), old) {
		tb.Fatalf("payload has no %s: %s", old, payload)
	}
	forged := strings.Replace(string(payload), old, `"sub":"user-1234567891"`, 1)
	parts[1] = b64.EncodeToString([]byte(forged))
	return strings.Join(parts, ".")
}

// tamperSignature changes one character in the middle of the signature
// segment (not the last one, whose low bits may be padding).
func tamperSignature(token string) string {
	i := strings.LastIndexByte(token, '.')
	j := i + 1 + (len(token)-i-1)/2
	c := byte('A')
	if token[j] == 'A' {
		c = 'B'
	}
	return token[:j] + string(c) + token[j+1:]
}

// check asserts that the implementation accepts f.token (with the right
// subject) and rejects every tampered token.
func (f *fixture) check(tb testing.TB, name string, bind binder) {
	tb.Helper()
	sub, err := bind(f.token)()
	if err != nil {
		tb.Fatalf("%s rejects a valid token: %v", name, err)
	}
	if name != "floor" && sub != subject {
		tb.Fatalf("%s: sub = %q, want %q", name, sub, subject)
	}
	for what, tok := range f.tampered {
		if _, err := bind(tok)(); err == nil {
			tb.Fatalf("%s accepts a token with a tampered %s", name, what)
		}
	}
}

// binder returns the verification of one token as a function the benchmark
// loop calls; it returns the subject (the floor returns "").
type binder func(token string) func() (sub string, err error)

type impl struct {
	name  string
	setup func(tb testing.TB, f *fixture) binder
}

var impls = []impl{
	{"floor", floor},
	{"sessionkit", sessionkitVerifier},
	{"issuer", issuerVerify},
	{"golangjwt", golangJWT},
	{"jwx", jwx},
	{"gojose", goJose},
}

// floor is the bare crypto over the token's signing input with the
// signature already decoded (the root's BenchmarkFloorVerify): sha256 +
// rsa.VerifyPKCS1v15, sha256 + ecdsa.Verify, ed25519.Verify.
func floor(tb testing.TB, f *fixture) binder {
	pub := f.key.Public()
	return func(token string) func() (string, error) {
		i := strings.LastIndexByte(token, '.')
		input := []byte(token[:i])
		sig, err := b64.DecodeString(token[i+1:])
		if err != nil {
			tb.Fatal(err)
		}
		switch f.alg {
		case sessionkit.RS256:
			pk := pub.(*rsa.PublicKey)
			return func() (string, error) {
				d := sha256.Sum256(input)
				return "", rsa.VerifyPKCS1v15(pk, crypto.SHA256, d[:], sig)
			}
		case sessionkit.ES256:
			pk := pub.(*ecdsa.PublicKey)
			return func() (string, error) {
				d := sha256.Sum256(input)
				r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
				if !ecdsa.Verify(pk, d[:], r, s) {
					return "", errors.New("bad signature")
				}
				return "", nil
			}
		default:
			pk := pub.(ed25519.PublicKey)
			return func() (string, error) {
				if !ed25519.Verify(pk, input, sig) {
					return "", errors.New("bad signature")
				}
				return "", nil
			}
		}
	}
}

// sessionkitVerifier is the resource-server Verifier reading the JWKS over
// HTTP (fetched on the first Verify, in check, then cached), without its
// verified-token cache.
func sessionkitVerifier(tb testing.TB, f *fixture) binder {
	return newSessionkitVerifier(tb, f, -1)
}

// newSessionkitVerifier is sessionkitVerifier with a verified-token cache
// of cacheSize entries (VerifierConfig.VerifyCacheSize).
func newSessionkitVerifier(tb testing.TB, f *fixture, cacheSize int) binder {
	v, err := sessionkit.NewVerifier(sessionkit.VerifierConfig{
		Issuer:            issuerID,
		Audience:          []string{audience},
		JWKSURL:           f.jwksURL,
		InsecureAllowHTTP: true, // httptest on 127.0.0.1
		VerifyCacheSize:   cacheSize,
	})
	if errors.Is(err, sessionkit.ErrUnsupported) {
		tb.Skip("sessionkit.Verifier is not implemented yet")
	}
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	if _, err := v.Verify(ctx, f.token); errors.Is(err, sessionkit.ErrUnsupported) {
		tb.Skip("sessionkit.Verifier.Verify is not implemented yet")
	}
	return func(token string) func() (string, error) {
		return func() (string, error) {
			c, err := v.Verify(ctx, token)
			if err != nil {
				return "", err
			}
			return c.Subject, nil
		}
	}
}

// issuerVerify is Issuer.Verify with SkipRevocationCheck: the same checks
// as the Verifier with the issuer's own KeySet (the root's
// BenchmarkVerify/<alg>/stateless).
func issuerVerify(tb testing.TB, f *fixture) binder {
	ctx := context.Background()
	return func(token string) func() (string, error) {
		return func() (string, error) {
			c, err := f.iss.Verify(ctx, token)
			if err != nil {
				return "", err
			}
			return c.Subject, nil
		}
	}
}

// gjClaims is what a golang-jwt user declares for sessionkit tokens.
type gjClaims struct {
	gjwt.RegisteredClaims
	SessionID string `json:"sid"`
	Version   uint64 `json:"ver"`
	Scope     string `json:"scope"`
}

// golangJWT is golang-jwt v5 with keyfunc v3 serving the keys of the JWKS
// URL, configured as a careful user would: one algorithm, iss, aud, exp
// required, iat checked, sessionkit's leeway, and typ compared after
// parsing (golang-jwt has no option for it).
func golangJWT(tb testing.TB, f *fixture) binder {
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel) // ends keyfunc's refresh goroutine
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{f.jwksURL})
	if err != nil {
		tb.Fatal(err)
	}
	p := gjwt.NewParser(
		gjwt.WithValidMethods([]string{string(f.alg)}),
		gjwt.WithIssuer(issuerID),
		gjwt.WithAudience(audience),
		gjwt.WithExpirationRequired(),
		gjwt.WithIssuedAt(),
		gjwt.WithLeeway(leeway),
	)
	return func(token string) func() (string, error) {
		return func() (string, error) {
			var c gjClaims
			t, err := p.ParseWithClaims(token, &c, kf.Keyfunc)
			if err != nil {
				return "", err
			}
			if h, _ := t.Header["typ"].(string); h != typ {
				return "", fmt.Errorf("typ %q", h)
			}
			return c.Subject, nil
		}
	}
}

// jwx is lestrrat-go/jwx v3: jwt.Parse with the key set fetched once from
// the JWKS URL (keys are matched by kid and alg), iss, aud, exp required,
// sessionkit's leeway. jwt.Parse offers no typ check (it would take a
// second parse with the jws package), so there is none.
func jwx(tb testing.TB, f *fixture) binder {
	set, err := jwk.Fetch(context.Background(), f.jwksURL)
	if err != nil {
		tb.Fatal(err)
	}
	opts := []jwxjwt.ParseOption{
		jwxjwt.WithKeySet(set),
		jwxjwt.WithIssuer(issuerID),
		jwxjwt.WithAudience(audience),
		jwxjwt.WithRequiredClaim(jwxjwt.ExpirationKey),
		jwxjwt.WithAcceptableSkew(leeway),
		jwxjwt.WithValidate(true),
	}
	return func(token string) func() (string, error) {
		return func() (string, error) {
			t, err := jwxjwt.ParseString(token, opts...)
			if err != nil {
				return "", err
			}
			sub, _ := t.Subject()
			return sub, nil
		}
	}
}

// joseExtra holds the private claims of a sessionkit token for go-jose.
type joseExtra struct {
	SessionID string `json:"sid"`
	Version   uint64 `json:"ver"`
	Scope     string `json:"scope"`
}

// goJose is go-jose v4 used directly: jwt.ParseSigned with one algorithm,
// a typ check on the parsed header, Claims with the JWK set fetched once
// from the JWKS URL (go-jose picks the key by kid), exp required, then
// ValidateWithLeeway for iss, aud, exp, nbf, iat.
func goJose(tb testing.TB, f *fixture) binder {
	resp, err := http.Get(f.jwksURL)
	if err != nil {
		tb.Fatal(err)
	}
	var set jose.JSONWebKeySet
	err = json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	if err != nil {
		tb.Fatal(err)
	}
	algs := []jose.SignatureAlgorithm{jose.SignatureAlgorithm(f.alg)}
	return func(token string) func() (string, error) {
		return func() (string, error) {
			t, err := josejwt.ParseSigned(token, algs)
			if err != nil {
				return "", err
			}
			if h, _ := t.Headers[0].ExtraHeaders[jose.HeaderType].(string); h != typ {
				return "", fmt.Errorf("typ %q", h)
			}
			var c josejwt.Claims
			var x joseExtra
			if err := t.Claims(&set, &c, &x); err != nil {
				return "", err
			}
			if c.Expiry == nil {
				return "", errors.New("no exp")
			}
			err = c.ValidateWithLeeway(josejwt.Expected{
				Issuer: issuerID, AnyAudience: josejwt.Audience{audience}, Time: time.Now(),
			}, leeway)
			if err != nil {
				return "", err
			}
			return c.Subject, nil
		}
	}
}
