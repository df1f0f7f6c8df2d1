package sessionkit

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sessionkit/sessionkit/internal/jose"
)

// keyAlgs are the algorithms, in the order testKey caches them.
var keyAlgs = []Algorithm{RS256, ES256, EdDSA}

// testKeyCount is how many distinct cached keys testKey offers per algorithm.
const testKeyCount = 3

var testKeyCache [3][testKeyCount]struct {
	once sync.Once
	key  *SigningKey
	err  error
}

// testKey returns the n-th (0, 1 or 2) cached signing key for alg. Keys are
// generated once per test binary (RSA generation is slow) and shared by all
// tests; SigningKey is immutable, so sharing is safe.
func testKey(tb testing.TB, alg Algorithm, n int) *SigningKey {
	tb.Helper()
	i := slices.Index(keyAlgs, alg)
	if i < 0 || n < 0 || n >= testKeyCount {
		tb.Fatalf("testKey(%q, %d): no such cached key", alg, n)
	}
	c := &testKeyCache[i][n]
	c.once.Do(func() { c.key, c.err = GenerateSigningKey(alg) })
	if c.err != nil {
		tb.Fatalf("GenerateSigningKey(%s): %v", alg, c.err)
	}
	return c.key
}

// rfc7638Thumbprint computes the RFC 7638 thumbprint by hand (independently
// of go-jose): SHA-256 of the required members in lexicographic order.
func rfc7638Thumbprint(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	var canon string
	switch pk := pub.(type) {
	case *rsa.PublicKey:
		canon = fmt.Sprintf(`{"e":"%s","kty":"RSA","n":"%s"}`, enc(big.NewInt(int64(pk.E)).Bytes()), enc(pk.N.Bytes()))
	case *ecdsa.PublicKey:
		raw, err := pk.Bytes() // 0x04 || X || Y, fixed width
		if err != nil {
			t.Fatal(err)
		}
		canon = fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}`, enc(raw[1:33]), enc(raw[33:]))
	case ed25519.PublicKey:
		canon = fmt.Sprintf(`{"crv":"Ed25519","kty":"OKP","x":"%s"}`, enc(pk))
	default:
		t.Fatalf("unexpected key type %T", pub)
	}
	sum := sha256.Sum256([]byte(canon))
	return enc(sum[:])
}

func TestGenerateSigningKey(t *testing.T) {
	t.Parallel()
	for _, alg := range keyAlgs {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			k := testKey(t, alg, 0)
			if k.Algorithm() != alg {
				t.Fatalf("Algorithm() = %s, want %s", k.Algorithm(), alg)
			}
			switch pk := k.Public().(type) {
			case *rsa.PublicKey:
				if alg != RS256 || pk.N.BitLen() != 2048 {
					t.Fatalf("RSA key of %d bits for %s", pk.N.BitLen(), alg)
				}
			case *ecdsa.PublicKey:
				if alg != ES256 || pk.Curve != elliptic.P256() {
					t.Fatalf("EC key on %s for %s", pk.Curve.Params().Name, alg)
				}
			case ed25519.PublicKey:
				if alg != EdDSA {
					t.Fatalf("Ed25519 key for %s", alg)
				}
			default:
				t.Fatalf("public key type %T", pk)
			}
			if got, want := k.KeyID(), rfc7638Thumbprint(t, k.Public()); got != want {
				t.Fatalf("KeyID() = %q, want RFC 7638 thumbprint %q", got, want)
			}
			if want := compactHeader(alg, k.KeyID(), accessTokenType); k.pub.Header() != want {
				t.Fatalf("header = %q, want %q", k.pub.Header(), want)
			}
			if other := testKey(t, alg, 1); other.KeyID() == k.KeyID() {
				t.Fatal("two generated keys share a kid")
			}
			// The key signs, and its public half verifies.
			tok, err := signCompact(k, k.pub.Header(), []byte(`{"sub":"u1"}`))
			if err != nil {
				t.Fatalf("signCompact: %v", err)
			}
			payload, err := jose.Verify(tok, DefaultMaxTokenSize, NewKeySet(k).load(), jose.AccessTokens)
			if err != nil || payload != `{"sub":"u1"}` {
				t.Fatalf("jose.Verify: %v", err)
			}
			// Printing never shows private material.
			for _, verb := range []string{"%v", "%+v", "%#v", "%d", "%x", "%s"} {
				s := fmt.Sprintf(verb, k) + fmt.Sprintf(verb, *k)
				if !strings.Contains(s, k.KeyID()) || strings.Contains(s, "PrivateKey") || len(s) > 300 {
					t.Fatalf("fmt %s of a SigningKey: %s", verb, s)
				}
			}
		})
	}
	t.Run("unknown algorithm", func(t *testing.T) {
		t.Parallel()
		for _, alg := range []Algorithm{"", "none", "HS256", "RS512", "ES384", "rs256"} {
			if _, err := GenerateSigningKey(alg); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("GenerateSigningKey(%q): got %v, want ErrInvalidConfig", alg, err)
			}
		}
	})
}

func TestKeyIDRFC7638Example(t *testing.T) {
	t.Parallel()
	// RFC 7638 §3.1.
	n, err := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	if err != nil {
		t.Fatal(err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	const want = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
	pk, err := newPublicKey(RS256, "", pub)
	if err != nil {
		t.Fatalf("newPublicKey: %v", err)
	}
	if pk.KID() != want {
		t.Fatalf("kid = %q, want %q", pk.KID(), want)
	}
	if got := rfc7638Thumbprint(t, pub); got != want {
		t.Fatalf("hand-made thumbprint = %q, want %q", got, want)
	}
	if pk.Header() != compactHeader(RS256, want, accessTokenType) {
		t.Fatalf("header = %q", pk.Header())
	}
}

func TestNewPublicKeyRefuses(t *testing.T) {
	t.Parallel()
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaPub := testKey(t, RS256, 0).Public()
	tests := []struct {
		name string
		alg  Algorithm
		pub  crypto.PublicKey
	}{
		{"RSA key for ES256", ES256, rsaPub},
		{"EC key for RS256", RS256, testKey(t, ES256, 0).Public()},
		{"Ed25519 key for RS256", RS256, testKey(t, EdDSA, 0).Public()},
		{"P-384", ES256, &p384.PublicKey},
		{"short Ed25519", EdDSA, ed25519.PublicKey(make([]byte, 31))},
		{"small RSA", RS256, &rsa.PublicKey{N: big.NewInt(1<<62 + 1), E: 65537}},
		{"nil RSA", RS256, (*rsa.PublicKey)(nil)},
		{"unknown alg", "none", rsaPub},
		{"symmetric", RS256, []byte("secret")},
		{"nil", RS256, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := newPublicKey(tt.alg, "kid", tt.pub); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("got %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// mustDER returns a function that returns der, failing t on err:
// mustDER(t)(x509.MarshalPKCS8PrivateKey(k)).
func mustDER(t *testing.T) func(der []byte, err error) []byte {
	return func(der []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
}

func TestParseSigningKeyPEM(t *testing.T) {
	t.Parallel()
	rsaKey := testKey(t, RS256, 0)
	ecKey := testKey(t, ES256, 0)
	edKey := testKey(t, EdDSA, 0)
	pkcs8 := func(k *SigningKey) []byte {
		return pemOf("PRIVATE KEY", mustDER(t)(x509.MarshalPKCS8PrivateKey(k.priv)))
	}
	tests := []struct {
		name string
		pem  []byte
		want *SigningKey
	}{
		{"PKCS8 RSA", pkcs8(rsaKey), rsaKey},
		{"PKCS8 EC", pkcs8(ecKey), ecKey},
		{"PKCS8 Ed25519", pkcs8(edKey), edKey},
		{"PKCS1 RSA", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey.priv.(*rsa.PrivateKey))), rsaKey},
		{"SEC1 EC", pemOf("EC PRIVATE KEY", mustDER(t)(x509.MarshalECPrivateKey(ecKey.priv.(*ecdsa.PrivateKey)))), ecKey},
		{"surrounding whitespace", append(append([]byte("\n\t "), pkcs8(edKey)...), "\r\n\n"...), edKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := ParseSigningKeyPEM(tt.pem)
			if err != nil {
				t.Fatalf("ParseSigningKeyPEM: %v", err)
			}
			if k.KeyID() != tt.want.KeyID() || k.Algorithm() != tt.want.Algorithm() {
				t.Fatalf("got %s/%s, want %s/%s", k.Algorithm(), k.KeyID(), tt.want.Algorithm(), tt.want.KeyID())
			}
			if _, err := signCompact(k, k.pub.Header(), []byte(`{}`)); err != nil {
				t.Fatalf("parsed key cannot sign: %v", err)
			}
		})
	}
}

func TestParseSigningKeyPEMRefuses(t *testing.T) {
	t.Parallel()
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := testKey(t, ES256, 0)
	goodPEM, err := good.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	goodDER := mustDER(t)(x509.MarshalPKCS8PrivateKey(good.priv))
	encrypted := pem.EncodeToMemory(&pem.Block{
		Type:    "EC PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"},
		Bytes:   goodDER,
	})
	tests := []struct {
		name string
		pem  []byte
		msg  string // part of the error message
	}{
		{"RSA 1024 PKCS1", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa1024)), "1024 bits"},
		{"RSA 1024 PKCS8", pemOf("PRIVATE KEY", mustDER(t)(x509.MarshalPKCS8PrivateKey(rsa1024))), "at least 2048"},
		{"P-384 SEC1", pemOf("EC PRIVATE KEY", mustDER(t)(x509.MarshalECPrivateKey(p384))), "unsupported curve P-384; only P-256 (ES256)"},
		{"P-384 PKCS8", pemOf("PRIVATE KEY", mustDER(t)(x509.MarshalPKCS8PrivateKey(p384))), "unsupported curve P-384"},
		{"X25519 PKCS8", pemOf("PRIVATE KEY", mustDER(t)(x509.MarshalPKCS8PrivateKey(x25519))), "unsupported key type"},
		{"empty", nil, "no PEM data"},
		{"whitespace", []byte(" \n"), "no PEM data"},
		{"garbage", []byte("not a key at all"), "not a PEM block"},
		{"data before the block", append([]byte("Bag Attributes\n"), goodPEM...), "not a PEM block"},
		{"unterminated block", goodPEM[:len(goodPEM)-20], "malformed PEM"},
		{"trailing junk", append(slices.Clone(goodPEM), "junk"...), "trailing data"},
		{"two blocks", append(slices.Clone(goodPEM), goodPEM...), "more than one PEM block"},
		{"legacy encrypted", encrypted, "encrypted"},
		{"PKCS8 encrypted", pemOf("ENCRYPTED PRIVATE KEY", goodDER), "encrypted"},
		{"other headers", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Comment": "x"}, Bytes: goodDER}), "headers"},
		{"public key", pemOf("PUBLIC KEY", mustDER(t)(x509.MarshalPKIXPublicKey(good.Public()))), "no private key"},
		{"certificate", pemOf("CERTIFICATE", goodDER), "no private key"},
		{"other type", pemOf("OPENSSH PRIVATE KEY", goodDER), "unsupported PEM block type"},
		{"wrong DER for the type", pemOf("RSA PRIVATE KEY", goodDER), "cannot parse"},
		{"corrupt DER", pemOf("PRIVATE KEY", goodDER[:len(goodDER)-3]), "cannot parse"},
	}
	secret := base64.StdEncoding.EncodeToString(goodDER)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := ParseSigningKeyPEM(tt.pem)
			if !errors.Is(err, ErrInvalidConfig) || k != nil {
				t.Fatalf("got %v, %v; want ErrInvalidConfig", k, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "sessionkit: ") || !strings.Contains(msg, tt.msg) {
				t.Fatalf("error %q does not say %q", msg, tt.msg)
			}
			for i := 0; i+16 <= len(secret); i += 16 {
				if strings.Contains(msg, secret[i:i+16]) {
					t.Fatalf("error quotes key material: %q", msg)
				}
			}
		})
	}
}

func TestMarshalPEMRoundTrip(t *testing.T) {
	t.Parallel()
	for _, alg := range keyAlgs {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			k := testKey(t, alg, 1)
			out, err := k.MarshalPEM()
			if err != nil {
				t.Fatalf("MarshalPEM: %v", err)
			}
			if block, _ := pem.Decode(out); block == nil || block.Type != "PRIVATE KEY" {
				t.Fatalf("MarshalPEM did not produce a PRIVATE KEY block")
			}
			back, err := ParseSigningKeyPEM(out)
			if err != nil {
				t.Fatalf("ParseSigningKeyPEM: %v", err)
			}
			if back.KeyID() != k.KeyID() || back.Algorithm() != alg {
				t.Fatalf("round trip changed the key: %s/%s", back.Algorithm(), back.KeyID())
			}
		})
	}
	if _, err := (&SigningKey{}).MarshalPEM(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("MarshalPEM of a zero key: %v", err)
	}
}

// keyVerifies reports whether ks verifies a token signed by k.
func keyVerifies(t *testing.T, ks *KeySet, k *SigningKey) bool {
	t.Helper()
	tok, err := signCompact(k, k.pub.Header(), []byte(`{"sub":"u1"}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = jose.Verify(tok, DefaultMaxTokenSize, ks.load(), jose.AccessTokens)
	return err == nil
}

