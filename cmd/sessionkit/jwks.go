package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/sessionkit/sessionkit"
)

var jwksCommand = &command{
	name:     "jwks",
	synopsis: "sessionkit jwks FILE...",
	summary:  "print the JWKS (public keys) of PEM signing keys",
	about: `
Reads the PEM private keys in the FILEs (as keygen writes them, or PKCS #1 and
SEC 1 keys) and writes to standard output the JWK Set a KeySet holding them
serves at /.well-known/jwks.json: the public keys only, with kid, alg and
"use":"sig". The first FILE is the signing key and comes first; the others
follow in order, as keys published for verification. A key given twice
appears once.`,
	example: `
sessionkit jwks current.pem next.pem > jwks.json`,
	run: runJWKS,
}

func runJWKS(c *cli, cmd *command, args []string) error {
	fs := c.flags(cmd)
	files, err := c.parse(cmd, fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("no key files given")
	}
	var ks *sessionkit.KeySet
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		key, err := sessionkit.ParseSigningKeyPEM(data)
		if err != nil {
			// The parser's errors never contain key material.
			return fmt.Errorf("%s: %w", name, err)
		}
		if ks == nil {
			ks = sessionkit.NewKeySet(key)
		} else if err := ks.Publish(key); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	doc, err := servedJWKS(ks)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.stdout, "%s\n", doc)
	return err
}

// servedJWKS returns the JWKS document ks serves, by asking its handler as
// a verifier would: what the command prints is what the application
// serves, byte for byte.
func servedJWKS(ks *sessionkit.KeySet) ([]byte, error) {
	rec := httptest.NewRecorder()
	ks.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("the key set answered %d", rec.Code)
	}
	return rec.Body.Bytes(), nil
}
