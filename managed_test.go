package sessionkit

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/scope"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/sealedstore"
)

// The delays of a default managed configuration.
const (
	defaultPromoteDelay = DefaultRefreshEvery + JWKSMaxAge + DefaultPromoteLead
	defaultRetireDelay  = DefaultAccessTTL + MaxLeeway + DefaultRefreshEvery
)

// testKEK returns a key-encryption key ring of one current key.
func testKEK(t testing.TB) sealedstore.Keys {
	t.Helper()
	k, err := sealedstore.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return sealedstore.Keys{Current: k}
}

// managedConfig is a default configuration over st on clock (EdDSA keys:
// cheap to make).
func managedConfig(st store.KeyStore, kek sealedstore.Keys, clock *testClock) ManagedKeysConfig {
	return ManagedKeysConfig{Store: st, Issuer: testIssuer, KEK: kek, Algorithm: EdDSA, Now: clock.Now}
}

// openManaged opens managed keys over cfg, failing the test on an error.
func openManaged(t testing.TB, cfg ManagedKeysConfig) *ManagedKeys {
	t.Helper()
	m, err := OpenManagedKeys(context.Background(), cfg)
	if err != nil {
		t.Fatalf("OpenManagedKeys: %v", err)
	}
	return m
}

// states lists a ring's keys as "state:kid" in its order.
func states(r KeyRingInfo) []string {
	var s []string
	for _, k := range r.Keys {
		s = append(s, string(k.State)+":"+k.KeyID)
	}
	return s
}

func TestManagedKeysConfig(t *testing.T) {
	t.Parallel()
	st, kek := memstore.New(), testKEK(t)
	clock := newTestClock()
	tests := []struct {
		name string
		mod  func(*ManagedKeysConfig)
		want string // "" for success
	}{
		{"defaults", func(*ManagedKeysConfig) {}, ""},
		{"no store", func(c *ManagedKeysConfig) { c.Store = nil }, "Store is required"},
		{"no issuer", func(c *ManagedKeysConfig) { c.Issuer = "" }, "Issuer is required"},
		{"issuer with a control character", func(c *ManagedKeysConfig) { c.Issuer = "https://a\x1fb" }, "control characters"},
		{"no KEK", func(c *ManagedKeysConfig) { c.KEK = sealedstore.Keys{} }, "KEK: sealedstore: key id"},
		{"short KEK", func(c *ManagedKeysConfig) { c.KEK.Current.Secret = c.KEK.Current.Secret[:16] }, "32 bytes"},
		{"HS256", func(c *ManagedKeysConfig) { c.Algorithm = HS256 }, "RS256, ES256 or EdDSA"},
		{"ES384", func(c *ManagedKeysConfig) { c.Algorithm = ES384 }, "RS256, ES256 or EdDSA"},
		{"sub-second AccessTTL", func(c *ManagedKeysConfig) { c.AccessTTL = time.Millisecond }, "AccessTTL"},
		{"negative RefreshEvery", func(c *ManagedKeysConfig) { c.RefreshEvery = -1 }, "RefreshEvery"},
		{"RefreshEvery over JWKSMaxAge", func(c *ManagedKeysConfig) { c.RefreshEvery = JWKSMaxAge + time.Second }, "at most JWKSMaxAge"},
		{"RefreshEvery of JWKSMaxAge", func(c *ManagedKeysConfig) { c.RefreshEvery = JWKSMaxAge }, ""},
		{"RotateEvery under both delays", func(c *ManagedKeysConfig) { c.RotateEvery = defaultPromoteDelay + defaultRetireDelay - time.Second },
			"shorter than the promotion delay (21m0s) plus the retirement delay (21m0s)"},
		{"RotateEvery of both delays", func(c *ManagedKeysConfig) { c.RotateEvery = defaultPromoteDelay + defaultRetireDelay }, ""},
		{"no scheduled rotation", func(c *ManagedKeysConfig) { c.RotateEvery = -1 }, ""},
		{"a long AccessTTL needs a long RotateEvery", func(c *ManagedKeysConfig) { c.AccessTTL, c.RotateEvery = 24*time.Hour, 24*time.Hour }, "shorter than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := managedConfig(st, kek, clock)
			cfg.KEK.Current.Secret = bytes.Clone(kek.Current.Secret)
			tt.mod(&cfg)
			m, err := OpenManagedKeys(context.Background(), cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("OpenManagedKeys: %v", err)
				}
				if m.Keys().SigningKeyID() == "" {
					t.Fatal("no signing key")
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("OpenManagedKeys: got %v, want ErrInvalidConfig mentioning %q", err, tt.want)
			}
			if strings.Contains(err.Error(), base64.RawURLEncoding.EncodeToString(kek.Current.Secret)) {
				t.Fatal("the error shows the KEK's secret")
			}
		})
	}
}

