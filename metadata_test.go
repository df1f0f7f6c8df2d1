package sessionkit

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// getMetadata serves one request to h and returns the recorder.
func getMetadata(h http.Handler, method string, ifNoneMatch ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/.well-known/oauth-authorization-server", nil)
	for _, v := range ifNoneMatch {
		req.Header.Add("If-None-Match", v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// metadataDoc decodes the document h serves.
func metadataDoc(t *testing.T, h http.Handler) map[string]any {
	t.Helper()
	rec := getMetadata(h, http.MethodGet)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v: %s", err, rec.Body)
	}
	return doc
}

// metadataIssuer is a test Issuer with this identifier ("": testIssuer).
func metadataIssuer(t *testing.T, issuer string) *Issuer {
	t.Helper()
	iss, _ := newTestIssuer(t, func(c *Config) {
		if issuer != "" {
			c.Issuer = issuer
		}
	})
	return iss
}

func TestMetadataDocument(t *testing.T) {
	t.Parallel()
	algs := []any{"RS256", "ES256", "EdDSA"}
	tokenMembers := map[string]any{
		"token_endpoint":                                   testIssuer + "/oauth/token",
		"grant_types_supported":                            []any{GrantTypeJWTBearer, GrantTypeRefreshToken},
		"token_endpoint_auth_methods_supported":            []any{"private_key_jwt", "none"},
		"token_endpoint_auth_signing_alg_values_supported": algs,
	}
	base := map[string]any{
		"issuer":                   testIssuer,
		"jwks_uri":                 testIssuer + "/.well-known/jwks.json",
		"response_types_supported": []any{},
	}
	with := func(maps ...map[string]any) map[string]any {
		out := map[string]any{}
		for _, m := range append([]map[string]any{base}, maps...) {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	tests := []struct {
		name   string
		issuer string
		cfg    MetadataConfig
		want   map[string]any
	}{
		{"zero: only the JWKS", "", MetadataConfig{}, with()},
		{"token endpoint", "", MetadataConfig{TokenURL: "/oauth/token"}, with(tokenMembers)},
		{"all endpoints and scopes", "", MetadataConfig{
			TokenURL: "/oauth/token", RevocationURL: "/oauth/revoke", IntrospectionURL: "https://introspect.example.com/v1",
			Scopes: []string{"read", "write"},
		}, with(tokenMembers, map[string]any{
			"revocation_endpoint":                                      testIssuer + "/oauth/revoke",
			"revocation_endpoint_auth_methods_supported":               []any{"private_key_jwt"},
			"revocation_endpoint_auth_signing_alg_values_supported":    algs,
			"introspection_endpoint":                                   "https://introspect.example.com/v1",
			"introspection_endpoint_auth_methods_supported":            []any{"private_key_jwt"},
			"introspection_endpoint_auth_signing_alg_values_supported": algs,
			"scopes_supported":                                         []any{"read", "write"},
		})},
		{"revocation alone: no grants", "", MetadataConfig{RevocationURL: "/oauth/revoke"}, with(map[string]any{
			"revocation_endpoint":                                   testIssuer + "/oauth/revoke",
			"revocation_endpoint_auth_methods_supported":            []any{"private_key_jwt"},
			"revocation_endpoint_auth_signing_alg_values_supported": algs,
		})},
		{"absolute JWKS URL", "", MetadataConfig{JWKSURL: "https://keys.example.com/jwks"}, with(map[string]any{
			"jwks_uri": "https://keys.example.com/jwks",
		})},
		{"issuer with a path and a trailing slash", "https://example.com/tenant1/", MetadataConfig{TokenURL: "/oauth/token"}, with(tokenMembers, map[string]any{
			"issuer":         "https://example.com/tenant1/",
			"jwks_uri":       "https://example.com/tenant1/.well-known/jwks.json",
			"token_endpoint": "https://example.com/tenant1/oauth/token",
		})},
		{"http when allowed", "http://127.0.0.1:8080", MetadataConfig{TokenURL: "/oauth/token", InsecureAllowHTTP: true}, with(tokenMembers, map[string]any{
			"issuer":         "http://127.0.0.1:8080",
			"jwks_uri":       "http://127.0.0.1:8080/.well-known/jwks.json",
			"token_endpoint": "http://127.0.0.1:8080/oauth/token",
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			iss := metadataIssuer(t, tt.issuer)
			got := metadataDoc(t, must(iss.MetadataHandler(tt.cfg)))
			if !reflect.DeepEqual(got, tt.want) {
				gotJSON, _ := json.MarshalIndent(got, "", "  ")
				wantJSON, _ := json.MarshalIndent(tt.want, "", "  ")
				t.Fatalf("document\n%s\nwant\n%s", gotJSON, wantJSON)
			}
		})
	}
}

// TestMetadataIsTrue checks the announcements against the endpoints: every
// grant type announced is one TokenEndpoint serves, every announced
// algorithm signs an assertion the jwt-bearer grant accepts, and "none"
// really lets a user's session refresh without client authentication.
func TestMetadataIsTrue(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	doc := metadataDoc(t, must(f.iss.MetadataHandler(MetadataConfig{TokenURL: "/oauth/token"})))
	for _, g := range doc["grant_types_supported"].([]any) {
		code, body, _ := post(t, f.token, map[string][]string{"grant_type": {g.(string)}})
		if code != http.StatusBadRequest || body["error"] != "invalid_request" {
			t.Errorf("grant %v: %d %v, want 400 invalid_request (a missing parameter, not an unsupported grant)", g, code, body)
		}
	}
	byAlg := map[string]string{}
	for id, k := range f.keys {
		byAlg[string(k.Algorithm())] = id
	}
	for _, a := range doc["token_endpoint_auth_signing_alg_values_supported"].([]any) {
		id, ok := byAlg[a.(string)]
		if !ok {
			t.Fatalf("no test client signs with %v", a)
		}
		if code, body, _ := post(t, f.token, bearerForm(f.assertion(t, id, nil))); code != http.StatusOK {
			t.Errorf("%v assertion: %d %v", a, code, body)
		}
	}
	toks := login(t, f.iss, "u1")
	if code, body, _ := post(t, f.token, refreshForm(toks.RefreshToken)); code != http.StatusOK {
		t.Errorf(`refresh without client authentication ("none"): %d %v`, code, body)
	}
}

func TestMetadataHandlerRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		issuer string
		cfg    MetadataConfig
		want   string // in the panic's message
	}{
		{"issuer http", "http://auth.example.com", MetadataConfig{}, "must be https"},
		{"relative path", "", MetadataConfig{TokenURL: "oauth/token"}, "TokenURL"},
		{"protocol-relative", "", MetadataConfig{JWKSURL: "//keys.example.com/jwks"}, `"//"`},
		{"http endpoint", "", MetadataConfig{RevocationURL: "http://auth.example.com/revoke"}, "RevocationURL"},
		{"http endpoint, issuer too", "http://127.0.0.1", MetadataConfig{TokenURL: "/t"}, "Config.Issuer"},
		{"other scheme", "", MetadataConfig{IntrospectionURL: "ftp://auth.example.com/i"}, "IntrospectionURL"},
		{"no host", "", MetadataConfig{TokenURL: "https:///oauth/token"}, "no host"},
		{"query", "", MetadataConfig{TokenURL: "/oauth/token?x=1"}, "query"},
		{"empty query", "", MetadataConfig{TokenURL: "/oauth/token?"}, "query"},
		{"fragment", "", MetadataConfig{JWKSURL: "/jwks#keys"}, "fragment"},
		{"empty fragment", "", MetadataConfig{JWKSURL: "/jwks#"}, "fragment"},
		{"space", "", MetadataConfig{TokenURL: "/oauth/ token"}, "not a valid URL"},
		{"bad scope", "", MetadataConfig{Scopes: []string{"read", "a\"b"}}, "Scopes[1]"},
		{"empty scope", "", MetadataConfig{Scopes: []string{""}}, "Scopes[0]"},
		{"scope twice", "", MetadataConfig{Scopes: []string{"read", "write", "read"}}, "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			iss := metadataIssuer(t, tt.issuer)
			h, err := iss.MetadataHandler(tt.cfg)
			if h != nil || !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "MetadataHandler") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("MetadataHandler: %v, %v; want ErrInvalidConfig naming MetadataHandler and %q", h, err, tt.want)
			}
		})
	}
}

