package sessionkit

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/sessionkit/sessionkit/internal/jose"
)

// This file turns key material a Verifier trusts (a JWK Set document, a
// local KeySet, configured HMAC secrets) into one immutable keyResolver.

// algSet is an algorithm allow-list as a bit set.
type algSet uint16

// knownAlgorithms are the algorithms a Verifier can allow, in their bit
// order.
var knownAlgorithms = [...]Algorithm{RS256, ES256, EdDSA, HS256, HS384, HS512, RS384, RS512, PS256, PS384, PS512, ES384, ES512}

// algBit is a's bit in an algSet; 0 for algorithms the codec does not know.
func algBit(a Algorithm) algSet {
	for i, k := range knownAlgorithms {
		if a == k {
			return 1 << i
		}
	}
	return 0
}

func (s algSet) has(a Algorithm) bool { return a != "" && s&algBit(a) != 0 }

// isHMAC reports whether a is one of the HS* algorithms.
func isHMAC(a Algorithm) bool { return a == HS256 || a == HS384 || a == HS512 }

// hmacMinSecret is the shortest secret accepted for an HS* algorithm: the
// size of its hash output (RFC 7518 §3.2), so at least 32 bytes.
func hmacMinSecret(a Algorithm) int {
	switch a {
	case HS384:
		return 48
	case HS512:
		return 64
	default:
		return 32
	}
}

// resolvedKeys is an immutable set of verification keys of one issuer. It
// implements keyResolver.
type resolvedKeys struct {
	byKID    map[string]*publicKey
	byHeader map[string]*publicKey
	// byAlg holds, for each algorithm, its key when it has exactly one
	// (nil when several): the key of a token without kid.
	byAlg map[jose.Algorithm]*publicKey
	allow algSet
}

// newResolvedKeys indexes an issuer's configured HMAC keys and its
// asymmetric keys (a KeySet's or a JWKS's). A kid that an HMAC key shares
// with an asymmetric key verifies nothing: neither key is kept, so no key
// ever shadows another, and the kid is returned in conflicts for the caller
// to log (see TrustedIssuer.HMACKeys). Within one list the first key of a
// kid wins (the lists come without duplicates).
func newResolvedKeys(allow algSet, hmac, asym []*publicKey) (r *resolvedKeys, conflicts []string) {
	r = &resolvedKeys{byKID: make(map[string]*publicKey), byHeader: make(map[string]*publicKey), byAlg: make(map[jose.Algorithm]*publicKey), allow: allow}
	shared := make(map[string]bool) // kid -> both kinds carry it
	for _, k := range hmac {
		shared[k.KID()] = false
	}
	for _, k := range asym {
		if seen, ok := shared[k.KID()]; ok && !seen {
			shared[k.KID()] = true
			conflicts = append(conflicts, k.KID())
		}
	}
	for _, list := range [][]*publicKey{hmac, asym} {
		for _, k := range list {
			if !allow.has(Algorithm(k.Algorithm())) || shared[k.KID()] {
				continue
			}
			if _, dup := r.byKID[k.KID()]; dup {
				continue
			}
			r.byKID[k.KID()] = k
			if k.Header() != "" {
				r.byHeader[k.Header()] = k
			}
			if _, several := r.byAlg[k.Algorithm()]; several {
				r.byAlg[k.Algorithm()] = nil
			} else {
				r.byAlg[k.Algorithm()] = k
			}
		}
	}
	return r, conflicts
}

// logKIDConflicts reports the kids newResolvedKeys refused for issuer: a
// configuration error the operator must fix, so at Error level. The kid
// names a key; it is no key material.
func logKIDConflicts(ctx context.Context, log *slog.Logger, issuer string, conflicts []string) {
	for _, kid := range conflicts {
		log.ErrorContext(ctx, "sessionkit: an HMAC key and an asymmetric key of the issuer share a kid; tokens with that kid verify with neither",
			"issuer", issuer, "kid", kid)
	}
}

// KeyForHeader returns the key whose access-token header segment is seg.
func (r *resolvedKeys) KeyForHeader(seg string) *publicKey { return r.byHeader[seg] }

// KeyForKID returns the key with this kid.
func (r *resolvedKeys) KeyForKID(kid string) *publicKey { return r.byKID[kid] }

// KeyForAlg returns the issuer's one key of alg; nil when it has none or
// several.
func (r *resolvedKeys) KeyForAlg(alg jose.Algorithm) *publicKey { return r.byAlg[alg] }

// Allows reports whether alg is in the allow-list.
func (r *resolvedKeys) Allows(alg jose.Algorithm) bool { return r.allow.has(Algorithm(alg)) }

var _ keyResolver = (*resolvedKeys)(nil)

