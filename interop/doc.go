// Package interop checks sessionkit against another JWT stack: Node's jose
// package. Node verifies sessionkit access tokens against a KeySet served on
// 127.0.0.1, before and after key rotations; and sessionkit's Verifier
// checks tokens Node signed, with Node's keys published on 127.0.0.1.
//
// The tests need node (>= 20) on PATH and `npm ci` run in this directory.
// Without them they skip, unless CI=true, where they fail. It is a nested
// module so that nothing here reaches sessionkit's users.
package interop
