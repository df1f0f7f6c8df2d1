package sessionkit

import (
	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// craft builds a compact JWS from a raw header and payload, signed with k's
// own algorithm, so that only the defect under test can make it fail.
func craft(t testing.TB, k *SigningKey, header, payload string) string {
	t.Helper()
	tok, err := signCompact(k, b64.EncodeToString([]byte(header)), []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// headerMembers returns n extra header members ,"h0":0,"h1":0,...
func headerMembers(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `,"h%d":0`, i)
	}
	return b.String()
}

// hsToken signs header.payload with HMAC keyed by secret (the classic
// algorithm-confusion attack when secret is our public key).
func hsToken(alg, header, payload string, secret []byte) string {
	var h func() hash.Hash
	switch alg {
	case "HS256":
		h = sha256.New
	case "HS384":
		h = sha512.New384
	default:
		h = sha512.New
	}
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	m := hmac.New(h, secret)
	m.Write([]byte(input))
	return input + "." + b64.EncodeToString(m.Sum(nil))
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	iss, clock := newTestIssuer(t, nil)
	k := testKey(t, RS256, 0)
	kid := k.KeyID()
	now := clock.Now().Unix()
	toks := login(t, iss, "victim")
	good, err := iss.Verify(context.Background(), toks.AccessToken)
	if err != nil {
		t.Fatalf("fresh token does not verify: %v", err)
	}

	hdr := func(alg string, extra string) string {
		return `{"alg":"` + alg + `","kid":"` + kid + `","typ":"at+jwt"` + extra + `}`
	}
	claims := func(mod func(m map[string]string)) string {
		m := map[string]string{
			"iss": strconv.Quote(testIssuer), "sub": `"victim"`, "aud": strconv.Quote(testAudience),
			"exp": strconv.FormatInt(now+600, 10), "iat": strconv.FormatInt(now, 10), "nbf": strconv.FormatInt(now, 10),
			"jti": `"~jti-1234567890abcdef"`, "sid": strconv.Quote(good.SessionID), "ver": "0",
		}
		if mod != nil {
			mod(m)
		}
		var b strings.Builder
		b.WriteByte('{')
		first := true
		for _, name := range []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "ver", "client_id", "x"} {
			v, ok := m[name]
			if !ok {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			fmt.Fprintf(&b, "%q:%s", name, v)
		}
		b.WriteByte('}')
		return b.String()
	}
	okPayload := claims(nil)
	withX := claims(func(m map[string]string) { m["x"] = "1" })
	withDuplicate := withX[:len(withX)-1] + `,"x":2}`

	// Our RSA public key as HS secrets: PEM (PKIX and PKCS#1) and DER.
	der, _ := x509.MarshalPKIXPublicKey(k.Public())
	pemPKIX := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	pemPKCS1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(k.Public().(*rsa.PublicKey))})

	parts := strings.Split(toks.AccessToken, ".")
	big := strings.Repeat("A", DefaultMaxTokenSize) + "." + parts[1] + "." + parts[2]

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"control: crafted good token verifies", craft(t, k, hdr("RS256", ""), okPayload), nil},
		{"alg none", craft(t, k, hdr("none", ""), okPayload), ErrInvalidToken},
		{"alg NONE", craft(t, k, hdr("NONE", ""), okPayload), ErrInvalidToken},
		{"alg nOnE unsigned", b64.EncodeToString([]byte(hdr("nOnE", ""))) + "." + b64.EncodeToString([]byte(okPayload)) + ".", ErrInvalidToken},
		{"alg none unsigned without kid", b64.EncodeToString([]byte(`{"alg":"none"}`)) + "." + b64.EncodeToString([]byte(okPayload)) + ".", ErrInvalidToken},
		{"HS256 keyed with our public key (PEM)", hsToken("HS256", hdr("HS256", ""), okPayload, pemPKIX), ErrInvalidToken},
		{"HS256 keyed with our public key (DER)", hsToken("HS256", hdr("HS256", ""), okPayload, der), ErrInvalidToken},
		{"HS256 keyed with our public key (PKCS#1 PEM)", hsToken("HS256", hdr("HS256", ""), okPayload, pemPKCS1), ErrInvalidToken},
		{"HS384", hsToken("HS384", hdr("HS384", ""), okPayload, pemPKIX), ErrInvalidToken},
		{"HS512", hsToken("HS512", hdr("HS512", ""), okPayload, pemPKIX), ErrInvalidToken},
		{"ES256 claimed for an RSA key", craft(t, k, hdr("ES256", ""), okPayload), ErrInvalidToken},
		{"PS256 (not on the allow-list)", craft(t, k, hdr("PS256", ""), okPayload), ErrInvalidToken},
		{"unknown kid", craft(t, k, `{"alg":"RS256","kid":"nope","typ":"at+jwt"}`, okPayload), ErrInvalidToken},
		{"missing kid", craft(t, k, `{"alg":"RS256","typ":"at+jwt"}`, okPayload), ErrInvalidToken},
		{"missing typ", craft(t, k, `{"alg":"RS256","kid":"`+kid+`"}`, okPayload), ErrInvalidToken},
		{"typ JWT (e.g. an ID token)", craft(t, k, `{"alg":"RS256","kid":"`+kid+`","typ":"JWT"}`, okPayload), ErrInvalidToken},
		{"typ not a string", craft(t, k, `{"alg":"RS256","kid":"`+kid+`","typ":1}`, okPayload), ErrInvalidToken},
		{"wrong iss", craft(t, k, hdr("RS256", ""), claims(func(m map[string]string) { m["iss"] = `"https://evil.example"` })), ErrInvalidToken},
		{"missing iss", craft(t, k, hdr("RS256", ""), claims(func(m map[string]string) { delete(m, "iss") })), ErrInvalidToken},
		{"aud without ours", craft(t, k, hdr("RS256", ""), claims(func(m map[string]string) { m["aud"] = `["other","api2"]` })), ErrInvalidToken},
		{"aud missing", craft(t, k, hdr("RS256", ""), claims(func(m map[string]string) { delete(m, "aud") })), ErrInvalidToken},
		{"aud not strings", craft(t, k, hdr("RS256", ""), claims(func(m map[string]string) { m["aud"] = `["api",1]` })), ErrInvalidToken},
		{"aud list containing ours", craft(t, k, hdr("RS256", ""), claims(func(m map[string]string) { m["aud"] = `["other","api"]` })), nil},
		{"exp passed beyond leeway", craft(t, k, hdr("RS256", ""), claims(func(m map[string]string) { m["exp"] = strconv.FormatInt(now-31, 10) })), ErrTokenExpired},
		{"exp passed within leeway", craft(t, k, hdr("RS256", ""), claims(func(m map[string]string) { m["exp"] = strconv.FormatInt(now-29, 10) })), nil},
		{"exp missing", craft(t, k, hdr("RS256", ""), claims(func(m map[string]string) { delete(m, "exp") })), ErrInvalidToken},
		{"exp a string", craft(t, k, hdr("RS256", ""), claims(func(m map[string]string) { m["exp"] = `"99999999999"` })), ErrInvalidToken},
		{"exp absurd", craft(t, k, hdr("RS256", ""), claims(func(m map[string]string) { m["exp"] = "1e300" })), ErrInvalidToken},
		{"nbf in the future beyond leeway", craft(t, k, hdr("RS256", ""), claims(func(m map[string]string) { m["nbf"] = strconv.FormatInt(now+31, 10) })), ErrInvalidToken},
		{"nbf in the future within leeway", craft(t, k, hdr("RS256", ""), claims(func(m map[string]string) { m["nbf"] = strconv.FormatInt(now+29, 10) })), nil},
		{"iat in the future beyond leeway", craft(t, k, hdr("RS256", ""), claims(func(m map[string]string) { m["iat"] = strconv.FormatInt(now+31, 10) })), ErrInvalidToken},
		{"iat missing", craft(t, k, hdr("RS256", ""), claims(func(m map[string]string) { delete(m, "iat") })), ErrInvalidToken},
		{"sub missing", craft(t, k, hdr("RS256", ""), claims(func(m map[string]string) { delete(m, "sub") })), ErrInvalidToken},
		{"jti missing", craft(t, k, hdr("RS256", ""), claims(func(m map[string]string) { delete(m, "jti") })), ErrInvalidToken},
		{"ver negative", craft(t, k, hdr("RS256", ""), claims(func(m map[string]string) { m["ver"] = "-1" })), ErrInvalidToken},
		{"jti without the scoped layout's mark (minted under LegacyUnscopedStore)", craft(t, k, hdr("RS256", ""), claims(func(m map[string]string) { m["jti"] = `"jti-1234567890abcdef"` })), ErrInvalidToken},
		{"ver missing (the version check would compare with 0)", craft(t, k, hdr("RS256", ""), claims(func(m map[string]string) { delete(m, "ver") })), ErrInvalidToken},
		{"ver missing from a client token", craft(t, k, hdr("RS256", ""), claims(func(m map[string]string) {
			delete(m, "ver")
			delete(m, "sid")
			m["sub"], m["client_id"] = `"svc"`, `"svc"`
		})), ErrInvalidToken},
		{"duplicate claim", craft(t, k, hdr("RS256", ""), withDuplicate), ErrInvalidToken},
		{"duplicate alg header", craft(t, k, `{"alg":"none","alg":"RS256","kid":"`+kid+`","typ":"at+jwt"}`, okPayload), ErrInvalidToken},
		{"JWS JSON serialization (flattened)", `{"protected":"` + parts[0] + `","payload":"` + parts[1] + `","signature":"` + parts[2] + `"}`, ErrInvalidToken},
		{"JWS JSON serialization (general)", `{"payload":"` + parts[1] + `","signatures":[{"protected":"` + parts[0] + `","signature":"` + parts[2] + `"}]}`, ErrInvalidToken},
		{"embedded jwk header", craft(t, k, hdr("RS256", `,"jwk":{"kty":"RSA","n":"AQAB","e":"AQAB"}`), okPayload), ErrInvalidToken},
		{"jku header", craft(t, k, hdr("RS256", `,"jku":"https://evil.example/jwks"`), okPayload), ErrInvalidToken},
		{"x5u header", craft(t, k, hdr("RS256", `,"x5u":"https://evil.example/cert"`), okPayload), ErrInvalidToken},
		{"x5c header", craft(t, k, hdr("RS256", `,"x5c":["MIIB"]`), okPayload), ErrInvalidToken},
		{"crit header", craft(t, k, hdr("RS256", `,"crit":["exp"],"exp":1`), okPayload), ErrInvalidToken},
		{"crit header, empty", craft(t, k, hdr("RS256", `,"crit":[]`), okPayload), ErrInvalidToken},
		{"zip header", craft(t, k, hdr("RS256", `,"zip":"DEF"`), okPayload), ErrInvalidToken},
		{"b64 false header", craft(t, k, hdr("RS256", `,"b64":false`), okPayload), ErrInvalidToken},
		{"16 header members", craft(t, k, hdr("RS256", headerMembers(13)), okPayload), nil},
		{"17 header members", craft(t, k, hdr("RS256", headerMembers(14)), okPayload), ErrInvalidToken},
		{"header over 2 KiB", craft(t, k, hdr("RS256", `,"x":"`+strings.Repeat("x", 1600)+`"`), okPayload), ErrInvalidToken},
		{"token over the size cap", big, ErrInvalidToken},
		{"four segments", toks.AccessToken + ".x", ErrInvalidToken},
		{"five segments (JWE)", "a.b.c.d.e", ErrInvalidToken},
		{"two segments", parts[0] + "." + parts[1], ErrInvalidToken},
		{"empty signature", parts[0] + "." + parts[1] + ".", ErrInvalidToken},
		{"empty", "", ErrInvalidToken},
		{"padded base64", parts[0] + "=." + parts[1] + "." + parts[2], ErrInvalidToken},
		{"standard base64 alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(toks.AccessToken), ErrInvalidToken},
		{"non-canonical trailing bits", parts[0] + "." + parts[1] + "." + flipLastBits(parts[2]), ErrInvalidToken},
		{"bad base64 character", parts[0] + "." + parts[1] + "!." + parts[2], ErrInvalidToken},
		{"trailing bytes after token", toks.AccessToken + " ", ErrInvalidToken},
		{"trailing newline", toks.AccessToken + "\n", ErrInvalidToken},
		{"trailing bytes after payload JSON", craft(t, k, hdr("RS256", ""), okPayload+"x"), ErrInvalidToken},
		{"trailing bytes after header JSON", craft(t, k, hdr("RS256", "")+"]", okPayload), ErrInvalidToken},
		{"payload not an object", craft(t, k, hdr("RS256", ""), `["a"]`), ErrInvalidToken},
		{"payload invalid utf8", craft(t, k, hdr("RS256", ""), claims(func(m map[string]string) { m["sub"] = "\"\xff\"" })), ErrInvalidToken},
		{"tampered payload", parts[0] + "." + b64.EncodeToString([]byte(claims(func(m map[string]string) { m["sub"] = `"admin"` }))) + "." + parts[2], ErrInvalidToken},
		{"tampered signature", parts[0] + "." + parts[1] + "." + flipFirst(parts[2]), ErrInvalidToken},
		{"signed by a stranger's key", craft(t, testKey(t, RS256, 1), `{"alg":"RS256","kid":"`+kid+`","typ":"at+jwt"}`, okPayload), ErrInvalidToken},
		{"a refresh token", toks.RefreshToken, ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := iss.Verify(context.Background(), tt.token)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify: got %v, want %v", err, tt.want)
			}
			if c != nil {
				t.Fatalf("Verify returned claims with an error")
			}
			if strings.Contains(err.Error(), tt.token[:min(len(tt.token), 40)]) && len(tt.token) > 8 {
				t.Fatalf("error quotes the token: %v", err)
			}
		})
	}
}

