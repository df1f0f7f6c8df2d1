package sessionkit

import (
	"encoding/base64"

	"github.com/sessionkit/sessionkit/internal/jose"
)

// The compact-JWS codec, the JSON reader and writer and the JWK reader and
// writer live in internal/jose; this file is the root package's side of
// it.

// DefaultMaxTokenSize is the size cap applied to access tokens before any
// decoding work.
const DefaultMaxTokenSize = 8 << 10

// MaxTokenSizeLimit is the largest Config.MaxTokenSize and
// VerifierConfig.MaxTokenSize accept: 32 KiB. It admits the largest tokens
// real issuers send (an Entra ID token with its 200 groups takes about
// 13 KiB, and most HTTP proxies refuse a header line over 8 or 16 KiB)
// and keeps the worst unsigned token an attacker can send within a few
// signature checks' worth of work (see BENCHMARKS.md).
const MaxTokenSizeLimit = 32 << 10

// accessTokenType is the typ header of access tokens (RFC 9068).
const accessTokenType = jose.AccessTokenType

// b64 is base64url without padding, canonical: the encoding of refresh
// tokens, jti values and every JOSE segment.
var b64 = base64.RawURLEncoding.Strict()

// publicKey is a verification key: algorithm, key id and public half or
// HMAC secret.
type publicKey = jose.Key

// keyResolver finds verification keys. KeySet snapshots and the Verifier's
// key sets implement it.
type keyResolver = jose.Resolver

// errMalformed wraps ErrInvalidToken with a reason; reasons never include
// token bytes.
func errMalformed(reason string) error { return jose.Malformed(reason) }

// errRefused wraps ErrInvalidToken with a message and the Reason the
// refusal's event and log record carry (see reasonOf).
func errRefused(r Reason, msg string) error { return jose.Refuse(string(r), msg) }

// errUnknownKey is the codec's answer for an allowed algorithm whose kid no
// key has: the one failure a remote key set answers with a refetch.
var errUnknownKey = jose.ErrUnknownKey

// appendJSONString appends s as a JSON string (see jose.AppendJSONString).
func appendJSONString(buf []byte, s string) []byte { return jose.AppendJSONString(buf, s) }

// signCompact signs payload (raw JSON) with k under the header segment h
// (k.pub.Header() for access tokens) and returns the compact JWS.
func signCompact(k *SigningKey, h string, payload []byte) (string, error) {
	return jose.Sign(&k.pub, k.priv, h, payload)
}

// compactHeader returns the base64url header segment of a token signed
// with alg by the key kid, of type typ.
func compactHeader(alg Algorithm, kid, typ string) string {
	return jose.CompactHeader(jose.Algorithm(alg), kid, typ)
}