func TestKeySetRotation(t *testing.T) {
	t.Parallel()
	a, b, c := testKey(t, RS256, 0), testKey(t, ES256, 0), testKey(t, EdDSA, 0)
	ks := NewKeySet(a)
	check := func(step, signing string, kids ...string) {
		t.Helper()
		if got := ks.SigningKeyID(); got != signing {
			t.Fatalf("%s: signing kid %q, want %q", step, got, signing)
		}
		if got := ks.load().signing; got.KeyID() != signing {
			t.Fatalf("%s: snapshot signs with %q", step, got.KeyID())
		}
		if got := ks.KeyIDs(); !slices.Equal(got, kids) {
			t.Fatalf("%s: KeyIDs %q, want %q", step, got, kids)
		}
		s := ks.load()
		for _, k := range []*SigningKey{a, b, c} {
			published := slices.Contains(kids, k.KeyID())
			if (s.KeyForKID(k.KeyID()) != nil) != published ||
				(s.KeyForHeader(k.pub.Header()) != nil) != published ||
				keyVerifies(t, ks, k) != published {
				t.Fatalf("%s: key %s published=%v, but lookups disagree", step, k.Algorithm(), published)
			}
			if published && !s.Allows(jose.Algorithm(k.Algorithm())) {
				t.Fatalf("%s: %s not allowed", step, k.Algorithm())
			}
		}
		if len(s.algs) != len(kids) {
			t.Fatalf("%s: algs %v for %d keys", step, s.algs, len(kids))
		}
		if got := jwksKIDs(t, ks); !slices.Contains(got, signing) || got[0] != signing || len(got) != len(kids) {
			t.Fatalf("%s: JWKS kids %q", step, got)
		}
	}
	check("new", a.KeyID(), a.KeyID())

	if err := ks.Publish(b); err != nil {
		t.Fatal(err)
	}
	check("publish", a.KeyID(), a.KeyID(), b.KeyID())
	if err := ks.Publish(b); err != nil {
		t.Fatalf("publishing again: %v", err)
	}
	check("publish again is a no-op", a.KeyID(), a.KeyID(), b.KeyID())

	if err := ks.Promote(b.KeyID()); err != nil {
		t.Fatal(err)
	}
	check("promote", b.KeyID(), a.KeyID(), b.KeyID())
	if err := ks.Promote(b.KeyID()); err != nil {
		t.Fatal(err)
	}

	if err := ks.Rotate(c); err != nil {
		t.Fatal(err)
	}
	check("rotate", c.KeyID(), a.KeyID(), b.KeyID(), c.KeyID())
	if err := ks.Rotate(c); err != nil {
		t.Fatal(err)
	}
	check("rotate to the signing key again", c.KeyID(), a.KeyID(), b.KeyID(), c.KeyID())

	if err := ks.Retire(a.KeyID()); err != nil {
		t.Fatal(err)
	}
	check("retire", c.KeyID(), b.KeyID(), c.KeyID())

	if err := ks.Rotate(b); err != nil {
		t.Fatal(err)
	}
	check("rotate back to a published key", b.KeyID(), b.KeyID(), c.KeyID())

	errTests := []struct {
		name string
		err  error
		msg  string
	}{
		{"retire the signing key", ks.Retire(b.KeyID()), "current signing key"},
		{"retire an unknown kid", ks.Retire(a.KeyID()), "unknown key id"},
		{"retire the empty kid", ks.Retire(""), "unknown key id"},
		{"promote an unknown kid", ks.Promote(a.KeyID()), "unknown key id"},
		{"publish nil", ks.Publish(nil), "empty signing key"},
		{"publish a zero key", ks.Publish(&SigningKey{}), "empty signing key"},
		{"rotate to nil", ks.Rotate(nil), "empty signing key"},
	}
	for _, tt := range errTests {
		if !errors.Is(tt.err, ErrInvalidConfig) || !strings.HasPrefix(tt.err.Error(), "sessionkit: ") || !strings.Contains(tt.err.Error(), tt.msg) {
			t.Errorf("%s: got %v, want ErrInvalidConfig saying %q", tt.name, tt.err, tt.msg)
		}
	}
	check("after refusals", b.KeyID(), b.KeyID(), c.KeyID())
}