func TestVerifySizeCapBeforeDecoding(t *testing.T) {
	t.Parallel()
	iss, _ := newTestIssuer(t, nil)
	// Garbage that would fail base64 and JSON: the size check must answer first.
	_, err := iss.Verify(context.Background(), strings.Repeat("!", DefaultMaxTokenSize+1))
	if !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "size limit") {
		t.Fatalf("got %v, want the size-limit error", err)
	}
	iss2, clock := newTestIssuer(t, func(c *Config) { c.MaxTokenSize = 1024 })
	// Login refuses such a subject (its tokens would not fit); mint directly.
	s := store.Session{ID: "sid", Subject: strings.Repeat("u", 900), ExpiresAt: clock.Now().Add(time.Hour)}
	tok, _, err := iss2.mint(&s, 0, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss2.Verify(context.Background(), tok); err == nil || !strings.Contains(err.Error(), "size limit") {
		t.Fatalf("configured cap not applied: %v", err)
	}
}

func TestVerifyEveryAlgorithm(t *testing.T) {
	t.Parallel()
	for _, alg := range []Algorithm{RS256, ES256, EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			iss, clock := newTestIssuer(t, func(c *Config) { c.Keys = NewKeySet(testKey(t, alg, 0)) })
			toks := login(t, iss, "u1")
			c, err := iss.Verify(context.Background(), toks.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if c.Subject != "u1" || c.SessionID != toks.SessionID || !c.HasScope("write") || c.HasScope("admin") {
				t.Fatalf("claims %+v", c)
			}
			// A token signed by the same algorithm with another key fails.
			other, _ := newTestIssuer(t, func(c *Config) { c.Keys = NewKeySet(testKey(t, alg, 1)) })
			if _, err := iss.Verify(context.Background(), login(t, other, "u1").AccessToken); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("foreign key: %v", err)
			}
			clock.Advance(DefaultAccessTTL + DefaultLeeway)
			if _, err := iss.Verify(context.Background(), toks.AccessToken); !errors.Is(err, ErrTokenExpired) {
				t.Fatalf("after expiry: %v", err)
			}
		})
	}
}

