package sessionkit

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MetadataMaxAge is how long clients may cache the authorization-server
// metadata: the max-age of the Cache-Control header of MetadataHandler. The
// document changes only when the application's configuration does (a new
// endpoint, other scopes), never with key rotation, which the JWKS it points
// to follows on its own.
const MetadataMaxAge = time.Hour

// defaultJWKSPath is MetadataConfig.JWKSURL's default, where the package
// documentation mounts the KeySet.
const defaultJWKSPath = "/.well-known/jwks.json"

// metadataCacheControl is the Cache-Control header of metadata responses.
var metadataCacheControl = "public, max-age=" + strconv.Itoa(int(MetadataMaxAge/time.Second))

// MetadataConfig says where an Issuer's endpoints are mounted, for
// MetadataHandler. Each URL is either absolute ("https://auth.example.com/oauth/token")
// or a path starting with "/" that is appended to Config.Issuer, less a
// trailing "/": with Issuer "https://auth.example.com", "/oauth/token" is
// "https://auth.example.com/oauth/token". Every URL, and the Issuer itself,
// must be https (unless InsecureAllowHTTP) with a host, and without user
// info, query or fragment (the OAuth endpoints refuse a query string).
//
// A typical server writes one line:
//
//	sessionkit.MetadataConfig{TokenURL: "/oauth/token", RevocationURL: "/oauth/revoke", IntrospectionURL: "/oauth/introspect"}
type MetadataConfig struct {
	// JWKSURL is where the Issuer's KeySet is served (jwks_uri). Default
	// "/.well-known/jwks.json".
	JWKSURL string
	// TokenURL is where Issuer.TokenEndpoint is mounted (token_endpoint).
	// Empty: the document names no token endpoint, no grant types and no
	// client authentication; it then only leads verifiers to the JWKS.
	TokenURL string
	// RevocationURL is where Issuer.RevocationEndpoint is mounted
	// (revocation_endpoint); empty: none.
	RevocationURL string
	// IntrospectionURL is where Issuer.IntrospectionEndpoint is mounted
	// (introspection_endpoint); empty: none.
	IntrospectionURL string
	// Scopes, when set, is announced as scopes_supported: RFC 6749 scope
	// tokens, each once. RFC 8414 lets a server leave some out.
	Scopes []string
	// InsecureAllowHTTP permits http:// for the Issuer and every URL, for
	// local development on loopback. RFC 8414 requires https.
	InsecureAllowHTTP bool
}

