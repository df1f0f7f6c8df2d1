package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/sessionkit/sessionkit"
)

// storeAbout is what -h of the store commands says of the store and the
// issuer.
const storeAbout = `
The store is the application's own (-store, see below) and the command works
on it as an Issuer for -issuer, which must be exactly the application's
Config.Issuer: every record is scoped to it, and another spelling (a missing
trailing slash) finds nothing. -legacy-unscoped reads a store written before
issuer scoping, as Config.LegacyUnscopedStore does. The Issuer's signing key
is a throwaway generated at each run: these commands mint no token.

Store URLs: redis://[user:password@]host:port[/db][?options] and rediss://
(TLS), as go-redis reads them; redis+cluster://host:port,host:port[?options]
and rediss+cluster:// for a Redis Cluster (the seed addresses, comma-separated);
bolt:PATH for a bbolt file. bbolt lets one process at a time open a file: while
the application runs, the command waits -lock-timeout and then fails saying
so.`

var sessionsCommand = &command{
	name:     "sessions",
	synopsis: "sessionkit sessions list|revoke SUBJECT [SID] -store URL -issuer ISS [-json]",
	summary:  "list a user's live sessions, or end one",
	about: `
"sessions list SUBJECT" lists the user's live sessions, oldest first: session
id, created, last used, idle expiry, absolute expiry, user agent and IP (the
device data the application gave at login), as a table or, with -json, as a
JSON array. "sessions revoke SUBJECT SID" ends that session (as
Issuer.RevokeSession does): its refresh token stops working and its access
tokens fail their next stateful check. To end all of them, use logout-all.
A session id may start with "-": put it after "--", which ends the flags.
` + storeAbout,
	example: `
sessionkit sessions list alice -store redis://127.0.0.1:6379/0 -issuer https://auth.example.com
sessionkit sessions revoke alice 3q2-7wEjRB6mHTv0Y1ZGWA -store bolt:/var/lib/app/sessions.db -issuer https://auth.example.com
sessionkit sessions revoke -store bolt:/var/lib/app/sessions.db -issuer https://auth.example.com alice -- -Wq2-7wEjRB6mHTv0Y1ZGA`,
	run: runSessions,
}

var logoutAllCommand = &command{
	name:     "logout-all",
	synopsis: "sessionkit logout-all SUBJECT -store URL -issuer ISS",
	summary:  "end every session of a user and revoke their access tokens",
	about: `
Ends every session of SUBJECT and bumps its token version in one store step,
as Issuer.LogoutAll does: every refresh token of the user stops working and
every access token issued to them before fails its next stateful check
(Issuer.Verify, a Verifier with the store). Tokens checked only statelessly
stay valid until they expire (AccessTTL).
` + storeAbout,
	example: `
sessionkit logout-all alice -store rediss://:secret@redis.internal:6380/0 -issuer https://auth.example.com`,
	run: runLogoutAll,
}

func runSessions(c *cli, cmd *command, args []string) error {
	fs := c.flags(cmd)
	var sf storeFlags
	sf.register(fs)
	asJSON := fs.Bool("json", false, "list: write a JSON array instead of a table")
	pos, err := c.parse(cmd, fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("want list or revoke")
	}
	verb, pos := pos[0], pos[1:]
	switch {
	case verb != "list" && verb != "revoke":
		return usagef("unknown action %q: want list or revoke", shorten(verb))
	case len(pos) == 0:
		return usagef("%s needs SUBJECT", verb)
	case verb == "list" && len(pos) > 1:
		return usagef("list takes one SUBJECT; unexpected %q", shorten(pos[1]))
	case verb == "revoke" && len(pos) != 2:
		return usagef("revoke takes SUBJECT and SID")
	case verb == "revoke" && *asJSON:
		return usagef("-json is for list")
	}
	if err := sf.check(); err != nil {
		return err
	}
	subject := pos[0]
	return sf.withIssuer(func(ctx context.Context, iss *sessionkit.Issuer) error {
		if verb == "revoke" {
			sid := pos[1]
			if err := iss.RevokeSession(ctx, subject, sid); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "revoked session %s of %s\n", display(sid), display(subject))
			return nil
		}
		list, err := iss.Sessions(ctx, subject)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeSessionsJSON(c, list)
		}
		if len(list) == 0 {
			fmt.Fprintf(c.stdout, "no live sessions of %s under issuer %s (records are scoped to the issuer: -issuer must be the application's Config.Issuer exactly)\n", display(subject), display(sf.issuer))
			return nil
		}
		return writeSessionsTable(c, list)
	})
}

func runLogoutAll(c *cli, cmd *command, args []string) error {
	fs := c.flags(cmd)
	var sf storeFlags
	sf.register(fs)
	pos, err := c.parse(cmd, fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		return usagef("SUBJECT is required")
	case len(pos) > 1:
		return usagef("one SUBJECT; unexpected %q", shorten(pos[1]))
	}
	if err := sf.check(); err != nil {
		return err
	}
	subject := pos[0]
	return sf.withIssuer(func(ctx context.Context, iss *sessionkit.Issuer) error {
		if err := iss.LogoutAll(ctx, subject); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "ended every session of %s and revoked the access tokens issued to them\n", display(subject))
		return nil
	})
}

// userAgentWidth bounds the user agent column of the table (-json has it
// whole).
const userAgentWidth = 48

// writeSessionsTable writes the sessions as an aligned table.
func writeSessionsTable(c *cli, list []sessionkit.Session) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION ID\tCREATED\tLAST USED\tIDLE EXPIRY\tABSOLUTE EXPIRY\tUSER AGENT\tIP")
	for _, s := range list {
		ua := display(truncate(s.Device.UserAgent, userAgentWidth))
		if ua == "" {
			ua = "-"
		}
		ip := display(s.Device.IP)
		if ip == "" {
			ip = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", display(s.ID), date(s.CreatedAt), date(s.LastUsedAt), date(s.IdleExpiresAt), date(s.ExpiresAt), ua, ip)
	}
	return tw.Flush()
}

// sessionJSON is one session of the -json listing.
type sessionJSON struct {
	ID            string         `json:"id"`
	Subject       string         `json:"subject"`
	ClientID      string         `json:"client_id,omitempty"`
	Scope         string         `json:"scope,omitempty"`
	CreatedAt     time.Time      `json:"created_at"`
	LastUsedAt    time.Time      `json:"last_used_at"`
	IdleExpiresAt time.Time      `json:"idle_expires_at"`
	ExpiresAt     time.Time      `json:"expires_at"`
	UserAgent     string         `json:"user_agent,omitempty"`
	IP            string         `json:"ip,omitempty"`
	Claims        map[string]any `json:"claims,omitempty"`
}

// writeSessionsJSON writes the sessions as a JSON array ([] for none).
func writeSessionsJSON(c *cli, list []sessionkit.Session) error {
	out := make([]sessionJSON, len(list))
	for i, s := range list {
		out[i] = sessionJSON{
			ID: s.ID, Subject: s.Subject, ClientID: s.ClientID, Scope: s.Scope,
			CreatedAt: s.CreatedAt.UTC(), LastUsedAt: s.LastUsedAt.UTC(),
			IdleExpiresAt: s.IdleExpiresAt.UTC(), ExpiresAt: s.ExpiresAt.UTC(),
			UserAgent: s.Device.UserAgent, IP: s.Device.IP, Claims: s.Claims,
		}
	}
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
