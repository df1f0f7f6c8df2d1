package sessionkit

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	gojose "github.com/go-jose/go-jose/v4"

	"github.com/sessionkit/sessionkit/store/memstore"
)

// foreignIssuer is another issuer's signing side, for the Verifier tests:
// keys of any algorithm, signed by go-jose, served as a JWKS.
type foreignIssuer struct {
	t     *testing.T
	srv   *jwksServer
	keys  []json.RawMessage
	privs map[string]crypto.Signer // kid -> private key
	algs  map[string]Algorithm     // kid -> algorithm
}

func newForeignIssuer(t *testing.T) *foreignIssuer {
	f := &foreignIssuer{t: t, privs: map[string]crypto.Signer{}, algs: map[string]Algorithm{}}
	f.srv = newJWKSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := json.Marshal(map[string]any{"keys": f.keys})
		staticJWKS(body, "max-age=300").ServeHTTP(w, r)
	}))
	return f
}

// add makes a key for alg, published under kid; extra edits its JWK (nil
// values delete members: "alg" to publish the key without alg).
func (f *foreignIssuer) add(alg Algorithm, kid string, extra map[string]any) {
	f.t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case RS256, RS384, RS512, PS256, PS384, PS512:
		priv = testKey(f.t, RS256, 2).priv
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ES384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case ES512:
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case EdDSA:
		priv = testKey(f.t, EdDSA, 2).priv
	}
	if err != nil {
		f.t.Fatal(err)
	}
	members := map[string]any{"alg": string(alg), "use": "sig"}
	for k, v := range extra {
		members[k] = v
	}
	f.keys = append(f.keys, rawJWK(f.t, priv.Public(), kid, members))
	f.privs[kid], f.algs[kid] = priv, alg
}

// sign signs claims with the key kid under alg (by default the key's own),
// with the header's typ (omitted when "") and, unless noKID, its kid.
func (f *foreignIssuer) sign(kid string, alg Algorithm, typ string, noKID bool, claims map[string]any) string {
	f.t.Helper()
	if alg == "" {
		alg = f.algs[kid]
	}
	return f.signWith(f.privs[kid], alg, kid, typ, noKID, claims)
}

