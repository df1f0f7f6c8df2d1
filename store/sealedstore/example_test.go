package sealedstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/sealedstore"
)

// A stateless Issuer: the server keeps nothing per session. It has to
// accept what the store cannot do, explicitly.
func Example_stateless() {
	// In production: sealedstore.ParseKey(os.Getenv("SESSION_SEALING_KEY")),
	// the text of a key made once with GenerateKey and Key.Encode.
	key, err := sealedstore.GenerateKey()
	if err != nil {
		log.Fatal(err)
	}
	st, err := sealedstore.New(sealedstore.Options{
		Keys:   sealedstore.Keys{Current: key},
		Issuer: "https://auth.example.com",
	})
	if err != nil {
		log.Fatal(err)
	}
	signing, err := sessionkit.GenerateSigningKey(sessionkit.ES256)
	if err != nil {
		log.Fatal(err)
	}
	iss, err := sessionkit.New(sessionkit.Config{
		Issuer:              "https://auth.example.com",
		Audience:            []string{"api"},
		Keys:                sessionkit.NewKeySet(signing),
		Store:               st,
		AcceptStoreLimits:   store.All, // no reuse detection, revocation or listing
		SkipRevocationCheck: true,      // access tokens are valid until they expire
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	toks, err := iss.Login(ctx, sessionkit.Grant{Subject: "alice", Claims: map[string]any{"plan": "pro"}})
	if err != nil {
		log.Fatal(err)
	}
	toks, err = iss.Refresh(ctx, toks.RefreshToken)
	if err != nil {
		log.Fatal(err)
	}
	claims, err := iss.Verify(ctx, toks.AccessToken)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.Subject, claims.Extra["plan"])
	err = iss.Logout(ctx, toks.RefreshToken)
	fmt.Println(errors.Is(err, sessionkit.ErrUnsupported))
	// Output:
	// alice pro
	// true
}

// A hybrid Issuer: session data travels in the token, a stateful store keeps
// the small parts, and reuse of a rotated refresh token is detected again.
func Example_hybrid() {
	key, err := sealedstore.GenerateKey()
	if err != nil {
		log.Fatal(err)
	}
	st, err := sealedstore.New(sealedstore.Options{
		Keys:   sealedstore.Keys{Current: key},
		Issuer: "https://auth.example.com",
		State:  memstore.New(), // or a redisstore or boltstore
	})
	if err != nil {
		log.Fatal(err)
	}
	signing, err := sessionkit.GenerateSigningKey(sessionkit.ES256)
	if err != nil {
		log.Fatal(err)
	}
	iss, err := sessionkit.New(sessionkit.Config{
		Issuer:            "https://auth.example.com",
		Audience:          []string{"api"},
		Keys:              sessionkit.NewKeySet(signing),
		Store:             st,
		AcceptStoreLimits: store.ListSessions, // the listed data lives in the tokens
		ReuseGrace:        -1,                 // no grace window, to show reuse at once
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	first, err := iss.Login(ctx, sessionkit.Grant{Subject: "alice"})
	if err != nil {
		log.Fatal(err)
	}
	second, err := iss.Refresh(ctx, first.RefreshToken)
	if err != nil {
		log.Fatal(err)
	}
	_, err = iss.Refresh(ctx, first.RefreshToken) // a thief replays the old token
	fmt.Println(errors.Is(err, sessionkit.ErrRefreshReused))
	_, err = iss.Verify(ctx, second.AccessToken)
	fmt.Println(errors.Is(err, sessionkit.ErrTokenRevoked))
	// Output:
	// true
	// true
}