func TestManagedKeysDefaults(t *testing.T) {
	t.Parallel()
	m := openManaged(t, managedConfig(memstore.New(), testKEK(t), newTestClock()))
	if m.promoteDelay != defaultPromoteDelay || m.retireDelay != defaultRetireDelay || m.rotateEvery != DefaultRotateEvery || m.refreshEvery != DefaultRefreshEvery {
		t.Fatalf("delays: promote %v, retire %v, rotate %v, refresh %v", m.promoteDelay, m.retireDelay, m.rotateEvery, m.refreshEvery)
	}
	r := m.Ring()
	if r.Version != 1 || len(r.Keys) != 1 || r.Keys[0].State != KeyCurrent || r.Keys[0].Algorithm != EdDSA {
		t.Fatalf("a first start's ring: %+v", r)
	}
	k := r.Keys[0]
	if !k.PublishedAt.Equal(testEpoch) || !k.PromotedAt.Equal(testEpoch) || !k.PromoteAt.IsZero() || !k.RetireAt.IsZero() {
		t.Fatalf("the first key's times: %+v", k)
	}
	if want := testEpoch.Add(DefaultRotateEvery - defaultPromoteDelay); !r.RotateAt.Equal(want) {
		t.Fatalf("RotateAt = %v, want %v", r.RotateAt, want)
	}
	if r.KEKID != m.keks.current {
		t.Fatalf("KEKID = %q", r.KEKID)
	}
}

// TestManagedKeysFirstStart: instances starting at once end with one key.
func TestManagedKeysFirstStart(t *testing.T) {
	t.Parallel()
	st, kek, clock := memstore.New(), testKEK(t), newTestClock()
	const n = 8
	ms := make([]*ManagedKeys, n)
	var wg sync.WaitGroup
	for i := range ms {
		wg.Go(func() { ms[i] = openManaged(t, managedConfig(st, kek, clock)) })
	}
	wg.Wait()
	for i, m := range ms {
		if r := m.Ring(); r.Version != 1 || m.Keys().SigningKeyID() != ms[0].Keys().SigningKeyID() {
			t.Fatalf("instance %d: version %d signing %s; instance 0 signs %s", i, r.Version, m.Keys().SigningKeyID(), ms[0].Keys().SigningKeyID())
		}
	}
}

// TestManagedKeysSchedule walks one rotation on one instance, tick by tick
// around each due time, and checks the KeySet and the ring at each.
func TestManagedKeysSchedule(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	cfg := managedConfig(memstore.New(), testKEK(t), clock)
	cfg.RotateEvery = 2 * time.Hour
	m := openManaged(t, cfg)
	ks := m.Keys()
	k1 := ks.SigningKeyID()
	tick := func(at time.Duration) KeyRingInfo {
		t.Helper()
		clock.mu.Lock()
		clock.t = testEpoch.Add(at)
		clock.mu.Unlock()
		if err := m.Tick(context.Background()); err != nil {
			t.Fatalf("Tick at %v: %v", at, err)
		}
		return m.Ring()
	}
	publish := 2*time.Hour - defaultPromoteDelay
	if r := tick(publish - time.Second); r.Version != 1 {
		t.Fatalf("a second before the publication: version %d", r.Version)
	}
	r := tick(publish)
	if r.Version != 2 || len(r.Keys) != 2 || r.Keys[1].State != KeyNext || !r.RotateAt.IsZero() {
		t.Fatalf("at the publication: %v, version %d, RotateAt %v", states(r), r.Version, r.RotateAt)
	}
	k2 := r.Keys[1].KeyID
	if want := testEpoch.Add(2 * time.Hour); !r.Keys[1].PromoteAt.Equal(want) {
		t.Fatalf("PromoteAt = %v, want %v", r.Keys[1].PromoteAt, want)
	}
	if ks.SigningKeyID() != k1 || len(ks.KeyIDs()) != 2 {
		t.Fatalf("after the publication the KeySet signs with %s and publishes %v", ks.SigningKeyID(), ks.KeyIDs())
	}
	if r := tick(2*time.Hour - time.Second); r.Version != 2 || ks.SigningKeyID() != k1 {
		t.Fatalf("a second before the promotion: version %d, signing %s", r.Version, ks.SigningKeyID())
	}
	r = tick(2 * time.Hour)
	if r.Version != 3 || ks.SigningKeyID() != k2 || fmt.Sprint(states(r)) != fmt.Sprint([]string{"previous:" + k1, "current:" + k2}) {
		t.Fatalf("at the promotion: version %d, signing %s, ring %v", r.Version, ks.SigningKeyID(), states(r))
	}
	if want := testEpoch.Add(2*time.Hour + defaultRetireDelay); !r.Keys[0].RetireAt.Equal(want) || !r.Keys[0].StoppedAt.Equal(testEpoch.Add(2*time.Hour)) {
		t.Fatalf("the previous key: %+v; want RetireAt %v", r.Keys[0], want)
	}
	if r := tick(2*time.Hour + defaultRetireDelay - time.Second); r.Version != 3 || len(ks.KeyIDs()) != 2 {
		t.Fatalf("a second before the retirement: version %d, keys %v", r.Version, ks.KeyIDs())
	}
	r = tick(2*time.Hour + defaultRetireDelay)
	if r.Version != 4 || len(r.Keys) != 1 || fmt.Sprint(ks.KeyIDs()) != fmt.Sprint([]string{k2}) {
		t.Fatalf("at the retirement: version %d, ring %v, KeySet %v", r.Version, states(r), ks.KeyIDs())
	}
	// Ticks with nothing due change nothing.
	if r := tick(2*time.Hour + defaultRetireDelay + time.Minute); r.Version != 4 {
		t.Fatalf("an idle tick: version %d", r.Version)
	}
	// Long asleep: the steps due come together, in one swap, in order.
	r = tick(10 * time.Hour)
	if r.Version != 5 || len(r.Keys) != 2 || r.Keys[1].State != KeyNext {
		t.Fatalf("after a long sleep: version %d, ring %v", r.Version, states(r))
	}
}