// serverMetadata is the RFC 8414 §2 document. A member is present only
// when it is true of this Issuer; see MetadataHandler.
type serverMetadata struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`

	TokenEndpoint  string      `json:"token_endpoint,omitempty"`
	GrantTypes     []string    `json:"grant_types_supported,omitempty"`
	TokenAuth      []string    `json:"token_endpoint_auth_methods_supported,omitempty"`
	TokenAuthAlgs  []Algorithm `json:"token_endpoint_auth_signing_alg_values_supported,omitempty"`
	Revocation     string      `json:"revocation_endpoint,omitempty"`
	RevocationAuth []string    `json:"revocation_endpoint_auth_methods_supported,omitempty"`
	RevocationAlgs []Algorithm `json:"revocation_endpoint_auth_signing_alg_values_supported,omitempty"`
	Introspection  string      `json:"introspection_endpoint,omitempty"`
	IntroAuth      []string    `json:"introspection_endpoint_auth_methods_supported,omitempty"`
	IntroAlgs      []Algorithm `json:"introspection_endpoint_auth_signing_alg_values_supported,omitempty"`

	Scopes []string `json:"scopes_supported,omitempty"`
	// ResponseTypes is REQUIRED (RFC 8414 §2) and empty: there is no
	// authorization endpoint, so no response type is supported.
	ResponseTypes []string `json:"response_types_supported"`
}

// metadataHandler serves a document built once.
type metadataHandler struct {
	doc  []byte
	etag string
}

// MetadataHandler returns the handler of the Issuer's OAuth 2.0
// authorization-server metadata (RFC 8414), the document from which
// clients and resource servers learn its JWKS and endpoints. It answers
// GET and HEAD (405 with Allow otherwise) with Content-Type
// application/json, Cache-Control "public, max-age=" MetadataMaxAge and a
// strong ETag; a matching If-None-Match answers 304 Not Modified. The body
// is built once, here: it does not depend on the request.
//
// The document states only what is true of this Issuer:
//
//   - issuer: Config.Issuer, exactly (clients compare it to the identifier
//     they asked about: the mix-up defence); jwks_uri: cfg.JWKSURL.
//   - response_types_supported: [] (REQUIRED by RFC 8414; the Issuer has no
//     authorization endpoint, so it supports none). No
//     authorization_endpoint, no code_challenge_methods_supported (no
//     PKCE), and no id_token_signing_alg_values_supported: sessionkit issues
//     no ID tokens.
//   - With cfg.TokenURL: token_endpoint; grant_types_supported, the two
//     grants TokenEndpoint serves (GrantTypeJWTBearer, GrantTypeRefreshToken);
//     token_endpoint_auth_methods_supported "private_key_jwt" (the refresh
//     grant of a client's session requires it) and "none" (the jwt-bearer
//     grant takes no client authentication beside its assertion, and the
//     refresh grant of a user's session none at all), never a client
//     secret; token_endpoint_auth_signing_alg_values_supported RS256,
//     ES256, EdDSA, the algorithms assertions may use.
//   - With cfg.RevocationURL, cfg.IntrospectionURL: revocation_endpoint and
//     introspection_endpoint, each with auth methods "private_key_jwt" (the
//     only way in) and the same signing algorithms.
//   - With cfg.Scopes: scopes_supported.
//
// The signing algorithms of access tokens are not announced: no registered
// member says them, the JWKS names each key's alg, and a list built here
// would go stale when a rotation changes the algorithm.
//
// Mount it at both well-known locations: RFC 8414 clients read
// /.well-known/oauth-authorization-server, OpenID Connect ones (go-oidc,
// go-jwt-middleware, most JWT middleware) /.well-known/openid-configuration;
// the document serves both, though the Issuer is no OpenID provider. For
// an Issuer without a path ("https://auth.example.com"):
//
//	md := iss.MetadataHandler(sessionkit.MetadataConfig{TokenURL: "/oauth/token"})
//	mux.Handle("GET /.well-known/oauth-authorization-server", md)
//	mux.Handle("GET /.well-known/openid-configuration", md)
//
// For an Issuer with a path ("https://example.com/tenant1") the two differ:
// RFC 8414 §3 inserts the well-known segment before the path
// (/.well-known/oauth-authorization-server/tenant1), OpenID Connect
// Discovery appends it (/tenant1/.well-known/openid-configuration).
//
// MetadataHandler returns an error wrapping ErrInvalidConfig when
// Config.Issuer or a URL of cfg is not as MetadataConfig says, or a scope
// is invalid or listed twice.
func (iss *Issuer) MetadataHandler(cfg MetadataConfig) (http.Handler, error) {
	doc, err := iss.metadata(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: MetadataHandler: %w", ErrInvalidConfig, err)
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("sessionkit: MetadataHandler: %w", err) // strings and slices of strings always marshal
	}
	body = append(body, '\n')
	return &metadataHandler{doc: body, etag: strongETag(body)}, nil
}

func (h *metadataHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	serveJSONDocument(w, r, h.doc, h.etag, metadataCacheControl)
}

// metadata checks cfg and builds the document.
func (iss *Issuer) metadata(cfg MetadataConfig) (*serverMetadata, error) {
	if err := checkMetadataURL("Config.Issuer", iss.issuer, cfg.InsecureAllowHTTP); err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(iss.issuer, "/")
	resolve := func(name, ref string) (string, error) {
		switch {
		case strings.HasPrefix(ref, "//"):
			return "", fmt.Errorf("%s %q: a path must not start with \"//\"", name, shorten(ref))
		case strings.HasPrefix(ref, "/"):
			ref = base + ref
		case !strings.Contains(ref, "://"):
			return "", fmt.Errorf("%s %q is neither an absolute URL nor a path starting with \"/\"", name, shorten(ref))
		}
		return ref, checkMetadataURL(name, ref, cfg.InsecureAllowHTTP)
	}
	if cfg.JWKSURL == "" {
		cfg.JWKSURL = defaultJWKSPath
	}
	md := &serverMetadata{Issuer: iss.issuer, ResponseTypes: []string{}}
	var err error
	if md.JWKSURI, err = resolve("JWKSURL", cfg.JWKSURL); err != nil {
		return nil, err
	}
	// Each OAuth endpoint, when mounted, with how clients authenticate there.
	for _, ep := range []struct {
		name, ref string
		url       *string
		auth      *[]string
		algs      *[]Algorithm
		methods   []string
	}{
		{"TokenURL", cfg.TokenURL, &md.TokenEndpoint, &md.TokenAuth, &md.TokenAuthAlgs, []string{"private_key_jwt", "none"}},
		{"RevocationURL", cfg.RevocationURL, &md.Revocation, &md.RevocationAuth, &md.RevocationAlgs, []string{"private_key_jwt"}},
		{"IntrospectionURL", cfg.IntrospectionURL, &md.Introspection, &md.IntroAuth, &md.IntroAlgs, []string{"private_key_jwt"}},
	} {
		if ep.ref == "" {
			continue
		}
		if *ep.url, err = resolve(ep.name, ep.ref); err != nil {
			return nil, err
		}
		*ep.auth = ep.methods
		*ep.algs = slices.Clone(assertionAlgorithms)
	}
	if md.TokenEndpoint != "" {
		md.GrantTypes = []string{GrantTypeJWTBearer, GrantTypeRefreshToken}
	}
	for i, s := range cfg.Scopes {
		switch {
		case !validScopeToken(s):
			return nil, fmt.Errorf("Scopes[%d] %q is not an RFC 6749 scope token", i, shorten(s))
		case slices.Contains(cfg.Scopes[:i], s):
			return nil, fmt.Errorf("Scopes lists %q twice", shorten(s))
		}
	}
	md.Scopes = slices.Clone(cfg.Scopes)
	return md, nil
}

// checkMetadataURL accepts an absolute https URL (http too when insecure)
// with a host and without user info, query or fragment. name says which
// one it is, for the error.
func checkMetadataURL(name, raw string, insecure bool) error {
	if strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("%s %q is not a valid URL", name, shorten(raw))
	}
	if err := checkFetchURL(name, raw, insecure); err != nil {
		return err
	}
	u, _ := url.Parse(raw) // checkFetchURL parsed it
	switch {
	case u.RawQuery != "" || u.ForceQuery:
		return fmt.Errorf("%s %q must not have a query", name, shorten(raw))
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("%s %q must not have a fragment", name, shorten(raw))
	}
	return nil
}
