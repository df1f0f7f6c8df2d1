package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/scope"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/sealedstore"
)

// writeKEK writes a key-encryption key ring file (the current key first)
// and returns its path and its keys' text forms (which no output may show).
func writeKEK(t *testing.T, keys ...sealedstore.Key) (string, []string) {
	t.Helper()
	var secrets []string
	content := "# the KEK ring of the test\n\n"
	for _, k := range keys {
		secrets = append(secrets, k.Encode()[len(k.ID)+1:])
		content += k.Encode() + "\n"
	}
	path := filepath.Join(t.TempDir(), "kek.txt")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, secrets
}

func newKEK(t *testing.T) sealedstore.Key {
	t.Helper()
	k, err := sealedstore.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeysCommand(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			url, flags, open := be.setup(t)
			kek, old := newKEK(t), newKEK(t)
			// The application's ring, created under the old KEK; the
			// command reads it with the rotated ring (new current, old
			// previous), as the application would after a KEK rotation.
			st, closeStore := open(t)
			m, err := sessionkit.OpenManagedKeys(context.Background(), sessionkit.ManagedKeysConfig{
				Store: st.(store.KeyStore), Issuer: issuerA, KEK: sealedstore.Keys{Current: old},
			})
			if err != nil {
				t.Fatal(err)
			}
			current := m.Ring().Keys[0].KeyID
			closeStore()
			kekFile, secrets := writeKEK(t, kek, old)
			wrongFile, _ := writeKEK(t, newKEK(t))

			on := func(issuer, file string, args ...string) []string {
				return append(append([]string{"keys", "-store", url, "-issuer", issuer, "-kek-file", file}, flags...), args...)
			}
			listJSON := func() ringJSON {
				t.Helper()
				got := runCmd(t, "", on(issuerA, kekFile, "list", "-json")...)
				var r ringJSON
				if got.code != 0 || json.Unmarshal([]byte(got.stdout), &r) != nil {
					t.Fatalf("list -json: %d %s %s", got.code, got.stdout, got.stderr)
				}
				return r
			}
			check{code: 0, emptyStderr: true, stdout: []string{"key ring version 1", "KID", "STATE", current, "current", "RS256"}, absent: secrets}.
				verify(t, runCmd(t, "", on(issuerA, kekFile, "list")...))
			check{code: 0, stdout: []string{"next key", "published"}, absent: secrets}.
				verify(t, runCmd(t, "", on(issuerA, kekFile, "rotate")...))
			r := listJSON()
			if len(r.Keys) != 2 || r.Keys[1].State != "next" || r.Keys[0].KeyID != current {
				t.Fatalf("after rotate: %+v", r)
			}
			next := r.Keys[1].KeyID
			// A second rotate shows the key already published.
			check{code: 0, stdout: []string{next}}.verify(t, runCmd(t, "", on(issuerA, kekFile, "rotate")...))
			// The current key retires only unsafely; a next key at once.
			check{code: 1, emptyStdout: true, stderr: []string{"sessionkit keys:"}}.
				verify(t, runCmd(t, "", on(issuerA, kekFile, "retire", "--", current)...))
			check{code: 0, stdout: []string{"retired key " + next}}.
				verify(t, runCmd(t, "", on(issuerA, kekFile, "retire", "--", next)...))
			if r := listJSON(); len(r.Keys) != 1 || r.Keys[0].KeyID != current || r.KEKID != kek.ID {
				t.Fatalf("after retiring the next key: %+v (want it re-sealed under the current KEK %s)", r, kek.ID)
			}

			for _, c := range []struct {
				name string
				args []string
				want check
			}{
				{"wrong KEK", on(issuerA, wrongFile, "list"), check{code: 1, emptyStdout: true, stderr: []string{"sessionkit keys:", "invalid configuration"}}},
				{"another issuer has no ring (and gets none)", on(issuerB, kekFile, "list"), check{code: 1, stderr: []string{"no signing keys in the store for issuer " + issuerB}}},
				{"no action", on(issuerA, kekFile), check{code: 2, stderr: []string{"want list, rotate or retire"}}},
				{"retire without KID", on(issuerA, kekFile, "retire"), check{code: 2, stderr: []string{"retire takes one KID"}}},
				{"-unsafe elsewhere", on(issuerA, kekFile, "list", "-unsafe"), check{code: 2, stderr: []string{"-unsafe is for retire"}}},
				{"missing -kek-file", append(append([]string{"keys", "-store", url, "-issuer", issuerA}, flags...), "list"), check{code: 2, stderr: []string{"-kek-file is required"}}},
			} {
				t.Run(c.name, func(t *testing.T) {
					c.want.absent = append(c.want.absent, secrets...)
					c.want.verify(t, runCmd(t, "", c.args...))
				})
			}
			// The other issuer's listing created nothing.
			st, closeStore = open(t)
			defer closeStore()
			if blob, _, err := st.(store.KeyStore).LoadKeys(context.Background(), scope.KeyRing(issuerB)); err != nil || blob != nil {
				t.Fatalf("the listing at issuer B left a ring (%d bytes) or failed: %v", len(blob), err)
			}
		})
	}
}

func TestReadKEKFile(t *testing.T) {
	t.Parallel()
	k := newKEK(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name, content string
		ok            bool
	}{
		{"one key", k.Encode() + "\n", true},
		{"comments and blank lines", "# kek\n\n  " + k.Encode() + "  \n", true},
		{"empty", "# nothing\n", false},
		{"garbage", "not-a-key\n", false},
		{"bad secret", k.ID + ":!!!\n", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ring, err := readKEKFile(write(c.name, c.content))
			if (err == nil) != c.ok {
				t.Fatalf("readKEKFile: %v", err)
			}
			if err != nil && strings.Contains(err.Error(), k.Encode()[len(k.ID)+1:]) {
				t.Fatalf("the error quotes the key: %v", err)
			}
			if c.ok && ring.Current.ID != k.ID {
				t.Fatalf("current key %q, want %q", ring.Current.ID, k.ID)
			}
		})
	}
	if _, err := readKEKFile(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing file read")
	}
}