// TestManagedKeysStoredTimesWin: an instance waits for the later of the
// times the ring holds and its own delays, so one whose configuration
// gives shorter delays (a CLI with defaults) still waits for the fleet's.
func TestManagedKeysStoredTimesWin(t *testing.T) {
	t.Parallel()
	st, kek, clock := memstore.New(), testKEK(t), newTestClock()
	long := managedConfig(st, kek, clock)
	long.AccessTTL, long.PromoteLead = 2*time.Hour, time.Hour
	ctx := context.Background()
	a := openManaged(t, long)
	if _, err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	b := openManaged(t, managedConfig(st, kek, clock))
	next := b.Ring().Keys[1]
	if want := testEpoch.Add(a.promoteDelay); !next.PromoteAt.Equal(want) {
		t.Fatalf("B reports PromoteAt %v, want the ring's %v", next.PromoteAt, want)
	}
	clock.Advance(b.promoteDelay)
	if err := b.Tick(ctx); err != nil || b.Ring().Version != 2 {
		t.Fatalf("B promoted before the ring's time: %v, version %d", err, b.Ring().Version)
	}
	clock.Advance(a.promoteDelay - b.promoteDelay)
	if err := a.Tick(ctx); err != nil || a.Ring().Version != 3 {
		t.Fatalf("A did not promote at its time: %v, version %d", err, a.Ring().Version)
	}
	prev := a.Ring().Keys[0]
	clock.Advance(b.retireDelay)
	if err := b.Retire(ctx, prev.KeyID); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("B retires a key once its own retirement delay ran out, before the ring's RetireAt: %v", err)
	}
	clock.Advance(a.retireDelay - b.retireDelay)
	if err := b.Retire(ctx, prev.KeyID); err != nil {
		t.Fatalf("Retire at the ring's RetireAt: %v", err)
	}
}