func TestVerifyAfterKeyRotation(t *testing.T) {
	t.Parallel()
	ks := NewKeySet(testKey(t, RS256, 0))
	iss, _ := newTestIssuer(t, func(c *Config) { c.Keys = ks })
	old := login(t, iss, "u1")
	if err := ks.Rotate(testKey(t, ES256, 0)); err != nil {
		t.Fatal(err)
	}
	fresh := login(t, iss, "u1")
	for _, tok := range []string{old.AccessToken, fresh.AccessToken} {
		if _, err := iss.Verify(context.Background(), tok); err != nil {
			t.Fatalf("after rotation: %v", err)
		}
	}
	if h, _ := decodeSegments(t, fresh.AccessToken); !strings.Contains(h, `"ES256"`) {
		t.Fatalf("new tokens not signed by the promoted key: %s", h)
	}
	if err := ks.Retire(testKey(t, RS256, 0).KeyID()); err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify(context.Background(), old.AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("retired key still verifies: %v", err)
	}
}

// tamper changes the first character of tok's signature: still canonical
// base64url, but the signature no longer verifies.
func tamper(tok string) string {
	i := strings.LastIndexByte(tok, '.') + 1
	return tok[:i] + flipFirst(tok[i:])
}

func flipFirst(s string) string {
	c := byte('A')
	if s[0] == 'A' {
		c = 'B'
	}
	return string(c) + s[1:]
}

