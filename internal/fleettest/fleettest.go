// Package fleettest drives a fleet of Issuers whose signing keys are
// managed in one store (sessionkit.OpenManagedKeys) through two whole
// rotations, on a clock of its own, and checks that no token is ever
// refused. Every store backend runs it from its own tests: the root package
// over memstore, store/boltstore over one opened file, store/redisstore
// over miniredis, a real server and a Cluster, in one process and in two
// (the test binary started again as a child process, see Serve and
// Remote).
//
// An Instance is one member of the fleet: a ManagedKeys, an Issuer signing
// with its key set and a Verifier trusting that key set
// (TrustedIssuer.Keys), all on the instance's clock and with MaxLeeway.
// Run opens two at once (so that both race to create the first key), then
// steps the clock by a quarter of the refresh interval from before the
// first rotation to after the second one's retirement. Each instance ticks
// once per refresh interval, B three quarters of an interval after A (as
// late as the interval allows), and every fourth interval both at once, so
// that they race for the step due. At every step both mint a token, and the
// new tokens and the oldest live token of each minter and key (which stand
// for all the live ones: only the key and the time decide) must verify at
// both. It also checks that each step happened once and on time, that
// every instance had served a key in its JWKS for JWKSMaxAge before anyone
// signed with it, and that a third instance opened at the end (a restart)
// has the same keys. Dropping any term of the promotion or retirement delay
// makes it fail.
package fleettest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/sealedstore"
)

// The fleet's configuration. The delays follow from it: promotion 6
// minutes after publication (RefreshEvery + JWKSMaxAge, no lead),
// retirement 16 minutes after a key stopped signing (AccessTTL + MaxLeeway
// + RefreshEvery).
const (
	Issuer       = "https://auth.example.com/fleet"
	accessTTL    = 10 * time.Minute
	refreshEvery = time.Minute
	rotateEvery  = 30 * time.Minute
	promoteDelay = refreshEvery + sessionkit.JWKSMaxAge
	retireDelay  = accessTTL + sessionkit.MaxLeeway + refreshEvery
)

// Instance is one member of the fleet. Its methods report failures as
// errors, so that an instance in another process can implement it.
type Instance interface {
	// At sets the instance's clock.
	At(now time.Time) error
	// Tick runs one round of the managed keys.
	Tick() error
	// Mint logs a new subject in and returns the access token.
	Mint() (string, error)
	// Verify checks tokens with the Issuer and with the Verifier, failing
	// at the first refusal.
	Verify(tokens []string) error
	// Ring describes the instance's key ring.
	Ring() (sessionkit.KeyRingInfo, error)
}

// ManagedConfig is the managed-keys configuration of every instance.
func ManagedConfig(keys store.KeyStore, kek sealedstore.Keys, now func() time.Time) sessionkit.ManagedKeysConfig {
	return sessionkit.ManagedKeysConfig{
		Store: keys, Issuer: Issuer, KEK: kek,
		Algorithm:    sessionkit.EdDSA, // fast to sign and verify; RS256 is the root package's tests'
		AccessTTL:    accessTTL,
		RotateEvery:  rotateEvery,
		PromoteLead:  -1,
		RefreshEvery: refreshEvery,
		Now:          now,
	}
}

// Local is an Instance in this process.
type Local struct {
	now  atomic.Int64 // Unix nanoseconds
	keys *sessionkit.ManagedKeys
	iss  *sessionkit.Issuer
	v    *sessionkit.Verifier
	n    atomic.Int64
}