func TestKeySetEmpty(t *testing.T) {
	t.Parallel()
	var zero KeySet
	var nilSet *KeySet
	for name, ks := range map[string]*KeySet{
		"NewKeySet(nil)":         NewKeySet(nil),
		"NewKeySet(zero key)":    NewKeySet(&SigningKey{}),
		"zero KeySet":            &zero,
		"nil KeySet (read-only)": nilSet,
	} {
		s := ks.load()
		if s == nil || s.signing != nil || s.KeyForKID("") != nil || s.KeyForHeader("") != nil || s.Allows(jose.RS256) {
			t.Fatalf("%s: empty set resolves something", name)
		}
		if ks.SigningKeyID() != "" || len(ks.KeyIDs()) != 0 {
			t.Fatalf("%s: empty set reports keys", name)
		}
		if keyVerifies(t, ks, testKey(t, EdDSA, 0)) {
			t.Fatalf("%s: empty set verified a token", name)
		}
		rec := httptest.NewRecorder()
		ks.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/jwks", nil))
		if rec.Code != http.StatusOK || rec.Body.String() != `{"keys":[]}` {
			t.Fatalf("%s: JWKS %d %q", name, rec.Code, rec.Body)
		}
	}
	// An empty set can be filled later.
	k := testKey(t, EdDSA, 0)
	if err := zero.Publish(k); err != nil {
		t.Fatal(err)
	}
	if zero.SigningKeyID() != "" || !keyVerifies(t, &zero, k) {
		t.Fatal("Publish on an empty set")
	}
	if err := zero.Promote(k.KeyID()); err != nil || zero.SigningKeyID() != k.KeyID() {
		t.Fatalf("Promote on a published set: %v", err)
	}
}