// maxJWKSKeys bounds how many keys of one JWKS document are kept, and
// maxJWKSEntries how many of its entries are read at all: a document of
// many small unusable entries costs no more than a bounded scan and a
// bounded log.
const (
	maxJWKSKeys    = 100
	maxJWKSEntries = 1000
)

// maxJWKSLogged bounds the log records of skipped keys of one document;
// the rest are counted in one summary record.
const maxJWKSLogged = 20

// parseJWKS reads a JWK Set (RFC 7517 §5) and returns the keys it may verify
// with. The document is read strictly (exact member names, no duplicates at
// any depth, valid UTF-8): one that is not a JWK Set so read is an error.
// Keys that are not for signatures (use other than "sig", key_ops without
// "verify"), symmetric (kty "oct": a JWKS never supplies secrets), private,
// of an unsupported type, size or curve, with weak parameters, without a
// kid, with an alg that does not match the key, or of an algorithm outside
// allow are skipped with a log line (the first maxJWKSLogged of a document;
// then one record counts the rest) and never used; entries past
// maxJWKSEntries are not read. A document without a single usable key is an
// error too, so that a broken or emptied document never replaces a working
// key set.
func parseJWKS(ctx context.Context, body []byte, allow algSet, log *slog.Logger, source string) ([]*publicKey, error) {
	raws, err := jose.ParseJWKSet(string(body))
	if err != nil {
		return nil, fmt.Errorf("the document is not a valid JWK Set: %v", err)
	}
	var keys []*publicKey
	seen := make(map[string]bool)
	skipped := 0
	for i, raw := range raws {
		if len(keys) == maxJWKSKeys || i == maxJWKSEntries {
			log.Warn("sessionkit: JWKS has too many keys; ignoring the rest", "jwks", source, "kept", len(keys), "read", i, "total", len(raws))
			break
		}
		k, refused, reason := parseJWK(raw, allow)
		if k != nil && seen[k.KID()] {
			k, refused, reason = nil, true, "duplicate kid"
		}
		if k == nil {
			if skipped++; skipped <= maxJWKSLogged {
				level := slog.LevelDebug
				if refused {
					level = slog.LevelWarn
				}
				log.Log(ctx, level, "sessionkit: JWKS key ignored", "jwks", source, "index", i, "reason", reason)
			}
			continue
		}
		seen[k.KID()] = true
		keys = append(keys, k)
	}
	if skipped > maxJWKSLogged {
		log.Warn("sessionkit: JWKS keys ignored without a record each", "jwks", source, "count", skipped-maxJWKSLogged)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("none of the %d keys is usable", len(raws))
	}
	return keys, nil
}

// parseJWK reads one JWK. It returns the key, or why it is not used: refused
// (suspicious or malformed, logged as a warning) or merely not applicable
// (another use or algorithm, logged at debug level).
func parseJWK(raw string, allow algSet) (k *publicKey, refused bool, reason string) {
	jwk, err := jose.ParseJWK(raw)
	if err != nil {
		return nil, true, "malformed JWK members: " + err.Error()
	}
	if err := jwk.ForSignatures(); err != nil {
		return nil, false, err.Error()
	}
	if jwk.Kty == "oct" {
		return nil, true, "symmetric (oct) key: shared secrets never come from a JWKS"
	}
	if jwk.KID == "" {
		return nil, true, "no kid"
	}
	if len(jwk.KID) > 256 {
		return nil, true, "kid longer than 256 bytes"
	}
	pub, err := jwk.PublicKey()
	if err != nil {
		return nil, true, "unsupported or malformed key (kty " + shorten(jwk.Kty) + "): " + err.Error()
	}
	def, err := jose.AlgorithmFor(pub)
	if err != nil {
		return nil, true, err.Error()
	}
	// A key verifies with one algorithm: its alg member's, or without one
	// the default of its type (RS256 for RSA keys, as every issuer that
	// omits alg signs: Entra ID's JWKS has none).
	alg := Algorithm(def)
	if jwk.HasAlg {
		if !jose.Fits(jose.Algorithm(jwk.Alg), def) {
			return nil, false, fmt.Sprintf("alg %q is not one this key type is verified with", shorten(jwk.Alg))
		}
		alg = Algorithm(jwk.Alg)
	}
	if !allow.has(alg) {
		return nil, false, fmt.Sprintf("algorithm %s is not in the allow-list", alg)
	}
	k, err = newPublicKey(alg, jwk.KID, pub)
	if err != nil {
		return nil, true, trimConfigPrefix(err)
	}
	return k, false, ""
}

// trimConfigPrefix returns an ErrInvalidConfig error's message without the
// sentinel's text.
func trimConfigPrefix(err error) string {
	return strings.TrimPrefix(err.Error(), ErrInvalidConfig.Error()+": ")
}
