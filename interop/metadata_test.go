package interop

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auth0/go-jwt-middleware/v2/jwks"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// metadataServer is an Issuer whose identifier is the https URL of an
// httptest TLS server on 127.0.0.1, serving its JWKS and its metadata at
// both well-known locations.
type metadataServer struct {
	iss    *sessionkit.Issuer
	url    string       // the issuer identifier
	client *http.Client // trusts the server's certificate, dials 127.0.0.1 only
	mu     sync.Mutex
	hits   map[string]int // path -> GET requests
}

func newMetadataServer(t *testing.T, alg sessionkit.Algorithm) *metadataServer {
	t.Helper()
	s := &metadataServer{hits: map[string]int{}}
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	srv.Listener.Close()
	srv.Listener = listenLoopback(t)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	s.url = srv.URL
	s.client = loopbackClient()
	s.client.Transport.(*http.Transport).TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig

	key, err := sessionkit.GenerateSigningKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	if s.iss, err = sessionkit.New(sessionkit.Config{
		Issuer: s.url, Audience: []string{audience},
		Keys: sessionkit.NewKeySet(key), Store: memstore.New(),
	}); err != nil {
		t.Fatal(err)
	}
	md := must(s.iss.MetadataHandler(sessionkit.MetadataConfig{TokenURL: "/oauth/token"}))
	mux.Handle("GET /.well-known/oauth-authorization-server", md)
	mux.Handle("GET /.well-known/openid-configuration", md)
	mux.Handle("GET "+jwksPath, s.iss.Keys())
	return s
}

// fetched returns how many GET requests reached path.
func (s *metadataServer) fetched(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// token logs a user in and returns the access token.
func (s *metadataServer) token(t *testing.T) string {
	t.Helper()
	toks, err := s.iss.Login(t.Context(), sessionkit.Grant{Subject: "u1", Scope: "read"})
	if err != nil {
		t.Fatal(err)
	}
	return toks.AccessToken
}

// TestGoOIDCDiscoversJWKS: go-oidc's NewProvider reads our metadata at
// /.well-known/openid-configuration (issuer compared exactly) and its
// verifier checks our access tokens against the JWKS it names. We announce
// no id_token_signing_alg_values_supported (we issue no ID tokens), so
// go-oidc falls back to RS256: for ES256 and EdDSA the application lists
// the algorithm in SupportedSigningAlgs.
func TestGoOIDCDiscoversJWKS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		alg     sessionkit.Algorithm
		algs    []string // oidc.Config.SupportedSigningAlgs
		refused bool
	}{
		{"RS256 by default", sessionkit.RS256, nil, false},
		{"ES256 listed", sessionkit.ES256, []string{oidc.ES256}, false},
		{"EdDSA listed", sessionkit.EdDSA, []string{oidc.EdDSA}, false},
		{"ES256 not listed", sessionkit.ES256, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newMetadataServer(t, tt.alg)
			ctx := oidc.ClientContext(t.Context(), s.client)
			provider, err := oidc.NewProvider(ctx, s.url)
			if err != nil {
				t.Fatalf("NewProvider: %v", err)
			}
			var md struct {
				JWKSURI string `json:"jwks_uri"`
			}
			if err := provider.Claims(&md); err != nil || md.JWKSURI != s.url+jwksPath {
				t.Fatalf("jwks_uri %q (%v), want %q", md.JWKSURI, err, s.url+jwksPath)
			}
			verifier := provider.VerifierContext(ctx, &oidc.Config{ClientID: audience, SupportedSigningAlgs: tt.algs})
			tok := s.token(t)
			got, err := verifier.Verify(ctx, tok)
			if tt.refused {
				if err == nil || !strings.Contains(err.Error(), string(tt.alg)) {
					t.Fatalf("Verify without SupportedSigningAlgs: %v, want a refusal of %s", err, tt.alg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Subject != "u1" || got.Issuer != s.url {
				t.Fatalf("sub %q iss %q", got.Subject, got.Issuer)
			}
			if n := s.fetched(jwksPath); n != 1 {
				t.Fatalf("%d JWKS fetches, want 1 (found through the metadata)", n)
			}
			if _, err := verifier.Verify(ctx, tamper(t, tok)); err == nil {
				t.Fatal("a tampered token verified")
			}
		})
	}

	t.Run("issuer mismatch", func(t *testing.T) {
		t.Parallel()
		s := newMetadataServer(t, sessionkit.RS256)
		_, err := oidc.NewProvider(oidc.ClientContext(t.Context(), s.client), s.url+"/")
		var mismatch *oidc.IssuerMismatchError
		if !errors.As(err, &mismatch) {
			t.Fatalf("NewProvider(issuer + \"/\"): %v, want an IssuerMismatchError", err)
		}
	})
}

// TestGoJWTMiddlewareDiscoversJWKS: go-jwt-middleware's caching provider,
// given only the issuer URL, reads /.well-known/openid-configuration,
// fetches the JWKS named there, and its validator accepts our access
// tokens (and refuses a tampered one) for each of our algorithms.
func TestGoJWTMiddlewareDiscoversJWKS(t *testing.T) {
	t.Parallel()
	for _, alg := range algorithms {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			s := newMetadataServer(t, alg)
			issuer, err := url.Parse(s.url)
			if err != nil {
				t.Fatal(err)
			}
			provider := jwks.NewCachingProvider(issuer, 5*time.Minute, jwks.WithCustomClient(s.client))
			v, err := validator.New(provider.KeyFunc, validator.SignatureAlgorithm(alg), s.url, []string{audience})
			if err != nil {
				t.Fatal(err)
			}
			tok := s.token(t)
			for range 2 { // the second time from the provider's cache
				got, err := v.ValidateToken(t.Context(), tok)
				if err != nil {
					t.Fatalf("ValidateToken: %v", err)
				}
				if c := got.(*validator.ValidatedClaims); c.RegisteredClaims.Subject != "u1" {
					t.Fatalf("sub %q", c.RegisteredClaims.Subject)
				}
			}
			if _, err := v.ValidateToken(t.Context(), tamper(t, tok)); err == nil {
				t.Fatal("a tampered token validated")
			}
			if d, k := s.fetched("/.well-known/openid-configuration"), s.fetched(jwksPath); d != 1 || k != 1 {
				t.Fatalf("%d metadata and %d JWKS fetches, want one of each", d, k)
			}
		})
	}
}

// listenLoopback listens on a free port of 127.0.0.1.
func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.1: %v", err)
	}
	return l
}
