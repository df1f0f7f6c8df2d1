package sessionkit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit"
)

// A backend service trades an assertion signed with its own key for an
// access token (RFC 7523), with no user involved.
func ExampleIssuer_TokenEndpoint() {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	iss := exampleIssuer(&now)

	// Registration: the service's public key and what it may ask for.
	serviceKey, _ := sessionkit.GenerateSigningKey(sessionkit.ES256)
	pub, _ := sessionkit.NewClientKey(serviceKey.Public(), "")
	clients, _ := sessionkit.NewMemoryClients(sessionkit.Client{
		ID: "reports-service", Keys: []sessionkit.ClientKey{pub}, Scopes: []string{"reports:read"},
	})
	endpoint, err := iss.TokenEndpoint(sessionkit.TokenEndpointConfig{Clients: clients})
	if err != nil {
		panic(err) // no clients, or a store without use-once keys
	}

	// The service signs an assertion for the issuer and posts it.
	assertion, _ := sessionkit.SignClientAssertion(serviceKey, "reports-service", "https://auth.example.com", now, time.Minute)
	exchange := func() map[string]any {
		form := url.Values{"grant_type": {sessionkit.GrantTypeJWTBearer}, "assertion": {assertion}}
		r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		endpoint.ServeHTTP(w, r)
		var answer map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &answer)
		return answer
	}
	answer := exchange()
	fmt.Println(answer["token_type"], answer["expires_in"], answer["scope"])

	claims, err := iss.Verify(context.Background(), answer["access_token"].(string))
	fmt.Println(claims.Subject, claims.ClientID, claims.IsClient(), err)

	// An assertion works once.
	fmt.Println(exchange()["error"])
	// Output:
	// Bearer 900 reports:read
	// reports-service reports-service true <nil>
	// invalid_grant
}
