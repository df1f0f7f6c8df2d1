package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/jose"
	"github.com/sessionkit/sessionkit/store"
)

var inspectCommand = &command{
	name:     "inspect",
	synopsis: "sessionkit inspect [TOKEN]",
	summary:  "decode an access or refresh token WITHOUT verifying it",
	about: `
Decodes an access token (a compact JWS) or a sessionkit refresh token
("skr1.") WITHOUT verifying anything, and says what sessionkit would refuse
in it. The token is the argument or, without one (or with "-"), standard
input; a leading "Bearer " is ignored.

For an access token: the header and the claims, times as dates and relative
to now ("expires in 4m", "expired 3h ago"), then the problems sessionkit's
checks would find: expired, not yet valid, issued in the future, a typ other
than at+jwt, an algorithm outside the default allow-list (RS256, ES256,
EdDSA) or unknown, a size over DefaultMaxTokenSize or MaxTokenSizeLimit,
claims of the wrong type or missing (iss, sub, aud, exp, iat, jti, ver, sid or
client_id). The token is read by sessionkit's own strict decoder: what the
library refuses before the signature (malformed base64url or JSON, duplicate
members, alg "none", embedded keys, ...) inspect refuses too, with the reason.

For a refresh token: the parts of its handle where the store's format is
readable (the stateful stores': subject tag, session id, generation; the
sealed store's is opaque), never its secret.

The signature, the issuer, the audience and revocation are NOT checked: use
'sessionkit verify' for that. Exit status 0 when no problem was found, 1
when the token cannot be read or a problem was found.`,
	example: `
sessionkit inspect eyJhbGciOiJSUzI1NiIsImtpZCI6Ii4uLiIsInR5cCI6ImF0K2p3dCJ9.eyJ...
pbpaste | sessionkit inspect`,
	run: runInspect,
}

// notVerified is the first line of every inspect report.
const notVerified = "NOT VERIFIED: decoded without checking the signature, issuer, audience or revocation; trust nothing below."

// maxInput bounds what inspect and verify read from standard input.
const maxInput = 1 << 20

// refreshPrefix starts sessionkit's refresh tokens, and the lengths after
// it: the secret is 256 bits, 43 base64url characters, after the handle
// and a dot.
const (
	refreshPrefix       = "skr1."
	refreshSecretB64Len = 43
	maxRefreshTokenSize = len(refreshPrefix) + store.MaxHandleLen + 1 + refreshSecretB64Len
)

// b64 is base64url without padding, canonical, as sessionkit reads it.
var b64 = base64.RawURLEncoding.Strict()

// defaultAlgorithms is a Verifier's default allow-list and what an Issuer
// signs with.
var defaultAlgorithms = []jose.Algorithm{jose.RS256, jose.ES256, jose.EdDSA}

func runInspect(c *cli, cmd *command, args []string) error {
	fs := c.flags(cmd)
	pos, err := c.parse(cmd, fs, args)
	if err != nil {
		return err
	}
	tok, err := c.token(pos)
	if err != nil {
		return err
	}
	r := &report{w: c.stdout, now: c.now()}
	fmt.Fprintln(r.w, notVerified)
	if strings.HasPrefix(tok, refreshPrefix) {
		r.refresh(tok)
	} else {
		r.access(tok)
	}
	if r.end() {
		return exitCode(1)
	}
	return nil
}

// token returns the token of a command's arguments: the one argument, or
// standard input when there is none or it is "-". Surrounding white space
// and a leading "Bearer " are dropped.
func (c *cli) token(pos []string) (string, error) {
	if len(pos) > 1 {
		return "", usagef("give one token, not %d arguments", len(pos))
	}
	tok := "-"
	if len(pos) == 1 {
		tok = pos[0]
	}
	if tok == "-" {
		data, err := io.ReadAll(io.LimitReader(c.stdin, maxInput+1))
		if err != nil {
			return "", fmt.Errorf("reading standard input: %w", err)
		}
		if len(data) > maxInput {
			return "", fmt.Errorf("standard input holds more than %d bytes: not a token", maxInput)
		}
		tok = string(data)
	}
	tok = strings.TrimSpace(tok)
	if len(tok) > len("Bearer ") && strings.EqualFold(tok[:len("Bearer ")], "Bearer ") {
		tok = strings.TrimSpace(tok[len("Bearer "):])
	}
	if tok == "" {
		return "", usagef("no token: give it as the argument or on standard input")
	}
	return tok, nil
}

