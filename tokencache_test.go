package sessionkit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store/memstore"
)

// live counts the entries a cache holds.
func (c *verifiedCache) live() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.index)
		s.mu.Unlock()
	}
	return n
}

// TestVerifyCacheHit: a token verified once is answered from the cache
// the next time (the same *Claims, no allocation), statefully and not;
// with the cache off, every Verify parses anew. Not parallel:
// testing.AllocsPerRun refuses to run beside parallel tests.
func TestVerifyCacheHit(t *testing.T) {
	ctx := context.Background()
	for _, skip := range []bool{false, true} {
		iss, _ := newTestIssuer(t, func(c *Config) { c.SkipRevocationCheck = skip })
		tok := login(t, iss, "alice").AccessToken
		first, err := iss.Verify(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		again, err := iss.Verify(ctx, tok)
		if err != nil || again != first {
			t.Fatalf("skip=%v: the second Verify gave %p, %v; want the cached %p", skip, again, err, first)
		}
		if skip {
			if n := testing.AllocsPerRun(100, func() { _, _ = iss.Verify(ctx, tok) }); n != 0 {
				t.Errorf("a stateless hit allocates %v times, want 0", n)
			}
		}
	}
	off, _ := newTestIssuer(t, func(c *Config) { c.VerifyCacheSize = -1 })
	tok := login(t, off, "alice").AccessToken
	a, err1 := off.Verify(ctx, tok)
	b, err2 := off.Verify(ctx, tok)
	if err1 != nil || err2 != nil || a == b {
		t.Fatalf("VerifyCacheSize -1: %p, %p (%v, %v); want two verifications", a, b, err1, err2)
	}
}

// TestVerifyCacheChecksEveryHit: a remembered token is still checked
// against the clock and the store at every presentation.
func TestVerifyCacheChecksEveryHit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	iss, clock := newTestIssuer(t, nil)

	tok := login(t, iss, "alice").AccessToken
	if _, err := iss.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	clock.Advance(DefaultAccessTTL + 31*time.Second) // past exp and the leeway
	if _, err := iss.Verify(ctx, tok); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("a remembered token past its exp: %v, want ErrTokenExpired", err)
	}
	if iss.verified.get(tok, iss.keys.load(), new(Claims)) != nil {
		t.Error("the expired token is still remembered")
	}

	for name, revoke := range map[string]func(tok *Tokens) error{
		"LogoutAll":         func(*Tokens) error { return iss.LogoutAll(ctx, "bob") },
		"RevokeAccessToken": func(t *Tokens) error { return iss.RevokeAccessToken(ctx, t.AccessToken) },
		"Logout":            func(t *Tokens) error { return iss.Logout(ctx, t.RefreshToken) },
	} {
		toks := login(t, iss, "bob")
		if _, err := iss.Verify(ctx, toks.AccessToken); err != nil {
			t.Fatal(err)
		}
		if err := revoke(toks); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := iss.Verify(ctx, toks.AccessToken); !errors.Is(err, ErrTokenRevoked) {
				t.Fatalf("%s: a remembered token after the revocation: %v, want ErrTokenRevoked", name, err)
			}
		}
	}
}

// TestVerifyCacheKeyChanges: a rotation of the key set makes every entry
// stale (the token verifies again, under the new set), and a retired key's
// tokens are refused at once.
func TestVerifyCacheKeyChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	keys := NewKeySet(testKey(t, RS256, 0))
	iss, _ := newTestIssuer(t, func(c *Config) { c.Keys = keys })
	tok := login(t, iss, "alice").AccessToken
	first, err := iss.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	old := keys.SigningKeyID()
	if err := keys.Rotate(testKey(t, RS256, 1)); err != nil {
		t.Fatal(err)
	}
	again, err := iss.Verify(ctx, tok)
	if err != nil || again == first {
		t.Fatalf("after a rotation: %p, %v; want a fresh verification under the new key set", again, err)
	}
	if err := keys.Retire(old); err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify(ctx, tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a token of a retired key: %v, want ErrInvalidToken", err)
	}
}

// TestVerifyCacheNeverRemembersRefusals: refused tokens, stateless or
// stateful, leave nothing in the cache.
func TestVerifyCacheNeverRemembersRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	iss, _ := newTestIssuer(t, nil)
	other, _ := newTestIssuer(t, func(c *Config) { c.Audience = []string{"elsewhere"} })
	toks := login(t, iss, "alice")
	if err := iss.RevokeAccessToken(ctx, toks.AccessToken); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{toks.AccessToken, tamper(login(t, iss, "bob").AccessToken), login(t, other, "carol").AccessToken, "x.y.z"} {
		if _, err := iss.Verify(ctx, tok); err == nil {
			t.Fatal("a token that must be refused verified")
		}
	}
	if n := iss.verified.live(); n != 0 {
		t.Fatalf("the cache holds %d entries after refusals only", n)
	}
}

