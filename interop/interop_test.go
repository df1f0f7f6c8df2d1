package interop

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

const (
	issuerURL = "https://auth.interop.test"
	audience  = "api"
	jwksPath  = "/.well-known/jwks.json"
	// nodeTimeout bounds every node run.
	nodeTimeout = 60 * time.Second
	// minNodeMajor is the oldest Node jose v6 runs on here.
	minNodeMajor = 20
)

var algorithms = []sessionkit.Algorithm{sessionkit.RS256, sessionkit.ES256, sessionkit.EdDSA}

// findNode locates node, checks its version and the installed jose package,
// once for all tests.
var findNode = sync.OnceValues(func() (string, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return "", errors.New("node not found on PATH")
	}
	out, err := exec.Command(node, "-p", "process.versions.node").Output()
	if err != nil {
		return "", fmt.Errorf("node -p process.versions.node: %v", err)
	}
	version := strings.TrimSpace(string(out))
	major, err := strconv.Atoi(strings.SplitN(version, ".", 2)[0])
	if err != nil || major < minNodeMajor {
		return "", fmt.Errorf("node %s is too old (need >= %d)", version, minNodeMajor)
	}
	if _, err := os.Stat(filepath.Join("node_modules", "jose", "package.json")); err != nil {
		return "", errors.New("interop/node_modules/jose is missing")
	}
	return node, nil
})

// requireNode returns the path of node, or skips the test if node (>= 20)
// or the installed jose package is missing. With CI set to a true value
// (CI=true, as in .ci/run) it fails instead of skipping.
func requireNode(t *testing.T) string {
	t.Helper()
	node, err := findNode()
	if err == nil {
		return node
	}
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatalf("interop: %v (CI=%s, so this is a failure; install Node >= %d and run `npm ci` in interop/)", err, os.Getenv("CI"), minNodeMajor)
	}
	t.Skipf("interop: %v; install Node >= %d and run `cd interop && npm ci` to run these tests", err, minNodeMajor)
	return ""
}

// runNode runs `node script` with input as JSON on stdin and decodes its
// stdout into out. The child gets a minimal environment (no proxies, no
// NODE_OPTIONS) and a timeout; the scripts refuse any URL but
// http://127.0.0.1.
func runNode(t *testing.T, node, script string, input, out any) {
	t.Helper()
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), nodeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "NO_COLOR=1", "NODE_NO_WARNINGS=1"}
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v (ctx: %v)\nstderr:\n%s", script, err, ctx.Err(), stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("node %s: bad JSON output: %v\nstdout:\n%s\nstderr:\n%s", script, err, stdout.String(), stderr.String())
	}
}

// serveLoopback starts an httptest server bound to 127.0.0.1 serving h at
// the JWKS path. It returns the JWKS URL and a counter of JWKS requests.
func serveLoopback(t *testing.T, h http.Handler) (string, *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.1: %v", err)
	}
	var hits atomic.Int64
	mux := http.NewServeMux()
	mux.Handle("GET "+jwksPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h.ServeHTTP(w, r)
	}))
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL + jwksPath, &hits
}

// loopbackClient is an HTTP client that can reach 127.0.0.1 only: no proxy,
// no redirects, and a dialer that refuses any other address.
func loopbackClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil || host != "127.0.0.1" {
			return nil, fmt.Errorf("interop: refusing to dial %q: only 127.0.0.1 is allowed", addr)
		}
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{
		Transport: tr,
		Timeout:   10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return errors.New("interop: redirects are not followed")
		},
	}
}

// nodeResult is one entry of verify.mjs's output.
type nodeResult struct {
	OK      bool   `json:"ok"`
	Sub     string `json:"sub"`
	KID     string `json:"kid"`
	Alg     string `json:"alg"`
	Code    string `json:"code"`
	Claim   string `json:"claim"`
	Message string `json:"message"`
}

// verifyRequest is verify.mjs's input.
type verifyRequest struct {
	JWKSURL     string   `json:"jwksUrl"`
	Issuer      string   `json:"issuer"`
	Audience    string   `json:"audience"`
	Tokens      []string `json:"tokens"`
	CurrentDate int64    `json:"currentDate,omitempty"` // unix seconds; 0: real clock
}

// nodeVerify runs verify.mjs.
func nodeVerify(t *testing.T, node string, req verifyRequest) []nodeResult {
	t.Helper()
	var res []nodeResult
	runNode(t, node, "verify.mjs", req, &res)
	if len(res) != len(req.Tokens) {
		t.Fatalf("verify.mjs: %d results for %d tokens", len(res), len(req.Tokens))
	}
	return res
}

// tamper changes the subject in the payload of a compact JWS to "mallory",
// keeping every other claim, the header and the signature.
func tamper(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("payload: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatalf("payload: %v", err)
	}
	claims["sub"] = "mallory"
	raw, err = json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + parts[2]
}