// getJWKS fetches the JWKS of ks.
func getJWKS(t *testing.T, ks *KeySet) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	ks.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET JWKS: %d", rec.Code)
	}
	return rec
}

// jwksMembers returns the members of each key in the JWKS of ks.
func jwksMembers(t *testing.T, ks *KeySet) []map[string]any {
	t.Helper()
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	dec := json.NewDecoder(getJWKS(t, ks).Body)
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("JWKS is not JSON: %v", err)
	}
	return doc.Keys
}

func jwksKIDs(t *testing.T, ks *KeySet) []string {
	t.Helper()
	var kids []string
	for _, m := range jwksMembers(t, ks) {
		kid, _ := m["kid"].(string)
		kids = append(kids, kid)
	}
	return kids
}

func TestJWKSMembers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		alg     Algorithm
		members []string
		kty     string
	}{
		{RS256, []string{"alg", "e", "kid", "kty", "n", "use"}, "RSA"},
		{ES256, []string{"alg", "crv", "kid", "kty", "use", "x", "y"}, "EC"},
		{EdDSA, []string{"alg", "crv", "kid", "kty", "use", "x"}, "OKP"},
	}
	for _, tt := range tests {
		t.Run(string(tt.alg), func(t *testing.T) {
			t.Parallel()
			k := testKey(t, tt.alg, 2)
			keys := jwksMembers(t, NewKeySet(k))
			if len(keys) != 1 {
				t.Fatalf("%d keys in the JWKS", len(keys))
			}
			m := keys[0]
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
				if _, ok := m[private]; ok {
					t.Fatalf("JWKS carries the private member %q", private)
				}
			}
			var names []string
			for name := range m {
				names = append(names, name)
			}
			slices.Sort(names)
			if !slices.Equal(names, tt.members) {
				t.Fatalf("members %q, want %q", names, tt.members)
			}
			if m["kid"] != k.KeyID() || m["alg"] != string(tt.alg) || m["use"] != "sig" || m["kty"] != tt.kty {
				t.Fatalf("JWK %v", m)
			}
			if crv, ok := m["crv"]; ok && crv != map[Algorithm]string{ES256: "P-256", EdDSA: "Ed25519"}[tt.alg] {
				t.Fatalf("crv %v", crv)
			}
		})
	}
	t.Run("every published key", func(t *testing.T) {
		t.Parallel()
		ks := NewKeySet(testKey(t, RS256, 2))
		for _, alg := range []Algorithm{ES256, EdDSA} {
			if err := ks.Publish(testKey(t, alg, 2)); err != nil {
				t.Fatal(err)
			}
		}
		body := getJWKS(t, ks).Body.String()
		for _, private := range []string{`"d"`, `"p"`, `"q"`, `"dp"`, `"dq"`, `"qi"`} {
			if strings.Contains(body, private) {
				t.Fatalf("JWKS mentions %s", private)
			}
		}
		if got := jwksKIDs(t, ks); len(got) != 3 || got[0] != testKey(t, RS256, 2).KeyID() {
			t.Fatalf("kids %q", got)
		}
	})
}