// OpenLocal opens an instance at now over keys and sessions, with the
// key-encryption keys kek.
func OpenLocal(keys store.KeyStore, sessions store.Store, kek sealedstore.Keys, now time.Time) (*Local, error) {
	l := &Local{}
	l.now.Store(now.UnixNano())
	ctx := context.Background()
	var err error
	if l.keys, err = sessionkit.OpenManagedKeys(ctx, ManagedConfig(keys, kek, l.clock)); err != nil {
		return nil, err
	}
	l.iss, err = sessionkit.New(sessionkit.Config{
		Issuer: Issuer, Audience: []string{"api"}, Keys: l.keys.Keys(), Store: sessions,
		AccessTTL: accessTTL, Leeway: sessionkit.MaxLeeway, Now: l.clock,
	})
	if err != nil {
		return nil, err
	}
	l.v, err = sessionkit.NewVerifier(sessionkit.VerifierConfig{
		Issuers:  []sessionkit.TrustedIssuer{{Issuer: Issuer, Keys: l.keys.Keys()}},
		Audience: []string{"api"}, Leeway: sessionkit.MaxLeeway, Now: l.clock,
	})
	return l, err
}

func (l *Local) clock() time.Time { return time.Unix(0, l.now.Load()) }

// At sets the clock of the instance's keys, Issuer and Verifier.
func (l *Local) At(now time.Time) error { l.now.Store(now.UnixNano()); return nil }

// Tick runs one round of the managed keys.
func (l *Local) Tick() error { return l.keys.Tick(context.Background()) }

// Mint logs a new subject in.
func (l *Local) Mint() (string, error) {
	toks, err := l.iss.Login(context.Background(), sessionkit.Grant{Subject: fmt.Sprintf("user-%d", l.n.Add(1))})
	if err != nil {
		return "", err
	}
	return toks.AccessToken, nil
}

// Verify checks each token with the Issuer (its stateful check included)
// and with the Verifier.
func (l *Local) Verify(tokens []string) error {
	ctx := context.Background()
	for _, tok := range tokens {
		if _, err := l.iss.Verify(ctx, tok); err != nil {
			return fmt.Errorf("Issuer.Verify of a token signed by %s: %w", KeyID(tok), err)
		}
		if _, err := l.v.Verify(ctx, tok); err != nil {
			return fmt.Errorf("Verifier.Verify of a token signed by %s: %w", KeyID(tok), err)
		}
	}
	return nil
}

// Ring describes the key ring.
func (l *Local) Ring() (sessionkit.KeyRingInfo, error) { return l.keys.Ring(), nil }

// Keys returns the instance's managed keys.
func (l *Local) Keys() *sessionkit.ManagedKeys { return l.keys }

// KeyID returns the kid in a token's header, or "?".
func KeyID(token string) string {
	head, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	var h struct {
		KID string `json:"kid"`
	}
	if err != nil || json.Unmarshal(b, &h) != nil || h.KID == "" {
		return "?"
	}
	return h.KID
}

// token is one minted access token.
type token struct {
	raw    string
	by     string // the instance that minted it
	kid    string
	minted time.Time
}

// fleet is the state of one Run.
type fleet struct {
	t      *testing.T
	names  []string
	insts  []Instance
	base   time.Time
	live   []token
	served []map[string]time.Time // per instance: kid → first time in its JWKS
	signed map[string]time.Time   // kid → first token signed with it
	events map[string]time.Time   // "published kid" etc. → first time seen
	order  []string               // kids, by first signature
}

