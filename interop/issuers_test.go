package interop

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// This file holds fixtures shaped like the access tokens of common
// issuers, as their documentation describes them: the JOSE header (typ or
// none, kid, Entra ID's x5t), the claims (their names, JSON types and the
// issuer's own claims), the JWKS they publish (x5c, x5t, keys without
// alg, keys for encryption beside the signing keys) and their discovery
// metadata. Each is signed by a test key and checked with the
// configuration line for its family.

// fixtureEpoch is the Verifier's clock in these tests.
var fixtureEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixtureKey is an RSA key with the self-signed certificate the issuers'
// JWKS carry in x5c.
type fixtureKey struct {
	priv *rsa.PrivateKey
	kid  string
	cert []byte // DER
}

func newFixtureKey(t *testing.T, cn string, kid func(*fixtureKey) string) *fixtureKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: fixtureEpoch.AddDate(-1, 0, 0), NotAfter: fixtureEpoch.AddDate(4, 0, 0),
	}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	k := &fixtureKey{priv: priv, cert: cert}
	k.kid = kid(k)
	return k
}

var b64u = base64.RawURLEncoding.EncodeToString

func (k *fixtureKey) n() string { return b64u(k.priv.N.Bytes()) }
func (k *fixtureKey) e() string { return b64u(big.NewInt(int64(k.priv.E)).Bytes()) }

// x5c is the certificate chain member: standard base64 DER (RFC 7517
// §4.7), not base64url.
func (k *fixtureKey) x5c() []string { return []string{base64.StdEncoding.EncodeToString(k.cert)} }

func (k *fixtureKey) x5t() string {
	sum := sha1.Sum(k.cert)
	return b64u(sum[:])
}

func (k *fixtureKey) x5tS256() string {
	sum := sha256.Sum256(k.cert)
	return b64u(sum[:])
}

// Key ids as the issuers make them.
var (
	// Keycloak: base64url SHA-256 of the key.
	keycloakKID = func(k *fixtureKey) string {
		der, _ := x509.MarshalPKIXPublicKey(&k.priv.PublicKey)
		sum := sha256.Sum256(der)
		return b64u(sum[:])
	}
	// Entra ID: the certificate's SHA-1 thumbprint, as x5t.
	entraKID = func(k *fixtureKey) string { return k.x5t() }
	// Auth0 (older tenants): base64url of the hex thumbprint.
	auth0KID = func(k *fixtureKey) string {
		sum := sha1.Sum(k.cert)
		return b64u([]byte(strings.ToUpper(fmt.Sprintf("%x", sum))))
	}
	// Okta: 43 base64url characters.
	oktaKID = keycloakKID
	// Ory Hydra and Spring Authorization Server samples: a UUID.
	uuidKID = func(*fixtureKey) string { return newUUID() }
)

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// member is one member of a JSON object whose order matters (a header as
// an issuer writes it).
type member struct {
	name  string
	value any
}

func orderedJSON(t *testing.T, ms []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			buf.WriteByte(',')
		}
		name, _ := json.Marshal(m.name)
		value, err := json.Marshal(m.value)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(name)
		buf.WriteByte(':')
		buf.Write(value)
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// signRS256 makes a compact JWS of header and claims with k: RSASSA
// PKCS #1 v1.5 over SHA-256, what all these issuers sign with by default.
func signRS256(t *testing.T, k *fixtureKey, header []member, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := b64u(orderedJSON(t, header)) + "." + b64u(payload)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, k.priv, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64u(sig)
}

// unix is t+d in NumericDate seconds.
func unix(t time.Time, d time.Duration) int64 { return t.Add(d).Unix() }

// Tenant and client identifiers of the fixtures.
const (
	entraTenant    = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
	entraAPIClient = "6e74172b-be56-4843-9ff4-e66a39bb12e3" // the API's app registration
	entraWebClient = "0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b" // the calling client
)

// issuerFamily is one issuer's access-token shape and the configuration
// line that verifies it.
type issuerFamily struct {
	name string
	// line is the configuration used, as a user writes it (the JWKS URL,
	// the audience and the test's HTTP client and clock come on top).
	line string
	// issuer is iss; otherIssuer a neighbour's (another realm or tenant),
	// for the wrong-issuer variant.
	issuer, otherIssuer string
	// audience is the API's: VerifierConfig.Audience.
	audience string
	// types is VerifierConfig.TokenTypes of the line (nil: the default).
	types []string
	// typ is the header's typ ("" for none), for the default-config check.
	typ string
	// keys, certificate name and key ids: the JWKS holds signing keys
	// (the token is signed by keys[signer]) and, with encKey, a key for
	// encryption.
	cn     string
	kid    func(*fixtureKey) string
	keys   int
	signer int
	encKey bool
	// header is the JOSE header for the signing key k, in the issuer's
	// member order.
	header func(k *fixtureKey) []member
	// claims are the claims of a token issued at now.
	claims func(now time.Time) map[string]any
	// jwks is the issuer's JWK Set: its signing keys and its encryption
	// key (nil unless encKey), shaped like theirs.
	jwks func(sig []*fixtureKey, enc *fixtureKey) []map[string]any
	// jwksURI is where the issuer publishes it. The line finds it through
	// metadata, the issuer's discovery document (issuer and jwks_uri are
	// added), served at the OpenID Connect location, or with rfc8414 at
	// the RFC 8414 one only; with explicitJWKS the line names it as
	// JWKSURL instead.
	jwksURI               string
	metadata              map[string]any
	rfc8414, explicitJWKS bool

	// What Verify must return.
	sub, jti, clientID, sid string
	scope                   string // Claims.Scope
	version                 uint64
	nbf                     bool
	extra                   map[string]any // members of Claims.Extra, with their values
}

