// Package jose is sessionkit's strict codec for JOSE: compact JWS signing
// and verification over crypto/*, the JSON reader behind headers, claims
// and keys, the JSON string writer, JWK reading and writing and RFC 7638
// thumbprints. It has no dependency outside the standard library; the root
// package calls it and re-exports ErrInvalidToken.
//
// The surface:
//
//   - Algorithm, Known and the algorithm constants; AccessTokenType;
//     MaxHeaderMembers, MaxHeaderSize.
//   - Key (a verification key: NewKey, NewHMACKey), AlgorithmFor (the key
//     checks: types, sizes, RSA exponent and modulus, P-256 points),
//     Thumbprint, MarshalJWK.
//   - Sign, Verify with a Resolver; Split and Compact (Header, Payload,
//     Verify) for callers that look at a token before its signature, like
//     the token endpoint's assertions and a multi-issuer Verifier.
//   - ScanObject and Value, the strict JSON reader; PeekObject, the same
//     without the duplicate check, for the iss of an unverified payload;
//     AppendJSONString.
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
// MaxHeaderMembers (16) members and MaxHeaderSize (2048) characters.
//
// # Differences from go-jose
//
// go-jose v4 (ParseSigned and Verify, JSONWebKey) is the reference the
// differential fuzz targets compare with: FuzzDifferentialJWS signs what it
// is given with RS256, ES256 and EdDSA keys (or takes it as a token) and
// gives the token to both, FuzzDifferentialJWK gives both the same JWK.
// Each difference below is deliberate and is a named check in those
// targets (jwsRefusals, jwsAcceptances, jwkRefusals, jwkAcceptances); any
// other disagreement fails them, and TestDifferentialSeeds keeps one seed
// for each.
//
// A compact JWS that go-jose verifies, this codec refuses for:
//
//   - size: over the caller's cap (go-jose has none);
//   - serialization: JWS JSON serialization, and white space anywhere in
//     the token (go-jose strips it and reads both serializations);
//   - base64: CR or LF, and encodings whose unused bits are set (go-jose
//     decodes leniently and checks the signature over its canonical
//     re-encoding, so a token with altered bits still verifies there);
//   - an empty payload segment;
//   - JSON: invalid UTF-8 and lone surrogates (go-jose substitutes U+FFFD),
//     duplicate member names at any depth, nesting deeper than 32 levels;
//   - more than MaxHeaderMembers (16) header members, a header segment
//     longer than MaxHeaderSize (2048 characters);
//   - typ: missing, not a string, or other than the expected type
//     (compared without case, with or without "application/"); go-jose
//     does not look at typ;
//   - kid: missing, not a string, or not naming the key (go-jose verifies
//     with the key it is given whatever the kid says);
//   - the members that bring keys or processing rules: crit, jwk, jku, x5u,
//     x5c, zip, b64 (go-jose reads jwk and x5c and honours crit with b64).
//
// A compact JWS that go-jose refuses, this codec verifies only when a
// header member it does not interpret is one go-jose decodes and fails on:
// a nonce that is not a string, a number beyond float64.
//
// A JWK that go-jose reads as a public key, this reader refuses for:
//
//   - JSON: as above (UTF-8, surrogates, duplicates at any depth, depth);
//   - member types: kty, kid, alg, use, crv, n, e, x and y null or not
//     strings, key_ops not an array of strings (go-jose reads null as
//     absent and ignores key_ops);
//   - base64 of n, e, x and y: unused bits set, CR or LF;
//   - private or symmetric members: d, p, q, dp, dq, qi, oth, k (the
//     reader is for public keys only; go-jose ignores oth);
//   - weak or unsupported keys, what AlgorithmFor refuses: RSA under 2048
//     bits or with an even modulus, exponents under 3, even or over
//     2^31-1, curves other than P-256 and Ed25519 (go-jose reads P-384 and
//     P-521).
//
// A JWK that go-jose refuses, this reader reads only when the cause is a
// member it does not interpret: certificates (x5c, x5t, x5t#S256, x5u),
// which go-jose parses and checks against the key, the key here being its
// public parameters alone; parameters of other key types (x and y of an
// RSA key, n and e of an EC or OKP key, y of an OKP key) and ML-DSA's pub
// and priv, which go-jose decodes whatever the kty. Use and key_ops are
// checked by ForSignatures, which go-jose leaves to its caller.
package jose
