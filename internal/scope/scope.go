// Package scope names an Issuer's records in a store it may share with other
// Issuers.
//
// A store.Store knows nothing of issuers: it keeps sessions, versions,
// deny-list entries and use-once records under the names it is given. The
// root package gives it only scoped names, built here, so that two Issuers
// with different identifiers sharing one store instance never name the same
// record, by construction:
//
//   - subjects (sessions' owners, the keys of versions and of the deny-list)
//     become the issuer identifier, "\x1fu\x1f" and the subject; an OAuth
//     client's own namespace becomes the issuer identifier, "\x1fc\x1f"
//     and the client id;
//   - use-once namespaces become the issuer identifier, "\x1fn\x1f" and
//     the namespace;
//   - the ring of managed signing keys (a store.KeyStore name) is the
//     issuer identifier, "\x1fk\x1f" and "signing"; key rings came after
//     scoping, so they have no legacy name;
//   - the hash a store keeps of a refresh secret is SHA-256 over a domain
//     label, the issuer identifier, the owning client id (empty for user
//     sessions) and the secret, so a refresh token presented to another
//     Issuer matches nothing in the store and changes nothing, even though
//     its handle names a real session there;
//   - the jti of every access token minted under scoped names starts with
//     "~" (JTIMark), which no jti of the legacy layout (22 base64url
//     characters) does, so that the stateful check of one layout refuses
//     the other's tokens: after an upgrade without the legacy option, or
//     with an Issuer and a Verifier that disagree on it, a token revoked in
//     records the check cannot see fails closed instead of passing.
//
// Issuer identifiers and subjects never contain control characters (the
// root package checks both), so the separators (U+001F, the ASCII unit
// separator) make every scoped name unambiguous, and no scoped name equals
// a legacy one. They are not NUL so that stores may keep names in text
// columns (PostgreSQL's text refuses NUL).
//
// Legacy scopes reproduce the names sessionkit used before issuer scoping:
// subjects and namespaces as given, secret hashes without the issuer. They
// exist only so that a store written then keeps working for the one Issuer
// that owned it (Config.LegacyUnscopedStore).
package scope

import (
	"crypto/sha256"
	"strings"
)

// The separators between the issuer identifier and the name it scopes: one
// per kind of name, so that a client's own namespace never meets a user of
// the same id. Subjects and identifiers cannot contain control characters,
// so none can be forged.
const (
	userSep      = "\x1fu\x1f"
	clientSep    = "\x1fc\x1f"
	namespaceSep = "\x1fn\x1f"
	probeSep     = "\x1fr\x1f"
	keyRingSep   = "\x1fk\x1f"
)

// legacyClientPrefix marks a client's own namespace in the legacy layout.
const legacyClientPrefix = "\x00client\x00"

// secretLabel separates issuer-scoped refresh-secret hashes from every other
// use of SHA-256 in sessionkit.
const secretLabel = "sessionkit/refresh-secret/v2\x00"

// legacyClientLabel is the domain label of the secret hashes of client
// sessions in the legacy layout.
const legacyClientLabel = "sessionkit/client-session/v1"

// Scope names the records of one issuer. The zero value is not usable;
// build one with New.
type Scope struct {
	// user, client and namespace prefix the three kinds of names: the
	// issuer identifier and the kind's separator; when legacy, "", the
	// legacy client prefix and "".
	user, client, namespace string
	// hashPrefix is secretLabel, the issuer identifier and a NUL byte.
	hashPrefix string
	// probe is the subject readiness checks read (Probe).
	probe  string
	legacy bool
}

// New returns the scope of issuer, which must be non-empty and free of
// control characters (the caller checks). With legacy set, the scope names
// records as sessionkit did before issuer scoping.
func New(issuer string, legacy bool) Scope {
	if legacy {
		return Scope{client: legacyClientPrefix, probe: issuer + probeSep, legacy: true}
	}
	return Scope{
		user:       issuer + userSep,
		client:     issuer + clientSep,
		namespace:  issuer + namespaceSep,
		hashPrefix: secretLabel + issuer + "\x00",
		probe:      issuer + probeSep,
	}
}

