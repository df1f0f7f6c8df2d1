package sessionkit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/sealedstore"
)

// Two instances share their signing keys through one store (Redis or bbolt
// in production: both implement store.KeyStore) and rotate them together;
// a token from either verifies at both, before, during and after.
func ExampleOpenManagedKeys() {
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	st := memstore.New()
	kek, _ := sealedstore.GenerateKey() // in production: sealedstore.ParseKey of a secret
	instance := func() (*sessionkit.ManagedKeys, *sessionkit.Issuer) {
		keys, err := sessionkit.OpenManagedKeys(ctx, sessionkit.ManagedKeysConfig{
			Store: st, Issuer: "https://auth.example.com", KEK: sealedstore.Keys{Current: kek},
			Algorithm: sessionkit.EdDSA, Now: clock,
			PromoteLead: -1, // no verifier caches a JWKS longer than its max-age
		})
		if err != nil {
			panic(err)
		}
		iss, err := sessionkit.New(sessionkit.Config{
			Issuer: "https://auth.example.com", Audience: []string{"api"},
			Keys: keys.Keys(), Store: st, Now: clock,
		})
		if err != nil {
			panic(err)
		}
		// In production: go keys.Run(ctx), which calls Tick every minute.
		return keys, iss
	}
	keysA, a := instance()
	keysB, b := instance()
	fmt.Println("same key:", keysA.Keys().SigningKeyID() == keysB.Keys().SigningKeyID())

	old, _ := a.Login(ctx, sessionkit.Grant{Subject: "alice"})
	next, _ := keysA.Rotate(ctx) // or wait for the schedule (RotateEvery)
	fmt.Println("published, promoted after:", next.PromoteAt.Sub(next.PublishedAt))
	now = next.PromoteAt
	_ = keysB.Tick(ctx) // B promotes it (once: A's Tick would find it done)
	_ = keysA.Tick(ctx)
	fresh, _ := a.Login(ctx, sessionkit.Grant{Subject: "bob"})
	_, errOld := b.Verify(ctx, old.AccessToken)
	_, errNew := b.Verify(ctx, fresh.AccessToken)
	fmt.Println("old token at B:", errOld, "- new token at B:", errNew)
	for _, k := range keysB.Ring().Keys {
		if k.State == sessionkit.KeyPrevious {
			fmt.Println(k.State, "- retired in", k.RetireAt.Sub(now))
		} else {
			fmt.Println(k.State, "- signing since", k.PromotedAt.Format(time.TimeOnly))
		}
	}
	// Output:
	// same key: true
	// published, promoted after: 6m0s
	// old token at B: <nil> - new token at B: <nil>
	// previous - retired in 21m0s
	// current - signing since 15:10:05
}
