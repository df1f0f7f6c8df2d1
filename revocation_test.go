package sessionkit

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestLogout(t *testing.T) {
	t.Parallel()
	iss, _ := newTestIssuer(t, nil)
	a := login(t, iss, "u1")
	b := login(t, iss, "u1")
	if err := iss.Logout(context.Background(), a.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify(context.Background(), a.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("access token of a logged-out session: %v", err)
	}
	if _, err := iss.Refresh(context.Background(), a.RefreshToken); !errors.Is(err, ErrSessionRevoked) {
		t.Fatalf("refresh after logout: %v", err)
	}
	if err := iss.Logout(context.Background(), a.RefreshToken); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("second logout: %v", err)
	}
	if _, err := iss.Verify(context.Background(), b.AccessToken); err != nil {
		t.Fatalf("the other session was touched: %v", err)
	}
}

func TestLogoutAll(t *testing.T) {
	t.Parallel()
	iss, clock := newTestIssuer(t, nil)
	var mine []*Tokens
	for range 3 {
		mine = append(mine, login(t, iss, "u1"))
	}
	refreshed := refresh(t, iss, mine[0].RefreshToken)
	other := login(t, iss, "u2")
	if err := iss.LogoutAll(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}
	for _, tok := range append(mine, refreshed) {
		if _, err := iss.Verify(context.Background(), tok.AccessToken); !errors.Is(err, ErrTokenRevoked) {
			t.Fatalf("earlier token after LogoutAll: %v, want ErrTokenRevoked", err)
		}
	}
	if _, err := iss.Refresh(context.Background(), mine[1].RefreshToken); !errors.Is(err, ErrSessionRevoked) {
		t.Fatalf("refresh after LogoutAll: %v", err)
	}
	if _, err := iss.Verify(context.Background(), other.AccessToken); err != nil {
		t.Fatalf("another subject's token after LogoutAll: %v", err)
	}
	// A new login after LogoutAll carries the new version and works; versions
	// never expire, so the old tokens stay dead even much later (within exp).
	fresh := login(t, iss, "u1")
	if c, err := iss.Verify(context.Background(), fresh.AccessToken); err != nil || c.Version != 1 {
		t.Fatalf("login after LogoutAll: %+v %v", c, err)
	}
	clock.Advance(DefaultAccessTTL - time.Second)
	if _, err := iss.Verify(context.Background(), mine[2].AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("old token later: %v", err)
	}
	if list, err := iss.Sessions(context.Background(), "u1"); err != nil || len(list) != 1 || list[0].ID != fresh.SessionID {
		t.Fatalf("sessions after LogoutAll: %+v %v", list, err)
	}
}

func TestRevokeAccessToken(t *testing.T) {
	t.Parallel()
	iss, clock := newTestIssuer(t, nil)
	a := login(t, iss, "u1")
	b := refresh(t, iss, a.RefreshToken)
	if err := iss.RevokeAccessToken(context.Background(), a.AccessToken); err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify(context.Background(), a.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("revoked token: %v", err)
	}
	if _, err := iss.Verify(context.Background(), b.AccessToken); err != nil {
		t.Fatalf("sibling token: %v", err)
	}
	// Within the leeway after exp the token would otherwise verify: the
	// deny entry must still hold it.
	clock.Advance(DefaultAccessTTL + DefaultLeeway/2)
	if _, err := iss.Verify(context.Background(), a.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("revoked token inside the leeway: %v", err)
	}
	if err := iss.RevokeAccessToken(context.Background(), "garbage"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("garbage: %v", err)
	}
	// Revoking a long-expired token is a no-op, not an error.
	clock.Advance(time.Hour)
	if err := iss.RevokeAccessToken(context.Background(), b.AccessToken); err != nil {
		t.Fatalf("expired token: %v", err)
	}
}

func TestRevokeSessionOwnerChecked(t *testing.T) {
	t.Parallel()
	iss, _ := newTestIssuer(t, nil)
	victim := login(t, iss, "victim")
	attacker := login(t, iss, "attacker")
	if err := iss.RevokeSession(context.Background(), "attacker", victim.SessionID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("cross-subject revoke: %v, want ErrNotFound", err)
	}
	if _, err := iss.Verify(context.Background(), victim.AccessToken); err != nil {
		t.Fatalf("victim's session did not survive: %v", err)
	}
	if err := iss.RevokeSession(context.Background(), "attacker", attacker.SessionID); err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify(context.Background(), attacker.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("revoked session's token: %v", err)
	}
}