// Run drives a fleet of two instances from newInstance (called at once
// from two goroutines, then once more for the restart; each at the clock
// time given) through two rotations. Instances of one Run must share one
// store.
func Run(t *testing.T, newInstance func(t *testing.T, now time.Time) (Instance, error)) {
	t.Helper()
	f := &fleet{
		t: t, names: []string{"A", "B"},
		// The real time, moved on by hand: stores whose native expiry runs
		// on their server's clock (Redis PXAT) keep sessions as long as
		// their logical lifetime needs.
		base:   time.Now().Truncate(time.Second),
		signed: map[string]time.Time{},
		events: map[string]time.Time{},
	}
	f.insts = make([]Instance, 2)
	var errs [2]error
	var wg sync.WaitGroup
	for i := range f.insts {
		wg.Go(func() { f.insts[i], errs[i] = newInstance(t, f.base) })
	}
	wg.Wait()
	f.check(errors.Join(errs[:]...), "opening two instances at once")
	errs = [2]error{}
	f.served = []map[string]time.Time{{}, {}}
	ra, rb := f.ring(0), f.ring(1)
	if ra.Version != 1 || rb.Version != 1 || len(ra.Keys) != 1 || len(rb.Keys) != 1 || ra.Keys[0].KeyID != rb.Keys[0].KeyID {
		t.Fatalf("two instances opening at once: A has version %d with %d keys, B version %d with %d keys; want both the one key of version 1", ra.Version, len(ra.Keys), rb.Version, len(rb.Keys))
	}

	// Each instance ticks once per refresh interval: A on the minute, B
	// three quarters of an interval later, so that B takes up what A did
	// as late as a refresh interval allows; every fourth minute B ticks
	// on the minute too, racing A for whatever step is due (the publication
	// of the first rotation and the promotion and retirement of the second
	// fall on such minutes).
	step := refreshEvery / 4
	end := 2*rotateEvery + retireDelay + 4*refreshEvery
	for i := 0; time.Duration(i)*step <= end; i++ {
		now := f.base.Add(time.Duration(i) * step)
		for n, inst := range f.insts {
			f.check(inst.At(now), "%s: At", f.names[n])
		}
		switch {
		case i%16 == 0:
			var wg sync.WaitGroup
			for n, inst := range f.insts {
				wg.Go(func() { errs[n] = inst.Tick() })
			}
			wg.Wait()
			f.check(errors.Join(errs[:]...), "Tick of both at %v", now.Sub(f.base))
		case i%4 == 0:
			f.check(f.insts[0].Tick(), "A: Tick at %v", now.Sub(f.base))
		case i%4 == 3:
			f.check(f.insts[1].Tick(), "B: Tick at %v", now.Sub(f.base))
		}
		f.observe(now)
		f.mintAndVerify(now)
	}
	f.checkTimeline()
	f.restart(newInstance)
}

// check fails the test on err.
func (f *fleet) check(err error, format string, args ...any) {
	f.t.Helper()
	if err != nil {
		f.t.Fatalf(format+": %v", append(args, err)...)
	}
}

func (f *fleet) ring(n int) sessionkit.KeyRingInfo {
	f.t.Helper()
	r, err := f.insts[n].Ring()
	f.check(err, "%s: Ring", f.names[n])
	return r
}

// observe records what each instance's ring shows at now.
func (f *fleet) observe(now time.Time) {
	f.t.Helper()
	for n := range f.insts {
		r := f.ring(n)
		seen := map[string]bool{}
		for _, k := range r.Keys {
			seen[k.KeyID] = true
			if _, ok := f.served[n][k.KeyID]; !ok {
				f.served[n][k.KeyID] = now
			}
			f.event(string(k.State)+" "+k.KeyID, now)
		}
		for kid := range f.served[n] {
			if !seen[kid] {
				f.event("retired "+kid, now)
			}
		}
	}
}

func (f *fleet) event(name string, now time.Time) {
	if _, ok := f.events[name]; !ok {
		f.events[name] = now
	}
}

// mintAndVerify mints a token at each instance, then verifies every live
// token at each.
func (f *fleet) mintAndVerify(now time.Time) {
	f.t.Helper()
	for n, inst := range f.insts {
		raw, err := inst.Mint()
		f.check(err, "%s: Mint at %v", f.names[n], now.Sub(f.base))
		kid := KeyID(raw)
		if _, ok := f.signed[kid]; !ok {
			f.signed[kid] = now
			f.order = append(f.order, kid)
			// Every instance served the key for JWKSMaxAge before this first
			// token: a verifier that cached any instance's JWKS before the
			// key was in it has fetched it again since.
			for m := range f.insts {
				if first, ok := f.served[m][kid]; len(f.order) > 1 && (!ok || now.Sub(first) < sessionkit.JWKSMaxAge) {
					f.t.Errorf("%s signs with %s at %v; %s served it only from %v (want at least JWKSMaxAge before)", f.names[n], kid, now.Sub(f.base), f.names[m], first.Sub(f.base))
				}
			}
		}
		f.live = append(f.live, token{raw: raw, by: f.names[n], kid: kid, minted: now})
	}
	// A token verifies while now is before its exp plus the leeway (the
	// instances use MaxLeeway, the bound retirement waits for); only the
	// key and that time decide whether a signature and the claims pass.
	// So the newest tokens and the oldest live one of each minter and key
	// stand for all of them.
	kept := f.live[:0]
	for _, tok := range f.live {
		if now.Before(tok.minted.Add(accessTTL + sessionkit.MaxLeeway)) {
			kept = append(kept, tok)
		}
	}
	f.live = kept
	var raws []string
	oldest := map[[2]string]bool{}
	for i, tok := range f.live {
		if k := [2]string{tok.by, tok.kid}; !oldest[k] || i >= len(f.live)-len(f.insts) {
			oldest[k] = true
			raws = append(raws, tok.raw)
		}
	}
	for n, inst := range f.insts {
		if err := inst.Verify(raws); err != nil {
			f.t.Fatalf("at %v, %s refuses a live token: %v", now.Sub(f.base), f.names[n], err)
		}
	}
}

