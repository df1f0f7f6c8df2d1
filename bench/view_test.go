package bench

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// BenchmarkViewVerify/<alg>/<case> is a resource server's Verifier in the
// three revocation modes, in one run, on one token minted by an Issuer on
// redisstore (REDIS_URL, or a Cluster: viewServerEnv): "stateless" (no Store), "view" (a
// redisstore.View: revocations pushed, the check in memory) and "redis"
// (the plain Store: one pipelined read per verify), each with the
// verified-token cache off and, with "+cache", on. The view case fails if
// its timed loop reads the store at all.
func BenchmarkViewVerify(b *testing.B) {
	for _, alg := range algs {
		b.Run(string(alg), func(b *testing.B) {
			st, key := viewFixture(b, alg)
			view, err := st.Watch(redisstore.ViewOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = view.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := view.WaitInStep(ctx); err != nil {
				b.Fatal(err)
			}
			iss, err := sessionkit.New(sessionkit.Config{
				Issuer: issuerID, Audience: []string{audience}, Keys: sessionkit.NewKeySet(key), Store: st,
			})
			if err != nil {
				b.Fatal(err)
			}
			jwks := httptest.NewServer(iss.Keys())
			b.Cleanup(jwks.Close)
			toks, err := iss.Login(context.Background(), sessionkit.Grant{Subject: subject, Scope: scope})
			if err != nil {
				b.Fatal(err)
			}
			for _, c := range []struct {
				name  string
				store store.Store
				cache int
			}{
				{"stateless", nil, -1},
				{"view", view, -1},
				{"redis", st, -1},
				{"stateless+cache", nil, 0},
				{"view+cache", view, 0},
				{"redis+cache", st, 0},
			} {
				b.Run(c.name, func(b *testing.B) {
					v, err := sessionkit.NewVerifier(sessionkit.VerifierConfig{
						Issuer: issuerID, JWKSURL: jwks.URL, Audience: []string{audience},
						Store: c.store, VerifyCacheSize: c.cache, InsecureAllowHTTP: true,
					})
					if err != nil {
						b.Fatal(err)
					}
					ctx := context.Background()
					// Fetch the JWKS; the view reads the token from the
					// store once (it was issued before the view began
					// plus its leeway) and then follows it.
					for range 2 {
						if _, err := v.Verify(ctx, toks.AccessToken); err != nil {
							b.Fatal(err)
						}
					}
					reads := view.Status().StoreReads
					b.ReportAllocs()
					for b.Loop() {
						if _, err := v.Verify(ctx, toks.AccessToken); err != nil {
							b.Fatal(err)
						}
					}
					if c.store == view && view.Status().StoreReads != reads {
						b.Fatalf("the view read the store %d times in the loop", view.Status().StoreReads-reads)
					}
				})
			}
		})
	}
}