// report is what inspect prints of one token.
type report struct {
	w        io.Writer
	now      time.Time
	refused  string   // the decoder's reason to stop; "" when it read everything
	problems []string // what sessionkit's checks would refuse
	// unchecked says what inspect cannot know about the token.
	unchecked string
}

// problem records something sessionkit would refuse.
func (r *report) problem(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// refuse records the reason the strict decoder stops at.
func (r *report) refuse(err error) { r.refused = err.Error() }

// end prints the refusal or the problems and reports whether there was
// any.
func (r *report) end() bool {
	if r.refused != "" {
		fmt.Fprintf(r.w, "\nREFUSED: %s\n(sessionkit refuses the token here, before anything else is read or checked)\n", r.refused)
		return true
	}
	if len(r.problems) == 0 {
		fmt.Fprintf(r.w, "\nproblems: none found (%s)\n", r.unchecked)
		return false
	}
	fmt.Fprintln(r.w, "\nproblems:")
	for _, p := range r.problems {
		fmt.Fprintf(r.w, "  - %s\n", p)
	}
	return true
}

// access reports on a compact JWS access token.
func (r *report) access(tok string) {
	r.unchecked = "the signature, issuer, audience and revocation were not checked"
	n := len(tok)
	fmt.Fprintf(r.w, "access token (compact JWS), %d bytes\n", n)
	if n > sessionkit.MaxTokenSizeLimit {
		r.refused = fmt.Sprintf("%d bytes, over MaxTokenSizeLimit (%d): every Issuer and Verifier refuses it before decoding", n, sessionkit.MaxTokenSizeLimit)
		return
	}
	if n > sessionkit.DefaultMaxTokenSize {
		r.problem("%d bytes, over DefaultMaxTokenSize (%d): refused unless MaxTokenSize is raised (at most MaxTokenSizeLimit, %d)", n, sessionkit.DefaultMaxTokenSize, sessionkit.MaxTokenSizeLimit)
	}
	c, err := jose.Split(tok, sessionkit.MaxTokenSizeLimit)
	if err != nil {
		r.refuse(err)
		return
	}
	h, err := c.Header()
	if err != nil {
		r.refuse(err)
		return
	}
	// Header has read the header strictly; decode it again to show every
	// member.
	raw, _ := b64.DecodeString(tok[:strings.IndexByte(tok, '.')])
	fmt.Fprintln(r.w, "\nheader:")
	hl := &list{indent: "  "}
	_ = jose.ScanObject(string(raw), func(name string, v *jose.Value) error {
		hl.add(display(name), "%s", showValue(v))
		return nil
	})
	fmt.Fprint(r.w, hl)
	r.checkHeader(&h)

	payload, err := c.Payload()
	if err != nil {
		r.refuse(err)
		return
	}
	r.claims(payload)
}

// checkHeader records what sessionkit's header policy refuses in h.
func (r *report) checkHeader(h *jose.Header) {
	switch {
	case !jose.Known(h.Alg):
		r.problem("alg %s is unknown to sessionkit: every Issuer and Verifier refuses it", display(strconv.Quote(string(h.Alg))))
	case strings.HasPrefix(string(h.Alg), "HS"):
		r.problem("alg %s is HMAC: sessionkit never signs with it, and a Verifier accepts it only with a secret in TrustedIssuer.HMACKeys and the algorithm in VerifierConfig.Algorithms", h.Alg)
	case !slices.Contains(defaultAlgorithms, h.Alg):
		r.problem("alg %s is not in the default allow-list (RS256, ES256, EdDSA): a Verifier accepts it only when VerifierConfig.Algorithms lists it", h.Alg)
	}
	switch {
	case !h.HasTyp:
		r.problem("typ missing: sessionkit's access tokens are typ at+jwt (RFC 9068); Issuer.Verify refuses it, a Verifier too unless its TokenTypes list \"\"")
	case !isAccessTokenType(h.Typ):
		r.problem("typ %s is not at+jwt: Issuer.Verify and a default Verifier refuse it (VerifierConfig.TokenTypes admits other issuers' types)", display(strconv.Quote(h.Typ)))
	}
	if !h.HasKID {
		r.problem("kid missing: Issuer.Verify refuses it; a Verifier accepts it only while the issuer's JWKS has exactly one key of its algorithm")
	}
}

// isAccessTokenType reports whether a typ header is at+jwt as RFC 7515
// §4.1.9 compares it: without case, "application/" optional.
func isAccessTokenType(typ string) bool {
	const app = "application/"
	if len(typ) > len(app) && strings.EqualFold(typ[:len(app)], app) {
		typ = typ[len(app):]
	}
	return strings.EqualFold(typ, jose.AccessTokenType)
}

// showValue shows a member value: a string as its (display'd) text, any
// other value as compact JSON.
func showValue(v *jose.Value) string {
	if v.Kind() == jose.String {
		return display(v.Str())
	}
	return displayJSON(v.Raw())
}

// claims reports on the decoded payload: every member, then what
// sessionkit's claim checks refuse.
func (r *report) claims(payload string) {
	cl := &list{indent: "  "}
	seen := map[string]bool{}
	var exp, iat, nbf time.Time
	var hasExp, hasIat, hasNbf bool
	var sid, clientID string
	err := jose.ScanObject(payload, func(name string, v *jose.Value) error {
		seen[name] = true
		show := showValue(v)
		switch name {
		case "iss", "sub", "jti", "sid", "client_id":
			if v.Kind() != jose.String {
				r.problem("%s is not a string: every Issuer and Verifier refuses the token", name)
				break
			}
			switch name {
			case "sid":
				sid = v.Str()
			case "client_id":
				clientID = v.Str()
			case "sub":
				if v.Str() == "" {
					r.problem("sub is empty: every Issuer and Verifier refuses the token")
				}
			}
		case "aud":
			if aud, ok := v.Strings(); ok && v.Kind() == jose.Array {
				for i, a := range aud {
					aud[i] = display(a)
				}
				show = strings.Join(aud, ", ")
			} else if v.Kind() != jose.String {
				r.problem("aud is not a string or an array of strings: every Issuer and Verifier refuses the token")
			}
		case "exp", "iat", "nbf":
			sec, ok := v.NumericDate()
			if !ok {
				r.problem("%s is not a valid NumericDate: every Issuer and Verifier refuses the token", name)
				break
			}
			t := time.Unix(sec, 0)
			show = date(t) + ", " + r.when(name, t)
			switch name {
			case "exp":
				exp, hasExp = t, true
			case "iat":
				iat, hasIat = t, true
			case "nbf":
				nbf, hasNbf = t, true
			}
		case "ver":
			if _, err := strconv.ParseUint(v.Raw(), 10, 64); v.Kind() != jose.Number || err != nil {
				r.problem("ver is not a non-negative integer: Issuer.Verify refuses the token (a Verifier reads it as another issuer's claim: no version, which its stateful check refuses)")
				break
			}
		case "scope":
			if v.Kind() == jose.Array {
				if _, ok := v.Strings(); ok {
					r.problem("scope is an array: a Verifier accepts it, Issuer.Verify (a space-separated string) does not")
					break
				}
			}
			if v.Kind() != jose.String {
				r.problem("scope is not a string or an array of strings: every Issuer and Verifier refuses the token")
			}
		}
		cl.add(display(name), "%s", show)
		return nil
	})
	if err != nil {
		r.refused = jose.Malformed("claims: " + err.Error()).Error()
		return
	}
	fmt.Fprintln(r.w, "\nclaims:")
	fmt.Fprint(r.w, cl)

	for _, m := range []struct{ name, why string }{
		{"iss", "every Issuer and Verifier refuses the token"},
		{"sub", "every Issuer and Verifier refuses the token"},
		{"aud", "no audience can match: every Issuer and Verifier refuses the token"},
		{"exp", "every Issuer and Verifier refuses the token"},
		{"iat", "every Issuer and Verifier refuses the token"},
		{"jti", "Issuer.Verify refuses the token, and so does a Verifier with a store (the deny-list keys on it)"},
		{"ver", "the stateful check (Issuer.Verify, a Verifier with a store) refuses the token"},
	} {
		if !seen[m.name] {
			r.problem("%s missing: %s", m.name, m.why)
		}
	}
	if sid == "" && clientID == "" {
		r.problem("neither sid nor client_id: the stateful check (Issuer.Verify, a Verifier with a store) refuses the token")
	}

	leeway := sessionkit.DefaultLeeway
	switch {
	case !hasExp:
	case !r.now.Before(exp.Add(leeway)):
		r.problem("expired %s ago", span(r.now.Sub(exp)))
	case !r.now.Before(exp):
		r.problem("expired %s ago, inside the default %s leeway: accepted %s longer", span(max(r.now.Sub(exp), time.Second)), span(leeway), span(exp.Add(leeway).Sub(r.now)))
	}
	late := r.now.Add(leeway)
	if hasNbf && late.Before(nbf) {
		r.problem("not yet valid: nbf is %s", ago(nbf, r.now))
	}
	if hasIat && late.Before(iat) {
		r.problem("issued in the future: iat is %s", ago(iat, r.now))
	}
	if hasExp && hasIat && !exp.After(iat) {
		r.problem("exp is not after iat: the token was never valid")
	}
}

// when says how a time claim relates to now.
func (r *report) when(name string, t time.Time) string {
	future := t.After(r.now)
	switch {
	case name == "exp" && future:
		return "expires " + ago(t, r.now)
	case name == "exp":
		return "expired " + ago(t, r.now)
	case name == "nbf" && future:
		return "valid from " + ago(t, r.now)
	case name == "nbf":
		return "valid since " + ago(t, r.now)
	default:
		return "issued " + ago(t, r.now)
	}
}

// refresh reports on a sessionkit refresh token: "skr1.", the store's
// handle, ".", the secret. It shows the handle's parts where the format
// is the stateful stores' and never the secret.
func (r *report) refresh(tok string) {
	r.unchecked = "the store was not asked whether the secret is the session's current one, nor whether the session lasts"
	fmt.Fprintf(r.w, "refresh token (sessionkit skr1), %d bytes: a live credential while its session lasts; keep it out of logs and shell history\n", len(tok))
	if len(tok) > maxRefreshTokenSize {
		r.refused = fmt.Sprintf("sessionkit: invalid token: refresh token exceeds the size limit (%d bytes)", maxRefreshTokenSize)
		return
	}
	rest := tok[len(refreshPrefix):]
	if len(rest) < refreshSecretB64Len+2 || rest[len(rest)-refreshSecretB64Len-1] != '.' {
		r.refused = "sessionkit: invalid token: malformed refresh token (no handle and 43-character secret after skr1.)"
		return
	}
	handle := rest[:len(rest)-refreshSecretB64Len-1]
	secret := rest[len(rest)-refreshSecretB64Len:]
	for i := 0; i < len(handle); i++ {
		if c := handle[i]; !jose.IsBase64URLChar(c) && c != '~' {
			r.refused = "sessionkit: invalid token: malformed refresh token handle (a character outside base64url and ~)"
			return
		}
	}
	hl := &list{indent: "  "}
	if info, err := store.ParseStatefulHandle(handle); err == nil {
		fmt.Fprintln(r.w, "\nhandle: stateful (memstore, boltstore, redisstore and other stateful stores)")
		statefulParts(hl, info)
	} else if blob, state, ok := strings.Cut(handle, "~"); ok && isStateful(state) {
		info, _ := store.ParseStatefulHandle(state)
		fmt.Fprintf(r.w, "\nhandle: the sealed store's, with a state store (sealedstore hybrid): a sealed session of %d characters, opaque without the store's key ring, and the state store's part:\n", len(blob))
		statefulParts(hl, info)
	} else {
		fmt.Fprintf(r.w, "\nhandle: not a stateful store's: presumably the sealed store's sealed session (sealedstore), %d characters, opaque without its key ring\n", len(handle))
	}
	fmt.Fprint(r.w, hl)
	fmt.Fprintf(r.w, "secret: %d characters, not shown\n", len(secret))
	if raw, err := b64.DecodeString(secret); err != nil || len(raw) != 32 {
		r.problem("the secret is not 256 bits of canonical base64url: every Issuer refuses the token")
	}
}

// isStateful reports whether h is a stateful store's handle.
func isStateful(h string) bool {
	_, err := store.ParseStatefulHandle(h)
	return err == nil
}

// statefulParts lists the parts of a stateful handle.
func statefulParts(l *list, info store.HandleInfo) {
	l.add("subject tag", "%s (store.SubjectTag of the subject's name in the store)", info.Tag)
	l.add("session id", "%s (the sid claim of its access tokens)", info.SessionID)
	gen := "the session's first refresh token"
	if info.Generation > 1 {
		gen = fmt.Sprintf("after %d rotations", info.Generation-1)
	}
	l.add("generation", "%d (%s)", info.Generation, gen)
}
