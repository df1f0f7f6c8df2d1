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

// TestStoreLayoutMismatchFailsClosed: an Issuer and a Verifier that
// disagree on Config.LegacyUnscopedStore (or an upgrade that drops it) read
// different records, so a revocation made under one layout is invisible
// under the other. The jti mark makes every token of the other layout fail
// the stateful check, sessionless client tokens included, instead of
// passing a check that cannot see its revocation.
func TestStoreLayoutMismatchFailsClosed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, issuerLegacy := range []bool{false, true} {
		t.Run(map[bool]string{false: "ScopedIssuer", true: "LegacyIssuer"}[issuerLegacy], func(t *testing.T) {
			t.Parallel()
			st := memstore.New()
			t.Cleanup(func() { _ = st.Close() })
			iss, clock := newTestIssuer(t, func(c *Config) { c.Store, c.LegacyUnscopedStore = st, issuerLegacy })
			user := login(t, iss, "alice")
			client, err := iss.clientTokens(ctx, "svc", "svc", "read")
			if err != nil {
				t.Fatal(err)
			}
			if err := iss.RevokeClient(ctx, "svc"); err != nil {
				t.Fatal(err)
			}
			if _, err := iss.Verify(ctx, client.AccessToken); !errors.Is(err, ErrTokenRevoked) {
				t.Fatalf("the Issuer itself, revoked client token: %v", err)
			}
			for _, verifierLegacy := range []bool{false, true} {
				v, err := NewVerifier(VerifierConfig{
					Issuers:  []TrustedIssuer{{Issuer: testIssuer, Keys: iss.Keys(), LegacyUnscopedStore: verifierLegacy}},
					Audience: []string{testAudience}, Store: st, Now: clock.Now,
				})
				if err != nil {
					t.Fatal(err)
				}
				_, userErr := v.Verify(ctx, user.AccessToken)
				_, clientErr := v.Verify(ctx, client.AccessToken)
				if verifierLegacy == issuerLegacy {
					if userErr != nil || !errors.Is(clientErr, ErrTokenRevoked) {
						t.Fatalf("matching layouts: user token %v, revoked client token %v", userErr, clientErr)
					}
					continue
				}
				for what, err := range map[string]error{"user token": userErr, "revoked client token": clientErr} {
					if !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "store layout") {
						t.Errorf("Verifier with the other layout, %s: err = %v, want ErrInvalidToken naming the layout", what, err)
					}
				}
			}
		})
	}
}

// TestStoreTooLargeIsConfigError: a session that exceeds a store's limit
// (here a sealed handle, whose room the scoped subject shares) is refused
// as the caller's input, ErrInvalidConfig, not reported as an outage.
func TestStoreTooLargeIsConfigError(t *testing.T) {
	t.Parallel()
	iss, _ := newTestIssuer(t, statelessConfig(newSealedStore(t, nil)))
	_, err := iss.Login(context.Background(), Grant{Subject: strings.Repeat("s", 1000), Claims: map[string]any{"blob": strings.Repeat("x", 1500)}})
	if !errors.Is(err, ErrInvalidConfig) || !errors.Is(err, sealedstore.ErrTooLarge) || !errors.Is(err, store.ErrTooLarge) || errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("Login of a session too large to seal: err = %v, want ErrInvalidConfig wrapping sealedstore.ErrTooLarge", err)
	}
}

// registryWithID answers every lookup with a client whose id is exactly
// the one asked for, as a registry backed by a database might.
type registryWithID struct{ key ClientKey }

func (r registryWithID) Client(_ context.Context, id string) (*Client, error) {
	return &Client{ID: id, Keys: []ClientKey{r.key}, Scopes: []string{"read"}}, nil
}