func TestManagedKeysManual(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	setup := func(t *testing.T) (*ManagedKeys, *testClock) {
		clock := newTestClock()
		cfg := managedConfig(memstore.New(), testKEK(t), clock)
		cfg.RotateEvery = -1
		return openManaged(t, cfg), clock
	}
	t.Run("Rotate", func(t *testing.T) {
		t.Parallel()
		m, clock := setup(t)
		k1 := m.Keys().SigningKeyID()
		next, err := m.Rotate(ctx)
		if err != nil || next.State != KeyNext || !next.PromoteAt.Equal(testEpoch.Add(defaultPromoteDelay)) {
			t.Fatalf("Rotate: %+v, %v", next, err)
		}
		again, err := m.Rotate(ctx)
		if err != nil || again.KeyID != next.KeyID || m.Ring().Version != 2 {
			t.Fatalf("Rotate with a rotation under way: %+v, %v, version %d; want the same key, no change", again, err, m.Ring().Version)
		}
		if m.Keys().SigningKeyID() != k1 {
			t.Fatal("Rotate promoted at once")
		}
		clock.Advance(defaultPromoteDelay)
		if err := m.Tick(ctx); err != nil || m.Keys().SigningKeyID() != next.KeyID {
			t.Fatalf("the schedule did not promote the rotated key: %v", err)
		}
		if r := m.Ring(); !r.RotateAt.IsZero() {
			t.Fatalf("RotateAt %v without a schedule", r.RotateAt)
		}
	})
	t.Run("RetireNext", func(t *testing.T) {
		t.Parallel()
		m, _ := setup(t)
		next, _ := m.Rotate(ctx)
		if err := m.Retire(ctx, next.KeyID); err != nil {
			t.Fatalf("Retire of the next key (a rotation called off): %v", err)
		}
		if r := m.Ring(); len(r.Keys) != 1 || len(m.Keys().KeyIDs()) != 1 {
			t.Fatalf("after retiring the next key: %v", states(r))
		}
	})
	t.Run("RetireRules", func(t *testing.T) {
		t.Parallel()
		m, clock := setup(t)
		k1 := m.Keys().SigningKeyID()
		for _, kid := range []string{k1, "no-such-kid"} {
			if err := m.Retire(ctx, kid); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("Retire(%s): %v, want ErrInvalidConfig", kid, err)
			}
		}
		m.Rotate(ctx)
		clock.Advance(defaultPromoteDelay)
		m.Tick(ctx)
		clock.Advance(defaultRetireDelay - time.Second)
		err := m.Retire(ctx, k1)
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "UnsafeRetire") {
			t.Fatalf("Retire of a previous key with live tokens: %v", err)
		}
		clock.Advance(time.Second)
		if err := m.Retire(ctx, k1); err != nil {
			t.Fatalf("Retire at RetireAt: %v", err)
		}
		if err := m.Retire(ctx, k1); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("Retire of a retired key: %v", err)
		}
	})
	t.Run("UnsafeRetirePrevious", func(t *testing.T) {
		t.Parallel()
		m, clock := setup(t)
		iss := managedIssuer(t, m, clock)
		old := login(t, iss, "alice")
		k1 := m.Keys().SigningKeyID()
		m.Rotate(ctx)
		clock.Advance(defaultPromoteDelay)
		m.Tick(ctx)
		if err := m.UnsafeRetire(ctx, k1); err != nil {
			t.Fatalf("UnsafeRetire of a previous key: %v", err)
		}
		if _, err := iss.Verify(ctx, old.AccessToken); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("a token of the retired key: %v, want ErrInvalidToken", err)
		}
	})
	t.Run("UnsafeRetireCurrent", func(t *testing.T) {
		t.Parallel()
		m, _ := setup(t)
		k1 := m.Keys().SigningKeyID()
		next, _ := m.Rotate(ctx)
		if err := m.UnsafeRetire(ctx, k1); err != nil {
			t.Fatalf("UnsafeRetire of the current key: %v", err)
		}
		r := m.Ring()
		if len(r.Keys) != 1 || r.Keys[0].KeyID != next.KeyID || r.Keys[0].State != KeyCurrent || m.Keys().SigningKeyID() != next.KeyID {
			t.Fatalf("after UnsafeRetire of the current key with a next key: %v", states(r))
		}
		// Without a next key, a new one takes over.
		if err := m.UnsafeRetire(ctx, next.KeyID); err != nil {
			t.Fatalf("UnsafeRetire of the only key: %v", err)
		}
		if r := m.Ring(); len(r.Keys) != 1 || r.Keys[0].KeyID == next.KeyID || r.Keys[0].State != KeyCurrent {
			t.Fatalf("after UnsafeRetire of the only key: %v", states(r))
		}
	})
	t.Run("RingFull", func(t *testing.T) {
		t.Parallel()
		clock := newTestClock()
		cfg := managedConfig(memstore.New(), testKEK(t), clock)
		cfg.RotateEvery, cfg.AccessTTL = -1, 24*time.Hour // previous keys stay a day
		m := openManaged(t, cfg)
		for range maxManagedKeys - 1 {
			if _, err := m.Rotate(ctx); err != nil {
				t.Fatal(err)
			}
			clock.Advance(defaultPromoteDelay)
			m.Tick(ctx)
		}
		if _, err := m.Rotate(ctx); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "retire a previous key") {
			t.Fatalf("Rotate with a full ring: %v", err)
		}
	})
}

