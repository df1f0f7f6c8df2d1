package bench

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
)

// The verified-token cache (sessionkit's VerifyCacheSize) against peers
// that have none: BenchmarkVerifyRepeat presents one token again and
// again, BenchmarkVerifyMix 10,000 distinct tokens 50 times each in a
// shuffled order. The peers verify every presentation in full; so do
// sessionkit's implementations without the cache (BenchmarkVerify).

// cachedImpls are sessionkit's Verifier with its default cache (16384
// entries, more than the mix's 10,000 tokens) and with one of 4096 (less),
// and the peers.
var cachedImpls = []impl{
	{"sessionkit-cache", func(tb testing.TB, f *fixture) binder { return newSessionkitVerifier(tb, f, 0) }},
	{"sessionkit-cache4k", func(tb testing.TB, f *fixture) binder { return newSessionkitVerifier(tb, f, 4096) }},
	{"golangjwt", golangJWT},
	{"jwx", jwx},
	{"gojose", goJose},
}

// BenchmarkVerifyRepeat/<alg>/<impl> verifies the same token at every
// iteration: every one after the first is a cache hit for sessionkit.
func BenchmarkVerifyRepeat(b *testing.B) {
	for _, alg := range algs {
		b.Run(string(alg), func(b *testing.B) {
			f := newFixture(b, alg)
			for _, im := range cachedImpls {
				b.Run(im.name, func(b *testing.B) {
					bind := im.setup(b, f)
					f.check(b, im.name, bind)
					run := bind(f.token)
					b.ReportAllocs()
					for b.Loop() {
						if _, err := run(); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// mixTokens and mixPresentations size the realistic mix.
const (
	mixTokens        = 10_000
	mixPresentations = 50
)

// BenchmarkVerifyMix/<alg>/<impl> verifies a shuffled sequence in which
// each of 10,000 distinct tokens (10,000 logins, 5,000 users) appears 50
// times, and reports ns/presentation. For sessionkit, an operation is the
// whole sequence on a fresh Verifier (a cold cache, so every token's first
// presentation is a miss; the default cache of 16384 entries holds them
// all, while with sessionkit-cache4k most fall out between two
// presentations). For the peers, whose cost does not depend on the order, an
// operation is one presentation of the sequence.
func BenchmarkVerifyMix(b *testing.B) {
	for _, alg := range algs {
		b.Run(string(alg), func(b *testing.B) {
			f := newFixture(b, alg)
			tokens := mixOf(b, f)
			order := make([]int32, 0, mixTokens*mixPresentations)
			for i := range mixTokens {
				for range mixPresentations {
					order = append(order, int32(i))
				}
			}
			rng := rand.New(rand.NewPCG(7, 11))
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for _, im := range cachedImpls {
				b.Run(im.name, func(b *testing.B) {
					f.check(b, im.name, im.setup(b, f))
					bindAll := func() []func() (string, error) {
						bind := im.setup(b, f)
						runs := make([]func() (string, error), len(tokens))
						for i, tok := range tokens {
							runs[i] = bind(tok)
						}
						return runs
					}
					b.ReportAllocs()
					if strings.HasPrefix(im.name, "sessionkit") {
						for b.Loop() {
							b.StopTimer()
							runs := bindAll()
							b.StartTimer()
							for _, k := range order {
								if _, err := runs[k](); err != nil {
									b.Fatal(err)
								}
							}
						}
						b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(order)), "ns/presentation")
						return
					}
					runs := bindAll()
					i := 0
					for b.Loop() {
						if _, err := runs[order[i]](); err != nil {
							b.Fatal(err)
						}
						if i++; i == len(order) {
							i = 0
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/presentation")
				})
			}
		})
	}
}

// mixOf logs in mixTokens times on f's issuer and returns the access
// tokens.
func mixOf(tb testing.TB, f *fixture) []string {
	tb.Helper()
	ctx := context.Background()
	tokens := make([]string, mixTokens)
	for i := range tokens {
		toks, err := f.iss.Login(ctx, sessionkit.Grant{
			Subject: "user-" + strconv.Itoa(i/2), Scope: scope,
			Device: sessionkit.Device{UserAgent: "bench", IP: "192.0.2.1"},
		})
		if err != nil {
			tb.Fatal(err)
		}
		tokens[i] = toks.AccessToken
	}
	return tokens
}