// signWith is sign with any private key under the header kid.
func (f *foreignIssuer) signWith(priv crypto.Signer, alg Algorithm, kid, typ string, noKID bool, claims map[string]any) string {
	f.t.Helper()
	opts := &gojose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(gojose.ContentType(typ))
	}
	if !noKID {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := gojose.NewSigner(gojose.SigningKey{Algorithm: gojose.SignatureAlgorithm(alg), Key: priv}, opts)
	if err != nil {
		f.t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		f.t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// verifier trusts f (as testIssuer) with cfg's other settings.
func (f *foreignIssuer) verifier(mod func(*VerifierConfig)) *Verifier {
	f.t.Helper()
	cfg := VerifierConfig{Issuer: testIssuer, JWKSURL: f.srv.URL, Audience: []string{testAudience}, InsecureAllowHTTP: true, Now: func() time.Time { return testEpoch }}
	if mod != nil {
		mod(&cfg)
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		f.t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// foreignClaims are a foreign issuer's access-token claims: no jti, nbf or
// ver unless mod adds them.
func foreignClaims(mod func(map[string]any)) map[string]any {
	c := map[string]any{
		"iss": testIssuer, "sub": "user-1", "aud": testAudience,
		"iat": testEpoch.Unix(), "exp": testEpoch.Add(10 * time.Minute).Unix(),
	}
	if mod != nil {
		mod(c)
	}
	return c
}

func TestVerifierTokenTypes(t *testing.T) {
	t.Parallel()
	f := newForeignIssuer(t)
	f.add(RS256, "k1", nil)
	types := func(list ...string) func(*VerifierConfig) {
		return func(c *VerifierConfig) { c.TokenTypes = list }
	}
	tests := []struct {
		name  string
		typ   string // "" omits the header
		mod   func(*VerifierConfig)
		ok    bool
		error string // part of the refusal
	}{
		{"default: at+jwt", "at+jwt", nil, true, ""},
		{"default: application/at+jwt", "application/at+jwt", nil, true, ""},
		{"default: AT+JWT", "AT+JWT", nil, true, ""},
		{"default refuses JWT and says how to admit it", "JWT", nil, false, `typ "JWT"): list it in TrustedIssuer.TokenTypes or VerifierConfig.TokenTypes`},
		{"default refuses a missing typ", "", nil, false, "typ header missing"},
		{"JWT admitted", "JWT", types("JWT"), true, ""},
		{"jwt, any case", "jwt", types("JWT"), true, ""},
		{"application/JWT", "application/JWT", types("JWT"), true, ""},
		{"JWT list refuses at+jwt", "at+jwt", types("JWT"), false, "wrong token type"},
		{"JWT list refuses a missing typ", "", types("JWT"), false, "typ header missing"},
		{"empty string admits a missing typ", "", types("JWT", ""), true, ""},
		{"empty string alone refuses JWT", "JWT", types(""), false, "wrong token type"},
		{"configured with the prefix: application/jwt admits JWT", "JWT", types("application/jwt"), true, ""},
		{"configured with the prefix: application/jwt admits application/JWT", "application/JWT", types("application/jwt"), true, ""},
		{"configured with the prefix: no double prefix", "application/application/jwt", types("application/jwt"), false, "wrong token type"},
		{"a near miss: application/jwtx", "application/jwtx", types("JWT"), false, "wrong token type"},
		{"a near miss: xapplication/JWT", "xapplication/JWT", types("JWT"), false, "wrong token type"},
		{"per issuer", "JWT", func(c *VerifierConfig) {
			c.Issuer, c.JWKSURL = "", ""
			c.TokenTypes = []string{"at+jwt"}
			c.Issuers = []TrustedIssuer{{Issuer: testIssuer, JWKSURL: f.srv.URL, TokenTypes: []string{"JWT"}}}
		}, true, ""},
		{"per issuer replaces the Verifier's", "at+jwt", func(c *VerifierConfig) {
			c.Issuer, c.JWKSURL = "", ""
			c.Issuers = []TrustedIssuer{{Issuer: testIssuer, JWKSURL: f.srv.URL, TokenTypes: []string{"JWT"}}}
		}, false, "wrong token type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := f.verifier(tt.mod)
			_, err := v.Verify(context.Background(), f.sign("k1", "", tt.typ, false, foreignClaims(nil)))
			if tt.ok {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), tt.error) {
				t.Fatalf("Verify: %v, want ErrInvalidToken saying %q", err, tt.error)
			}
		})
	}
	// A typ present but empty is no media type, never "absent".
	if _, err := f.verifier(types("")).Verify(context.Background(), f.sign("k1", "", "", false, foreignClaims(nil))); err != nil {
		t.Fatalf("no typ under {\"\"}: %v", err)
	}
	for _, bad := range [][]string{{"a b"}, {"x\x00"}, {strings.Repeat("t", 256)}} {
		if _, err := NewVerifier(VerifierConfig{Issuer: testIssuer, JWKSURL: "https://a/j", Audience: []string{"api"}, TokenTypes: bad}); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("TokenTypes %q: %v, want ErrInvalidConfig", bad, err)
		}
	}
}

func TestVerifierForeignClaims(t *testing.T) {
	t.Parallel()
	f := newForeignIssuer(t)
	f.add(RS256, "k1", nil)
	ctx := context.Background()
	v := f.verifier(func(c *VerifierConfig) { c.TokenTypes = []string{"JWT"} })
	verify := func(mod func(map[string]any)) (*Claims, error) {
		return v.Verify(ctx, f.sign("k1", "", "JWT", false, foreignClaims(mod)))
	}
	scopes := []struct {
		name  string
		mod   func(map[string]any)
		scope string
	}{
		{"scope string", func(m map[string]any) { m["scope"] = "read write" }, "read write"},
		{"scope array", func(m map[string]any) { m["scope"] = []string{"read", "write"} }, "read write"},
		{"scp string (Entra ID)", func(m map[string]any) { m["scp"] = "User.Read Mail.Send" }, "User.Read Mail.Send"},
		{"scp array (Okta)", func(m map[string]any) { m["scp"] = []string{"openid", "email"} }, "openid email"},
		{"scope wins over scp", func(m map[string]any) { m["scope"], m["scp"] = "read", []string{"admin"} }, "read"},
		{"empty array", func(m map[string]any) { m["scope"] = []string{} }, ""},
		{"none", nil, ""},
	}
	for _, tt := range scopes {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := verify(tt.mod)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Scope != tt.scope {
				t.Fatalf("Scope = %q, want %q", c.Scope, tt.scope)
			}
			for _, s := range strings.Fields(tt.scope) {
				if !c.HasScope(s) {
					t.Fatalf("HasScope(%q) = false", s)
				}
			}
			if c.HasScope("admin") && tt.scope != "admin" {
				t.Fatal("HasScope of a scope only scp named, under a scope claim")
			}
		})
	}
	c, err := verify(func(m map[string]any) { m["scope"], m["scp"] = "read", []string{"admin"} })
	if err != nil || c.Extra["scp"] == nil {
		t.Fatalf("scp beside scope stays in Extra: %v, %v", c, err)
	}
	// Scope tokens are separated by spaces only (RFC 6749 §3.3): other
	// white space belongs to the token.
	if c, err := verify(func(m map[string]any) { m["scope"] = "files:read\u00a0admin\ttools" }); err != nil || c.HasScope("admin") || c.HasScope("tools") {
		t.Fatalf("a scope string with NBSP and tab: %+v, %v; want neither admin nor tools", c, err)
	}
	for _, bad := range []func(map[string]any){
		func(m map[string]any) { m["scope"] = []any{"read", 1} },
		func(m map[string]any) { m["scope"] = []string{"read write"} },
		func(m map[string]any) { m["scope"] = []string{""} },
		func(m map[string]any) { m["scp"] = map[string]any{"a": 1} },
		func(m map[string]any) { m["scope"] = 7 },
	} {
		if _, err := verify(bad); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("a malformed scope claim: %v, want ErrInvalidToken", err)
		}
	}

	// Without a store: no jti, no nbf, Entra ID's string ver.
	c, err = verify(func(m map[string]any) { m["ver"] = "2.0"; m["tid"] = "tenant" })
	if err != nil {
		t.Fatalf("a token without jti and with ver \"2.0\": %v", err)
	}
	if c.Version != 0 || c.Extra["ver"] != "2.0" || c.Extra["tid"] != "tenant" {
		t.Fatalf("claims = %+v, want ver and tid in Extra", c)
	}
	// With a store the deny-list needs jti and the version check a numeric
	// ver.
	withStore := f.verifier(func(c *VerifierConfig) { c.TokenTypes = []string{"JWT"}; c.Store = memstore.New() })
	for _, tc := range []struct {
		name string
		mod  func(map[string]any)
		want string
	}{
		{"no jti", func(m map[string]any) { m["ver"] = 0; m["client_id"] = "c"; m["sub"] = "c" }, "jti missing"},
		{"ver 2.0", func(m map[string]any) { m["ver"] = "2.0"; m["jti"] = "~j"; m["client_id"] = "c"; m["sub"] = "c" }, "no version"},
	} {
		if _, err := withStore.Verify(ctx, f.sign("k1", "", "JWT", false, foreignClaims(tc.mod))); !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("with a store, %s: %v, want ErrInvalidToken saying %q", tc.name, err, tc.want)
		}
	}
}