// TestTokenEndpointRefusesInvalidClientIDs: ids from an application's
// registry become subjects and store names, so they obey the subject rules
// (no control characters): an assertion naming such an id is refused
// before anything is stored or minted.
func TestTokenEndpointRefusesInvalidClientIDs(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t, false)
	k := f.keys["svc-ed"]
	ck, err := NewClientKey(k.Public(), k.KeyID())
	if err != nil {
		t.Fatal(err)
	}
	end := must(f.iss.TokenEndpoint(TokenEndpointConfig{Clients: registryWithID{ck}}))
	for _, id := range []string{"svc\x00b", "svc\x1fc\x1fother", "svc\n"} {
		f.keys[id] = k
		a := f.assertion(t, id, nil)
		if code, body, _ := post(t, end, bearerForm(a)); code != 400 || body["error"] != "invalid_grant" {
			t.Errorf("client id %q: %d %v, want 400 invalid_grant", id, code, body)
		}
	}
	// The control: a valid id from the same registry works.
	f.keys["svc-any"] = k
	if code, body, _ := post(t, end, bearerForm(f.assertion(t, "svc-any", nil))); code != 200 {
		t.Fatalf("a valid client id: %d %v", code, body)
	}
}

// TestEventsNameTheIssuer: Issuers sharing one Events hook (tenants of one
// store) can tell their events apart.
func TestEventsNameTheIssuer(t *testing.T) {
	t.Parallel()
	var got []Event
	iss, _ := newTestIssuer(t, func(c *Config) { c.Events = func(_ context.Context, e Event) { got = append(got, e) } })
	login(t, iss, "alice")
	if err := iss.LogoutAll(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("events = %+v, want login and logout-all", got)
	}
	for _, e := range got {
		if e.Issuer != testIssuer {
			t.Errorf("%v event names issuer %q, want %q", e.Kind, e.Issuer, testIssuer)
		}
	}
}

// TestStoredRegisteredClaimsNeverReachTokens: a session stored before a
// claim name became registered (scp, which Verifiers now read as scope)
// keeps its other claims, but its tokens never carry that name; and the
// Issuer's own Verify reads scp as an ordinary claim, never as scope.
func TestStoredRegisteredClaimsNeverReachTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	iss, clock := newTestIssuer(t, func(c *Config) { c.Store = st })
	now := clock.Now()
	secret := make([]byte, 32)
	created, err := st.Create(ctx, store.NewSession{
		Session: store.Session{
			ID: "legacy-session", Subject: iss.scope.User("alice"), Claims: []byte(`{"scp":["admin"],"tenant":"acme","scope":"x"}`),
			CreatedAt: now, LastUsedAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(24 * time.Hour), Generation: 1,
		},
		Hash: iss.scope.SecretHash(secret, ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	toks, err := iss.Refresh(ctx, refreshPrefix+created.Handle+"."+b64.EncodeToString(secret))
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	_, payload := decodeSegments(t, toks.AccessToken)
	if strings.Contains(payload, `"scp"`) || strings.Contains(payload, `"x"`) || !strings.Contains(payload, `"tenant":"acme"`) {
		t.Fatalf("access token claims %s: want tenant kept, scp and the stored scope dropped", payload)
	}
	v, err := NewVerifier(VerifierConfig{Issuers: []TrustedIssuer{{Issuer: testIssuer, Keys: iss.Keys()}}, Audience: []string{testAudience}, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := v.Verify(ctx, toks.AccessToken); err != nil || c.HasScope("admin") {
		t.Fatalf("a Verifier reads the refreshed token as %+v, %v; want no admin scope", c, err)
	}
	// A token of ours carrying scp (minted by an older version): Verify
	// keeps it an application claim.
	k := testKey(t, RS256, 0)
	tok := craft(t, k, `{"alg":"RS256","kid":"`+k.KeyID()+`","typ":"at+jwt"}`,
		`{"iss":"`+testIssuer+`","sub":"alice","aud":"api","exp":`+itoa(now.Unix()+60)+`,"iat":`+itoa(now.Unix())+`,"jti":"~j","sid":"legacy-session","ver":0,"scp":["admin"]}`)
	c, err := iss.Verify(ctx, tok)
	if err != nil || c.Scope != "" || c.Extra["scp"] == nil {
		t.Fatalf("Issuer.Verify of a token with scp: %+v, %v; want no scope, scp in Extra", c, err)
	}
}
