package sessionkit

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// hostileTokenSize is the size of the hostile tokens: MaxTokenSizeLimit,
// the largest token any Issuer or Verifier can be configured to read.
// (A literal, so that this file also runs against code that predates the
// limit, for the before-and-after measurements in BENCHMARKS.md.)
const hostileTokenSize = 32 << 10

// hostileShape is the JSON an attacker fills a header or payload with.
// prefix holds the members a token needs to get that far (alg and kid,
// iss); unit(i) is one repetition, joined by sep; suffix closes what unit
// opened.
type hostileShape struct {
	name, prefix string
	unit         func(i int) string
	sep, suffix  string
}

// hostileShapes are the worst inputs for a JSON reader that the size cap
// admits. Every one of them is valid JSON without duplicates (else the
// reader stops early) but for the header cap.
var hostileShapes = []hostileShape{
	// Many distinct top-level members: quadratic for a reader that compares
	// each name with all earlier ones.
	{name: "members", unit: func(i int) string { return `"m` + strconv.Itoa(i) + `":0` }, sep: ","},
	// The same, nested one level down.
	{name: "nested-members", prefix: `"x":{`, unit: func(i int) string { return `"m` + strconv.Itoa(i) + `":0` }, sep: ",", suffix: "}"},
	// Many small objects: a reader that allocates per object pays here.
	{name: "small-objects", prefix: `"x":[`, unit: func(int) string { return `{"a":0}` }, sep: ",", suffix: "]"},
	// Nesting to the depth limit, over and over.
	{name: "deep", prefix: `"x":[`, unit: func(int) string { return strings.Repeat("[", 31) + strings.Repeat("]", 31) }, sep: ",", suffix: "]"},
	// One long array of numbers.
	{name: "long-array", prefix: `"x":[`, unit: func(int) string { return "0" }, sep: ",", suffix: "]"},
	// One long string of escapes, then many short escaped strings.
	{name: "escapes", prefix: `"x":"`, unit: func(int) string { return `\u00e9` }, suffix: `"`},
	{name: "escaped-strings", prefix: `"x":[`, unit: func(int) string { return `"\n"` }, sep: ",", suffix: "]"},
	// Many distinct names with escapes (each one decoded to be compared).
	{name: "escaped-names", prefix: `"x":{`, unit: func(i int) string { return `"\u0061` + strconv.Itoa(i) + `":0` }, sep: ",", suffix: "}"},
	// Long names of equal length that differ only at the end: the worst
	// case of comparing names.
	{name: "long-names", prefix: `"x":{`, unit: func(i int) string {
		return `"` + strings.Repeat("n", 350) + strconv.Itoa(10+i) + `":0`
	}, sep: ",", suffix: "}"},
}

// fill returns {head,prefix unit(0) sep unit(1) ... suffix} as long as its
// base64url encoding fits in budget characters.
func (s hostileShape) fill(head string, budget int) string {
	var b strings.Builder
	b.WriteString("{" + head)
	if head != "" {
		b.WriteString(",")
	}
	b.WriteString(s.prefix)
	for i := 0; ; i++ {
		u := s.unit(i)
		if i > 0 {
			u = s.sep + u
		}
		if (b.Len()+len(u)+len(s.suffix)+1)*4/3+1 > budget {
			break
		}
		b.WriteString(u)
	}
	b.WriteString(s.suffix + "}")
	return b.String()
}

// hostileSignature is a signature segment of the right length for an RSA
// 2048 key that verifies nothing.
func hostileSignature(b *testing.B) string {
	sig := make([]byte, 256)
	if _, err := rand.Read(sig); err != nil {
		b.Fatal(err)
	}
	return b64.EncodeToString(sig)
}

