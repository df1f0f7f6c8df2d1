package interop

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// clientRun is client.mjs's "run" output.
type clientRun struct {
	Token struct {
		Status int            `json:"status"`
		Body   map[string]any `json:"body"`
	} `json:"token"`
	API struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	} `json:"api"`
	Replay struct {
		Status int            `json:"status"`
		Body   map[string]any `json:"body"`
	} `json:"replay"`
	NoToken struct {
		Status int `json:"status"`
	} `json:"noToken"`
}

// serveMux starts an httptest server on 127.0.0.1 and returns its URL.
func serveMux(t *testing.T, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.1: %v", err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestNodeClientAssertion: a Node service signs an RFC 7523 assertion with
// its own jose key, obtains an access token from sessionkit's token
// endpoint on 127.0.0.1 and calls an API behind sessionkit's Middleware;
// the same assertion presented again is refused.
func TestNodeClientAssertion(t *testing.T) {
	node := requireNode(t)
	for _, alg := range algorithms {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			var keys struct {
				PublicJWK  json.RawMessage `json:"publicJwk"`
				PrivateJWK json.RawMessage `json:"privateJwk"`
			}
			runNode(t, node, "client.mjs", map[string]any{"op": "keygen", "alg": string(alg)}, &keys)
			pub, err := sessionkit.ParseClientKey(keys.PublicJWK)
			if err != nil {
				t.Fatalf("ParseClientKey(jose's public JWK): %v", err)
			}
			if pub.Algorithm() != alg {
				t.Fatalf("jose's %s key parsed as %s", alg, pub.Algorithm())
			}
			clients, err := sessionkit.NewMemoryClients(sessionkit.Client{
				ID: "node-service", Keys: []sessionkit.ClientKey{pub}, Scopes: []string{"reports:read"},
			})
			if err != nil {
				t.Fatal(err)
			}
			signing, err := sessionkit.GenerateSigningKey(sessionkit.RS256)
			if err != nil {
				t.Fatal(err)
			}
			st := memstore.New()
			t.Cleanup(func() { _ = st.Close() })
			iss, err := sessionkit.New(sessionkit.Config{
				Issuer: issuerURL, Audience: []string{audience}, Keys: sessionkit.NewKeySet(signing), Store: st,
			})
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			mux.Handle("POST /oauth/token", must(iss.TokenEndpoint(sessionkit.TokenEndpointConfig{Clients: clients})))
			mux.Handle("GET /reports", sessionkit.Middleware(iss, sessionkit.MiddlewareOptions{})(
				sessionkit.RequireScope("reports:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					c, _ := sessionkit.ClaimsFromContext(r.Context())
					if !c.IsClient() {
						http.Error(w, "not a client token", http.StatusForbidden)
						return
					}
					_, _ = w.Write([]byte("reports for " + c.ClientID))
				}))))
			base := serveMux(t, mux)

			var out clientRun
			runNode(t, node, "client.mjs", map[string]any{
				"op": "run", "privateJwk": keys.PrivateJWK, "alg": string(alg), "clientId": "node-service",
				"issuer": issuerURL, "tokenUrl": base + "/oauth/token", "apiUrl": base + "/reports",
			}, &out)
			if out.Token.Status != 200 || out.Token.Body["token_type"] != "Bearer" || out.Token.Body["scope"] != "reports:read" {
				t.Fatalf("token request: %d %v", out.Token.Status, out.Token.Body)
			}
			if out.API.Status != 200 || out.API.Body != "reports for node-service" {
				t.Errorf("API call with the token: %d %q", out.API.Status, out.API.Body)
			}
			if out.Replay.Status != 400 || out.Replay.Body["error"] != "invalid_grant" ||
				!strings.Contains(out.Replay.Body["error_description"].(string), "already used") {
				t.Errorf("replayed assertion: %d %v", out.Replay.Status, out.Replay.Body)
			}
			if out.NoToken.Status != 401 {
				t.Errorf("API call without a token: %d", out.NoToken.Status)
			}
		})
	}
}

// must returns v, and panics on err: for the handler constructors, whose
// configuration the test fixes.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
