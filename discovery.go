package sessionkit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit/internal/jose"
)

// This file finds an issuer's JWKS through its metadata: OpenID Connect
// Discovery 1.0 (§4) or OAuth 2.0 Authorization Server Metadata (RFC 8414
// §3), for a Verifier's issuer configured without a JWKS URL.

// MaxDiscoverySize is the largest discovery document a Verifier reads
// (256 KiB). The documents of common issuers hold a few KiB.
const MaxDiscoverySize = 256 << 10

// The well-known suffixes of the two discovery locations.
const (
	oidcDiscoverySuffix = "/.well-known/openid-configuration"
	oauthMetadataSuffix = "/.well-known/oauth-authorization-server"
)

// discoveredDoc is one discovery document, reduced to what a Verifier uses.
type discoveredDoc struct {
	jwksURI string
	from    string // the location that served it
	expires time.Time
	etag    string
}

// discoveryLocations returns where the discovery document of issuer lives:
// the OpenID Connect location (the issuer, any trailing "/" removed,
// followed by /.well-known/openid-configuration) and the RFC 8414 one
// (/.well-known/oauth-authorization-server inserted between the host and
// the issuer's path, any trailing "/" of the path removed). issuer must be
// an https URL (http when insecure) with a host and no user info, query or
// fragment (RFC 8414 §2).
func discoveryLocations(issuer string, insecure bool) ([2]string, error) {
	if err := checkFetchURL("Issuer", issuer, insecure); err != nil {
		return [2]string{}, err
	}
	if strings.ContainsAny(issuer, "?#") {
		return [2]string{}, errors.New("Issuer has a query or fragment")
	}
	// No query, fragment or user info: the issuer is scheme://host[:port]
	// followed by its path, which stays as written.
	scheme, rest, _ := strings.Cut(issuer, "://")
	host, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		host, path = rest[:i], rest[i:]
	}
	path = strings.TrimSuffix(path, "/")
	origin := scheme + "://" + host
	return [2]string{origin + path + oidcDiscoverySuffix, origin + oauthMetadataSuffix + path}, nil
}

// jwksURL returns where the JWKS is fetched: the configured JWKSURL, or the
// jwks_uri of the issuer's discovery document, which is fetched first when
// there is none yet or it has expired. A failed discovery is logged here,
// one record per failure; the last good document then keeps serving, and
// without one the error is returned.
//
// Only the fetch goroutine calls it (one at a time: fetches are
// single-flight), so discovery is single-flight too, bounded by its own
// FetchTimeout, and rate-limited like the JWKS fetches it precedes.
func (r *remoteKeys) jwksURL(ctx context.Context) (string, error) {
	if r.url != "" {
		return r.url, nil
	}
	last := r.doc.Load()
	if last != nil && r.now().Before(last.expires) {
		return last.jwksURI, nil
	}
	doc, err := r.discover(ctx, last)
	switch {
	case err == nil:
		if last != nil && doc.jwksURI != last.jwksURI {
			r.log.InfoContext(ctx, "sessionkit: the discovered jwks_uri changed; the next JWKS fetches use the new one",
				"issuer", r.issuer, "from", last.jwksURI, "to", doc.jwksURI)
		}
		r.doc.Store(doc)
		return doc.jwksURI, nil
	case last != nil:
		r.log.WarnContext(ctx, "sessionkit: discovery failed; still using the last good discovery document",
			"issuer", r.issuer, "jwks", last.jwksURI, "error", err)
		r.fetchFailed(ctx, err)
		return last.jwksURI, nil
	}
	r.log.ErrorContext(ctx, "sessionkit: discovery failed; no keys to verify with", "issuer", r.issuer, "error", err)
	r.fetchFailed(ctx, err)
	return "", err
}