func TestVerifierAlgorithms(t *testing.T) {
	t.Parallel()
	all := []Algorithm{RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA}
	f := newForeignIssuer(t)
	for _, alg := range all {
		f.add(alg, "key-"+string(alg), nil)
	}
	ctx := context.Background()
	allowAll := f.verifier(func(c *VerifierConfig) { c.Algorithms = all })
	byDefault := f.verifier(nil)
	for _, alg := range all {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			kid := "key-" + string(alg)
			tok := f.sign(kid, "", "at+jwt", false, foreignClaims(nil))
			if _, err := allowAll.Verify(ctx, tok); err != nil {
				t.Fatalf("listed in Algorithms: %v", err)
			}
			_, err := byDefault.Verify(ctx, tok)
			if def := alg == RS256 || alg == ES256 || alg == EdDSA; def != (err == nil) {
				t.Fatalf("default allow-list: %v", err)
			}
			// Tampered: one character of the signature changed.
			i, c := strings.LastIndexByte(tok, '.')+5, "A"
			if tok[i] == 'A' {
				c = "B"
			}
			tampered := tok[:i] + c + tok[i+1:]
			if _, err := allowAll.Verify(ctx, tampered); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("tampered signature: %v", err)
			}
		})
	}
	// Each key verifies with its own algorithm only: the RSA key published
	// for PS256 refuses a PKCS #1 v1.5 signature by the same private key, the
	// RS256 one a PSS signature, the P-384 key an ES512 header.
	for _, c := range []struct {
		kid    string
		alg    Algorithm
		signer string // whose private key signs
	}{{"key-PS256", RS256, "key-PS256"}, {"key-RS256", PS256, "key-RS256"}, {"key-RS384", RS512, "key-RS384"}, {"key-ES384", ES512, "key-ES512"}} {
		tok := f.signWith(f.privs[c.signer], c.alg, c.kid, "at+jwt", false, foreignClaims(nil))
		if _, err := allowAll.Verify(ctx, tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s signature under the key %s: %v, want ErrInvalidToken", c.alg, c.kid, err)
		}
	}
	// An RSA key published without alg verifies RS256 only (Entra ID's JWKS
	// has no alg members).
	g := newForeignIssuer(t)
	g.add(RS256, "no-alg", map[string]any{"alg": nil})
	v := g.verifier(func(c *VerifierConfig) { c.Algorithms = all })
	if _, err := v.Verify(ctx, g.sign("no-alg", RS256, "at+jwt", false, foreignClaims(nil))); err != nil {
		t.Fatalf("RS256 by a key without alg: %v", err)
	}
	if _, err := v.Verify(ctx, g.sign("no-alg", PS256, "at+jwt", false, foreignClaims(nil))); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("PS256 by a key without alg: %v, want ErrInvalidToken", err)
	}
}