func keycloakFamily(rfc9068 bool) issuerFamily {
	f := issuerFamily{
		name:        "keycloak",
		line:        `{Issuer: "https://sso.example.com/realms/acme", TokenTypes: []string{"JWT"}}`,
		issuer:      "https://sso.example.com/realms/acme",
		otherIssuer: "https://sso.example.com/realms/other",
		audience:    "orders-api",
		types:       []string{"JWT"},
		typ:         "JWT",
		cn:          "acme", kid: keycloakKID, keys: 1, signer: 0, encKey: true,
		jwksURI: "https://sso.example.com/realms/acme/protocol/openid-connect/certs",
		metadata: map[string]any{
			"authorization_endpoint":                "https://sso.example.com/realms/acme/protocol/openid-connect/auth",
			"token_endpoint":                        "https://sso.example.com/realms/acme/protocol/openid-connect/token",
			"introspection_endpoint":                "https://sso.example.com/realms/acme/protocol/openid-connect/token/introspect",
			"userinfo_endpoint":                     "https://sso.example.com/realms/acme/protocol/openid-connect/userinfo",
			"end_session_endpoint":                  "https://sso.example.com/realms/acme/protocol/openid-connect/logout",
			"grant_types_supported":                 []string{"authorization_code", "implicit", "refresh_token", "password", "client_credentials"},
			"id_token_signing_alg_values_supported": []string{"PS384", "ES384", "RS384", "HS256", "HS512", "ES256", "RS256", "HS384", "ES512", "PS256", "PS512", "RS512"},
			"response_types_supported":              []string{"code", "none", "id_token", "token", "id_token token", "code id_token"},
			"subject_types_supported":               []string{"public", "pairwise"},
		},
		claims: func(now time.Time) map[string]any {
			return map[string]any{
				"exp": unix(now, 270*time.Second), "iat": unix(now, -30*time.Second), "auth_time": unix(now, -2*time.Minute),
				"jti":                "0d4b2f8e-4e1a-4a8e-9a6e-3c2b1f0e9d8c",
				"iss":                "https://sso.example.com/realms/acme",
				"aud":                []string{"orders-api", "account"},
				"sub":                "f3c1b5d2-9a7e-4c3b-8e1f-2a6d0b9c7e54",
				"typ":                "Bearer",
				"azp":                "orders-web",
				"sid":                "8a1d5c7e-2b3f-4e9a-b6c0-d4e2f1a3b5c7",
				"acr":                "1",
				"allowed-origins":    []string{"https://app.example.com"},
				"realm_access":       map[string]any{"roles": []string{"default-roles-acme", "offline_access", "uma_authorization", "order-admin"}},
				"resource_access":    map[string]any{"account": map[string]any{"roles": []string{"manage-account", "view-profile"}}},
				"scope":              "openid email profile orders:read",
				"email_verified":     true,
				"name":               "Alice Example",
				"preferred_username": "alice",
				"given_name":         "Alice",
				"family_name":        "Example",
				"email":              "alice@example.com",
			}
		},
		// The realm's certs endpoint: the RSA-OAEP encryption key
		// (rsa-enc-generated) beside the RS256 signing key, each with its
		// certificate and both thumbprints.
		jwks: func(sig []*fixtureKey, enc *fixtureKey) []map[string]any {
			jwk := func(k *fixtureKey, alg, use string) map[string]any {
				return map[string]any{"kid": k.kid, "kty": "RSA", "alg": alg, "use": use, "n": k.n(), "e": k.e(),
					"x5c": k.x5c(), "x5t": k.x5t(), "x5t#S256": k.x5tS256()}
			}
			return []map[string]any{jwk(enc, "RSA-OAEP", "enc"), jwk(sig[0], "RS256", "sig")}
		},
		sub: "f3c1b5d2-9a7e-4c3b-8e1f-2a6d0b9c7e54", jti: "0d4b2f8e-4e1a-4a8e-9a6e-3c2b1f0e9d8c",
		sid:   "8a1d5c7e-2b3f-4e9a-b6c0-d4e2f1a3b5c7",
		scope: "openid email profile orders:read",
		extra: map[string]any{
			"azp": "orders-web", "typ": "Bearer", "preferred_username": "alice",
			"realm_access":    map[string]any{"roles": []string{"default-roles-acme", "offline_access", "uma_authorization", "order-admin"}},
			"resource_access": map[string]any{"account": map[string]any{"roles": []string{"manage-account", "view-profile"}}},
		},
	}
	typ := "JWT"
	if rfc9068 {
		// The client's "at+jwt" access-token header type: the same
		// claims, typ at+jwt, which the default TokenTypes admits.
		typ = "at+jwt"
		f.name, f.typ, f.types = "keycloak-rfc9068", "at+jwt", nil
		f.line = `{Issuer: "https://sso.example.com/realms/acme"}`
	}
	f.header = func(k *fixtureKey) []member {
		return []member{{"alg", "RS256"}, {"typ", typ}, {"kid", k.kid}}
	}
	return f
}

