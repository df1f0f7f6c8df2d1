package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/sealedstore"
)

var keysCommand = &command{
	name:     "keys",
	synopsis: "sessionkit keys list|rotate|retire [KID] -store URL -kek-file FILE -issuer ISS",
	summary:  "list, rotate or retire the signing keys kept in the store",
	about: `
Works on the signing keys an application keeps in its store
(sessionkit.OpenManagedKeys), sealed under its key-encryption key ring:
-kek-file names a file of sealedstore keys in their text form (id:secret),
one per line, the current one first, then the previous ones; blank lines
and lines starting with # are ignored. The command never creates a ring.

"keys list" shows each key of the ring: kid, algorithm, state (next,
current, previous) and its times. "keys rotate" publishes the next key now
(or shows the one already published); the application's instances promote
it when it is due, once every verifier can have fetched it. "keys retire
KID" removes a key: a next key, or a previous one once the tokens it signed
have all expired; -unsafe retires any key at once (a leaked one: its tokens
fail at once, and retiring the current key promotes its successor).
-access-ttl must be at least the application's AccessTTL: it sets how long
a key that stopped signing is kept (the longer of it and what the ring
records wins).
` + storeAbout,
	example: `
sessionkit keys list -store redis://127.0.0.1:6379/0 -kek-file kek.txt -issuer https://auth.example.com
sessionkit keys rotate -store bolt:/var/lib/app/sessions.db -kek-file kek.txt -issuer https://auth.example.com
sessionkit keys retire Kx2...Q -store redis://127.0.0.1:6379/0 -kek-file kek.txt -issuer https://auth.example.com`,
	run: runKeys,
}

func runKeys(c *cli, cmd *command, args []string) error {
	fs := c.flags(cmd)
	var sf storeFlags
	sf.register(fs)
	kekFile := fs.String("kek-file", "", "the `FILE` holding the key-encryption key ring the stored keys are sealed under (required)")
	accessTTL := fs.Duration("access-ttl", sessionkit.DefaultAccessTTL, "the application's AccessTTL (at least): how long a key that stopped signing is kept")
	unsafe := fs.Bool("unsafe", false, "retire: retire the key now, whatever its state and the tokens it signed")
	asJSON := fs.Bool("json", false, "list: write JSON instead of a table")
	pos, err := c.parse(cmd, fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("want list, rotate or retire")
	}
	verb, pos := pos[0], pos[1:]
	switch {
	case verb != "list" && verb != "rotate" && verb != "retire":
		return usagef("unknown action %q: want list, rotate or retire", shorten(verb))
	case verb == "retire" && len(pos) != 1:
		return usagef("retire takes one KID")
	case verb != "retire" && len(pos) > 0:
		return usagef("%s takes no argument; unexpected %q", verb, shorten(pos[0]))
	case *unsafe && verb != "retire":
		return usagef("-unsafe is for retire")
	case *asJSON && verb != "list":
		return usagef("-json is for list")
	case *kekFile == "":
		return usagef("-kek-file is required")
	case *accessTTL < time.Second:
		return usagef("-access-ttl must be at least a second")
	}
	if err := sf.check(); err != nil {
		return err
	}
	kek, err := readKEKFile(*kekFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), sf.timeout)
	defer cancel()
	st, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = st.close() }()
	ks, ok := st.Store.(store.KeyStore)
	if !ok {
		return fmt.Errorf("the store keeps no signing keys (it does not implement store.KeyStore)")
	}
	m, err := sessionkit.OpenManagedKeys(ctx, sessionkit.ManagedKeysConfig{
		Store: ks, Issuer: sf.issuer, KEK: kek, AccessTTL: *accessTTL, MustExist: true, Now: c.now,
	})
	if errors.Is(err, sessionkit.ErrNotFound) {
		return fmt.Errorf("no signing keys in the store for issuer %s (-issuer must be the application's Config.Issuer exactly)", display(sf.issuer))
	}
	if err != nil {
		return err
	}
	switch verb {
	case "rotate":
		k, err := m.Rotate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "next key %s (%s) published; it signs from %s (%s), when the application's instances promote it\n",
			display(k.KeyID), k.Algorithm, date(k.PromoteAt), ago(k.PromoteAt, c.now()))
		return nil
	case "retire":
		kid := pos[0]
		if *unsafe {
			err = m.UnsafeRetire(ctx, kid)
		} else {
			err = m.Retire(ctx, kid)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "retired key %s\n", display(kid))
		return nil
	}
	if *asJSON {
		return writeRingJSON(c, m.Ring())
	}
	return writeRingTable(c, m.Ring())
}

