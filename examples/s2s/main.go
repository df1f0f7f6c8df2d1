// Command s2s shows server-to-server authentication without a user: service
// A finds the auth server's token endpoint in its metadata (RFC 8414),
// signs a short JWT with its own private key (RFC 7523), trades it there
// for an access token, and calls service B, which verifies the token
// through the auth server's JWKS.
//
// It starts the auth server and service B on 127.0.0.1, plays service A
// against them and prints each step.
//
//	go run ./examples/s2s
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	// Service A's key pair. Only its public half is registered with the
	// auth server; the private half never leaves service A.
	serviceKey, err := sessionkit.GenerateSigningKey(sessionkit.EdDSA)
	if err != nil {
		return err
	}

	// The auth server: an Issuer, its JWKS, the OAuth token endpoint and
	// the metadata that names them.
	authL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	authURL := "http://" + authL.Addr().String()
	signing, err := sessionkit.GenerateSigningKey(sessionkit.RS256)
	if err != nil {
		return err
	}
	iss, err := sessionkit.New(sessionkit.Config{
		Issuer: authURL, Audience: []string{"billing-api"},
		Keys: sessionkit.NewKeySet(signing), Store: memstore.New(),
	})
	if err != nil {
		return err
	}
	pub, err := sessionkit.NewClientKey(serviceKey.Public(), "")
	if err != nil {
		return err
	}
	clients, err := sessionkit.NewMemoryClients(sessionkit.Client{
		ID: "service-a", Keys: []sessionkit.ClientKey{pub}, Scopes: []string{"invoices:read"},
	})
	if err != nil {
		return err
	}
	tokenEndpoint, err := iss.TokenEndpoint(sessionkit.TokenEndpointConfig{Clients: clients})
	if err != nil {
		return err
	}
	md, err := iss.MetadataHandler(sessionkit.MetadataConfig{TokenURL: "/oauth/token", InsecureAllowHTTP: true}) // plain http on 127.0.0.1
	if err != nil {
		return err
	}
	authMux := http.NewServeMux()
	authMux.Handle("GET /.well-known/jwks.json", iss.Keys())
	authMux.Handle("POST /oauth/token", tokenEndpoint)
	authMux.Handle("GET /.well-known/oauth-authorization-server", md)
	authMux.Handle("GET /.well-known/openid-configuration", md)
	defer serveOn(authL, authMux)()

	// Service B: trusts the auth server's JWKS and needs invoices:read.
	v, err := sessionkit.NewVerifier(sessionkit.VerifierConfig{
		Issuer: authURL, JWKSURL: authURL + "/.well-known/jwks.json",
		Audience: []string{"billing-api"}, InsecureAllowHTTP: true, // plain http on 127.0.0.1
	})
	if err != nil {
		return err
	}
	bMux := http.NewServeMux()
	bMux.Handle("GET /invoices", sessionkit.RequireScope("invoices:read")(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			c, _ := sessionkit.ClaimsFromContext(r.Context())
			fmt.Fprintf(w, "invoices for client %s (a client token: %v)\n", c.ClientID, c.IsClient())
		})))
	bL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	bURL := "http://" + bL.Addr().String()
	defer serveOn(bL, sessionkit.Middleware(v, sessionkit.MiddlewareOptions{Realm: "billing-api"})(bMux))()

	fmt.Printf("auth server %s\nservice B   %s\n", authURL, bURL)

	// Service A.
	fmt.Println("\n0. Service A reads the auth server's metadata")
	tokenURL, err := discover(authURL)
	if err != nil {
		return err
	}
	fmt.Printf("   token_endpoint %s\n", tokenURL)

	fmt.Println("\n1. Service A signs an assertion (iss = sub = service-a, aud = the issuer) and trades it")
	assertion, err := sessionkit.SignClientAssertion(serviceKey, "service-a", authURL, time.Now(), time.Minute)
	if err != nil {
		return err
	}
	status, answer := tokenRequest(tokenURL, assertion)
	fmt.Printf("   %d token_type=%v expires_in=%v scope=%v\n", status, answer["token_type"], answer["expires_in"], answer["scope"])
	token, _ := answer["access_token"].(string)
	if token == "" {
		return fmt.Errorf("no token: %v", answer)
	}

	fmt.Println("\n2. Service A calls service B with the token")
	call(bURL, token)

	fmt.Println("\n3. The same assertion again: its jti was used, so it is refused")
	status, answer = tokenRequest(tokenURL, assertion)
	fmt.Printf("   %d %v: %v\n", status, answer["error"], answer["error_description"])

	fmt.Println("\n4. Service B without a token")
	call(bURL, "")
	return nil
}

// discover reads the RFC 8414 metadata of the issuer authURL and returns
// its token endpoint, after checking that the document speaks for that
// issuer and that the endpoint takes the jwt-bearer grant.
func discover(authURL string) (string, error) {
	resp, err := http.Get(authURL + "/.well-known/oauth-authorization-server")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var md struct {
		Issuer     string   `json:"issuer"`
		Token      string   `json:"token_endpoint"`
		GrantTypes []string `json:"grant_types_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		return "", fmt.Errorf("metadata: %w", err)
	}
	if md.Issuer != authURL || md.Token == "" || !slices.Contains(md.GrantTypes, sessionkit.GrantTypeJWTBearer) {
		return "", fmt.Errorf("metadata of %s does not offer the jwt-bearer grant: %+v", authURL, md)
	}
	return md.Token, nil
}

// tokenRequest posts the jwt-bearer grant and decodes the JSON answer.
func tokenRequest(tokenURL, assertion string) (int, map[string]any) {
	resp, err := http.PostForm(tokenURL, url.Values{
		"grant_type": {sessionkit.GrantTypeJWTBearer},
		"assertion":  {assertion},
	})
	if err != nil {
		return 0, map[string]any{"error": err.Error()}
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// call GETs service B's API and prints the answer.
func call(bURL, token string) {
	req, _ := http.NewRequest("GET", bURL+"/invoices", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println("   error:", err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("   %d %s\n", resp.StatusCode, strings.TrimSpace(string(body)))
}

// serveOn serves h on l in the background and returns the function that
// stops it.
func serveOn(l net.Listener, h http.Handler) (stop func()) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return func() { _ = srv.Close() }
}