// managedIssuer is an Issuer signing with m's keys.
func managedIssuer(t testing.TB, m *ManagedKeys, clock *testClock) *Issuer {
	t.Helper()
	iss, err := New(Config{Issuer: testIssuer, Audience: []string{testAudience}, Keys: m.Keys(), Store: memstore.New(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

func TestManagedKeySetRefusesChanges(t *testing.T) {
	t.Parallel()
	m := openManaged(t, managedConfig(memstore.New(), testKEK(t), newTestClock()))
	ks, other := m.Keys(), testKey(t, EdDSA, 1)
	for name, call := range map[string]func() error{
		"Publish": func() error { return ks.Publish(other) },
		"Promote": func() error { return ks.Promote(ks.SigningKeyID()) },
		"Rotate":  func() error { return ks.Rotate(other) },
		"Retire":  func() error { return ks.Retire(ks.SigningKeyID()) },
	} {
		if err := call(); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "managed") {
			t.Errorf("%s on a managed KeySet: %v, want ErrInvalidConfig saying it is managed", name, err)
		}
	}
}

func TestNewChecksManagedKeys(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	cfg := managedConfig(memstore.New(), testKEK(t), clock)
	cfg.AccessTTL = time.Hour
	m := openManaged(t, cfg)
	for _, tt := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"same AccessTTL", func(c *Config) { c.AccessTTL = time.Hour }, ""},
		{"shorter AccessTTL", func(c *Config) { c.AccessTTL = time.Minute }, ""},
		{"longer AccessTTL", func(c *Config) { c.AccessTTL = time.Hour + time.Second }, "exceeds the managed keys' AccessTTL"},
		{"AccessTTL rounding up past it", func(c *Config) { c.AccessTTL = time.Hour + time.Millisecond }, "exceeds the managed keys' AccessTTL"},
		{"another issuer", func(c *Config) { c.Issuer = "https://other.example.com" }, "managed for issuer"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Config{Issuer: testIssuer, Audience: []string{testAudience}, Keys: m.Keys(), Store: memstore.New(), Now: clock.Now}
			tt.mod(&c)
			_, err := New(c)
			if tt.want == "" && err != nil || tt.want != "" && (!errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("New: %v, want %q", err, tt.want)
			}
		})
	}
}

// TestManagedKeysSealed: a dump of the store yields no usable private key.
// The stored ring is parsed and searched for every private key of the ring,
// of each algorithm, in every encoding a key could leak in.
func TestManagedKeysSealed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, clock := memstore.New(), newTestClock()
	cfg := managedConfig(st, testKEK(t), clock)
	cfg.Algorithm, cfg.RotateEvery = RS256, -1
	m := openManaged(t, cfg)
	// previous RS256, current ES256, next EdDSA
	cfg.Algorithm = ES256
	m2 := openManaged(t, cfg)
	m2.Rotate(ctx)
	clock.Advance(defaultPromoteDelay)
	m2.Tick(ctx)
	cfg.Algorithm = EdDSA
	m3 := openManaged(t, cfg)
	m3.Rotate(ctx)
	if err := m.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	r := m.installed()
	if len(r.keys) != 3 {
		t.Fatalf("ring: %v", states(m.Ring()))
	}

	blob, _, err := st.LoadKeys(ctx, scope.KeyRing(testIssuer))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Format string `json:"format"`
		Ring   struct {
			Issuer string `json:"issuer"`
			Keys   []struct {
				KID   string   `json:"kid"`
				Alg   string   `json:"alg"`
				State KeyState `json:"state"`
			} `json:"keys"`
		} `json:"ring"`
		KEK string `json:"kek"`
	}
	if err := json.Unmarshal(blob, &doc); err != nil {
		t.Fatalf("the stored ring is not JSON: %v", err)
	}
	if doc.Format != ringFormat || doc.Ring.Issuer != testIssuer || len(doc.Ring.Keys) != 3 || doc.KEK != cfg.KEK.Current.ID {
		t.Fatalf("the stored ring's clear part: %+v", doc)
	}
	for _, want := range []string{"PRIVATE KEY", `"d"`, `"p"`, `"q"`} {
		if bytes.Contains(blob, []byte(want)) {
			t.Errorf("the stored ring contains %q", want)
		}
	}
	for _, k := range r.keys {
		for name, secret := range privateEncodings(t, k.key) {
			for enc, b := range map[string][]byte{
				"raw":       secret,
				"base64":    []byte(base64.StdEncoding.EncodeToString(secret)),
				"base64url": []byte(base64.RawURLEncoding.EncodeToString(secret)),
				"hex":       []byte(hex.EncodeToString(secret)),
			} {
				// A 16-byte window of each: any longer run of the key would
				// contain one.
				probe := b[len(b)/2 : len(b)/2+16]
				if bytes.Contains(blob, probe) {
					t.Errorf("the stored ring contains the %s key's %s, %s-encoded", k.Alg, name, enc)
				}
			}
		}
	}
}

