package interop

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
)

// staticJSON serves body as a JSON document with the given Cache-Control.
func staticJSON(body []byte, cacheControl string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if cacheControl != "" {
			w.Header().Set("Cache-Control", cacheControl)
		}
		_, _ = w.Write(body)
	})
}

// TestVerifierNodeTokenTypes: jose tokens with the header typ "JWT" (what
// the JWT guides and most Node services set) and without typ (what SignJWT
// writes unless told otherwise) verify through a Verifier whose TokenTypes
// admits them, set in VerifierConfig or in TrustedIssuer, and are refused
// by one with the default TokenTypes ({"at+jwt"}), with an error that names
// the setting. Each list admits exactly its types: {"JWT"} refuses the
// untyped and the at+jwt tokens, {""} the typed ones.
func TestVerifierNodeTokenTypes(t *testing.T) {
	t.Parallel()
	node := requireNode(t)
	var signed nodeSigned
	runNode(t, node, "sign.mjs", map[string]any{
		"issuer": issuerURL, "audience": audience, "subject": "node-user",
	}, &signed)
	jwksURL, hits := serveLoopback(t, staticJSON(signed.JWKS, "public, max-age=300"))

	// kinds are the sign.mjs tokens this test looks at, with the typ
	// header each carries and the refusal that names it.
	kinds := map[string]string{
		"good":     `typ "at+jwt"`,
		"typ-jwt":  `typ "JWT"`,
		"typ-none": "typ header missing",
	}
	tests := []struct {
		name          string
		verifierTypes []string // VerifierConfig.TokenTypes
		issuerTypes   []string // TrustedIssuer.TokenTypes
		accepts       []string // the kinds it verifies; it refuses the others
	}{
		{"default", nil, nil, []string{"good"}},
		{"VerifierConfig.TokenTypes JWT", []string{"JWT"}, nil, []string{"typ-jwt"}},
		{"TrustedIssuer.TokenTypes empty string", nil, []string{""}, []string{"typ-none"}},
		{"TrustedIssuer.TokenTypes replaces the Verifier's", []string{"at+jwt"}, []string{"JWT"}, []string{"typ-jwt"}},
		{"JWT and none (doc.go's line for Node jose)", []string{"JWT", ""}, nil, []string{"typ-jwt", "typ-none"}},
		{"at+jwt and JWT", []string{"at+jwt", "JWT"}, nil, []string{"good", "typ-jwt"}},
	}
	for _, tt := range tests {
		v, err := sessionkit.NewVerifier(sessionkit.VerifierConfig{
			Issuers:           []sessionkit.TrustedIssuer{{Issuer: issuerURL, JWKSURL: jwksURL, TokenTypes: tt.issuerTypes}},
			Audience:          []string{audience},
			TokenTypes:        tt.verifierTypes,
			HTTPClient:        loopbackClient(),
			InsecureAllowHTTP: true,
		})
		if err != nil {
			t.Fatalf("%s: NewVerifier: %v", tt.name, err)
		}
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			seen := 0
			for _, tok := range signed.Tokens {
				refusal, ok := kinds[tok.Kind]
				if !ok {
					continue
				}
				seen++
				claims, err := v.Verify(t.Context(), tok.Token)
				if slices.Contains(tt.accepts, tok.Kind) {
					if err != nil {
						t.Errorf("%s/%s: Verify: %v", tok.Alg, tok.Kind, err)
						continue
					}
					if claims.Subject != tok.Sub || claims.Scope != "read" || !claims.HasScope("read") || claims.ID == "" {
						t.Errorf("%s/%s: claims sub=%q scope=%q jti=%q, want %q, read and a jti", tok.Alg, tok.Kind, claims.Subject, claims.Scope, claims.ID, tok.Sub)
					}
					continue
				}
				switch {
				case err == nil:
					t.Errorf("%s/%s: Verify accepted it", tok.Alg, tok.Kind)
				case !errors.Is(err, sessionkit.ErrInvalidToken):
					t.Errorf("%s/%s: Verify: %v, want ErrInvalidToken", tok.Alg, tok.Kind, err)
				case !strings.Contains(err.Error(), "wrong token type ("+refusal+")") || !strings.Contains(err.Error(), "TokenTypes"):
					t.Errorf("%s/%s: Verify: %v, want a wrong-type refusal saying %q and naming TokenTypes", tok.Alg, tok.Kind, err, refusal)
				}
			}
			if want := len(kinds) * len(algorithms); seen != want {
				t.Fatalf("sign.mjs printed %d tokens of kinds %v, want %d", seen, kinds, want)
			}
		})
	}
	t.Cleanup(func() {
		if hits.Load() == 0 {
			t.Errorf("no Verifier fetched the JWKS")
		}
	})
}
