package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// authServer serves an Issuer's JWKS and metadata on loopback, as an auth
// server would; the Issuer's clock stands at now (zero: time.Now).
func authServer(t *testing.T, now time.Time) (*httptest.Server, *sessionkit.Issuer) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	key, err := sessionkit.GenerateSigningKey(sessionkit.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	cfg := sessionkit.Config{Issuer: srv.URL, Audience: []string{"api"}, Keys: sessionkit.NewKeySet(key), Store: memstore.New()}
	if !now.IsZero() {
		cfg.Now = func() time.Time { return now }
	}
	iss, err := sessionkit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("GET /.well-known/jwks.json", iss.Keys())
	mux.Handle("GET /.well-known/openid-configuration", must(iss.MetadataHandler(sessionkit.MetadataConfig{InsecureAllowHTTP: true})))
	return srv, iss
}

func TestVerify(t *testing.T) {
	t.Parallel()
	srv, iss := authServer(t, time.Time{})
	tok := loginAt(t, iss, "alice").AccessToken
	oldSrv, oldIss := authServer(t, t0)
	expired := loginAt(t, oldIss, "bob").AccessToken
	jwks := srv.URL + "/.well-known/jwks.json"
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()

	tests := []struct {
		name  string
		args  []string
		stdin string
		want  check
	}{
		{"with -jwks", []string{"-issuer", srv.URL, "-jwks", jwks, "-aud", "api", "-insecure-http", tok}, "", check{code: 0, emptyStderr: true, stdout: []string{
			"VERIFIED: signature, algorithm, typ, iss, aud and times; revocation was not checked.\n",
			"  iss    " + srv.URL + "\n", "  sub    alice\n", "  aud    api\n", ", expires in 1", "  scope  read write\n", "  ver    0\n",
		}}},
		{"discovered", []string{"-issuer", srv.URL, "-aud", "api", "-insecure-http", tok}, "", check{code: 0, stdout: []string{"VERIFIED", "  sub    alice\n"}}},
		{"from standard input", []string{"-issuer", srv.URL, "-aud", "other", "-aud", "api", "-insecure-http"}, tok + "\n", check{code: 0, stdout: []string{"VERIFIED"}}},
		{"flags after the token", []string{tok, "-issuer", srv.URL, "-aud", "api", "-insecure-http"}, "", check{code: 0, stdout: []string{"VERIFIED"}}},
		{"wrong audience", []string{"-issuer", srv.URL, "-aud", "other", "-insecure-http", tok}, "", check{code: 1, emptyStdout: true, stderr: []string{
			"sessionkit verify: sessionkit: invalid token: audience does not include ours\n"}, absent: []string{tok}}},
		{"expired", []string{"-issuer", oldSrv.URL, "-aud", "api", "-insecure-http", expired}, "", check{code: 1, emptyStdout: true, stderr: []string{
			"sessionkit verify: sessionkit: token expired: exp has passed\n"}, absent: []string{expired}}},
		{"wrong issuer", []string{"-issuer", oldSrv.URL, "-jwks", jwks, "-aud", "api", "-insecure-http", tok}, "", check{code: 1, emptyStdout: true, stderr: []string{"sessionkit: invalid token: wrong issuer"}}},
		{"other typ required", []string{"-issuer", srv.URL, "-jwks", jwks, "-aud", "api", "-typ", "JWT", "-insecure-http", tok}, "", check{code: 1, stderr: []string{"wrong token type"}}},
		{"algorithm not allowed by -alg", []string{"-issuer", srv.URL, "-jwks", jwks, "-aud", "api", "-alg", "ES256", "-insecure-http", tok}, "", check{code: 1, stderr: []string{"keys unavailable: the JWKS is unusable: none of the 1 keys is usable"}}},
		{"not a token", []string{"-issuer", srv.URL, "-jwks", jwks, "-aud", "api", "-insecure-http", "garbage"}, "", check{code: 1, stderr: []string{"sessionkit: invalid token: not a compact JWS"}}},
		{"JWKS unreachable", []string{"-issuer", srv.URL, "-jwks", dead.URL + "/jwks", "-aud", "api", "-insecure-http", tok}, "", check{code: 1, emptyStdout: true, stderr: []string{
			"sessionkit verify: sessionkit: keys unavailable", `level=ERROR msg="sessionkit: JWKS fetch failed`}, absent: []string{tok}}},
		{"http without -insecure-http", []string{"-issuer", srv.URL, "-jwks", jwks, "-aud", "api", tok}, "", check{code: 2, emptyStdout: true, stderr: []string{"sessionkit verify: sessionkit: invalid configuration"}}},
		{"unknown algorithm", []string{"-issuer", srv.URL, "-jwks", jwks, "-aud", "api", "-alg", "XS1", "-insecure-http", tok}, "", check{code: 2, stderr: []string{"XS1"}}},
		{"no -issuer", []string{"-aud", "api", tok}, "", check{code: 2, stderr: []string{"-issuer is required"}}},
		{"no -aud", []string{"-issuer", srv.URL, tok}, "", check{code: 2, stderr: []string{"-aud is required"}}},
		{"no token", []string{"-issuer", srv.URL, "-aud", "api"}, "", check{code: 2, stderr: []string{"no token"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.want.verify(t, runCmd(t, tt.stdin, append([]string{"verify"}, tt.args...)...))
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