// privateEncodings returns the private material of k in the forms a key is
// kept in: PKCS #8 DER, and the key's own secret numbers or seed.
func privateEncodings(t *testing.T, k *SigningKey) map[string][]byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{"PKCS #8 DER": der}
	switch p := k.priv.(type) {
	case *rsa.PrivateKey:
		out["PKCS #1 DER"] = x509.MarshalPKCS1PrivateKey(p)
		out["private exponent"] = p.D.Bytes()
		out["prime p"] = p.Primes[0].Bytes()
	case *ecdsa.PrivateKey:
		d, err := p.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		out["scalar"] = d
		if out["SEC 1 DER"], err = x509.MarshalECPrivateKey(p); err != nil {
			t.Fatal(err)
		}
	case ed25519.PrivateKey:
		out["seed"] = p.Seed()
	}
	return out
}

// TestManagedKeysKEKRotation: a wrong KEK is a clear error at open; a
// rotated KEK (new current, old previous) opens the ring and the next
// change seals it under the new one, which then opens it alone.
func TestManagedKeysKEKRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, clock := memstore.New(), newTestClock()
	old, fresh := testKEK(t).Current, testKEK(t).Current
	cfg := managedConfig(st, sealedstore.Keys{Current: old}, clock)
	openManaged(t, cfg)

	for _, tt := range []struct {
		name string
		kek  sealedstore.Keys
		want string
	}{
		{"unknown KEK id", sealedstore.Keys{Current: fresh}, "sealed under KEK"},
		{"wrong secret for the id", sealedstore.Keys{Current: sealedstore.Key{ID: old.ID, Secret: fresh.Secret}}, "does not open under KEK"},
	} {
		c := cfg
		c.KEK = tt.kek
		_, err := OpenManagedKeys(ctx, c)
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: OpenManagedKeys: %v, want ErrInvalidConfig mentioning %q", tt.name, err, tt.want)
		}
	}

	rotated := cfg
	rotated.KEK = sealedstore.Keys{Current: fresh, Previous: []sealedstore.Key{old}}
	m := openManaged(t, rotated)
	if got := m.Ring().KEKID; got != old.ID {
		t.Fatalf("before any change the ring is sealed under %q, want the old KEK %q", got, old.ID)
	}
	if _, err := m.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if got := m.Ring().KEKID; got != fresh.ID {
		t.Fatalf("after a change the ring is sealed under %q, want the new KEK %q", got, fresh.ID)
	}
	alone := cfg
	alone.KEK = sealedstore.Keys{Current: fresh}
	if m := openManaged(t, alone); len(m.Ring().Keys) != 2 {
		t.Fatalf("the new KEK alone opens a ring of %d keys", len(m.Ring().Keys))
	}
	if _, err := OpenManagedKeys(ctx, cfg); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("the old KEK alone after the reseal: %v, want ErrInvalidConfig", err)
	}
}

// TestManagedKeysTampered: someone who can write to the store but lacks the
// KEK can change nothing the ring says: a changed clear part or an older
// ring put back fails to open, a ring that does not parse leaves no keys,
// and the keys in use stay.
func TestManagedKeysTampered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		tamper func(blob, first []byte) []byte // first: the ring of version 1
		want   error
	}{
		{"a state changed", func(blob, _ []byte) []byte {
			return bytes.Replace(blob, []byte(`"state":"next"`), []byte(`"state":"previous"`), 1)
		}, ErrInvalidConfig},
		{"a time changed", func(blob, _ []byte) []byte {
			return bytes.Replace(blob, []byte(`"promote_at":"2026`), []byte(`"promote_at":"2020`), 1)
		}, ErrInvalidConfig},
		{"an older ring put back", func(_, first []byte) []byte { return first }, ErrInvalidConfig},
		{"not JSON", func([]byte, []byte) []byte { return []byte("{") }, ErrKeysUnavailable},
		{"another format", func(blob, _ []byte) []byte {
			return bytes.Replace(blob, []byte(ringFormat), []byte("sessionkit/key-ring/v9"), 1)
		}, ErrKeysUnavailable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := memstore.New()
			m := openManaged(t, managedConfig(st, testKEK(t), newTestClock()))
			name := scope.KeyRing(testIssuer)
			first, _, _ := st.LoadKeys(ctx, name)
			if _, err := m.Rotate(ctx); err != nil {
				t.Fatal(err)
			}
			blob, v, _ := st.LoadKeys(ctx, name)
			bad := tt.tamper(blob, first)
			if bytes.Equal(bad, blob) {
				t.Fatal("the tampering changed nothing")
			}
			if ok, err := st.SwapKeys(ctx, name, v, bad); !ok || err != nil {
				t.Fatalf("writing the tampered ring: %v", err)
			}
			signing, keys := m.Keys().SigningKeyID(), m.Keys().KeyIDs()
			if err := m.Tick(ctx); !errors.Is(err, tt.want) {
				t.Fatalf("Tick over a tampered ring: %v, want %v", err, tt.want)
			}
			if m.Keys().SigningKeyID() != signing || fmt.Sprint(m.Keys().KeyIDs()) != fmt.Sprint(keys) {
				t.Fatal("a tampered ring changed the keys in use")
			}
		})
	}
}

