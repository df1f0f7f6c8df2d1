package sessionkit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// exampleIssuer builds an Issuer on the memory store with a clock the example
// moves by hand.
func exampleIssuer(now *time.Time) *sessionkit.Issuer {
	key, err := sessionkit.GenerateSigningKey(sessionkit.EdDSA)
	if err != nil {
		panic(err)
	}
	iss, err := sessionkit.New(sessionkit.Config{
		Issuer:   "https://auth.example.com",
		Audience: []string{"api"},
		Keys:     sessionkit.NewKeySet(key),
		Store:    memstore.New(),
		Now:      func() time.Time { return *now },
	})
	if err != nil {
		panic(err)
	}
	return iss
}

func ExampleIssuer_Login() {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	iss := exampleIssuer(&now)

	// After the application has checked the user's password:
	toks, err := iss.Login(context.Background(), sessionkit.Grant{
		Subject: "alice",
		Scope:   "read write",
		Device:  sessionkit.Device{UserAgent: "Firefox", IP: "192.0.2.7"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("access token expires:", toks.AccessExpiresAt.UTC())
	fmt.Println("refresh token expires:", toks.RefreshExpiresAt.UTC())
	fmt.Println("refresh token prefix:", toks.RefreshToken[:5])
	// Output:
	// access token expires: 2026-01-02 15:19:05 +0000 UTC
	// refresh token expires: 2026-01-09 15:04:05 +0000 UTC
	// refresh token prefix: skr1.
}

func ExampleIssuer_Verify() {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	iss := exampleIssuer(&now)
	toks, _ := iss.Login(context.Background(), sessionkit.Grant{Subject: "alice", Scope: "read"})

	claims, err := iss.Verify(context.Background(), toks.AccessToken)
	fmt.Println(claims.Subject, claims.Scope, claims.HasScope("read"), err)

	now = now.Add(16 * time.Minute) // past exp and the 30 s leeway
	_, err = iss.Verify(context.Background(), toks.AccessToken)
	fmt.Println("expired:", errors.Is(err, sessionkit.ErrTokenExpired))

	_, err = iss.Verify(context.Background(), "eyJhbGciOiJub25lIn0.e30.")
	fmt.Println("alg none:", errors.Is(err, sessionkit.ErrInvalidToken))
	// Output:
	// alice read true <nil>
	// expired: true
	// alg none: true
}

func ExampleIssuer_Refresh() {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	iss := exampleIssuer(&now)
	first, _ := iss.Login(context.Background(), sessionkit.Grant{Subject: "alice"})

	now = now.Add(time.Hour)
	second, err := iss.Refresh(context.Background(), first.RefreshToken)
	if err != nil {
		panic(err)
	}
	fmt.Println("rotated:", second.RefreshToken != first.RefreshToken)
	fmt.Println("same session:", second.SessionID == first.SessionID)
	fmt.Println("idle expiry slid to:", second.RefreshExpiresAt.UTC())

	// A retry of the old token within the grace window gets the same successor.
	now = now.Add(2 * time.Second)
	retry, _ := iss.Refresh(context.Background(), first.RefreshToken)
	fmt.Println("grace retry, same successor:", retry.RefreshToken == second.RefreshToken)
	// Output:
	// rotated: true
	// same session: true
	// idle expiry slid to: 2026-01-09 16:04:05 +0000 UTC
	// grace retry, same successor: true
}

func ExampleIssuer_Refresh_reuseDetection() {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	iss := exampleIssuer(&now)
	first, _ := iss.Login(context.Background(), sessionkit.Grant{Subject: "alice"})
	second, _ := iss.Refresh(context.Background(), first.RefreshToken)

	// A thief replays the first token after the grace window.
	now = now.Add(time.Minute)
	_, err := iss.Refresh(context.Background(), first.RefreshToken)
	fmt.Println("reuse detected:", errors.Is(err, sessionkit.ErrRefreshReused))

	// The whole session is gone, the legitimate user's token included.
	_, err = iss.Refresh(context.Background(), second.RefreshToken)
	fmt.Println("session revoked:", errors.Is(err, sessionkit.ErrSessionRevoked))
	_, err = iss.Verify(context.Background(), second.AccessToken)
	fmt.Println("access token revoked:", errors.Is(err, sessionkit.ErrTokenRevoked))
	// Output:
	// reuse detected: true
	// session revoked: true
	// access token revoked: true
}

func ExampleIssuer_LogoutAll() {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	iss := exampleIssuer(&now)
	ctx := context.Background()
	laptop, _ := iss.Login(ctx, sessionkit.Grant{Subject: "alice", Device: sessionkit.Device{UserAgent: "laptop"}})
	now = now.Add(time.Minute)
	phone, _ := iss.Login(ctx, sessionkit.Grant{Subject: "alice", Device: sessionkit.Device{UserAgent: "phone"}})
	bob, _ := iss.Login(ctx, sessionkit.Grant{Subject: "bob"})

	list, _ := iss.Sessions(ctx, "alice")
	fmt.Println("alice's sessions:", len(list), list[0].Device.UserAgent, list[1].Device.UserAgent)

	if err := iss.LogoutAll(ctx, "alice"); err != nil {
		panic(err)
	}
	for _, t := range []*sessionkit.Tokens{laptop, phone} {
		_, err := iss.Verify(ctx, t.AccessToken)
		fmt.Println("alice's token revoked:", errors.Is(err, sessionkit.ErrTokenRevoked))
	}
	_, err := iss.Verify(ctx, bob.AccessToken)
	fmt.Println("bob unaffected:", err == nil)
	list, _ = iss.Sessions(ctx, "alice")
	fmt.Println("alice's sessions:", len(list))
	// Output:
	// alice's sessions: 2 laptop phone
	// alice's token revoked: true
	// alice's token revoked: true
	// bob unaffected: true
	// alice's sessions: 0
}