func TestVerifierTokensWithoutKID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newForeignIssuer(t)
	f.add(RS256, "only-rs", nil)
	f.add(ES256, "es-1", nil)
	f.add(ES256, "es-2", nil)
	v := f.verifier(nil)
	if _, err := v.Verify(ctx, f.sign("only-rs", "", "at+jwt", true, foreignClaims(nil))); err != nil {
		t.Fatalf("no kid, one RS256 key: %v", err)
	}
	_, err := v.Verify(ctx, f.sign("es-1", "", "at+jwt", true, foreignClaims(nil)))
	if !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "no kid") {
		t.Fatalf("no kid, two ES256 keys: %v, want ErrInvalidToken", err)
	}
	if _, err := v.Verify(ctx, f.sign("es-2", "", "at+jwt", false, foreignClaims(nil))); err != nil {
		t.Fatalf("with kid, two ES256 keys: %v", err)
	}
	// A token without kid of an algorithm the cached set has no key for
	// refetches, as an unknown kid does: the issuer may have just moved
	// to it.
	v = f.verifier(nil) // its unknown-kid refetch budget unspent
	if _, err := v.Verify(ctx, f.sign("only-rs", "", "at+jwt", true, foreignClaims(nil))); err != nil {
		t.Fatal(err)
	}
	f.add(EdDSA, "ed-new", nil)
	hits := f.srv.hits.Load()
	if _, err := v.Verify(ctx, f.sign("ed-new", "", "at+jwt", true, foreignClaims(nil))); err != nil {
		t.Fatalf("no kid, a key of a new algorithm published since the last fetch: %v", err)
	}
	if got := f.srv.hits.Load() - hits; got != 1 {
		t.Fatalf("%d fetches for the new algorithm's key, want 1", got)
	}
	// The issuer's own Verify never takes a token without kid.
	iss, _ := newTestIssuer(t, nil)
	k := testKey(t, RS256, 0)
	now := testEpoch.Unix()
	claims := `{"iss":"` + testIssuer + `","sub":"u","aud":"api","exp":` + itoa(now+60) + `,"iat":` + itoa(now) + `,"jti":"~j","sid":"s","ver":0}`
	if _, err := iss.Verify(ctx, craft(t, k, `{"alg":"RS256","typ":"at+jwt"}`, claims)); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Issuer.Verify of a token without kid: %v", err)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestJWKSOfManyUnusableEntries: a document of thousands of small unusable