// TestDecodeRingForeign: another issuer's ring, even stored under this
// issuer's name at the version it was sealed for, is refused.
func TestDecodeRingForeign(t *testing.T) {
	t.Parallel()
	st, kek, clock := memstore.New(), testKEK(t), newTestClock()
	cfg := managedConfig(st, kek, clock)
	cfg.Issuer = "https://other.example.com"
	m := openManaged(t, cfg)
	blob, v, _ := st.LoadKeys(context.Background(), scope.KeyRing(cfg.Issuer))
	if _, err := decodeRing(testIssuer, v, blob, m.keks, nil); !errors.Is(err, errRingForeign) {
		t.Fatalf("decodeRing of another issuer's ring: %v, want errRingForeign", err)
	}
}

// TestManagedKeysStoreGoneBack: a ring older than the one in use (a store
// restored from a backup, a ring deleted) is reported at every round, and
// the keys in use stay.
func TestManagedKeysStoreGoneBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := openManaged(t, managedConfig(memstore.New(), testKEK(t), newTestClock()))
	m.store = memstore.New() // the same store, emptied
	signing := m.Keys().SigningKeyID()
	if err := m.Tick(ctx); !errors.Is(err, ErrKeysUnavailable) || !strings.Contains(err.Error(), "older than version 1") {
		t.Fatalf("Tick over an emptied store: %v", err)
	}
	if m.Keys().SigningKeyID() != signing {
		t.Fatal("the keys in use changed")
	}
}

// keyStoreFunc wraps a KeyStore: before runs ahead of every call and may
// fail it.
type keyStoreFunc struct {
	store.KeyStore
	before func(op string) error
}

func (s keyStoreFunc) LoadKeys(ctx context.Context, name string) ([]byte, uint64, error) {
	if err := s.before("load"); err != nil {
		return nil, 0, err
	}
	return s.KeyStore.LoadKeys(ctx, name)
}

func (s keyStoreFunc) SwapKeys(ctx context.Context, name string, version uint64, blob []byte) (bool, error) {
	if err := s.before("swap"); err != nil {
		return false, err
	}
	return s.KeyStore.SwapKeys(ctx, name, version, blob)
}

func TestManagedKeysStoreFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var failing atomic.Value // op name → fail it
	failing.Store("")
	st := keyStoreFunc{memstore.New(), func(op string) error {
		if failing.Load() == op {
			return fmt.Errorf("%w: test outage", store.ErrUnavailable)
		}
		return nil
	}}
	clock := newTestClock()
	cfg := managedConfig(st, testKEK(t), clock)

	cfg.MustExist = true
	if _, err := OpenManagedKeys(ctx, cfg); !errors.Is(err, ErrNotFound) {
		t.Fatalf("MustExist on an empty store: %v, want ErrNotFound", err)
	}
	cfg.MustExist = false
	failing.Store("swap")
	if _, err := OpenManagedKeys(ctx, cfg); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("creating the first key during an outage: %v, want ErrStoreUnavailable", err)
	}
	failing.Store("")
	m := openManaged(t, cfg)
	iss := managedIssuer(t, m, clock)
	cfg.MustExist = true
	openManaged(t, cfg) // the ring exists now

	clock.Advance(DefaultRotateEvery)
	for _, op := range []string{"load", "swap"} {
		failing.Store(op)
		if err := m.Tick(ctx); !errors.Is(err, ErrStoreUnavailable) {
			t.Errorf("Tick with failing %s: %v, want ErrStoreUnavailable", op, err)
		}
		if _, err := m.Rotate(ctx); !errors.Is(err, ErrStoreUnavailable) {
			t.Errorf("Rotate with failing %s: %v, want ErrStoreUnavailable", op, err)
		}
		if m.Ring().Version != 1 {
			t.Fatalf("a failed round changed the ring")
		}
		// The keys loaded before keep signing and verifying.
		if _, err := iss.Verify(ctx, login(t, iss, "alice").AccessToken); err != nil {
			t.Fatalf("during a store outage: %v", err)
		}
	}
	failing.Store("")
	if err := m.Tick(ctx); err != nil || m.Ring().Version != 2 {
		t.Fatalf("Tick once the store is back: %v, version %d", err, m.Ring().Version)
	}
}

