package main

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/sealedstore"
)

// t0 is the clock of the issuers of the inspect and verify tests.
var t0 = time.Date(2025, 1, 2, 15, 0, 0, 0, time.UTC)

// newIssuerAt returns an Issuer for https://auth.example.com on st whose
// clock stands at now.
func newIssuerAt(t *testing.T, st store.Store, now time.Time, cfg sessionkit.Config) *sessionkit.Issuer {
	t.Helper()
	key, err := sessionkit.GenerateSigningKey(sessionkit.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "https://auth.example.com"
	}
	cfg.Audience = []string{"api"}
	cfg.Keys = sessionkit.NewKeySet(key)
	cfg.Store = st
	cfg.Now = func() time.Time { return now }
	iss, err := sessionkit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

// jws returns a compact JWS of header and payload (raw JSON) with a
// signature nobody checks.
func jws(header, payload string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString([]byte("not a signature"))
}

// goodHeader is the header of sessionkit's access tokens.
const goodHeader = `{"alg":"RS256","kid":"k1","typ":"at+jwt"}`

// claimsAt returns a claims set as an Issuer mints it at t0 (15 minutes),
// with extra members appended (raw JSON, starting with a comma).
func claimsAt(extra string) string {
	iat := strconv.FormatInt(t0.Unix(), 10)
	exp := strconv.FormatInt(t0.Add(15*time.Minute).Unix(), 10)
	return `{"iss":"https://auth.example.com","sub":"alice","aud":"api","exp":` + exp + `,"nbf":` + iat + `,"iat":` + iat +
		`,"jti":"~abc","sid":"s1","ver":0` + extra + `}`
}

func TestInspectAccessToken(t *testing.T) {
	t.Parallel()
	iss := newIssuerAt(t, memstore.New(), t0, sessionkit.Config{})
	toks := loginAt(t, iss, "alice")
	sig := toks.AccessToken[strings.LastIndexByte(toks.AccessToken, '.')+1:]
	exp := strconv.FormatInt(t0.Add(15*time.Minute).Unix(), 10)
	iat := strconv.FormatInt(t0.Unix(), 10)
	big := `,"x":"` + strings.Repeat("a", 9000) + `"`

	tests := []struct {
		name  string
		token string
		now   time.Duration // after t0
		want  check
	}{
		{"fresh token of an Issuer", toks.AccessToken, 4 * time.Minute, check{code: 0, stdout: []string{
			"access token (compact JWS), ", "\nheader:\n", "  alg  EdDSA\n", "  typ  at+jwt\n",
			"\nclaims:\n", "  iss    https://auth.example.com\n", "  sub    alice\n", "  aud    api\n",
			"  exp    2025-01-02 15:15:00 UTC, expires in 11m\n", "  iat    2025-01-02 15:00:00 UTC, issued 4m ago\n",
			"  nbf    2025-01-02 15:00:00 UTC, valid since 4m ago\n", "  sid    " + toks.SessionID, "  scope  read write\n",
			"problems: none found (the signature, issuer, audience and revocation were not checked)",
		}, absent: []string{sig}}},
		{"expired", toks.AccessToken, 3 * time.Hour, check{code: 1, stdout: []string{"expired 2h45m ago\n", "problems:\n  - expired 2h45m ago\n"}}},
		{"expired inside the leeway", toks.AccessToken, 15*time.Minute + 10*time.Second, check{code: 1, stdout: []string{
			"  - expired 10s ago, inside the default 30s leeway: accepted 20s longer\n"}}},
		{"not yet valid", jws(goodHeader, strings.Replace(claimsAt(""), `"nbf":`+iat, `"nbf":`+strconv.FormatInt(t0.Add(10*time.Minute).Unix(), 10), 1)), 0, check{code: 1, stdout: []string{
			"valid from in 10m", "  - not yet valid: nbf is in 10m\n"}}},
		{"issued in the future", jws(goodHeader, claimsAt("")), -time.Hour, check{code: 1, stdout: []string{"  - issued in the future: iat is in 1h\n"}}},
		{"typ JWT", jws(`{"alg":"RS256","kid":"k1","typ":"JWT"}`, claimsAt("")), 0, check{code: 1, stdout: []string{`  - typ "JWT" is not at+jwt`}}},
		{"typ application/AT+JWT", jws(`{"alg":"RS256","kid":"k1","typ":"application/AT+JWT"}`, claimsAt("")), 0, check{code: 0}},
		{"no typ", jws(`{"alg":"RS256","kid":"k1"}`, claimsAt("")), 0, check{code: 1, stdout: []string{"  - typ missing: "}}},
		{"no kid", jws(`{"alg":"RS256","typ":"at+jwt"}`, claimsAt("")), 0, check{code: 1, stdout: []string{"  - kid missing: "}}},
		{"ES384", jws(`{"alg":"ES384","kid":"k1","typ":"at+jwt"}`, claimsAt("")), 0, check{code: 1, stdout: []string{
			"  - alg ES384 is not in the default allow-list (RS256, ES256, EdDSA)"}}},
		{"HS256", jws(`{"alg":"HS256","kid":"k1","typ":"at+jwt"}`, claimsAt("")), 0, check{code: 1, stdout: []string{"  - alg HS256 is HMAC"}}},
		{"unknown alg", jws(`{"alg":"XS999","kid":"k1","typ":"at+jwt"}`, claimsAt("")), 0, check{code: 1, stdout: []string{`  - alg "XS999" is unknown to sessionkit`}}},
		{"missing claims", jws(goodHeader, `{"exp":`+exp+`}`), 0, check{code: 1, stdout: []string{
			"  - iss missing: ", "  - sub missing: ", "  - aud missing: ", "  - iat missing: ", "  - jti missing: ", "  - ver missing: ", "  - neither sid nor client_id: ",
		}, absent: []string{"exp missing"}}},
		{"a client token needs no sid", jws(goodHeader, strings.Replace(claimsAt(`,"client_id":"svc"`), `"sid":"s1",`, "", 1)), 0, check{code: 0}},
		{"claims of the wrong type", jws(goodHeader, `{"iss":1,"sub":"","aud":[1],"exp":"soon","iat":`+iat+`,"jti":"j","sid":"s","ver":-1,"scope":["read","write"]}`), 0, check{code: 1, stdout: []string{
			"  - iss is not a string", "  - sub is empty", "  - aud is not a string or an array of strings", "  - exp is not a valid NumericDate",
			"  - ver is not a non-negative integer", "  - scope is an array: a Verifier accepts it, Issuer.Verify",
		}, absent: []string{"exp missing"}}},
		{"exp before iat", jws(goodHeader, strings.Replace(claimsAt(""), `"exp":`+exp, `"exp":`+iat, 1)), 0, check{code: 1, stdout: []string{"  - exp is not after iat"}}},
		{"application claims", jws(goodHeader, claimsAt(`,"plan":"pro","roles":[ "a", "b" ]`)), 0, check{code: 0, stdout: []string{"  plan   pro\n", `  roles  ["a","b"]`}}},
		{"control characters are escaped", jws(goodHeader, claimsAt(`,"name":"\u001b[31mred\u202e"`)), 0, check{code: 0, stdout: []string{`  name  "\x1b[31mred\u202e"`}, absent: []string{"\x1b", "\u202e"}}},
		{"over DefaultMaxTokenSize", jws(goodHeader, claimsAt(big)), 0, check{code: 1, stdout: []string{"bytes, over DefaultMaxTokenSize (8192): refused unless MaxTokenSize is raised"}}},
		{"over MaxTokenSizeLimit", jws(goodHeader, claimsAt(big+big+big+big)), 0, check{code: 1, stdout: []string{"REFUSED: ", "over MaxTokenSizeLimit (32768)"}, absent: []string{"claims:"}}},
		{"alg none", jws(`{"alg":"none","typ":"at+jwt"}`, claimsAt("")), 0, check{code: 1, stdout: []string{`REFUSED: sessionkit: invalid token: header: alg "none" is not accepted`}, absent: []string{"claims:", "\nheader:\n"}}},
		{"embedded key", jws(`{"alg":"RS256","jwk":{},"typ":"at+jwt"}`, claimsAt("")), 0, check{code: 1, stdout: []string{"REFUSED: ", "embedded or remote key headers are never trusted"}}},
		{"duplicate claim", jws(goodHeader, `{"sub":"a","sub":"b"}`), 0, check{code: 1, stdout: []string{"REFUSED: sessionkit: invalid token: claims: duplicate member name"}, absent: []string{"claims:\n"}}},
		{"malformed claims", jws(goodHeader, `{"sub":`), 0, check{code: 1, stdout: []string{"REFUSED: sessionkit: invalid token: claims: "}}},
		{"header not base64url", "e30=.e30.c2ln", 0, check{code: 1, stdout: []string{"REFUSED: sessionkit: invalid token: header is not canonical base64url"}}},
		{"non-canonical payload", strings.SplitN(jws(goodHeader, ""), ".", 2)[0] + ".e31.c2ln", 0, check{code: 1, stdout: []string{"REFUSED: sessionkit: invalid token: payload is not canonical base64url"}}},
		{"not a JWS", "hello", 0, check{code: 1, stdout: []string{"REFUSED: sessionkit: invalid token: not a compact JWS"}}},
		{"JWE", "a.b.c.d.e", 0, check{code: 1, stdout: []string{"REFUSED: sessionkit: invalid token: too many segments"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.want.firstLine = "NOT VERIFIED"
			tt.want.verify(t, runAt(t, t0.Add(tt.now), "", "inspect", tt.token))
		})
	}
}

func TestInspectRefreshToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	stateful := newIssuerAt(t, memstore.New(), t0, sessionkit.Config{})
	toks := loginAt(t, stateful, "alice")
	rotated, err := stateful.Refresh(ctx, toks.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}

	key, err := sealedstore.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := sealedstore.New(sealedstore.Options{Keys: sealedstore.Keys{Current: key}, Issuer: "https://auth.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	stateless := newIssuerAt(t, sealed, t0, sessionkit.Config{AcceptStoreLimits: store.All, SkipRevocationCheck: true})
	sealedToks := loginAt(t, stateless, "alice")
	hybridStore, err := sealedstore.New(sealedstore.Options{Keys: sealedstore.Keys{Current: key}, Issuer: "https://auth.example.com", State: memstore.New()})
	if err != nil {
		t.Fatal(err)
	}
	hybrid := newIssuerAt(t, hybridStore, t0, sessionkit.Config{AcceptStoreLimits: store.ListSessions})
	hybridToks := loginAt(t, hybrid, "alice")

	secretOf := func(tok string) string { return tok[strings.LastIndexByte(tok, '.')+1:] }
	secret := strings.Repeat("A", 43)
	tests := []struct {
		name  string
		token string
		want  check
	}{
		{"first generation", toks.RefreshToken, check{code: 0, stdout: []string{
			"refresh token (sessionkit skr1)", "a live credential", "handle: stateful",
			"  session id   " + toks.SessionID + " (the sid claim of its access tokens)\n",
			"  generation   1 (the session's first refresh token)\n",
			"secret: 43 characters, not shown\n", "problems: none found (the store was not asked",
		}, absent: []string{secretOf(toks.RefreshToken)}}},
		{"after a rotation", rotated.RefreshToken, check{code: 0, stdout: []string{"  generation   2 (after 1 rotations)\n"}, absent: []string{secretOf(rotated.RefreshToken)}}},
		{"sealed", sealedToks.RefreshToken, check{code: 0, stdout: []string{"presumably the sealed store's sealed session (sealedstore)"}, absent: []string{secretOf(sealedToks.RefreshToken)}}},
		{"sealed with a state store", hybridToks.RefreshToken, check{code: 0, stdout: []string{"sealedstore hybrid", "  session id   " + hybridToks.SessionID}, absent: []string{secretOf(hybridToks.RefreshToken)}}},
		{"secret not base64url", "skr1.AAAAAAAAAAAA~sid~1." + strings.Repeat("*", 43), check{code: 1, stdout: []string{"  - the secret is not 256 bits of canonical base64url"}, absent: []string{strings.Repeat("*", 43)}}},
		{"no secret", "skr1.AAAAAAAAAAAA~sid~1", check{code: 1, stdout: []string{"REFUSED: sessionkit: invalid token: malformed refresh token"}}},
		{"bad handle", "skr1.AAAA$AAAA." + secret, check{code: 1, stdout: []string{"REFUSED: sessionkit: invalid token: malformed refresh token handle"}, absent: []string{secret}}},
		{"too long", "skr1." + strings.Repeat("A", 4000) + "." + secret, check{code: 1, stdout: []string{"REFUSED: sessionkit: invalid token: refresh token exceeds the size limit"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.want.firstLine = "NOT VERIFIED"
			tt.want.verify(t, runAt(t, t0, "", "inspect", tt.token))
		})
	}
}

func TestInspectInput(t *testing.T) {
	t.Parallel()
	tok := jws(goodHeader, claimsAt(""))
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  check
	}{
		{"standard input", "\n  " + tok + "\n", nil, check{code: 0, firstLine: "NOT VERIFIED"}},
		{"dash", tok, []string{"-"}, check{code: 0, firstLine: "NOT VERIFIED"}},
		{"Bearer", "Bearer " + tok, nil, check{code: 0, firstLine: "NOT VERIFIED"}},
		{"argument with Bearer", "", []string{"bearer " + tok}, check{code: 0}},
		{"empty input", " \n", nil, check{code: 2, emptyStdout: true, stderr: []string{"no token: give it as the argument or on standard input"}}},
		{"two tokens", "", []string{tok, tok}, check{code: 2, emptyStdout: true, stderr: []string{"give one token, not 2 arguments"}}},
		{"huge input", strings.Repeat("a", maxInput+1), nil, check{code: 1, emptyStdout: true, stderr: []string{"standard input holds more than"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.want.verify(t, runAt(t, t0, tt.stdin, append([]string{"inspect"}, tt.args...)...))
		})
	}
}

func TestSpan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{42 * time.Second, "42s"},
		{4 * time.Minute, "4m"},
		{4*time.Minute + 12*time.Second + 900*time.Millisecond, "4m12s"},
		{3*time.Hour + 5*time.Minute + 59*time.Second, "3h5m"},
		{50 * time.Hour, "2d2h"},
		{30 * 24 * time.Hour, "30d"},
	}
	for _, tt := range tests {
		if got := span(tt.d); got != tt.want {
			t.Errorf("span(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// FuzzInspect runs inspect on anything: it never panics, always says first
// that nothing was verified, and never prints a refresh token's secret.
func FuzzInspect(f *testing.F) {
	f.Add(jws(goodHeader, claimsAt("")))
	f.Add(jws(`{"alg":"none"}`, `{}`))
	f.Add("skr1.AAAAAAAAAAAA~sid~1." + strings.Repeat("B", 43))
	f.Add("skr1.blob~AAAAAAAAAAAA~sid~2." + strings.Repeat("C", 43))
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		got := runAt(t, t0, tok, "inspect")
		if got.code == 2 {
			return // nothing to inspect (empty input)
		}
		if !strings.HasPrefix(got.stdout, notVerified+"\n") {
			t.Fatalf("first line is not the warning:\n%s", got.stdout)
		}
		trimmed := strings.TrimSpace(tok)
		if strings.HasPrefix(trimmed, refreshPrefix) && len(trimmed) > len(refreshPrefix)+refreshSecretB64Len {
			secret := trimmed[len(trimmed)-refreshSecretB64Len:]
			if strings.Contains(got.stdout, secret) || strings.Contains(got.stderr, secret) {
				t.Fatalf("the output shows the secret %q:\n%s", secret, got.stdout)
			}
		}
	})
}

// loginAt returns the tokens of a fresh login at an Issuer whose clock
// stands at now.
func loginAt(t *testing.T, iss *sessionkit.Issuer, subject string) *sessionkit.Tokens {
	t.Helper()
	toks, err := iss.Login(context.Background(), sessionkit.Grant{
		Subject: subject, Scope: "read write",
		Device: sessionkit.Device{UserAgent: "Mozilla/5.0 (test)", IP: "192.0.2.7"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return toks
}
