package main

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/sessionkit/sessionkit"
)

func TestJWKS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var files []string
	var kids []string
	for i, alg := range []sessionkit.Algorithm{sessionkit.RS256, sessionkit.ES256, sessionkit.EdDSA} {
		key, err := sessionkit.GenerateSigningKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		pem, err := key.MarshalPEM()
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, write(string(rune('a'+i))+".pem", pem))
		kids = append(kids, key.KeyID())
	}
	public := write("public.pem", []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))
	garbage := write("garbage.pem", []byte("not pem"))

	tests := []struct {
		name string
		args []string
		want check
		kids []string // the kids of the printed JWKS, in order
	}{
		{"one key", []string{files[0]}, check{code: 0, emptyStderr: true}, kids[:1]},
		{"signing key first, then in order", []string{files[2], files[0], files[1]}, check{code: 0}, []string{kids[2], kids[0], kids[1]}},
		{"a key twice appears once", []string{files[1], files[1]}, check{code: 0}, kids[1:2]},
		{"no files", nil, check{code: 2, emptyStdout: true, stderr: []string{"no key files given"}}, nil},
		{"missing file", []string{filepath.Join(dir, "missing.pem")}, check{code: 1, emptyStdout: true, stderr: []string{"missing.pem"}}, nil},
		{"public key", []string{files[0], public}, check{code: 1, emptyStdout: true, stderr: []string{"public.pem: ", "holds no private key"}}, nil},
		{"not PEM", []string{garbage}, check{code: 1, emptyStdout: true, stderr: []string{"garbage.pem: ", "not a PEM block"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := runCmd(t, "", append([]string{"jwks"}, tt.args...)...)
			tt.want.verify(t, got)
			if tt.kids == nil {
				return
			}
			var doc struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal([]byte(got.stdout), &doc); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, got.stdout)
			}
			if len(doc.Keys) != len(tt.kids) {
				t.Fatalf("%d keys, want %d:\n%s", len(doc.Keys), len(tt.kids), got.stdout)
			}
			for i, k := range doc.Keys {
				if k["kid"] != tt.kids[i] || k["use"] != "sig" {
					t.Errorf("key %d: kid %v use %v, want kid %s use sig", i, k["kid"], k["use"], tt.kids[i])
				}
				for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
					if _, ok := k[private]; ok {
						t.Errorf("key %d has the private member %q", i, private)
					}
				}
			}
		})
	}
}

// TestJWKSAsServed checks that jwks prints what the KeySet's handler
// serves, byte for byte.
func TestJWKSAsServed(t *testing.T) {
	t.Parallel()
	key, err := sessionkit.GenerateSigningKey(sessionkit.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := key.MarshalPEM()
	file := filepath.Join(t.TempDir(), "k.pem")
	if err := os.WriteFile(file, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sessionkit.NewKeySet(key))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	want, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	got := runCmd(t, "", "jwks", file)
	if got.stdout != string(want)+"\n" {
		t.Errorf("jwks printed\n%s\nthe KeySet serves\n%s", got.stdout, want)
	}
}