// TestManagedKeysRun: Run ticks at once, logs a failed round, and returns
// the context's error when it ends. The test waits for the
// store calls, never for time.
func TestManagedKeysRun(t *testing.T) {
	t.Parallel()
	loads := make(chan struct{})
	fail := atomic.Bool{}
	st := keyStoreFunc{memstore.New(), func(op string) error {
		if op == "load" {
			loads <- struct{}{}
			if fail.Load() {
				return fmt.Errorf("%w: test outage", store.ErrUnavailable)
			}
		}
		return nil
	}}
	clock := newTestClock()
	cfg := managedConfig(st, testKEK(t), clock)
	records := make(chan string, 16)
	cfg.Logger = slog.New(slog.NewTextHandler(chanWriter(records), &slog.HandlerOptions{Level: slog.LevelError}))
	go func() { <-loads }() // OpenManagedKeys' load
	m := openManaged(t, cfg)

	fail.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	<-loads // Run's first round, which fails and is logged
	if rec := <-records; !strings.Contains(rec, "refresh failed") || !strings.Contains(rec, "test outage") {
		t.Fatalf("Run logged %q for its failed round", rec)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
}

// chanWriter sends each write (one log record) to its channel.
type chanWriter chan<- string

func (c chanWriter) Write(p []byte) (int, error) {
	c <- string(p)
	return len(p), nil
}

// BenchmarkManagedKeysTick measures an idle round on memstore: one load, an
// unchanged version, nothing due.
func BenchmarkManagedKeysTick(b *testing.B) {
	m := openManaged(b, managedConfig(memstore.New(), testKEK(b), newTestClock()))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Tick(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDecodeRing feeds arbitrary blobs to the stored-ring decoder: it must
// never panic, and it opens only a ring sealed under the KEK.
func FuzzDecodeRing(f *testing.F) {
	st := memstore.New()
	m := openManaged(f, managedConfig(st, testKEK(f), newTestClock()))
	m.Rotate(context.Background())
	blob, v, _ := st.LoadKeys(context.Background(), scope.KeyRing(testIssuer))
	f.Add(blob, v)
	f.Add([]byte(`{"format":"sessionkit/key-ring/v1","ring":{},"kek":"x","nonce":"AAAAAAAAAAAAAAAA","sealed":""}`), uint64(1))
	f.Add([]byte(`{"format":"sessionkit/key-ring/v1","ring":[],"nonce":null}`), uint64(0))
	f.Fuzz(func(t *testing.T, blob []byte, version uint64) {
		r, err := decodeRing(testIssuer, version, blob, m.keks, m.installed())
		if err != nil {
			return
		}
		if r.current() == nil || r.snap.signing == nil {
			t.Fatal("a decoded ring without a signing key")
		}
	})
}

// BenchmarkDecodeRing measures what an instance pays once per change of the
// ring by another instance: opening and parsing a ring of three RS256 keys
// none of which it holds yet (keys it holds are not parsed again).
func BenchmarkDecodeRing(b *testing.B) {
	st, clock := memstore.New(), newTestClock()
	cfg := managedConfig(st, testKEK(b), clock)
	cfg.Algorithm, cfg.RotateEvery = RS256, -1
	m := openManaged(b, cfg)
	ctx := context.Background()
	m.Rotate(ctx)
	clock.Advance(defaultPromoteDelay)
	m.Tick(ctx)
	m.Rotate(ctx)
	blob, v, _ := st.LoadKeys(ctx, scope.KeyRing(testIssuer))
	for _, known := range []*keyRing{nil, m.installed()} {
		b.Run(fmt.Sprintf("known=%v", known != nil), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeRing(testIssuer, v, blob, m.keks, known); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
