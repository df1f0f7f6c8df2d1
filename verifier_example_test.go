package sessionkit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/sessionkit/sessionkit"
)

// A resource server verifies the issuer's access tokens through its JWKS.
func ExampleNewVerifier() {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	iss := exampleIssuer(&now)
	// The auth server publishes its keys (in production at
	// https://auth.example.com/.well-known/jwks.json).
	jwks := httptest.NewServer(iss.Keys())
	defer jwks.Close()

	v, err := sessionkit.NewVerifier(sessionkit.VerifierConfig{
		Issuer:            "https://auth.example.com",
		JWKSURL:           jwks.URL,
		Audience:          []string{"api"},
		InsecureAllowHTTP: true, // the test server is plain http on 127.0.0.1
		Now:               func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}
	api := sessionkit.Middleware(v, sessionkit.MiddlewareOptions{Realm: "api"})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims, _ := sessionkit.ClaimsFromContext(r.Context())
			fmt.Println("handler sees", claims.Subject, claims.Scope)
		}))

	toks, _ := iss.Login(context.Background(), sessionkit.Grant{Subject: "alice", Scope: "read"})
	claims, err := v.Verify(context.Background(), toks.AccessToken)
	fmt.Println(claims.Subject, err)

	r := httptest.NewRequest("GET", "/notes", nil)
	r.Header.Set("Authorization", "Bearer "+toks.AccessToken)
	api.ServeHTTP(httptest.NewRecorder(), r)

	now = now.Add(time.Hour)
	_, err = v.Verify(context.Background(), toks.AccessToken)
	fmt.Println(errors.Is(err, sessionkit.ErrTokenExpired))
	w := httptest.NewRecorder()
	api.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output:
	// alice <nil>
	// handler sees alice read
	// true
	// 401 Bearer realm="api", error="invalid_token", error_description="the access token expired"
}