// BenchmarkHostileToken measures the worst unsigned tokens the size caps
// admit on every path that reads JSON before a signature verifies, next to
// a valid token (reference/valid-RS256, the cost of BenchmarkVerify) and a
// valid token of the maximum size (reference/valid-max): what an attacker
// without a key can make a server spend per request.
//
//   - header/<shape>: Issuer.Verify of a 32 KiB token whose header (alg,
//     kid and typ right, so that the signature is checked too) is filled
//     with shape;
//   - header-2k/<shape>: the same with the header filled to 2048
//     characters (the most a header may have) and the token to 32 KiB by
//     a long claim, so that the whole token is hashed for the signature;
//   - payload/<shape>: a multi-issuer Verifier (which reads the payload's
//     iss before the signature) given a 32 KiB token with sessionkit's own
//     header and the payload filled with shape;
//   - assertion/<shape>: the token endpoint's assertion check (header and
//     iss read before the signature), 8 KiB, iss a registered client and
//     the claims right.
func BenchmarkHostileToken(b *testing.B) {
	ctx := context.Background()
	k := testKey(b, RS256, 0)
	iss, _ := newTestIssuer(b, func(c *Config) {
		c.Keys = NewKeySet(k)
		c.MaxTokenSize = hostileTokenSize
		c.SkipRevocationCheck = true
	})
	v, err := NewVerifier(VerifierConfig{
		Issuers: []TrustedIssuer{
			{Issuer: testIssuer, Keys: NewKeySet(k)},
			{Issuer: "https://other.example", Keys: NewKeySet(testKey(b, ES256, 0))},
		},
		Audience:     []string{testAudience},
		MaxTokenSize: hostileTokenSize,
	})
	if err != nil {
		b.Fatal(err)
	}
	fx := newOAuthFixture(b, false)
	sig := hostileSignature(b)
	okHeader := `"alg":"RS256","kid":"` + k.KeyID() + `","typ":"at+jwt"`
	okClaims := `{"iss":"` + testIssuer + `","sub":"u","aud":"api","exp":9999999999,"iat":1,"jti":"j","sid":"s"}`
	okPayload := b64.EncodeToString([]byte(okClaims))
	ownHeader := strings.SplitN(login(b, iss, "u1").AccessToken, ".", 2)[0]

	b.Run("reference/valid-RS256", func(b *testing.B) {
		tok := login(b, iss, "user-1234567890").AccessToken
		b.ReportAllocs()
		for b.Loop() {
			if _, err := iss.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	// A valid token of (nearly) the maximum size: Entra ID style group ids.
	b.Run("reference/valid-max", func(b *testing.B) {
		var claims strings.Builder
		claims.WriteString(`{"iss":"` + testIssuer + `","sub":"u","aud":"api","exp":9999999999,"iat":1,"jti":"j","sid":"s","ver":0,"groups":[`)
		for i := 0; (claims.Len()+60)*4/3+600 < hostileTokenSize; i++ {
			if i > 0 {
				claims.WriteByte(',')
			}
			fmt.Fprintf(&claims, `"%08x-0000-4000-8000-%012x"`, i, i)
		}
		claims.WriteString("]}")
		tok, err := signCompact(k, compactHeader(RS256, k.KeyID(), "at+jwt"), []byte(claims.String()))
		if err != nil {
			b.Fatal(err)
		}
		if n := len(tok); n > hostileTokenSize || n < hostileTokenSize*7/8 {
			b.Fatalf("a valid token of %d bytes", n)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := iss.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, s := range hostileShapes {
		b.Run("header/"+s.name, func(b *testing.B) {
			budget := hostileTokenSize - len(okPayload) - len(sig) - 2
			tok := b64.EncodeToString([]byte(s.fill(okHeader, budget))) + "." + okPayload + "." + sig
			runHostile(b, tok, hostileTokenSize, func() error { _, err := iss.Verify(ctx, tok); return err })
		})
	}
	for _, s := range hostileShapes {
		b.Run("header-2k/"+s.name, func(b *testing.B) {
			h := b64.EncodeToString([]byte(s.fill(okHeader, 2<<10)))
			pad := strings.Repeat("p", (hostileTokenSize-len(h)-len(sig)-2)*3/4-len(okClaims)-16)
			payload := b64.EncodeToString([]byte(okClaims[:len(okClaims)-1] + `,"pad":"` + pad + `"}`))
			tok := h + "." + payload + "." + sig
			runHostile(b, tok, hostileTokenSize, func() error { _, err := iss.Verify(ctx, tok); return err })
		})
	}
	for _, s := range hostileShapes {
		b.Run("payload/"+s.name, func(b *testing.B) {
			budget := hostileTokenSize - len(ownHeader) - len(sig) - 2
			tok := ownHeader + "." + b64.EncodeToString([]byte(s.fill(`"iss":"`+testIssuer+`"`, budget))) + "." + sig
			runHostile(b, tok, hostileTokenSize, func() error { _, err := v.Verify(ctx, tok); return err })
		})
	}
	ck := fx.keys["svc-rsa"]
	aHeader := b64.EncodeToString([]byte(`{"alg":"RS256","kid":"` + ck.KeyID() + `","typ":"JWT"}`))
	for _, s := range hostileShapes {
		b.Run("assertion/"+s.name, func(b *testing.B) {
			const size = 8 << 10 // the assertion cap
			budget := size - len(aHeader) - len(sig) - 2
			// Claims that pass every check but the signature, so that no
			// code gets to refuse them early.
			claims := `"iss":"svc-rsa","sub":"svc-rsa","aud":"` + testIssuer + `","exp":9999999999,"jti":"j"`
			tok := aHeader + "." + b64.EncodeToString([]byte(s.fill(claims, budget))) + "." + sig
			runHostile(b, tok, size, func() error {
				if _, oerr := fx.iss.verifyAssertion(ctx, fx.clients, tok, useGrant); oerr != nil {
					return oerr
				}
				return nil
			})
		})
	}
}

// runHostile checks that tok has the intended size and is refused, then
// measures refusing it.
func runHostile(b *testing.B, tok string, size int, verify func() error) {
	b.Helper()
	if len(tok) > size || len(tok) < size*7/8 {
		b.Fatalf("hostile token of %d bytes, want just under %d", len(tok), size)
	}
	if verify() == nil {
		b.Fatal("a hostile token verified")
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = verify()
	}
}