// entries (as a trusted issuer's compromised or broken endpoint could
// serve) costs a bounded scan and a bounded log, and its usable key works.
func TestJWKSOfManyUnusableEntries(t *testing.T) {
	t.Parallel()
	f := newForeignIssuer(t)
	f.add(ES256, "good", nil)
	for range 5000 {
		f.keys = append(f.keys, json.RawMessage(`{}`))
	}
	var log lockedBuffer
	v := f.verifier(func(c *VerifierConfig) {
		c.Logger = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	if _, err := v.Verify(context.Background(), f.sign("good", "", "at+jwt", false, foreignClaims(nil))); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if n := strings.Count(log.String(), "\n"); n > maxJWKSLogged+3 {
		t.Fatalf("%d log records for one document, want at most %d", n, maxJWKSLogged+3)
	}
	if !strings.Contains(log.String(), "too many keys") || !strings.Contains(log.String(), "without a record each") {
		t.Fatalf("log lacks the summary records:\n%s", log.String())
	}
}

// TestVerifierRefetchWorthIt: a token the cached keys cannot verify
// refetches only when its claims could pass (a token without kid whose
// issuer replaced its one key included), so stale or misdirected tokens
// never spend the unknown-kid refetch a genuine new key needs next.
func TestVerifierRefetchWorthIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newForeignIssuer(t)
	f.add(ES256, "k1", nil)
	v := f.verifier(nil)
	if _, err := v.Verify(ctx, f.sign("k1", "", "at+jwt", true, foreignClaims(nil))); err != nil {
		t.Fatal(err)
	}
	// Unknown kids with claims that fail anyway: no fetch.
	hits := f.srv.hits.Load()
	for _, mod := range []func(map[string]any){
		func(m map[string]any) { m["exp"] = testEpoch.Add(-time.Hour).Unix() },
		func(m map[string]any) { m["iss"] = "https://other.example" },
		func(m map[string]any) { m["aud"] = "another-api" },
	} {
		f.add(ES256, "stranger", nil)
		tok := f.sign("stranger", "", "at+jwt", false, foreignClaims(mod))
		f.keys = f.keys[:len(f.keys)-1] // never published
		if _, err := v.Verify(ctx, tok); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("a doomed token with an unknown kid: %v", err)
		}
	}
	if got := f.srv.hits.Load() - hits; got != 0 {
		t.Fatalf("doomed tokens cost %d fetches, want 0", got)
	}
	// The issuer replaces its one key; tokens keep omitting kid: the
	// first one refetches and verifies.
	f.keys = nil
	f.add(ES256, "k2", nil)
	if _, err := v.Verify(ctx, f.sign("k2", "", "at+jwt", true, foreignClaims(nil))); err != nil {
		t.Fatalf("no kid, the issuer's one key replaced: %v", err)
	}
	if got := f.srv.hits.Load() - hits; got != 1 {
		t.Fatalf("%d fetches for the replaced key, want 1", got)
	}
	// A forged kid-less token (the key is right, the signature not) costs
	// at most that refetch and is refused.
	tok := f.sign("k2", "", "at+jwt", true, foreignClaims(nil))
	i := strings.LastIndexByte(tok, '.') + 3
	forged := tok[:i] + map[bool]string{true: "B", false: "A"}[tok[i] == 'A'] + tok[i+1:]
	if _, err := v.Verify(ctx, forged); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a forged kid-less token: %v", err)
	}
}