// flipLastBits changes the unused low bits of the last base64url character,
// giving a non-canonical encoding of the same bytes.
func flipLastBits(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last^1])
}

func TestVerifyAlgorithmMustMatchKey(t *testing.T) {
	t.Parallel()
	// Both algorithms are on the allow-list: the header's alg must still be
	// the algorithm of the key its kid names.
	ks := NewKeySet(testKey(t, RS256, 0))
	if err := ks.Publish(testKey(t, ES256, 0)); err != nil {
		t.Fatal(err)
	}
	iss, clock := newTestIssuer(t, func(c *Config) { c.Keys = ks; c.SkipRevocationCheck = true })
	now := clock.Now().Unix()
	payload := fmt.Sprintf(`{"iss":%q,"sub":"u","aud":%q,"exp":%d,"iat":%d,"jti":"j"}`, testIssuer, testAudience, now+60, now)
	rsaKID, esKID := testKey(t, RS256, 0).KeyID(), testKey(t, ES256, 0).KeyID()
	for _, tt := range []struct {
		name   string
		signer *SigningKey
		header string
		ok     bool
	}{
		{"RS256 with the RSA kid", testKey(t, RS256, 0), `{"alg":"RS256","kid":"` + rsaKID + `","typ":"at+jwt"}`, true},
		{"ES256 with the EC kid", testKey(t, ES256, 0), `{"alg":"ES256","kid":"` + esKID + `","typ":"at+jwt"}`, true},
		{"ES256 naming the RSA kid", testKey(t, ES256, 0), `{"alg":"ES256","kid":"` + rsaKID + `","typ":"at+jwt"}`, false},
		{"RS256 naming the EC kid", testKey(t, RS256, 0), `{"alg":"RS256","kid":"` + esKID + `","typ":"at+jwt"}`, false},
	} {
		_, err := iss.Verify(context.Background(), craft(t, tt.signer, tt.header, payload))
		if tt.ok && err != nil || !tt.ok && !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

func TestNegativeLeewayMeansNone(t *testing.T) {
	t.Parallel()
	iss, clock := newTestIssuer(t, func(c *Config) { c.Leeway = -1 })
	toks := login(t, iss, "u1")
	clock.Advance(DefaultAccessTTL - time.Second)
	if _, err := iss.Verify(context.Background(), toks.AccessToken); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if _, err := iss.Verify(context.Background(), toks.AccessToken); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("at exp without leeway: %v, want ErrTokenExpired", err)
	}
}
