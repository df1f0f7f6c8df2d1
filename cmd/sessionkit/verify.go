package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit"
)

var verifyCommand = &command{
	name:     "verify",
	synopsis: "sessionkit verify -issuer URL [-jwks URL] -aud AUD [-typ T]... [-alg A]... [TOKEN]",
	summary:  "verify an access token through a Verifier",
	about: `
Verifies an access token as a resource server's sessionkit.Verifier does: the
signature with a key of the issuer's JWKS (from -jwks, or without it
discovered through the issuer's /.well-known/openid-configuration or RFC 8414
metadata), the algorithm allow-list, the typ, iss, aud, exp, nbf and iat with
the default leeway. It checks no revocation (the command has no store). The
token is the argument or, without one (or with "-"), standard input.

Exit status 0 with the verified claims on standard output, or 1 with the
reason on standard error (the error text, which never holds token
material; JWKS and discovery failures are logged there too).`,
	example: `
sessionkit verify -issuer https://auth.example.com -aud api "$TOKEN"
sessionkit verify -issuer https://tenant.eu.auth0.com/ -aud https://api.example.com -typ JWT < token.txt
sessionkit verify -issuer http://127.0.0.1:8080 -jwks http://127.0.0.1:8080/.well-known/jwks.json -aud api -insecure-http "$TOKEN"`,
	run: runVerify,
}

func runVerify(c *cli, cmd *command, args []string) error {
	fs := c.flags(cmd)
	issuer := fs.String("issuer", "", "the trusted issuer: the exact iss of its tokens (required)")
	jwks := fs.String("jwks", "", "the issuer's JWKS `URL` (default: discovered through the issuer's metadata)")
	var aud, typ, alg listFlag
	fs.Var(&aud, "aud", "an accepted audience; repeat for several (required)")
	fs.Var(&typ, "typ", "an accepted typ header; repeat for several (default at+jwt; \"\" admits tokens without typ)")
	fs.Var(&alg, "alg", "an allowed algorithm; repeat for several (default RS256, ES256 and EdDSA)")
	insecure := fs.Bool("insecure-http", false, "allow http:// for the issuer, the JWKS and discovery (local testing only)")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	pos, err := c.parse(cmd, fs, args)
	if err != nil {
		return err
	}
	switch {
	case *issuer == "":
		return usagef("-issuer is required")
	case len(aud) == 0:
		return usagef("-aud is required")
	case *timeout <= 0:
		return usagef("-timeout must be positive")
	}
	tok, err := c.token(pos)
	if err != nil {
		return err
	}
	algs := make([]sessionkit.Algorithm, len(alg))
	for i, a := range alg {
		algs[i] = sessionkit.Algorithm(a)
	}
	v, err := sessionkit.NewVerifier(sessionkit.VerifierConfig{
		Issuer:            *issuer,
		JWKSURL:           *jwks,
		Audience:          aud,
		TokenTypes:        typ,
		Algorithms:        algs,
		InsecureAllowHTTP: *insecure,
		Logger:            stderrLogger(c),
		Now:               c.now,
	})
	if err != nil {
		return usagef("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	claims, err := v.Verify(ctx, tok)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "VERIFIED: signature, algorithm, typ, iss, aud and times; revocation was not checked.")
	fmt.Fprint(c.stdout, claimsList(claims, c.now()))
	return nil
}

// claimsList shows verified claims, one a line.
func claimsList(cl *sessionkit.Claims, now time.Time) *list {
	l := &list{indent: "  "}
	l.add("iss", "%s", display(cl.Issuer))
	l.add("sub", "%s", display(cl.Subject))
	aud := make([]string, len(cl.Audience))
	for i, a := range cl.Audience {
		aud[i] = display(a)
	}
	l.add("aud", "%s", strings.Join(aud, ", "))
	l.add("exp", "%s, expires %s", date(cl.ExpiresAt), ago(cl.ExpiresAt, now))
	if !cl.IssuedAt.IsZero() {
		l.add("iat", "%s, issued %s", date(cl.IssuedAt), ago(cl.IssuedAt, now))
	}
	if !cl.NotBefore.IsZero() {
		l.add("nbf", "%s, valid since %s", date(cl.NotBefore), ago(cl.NotBefore, now))
	}
	optional := []struct{ name, v string }{
		{"jti", cl.ID}, {"sid", cl.SessionID}, {"client_id", cl.ClientID}, {"scope", cl.Scope},
	}
	for _, o := range optional {
		if o.v != "" {
			l.add(o.name, "%s", display(o.v))
		}
	}
	if cl.SessionID != "" || cl.ClientID != "" || cl.Version != 0 {
		l.add("ver", "%d", cl.Version)
	}
	names := make([]string, 0, len(cl.Extra))
	for k := range cl.Extra {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		raw, err := json.Marshal(cl.Extra[k])
		if err != nil {
			continue
		}
		l.add(display(k), "%s", displayJSON(string(raw)))
	}
	return l
}

// stderrLogger logs warnings and errors to stderr, without times: the
// Verifier's JWKS and discovery failures, which say why keys are
// unavailable.
func stderrLogger(c *cli) *slog.Logger {
	return slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}
