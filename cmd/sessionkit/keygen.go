package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sessionkit/sessionkit"
)

var keygenCommand = &command{
	name:     "keygen",
	synopsis: "sessionkit keygen [-alg RS256|ES256|EdDSA] [-o FILE [-force]]",
	summary:  "make a signing key (PEM, PKCS #8)",
	about: `
Generates a signing key and writes it as a PEM "PRIVATE KEY" block (PKCS #8),
which sessionkit.ParseSigningKeyPEM reads: a 2048-bit RSA key for RS256 (the
default), a P-256 key for ES256, an Ed25519 key for EdDSA.

Without -o the key goes to standard output. With -o it goes to FILE, created
with mode 0600 (owner only); an existing FILE is never overwritten unless
-force is given, and then it is replaced whole, with mode 0600. The key id
(its RFC 7638 thumbprint, which tokens carry as kid) goes to standard error.
Keep the key secret: whoever has it can mint access tokens.`,
	example: `
sessionkit keygen -alg ES256 -o signing-key.pem
sessionkit jwks signing-key.pem`,
	run: runKeygen,
}

func runKeygen(c *cli, cmd *command, args []string) error {
	fs := c.flags(cmd)
	alg := fs.String("alg", string(sessionkit.RS256), "the algorithm: RS256, ES256 or EdDSA")
	out := fs.String("o", "", "write the key to this `FILE` (mode 0600) instead of standard output")
	force := fs.Bool("force", false, "with -o, replace an existing FILE")
	pos, err := c.parse(cmd, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", shorten(pos[0]))
	}
	a := sessionkit.Algorithm(*alg)
	switch a {
	case sessionkit.RS256, sessionkit.ES256, sessionkit.EdDSA:
	default:
		return usagef("-alg %q: want RS256, ES256 or EdDSA", shorten(*alg))
	}
	if *force && *out == "" {
		return usagef("-force needs -o")
	}
	key, err := sessionkit.GenerateSigningKey(a)
	if err != nil {
		return err
	}
	pem, err := key.MarshalPEM()
	if err != nil {
		return err
	}
	if *out == "" {
		_, err := c.stdout.Write(pem)
		if err == nil {
			fmt.Fprintf(c.stderr, "%s key, kid %s\n", a, key.KeyID())
		}
		return err
	}
	if *force {
		err = replaceFile(*out, pem)
	} else {
		err = createFile(*out, pem)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "wrote %s key %s to %s (mode 0600)\n", a, key.KeyID(), *out)
	return nil
}

// createFile writes data to a new file at path with mode 0600, refusing
// to touch an existing one (or a symbolic link). A failed write removes
// the file again.
func createFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists; not overwriting it (use -force to replace it)", path)
	}
	if err != nil {
		return err
	}
	if err := writeAndClose(f, data); err != nil {
		_ = os.Remove(path)
		return err
	}
	return nil
}

// replaceFile replaces the file at path (or creates it) with data, mode
// 0600: it writes a temporary file next to it and renames it over path, so
// that path never holds a partial key nor keeps its old, perhaps wider,
// mode.
func replaceFile(path string, data []byte) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+strings.TrimPrefix(base, ".")+".tmp*") // mode 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	if err := writeAndClose(f, data); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

// writeAndClose writes data to f, syncs it to disk and closes it.
func writeAndClose(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
