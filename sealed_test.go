package sessionkit

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/sealedstore"
)

// sealedKeys returns a key ring with a fresh current key and the previous
// keys given.
func sealedKeys(t testing.TB, previous ...sealedstore.Key) (sealedstore.Keys, sealedstore.Key) {
	t.Helper()
	k, err := sealedstore.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return sealedstore.Keys{Current: k, Previous: previous}, k
}

func sealedStore(t testing.TB, keys sealedstore.Keys, state store.Store) *sealedstore.Store {
	t.Helper()
	s, err := sealedstore.New(sealedstore.Options{Keys: keys, Issuer: testIssuer, State: state})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// statelessConfig is the configuration a stateless sealed store needs: it
// accepts every limit and skips the revocation check.
func statelessConfig(st store.Store) func(*Config) {
	return func(c *Config) {
		c.Store = st
		c.AcceptStoreLimits = store.All
		c.SkipRevocationCheck = true
	}
}

// TestNewStoreLimits: New refuses a store lacking a capability the
// configuration relies on unless AcceptStoreLimits lists it, and Verify's
// revocation check needs Versions and DenyList whatever it lists.
func TestNewStoreLimits(t *testing.T) {
	t.Parallel()
	keys, _ := sealedKeys(t)
	stateless := sealedStore(t, keys, nil)
	hybrid := sealedStore(t, keys, memstore.New())
	full := memstore.New()
	tests := []struct {
		name    string
		st      store.Store
		accept  store.Capabilities
		skip    bool
		wantErr []string // substrings of the error; nil: New succeeds
	}{
		{"memstore needs nothing accepted", full, 0, false, nil},
		{"stateless without anything", stateless, 0, false, []string{"SkipRevocationCheck", "Versions|DenyList"}},
		{"stateless accepting everything still needs SkipRevocationCheck", stateless, store.All, false, []string{"SkipRevocationCheck"}},
		{"stateless skipping the check but accepting nothing", stateless, 0, true,
			[]string{"ReuseDetection|RevokeSessions|ListSessions|Versions", "AcceptStoreLimits"}},
		{"stateless accepting all but reuse detection", stateless, store.All &^ store.ReuseDetection, true, []string{"lacks ReuseDetection,"}},
		{"stateless accepting everything and skipping the check", stateless, store.All, true, nil},
		{"stateless accepting exactly what it needs to", stateless, store.ReuseDetection | store.RevokeSessions | store.ListSessions | store.Versions, true, nil},
		{"hybrid without accepting ListSessions", hybrid, 0, false, []string{"lacks ListSessions,"}},
		{"hybrid accepting ListSessions", hybrid, store.ListSessions, false, nil},
		{"a store without a deny-list, skipping the check", declaringStore{full, store.All &^ store.DenyList}, 0, true, nil},
		{"a store without a deny-list, checking", declaringStore{full, store.All &^ store.DenyList}, store.DenyList, false, []string{"lacks DenyList, which Verify"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(Config{
				Issuer: testIssuer, Audience: []string{testAudience}, Keys: NewKeySet(testKey(t, RS256, 0)),
				Store: tt.st, AcceptStoreLimits: tt.accept, SkipRevocationCheck: tt.skip,
			})
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New: got %v, want ErrInvalidConfig", err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New's error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// declaringStore declares only caps, forwarding to the store it wraps.
type declaringStore struct {
	store.Store
	caps store.Capabilities
}

func (l declaringStore) Capabilities() store.Capabilities { return l.caps }

// realisticGrant is a login with the claims, scope and device of a busy
// SaaS user.
func realisticGrant(subject string) Grant {
	return Grant{
		Subject: subject,
		Scope:   "openid profile email projects:read projects:write billing:read",
		Claims: map[string]any{
			"email":       "alexandra.konstantinopoulou@engineering.example-corporation.com",
			"name":        "Alexandra Konstantinopoulou",
			"tenant":      "org_2fQ8xJkL9mNpR4sT6vW8yZ",
			"roles":       []string{"admin", "billing:manager", "projects:owner", "support:agent"},
			"permissions": []string{"projects:read", "projects:write", "projects:delete", "billing:read", "billing:write", "members:invite", "members:remove", "audit:read"},
			"plan":        "enterprise",
			"locale":      "el-GR",
			"mfa":         true,
		},
		Device: Device{
			UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
			IP:        "2001:db8:85a3:8d3:1319:8a2e:370:7348",
		},
	}
}

// TestSealedStateless: the Issuer over a stateless sealed store logs in,
// verifies, refreshes (carrying the session in the token, under 4096
// bytes), tells expired and foreign tokens apart, and answers ErrUnsupported
// for everything that needs server state. A pre-rotation token refreshes
// again: the documented limit.
func TestSealedStateless(t *testing.T) {
	t.Parallel()
	keys, _ := sealedKeys(t)
	iss, clock := newTestIssuer(t, statelessConfig(sealedStore(t, keys, nil)))
	ctx := context.Background()

	t0, err := iss.Login(ctx, realisticGrant("u1"))
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if n := len(t0.RefreshToken); n > 2048 {
		t.Fatalf("refresh token takes %d bytes with realistic claims; want well under 4096", n)
	}
	c, err := iss.Verify(ctx, t0.AccessToken)
	if err != nil || c.SessionID != t0.SessionID || c.Extra["tenant"] != "org_2fQ8xJkL9mNpR4sT6vW8yZ" {
		t.Fatalf("Verify: %+v, %v", c, err)
	}

	clock.Advance(time.Hour)
	t1 := refresh(t, iss, t0.RefreshToken)
	if t1.SessionID != t0.SessionID || t1.RefreshToken == t0.RefreshToken || t1.Scope != t0.Scope {
		t.Fatalf("Refresh: session %q scope %q, want %q %q and a new token", t1.SessionID, t1.Scope, t0.SessionID, t0.Scope)
	}
	if c, err := iss.Verify(ctx, t1.AccessToken); err != nil || c.Extra["email"] == nil || !c.HasScope("billing:read") {
		t.Fatalf("the refreshed access token carries the sealed claims and scope: %+v, %v", c, err)
	}
	if !t1.RefreshExpiresAt.Equal(clock.Now().Add(DefaultRefreshTTL)) {
		t.Fatalf("the idle expiry slid to %v, want %v", t1.RefreshExpiresAt, clock.Now().Add(DefaultRefreshTTL))
	}

	// The documented limit: the pre-rotation token refreshes again.
	clock.Advance(time.Hour)
	fork := refresh(t, iss, t0.RefreshToken)
	if fork.SessionID != t0.SessionID {
		t.Fatalf("the pre-rotation token refreshed into session %q", fork.SessionID)
	}
	refresh(t, iss, t1.RefreshToken)

	for _, call := range []struct {
		name string
		err  error
	}{
		{"Logout", iss.Logout(ctx, t1.RefreshToken)},
		{"LogoutAll", iss.LogoutAll(ctx, "u1")},
		{"RevokeSession", iss.RevokeSession(ctx, "u1", t0.SessionID)},
		{"RevokeAccessToken", iss.RevokeAccessToken(ctx, t1.AccessToken)},
		{"Sessions", func() error { _, err := iss.Sessions(ctx, "u1"); return err }()},
	} {
		if !errors.Is(call.err, ErrUnsupported) || !strings.Contains(call.err.Error(), call.name+" needs") {
			t.Errorf("%s: got %v, want ErrUnsupported naming the method", call.name, call.err)
		}
	}

	// A tampered token is invalid; an idle one expires.
	tampered := []byte(t1.RefreshToken)
	tampered[len("skr1.")+40] ^= 1
	if _, err := iss.Refresh(ctx, string(tampered)); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a tampered token: got %v, want ErrInvalidToken", err)
	}
	clock.Advance(DefaultRefreshTTL)
	if _, err := iss.Refresh(ctx, fork.RefreshToken); !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("a token idle for RefreshTTL: got %v, want ErrSessionExpired", err)
	}
}

// TestSealedKeyRotationAcrossInstances: two instances share a store
// configuration; one promotes a new key while the other still knows it only
// as a previous key; nobody is logged out; once the old key is removed, a
// token nobody refreshed is invalid.
func TestSealedKeyRotationAcrossInstances(t *testing.T) {
	t.Parallel()
	oldRing, old := sealedKeys(t)
	next, err := sealedstore.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	signing := NewKeySet(testKey(t, RS256, 0))
	instance := func(keys sealedstore.Keys) (*Issuer, *testClock) {
		return newTestIssuer(t, func(c *Config) {
			statelessConfig(sealedStore(t, keys, nil))(c)
			c.Keys = signing
		})
	}
	a, _ := instance(oldRing)                                                           // before the rotation
	b, _ := instance(sealedstore.Keys{Current: old, Previous: []sealedstore.Key{next}}) // step 1: knows the new key
	c, _ := instance(sealedstore.Keys{Current: next, Previous: []sealedstore.Key{old}}) // step 2: seals with it
	d, clock := instance(sealedstore.Keys{Current: next})                               // step 3: old key removed

	idle := login(t, a, "u-idle")
	t0 := login(t, a, "u1")
	t1 := refresh(t, c, t0.RefreshToken) // sealed under next
	t2 := refresh(t, b, t1.RefreshToken) // b opens it, reseals under old
	t3 := refresh(t, c, t2.RefreshToken)
	clock.Advance(time.Minute)
	refresh(t, d, t3.RefreshToken)
	if _, err := d.Refresh(ctx, idle.RefreshToken); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a token sealed under a removed key: got %v, want ErrInvalidToken", err)
	}
	if _, err := a.Refresh(ctx, t3.RefreshToken); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a token sealed under a key the instance does not know: got %v, want ErrInvalidToken", err)
	}
}

// TestSealedOnRefreshRefusal: with a stateless store the hook's refusal
// writes nothing (there is nothing to write) but refuses; the same token
// still works where the hook agrees.
func TestSealedOnRefreshRefusal(t *testing.T) {
	t.Parallel()
	keys, _ := sealedKeys(t)
	st := sealedStore(t, keys, nil)
	banned := errors.New("banned")
	strict, _ := newTestIssuer(t, func(c *Config) {
		statelessConfig(st)(c)
		c.OnRefresh = func(context.Context, Session) (map[string]any, error) { return nil, banned }
	})
	lenient, _ := newTestIssuer(t, statelessConfig(st))
	t0 := login(t, strict, "u1")
	for range 2 {
		_, err := strict.Refresh(context.Background(), t0.RefreshToken)
		if !errors.Is(err, ErrSessionRevoked) || !errors.Is(err, banned) || errors.Is(err, ErrUnsupported) {
			t.Fatalf("a refused refresh: got %v, want ErrSessionRevoked and the hook's error, no ErrUnsupported", err)
		}
	}
	refresh(t, lenient, t0.RefreshToken)
}

// TestSealedHybrid: over a hybrid store (sealed + memstore) the Issuer keeps
// everything a stateful store gives (verification against revocation, the
// grace window, reuse detection, logout, logout-all, per-session and
// per-token revocation) while the session data travels in the token; only
// Sessions is unsupported.
func TestSealedHybrid(t *testing.T) {
	t.Parallel()
	keys, _ := sealedKeys(t)
	st := sealedStore(t, keys, memstore.New())
	iss, clock := newTestIssuer(t, func(c *Config) {
		c.Store = st
		c.AcceptStoreLimits = store.ListSessions
	})
	ctx := context.Background()

	t0, err := iss.Login(ctx, realisticGrant("u1"))
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if n := len(t0.RefreshToken); n > 2048 {
		t.Fatalf("hybrid refresh token takes %d bytes with realistic claims; want well under 4096", n)
	}
	if _, err := iss.Verify(ctx, t0.AccessToken); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	clock.Advance(time.Minute)
	t1 := refresh(t, iss, t0.RefreshToken)
	clock.Advance(2 * time.Second)
	again := refresh(t, iss, t0.RefreshToken)
	if again.RefreshToken != t1.RefreshToken {
		t.Fatalf("within the grace window the previous token gets the same successor back")
	}
	if c, err := iss.Verify(ctx, again.AccessToken); err != nil || c.Extra["tenant"] == nil {
		t.Fatalf("the replayed successor's access token: %+v, %v", c, err)
	}
	if _, err := iss.Sessions(ctx, "u1"); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Sessions: got %v, want ErrUnsupported", err)
	}

	// Reuse after the window revokes the session: its access tokens fail
	// the stateful check and its current refresh token is revoked.
	clock.Advance(time.Minute)
	if _, err := iss.Refresh(ctx, t0.RefreshToken); !errors.Is(err, ErrRefreshReused) {
		t.Fatalf("the pre-rotation token after the window: got %v, want ErrRefreshReused", err)
	}
	if _, err := iss.Verify(ctx, t1.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("Verify after reuse: got %v, want ErrTokenRevoked", err)
	}
	if _, err := iss.Refresh(ctx, t1.RefreshToken); !errors.Is(err, ErrSessionRevoked) {
		t.Fatalf("the successor after reuse: got %v, want ErrSessionRevoked", err)
	}

	// Logout, RevokeSession, RevokeAccessToken and LogoutAll work.
	ends := []struct {
		name string
		end  func(*Tokens) error
	}{
		{"Logout", func(tk *Tokens) error { return iss.Logout(ctx, tk.RefreshToken) }},
		{"RevokeSession", func(tk *Tokens) error { return iss.RevokeSession(ctx, "u2", tk.SessionID) }},
		{"LogoutAll", func(*Tokens) error { return iss.LogoutAll(ctx, "u2") }},
	}
	for _, e := range ends {
		tk := login(t, iss, "u2")
		if err := e.end(tk); err != nil {
			t.Fatalf("%s: %v", e.name, err)
		}
		if _, err := iss.Verify(ctx, tk.AccessToken); !errors.Is(err, ErrTokenRevoked) {
			t.Fatalf("after %s: Verify got %v, want ErrTokenRevoked", e.name, err)
		}
		if _, err := iss.Refresh(ctx, tk.RefreshToken); !errors.Is(err, ErrSessionRevoked) {
			t.Fatalf("after %s: Refresh got %v, want ErrSessionRevoked", e.name, err)
		}
	}
	tk := login(t, iss, "u3")
	if err := iss.RevokeAccessToken(ctx, tk.AccessToken); err != nil {
		t.Fatalf("RevokeAccessToken: %v", err)
	}
	if _, err := iss.Verify(ctx, tk.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("a denied access token: Verify got %v, want ErrTokenRevoked", err)
	}
	refresh(t, iss, tk.RefreshToken) // the session lives on
}
