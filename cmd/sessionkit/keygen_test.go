package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
)

func TestKeygen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string // "FILE" stands for a path in a fresh directory
		existed string   // what FILE holds before, with mode 0644; "" for no file
		want    check
		alg     sessionkit.Algorithm // the key written, to stdout or FILE; "" for none
		kept    bool                 // FILE still holds what existed
	}{
		{name: "default RS256 to stdout", args: nil, want: check{code: 0, stdoutPrefix: "-----BEGIN PRIVATE KEY-----\n", stderr: []string{"RS256 key, kid "}}, alg: sessionkit.RS256},
		{name: "ES256 to stdout", args: []string{"-alg", "ES256"}, want: check{code: 0, stdoutPrefix: "-----BEGIN PRIVATE KEY-----\n"}, alg: sessionkit.ES256},
		{name: "EdDSA to a file", args: []string{"-alg", "EdDSA", "-o", "FILE"}, want: check{code: 0, emptyStdout: true, stderr: []string{"wrote EdDSA key ", "(mode 0600)"}}, alg: sessionkit.EdDSA},
		{name: "existing file kept", args: []string{"-alg", "EdDSA", "-o", "FILE"}, existed: "precious\n", want: check{code: 1, emptyStdout: true, stderr: []string{"exists; not overwriting it (use -force to replace it)"}}, kept: true},
		{name: "-force replaces", args: []string{"-alg", "EdDSA", "-o", "FILE", "-force"}, existed: "old\n", want: check{code: 0, emptyStdout: true}, alg: sessionkit.EdDSA},
		{name: "-force without a file", args: []string{"-alg", "EdDSA", "-o", "FILE", "-force"}, want: check{code: 0}, alg: sessionkit.EdDSA},
		{name: "-force without -o", args: []string{"-force"}, want: check{code: 2, emptyStdout: true, stderr: []string{"-force needs -o"}}},
		{name: "unknown algorithm", args: []string{"-alg", "HS256"}, want: check{code: 2, emptyStdout: true, stderr: []string{`-alg "HS256": want RS256, ES256 or EdDSA`}}},
		{name: "argument", args: []string{"extra"}, want: check{code: 2, stderr: []string{`unexpected argument "extra"`}}},
		{name: "missing directory", args: []string{"-alg", "EdDSA", "-o", "FILE/inside"}, want: check{code: 1, emptyStdout: true, stderr: []string{"sessionkit keygen: "}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "key.pem")
			args := []string{"keygen"}
			toFile := false
			for _, a := range tt.args {
				if strings.HasPrefix(a, "FILE") {
					a, toFile = file+strings.TrimPrefix(a, "FILE"), true
				}
				args = append(args, a)
			}
			if tt.existed != "" {
				if err := os.WriteFile(file, []byte(tt.existed), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got := runCmd(t, "", args...)
			tt.want.verify(t, got)

			pem := []byte(got.stdout)
			if toFile {
				data, err := os.ReadFile(file)
				if err != nil && tt.alg != "" {
					t.Fatal(err)
				}
				pem = data
			}
			if tt.kept && string(pem) != tt.existed {
				t.Errorf("FILE holds %q, want it untouched (%q)", pem, tt.existed)
			}
			if tt.alg == "" {
				return
			}
			key, err := sessionkit.ParseSigningKeyPEM(pem)
			if err != nil {
				t.Fatalf("the key does not parse: %v", err)
			}
			if key.Algorithm() != tt.alg {
				t.Errorf("key algorithm %s, want %s", key.Algorithm(), tt.alg)
			}
			if !strings.Contains(got.stderr, key.KeyID()) {
				t.Errorf("stderr %q does not name the kid %s", got.stderr, key.KeyID())
			}
			if strings.Contains(got.stderr, "PRIVATE KEY") {
				t.Errorf("stderr shows the key:\n%s", got.stderr)
			}
			if toFile {
				st, err := os.Stat(file)
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != 0o600 {
					t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
				}
				if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 1 {
					t.Errorf("the directory holds %d entries, want only the key (no temporary file left)", len(entries))
				}
			}
		})
	}
}
