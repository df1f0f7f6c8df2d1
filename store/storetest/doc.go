// Package storetest is the public conformance suite of the [store.Store]
// contract, in the manner of testing/slogtest: every backend, in this module
// or outside it, proves that it keeps the contract by running it.
//
// A store runs the suite from an ordinary test:
//
//	package mystore_test
//
//	import (
//		"testing"
//
//		"github.com/sessionkit/sessionkit/store"
//		"github.com/sessionkit/sessionkit/store/storetest"
//		"example.com/mystore"
//	)
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s := mystore.New(mystore.Options{})
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// and runs it with the race detector: go test -race ./...
//
// # What Run does
//
// Every case is a named subtest (go test -run 'TestConformance/Rotate/'
// picks a group, a full name picks one case). Each case calls newStore with
// its own *testing.T and works on that fresh store, so a store may register
// its clean-up with t.Cleanup. A few cases (Rotate/NeverCreatedUnknown and
// Rotate/GenerationAheadUnknown) call newStore a second time, to present
// handles that a second store issued: so newStore must be able to make two
// stores for one t. When the two share a backend (newStore returns the same
// store, or stores over the same server and key space, or sealed stores
// under one key ring), the second store's handles are the first's too;
// those cases notice it, log it, and run only their other checks. Cases run
// in parallel (t.Parallel); Run returns once every case has finished, so
// deferred clean-up in the calling test is safe.
//
// Every failure message starts with "rule:" and states the rule of the
// contract that was broken, followed by what the store did.
//
// A case that needs a capability the store does not declare
// ([store.Store.Capabilities]) is skipped with a message naming the missing
// capability, and no case skips for any other reason: a store declaring
// [store.All] runs every case. Where a case writes handles of its own (a
// random session id, a later generation, another subject's tag), which it
// can only do for [store.FormatHandle] handles, it also checks the same
// rule with handles a store issued, so that stores with opaque handles,
// such as sealed ones, run it too. Conversely, the cases in the
// Capabilities group run only for a capability the store lacks and check
// that the methods needing it fail with [store.ErrUnsupported].
//
// # Time
//
// Stores decide liveness by the now they are given, but a real backend also
// sets native expiry (Redis PXAT, a janitor) as clean-up, some margin after
// a record stops counting. So each case takes the real clock, truncated to
// the millisecond, as its base time and only ever moves now forward from it,
// jumping past realistic lifetimes (one hour idle, one day absolute) instead
// of sleeping. Every time the suite passes is truncated to the millisecond,
// and times read back are compared at millisecond precision.
//
// # Key rings
//
// A store that also keeps key rings ([store.KeyStore], for sessionkit's
// managed signing keys) runs their cases as well, from a test of its own:
//
//	func TestKeyConformance(t *testing.T) {
//		storetest.RunKeys(t, func(t *testing.T) store.KeyStore {
//			return mystore.New(mystore.Options{})
//		})
//	}
//
// They check the compare-and-set (one winner among racers, a stale version
// changes nothing), that versions start at 0 and rise by one, that blobs
// come back byte for byte and unshared, the size limits, that names never
// meet, and dead contexts.
//
// # Shared backends
//
// A store backed by a shared server may let all cases use the same server
// and key space: every case makes up its own random subjects, session ids,
// jtis and use-once namespaces, and never looks at anything else.
package storetest
