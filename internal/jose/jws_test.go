package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// testKeys are one signing key per algorithm, generated once per test
// binary.
var testKeys = sync.OnceValue(func() map[Algorithm]crypto.Signer {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	_, dk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return map[Algorithm]crypto.Signer{RS256: rk, ES256: ek, EdDSA: dk}
})

// testKey returns the cached signing key for alg and its verification key.
func testKey(t testing.TB, alg Algorithm) (crypto.Signer, *Key) {
	t.Helper()
	priv := testKeys()[alg]
	k, err := NewKey(alg, "", priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return priv, k
}

// keys is a Resolver over a fixed list.
type keys struct {
	list  []*Key
	allow []Algorithm
}

func (s keys) KeyForHeader(seg string) *Key {
	for _, k := range s.list {
		if k.Header() != "" && k.Header() == seg {
			return k
		}
	}
	return nil
}

func (s keys) KeyForKID(kid string) *Key {
	for _, k := range s.list {
		if k.KID() == kid {
			return k
		}
	}
	return nil
}

func (s keys) KeyForAlg(alg Algorithm) *Key {
	var one *Key
	for _, k := range s.list {
		if k.Algorithm() == alg {
			if one != nil {
				return nil
			}
			one = k
		}
	}
	return one
}

func (s keys) Allows(alg Algorithm) bool {
	for _, a := range s.allow {
		if a == alg {
			return true
		}
	}
	return false
}

// signed signs header (raw JSON) and payload with priv under k.
func signed(t testing.TB, k *Key, priv crypto.Signer, header, payload string) string {
	t.Helper()
	tok, err := Sign(k, priv, b64.EncodeToString([]byte(header)), []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestSignVerify(t *testing.T) {
	t.Parallel()
	for _, alg := range []Algorithm{RS256, ES256, EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			priv, k := testKey(t, alg)
			set := keys{list: []*Key{k}, allow: []Algorithm{alg}}
			tok, err := Sign(k, priv, k.Header(), []byte(`{"sub":"u"}`))
			if err != nil {
				t.Fatal(err)
			}
			if p, err := Verify(tok, 8<<10, set, AccessTokens); err != nil || p != `{"sub":"u"}` {
				t.Fatalf("own header: %q %v", p, err)
			}
			if len(strings.Split(tok, ".")[2]) != b64.EncodedLen(k.SignatureSize()) {
				t.Fatalf("signature of %d characters for a %d-byte size", len(strings.Split(tok, ".")[2]), k.SignatureSize())
			}
			// The same header written otherwise goes through parsing.
			other := signed(t, k, priv, `{"typ":"application/AT+JWT","kid":"`+k.KID()+`","alg":"`+string(alg)+`"}`, `{}`)
			if _, err := Verify(other, 8<<10, set, AccessTokens); err != nil {
				t.Fatalf("parsed header: %v", err)
			}
			// Another type.
			jwt := signed(t, k, priv, `{"alg":"`+string(alg)+`","kid":"`+k.KID()+`","typ":"JWT"}`, `{}`)
			if _, err := Verify(jwt, 8<<10, set, &Policy{Types: []string{"JWT"}}); err != nil {
				t.Fatalf("typ JWT: %v", err)
			}
			if _, err := Verify(jwt, 8<<10, set, AccessTokens); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("typ JWT as an access token: %v", err)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	priv, k := testKey(t, RS256)
	_, ek := testKey(t, ES256)
	set := keys{list: []*Key{k, ek}, allow: []Algorithm{RS256, ES256}}
	hdr := func(extra string) string {
		return `{"alg":"RS256","kid":"` + k.KID() + `","typ":"at+jwt"` + extra + `}`
	}
	good := signed(t, k, priv, hdr(""), `{}`)
	parts := strings.Split(good, ".")
	many := ""
	for i := range MaxHeaderMembers - 3 {
		many += `,"h` + string(rune('a'+i)) + `":0`
	}
	tests := []struct {
		name, tok, reason string
	}{
		{"size cap", good, "size limit"},
		{"empty", "", "empty"},
		{"JSON serialization", `{"payload":"e30"}`, "JSON serialization"},
		{"one dot", "a.b", "not a compact JWS"},
		{"no dot", "abc", "not a compact JWS"},
		{"four segments", good + ".x", "too many segments"},
		{"empty header", "." + parts[1] + "." + parts[2], "empty segment"},
		{"empty payload", parts[0] + ".." + parts[2], "empty segment"},
		{"empty signature", parts[0] + "." + parts[1] + ".", "empty segment"},
		{"newline", parts[0] + "\n." + parts[1] + "." + parts[2], "alphabet"},
		{"carriage return", parts[0] + "." + parts[1] + "\r." + parts[2], "alphabet"},
		{"space", parts[0] + " ." + parts[1] + "." + parts[2], "canonical"},
		{"space in the payload", parts[0] + "." + parts[1] + " ." + parts[2], "bad signature"},
		{"padding", parts[0] + "=." + parts[1] + "." + parts[2], "canonical"},
		{"standard alphabet", parts[0] + "." + parts[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[2]) + "+/", "canonical"},
		{"alg none", signed(t, k, priv, `{"alg":"none","kid":"`+k.KID()+`","typ":"at+jwt"}`, `{}`), `"none"`},
		{"alg NoNe", signed(t, k, priv, `{"alg":"NoNe","kid":"`+k.KID()+`","typ":"at+jwt"}`, `{}`), `"none"`},
		{"alg missing", signed(t, k, priv, `{"kid":"`+k.KID()+`","typ":"at+jwt"}`, `{}`), "alg missing"},
		{"alg not a string", signed(t, k, priv, `{"alg":1,"kid":"`+k.KID()+`","typ":"at+jwt"}`, `{}`), "alg is not a string"},
		{"kid missing", signed(t, k, priv, `{"alg":"RS256","typ":"at+jwt"}`, `{}`), "kid missing"},
		{"kid not a string", signed(t, k, priv, `{"alg":"RS256","kid":1,"typ":"at+jwt"}`, `{}`), "kid is not a string"},
		{"unknown kid", signed(t, k, priv, `{"alg":"RS256","kid":"x","typ":"at+jwt"}`, `{}`), "unknown key id"},
		{"alg of another key", signed(t, k, priv, `{"alg":"ES256","kid":"`+k.KID()+`","typ":"at+jwt"}`, `{}`), "does not match the key"},
		{"alg not allowed", signed(t, k, priv, `{"alg":"EdDSA","kid":"`+k.KID()+`","typ":"at+jwt"}`, `{}`), "not allowed"},
		{"alg unknown", signed(t, k, priv, `{"alg":"PS256","kid":"`+k.KID()+`","typ":"at+jwt"}`, `{}`), "not allowed"},
		{"typ missing", signed(t, k, priv, `{"alg":"RS256","kid":"`+k.KID()+`"}`, `{}`), "typ"},
		{"typ JWT", signed(t, k, priv, `{"alg":"RS256","kid":"`+k.KID()+`","typ":"JWT"}`, `{}`), "typ"},
		{"typ with a prefix of its own", signed(t, k, priv, `{"alg":"RS256","kid":"`+k.KID()+`","typ":"application/x-at+jwt"}`, `{}`), "typ"},
		{"crit", signed(t, k, priv, hdr(`,"crit":["x"],"x":1`), `{}`), "crit"},
		{"jwk", signed(t, k, priv, hdr(`,"jwk":{}`), `{}`), "never trusted"},
		{"jku", signed(t, k, priv, hdr(`,"jku":"https://x"`), `{}`), "never trusted"},
		{"x5u", signed(t, k, priv, hdr(`,"x5u":"https://x"`), `{}`), "never trusted"},
		{"x5c", signed(t, k, priv, hdr(`,"x5c":[]`), `{}`), "never trusted"},
		{"zip", signed(t, k, priv, hdr(`,"zip":"DEF"`), `{}`), "compressed"},
		{"b64", signed(t, k, priv, hdr(`,"b64":true`), `{}`), "unencoded"},
		{"duplicate header member", signed(t, k, priv, `{"alg":"RS256","alg":"RS256","kid":"`+k.KID()+`","typ":"at+jwt"}`, `{}`), "duplicate"},
		{"header not an object", signed(t, k, priv, `["RS256"]`, `{}`), "not a JSON object"},
		{"header members over the cap", signed(t, k, priv, hdr(many+`,"last":0`), `{}`), "more than 16 members"},
		{"header over 2 KiB", signed(t, k, priv, hdr(`,"x":"`+strings.Repeat("x", 1500)+`"`), `{}`), "longer than 2048"},
		{"bad signature", parts[0] + "." + parts[1] + "." + b64.EncodeToString(make([]byte, 256)), "bad signature"},
		{"signature of another length", parts[0] + "." + parts[1] + "." + b64.EncodeToString(make([]byte, 255)), "bad signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			max := 8 << 10
			if tt.name == "size cap" {
				max = len(good) - 1
			}
			_, err := Verify(tt.tok, max, set, AccessTokens)
			if !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("Verify: %v, want ErrInvalidToken saying %q", err, tt.reason)
			}
		})
	}
	// The caps themselves pass.
	if _, err := Verify(signed(t, k, priv, hdr(many), `{}`), 8<<10, set, AccessTokens); err != nil {
		t.Fatalf("a header of exactly %d members: %v", MaxHeaderMembers, err)
	}
	h := hdr(`,"x":"` + strings.Repeat("x", MaxHeaderSize*3/4-len(hdr(`,"x":""`))) + `"`)
	if tok := signed(t, k, priv, h, `{}`); strings.IndexByte(tok, '.') != MaxHeaderSize {
		t.Fatalf("a header segment of %d characters", strings.IndexByte(tok, '.'))
	} else if _, err := Verify(tok, 8<<10, set, AccessTokens); err != nil {
		t.Fatalf("a header segment of exactly %d characters: %v", MaxHeaderSize, err)
	}
}

func TestCompactParts(t *testing.T) {
	t.Parallel()
	priv, k := testKey(t, EdDSA)
	tok := signed(t, k, priv, `{"alg":"EdDSA","typ":"JWT"}`, `{"iss":"c"}`)
	c, err := Split(tok, 8<<10)
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.Header()
	if err != nil || h.Alg != EdDSA || h.HasKID || h.Typ != "JWT" {
		t.Fatalf("Header: %+v %v", h, err)
	}
	if p, err := c.Payload(); err != nil || p != `{"iss":"c"}` {
		t.Fatalf("Payload: %q %v", p, err)
	}
	if p, err := c.Verify(k); err != nil || p != `{"iss":"c"}` {
		t.Fatalf("Verify: %q %v", p, err)
	}
	_, other := testKey(t, RS256)
	if _, err := c.Verify(other); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Verify with an RSA key: %v", err)
	}
	// A key verifies with its own algorithm only: an HMAC key keyed with
	// anything never verifies an EdDSA signature.
	if _, err := c.Verify(NewHMACKey(HS256, "h", make([]byte, 32))); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Verify with an HMAC key: %v", err)
	}
}