// TestNodeVerifiesSessionkitTokens: jose's createRemoteJWKSet + jwtVerify
// accept sessionkit access tokens from our JWKS handler, across rotations,
// and refuse tampered, expired and wrong-audience tokens and tokens of a
// retired key.
func TestNodeVerifiesSessionkitTokens(t *testing.T) {
	t.Parallel()
	node := requireNode(t)
	for _, alg := range algorithms {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			newKey := func() *sessionkit.SigningKey {
				k, err := sessionkit.GenerateSigningKey(alg)
				if err != nil {
					t.Fatalf("GenerateSigningKey(%s): %v", alg, err)
				}
				return k
			}
			key1 := newKey()
			keys := sessionkit.NewKeySet(key1)
			newIssuer := func(now func() time.Time) *sessionkit.Issuer {
				st := memstore.New()
				t.Cleanup(func() { _ = st.Close() })
				iss, err := sessionkit.New(sessionkit.Config{
					Issuer: issuerURL, Audience: []string{audience}, Keys: keys, Store: st,
					AccessTTL: 15 * time.Minute, Now: now,
				})
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return iss
			}
			iss := newIssuer(nil)
			// jose checks exp against the real clock: an Issuer whose clock
			// is two hours behind mints tokens that expired 1h45m ago.
			past := time.Now().Add(-2 * time.Hour)
			pastIss := newIssuer(func() time.Time { return past })
			jwksURL, _ := serveLoopback(t, iss.Keys())
			verify := func(aud string, currentDate int64, tokens ...string) []nodeResult {
				t.Helper()
				return nodeVerify(t, node, verifyRequest{
					JWKSURL: jwksURL, Issuer: issuerURL, Audience: aud, Tokens: tokens, CurrentDate: currentDate,
				})
			}
			login := func(iss *sessionkit.Issuer, sub string) string {
				t.Helper()
				toks, err := iss.Login(ctx, sessionkit.Grant{Subject: sub, Scope: "read"})
				if err != nil {
					t.Fatalf("Login(%s): %v", sub, err)
				}
				return toks.AccessToken
			}
			wantOK := func(r nodeResult, sub, kid string) {
				t.Helper()
				if !r.OK {
					t.Errorf("node refused the %s token of key %s: %s: %s", sub, kid, r.Code, r.Message)
					return
				}
				if r.Sub != sub || r.KID != kid || r.Alg != string(alg) {
					t.Errorf("node verified sub=%q kid=%q alg=%q, want %q %q %q", r.Sub, r.KID, r.Alg, sub, kid, alg)
				}
			}
			wantRefused := func(r nodeResult, what, code, claim string) {
				t.Helper()
				switch {
				case r.OK:
					t.Errorf("node accepted %s (sub %q)", what, r.Sub)
				case r.Code != code:
					t.Errorf("node refused %s with %s (%s), want %s", what, r.Code, r.Message, code)
				case r.Claim != claim:
					t.Errorf("node refused %s over claim %q (%s), want %q", what, r.Claim, r.Message, claim)
				}
			}

			// Before any rotation.
			tok1 := login(iss, "alice")
			expired := login(pastIss, "dave")
			res := verify(audience, 0, tok1, tamper(t, tok1), expired)
			wantOK(res[0], "alice", key1.KeyID())
			wantRefused(res[1], "a tampered token", "ERR_JWS_SIGNATURE_VERIFICATION_FAILED", "")
			wantRefused(res[2], "an expired token", "ERR_JWT_EXPIRED", "exp")
			// The expired token is refused for its exp alone: at its own
			// time it verifies.
			res = verify(audience, past.Add(time.Minute).Unix(), expired)
			wantOK(res[0], "dave", key1.KeyID())
			// jose told to expect another audience refuses it.
			res = verify("other", 0, tok1)
			wantRefused(res[0], "a token for another audience", "ERR_JWT_CLAIM_VALIDATION_FAILED", "aud")

			// Rotate: the old key stays published, old and new tokens verify.
			key2 := newKey()
			if err := keys.Rotate(key2); err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			tok2 := login(iss, "bob")
			res = verify(audience, 0, tok1, tok2)
			wantOK(res[0], "alice", key1.KeyID())
			wantOK(res[1], "bob", key2.KeyID())

			// Rotate again and retire the first key: its tokens fail.
			key3 := newKey()
			if err := keys.Rotate(key3); err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			if err := keys.Retire(key1.KeyID()); err != nil {
				t.Fatalf("Retire: %v", err)
			}
			tok3 := login(iss, "carol")
			res = verify(audience, 0, tok1, tok2, tok3)
			wantRefused(res[0], "a token of a retired key", "ERR_JWKS_NO_MATCHING_KEY", "")
			wantOK(res[1], "bob", key2.KeyID())
			wantOK(res[2], "carol", key3.KeyID())
		})
	}
}