func TestMetadataHTTP(t *testing.T) {
	t.Parallel()
	iss, _ := newTestIssuer(t, nil)
	h := must(iss.MetadataHandler(MetadataConfig{TokenURL: "/oauth/token"}))
	checkServesDocument(t, h, "public, max-age=3600", h.(*metadataHandler).doc)
	etag := getMetadata(h, http.MethodGet).Header().Get("ETag")
	if other := getMetadata(must(iss.MetadataHandler(MetadataConfig{})), http.MethodGet).Header().Get("ETag"); other == etag {
		t.Fatal("two different documents share an ETag")
	}
}

// TestVerifierDiscoversOurMetadata: a Verifier given only an Issuer's
// identifier finds its JWKS through its MetadataHandler, over TLS, on
// either well-known path, and follows a key rotation.
func TestVerifierDiscoversOurMetadata(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			var handler http.Handler
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
			t.Cleanup(srv.Close)
			iss, clock := newTestIssuer(t, func(c *Config) { c.Issuer = srv.URL; c.Keys = NewKeySet(testKey(t, ES256, 0)) })
			mux := http.NewServeMux()
			mux.Handle("GET "+path, must(iss.MetadataHandler(MetadataConfig{TokenURL: "/oauth/token"})))
			mux.Handle("GET /.well-known/jwks.json", iss.Keys())
			handler = mux
			v, err := NewVerifier(VerifierConfig{Issuer: srv.URL, Audience: []string{testAudience}, HTTPClient: srv.Client(), Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			first := login(t, iss, "alice")
			if _, err := v.Verify(ctx, first.AccessToken); err != nil {
				t.Fatalf("Verify through discovery: %v", err)
			}
			if err := iss.Keys().Rotate(testKey(t, ES256, 1)); err != nil {
				t.Fatal(err)
			}
			second := login(t, iss, "bob")
			for _, tok := range []string{second.AccessToken, first.AccessToken} {
				if _, err := v.Verify(ctx, tok); err != nil {
					t.Fatalf("Verify after a rotation: %v", err)
				}
			}
		})
	}
}
