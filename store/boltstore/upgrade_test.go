package boltstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/boltstore"
)

// TestUnscopedFileAfterUpgrade opens a file written before issuer scoping
// (testdata/unscoped, made by the code of that time) with today's code. The
// Issuer that owned it, with Config.LegacyUnscopedStore, keeps every session,
// token version, deny-list entry and client revocation in it; an Issuer
// without the option sees none of it, and its stateful check refuses every
// old access token.
func TestUnscopedFileAfterUpgrade(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/unscoped/tokens.json")
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]string
	if err := json.Unmarshal(raw, &tok); err != nil {
		t.Fatal(err)
	}
	written, err := time.Parse(time.RFC3339, tok["time"])
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := os.ReadFile("testdata/unscoped/signing-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	key, err := sessionkit.ParseSigningKeyPEM(pemKey)
	if err != nil {
		t.Fatal(err)
	}
	open := func(t *testing.T, legacy bool) *sessionkit.Issuer {
		t.Helper()
		db, err := os.ReadFile("testdata/unscoped/sessions.db")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "sessions.db")
		if err := os.WriteFile(path, db, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := boltstore.Open(path, boltstore.Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { _ = st.Close() })
		now := written.Add(time.Minute)
		iss, err := sessionkit.New(sessionkit.Config{
			Issuer: "https://auth.example.com", Audience: []string{"api"},
			Keys: sessionkit.NewKeySet(key), Store: st,
			Now:                 func() time.Time { return now },
			LegacyUnscopedStore: legacy,
		})
		if err != nil {
			t.Fatal(err)
		}
		return iss
	}
	ctx := context.Background()

	t.Run("LegacyUnscopedStore", func(t *testing.T) {
		t.Parallel()
		iss := open(t, true)
		if _, err := iss.Verify(ctx, tok["alice_access"]); err != nil {
			t.Fatalf("alice's access token: %v", err)
		}
		list, err := iss.Sessions(ctx, "alice")
		if err != nil || len(list) != 1 || list[0].ID != tok["alice_sid"] || list[0].Device.UserAgent != "legacy-agent/1.0" {
			t.Fatalf("alice's sessions = %+v, %v; want her one session", list, err)
		}
		next, err := iss.Refresh(ctx, tok["alice_refresh"])
		if err != nil {
			t.Fatalf("alice's refresh token: %v", err)
		}
		if _, err := iss.Verify(ctx, next.AccessToken); err != nil {
			t.Fatalf("the access token of alice's refresh: %v", err)
		}
		if _, err := iss.Refresh(ctx, tok["alice_spent_refresh"]); !errors.Is(err, sessionkit.ErrRefreshReused) {
			t.Fatalf("alice's spent refresh token: err = %v, want ErrRefreshReused (spent history kept)", err)
		}
		for _, c := range []struct{ name, token string }{
			{"bob's access token after LogoutAll", tok["bob_access"]},
			{"carol's revoked access token", tok["carol_access"]},
			{"the revoked client's access token", tok["client_access"]},
		} {
			if _, err := iss.Verify(ctx, c.token); !errors.Is(err, sessionkit.ErrTokenRevoked) {
				t.Errorf("%s: err = %v, want ErrTokenRevoked", c.name, err)
			}
		}
		if _, err := iss.Refresh(ctx, tok["bob_refresh"]); !errors.Is(err, sessionkit.ErrSessionRevoked) {
			t.Errorf("bob's refresh token after LogoutAll: err = %v, want ErrSessionRevoked", err)
		}
	})

	t.Run("Scoped", func(t *testing.T) {
		t.Parallel()
		iss := open(t, false)
		if _, err := iss.Refresh(ctx, tok["alice_refresh"]); !errors.Is(err, sessionkit.ErrInvalidToken) {
			t.Fatalf("alice's refresh token at a scoped Issuer: err = %v, want ErrInvalidToken", err)
		}
		if list, err := iss.Sessions(ctx, "alice"); err != nil || len(list) != 0 {
			t.Fatalf("alice's sessions at a scoped Issuer = %+v, %v; want none", list, err)
		}
		// Every old access token fails closed: their revocations are in
		// records a scoped Issuer does not read, and their unmarked jti
		// says so (the revoked client's sessionless token included).
		for _, name := range []string{"alice_access", "bob_access", "carol_access", "client_access"} {
			if _, err := iss.Verify(ctx, tok[name]); !errors.Is(err, sessionkit.ErrInvalidToken) {
				t.Errorf("%s at a scoped Issuer: err = %v, want ErrInvalidToken", name, err)
			}
		}
	})
}
