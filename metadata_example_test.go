package sessionkit_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/sessionkit/sessionkit"
)

// The authorization-server metadata, mounted at both well-known locations,
// tells clients and resource servers where the JWKS and the OAuth
// endpoints are, and how to authenticate there.
func ExampleIssuer_MetadataHandler() {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	iss := exampleIssuer(&now)

	mux := http.NewServeMux()
	mux.Handle("GET /.well-known/jwks.json", iss.Keys())
	md, err := iss.MetadataHandler(sessionkit.MetadataConfig{TokenURL: "/oauth/token", RevocationURL: "/oauth/revoke"})
	if err != nil {
		panic(err) // a URL of the configuration is wrong
	}
	mux.Handle("GET /.well-known/oauth-authorization-server", md)
	mux.Handle("GET /.well-known/openid-configuration", md)

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/.well-known/openid-configuration", nil))
	var doc bytes.Buffer
	_ = json.Indent(&doc, w.Body.Bytes(), "", "  ")
	fmt.Println(w.Header().Get("Cache-Control"))
	fmt.Print(doc.String())
	// Output:
	// public, max-age=3600
	// {
	//   "issuer": "https://auth.example.com",
	//   "jwks_uri": "https://auth.example.com/.well-known/jwks.json",
	//   "token_endpoint": "https://auth.example.com/oauth/token",
	//   "grant_types_supported": [
	//     "urn:ietf:params:oauth:grant-type:jwt-bearer",
	//     "refresh_token"
	//   ],
	//   "token_endpoint_auth_methods_supported": [
	//     "private_key_jwt",
	//     "none"
	//   ],
	//   "token_endpoint_auth_signing_alg_values_supported": [
	//     "RS256",
	//     "ES256",
	//     "EdDSA"
	//   ],
	//   "revocation_endpoint": "https://auth.example.com/oauth/revoke",
	//   "revocation_endpoint_auth_methods_supported": [
	//     "private_key_jwt"
	//   ],
	//   "revocation_endpoint_auth_signing_alg_values_supported": [
	//     "RS256",
	//     "ES256",
	//     "EdDSA"
	//   ],
	//   "response_types_supported": []
	// }
}