// nodeSigned is sign.mjs's output.
type nodeSigned struct {
	JWKS   json.RawMessage `json:"jwks"`
	Tokens []struct {
		Alg   string `json:"alg"`
		Kind  string `json:"kind"`
		Sub   string `json:"sub"`
		Token string `json:"token"`
	} `json:"tokens"`
}

// TestVerifierAcceptsNodeTokens: sessionkit's Verifier, reading a JWKS of
// keys generated by jose from 127.0.0.1, accepts the tokens jose signed and
// refuses tampered, expired and wrong-audience ones, HS256 tokens (no HMAC
// secret is configured, so a JWKS-only Verifier must never take HS*, not
// even with the public key as the secret) and alg "none". With the default
// TokenTypes it also refuses jose tokens typed "JWT" or untyped
// (TestVerifierNodeTokenTypes admits them).
func TestVerifierAcceptsNodeTokens(t *testing.T) {
	t.Parallel()
	node := requireNode(t)
	var signed nodeSigned
	runNode(t, node, "sign.mjs", map[string]any{
		"issuer": issuerURL, "audience": audience, "subject": "node-user",
	}, &signed)
	wantErr := map[string]error{
		"good":             nil,
		"tampered":         sessionkit.ErrInvalidToken,
		"expired":          sessionkit.ErrTokenExpired,
		"wrong-audience":   sessionkit.ErrInvalidToken,
		"hs256-secret":     sessionkit.ErrInvalidToken,
		"hs256-public-key": sessionkit.ErrInvalidToken,
		"alg-none":         sessionkit.ErrInvalidToken,
		"alg-none-kid":     sessionkit.ErrInvalidToken,
		"typ-jwt":          sessionkit.ErrInvalidToken, // default TokenTypes: at+jwt only
		"typ-none":         sessionkit.ErrInvalidToken,
	}
	if len(signed.Tokens) != len(wantErr)*len(algorithms) {
		t.Fatalf("sign.mjs printed %d tokens, want %d", len(signed.Tokens), len(wantErr)*len(algorithms))
	}
	jwks := []byte(signed.JWKS)
	jwksURL, hits := serveLoopback(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(jwks)
	}))

	verifiers := []struct {
		name string
		algs []sessionkit.Algorithm
		hmac []sessionkit.HMACKey
	}{
		{"default-algorithms", nil, nil},
		// HS256 allowed, with a secret configured for another kid: still
		// nothing may verify with HS256 against keys from a JWKS.
		{"hs256-allowed", []sessionkit.Algorithm{sessionkit.RS256, sessionkit.ES256, sessionkit.EdDSA, sessionkit.HS256},
			[]sessionkit.HMACKey{{KeyID: "configured", Algorithm: sessionkit.HS256, Secret: bytes.Repeat([]byte("k"), 32)}}},
	}
	for _, vc := range verifiers {
		v, err := sessionkit.NewVerifier(sessionkit.VerifierConfig{
			Issuers:           []sessionkit.TrustedIssuer{{Issuer: issuerURL, JWKSURL: jwksURL, HMACKeys: vc.hmac}},
			Audience:          []string{audience},
			Algorithms:        vc.algs,
			HTTPClient:        loopbackClient(),
			InsecureAllowHTTP: true,
		})
		if err != nil {
			t.Fatalf("%s: NewVerifier: %v", vc.name, err)
		}
		t.Run(vc.name, func(t *testing.T) {
			for _, tc := range signed.Tokens {
				t.Run(tc.Alg+"/"+tc.Kind, func(t *testing.T) {
					t.Parallel()
					want, known := wantErr[tc.Kind]
					if !known {
						t.Fatalf("unknown token kind %q", tc.Kind)
					}
					claims, err := v.Verify(t.Context(), tc.Token)
					if want == nil {
						if err != nil {
							t.Fatalf("Verify: %v", err)
						}
						if claims.Subject != tc.Sub || claims.Issuer != issuerURL {
							t.Errorf("claims sub=%q iss=%q, want %q %q", claims.Subject, claims.Issuer, tc.Sub, issuerURL)
						}
						if claims.Scope != "read" || claims.ID == "" {
							t.Errorf("claims scope=%q jti=%q, want scope read and a jti", claims.Scope, claims.ID)
						}
						return
					}
					if err == nil {
						t.Fatalf("Verify accepted a %s token (sub %q)", tc.Kind, claims.Subject)
					}
					if !errors.Is(err, want) {
						t.Errorf("Verify: %v, want an error wrapping %v", err, want)
					}
					for _, part := range strings.Split(tc.Token, ".") {
						if len(part) >= 16 && strings.Contains(err.Error(), part) {
							t.Errorf("Verify's error quotes the token: %v", err)
						}
					}
				})
			}
		})
	}
	if hits.Load() == 0 {
		t.Errorf("the Verifier never fetched the JWKS")
	}
	t.Logf("JWKS fetched %d times", hits.Load())
}
