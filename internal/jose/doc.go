// Package jose is sessionkit's strict codec for JOSE: compact JWS signing
// and verification over crypto/*, the JSON reader behind headers, claims
// and keys, the JSON string writer, JWK reading and writing and RFC 7638
// thumbprints. It has no dependency outside the standard library; the root
// package calls it and re-exports ErrInvalidToken.
//
// The surface:
//
//   - Algorithm, Known and the algorithm constants; AccessTokenType;
//     MaxHeaderMembers.
//   - Key (a verification key: NewKey, NewHMACKey), AlgorithmFor (the key
//     checks: types, sizes, RSA exponent and modulus, P-256 points),
//     Thumbprint, MarshalJWK.
//   - Sign, Verify with a Resolver; Split and Compact (Header, Payload,
//     Verify) for callers that look at a token before its signature, like
//     the token endpoint's assertions and a multi-issuer Verifier.
//   - ScanObject and Value, the strict JSON reader; AppendJSONString.
//   - ParseJWK, JWK (ForSignatures, PublicKey) and ParseJWKSet, which read
//     keys with the rules of ScanObject.
//   - ErrInvalidToken, ErrUnknownKey, Malformed; IsBase64URLChar.
//
// # Cost
//
// Everything that reads untrusted bytes is linear in their size, whatever
// they hold, and Split enforces the caller's size cap before any decoding.
// ScanObject compares a name with at most 15 earlier ones of its object and
// puts the names of larger objects in a set of keyed 64-bit hashes; nesting
// is read by one loop with a stack (32 levels at most); strings are
// validated in place and decoded only when asked for. A header has at most
// MaxHeaderMembers (16) members.
package jose