func TestJWKSHTTP(t *testing.T) {
	t.Parallel()
	ks := NewKeySet(testKey(t, ES256, 1))
	checkServesDocument(t, ks, "public, max-age=300", ks.load().jwks)
}

// checkServesDocument checks how h serves the public JSON document doc:
// GET and HEAD only (405 with Allow, no caching headers), cacheControl, a
// strong ETag, and 304 for each form of a matching If-None-Match.
func checkServesDocument(t *testing.T, handler http.Handler, cacheControl string, doc []byte) {
	t.Helper()
	first := httptest.NewRecorder()
	handler.ServeHTTP(first, httptest.NewRequest(http.MethodGet, "/", nil))
	etag := first.Header().Get("ETag")
	if len(etag) < 10 || etag[0] != '"' || etag[len(etag)-1] != '"' || strings.HasPrefix(etag, "W/") {
		t.Fatalf("ETag %q is not a strong, quoted entity tag", etag)
	}
	tests := []struct {
		name        string
		method      string
		ifNoneMatch []string
		code        int
		body        bool
	}{
		{"GET", http.MethodGet, nil, http.StatusOK, true},
		{"HEAD", http.MethodHead, nil, http.StatusOK, false},
		{"POST", http.MethodPost, nil, http.StatusMethodNotAllowed, false},
		{"PUT", http.MethodPut, nil, http.StatusMethodNotAllowed, false},
		{"DELETE", http.MethodDelete, nil, http.StatusMethodNotAllowed, false},
		{"OPTIONS", http.MethodOptions, nil, http.StatusMethodNotAllowed, false},
		{"If-None-Match exact", http.MethodGet, []string{etag}, http.StatusNotModified, false},
		{"If-None-Match weak", http.MethodGet, []string{"W/" + etag}, http.StatusNotModified, false},
		{"If-None-Match list", http.MethodGet, []string{`"a", W/"b",` + etag}, http.StatusNotModified, false},
		{"If-None-Match second line", http.MethodGet, []string{`"a"`, etag}, http.StatusNotModified, false},
		{"If-None-Match star", http.MethodGet, []string{"*"}, http.StatusNotModified, false},
		{"If-None-Match HEAD", http.MethodHead, []string{etag}, http.StatusNotModified, false},
		{"If-None-Match other", http.MethodGet, []string{`"other"`}, http.StatusOK, true},
		{"If-None-Match unquoted", http.MethodGet, []string{strings.Trim(etag, `"`)}, http.StatusOK, true},
		{"If-None-Match prefix", http.MethodGet, []string{etag[:len(etag)-2] + `"`}, http.StatusOK, true},
		{"If-None-Match empty", http.MethodGet, []string{""}, http.StatusOK, true},
		{"If-None-Match unterminated", http.MethodGet, []string{`"` + strings.Trim(etag, `"`)}, http.StatusOK, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tt.method, "/", nil)
			for _, v := range tt.ifNoneMatch {
				req.Header.Add("If-None-Match", v)
			}
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			h := rec.Header()
			if rec.Code != tt.code {
				t.Fatalf("status %d, want %d", rec.Code, tt.code)
			}
			if tt.code == http.StatusMethodNotAllowed {
				if h.Get("Allow") != "GET, HEAD" {
					t.Fatalf("Allow %q", h.Get("Allow"))
				}
				if h.Get("ETag") != "" || h.Get("Cache-Control") != "" {
					t.Fatal("405 carries caching headers")
				}
				return
			}
			if h.Get("Cache-Control") != cacheControl || h.Get("ETag") != etag {
				t.Fatalf("Cache-Control %q, ETag %q", h.Get("Cache-Control"), h.Get("ETag"))
			}
			if tt.body != (rec.Body.Len() > 0) {
				t.Fatalf("body of %d bytes, want body=%v", rec.Body.Len(), tt.body)
			}
			if tt.code == http.StatusOK {
				if h.Get("Content-Type") != "application/json" || h.Get("X-Content-Type-Options") != "nosniff" {
					t.Fatalf("Content-Type %q, X-Content-Type-Options %q", h.Get("Content-Type"), h.Get("X-Content-Type-Options"))
				}
				if want := fmt.Sprint(len(doc)); h.Get("Content-Length") != want {
					t.Fatalf("Content-Length %q, want %s", h.Get("Content-Length"), want)
				}
			}
			if tt.body && !bytes.Equal(rec.Body.Bytes(), doc) {
				t.Fatalf("body %q, want %q", rec.Body, doc)
			}
		})
	}
}

