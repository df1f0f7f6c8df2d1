package main

import "errors"

// keysCommand manages the signing keys an application keeps in its store.
// It needs the store's key storage and the managed KeySet, which this
// build does not have yet: until they land it parses its flags (so that
// -h documents it and a mistyped flag is a usage error now as later) and
// says it is not available. It plugs in here, on the store flags of the
// other store commands (storeFlags: -store, -issuer, -legacy-unscoped,
// -timeout, ...) and their opened store.
var keysCommand = &command{
	name:     "keys",
	synopsis: "sessionkit keys list|rotate|retire -store URL -kek-file FILE -issuer ISS",
	summary:  "list, rotate or retire the signing keys kept in the store (not available in this build)",
	about: `
Lists, rotates or retires the signing keys an application keeps in its store,
sealed under its key-encryption key (-kek-file).

NOT AVAILABLE IN THIS BUILD: the store's key storage is not part of it yet.
The command parses its flags and exits with status 1.
` + storeAbout,
	example: `
sessionkit keys list -store redis://127.0.0.1:6379/0 -kek-file kek.txt -issuer https://auth.example.com`,
	run: runKeys,
}

// errKeysUnavailable is what the keys command answers in this build.
var errKeysUnavailable = errors.New("not available in this build: the signing keys kept in the store are not part of it yet")

func runKeys(c *cli, cmd *command, args []string) error {
	fs := c.flags(cmd)
	var sf storeFlags
	sf.register(fs)
	fs.String("kek-file", "", "the `FILE` holding the key-encryption key ring the stored keys are sealed under (required)")
	if _, err := c.parse(cmd, fs, args); err != nil {
		return err
	}
	return errKeysUnavailable
}
