package skotel

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionkit/sessionkit"
)

// TestEventsFromVerifier: a Verifier whose issuer's JWKS cannot be
// fetched reports the failed fetch and the refused token, under the
// trusted issuer; a token naming an untrusted issuer (the Verifier trusts
// two, so it reads the token's iss first) is counted without one, so that
// the sender cannot choose a label.
func TestEventsFromVerifier(t *testing.T) {
	t.Parallel()
	events, r := newEvents(t)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	const trusted, untrusted = "https://trusted.example", "https://untrusted.example"
	other, err := sessionkit.GenerateSigningKey(sessionkit.ES256)
	if err != nil {
		t.Fatal(err)
	}
	v, err := sessionkit.NewVerifier(sessionkit.VerifierConfig{
		Issuers: []sessionkit.TrustedIssuer{
			{Issuer: trusted, JWKSURL: down.URL},
			{Issuer: "https://other.example", Keys: sessionkit.NewKeySet(other)},
		},
		Audience:          []string{testAudience},
		InsecureAllowHTTP: true,
		Events:            events,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, issuer := range []string{trusted, untrusted} {
		iss, _ := newIssuerAt(t, issuer, events, nil)
		toks, err := iss.Login(ctx, sessionkit.Grant{Subject: "u1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, toks.AccessToken); err == nil {
			t.Fatalf("Verify of a token of %s succeeded", issuer)
		} else if issuer == trusted && !errors.Is(err, sessionkit.ErrKeysUnavailable) {
			t.Fatalf("Verify with the JWKS down: %v, want ErrKeysUnavailable", err)
		}
	}
	want := map[string]int64{
		"sessionkit.login{sessionkit.issuer=" + trusted + "}":                                            1,
		"sessionkit.login{sessionkit.issuer=" + untrusted + "}":                                          1,
		"sessionkit.keys.fetch.failed{sessionkit.issuer=" + trusted + ",sessionkit.reason=fetch_failed}": 1,
		"sessionkit.token.refused{sessionkit.issuer=" + trusted + ",sessionkit.reason=keys_unavailable}": 1,
		"sessionkit.token.refused{sessionkit.reason=wrong_issuer}":                                       1,
	}
	if d := diff(collect(t, r), want); d != "" {
		t.Errorf("metrics:%s", d)
	}
}