// checkTimeline checks that each step happened once, at most one refresh
// interval after it was due.
func (f *fleet) checkTimeline() {
	f.t.Helper()
	if len(f.order) != 3 {
		f.t.Fatalf("the fleet signed with %d keys over two rotations (%v), want 3", len(f.order), f.order)
	}
	k1, k2, k3 := f.order[0], f.order[1], f.order[2]
	for _, e := range []struct {
		name string
		due  time.Duration
	}{
		{"next " + k2, rotateEvery - promoteDelay},
		{"current " + k2, rotateEvery},
		{"retired " + k1, rotateEvery + retireDelay},
		{"next " + k3, 2*rotateEvery - promoteDelay},
		{"current " + k3, 2 * rotateEvery},
		{"retired " + k2, 2*rotateEvery + retireDelay},
	} {
		at, ok := f.events[e.name]
		if !ok {
			f.t.Errorf("%s never happened", e.name)
			continue
		}
		if d := at.Sub(f.base); d < e.due || d > e.due+refreshEvery {
			f.t.Errorf("%s at %v, due at %v: want it within one refresh interval", e.name, d, e.due)
		}
	}
	// Create, then publish, promote and retire twice: every step once.
	for n := range f.insts {
		if r := f.ring(n); r.Version != 7 || len(r.Keys) != 1 || r.Keys[0].KeyID != k3 {
			f.t.Errorf("%s's ring at the end: version %d, %d keys; want version 7 (each step once) holding %s alone", f.names[n], r.Version, len(r.Keys), k3)
		}
	}
}

// restart opens a third instance over the same store, as a restarted
// process does: it has the keys, verifies the live tokens, and the others
// verify its own.
func (f *fleet) restart(newInstance func(t *testing.T, now time.Time) (Instance, error)) {
	f.t.Helper()
	now := f.base.Add(2*rotateEvery + retireDelay + 4*refreshEvery)
	c, err := newInstance(f.t, now)
	f.check(err, "restarting")
	r, err := c.Ring()
	f.check(err, "restarted: Ring")
	if want := f.ring(0); r.Version != want.Version || len(r.Keys) != len(want.Keys) || r.Keys[0].KeyID != want.Keys[0].KeyID {
		f.t.Fatalf("restarted instance: ring version %d, %d keys; want version %d holding %s", r.Version, len(r.Keys), want.Version, want.Keys[0].KeyID)
	}
	raws := make([]string, len(f.live))
	for i, tok := range f.live {
		raws[i] = tok.raw
	}
	f.check(c.Verify(raws), "the restarted instance verifies the live tokens")
	tok, err := c.Mint()
	f.check(err, "restarted: Mint")
	for n, inst := range f.insts {
		f.check(inst.Verify([]string{tok}), "%s verifies the restarted instance's token", f.names[n])
	}
}

// NewKEK returns a fresh key-encryption key ring of one key, for a fleet's
// instances to share.
func NewKEK(t testing.TB) sealedstore.Keys {
	t.Helper()
	k, err := sealedstore.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return sealedstore.Keys{Current: k}
}