func TestSessionsListing(t *testing.T) {
	t.Parallel()
	iss, clock := newTestIssuer(t, nil)
	first := login(t, iss, "u1")
	clock.Advance(time.Minute)
	second, err := iss.Login(context.Background(), Grant{Subject: "u1", Device: Device{UserAgent: "phone", IP: "198.51.100.7"}})
	if err != nil {
		t.Fatal(err)
	}
	login(t, iss, "u2")
	clock.Advance(time.Minute)
	refresh(t, iss, first.RefreshToken)
	list, err := iss.Sessions(context.Background(), "u1")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != first.SessionID || list[1].ID != second.SessionID {
		t.Fatalf("sessions: %+v", list)
	}
	if list[1].Device.UserAgent != "phone" || list[1].Device.IP != "198.51.100.7" {
		t.Fatalf("device metadata lost: %+v", list[1].Device)
	}
	if !list[0].LastUsedAt.Equal(clock.Now()) || !list[0].CreatedAt.Equal(testEpoch) {
		t.Fatalf("times: created %v last used %v", list[0].CreatedAt, list[0].LastUsedAt)
	}
}

func TestSkipRevocationCheck(t *testing.T) {
	t.Parallel()
	iss, _ := newTestIssuer(t, func(c *Config) { c.SkipRevocationCheck = true })
	toks := login(t, iss, "u1")
	if err := iss.LogoutAll(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify(context.Background(), toks.AccessToken); err != nil {
		t.Fatalf("stateless verify consulted the store: %v", err)
	}
}

// failingStore fails every call while down is set, and otherwise forwards.
type failingStore struct {
	store.Store
	down atomic.Bool
}

var errBoom = errors.New("connection refused")

func (f *failingStore) fail() bool { return f.down.Load() }

func (f *failingStore) Create(ctx context.Context, s store.NewSession) (store.Created, error) {
	if f.fail() {
		return store.Created{}, errBoom
	}
	return f.Store.Create(ctx, s)
}
func (f *failingStore) Lookup(ctx context.Context, h string, p [32]byte, now time.Time) (store.Session, error) {
	if f.fail() {
		return store.Session{}, errBoom
	}
	return f.Store.Lookup(ctx, h, p, now)
}
func (f *failingStore) Rotate(ctx context.Context, r store.Rotation) (store.RotateResult, error) {
	if f.fail() {
		return store.RotateResult{}, errBoom
	}
	return f.Store.Rotate(ctx, r)
}
func (f *failingStore) Sessions(ctx context.Context, s string, now time.Time) ([]store.Session, error) {
	if f.fail() {
		return nil, errBoom
	}
	return f.Store.Sessions(ctx, s, now)
}
func (f *failingStore) Revoke(ctx context.Context, h string, p [32]byte, now time.Time) (store.Session, error) {
	if f.fail() {
		return store.Session{}, errBoom
	}
	return f.Store.Revoke(ctx, h, p, now)
}
func (f *failingStore) RevokeSession(ctx context.Context, s, id string, now time.Time) error {
	if f.fail() {
		return errBoom
	}
	return f.Store.RevokeSession(ctx, s, id, now)
}
func (f *failingStore) RevokeAll(ctx context.Context, s string, now time.Time) (uint64, error) {
	if f.fail() {
		return 0, errBoom
	}
	return f.Store.RevokeAll(ctx, s, now)
}
func (f *failingStore) Deny(ctx context.Context, s, jti string, until time.Time) error {
	if f.fail() {
		return errBoom
	}
	return f.Store.Deny(ctx, s, jti, until)
}
func (f *failingStore) CheckAccess(ctx context.Context, q store.AccessCheck) (store.AccessState, error) {
	if f.fail() {
		return store.AccessState{}, errBoom
	}
	return f.Store.CheckAccess(ctx, q)
}
func (f *failingStore) UseOnce(ctx context.Context, ns, key string, until, now time.Time) (bool, error) {
	if f.fail() {
		return false, errBoom
	}
	return f.Store.UseOnce(ctx, ns, key, until, now)
}
func (f *failingStore) Version(ctx context.Context, s string) (uint64, error) {
	if f.fail() {
		return 0, errBoom
	}
	return f.Store.Version(ctx, s)
}

func TestStoreOutageFailsClosed(t *testing.T) {
	t.Parallel()
	fs := &failingStore{}
	iss, _ := newTestIssuer(t, func(c *Config) { fs.Store = c.Store; c.Store = fs })
	toks := login(t, iss, "u1")
	ctx := context.Background()
	calls := []struct {
		name string
		call func() error
	}{
		{"Login", func() error { _, err := iss.Login(ctx, Grant{Subject: "u2"}); return err }},
		{"Refresh", func() error { _, err := iss.Refresh(ctx, toks.RefreshToken); return err }},
		{"Verify", func() error { _, err := iss.Verify(ctx, toks.AccessToken); return err }},
		{"Logout", func() error { return iss.Logout(ctx, toks.RefreshToken) }},
		{"LogoutAll", func() error { return iss.LogoutAll(ctx, "u1") }},
		{"RevokeSession", func() error { return iss.RevokeSession(ctx, "u1", toks.SessionID) }},
		{"RevokeAccessToken", func() error { return iss.RevokeAccessToken(ctx, toks.AccessToken) }},
		{"Sessions", func() error { _, err := iss.Sessions(ctx, "u1"); return err }},
	}
	hooked, _ := newTestIssuer(t, func(c *Config) {
		c.Store = fs
		c.OnRefresh = func(context.Context, Session) (map[string]any, error) { return nil, nil }
	})
	hookedToks := login(t, hooked, "u3")
	calls = append(calls, struct {
		name string
		call func() error
	}{"Refresh with OnRefresh", func() error { _, err := hooked.Refresh(ctx, hookedToks.RefreshToken); return err }})
	fs.down.Store(true)
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, ErrStoreUnavailable) {
			t.Errorf("%s while the store is down: %v, want ErrStoreUnavailable", c.name, err)
		}
	}
	fs.down.Store(false)
	// Nothing changed: the session, its tokens and the version are intact.
	if _, err := iss.Verify(ctx, toks.AccessToken); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
	if list, err := iss.Sessions(ctx, "u2"); err != nil || len(list) != 0 {
		t.Fatalf("a failed Login left a session: %v %v", list, err)
	}
	refresh(t, iss, toks.RefreshToken)
	refresh(t, hooked, hookedToks.RefreshToken)
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	iss, _ := newTestIssuer(t, nil)
	toks := login(t, iss, "u1")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := iss.Verify(ctx, toks.AccessToken); !errors.Is(err, context.Canceled) || !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("Verify with a cancelled context: %v", err)
	}
	if _, err := iss.Refresh(ctx, toks.RefreshToken); !errors.Is(err, context.Canceled) {
		t.Fatalf("Refresh with a cancelled context: %v", err)
	}
	refresh(t, iss, toks.RefreshToken)
}

