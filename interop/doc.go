// Package interop checks sessionkit against other JWT stacks. Node's jose
// package verifies sessionkit access tokens against a KeySet served on
// 127.0.0.1, before and after key rotations; and sessionkit's Verifier
// checks tokens Node signed, with Node's keys published on 127.0.0.1. Go's
// go-oidc and go-jwt-middleware find an Issuer's JWKS through its
// authorization-server metadata and verify its tokens.
//
// The Node tests need node (>= 20) on PATH and `npm ci` run in this directory.
// Without them they skip, unless CI=true, where they fail. It is a nested
// module so that nothing here reaches sessionkit's users.
package interop
