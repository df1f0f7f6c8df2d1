package skotel

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// The cost of the adapter, for BENCHMARKS.md: the root's BenchmarkVerify
// (the same key algorithms, issuer, audience, grant and memstore) with
// adapter=plain (no hook, the bare memstore) and adapter=otel (the Events
// hook and the wrapped memstore, on an SDK MeterProvider with a reader),
// side by side in one run, so that benchstat -col /adapter shows the
// ratio. A successful Verify reports no event: what the adapter adds there
// is the store wrapper's timing of CheckAccess (mode revocation).
// BenchmarkVerifyRefused is the path that does report one, a token whose
// signature does not verify.

var benchAlgs = []sessionkit.Algorithm{sessionkit.RS256, sessionkit.ES256, sessionkit.EdDSA}

// benchKeys are one key per algorithm, shared by the plain and otel
// sub-benchmarks so that both verify the same kind of token.
var benchKeys = map[sessionkit.Algorithm]*sessionkit.SigningKey{}

func benchKey(b *testing.B, alg sessionkit.Algorithm) *sessionkit.SigningKey {
	b.Helper()
	if k := benchKeys[alg]; k != nil {
		return k
	}
	k, err := sessionkit.GenerateSigningKey(alg)
	if err != nil {
		b.Fatal(err)
	}
	benchKeys[alg] = k
	return k
}

// benchIssuer returns an Issuer as the root's benchmarks make it, with the
// adapter attached when withOTel is set, and the access token of a login.
func benchIssuer(b *testing.B, alg sessionkit.Algorithm, skipRevocation, withOTel bool) (*sessionkit.Issuer, string) {
	b.Helper()
	var st store.Store = memstore.New()
	var events func(context.Context, sessionkit.Event)
	if withOTel {
		mp, _ := newProvider(b)
		var err error
		if events, err = Events(mp); err != nil {
			b.Fatal(err)
		}
		if st, err = WrapStore(mp, st); err != nil {
			b.Fatal(err)
		}
	}
	iss, err := sessionkit.New(sessionkit.Config{
		Issuer: "https://auth.example.com", Audience: []string{"api"},
		Keys: sessionkit.NewKeySet(benchKey(b, alg)), Store: st,
		SkipRevocationCheck: skipRevocation, Events: events,
	})
	if err != nil {
		b.Fatal(err)
	}
	toks, err := iss.Login(context.Background(), sessionkit.Grant{Subject: "user-1234567890", Scope: "read write",
		Device: sessionkit.Device{UserAgent: "test-agent/1.0", IP: "192.0.2.1"}})
	if err != nil {
		b.Fatal(err)
	}
	return iss, toks.AccessToken
}

var adapters = []struct {
	name string
	otel bool
}{{"adapter=plain", false}, {"adapter=otel", true}}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range benchAlgs {
		for _, mode := range []struct {
			name string
			skip bool
		}{{"stateless", true}, {"revocation", false}} {
			for _, a := range adapters {
				b.Run(string(alg)+"/"+mode.name+"/"+a.name, func(b *testing.B) {
					iss, token := benchIssuer(b, alg, mode.skip, a.otel)
					ctx := context.Background()
					b.ReportAllocs()
					for b.Loop() {
						if _, err := iss.Verify(ctx, token); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

func BenchmarkVerifyRefused(b *testing.B) {
	for _, alg := range benchAlgs {
		for _, a := range adapters {
			b.Run(string(alg)+"/bad_signature/"+a.name, func(b *testing.B) {
				iss, token := benchIssuer(b, alg, false, a.otel)
				forged := forge(b, token)
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := iss.Verify(ctx, forged); !errors.Is(err, sessionkit.ErrInvalidToken) {
						b.Fatalf("Verify of a forged token: %v", err)
					}
				}
			})
		}
	}
}

// BenchmarkEventsHook is the hook alone, for an event seen before: what a
// refusal pays for the adapter.
func BenchmarkEventsHook(b *testing.B) {
	events, _ := newEvents(b)
	ctx := context.Background()
	e := sessionkit.Event{Kind: sessionkit.EventAccessTokenRefused, Issuer: "https://auth.example.com", Reason: sessionkit.ReasonBadSignature}
	events(ctx, e)
	b.ReportAllocs()
	for b.Loop() {
		events(ctx, e)
	}
}

// BenchmarkStoreCheckAccess is one memstore CheckAccess, the store call of
// a Verify with the revocation check, bare and wrapped.
func BenchmarkStoreCheckAccess(b *testing.B) {
	for _, a := range adapters {
		b.Run(a.name, func(b *testing.B) {
			var st store.Store = memstore.New()
			if a.otel {
				mp, _ := newProvider(b)
				var err error
				if st, err = WrapStore(mp, st); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			q := store.AccessCheck{Subject: "user-1234567890", SessionID: "s1", JTI: "j1", Now: time.Now()}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := st.CheckAccess(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