func TestHMAC(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	for _, alg := range []Algorithm{HS256, HS384, HS512} {
		k := NewHMACKey(alg, "h", secret)
		if !k.IsHMAC() || k.Public() != nil || k.Header() != "" {
			t.Fatalf("%s key: %+v", alg, k)
		}
		input := b64.EncodeToString([]byte(`{"alg":"`+string(alg)+`","kid":"h","typ":"at+jwt"}`)) + "." + b64.EncodeToString([]byte(`{}`))
		mac := hmacSum(alg, secret, input)
		set := keys{list: []*Key{k}, allow: []Algorithm{alg}}
		if _, err := Verify(input+"."+b64.EncodeToString(mac), 8<<10, set, AccessTokens); err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		mac[0] ^= 1
		if _, err := Verify(input+"."+b64.EncodeToString(mac), 8<<10, set, AccessTokens); err == nil {
			t.Fatalf("%s: a wrong MAC verified", alg)
		}
	}
}

func hmacSum(alg Algorithm, secret []byte, input string) []byte {
	m := hmac.New(hmacHash(alg), secret)
	m.Write([]byte(input))
	return m.Sum(nil)
}

// TestReasonOf: the reason of the first refusal in the chain, through
// wrapping and joining, and without an allocation.
func TestReasonOf(t *testing.T) {
	bad := Refuse(ReasonBadSignature, "bad signature")
	for _, tt := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("other"), ""},
		{bad, ReasonBadSignature},
		{fmt.Errorf("wrapped: %w", bad), ReasonBadSignature},
		{errors.Join(errors.New("first"), fmt.Errorf("x: %w", ErrUnknownKey)), ReasonUnknownKey},
		{errSingleKeyFails, ReasonBadSignature},
		{fmt.Errorf("%w", ErrInvalidToken), ""},
	} {
		if got := ReasonOf(tt.err); got != tt.want {
			t.Errorf("ReasonOf(%v) = %q; want %q", tt.err, got, tt.want)
		}
	}
	wrapped := fmt.Errorf("wrapped: %w", bad)
	if n := testing.AllocsPerRun(100, func() { _ = ReasonOf(wrapped) }); n != 0 {
		t.Errorf("ReasonOf allocates %v times", n)
	}
}