// discover fetches the discovery document: from the OpenID Connect
// location, then from the RFC 8414 one only when the first answers 404 or
// 410, that is, has no document for this issuer (each conditionally, with
// the ETag of the last good document when it came from there). Every other
// failure ends the attempt: errors of the network, other 4xx answers (a
// 401 or 403 of a firewall in front of the site says nothing of where the
// document is), 5xx, refused redirects and unusable documents; the other
// location would not mend them, and a wrong document is not routed around.
// The OpenID Connect location always comes first, so an answer that made
// the fallback serve once does not keep it serving.
func (r *remoteKeys) discover(ctx context.Context, last *discoveredDoc) (*discoveredDoc, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	locs := r.locations
	doc, err := r.discoverAt(ctx, locs[0], last)
	if err == nil {
		return doc, nil
	}
	err = fmt.Errorf("%s: %w", locs[0], err)
	var status *statusError
	if !errors.As(err, &status) || !status.noDocument() {
		return nil, err
	}
	r.log.DebugContext(ctx, "sessionkit: no discovery document at the OpenID Connect location; trying RFC 8414's", "issuer", r.issuer, "location", locs[1])
	doc, err2 := r.discoverAt(ctx, locs[1], last)
	if err2 != nil {
		return nil, fmt.Errorf("%w; %s: %w", err, locs[1], err2)
	}
	return doc, nil
}

// discoverAt fetches and reads the discovery document at loc.
func (r *remoteKeys) discoverAt(ctx context.Context, loc string, last *discoveredDoc) (*discoveredDoc, error) {
	etag := ""
	if last != nil && last.from == loc {
		etag = last.etag
	}
	d, err := r.getDocument(ctx, loc, "application/json", etag, MaxDiscoverySize, "discovery document")
	if err != nil {
		return nil, err
	}
	doc := &discoveredDoc{from: loc, expires: r.now().Add(r.ttl(d.header)), etag: etag}
	if d.notModified {
		doc.jwksURI = last.jwksURI
		return doc, nil
	}
	if doc.jwksURI, err = parseDiscovery(d.body, r.issuer, r.insecure); err != nil {
		return nil, unusable{err}
	}
	doc.etag = etagOf(d.header)
	return doc, nil
}

// parseDiscovery reads a discovery document (OpenID Connect Discovery §3,
// RFC 8414 §2) strictly, as a JWKS is read (a JSON object with no
// duplicate members at any depth, valid UTF-8, no trailing data), and
// returns its jwks_uri. The document's issuer must equal issuer exactly
// (the mix-up defence of RFC 8414 §3.3 and OpenID Connect Discovery §4.3:
// a document that names another issuer, even one differing by a trailing
// "/", is refused whole), and its jwks_uri must pass the checks of a
// configured JWKSURL. Other members are not read.
func parseDiscovery(body []byte, issuer string, insecure bool) (string, error) {
	var (
		iss, jwks       string
		hasIss, hasJWKS bool
	)
	err := jose.ScanObject(string(body), func(name string, v *jose.Value) error {
		switch name {
		case "issuer":
			if v.Kind() != jose.String {
				return errors.New("issuer is not a string")
			}
			iss, hasIss = v.Str(), true
		case "jwks_uri":
			if v.Kind() != jose.String {
				return errors.New("jwks_uri is not a string")
			}
			jwks, hasJWKS = v.Str(), true
		}
		return nil
	})
	switch {
	case err != nil:
		return "", fmt.Errorf("the discovery document is unusable: %v", err)
	case !hasIss:
		return "", errors.New("the discovery document has no issuer")
	case iss != issuer:
		return "", fmt.Errorf("the discovery document is for issuer %q, not %q: refused (mix-up defence)", shorten(iss), issuer)
	case !hasJWKS:
		return "", errors.New("the discovery document has no jwks_uri")
	}
	if err := checkFetchURL("jwks_uri", jwks, insecure); err != nil {
		return "", fmt.Errorf("the discovery document is unusable: %v", err)
	}
	return jwks, nil
}

// noDocument reports whether a location's answer says it has no document:
// 404 Not Found or 410 Gone.
func (e *statusError) noDocument() bool {
	return e.code == http.StatusNotFound || e.code == http.StatusGone
}