func TestJWKSETagFollowsRotation(t *testing.T) {
	t.Parallel()
	ks := NewKeySet(testKey(t, EdDSA, 1))
	first := getJWKS(t, ks)
	if again := getJWKS(t, ks); again.Header().Get("ETag") != first.Header().Get("ETag") || again.Body.String() != first.Body.String() {
		t.Fatal("ETag or body unstable without a change")
	}
	if err := ks.Rotate(testKey(t, EdDSA, 2)); err != nil {
		t.Fatal(err)
	}
	second := getJWKS(t, ks)
	if second.Header().Get("ETag") == first.Header().Get("ETag") || second.Body.String() == first.Body.String() {
		t.Fatal("ETag or body unchanged after Rotate")
	}
	// A client holding the old ETag gets the new document.
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("If-None-Match", first.Header().Get("ETag"))
	rec := httptest.NewRecorder()
	ks.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.String() != second.Body.String() {
		t.Fatalf("stale If-None-Match: %d", rec.Code)
	}
	if err := ks.Retire(testKey(t, EdDSA, 1).KeyID()); err != nil {
		t.Fatal(err)
	}
	if third := getJWKS(t, ks); third.Header().Get("ETag") == second.Header().Get("ETag") {
		t.Fatal("ETag unchanged after Retire")
	}
	// Promote changes the order (signing key first), so the ETag too.
	if err := ks.Publish(testKey(t, EdDSA, 1)); err != nil {
		t.Fatal(err)
	}
	before := getJWKS(t, ks).Header().Get("ETag")
	if err := ks.Promote(testKey(t, EdDSA, 1).KeyID()); err != nil {
		t.Fatal(err)
	}
	if getJWKS(t, ks).Header().Get("ETag") == before {
		t.Fatal("ETag unchanged after Promote")
	}
}