// TestVerifyCacheEviction: the cache stays within its size, and a token
// presented again and again survives a flood of tokens seen once (CLOCK).
func TestVerifyCacheEviction(t *testing.T) {
	t.Parallel()
	c := newVerifiedCache(verifyCacheShards * 4) // four slots per shard
	keys := new(int)
	claims := &Claims{Subject: "hot"}
	const hot = "hot-token"
	c.put(hot, keys, claims)
	for i := range 10_000 {
		c.put("flood-"+strconv.Itoa(i), keys, &Claims{})
		if c.get(hot, keys, new(Claims)) != claims {
			t.Fatalf("the hot token was evicted after %d one-time tokens", i+1)
		}
	}
	if n := c.live(); n > verifyCacheShards*4 {
		t.Fatalf("the cache holds %d entries, more than its %d slots", n, verifyCacheShards*4)
	}
	if c.get(hot, new(int), new(Claims)) != nil {
		t.Fatal("an entry answered for another key set")
	}
	c.drop(hot)
	if c.get(hot, keys, new(Claims)) != nil {
		t.Fatal("a dropped entry answered")
	}
}

// TestVerifyCacheConcurrent: verifications of shared and distinct tokens
// from many goroutines, under -race.
func TestVerifyCacheConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	iss, _ := newTestIssuer(t, func(c *Config) { c.VerifyCacheSize = 64 })
	toks := make([]string, 200)
	for i := range toks {
		toks[i] = login(t, iss, fmt.Sprint("user-", i%10)).AccessToken
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				tok := toks[(i*7+g)%len(toks)]
				if i%3 == 0 {
					tok = toks[0]
				}
				if _, err := iss.Verify(ctx, tok); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestVerifierCache: a Verifier remembers too, and a JWKS refetch that
// changes the keys drops its entries.
func TestVerifierCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newRemoteFixture(t, ES256, nil)
	tok := login(t, f.iss, "alice").AccessToken
	first, err := f.v.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := f.v.Verify(ctx, tok); err != nil || again != first {
		t.Fatalf("the second Verify: %p, %v; want the cached %p", again, err, first)
	}
	// A new key signs; the Verifier refetches on its unknown kid, which
	// replaces its key set.
	if err := f.keys.Rotate(testKey(t, ES256, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.v.Verify(ctx, login(t, f.iss, "bob").AccessToken); err != nil {
		t.Fatal(err)
	}
	again, err := f.v.Verify(ctx, tok)
	if err != nil || again == first {
		t.Fatalf("after the keys changed: %p, %v; want a fresh verification", again, err)
	}
}

// TestClaimsClone: a clone shares nothing with the original.
func TestClaimsClone(t *testing.T) {
	t.Parallel()
	c := &Claims{Audience: []string{"a"}, Extra: map[string]any{"roles": []any{"x"}, "m": map[string]any{"k": "v"}}}
	d := c.Clone()
	d.Audience[0] = "b"
	d.Extra["roles"].([]any)[0] = "y"
	d.Extra["m"].(map[string]any)["k"] = "w"
	if c.Audience[0] != "a" || c.Extra["roles"].([]any)[0] != "x" || c.Extra["m"].(map[string]any)["k"] != "v" {
		t.Fatalf("changing the clone changed the original: %+v", c)
	}
}

// TestVerifyCacheChecksItsOwnCopy: a handler that changes the claims
// Verify gave it (against Claims' documentation) changes nothing the
// next presentation is checked against.
func TestVerifyCacheChecksItsOwnCopy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	iss, clock := newTestIssuer(t, nil)
	toks := login(t, iss, "alice")
	c, err := iss.Verify(ctx, toks.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	c.ExpiresAt = c.ExpiresAt.Add(24 * time.Hour)
	c.Audience[0] = "elsewhere"
	c.Version = 99
	if _, err := iss.Verify(ctx, toks.AccessToken); err != nil {
		t.Fatalf("after a handler changed its claims, the token: %v; want it checked as issued", err)
	}
	clock.Advance(2 * time.Hour)
	if _, err := iss.Verify(ctx, toks.AccessToken); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("the token past its real exp, its claims' exp moved by a handler: %v, want ErrTokenExpired", err)
	}
}

// TestVerifyCacheBounds: tokens above MaxCachedTokenSize are not
// remembered, and a VerifyCacheSize above MaxVerifyCacheSize is refused.
func TestVerifyCacheBounds(t *testing.T) {
	t.Parallel()
	c := newVerifiedCache(64)
	keys := new(int)
	big := strings.Repeat("x", MaxCachedTokenSize+1)
	c.put(big, keys, &Claims{})
	if c.live() != 0 || c.get(big, keys, new(Claims)) != nil {
		t.Fatal("a token above MaxCachedTokenSize was remembered")
	}
	_, err := New(Config{Issuer: testIssuer, Audience: []string{testAudience}, Keys: NewKeySet(testKey(t, RS256, 0)),
		Store: memstore.New(), VerifyCacheSize: MaxVerifyCacheSize + 1})
	if !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("New with VerifyCacheSize above the maximum: %v, want ErrInvalidConfig", err)
	}
	_, err = NewVerifier(VerifierConfig{Issuer: testIssuer, Audience: []string{testAudience},
		JWKSURL: "https://auth.example.com/jwks", VerifyCacheSize: MaxVerifyCacheSize + 1})
	if !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("NewVerifier with VerifyCacheSize above the maximum: %v, want ErrInvalidConfig", err)
	}
}