// readKEKFile reads a key-encryption key ring: sealedstore keys in their
// text form, one per line, the current one first. Errors never quote the
// file's content.
func readKEKFile(path string) (sealedstore.Keys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return sealedstore.Keys{}, fmt.Errorf("-kek-file: %w", err)
	}
	var keys []sealedstore.Key
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := sealedstore.ParseKey(line)
		if err != nil {
			return sealedstore.Keys{}, fmt.Errorf("-kek-file line %d: %v", i+1, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return sealedstore.Keys{}, errors.New("-kek-file holds no key")
	}
	ring := sealedstore.Keys{Current: keys[0], Previous: keys[1:]}
	if err := ring.Validate(); err != nil {
		return sealedstore.Keys{}, fmt.Errorf("-kek-file: %v", err)
	}
	return ring, nil
}

// writeRingTable writes the ring's keys as an aligned table.
func writeRingTable(c *cli, r sessionkit.KeyRingInfo) error {
	now := c.now()
	fmt.Fprintf(c.stdout, "key ring version %d, sealed under KEK %s\n", r.Version, display(r.KEKID))
	if !r.RotateAt.IsZero() {
		fmt.Fprintf(c.stdout, "next rotation due %s (%s)\n", date(r.RotateAt), ago(r.RotateAt, now))
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tPUBLISHED\tSIGNS FROM\tSTOPPED\tRETIRE AFTER")
	for _, k := range r.Keys {
		signs := k.PromotedAt
		if signs.IsZero() {
			signs = k.PromoteAt
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", display(k.KeyID), k.Algorithm, k.State,
			orDash(k.PublishedAt), orDash(signs), orDash(k.StoppedAt), orDash(k.RetireAt))
	}
	return tw.Flush()
}

// orDash is the date of t, or "-" for the zero time.
func orDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return date(t)
}

// ringJSON and keyJSON are the -json listing.
type ringJSON struct {
	Version  uint64    `json:"version"`
	KEKID    string    `json:"kek_id"`
	RotateAt time.Time `json:"rotate_at,omitzero"`
	Keys     []keyJSON `json:"keys"`
}

type keyJSON struct {
	KeyID       string    `json:"kid"`
	Algorithm   string    `json:"alg"`
	State       string    `json:"state"`
	PublishedAt time.Time `json:"published_at,omitzero"`
	PromoteAt   time.Time `json:"promote_at,omitzero"`
	PromotedAt  time.Time `json:"promoted_at,omitzero"`
	StoppedAt   time.Time `json:"stopped_at,omitzero"`
	RetireAt    time.Time `json:"retire_at,omitzero"`
}

// writeRingJSON writes the ring as JSON.
func writeRingJSON(c *cli, r sessionkit.KeyRingInfo) error {
	out := ringJSON{Version: r.Version, KEKID: r.KEKID, RotateAt: r.RotateAt.UTC(), Keys: make([]keyJSON, len(r.Keys))}
	for i, k := range r.Keys {
		out.Keys[i] = keyJSON{
			KeyID: k.KeyID, Algorithm: string(k.Algorithm), State: string(k.State),
			PublishedAt: k.PublishedAt.UTC(), PromoteAt: k.PromoteAt.UTC(), PromotedAt: k.PromotedAt.UTC(),
			StoppedAt: k.StoppedAt.UTC(), RetireAt: k.RetireAt.UTC(),
		}
	}
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
