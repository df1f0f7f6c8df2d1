// Package interop checks sessionkit against other JWT stacks. Node's jose
// package verifies sessionkit access tokens against a KeySet served on
// 127.0.0.1, before and after key rotations, and sessionkit's Verifier
// checks tokens Node signed (typed at+jwt, JWT or not at all), with Node's
// keys published on 127.0.0.1. Go's go-oidc and go-jwt-middleware find an
// Issuer's JWKS through its authorization-server metadata and verify its
// tokens. Issuers built on golang-jwt, jwx and go-jose sign with their
// default headers and publish their own JWKS, and the Verifier follows
// them across a key rotation. Fixtures shaped like the access tokens and
// JWKS of Keycloak, Auth0, Okta, Entra ID, Ory Hydra and Spring
// Authorization Server verify with each one's configuration line, and
// their tampered, expired, wrong-audience and wrong-issuer variants are
// refused.
//
// The Node tests need node (>= 20) on PATH and `npm ci` run in this
// directory. Without them they skip, unless CI=true, where they fail. It is
// a nested module so that nothing here reaches sessionkit's users.
package interop