func TestKeySetConcurrentRotation(t *testing.T) {
	t.Parallel()
	keys := []*SigningKey{testKey(t, RS256, 0), testKey(t, ES256, 0), testKey(t, EdDSA, 0), testKey(t, EdDSA, 1)}
	ks := NewKeySet(keys[0])
	const rounds = 200
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		close(done)
		wg.Wait()
	}()
	for r := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				s := ks.load()
				k := s.signing
				if k == nil || s.KeyForKID(k.KeyID()) != &k.pub || s.KeyForHeader(k.pub.Header()) != &k.pub || !s.Allows(jose.Algorithm(k.Algorithm())) {
					t.Error("snapshot does not verify its own signing key")
					return
				}
				if r == 0 && i%16 == 0 {
					tok, err := signCompact(k, k.pub.Header(), []byte(`{}`))
					if err != nil {
						t.Error(err)
						return
					}
					if _, err := jose.Verify(tok, DefaultMaxTokenSize, s, jose.AccessTokens); err != nil {
						t.Errorf("verify with the signing snapshot: %v", err)
						return
					}
				}
				_ = ks.KeyIDs()
				if r == 1 {
					rec := httptest.NewRecorder()
					ks.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
				}
			}
		})
	}
	for i := range rounds {
		next := keys[(i+1)%len(keys)]
		var err error
		switch i % 3 {
		case 0:
			err = ks.Rotate(next)
		case 1:
			if err = ks.Publish(next); err == nil {
				err = ks.Promote(next.KeyID())
			}
		case 2:
			err = ks.Rotate(next)
		}
		if err != nil {
			t.Fatal(err)
		}
		// Retire everything but the signing key.
		for _, k := range keys {
			if k != next {
				_ = ks.Retire(k.KeyID())
			}
		}
		if got := ks.KeyIDs(); len(got) != 1 || got[0] != next.KeyID() {
			t.Fatalf("after retiring: %q", got)
		}
	}
}

func FuzzParseSigningKeyPEM(f *testing.F) {
	for _, alg := range keyAlgs {
		k := testKey(f, alg, 0)
		out, err := k.MarshalPEM()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(out)
	}
	f.Add(pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(testKey(f, RS256, 0).priv.(*rsa.PrivateKey))))
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseSigningKeyPEM(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidConfig) || k != nil {
				t.Fatalf("got %v, %v", k, err)
			}
			return
		}
		out, err := k.MarshalPEM()
		if err != nil {
			t.Fatalf("MarshalPEM of a parsed key: %v", err)
		}
		back, err := ParseSigningKeyPEM(out)
		if err != nil || back.KeyID() != k.KeyID() || !jose.Known(jose.Algorithm(k.Algorithm())) {
			t.Fatalf("round trip: %v", err)
		}
		if _, err := signCompact(k, k.pub.Header(), []byte(`{}`)); err != nil {
			t.Fatalf("parsed key cannot sign: %v", err)
		}
	})
}