func auth0Family(rfc9068 bool) issuerFamily {
	const iss = "https://dev-acme.eu.auth0.com/"
	aud := []string{"https://api.example.com/orders", iss + "userinfo"}
	f := issuerFamily{
		name:        "auth0",
		line:        `{Issuer: "https://dev-acme.eu.auth0.com/", TokenTypes: []string{"JWT"}}`,
		issuer:      iss,
		otherIssuer: "https://dev-other.eu.auth0.com/",
		audience:    "https://api.example.com/orders",
		types:       []string{"JWT"},
		typ:         "JWT",
		cn:          "dev-acme.eu.auth0.com", kid: auth0KID, keys: 2, signer: 0,
		jwksURI: iss + ".well-known/jwks.json",
		metadata: map[string]any{
			"authorization_endpoint":                iss + "authorize",
			"token_endpoint":                        iss + "oauth/token",
			"userinfo_endpoint":                     iss + "userinfo",
			"registration_endpoint":                 iss + "oidc/register",
			"end_session_endpoint":                  iss + "oidc/logout",
			"scopes_supported":                      []string{"openid", "profile", "offline_access", "name", "email"},
			"response_types_supported":              []string{"code", "token", "id_token", "code token", "code id_token", "token id_token", "code token id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"HS256", "RS256", "PS256"},
		},
		// The Auth0 token profile with RBAC (access_token_authz): azp,
		// the scope string, the permissions array, a namespaced claim.
		claims: func(now time.Time) map[string]any {
			return map[string]any{
				"iss": iss, "sub": "auth0|65f0c0ffee0123456789abcd", "aud": aud,
				"iat": unix(now, -30*time.Second), "exp": unix(now, 24*time.Hour-30*time.Second),
				"azp": "k3FzQ8pL2mN7vR4tY6wE1uI9oA5sD0gH", "scope": "openid profile read:orders",
				"permissions":                 []string{"read:orders", "write:orders"},
				"https://example.com/tenant":  "acme",
				"https://example.com/roles":   []string{"order-admin"},
				"https://example.com/plan_id": 3,
			}
		},
		// The tenant's /.well-known/jwks.json: the current and the next
		// key, each with its certificate.
		jwks: func(sig []*fixtureKey, _ *fixtureKey) []map[string]any {
			var keys []map[string]any
			for _, k := range sig {
				keys = append(keys, map[string]any{"kty": "RSA", "use": "sig", "n": k.n(), "e": k.e(), "kid": k.kid,
					"x5t": k.x5t(), "x5c": k.x5c(), "alg": "RS256"})
			}
			return keys
		},
		sub: "auth0|65f0c0ffee0123456789abcd", scope: "openid profile read:orders",
		extra: map[string]any{
			"azp": "k3FzQ8pL2mN7vR4tY6wE1uI9oA5sD0gH", "permissions": []string{"read:orders", "write:orders"},
			"https://example.com/roles": []string{"order-admin"}, "https://example.com/plan_id": 3,
		},
	}
	typ := "JWT"
	if rfc9068 {
		// The RFC 9068 token profile: typ at+jwt, client_id for azp, and
		// a jti.
		typ = "at+jwt"
		f.name, f.typ, f.types = "auth0-rfc9068", "at+jwt", nil
		f.line = `{Issuer: "https://dev-acme.eu.auth0.com/"}`
		base := f.claims
		f.claims = func(now time.Time) map[string]any {
			c := base(now)
			c["client_id"] = c["azp"]
			delete(c, "azp")
			c["jti"] = "73WakrfVbNJBaAmhQtEeDv"
			return c
		}
		f.jti, f.clientID = "73WakrfVbNJBaAmhQtEeDv", "k3FzQ8pL2mN7vR4tY6wE1uI9oA5sD0gH"
		delete(f.extra, "azp")
	}
	f.header = func(k *fixtureKey) []member {
		return []member{{"alg", "RS256"}, {"typ", typ}, {"kid", k.kid}}
	}
	return f
}

func oktaFamily() issuerFamily {
	const iss = "https://acme.okta.com/oauth2/default"
	return issuerFamily{
		name:        "okta",
		line:        `{Issuer: "https://acme.okta.com/oauth2/default", TokenTypes: []string{""}}`,
		issuer:      iss,
		otherIssuer: "https://acme.okta.com/oauth2/aus9x0y1z2OTHER",
		audience:    "api://default",
		types:       []string{""},
		typ:         "",
		cn:          "acme.okta.com", kid: oktaKID, keys: 2, signer: 1,
		jwksURI: iss + "/v1/keys",
		metadata: map[string]any{
			"authorization_endpoint":                iss + "/v1/authorize",
			"token_endpoint":                        iss + "/v1/token",
			"introspection_endpoint":                iss + "/v1/introspect",
			"revocation_endpoint":                   iss + "/v1/revoke",
			"response_types_supported":              []string{"code", "id_token", "code id_token", "code token", "id_token token", "code id_token token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		},
		// A custom authorization server: no typ.
		header: func(k *fixtureKey) []member { return []member{{"kid", k.kid}, {"alg", "RS256"}} },
		claims: func(now time.Time) map[string]any {
			return map[string]any{
				"ver": 1, "jti": "AT.mNAoEQ_jbKqoinrQo1D0XKjMX28U5d7ZszBceot7-Ts", "iss": iss, "aud": "api://default",
				"iat": unix(now, -30*time.Second), "exp": unix(now, time.Hour-30*time.Second),
				"cid": "0oa1b2c3d4EXAMPLE5d7", "uid": "00u1a2b3c4EXAMPLE5d7",
				"scp": []string{"openid", "email", "orders.read"}, "auth_time": unix(now, -5*time.Minute),
				"sub": "alice@example.com",
			}
		},
		// /oauth2/default/v1/keys: two or three RS256 keys, "any of them
		// used to sign", without certificates.
		jwks: func(sig []*fixtureKey, _ *fixtureKey) []map[string]any {
			var keys []map[string]any
			for _, k := range sig {
				keys = append(keys, map[string]any{"kty": "RSA", "alg": "RS256", "kid": k.kid, "use": "sig", "e": k.e(), "n": k.n()})
			}
			return keys
		},
		sub: "alice@example.com", jti: "AT.mNAoEQ_jbKqoinrQo1D0XKjMX28U5d7ZszBceot7-Ts",
		scope: "openid email orders.read", version: 1,
		extra: map[string]any{"cid": "0oa1b2c3d4EXAMPLE5d7", "uid": "00u1a2b3c4EXAMPLE5d7"},
	}
}

// entraJWKS is the tenant's discovery keys document: RSA keys without alg,
// each with use, kid (the certificate thumbprint), x5t, x5c and issuer.
func entraJWKS(sig []*fixtureKey, _ *fixtureKey) []map[string]any {
	var keys []map[string]any
	for _, k := range sig {
		keys = append(keys, map[string]any{"kty": "RSA", "use": "sig", "kid": k.kid, "x5t": k.x5t(), "n": k.n(), "e": k.e(),
			"x5c": k.x5c(), "cloud_instance_name": "microsoftonline.com",
			"issuer": "https://login.microsoftonline.com/" + entraTenant + "/v2.0"})
	}
	return keys
}

func entraV1Family() issuerFamily {
	iss := "https://sts.windows.net/" + entraTenant + "/"
	return issuerFamily{
		name: "entra-v1",
		// doc.go's Entra line names the v2 issuer; v1 tokens carry the
		// sts.windows.net one (see TestVerifierEntraBothVersions).
		line:        `{Issuer: "https://sts.windows.net/<tenant>/", JWKSURL: "https://login.microsoftonline.com/<tenant>/discovery/keys", TokenTypes: []string{"JWT"}}`,
		issuer:      iss,
		otherIssuer: "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",
		audience:    "api://orders-api",
		types:       []string{"JWT"},
		typ:         "JWT",
		cn:          "accounts.accesscontrol.windows.net", kid: entraKID, keys: 3, signer: 1,
		// The tenant's v1.0 metadata lives under login.microsoftonline.com
		// (/<tenant>/.well-known/openid-configuration), not under the
		// issuer, so the line names the keys.
		jwksURI:      "https://login.microsoftonline.com/" + entraTenant + "/discovery/keys",
		explicitJWKS: true,
		// v1.0 tokens repeat the kid in x5t.
		header: func(k *fixtureKey) []member {
			return []member{{"typ", "JWT"}, {"alg", "RS256"}, {"x5t", k.x5t()}, {"kid", k.kid}}
		},
		claims: func(now time.Time) map[string]any {
			return map[string]any{
				"aud": "api://orders-api", "iss": iss,
				"iat": unix(now, -5*time.Minute), "nbf": unix(now, -5*time.Minute), "exp": unix(now, 70*time.Minute),
				"acr": "1", "aio": "AVQAq/8WAAAAx3GF4pYbVrPfE2sYb9kL0XhQ", "amr": []string{"pwd", "mfa"},
				"appid": entraWebClient, "appidacr": "0", "family_name": "Example", "given_name": "Alice",
				"ipaddr": "203.0.113.7", "name": "Alice Example", "oid": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
				"rh": "0.AXkAZF-oP8NXYkWz_CyWP2avpitoH24ZVr5DmQ.", "roles": []string{"Orders.Admin"},
				"scp": "Orders.Read Orders.Write", "sub": "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA",
				"tid": entraTenant, "unique_name": "alice@contoso.com", "upn": "alice@contoso.com",
				"uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "1.0",
			}
		},
		jwks: entraJWKS,
		sub:  "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA", scope: "Orders.Read Orders.Write", nbf: true,
		extra: map[string]any{
			"tid": entraTenant, "oid": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "roles": []string{"Orders.Admin"},
			"appid": entraWebClient, "ver": "1.0", "upn": "alice@contoso.com",
		},
	}
}

func entraV2Family() issuerFamily {
	iss := "https://login.microsoftonline.com/" + entraTenant + "/v2.0"
	return issuerFamily{
		name:        "entra-v2",
		line:        `{Issuer: "https://login.microsoftonline.com/<tenant>/v2.0", TokenTypes: []string{"JWT"}}`,
		issuer:      iss,
		otherIssuer: "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
		audience:    entraAPIClient,
		types:       []string{"JWT"},
		typ:         "JWT",
		cn:          "accounts.accesscontrol.windows.net", kid: entraKID, keys: 3, signer: 1,
		jwksURI: "https://login.microsoftonline.com/" + entraTenant + "/discovery/v2.0/keys",
		metadata: map[string]any{
			"token_endpoint":                        "https://login.microsoftonline.com/" + entraTenant + "/oauth2/v2.0/token",
			"authorization_endpoint":                "https://login.microsoftonline.com/" + entraTenant + "/oauth2/v2.0/authorize",
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
			"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"tenant_region_scope":                   "EU",
			"cloud_instance_name":                   "microsoftonline.com",
		},
		header: func(k *fixtureKey) []member {
			return []member{{"typ", "JWT"}, {"alg", "RS256"}, {"kid", k.kid}}
		},
		claims: func(now time.Time) map[string]any {
			return map[string]any{
				"aud": entraAPIClient, "iss": iss,
				"iat": unix(now, -5*time.Minute), "nbf": unix(now, -5*time.Minute), "exp": unix(now, 70*time.Minute),
				"aio": "AWQAm/8WAAAAm9Xq1YxT0rP4cZ2", "azp": entraWebClient, "azpacr": "0",
				"name": "Alice Example", "oid": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
				"preferred_username": "alice@contoso.com", "rh": "0.AXkAZF-oP8NXYkWz_CyWP2avpitoH24ZVr5DmQ.",
				"roles": []string{"Orders.Admin"}, "scp": "Orders.Read",
				"sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", "tid": entraTenant,
				"uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "2.0",
			}
		},
		jwks: entraJWKS,
		sub:  "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", scope: "Orders.Read", nbf: true,
		extra: map[string]any{
			"tid": entraTenant, "oid": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "roles": []string{"Orders.Admin"},
			"azp": entraWebClient, "ver": "2.0",
		},
	}
}

func hydraFamily() issuerFamily {
	const iss = "https://hydra.example.com/"
	return issuerFamily{
		name:        "hydra",
		line:        `{Issuer: "https://hydra.example.com/", TokenTypes: []string{"JWT"}}`,
		issuer:      iss,
		otherIssuer: "https://hydra.other.example.com/",
		audience:    "https://api.example.com/orders",
		types:       []string{"JWT"},
		typ:         "JWT",
		cn:          "hydra.jwt.access-token", kid: uuidKID, keys: 2, signer: 1, encKey: true,
		jwksURI: iss + ".well-known/jwks.json",
		metadata: map[string]any{
			"authorization_endpoint":                iss + "oauth2/auth",
			"token_endpoint":                        iss + "oauth2/token",
			"revocation_endpoint":                   iss + "oauth2/revoke",
			"userinfo_endpoint":                     iss + "userinfo",
			"grant_types_supported":                 []string{"authorization_code", "implicit", "client_credentials", "refresh_token"},
			"response_types_supported":              []string{"code", "code id_token", "id_token", "token id_token", "token", "token id_token code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		},
		// strategies.access_token: jwt.
		header: func(k *fixtureKey) []member {
			return []member{{"alg", "RS256"}, {"kid", k.kid}, {"typ", "JWT"}}
		},
		claims: func(now time.Time) map[string]any {
			return map[string]any{
				"aud": []string{"https://api.example.com/orders"}, "client_id": "orders-web",
				"exp": unix(now, time.Hour-30*time.Second), "ext": map[string]any{"tenant": "acme", "tier": "gold"},
				"iat": unix(now, -30*time.Second), "iss": iss, "jti": "2c9f4b8a-5e1d-4f3a-8c7b-6d0e9a1f2b3c",
				"nbf": unix(now, -30*time.Second), "scp": []string{"orders.read", "offline_access"},
				"sub": "alice",
			}
		},
		// /.well-known/jwks.json: the public keys of the sets it
		// broadcasts, hydra.openid.id-token and hydra.jwt.access-token,
		// and here one more the operator added with use "enc".
		jwks: func(sig []*fixtureKey, enc *fixtureKey) []map[string]any {
			keys := []map[string]any{{"use": "enc", "kty": "RSA", "kid": enc.kid, "alg": "RSA-OAEP-256", "n": enc.n(), "e": enc.e()}}
			for _, k := range sig {
				keys = append(keys, map[string]any{"use": "sig", "kty": "RSA", "kid": k.kid, "alg": "RS256", "n": k.n(), "e": k.e()})
			}
			return keys
		},
		sub: "alice", jti: "2c9f4b8a-5e1d-4f3a-8c7b-6d0e9a1f2b3c", clientID: "orders-web",
		scope: "orders.read offline_access", nbf: true,
		extra: map[string]any{"ext": map[string]any{"tenant": "acme", "tier": "gold"}},
	}
}

func springFamily() issuerFamily {
	const iss = "https://auth.example.com"
	return issuerFamily{
		name:        "spring-authorization-server",
		line:        `{Issuer: "https://auth.example.com", TokenTypes: []string{"JWT", ""}}`,
		issuer:      iss,
		otherIssuer: "https://auth.other.example.com",
		// JwtGenerator's aud is the client id.
		audience: "messaging-client",
		types:    []string{"JWT", ""},
		typ:      "",
		cn:       "spring-authorization-server", kid: uuidKID, keys: 1, signer: 0, encKey: true,
		// Without OpenID Connect enabled the server publishes RFC 8414
		// metadata only: the Verifier falls back to that location.
		jwksURI: iss + "/oauth2/jwks",
		rfc8414: true,
		metadata: map[string]any{
			"authorization_endpoint":                iss + "/oauth2/authorize",
			"token_endpoint":                        iss + "/oauth2/token",
			"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt"},
			"response_types_supported":              []string{"code"},
			"grant_types_supported":                 []string{"authorization_code", "client_credentials", "refresh_token"},
			"revocation_endpoint":                   iss + "/oauth2/revoke",
			"introspection_endpoint":                iss + "/oauth2/introspect",
			"code_challenge_methods_supported":      []string{"S256"},
		},
		// JwtGenerator builds the header from the algorithm alone;
		// NimbusJwtEncoder adds the kid of the key it selects. No typ.
		header: func(k *fixtureKey) []member { return []member{{"kid", k.kid}, {"alg", "RS256"}} },
		claims: func(now time.Time) map[string]any {
			return map[string]any{
				"sub": "user1", "aud": []string{"messaging-client"}, "nbf": unix(now, -30*time.Second),
				"scope": []string{"openid", "message.read"}, "iss": iss,
				"exp": unix(now, 270*time.Second), "iat": unix(now, -30*time.Second),
				"jti": "5e0c3a1b-7d2f-4b8e-9a6c-1f3d5b7e9a0c",
			}
		},
		// The JWK Set endpoint publishes every public key of the
		// JWKSource: here the RSAKey of the reference sample (no use, no
		// alg) and an encryption key the application keeps in the same
		// source, marked by key_ops.
		jwks: func(sig []*fixtureKey, enc *fixtureKey) []map[string]any {
			return []map[string]any{
				{"kty": "RSA", "e": enc.e(), "key_ops": []string{"encrypt", "wrapKey"}, "kid": enc.kid, "n": enc.n()},
				{"kty": "RSA", "e": sig[0].e(), "kid": sig[0].kid, "n": sig[0].n()},
			}
		},
		sub: "user1", jti: "5e0c3a1b-7d2f-4b8e-9a6c-1f3d5b7e9a0c",
		scope: "openid message.read", nbf: true,
	}
}

func issuerFamilies() []issuerFamily {
	return []issuerFamily{
		keycloakFamily(false), keycloakFamily(true), auth0Family(false), auth0Family(true),
		oktaFamily(), entraV1Family(), entraV2Family(), hydraFamily(), springFamily(),
	}
}

// fixtureIssuer is a family's keys and its JWKS, served on 127.0.0.1.
type fixtureIssuer struct {
	f        issuerFamily
	sig      []*fixtureKey
	enc      *fixtureKey // nil unless f.encKey
	jwksBody []byte
	net      *fakeHosts
	// discovered counts the fetches of the discovery document.
	discovered atomic.Int64
}

func newFixtureIssuer(t *testing.T, f issuerFamily) *fixtureIssuer {
	t.Helper()
	fi := &fixtureIssuer{f: f}
	for range f.keys {
		fi.sig = append(fi.sig, newFixtureKey(t, f.cn, f.kid))
	}
	if f.encKey {
		fi.enc = newFixtureKey(t, f.cn, f.kid)
	}
	fi.jwksBody = mustJSON(t, map[string]any{"keys": f.jwks(fi.sig, fi.enc)})
	var hosts []string
	for _, raw := range []string{f.issuer, f.jwksURI} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(hosts, u.Host) {
			hosts = append(hosts, u.Host)
		}
	}
	fi.net = newFakeHosts(t, hosts...)
	fi.net.Serve(t, f.jwksURI, staticJSON(fi.jwksBody, "public, max-age=3600"))
	if !f.explicitJWKS {
		doc := map[string]any{"issuer": f.issuer, "jwks_uri": f.jwksURI}
		for k, v := range f.metadata {
			doc[k] = v
		}
		meta := staticJSON(mustJSON(t, doc), "public, max-age=3600")
		fi.net.Serve(t, discoveryURL(t, f.issuer, f.rfc8414), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fi.discovered.Add(1)
			meta.ServeHTTP(w, r)
		}))
	}
	return fi
}

// discoveryURL is where the metadata of issuer lives: OpenID Connect
// Discovery §4 (the issuer, less a trailing "/", then
// /.well-known/openid-configuration), or RFC 8414 §3
// (/.well-known/oauth-authorization-server between host and path).
func discoveryURL(t *testing.T, issuer string, rfc8414 bool) string {
	t.Helper()
	if !rfc8414 {
		return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	}
	u, err := url.Parse(issuer)
	if err != nil {
		t.Fatal(err)
	}
	return u.Scheme + "://" + u.Host + "/.well-known/oauth-authorization-server" + strings.TrimSuffix(u.Path, "/")
}

// token signs the family's claims for a token issued at now, edited by mod.
func (fi *fixtureIssuer) token(t *testing.T, now time.Time, mod func(map[string]any)) string {
	t.Helper()
	return fi.tokenBy(t, fi.sig[fi.f.signer], now, mod)
}

// tokenBy is token signed by k, under k's kid.
func (fi *fixtureIssuer) tokenBy(t *testing.T, k *fixtureKey, now time.Time, mod func(map[string]any)) string {
	t.Helper()
	claims := fi.f.claims(now)
	if mod != nil {
		mod(claims)
	}
	return signRS256(t, k, fi.f.header(k), claims)
}

// line is the family's configuration line: Issuer, TokenTypes and, when
// the line names it, JWKSURL.
func (fi *fixtureIssuer) line() sessionkit.TrustedIssuer {
	ti := sessionkit.TrustedIssuer{Issuer: fi.f.issuer, TokenTypes: fi.f.types}
	if fi.f.explicitJWKS {
		ti.JWKSURL = fi.f.jwksURI
	}
	return ti
}

// verifier is a Verifier of the issuers (by default the family's line)
// with the audiences (by default the family's) and the test's client (the
// fake hosts) and clock.
func (fi *fixtureIssuer) verifier(t *testing.T, audiences []string, issuers ...sessionkit.TrustedIssuer) *sessionkit.Verifier {
	t.Helper()
	if len(issuers) == 0 {
		issuers = []sessionkit.TrustedIssuer{fi.line()}
	}
	if audiences == nil {
		audiences = []string{fi.f.audience}
	}
	cfg := sessionkit.VerifierConfig{
		Audience: audiences,
		Now:      func() time.Time { return fixtureEpoch }, HTTPClient: fi.net.Client,
	}
	if len(issuers) == 1 {
		// As the line is written: VerifierConfig's own fields.
		cfg.Issuer, cfg.JWKSURL, cfg.TokenTypes = issuers[0].Issuer, issuers[0].JWKSURL, issuers[0].TokenTypes
	} else {
		cfg.Issuers = issuers
	}
	v, err := sessionkit.NewVerifier(cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// jsonValue is v as encoding/json decodes it into an any.
func jsonValue(t *testing.T, v any) any {
	t.Helper()
	var out any
	if err := json.Unmarshal(mustJSON(t, v), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkClaims compares what Verify returned with what the family says.
func (fi *fixtureIssuer) checkClaims(t *testing.T, c *sessionkit.Claims) {
	t.Helper()
	f := fi.f
	if c.Issuer != f.issuer || c.Subject != f.sub || !slices.Contains(c.Audience, f.audience) {
		t.Errorf("iss=%q sub=%q aud=%q, want %q %q and %q among aud", c.Issuer, c.Subject, c.Audience, f.issuer, f.sub, f.audience)
	}
	if c.ID != f.jti || c.ClientID != f.clientID || c.SessionID != f.sid || c.Version != f.version {
		t.Errorf("jti=%q client_id=%q sid=%q ver=%d, want %q %q %q %d", c.ID, c.ClientID, c.SessionID, c.Version, f.jti, f.clientID, f.sid, f.version)
	}
	if want := fixtureEpoch.Add(-5 * time.Minute); c.IssuedAt.After(fixtureEpoch) || c.IssuedAt.Before(want) || !c.ExpiresAt.After(fixtureEpoch) {
		t.Errorf("iat=%v exp=%v around %v", c.IssuedAt, c.ExpiresAt, fixtureEpoch)
	}
	if f.nbf == c.NotBefore.IsZero() {
		t.Errorf("nbf=%v, want it set: %v", c.NotBefore, f.nbf)
	}
	if c.Scope != f.scope {
		t.Errorf("Scope = %q, want %q", c.Scope, f.scope)
	}
	for _, s := range strings.Fields(f.scope) {
		if !c.HasScope(s) {
			t.Errorf("HasScope(%q) = false; Scope %q", s, c.Scope)
		}
	}
	for _, s := range []string{"admin", "", strings.Fields(f.scope)[0] + "x"} {
		if c.HasScope(s) {
			t.Errorf("HasScope(%q) = true; Scope %q", s, c.Scope)
		}
	}
	for name, want := range f.extra {
		if got := c.Extra[name]; !reflect.DeepEqual(got, jsonValue(t, want)) {
			t.Errorf("Extra[%q] = %#v, want %#v", name, got, want)
		}
	}
	// What sessionkit interprets stays out of Extra.
	for _, name := range []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "client_id", "sid"} {
		if _, ok := c.Extra[name]; ok {
			t.Errorf("Extra holds %q", name)
		}
	}
}

// TestVerifierAcceptsIssuerTokens: tokens shaped like the access tokens of
// Keycloak (default and with the at+jwt header type), Auth0 (its token
// profile and the RFC 9068 one), Okta (a custom authorization server),
// Entra ID (v1.0 and v2.0 tokens), Ory Hydra (JWT access tokens) and Spring
// Authorization Server, each signed by a test key, verify with the
// family's configuration line: the issuer's identifier as iss says it and
// TokenTypes, the JWKS discovered through the issuer's metadata (at the
// OpenID Connect location, or for Spring Authorization Server at the RFC
// 8414 one only), except for Entra ID v1.0, whose line names the keys. The
// metadata and a JWKS shaped like the issuer's (certificates, keys without
// alg, encryption keys the Verifier must skip) are served at the issuer's
// https URLs by fake hosts on 127.0.0.1. Claims exposes their scope
// (string, array or scp), client, session, version and their own claims in
// Extra. For each family the table also refuses a tampered token, an
// expired one, one for another audience, one of another issuer (a
// neighbouring realm or tenant signing with the same key) and, where the
// JWKS has one, one signed with the encryption key, and checks what the
// default TokenTypes makes of the good token: accepted when typed at+jwt,
// refused otherwise.
func TestVerifierAcceptsIssuerTokens(t *testing.T) {
	t.Parallel()
	otherAudience := func(c map[string]any) {
		if _, list := c["aud"].([]string); list {
			c["aud"] = []string{"https://other-api.example.com"}
		} else {
			c["aud"] = "https://other-api.example.com"
		}
	}
	variants := []struct {
		name string
		// token makes the variant's token.
		token func(t *testing.T, fi *fixtureIssuer) string
		// defaultTypes checks it with the default TokenTypes instead of
		// the line's.
		defaultTypes bool
		// needsEnc runs it only for families whose JWKS has an
		// encryption key.
		needsEnc bool
		// want is the error, nil for acceptance, given the family.
		want func(f issuerFamily) (error, string)
	}{
		{"good", func(t *testing.T, fi *fixtureIssuer) string { return fi.token(t, fixtureEpoch, nil) }, false, false,
			func(issuerFamily) (error, string) { return nil, "" }},
		{"tampered", func(t *testing.T, fi *fixtureIssuer) string { return tamper(t, fi.token(t, fixtureEpoch, nil)) }, false, false,
			func(issuerFamily) (error, string) { return sessionkit.ErrInvalidToken, "signature" }},
		{"expired", func(t *testing.T, fi *fixtureIssuer) string { return fi.token(t, fixtureEpoch.Add(-48*time.Hour), nil) }, false, false,
			func(issuerFamily) (error, string) { return sessionkit.ErrTokenExpired, "exp" }},
		{"wrong-audience", func(t *testing.T, fi *fixtureIssuer) string { return fi.token(t, fixtureEpoch, otherAudience) }, false, false,
			func(issuerFamily) (error, string) { return sessionkit.ErrInvalidToken, "audience" }},
		{"wrong-issuer", func(t *testing.T, fi *fixtureIssuer) string {
			return fi.token(t, fixtureEpoch, func(c map[string]any) { c["iss"] = fi.f.otherIssuer })
		}, false, false, func(issuerFamily) (error, string) { return sessionkit.ErrInvalidToken, "wrong issuer" }},
		// The JWKS's encryption key is skipped: a token signed with it, under
		// its kid, names no key the Verifier has.
		{"encryption-key", func(t *testing.T, fi *fixtureIssuer) string { return fi.tokenBy(t, fi.enc, fixtureEpoch, nil) }, false, true,
			func(issuerFamily) (error, string) { return sessionkit.ErrInvalidToken, "unknown key id" }},
		{"default-config", func(t *testing.T, fi *fixtureIssuer) string { return fi.token(t, fixtureEpoch, nil) }, true, false,
			func(f issuerFamily) (error, string) {
				if f.typ == "at+jwt" {
					return nil, ""
				}
				return sessionkit.ErrInvalidToken, "wrong token type"
			}},
	}
	for _, f := range issuerFamilies() {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			fi := newFixtureIssuer(t, f)
			line := fi.verifier(t, nil)
			def := fi.line()
			def.TokenTypes = nil
			byDefault := fi.verifier(t, nil, def)
			t.Logf("configuration: %s", f.line)
			t.Cleanup(func() {
				if !f.explicitJWKS && fi.discovered.Load() == 0 {
					t.Errorf("the Verifier never fetched the discovery document")
				}
			})
			for _, vt := range variants {
				if vt.needsEnc && fi.enc == nil {
					continue
				}
				t.Run(vt.name, func(t *testing.T) {
					t.Parallel()
					v := line
					if vt.defaultTypes {
						v = byDefault
					}
					c, err := v.Verify(t.Context(), vt.token(t, fi))
					want, why := vt.want(f)
					if want == nil {
						if err != nil {
							t.Fatalf("Verify: %v", err)
						}
						fi.checkClaims(t, c)
						return
					}
					if !errors.Is(err, want) || !strings.Contains(err.Error(), why) {
						t.Fatalf("Verify: %v (claims %+v), want %v saying %q", err, c, want, why)
					}
				})
			}
		})
	}
}

// TestVerifierEntraBothVersions: Entra ID issues v1.0 or v2.0 access
// tokens as the API's app registration says (accessTokenAcceptedVersion),
// with different iss (https://sts.windows.net/<tenant>/ and
// https://login.microsoftonline.com/<tenant>/v2.0) and aud (the App ID URI
// and the client id), signed by the same keys. doc.go's one line, for the
// v2.0 issuer, refuses v1.0 tokens; two TrustedIssuers, the v2.0 one
// discovered and the v1.0 one naming the tenant's keys, accept both.
func TestVerifierEntraBothVersions(t *testing.T) {
	t.Parallel()
	v2 := newFixtureIssuer(t, entraV2Family())
	v1 := &fixtureIssuer{f: entraV1Family(), sig: v2.sig, jwksBody: v2.jwksBody, net: v2.net}
	v2.net.Serve(t, v1.f.jwksURI, staticJSON(v2.jwksBody, "public, max-age=3600"))
	tok1, tok2 := v1.token(t, fixtureEpoch, nil), v2.token(t, fixtureEpoch, nil)
	audiences := []string{v1.f.audience, v2.f.audience}

	v2only := v2.verifier(t, audiences)
	if _, err := v2only.Verify(t.Context(), tok2); err != nil {
		t.Fatalf("v2.0 token, v2.0 line: %v", err)
	}
	if _, err := v2only.Verify(t.Context(), tok1); !errors.Is(err, sessionkit.ErrInvalidToken) || !strings.Contains(err.Error(), "wrong issuer") {
		t.Fatalf("v1.0 token, v2.0 line: %v, want a wrong-issuer refusal", err)
	}

	both := v2.verifier(t, audiences, v1.line(), v2.line())
	for _, c := range []struct {
		fi  *fixtureIssuer
		tok string
	}{{v1, tok1}, {v2, tok2}} {
		claims, err := both.Verify(t.Context(), c.tok)
		if err != nil {
			t.Fatalf("%s token, both issuers: %v", c.fi.f.name, err)
		}
		c.fi.checkClaims(t, claims)
	}
}

// TestVerifierIssuerHeaderTypes: Keycloak and Auth0 each issue tokens typed
// "JWT" (Keycloak's default, Auth0's token profile) or "at+jwt" (a Keycloak
// client set to the at+jwt header type, Auth0's RFC 9068 profile), per
// client or API, from the same keys. The "JWT" line refuses the at+jwt
// tokens and the default refuses the JWT ones; TokenTypes {"JWT",
// "at+jwt"} admits both, for a realm or tenant where both are issued (a
// migration to RFC 9068 tokens).
func TestVerifierIssuerHeaderTypes(t *testing.T) {
	t.Parallel()
	for _, pair := range [][2]issuerFamily{{keycloakFamily(false), keycloakFamily(true)}, {auth0Family(false), auth0Family(true)}} {
		t.Run(pair[0].name, func(t *testing.T) {
			t.Parallel()
			jwtFI := newFixtureIssuer(t, pair[0])
			atFI := &fixtureIssuer{f: pair[1], sig: jwtFI.sig, enc: jwtFI.enc, jwksBody: jwtFI.jwksBody, net: jwtFI.net}
			jwtTok, atTok := jwtFI.token(t, fixtureEpoch, nil), atFI.token(t, fixtureEpoch, nil)
			for _, c := range []struct {
				types      []string
				jwt, atjwt bool // accepted
			}{
				{[]string{"JWT"}, true, false},
				{nil, false, true},
				{[]string{"JWT", "at+jwt"}, true, true},
			} {
				v := jwtFI.verifier(t, nil, sessionkit.TrustedIssuer{Issuer: pair[0].issuer, TokenTypes: c.types})
				for _, tc := range []struct {
					fi   *fixtureIssuer
					tok  string
					want bool
				}{{jwtFI, jwtTok, c.jwt}, {atFI, atTok, c.atjwt}} {
					claims, err := v.Verify(t.Context(), tc.tok)
					switch {
					case tc.want && err != nil:
						t.Errorf("TokenTypes %q, %s token: %v", c.types, tc.fi.f.name, err)
					case tc.want:
						tc.fi.checkClaims(t, claims)
					case !errors.Is(err, sessionkit.ErrInvalidToken) || !strings.Contains(err.Error(), "wrong token type"):
						t.Errorf("TokenTypes %q, %s token: %v, want a wrong-type refusal", c.types, tc.fi.f.name, err)
					}
				}
			}
		})
	}
}
