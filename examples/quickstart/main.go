// Command quickstart walks through sessionkit's main flows on the memory
// store and prints each step: login, verify, refresh, a grace-window retry,
// reuse detection, logout-all.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx := context.Background()
	// A settable clock, so the walk-through can step past the grace window
	// without sleeping.
	now := time.Now()
	clock := func() time.Time { return now }

	key, err := sessionkit.GenerateSigningKey(sessionkit.RS256)
	if err != nil {
		return err
	}
	iss, err := sessionkit.New(sessionkit.Config{
		Issuer:   "https://auth.example.com",
		Audience: []string{"api"},
		Keys:     sessionkit.NewKeySet(key),
		Store:    memstore.New(),
		Now:      clock,
		Events: func(_ context.Context, e sessionkit.Event) {
			fmt.Printf("   event: %s (subject %s)\n", e.Kind, e.Subject)
		},
	})
	if err != nil {
		return err
	}
	step := func(n int, what string) { fmt.Printf("\n%d. %s\n", n, what) }

	step(1, "Login: the app checked alice's password; sessionkit creates a session")
	toks, err := iss.Login(ctx, sessionkit.Grant{
		Subject: "alice", Scope: "read write",
		Claims: map[string]any{"tenant": "acme"},
		Device: sessionkit.Device{UserAgent: "quickstart/1.0", IP: "127.0.0.1"},
	})
	if err != nil {
		return err
	}
	fmt.Printf("   session %s\n   access token  %s… (%d bytes, expires %s)\n   refresh token %s (opaque, expires %s)\n",
		toks.SessionID, toks.AccessToken[:24], len(toks.AccessToken), toks.AccessExpiresAt.Format(time.TimeOnly),
		tail(toks.RefreshToken), toks.RefreshExpiresAt.Format(time.DateOnly))

	step(2, "Verify: an API checks the access token (signature, claims, revocation)")
	claims, err := iss.Verify(ctx, toks.AccessToken)
	if err != nil {
		return err
	}
	fmt.Printf("   ok: sub=%s scope=%q sid=%s tenant=%v\n", claims.Subject, claims.Scope, claims.SessionID, claims.Extra["tenant"])

	step(3, "Refresh: the client trades its refresh token for a new pair")
	first := toks.RefreshToken
	toks, err = iss.Refresh(ctx, first)
	if err != nil {
		return err
	}
	fmt.Printf("   rotated: new refresh token %s\n", tail(toks.RefreshToken))

	step(4, "A second tab retries with the old token within the grace window")
	retry, err := iss.Refresh(ctx, first)
	if err != nil {
		return err
	}
	fmt.Printf("   same successor returned: %v\n", retry.RefreshToken == toks.RefreshToken)

	step(5, "A thief replays the old refresh token after the grace window")
	now = now.Add(sessionkit.DefaultReuseGrace + time.Second)
	_, err = iss.Refresh(ctx, first)
	fmt.Printf("   refused, reuse detected: %v\n", errors.Is(err, sessionkit.ErrRefreshReused))
	_, err = iss.Refresh(ctx, toks.RefreshToken)
	fmt.Printf("   the whole session is revoked, the legitimate token too: %v\n", errors.Is(err, sessionkit.ErrSessionRevoked))
	_, err = iss.Verify(ctx, toks.AccessToken)
	fmt.Printf("   its access token fails at once: %v\n", errors.Is(err, sessionkit.ErrTokenRevoked))

	step(6, "Alice logs in on two devices, then logs out everywhere")
	laptop, err := iss.Login(ctx, sessionkit.Grant{Subject: "alice", Device: sessionkit.Device{UserAgent: "laptop"}})
	if err != nil {
		return err
	}
	phone, err := iss.Login(ctx, sessionkit.Grant{Subject: "alice", Device: sessionkit.Device{UserAgent: "phone"}})
	if err != nil {
		return err
	}
	list, err := iss.Sessions(ctx, "alice")
	if err != nil {
		return err
	}
	for _, s := range list {
		fmt.Printf("   live session %s on %q, created %s\n", s.ID, s.Device.UserAgent, s.CreatedAt.Format(time.TimeOnly))
	}
	if err := iss.LogoutAll(ctx, "alice"); err != nil {
		return err
	}
	for _, d := range []struct {
		name string
		toks *sessionkit.Tokens
	}{{"laptop", laptop}, {"phone", phone}} {
		_, err := iss.Verify(ctx, d.toks.AccessToken)
		fmt.Printf("   %s access token revoked: %v\n", d.name, errors.Is(err, sessionkit.ErrTokenRevoked))
	}
	list, err = iss.Sessions(ctx, "alice")
	if err != nil {
		return err
	}
	fmt.Printf("   live sessions left: %d\n", len(list))
	fmt.Fprintln(os.Stderr, "\ndone")
	return nil
}

// tail shows the end of a token, enough to tell two apart.
func tail(tok string) string { return "…" + tok[len(tok)-8:] }