// Legacy reports whether the scope uses the unscoped legacy names.
func (s Scope) Legacy() bool { return s.legacy }

// Subject is the store's name for a token's subject: sub itself for users
// (including tokens a client obtained acting for a user), the client's own
// namespace when sub is the client (clientID == sub), scoped to the issuer.
func (s Scope) Subject(sub, clientID string) string {
	if clientID != "" && sub == clientID {
		return s.client + clientID
	}
	return s.user + sub
}

// User is the store's name for the user subject sub: Subject(sub, "").
func (s Scope) User(sub string) string { return s.user + sub }

// Unscope returns the subject a stored user subject names, and whether it
// belongs to this scope. A stored name of another issuer, or of a client's
// own namespace, reports false.
func (s Scope) Unscope(stored string) (string, bool) {
	sub, ok := strings.CutPrefix(stored, s.user)
	// A user subject has no control characters: what does is another
	// scope's name (or, for the legacy scope, a scoped or client name).
	if !ok || strings.ContainsFunc(sub, isControl) {
		return "", false
	}
	return sub, true
}

// isControl reports the characters no subject or issuer identifier holds
// (the root package refuses every unicode.IsControl rune; the separators are
// among them).
func isControl(r rune) bool { return r < 0x20 || 0x7f <= r && r < 0xa0 }

// JTIMark starts the jti of the access tokens minted under scoped names.
// It is outside the base64url alphabet, so no legacy jti starts with it.
const JTIMark = "~"

// JTIPrefix is what the jti of an access token minted under s starts with:
// JTIMark, or nothing for the legacy layout.
func (s Scope) JTIPrefix() string {
	if s.legacy {
		return ""
	}
	return JTIMark
}

// OwnsJTI reports whether jti is of s's layout: marked for scoped names,
// unmarked for the legacy one.
func (s Scope) OwnsJTI(jti string) bool { return strings.HasPrefix(jti, JTIMark) != s.legacy }

// Namespace is the store's name for a use-once namespace.
func (s Scope) Namespace(ns string) string { return s.namespace + ns }

// KeyRing is the store's name (a store.KeyStore name) for the ring of
// managed signing keys of issuer, which must be non-empty and free of
// control characters (the caller checks). It is scoped whatever the
// Issuer's layout: there was no key ring before scoping.
func KeyRing(issuer string) string { return issuer + keyRingSep + "signing" }

// SecretHash is what the store keeps of a refresh secret of a session owned
// by clientID ("" for user sessions): SHA-256 over the domain label, the
// issuer identifier, the client id and the secret. Binding the issuer means
// only this Issuer can prove, rotate or revoke the session; binding the
// client means only a request authenticated as that client can.
func (s Scope) SecretHash(secret []byte, clientID string) [32]byte {
	if s.legacy {
		return legacySecretHash(secret, clientID)
	}
	var buf [256]byte
	b := append(buf[:0], s.hashPrefix...)
	b = append(b, clientID...)
	b = append(b, 0)
	b = append(b, secret...)
	return sha256.Sum256(b)
}

// legacySecretHash is the secret hash of the legacy layout: SHA-256 of the
// secret for user sessions; for client sessions, over a domain label, the
// client id and the secret.
func legacySecretHash(secret []byte, clientID string) [32]byte {
	if clientID == "" {
		return sha256.Sum256(secret)
	}
	h := sha256.New()
	h.Write([]byte(legacyClientLabel))
	h.Write([]byte{0})
	h.Write([]byte(clientID))
	h.Write([]byte{0})
	h.Write(secret)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Probe is the subject whose token version a readiness check reads: the
// issuer identifier and a separator of its own, in both layouts. No Issuer
// ever writes under it (no user, client or namespace name equals it: a
// subject has no control characters, and the other kinds have their own
// separators), so reading it finds nothing and changes nothing.
func (s Scope) Probe() string { return s.probe }