func TestVerifyChecksVersionOnItsOwn(t *testing.T) {
	t.Parallel()
	iss, clock := newTestIssuer(t, nil)
	login(t, iss, "u1")
	if err := iss.LogoutAll(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}
	fresh := login(t, iss, "u1")
	list, err := iss.Sessions(context.Background(), "u1")
	if err != nil || len(list) != 1 {
		t.Fatal(list, err)
	}
	// A token for the live session that carries the version from before
	// LogoutAll: only the version check can catch it.
	s := store.Session{ID: fresh.SessionID, Subject: "u1", ExpiresAt: list[0].ExpiresAt}
	stale, _, err := iss.mint(&s, 0, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify(context.Background(), stale); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("token with a stale version: %v, want ErrTokenRevoked", err)
	}
	ahead, _, _ := iss.mint(&s, 2, clock.Now())
	if _, err := iss.Verify(context.Background(), ahead); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("token with a version from the future: %v, want ErrTokenRevoked", err)
	}
	current, _, _ := iss.mint(&s, 1, clock.Now())
	if _, err := iss.Verify(context.Background(), current); err != nil {
		t.Fatalf("token with the current version: %v", err)
	}
}

func TestRevokedTokenOutlivesMaximumLeeway(t *testing.T) {
	t.Parallel()
	iss, clock := newTestIssuer(t, func(c *Config) { c.Leeway = MaxLeeway })
	toks := login(t, iss, "u1")
	if err := iss.RevokeAccessToken(context.Background(), toks.AccessToken); err != nil {
		t.Fatal(err)
	}
	clock.Advance(DefaultAccessTTL + MaxLeeway - time.Second) // still inside the leeway
	if _, err := iss.Verify(context.Background(), toks.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("revoked token near the end of the maximum leeway: %v, want ErrTokenRevoked", err)
	}
}

func TestLoginRefusesTokensOverTheCap(t *testing.T) {
	t.Parallel()
	iss, _ := newTestIssuer(t, func(c *Config) { c.MaxTokenSize = 2048 })
	for name, g := range map[string]Grant{
		"long scope":    {Subject: "u1", Scope: strings.Repeat("s", 1025)},
		"escaped scope": {Subject: "u1", Scope: strings.Repeat("\u2028", 300)},
		"big claims":    {Subject: "u1", Claims: map[string]any{"x": strings.Repeat("x", 1500)}},
		"long subject":  {Subject: strings.Repeat("\u2028", 300)},
	} {
		// A grant too large in itself is the grant's fault; one too
		// large for MaxTokenSize, the configuration's or the grant's.
		if _, err := iss.Login(context.Background(), g); !errors.Is(err, ErrInvalidConfig) && !errors.Is(err, ErrInvalidGrant) {
			t.Errorf("%s: %v, want ErrInvalidGrant or ErrInvalidConfig", name, err)
		}
	}
	if list, err := iss.Sessions(context.Background(), "u1"); err != nil || len(list) != 0 {
		t.Fatalf("refused logins left sessions: %v %v", list, err)
	}
}
