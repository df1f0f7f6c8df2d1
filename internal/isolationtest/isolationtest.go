// Package isolationtest runs the cross-issuer matrix: two Issuers with
// different identifiers on one store instance must not see each other at
// all. Every store backend runs it from its own tests (the root package
// for memstore and sealedstore, store/boltstore and store/redisstore for
// theirs), so that the isolation the root package builds (internal/scope)
// is shown on every real backend, including the hybrid sealed store over
// each of them.
//
// Each case logs the same subject in at both Issuers, then does at one of
// them what an attacker holding the other's tokens, or an operator of the
// other tenant, could do: redeem, log out or revoke with the other's refresh
// token, revoke its session by id, log the subject out everywhere, list its
// sessions, deny an access token, replay a client assertion jti; and checks
// that the other Issuer's sessions, versions, deny-list and use-once records
// did not change, through the public API and by reading the store under
// both Issuers' names. Every case runs twice: with both Issuers scoped, and
// with the first in the legacy layout (Config.LegacyUnscopedStore) beside a
// scoped one, the state of a store shared after an upgrade.
package isolationtest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/scope"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/sealedstore"
)

// Issuer identifiers of the two tenants. They differ only at the end, as
// tenants of one auth server do.
const (
	issuerA  = "https://auth.example.com/tenants/a"
	issuerB  = "https://auth.example.com/tenants/b"
	audience = "api"
	clientID = "svc"
)

// Run runs the matrix over stores from newStore, which is called once per
// case; both Issuers of the case use the store it returns.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	RunPair(t, func(t *testing.T) (store.Store, store.Store) {
		s := newStore(t)
		return s, s
	})
}

// RunPair runs the matrix with the first Issuer of each case on the first
// store newStores returns and the second on the other: two views of one
// backend, such as two sealed stores (each bound to its own issuer) over
// one state store.
func RunPair(t *testing.T, newStores func(t *testing.T) (a, b store.Store)) {
	t.Helper()
	for _, layout := range []struct {
		name    string
		legacyA bool
	}{{"Scoped", false}, {"LegacyBesideScoped", true}} {
		t.Run(layout.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range cases() {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					stA, stB := newStores(t)
					caps := stA.Capabilities() & stB.Capabilities()
					if missing := c.needs &^ caps; missing != 0 {
						t.Skipf("the store lacks %s", missing)
					}
					c.run(t, newPair(t, stA, stB, layout.legacyA))
				})
			}
		})
	}
}

// testCase is one named case of the matrix.
type testCase struct {
	name  string
	needs store.Capabilities
	run   func(t *testing.T, p *pair)
}

// pair is one case's world: the two Issuers, their stores, the names each
// gives its records and a shared clock.
type pair struct {
	a, b         *sessionkit.Issuer
	stA, stB     store.Store
	scA, scB     scope.Scope
	legacyA      bool
	keys         *sessionkit.KeySet
	clock        *clock
	subject      string
	clientKey    ed25519.PrivateKey
	clientKeyID  string
	clients      *sessionkit.MemoryClients
	stateful     bool // both Issuers run the stateful access check
	reuseChecked bool
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newPair(t *testing.T, stA, stB store.Store, legacyA bool) *pair {
	t.Helper()
	key, err := sessionkit.GenerateSigningKey(sessionkit.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := sessionkit.NewClientKey(pub, "svc-key")
	if err != nil {
		t.Fatal(err)
	}
	clients, err := sessionkit.NewMemoryClients(sessionkit.Client{ID: clientID, Keys: []sessionkit.ClientKey{ck}, Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	p := &pair{
		stA: stA, stB: stB, legacyA: legacyA,
		scA: scope.New(issuerA, legacyA), scB: scope.New(issuerB, false),
		// One key set for both tenants: the signature alone must never
		// carry a token across.
		keys: sessionkit.NewKeySet(key),
		// The real time, advanced by hand: stores whose native expiry
		// runs on their server's clock (Redis PXAT) keep records at least
		// as long as the logical expiry needs.
		clock:       &clock{t: time.Now().Truncate(time.Millisecond)},
		subject:     "alice-" + randomID(t),
		clientKey:   priv,
		clientKeyID: "svc-key",
		clients:     clients,
	}
	caps := stA.Capabilities() & stB.Capabilities()
	p.stateful = caps.Has(store.Versions | store.DenyList)
	p.reuseChecked = caps.Has(store.ReuseDetection)
	p.a = p.issuer(t, issuerA, stA, legacyA)
	p.b = p.issuer(t, issuerB, stB, false)
	return p
}

func (p *pair) issuer(t *testing.T, id string, st store.Store, legacy bool) *sessionkit.Issuer {
	t.Helper()
	iss, err := sessionkit.New(sessionkit.Config{
		Issuer:              id,
		Audience:            []string{audience},
		Keys:                p.keys,
		Store:               st,
		Now:                 p.clock.Now,
		AcceptStoreLimits:   store.All &^ st.Capabilities(),
		SkipRevocationCheck: !p.stateful,
		LegacyUnscopedStore: legacy,
	})
	if err != nil {
		t.Fatalf("New(%s): %v", id, err)
	}
	return iss
}

func randomID(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// login logs p.subject in at iss from a device of its own.
func (p *pair) login(t *testing.T, iss *sessionkit.Issuer, agent, ip string) *sessionkit.Tokens {
	t.Helper()
	toks, err := iss.Login(context.Background(), sessionkit.Grant{
		Subject: p.subject, Scope: "read",
		Device: sessionkit.Device{UserAgent: agent, IP: ip},
	})
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	return toks
}

// both logs p.subject in at A and at B.
func (p *pair) both(t *testing.T) (a, b *sessionkit.Tokens) {
	t.Helper()
	return p.login(t, p.a, "agent-of-tenant-a", "192.0.2.10"), p.login(t, p.b, "agent-of-tenant-b", "198.51.100.20")
}

// refused checks that err is ErrInvalidToken (or want, when given) and
// never the answer of a token the store recognised.
func refused(t *testing.T, what string, err error, want error) {
	t.Helper()
	if want == nil {
		want = sessionkit.ErrInvalidToken
	}
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
	for _, leak := range []error{sessionkit.ErrRefreshReused, sessionkit.ErrSessionRevoked, sessionkit.ErrSessionExpired} {
		if leak != want && errors.Is(err, leak) {
			t.Fatalf("%s: err = %v: the other issuer's session answered", what, err)
		}
	}
}

// alive checks that toks's session still works at iss: its access token
// verifies (statefully when the store can) and its refresh token rotates
// as the current one, not as a retry or a reuse. It returns the new tokens.
func (p *pair) alive(t *testing.T, iss *sessionkit.Issuer, toks *sessionkit.Tokens, what string) *sessionkit.Tokens {
	t.Helper()
	ctx := context.Background()
	if _, err := iss.Verify(ctx, toks.AccessToken); err != nil {
		t.Fatalf("%s: the session's access token no longer verifies: %v", what, err)
	}
	next, err := iss.Refresh(ctx, toks.RefreshToken)
	if err != nil {
		t.Fatalf("%s: the session's refresh token no longer rotates: %v", what, err)
	}
	if p.reuseChecked {
		// Past the grace window, the token just issued must be current:
		// had anything rotated the session meanwhile, it would be reuse.
		p.clock.Advance(time.Minute)
		again, err := iss.Refresh(ctx, next.RefreshToken)
		if err != nil {
			t.Fatalf("%s: the rotated session does not rotate again: %v", what, err)
		}
		next = again
	}
	return next
}

// untouched checks, in the store itself, that the session of toks's refresh
// token is still at that token's generation: nothing rotated or revoked it
// (a rotation the grace window would hide from alive included).
func (p *pair) untouched(t *testing.T, st store.Store, sc scope.Scope, toks *sessionkit.Tokens, clientID, what string) {
	t.Helper()
	rest, ok := strings.CutPrefix(toks.RefreshToken, "skr1.")
	dot := strings.LastIndexByte(rest, '.')
	if !ok || dot < 0 {
		t.Fatal("not a sessionkit refresh token")
	}
	handle := rest[:dot]
	secret, err := base64.RawURLEncoding.DecodeString(rest[dot+1:])
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.ParseHandle(handle)
	if err != nil {
		t.Fatalf("%s: ParseHandle: %v", what, err)
	}
	s, err := st.Lookup(context.Background(), handle, sc.SecretHash(secret, clientID), p.clock.Now())
	if err != nil {
		t.Fatalf("%s: the session is gone from the store: %v", what, err)
	}
	if s.Generation != info.Generation {
		t.Fatalf("%s: the session moved from generation %d to %d", what, info.Generation, s.Generation)
	}
}

// endpoints returns iss's token, revocation and introspection endpoints for
// the shared client registry.
func (p *pair) endpoints(iss *sessionkit.Issuer) (token, revoke, inspect http.Handler) {
	cfg := sessionkit.TokenEndpointConfig{Clients: p.clients}
	return must(iss.TokenEndpoint(cfg)), must(iss.RevocationEndpoint(cfg)), must(iss.IntrospectionEndpoint(cfg))
}

// clientAuth adds private_key_jwt client authentication for aud to form.
func (p *pair) clientAuth(t *testing.T, form url.Values, aud, id string) url.Values {
	form.Set("client_assertion_type", sessionkit.ClientAssertionTypeJWTBearer)
	form.Set("client_assertion", p.assertion(t, aud, id))
	return form
}

// clientToken obtains, at iss's token endpoint, an access token for the
// client itself.
func (p *pair) clientToken(t *testing.T, iss *sessionkit.Issuer, aud, id string) string {
	t.Helper()
	end, _, _ := p.endpoints(iss)
	code, ans := post(t, end, url.Values{"grant_type": {sessionkit.GrantTypeJWTBearer}, "assertion": {p.assertion(t, aud, id)}})
	if code != http.StatusOK {
		t.Fatalf("the client's token at %s: %d %v", aud, code, ans["error"])
	}
	return ans[rawAccessToken].(string)
}

// version reads the token version st keeps under name.
func version(t *testing.T, st store.Store, name string) uint64 {
	t.Helper()
	v, err := st.Version(context.Background(), name)
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	return v
}

// jti reads the (unverified) jti claim of an access token.
func jti(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatal("not a compact JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		JTI string `json:"jti"`
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.JTI == "" {
		t.Fatalf("no jti: %v", err)
	}
	return c.JTI
}

// assertion signs an RFC 7523 assertion of the client for aud with a jti
// made of id and the case's random subject (so that cases sharing a server
// never share a jti).
func (p *pair) assertion(t *testing.T, aud, id string) string {
	t.Helper()
	id += "-" + p.subject
	now := p.clock.Now().Unix()
	header := `{"alg":"EdDSA","kid":"` + p.clientKeyID + `","typ":"JWT"}`
	claims := `{"iss":"` + clientID + `","sub":"` + clientID + `","aud":"` + aud +
		`","exp":` + strconv.FormatInt(now+60, 10) + `,"iat":` + strconv.FormatInt(now, 10) + `,"jti":"` + id + `"}`
	input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(claims))
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(p.clientKey, []byte(input)))
}

// rawPrefix keeps, in a decoded answer, the tokens that post masks.
const (
	rawPrefix      = "\x00raw:"
	rawAccessToken = rawPrefix + "access_token"
)

// post sends a form to h and returns the status and the decoded answer,
// whose tokens (if any) are replaced by "(token)" so that no failure
// message prints one (the real ones stay under rawPrefix keys, which %v
// prints too, so failure messages print selected fields only).
func post(t *testing.T, h http.Handler, form url.Values) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	answer := map[string]any{}
	if w.Body.Len() == 0 { // RFC 7009 revocation answers have no body
		return w.Code, answer
	}
	if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
		t.Fatalf("answer (status %d) is not JSON: %v", w.Code, err)
	}
	for _, name := range []string{"access_token", "refresh_token"} {
		if v, ok := answer[name]; ok {
			answer[name] = "(token)"
			answer[rawPrefix+name] = v
		}
	}
	return w.Code, answer
}

func cases() []testCase {
	return []testCase{
		{"RefreshTokenOfTheOther", 0, func(t *testing.T, p *pair) {
			a, b := p.both(t)
			ctx := context.Background()
			_, err := p.b.Refresh(ctx, a.RefreshToken)
			refused(t, "B.Refresh(A's refresh token)", err, nil)
			p.untouched(t, p.stA, p.scA, a, "", "A's session after B.Refresh of its token")
			_, err = p.a.Refresh(ctx, b.RefreshToken)
			refused(t, "A.Refresh(B's refresh token)", err, nil)
			p.untouched(t, p.stB, p.scB, b, "", "B's session after A.Refresh of its token")
			// Inside the grace window, A's previous token is a retry at A
			// and nothing at B.
			a2, err := p.a.Refresh(ctx, a.RefreshToken)
			if err != nil {
				t.Fatalf("A.Refresh: %v", err)
			}
			_, err = p.b.Refresh(ctx, a.RefreshToken)
			refused(t, "B.Refresh(A's previous token, inside the grace window)", err, nil)
			p.untouched(t, p.stA, p.scA, a2, "", "A's session after B was shown its previous token")
			a2 = p.alive(t, p.a, a2, "A after B tried its tokens")
			// A's spent tokens, which A would take for theft, are
			// nothing at B: they change nothing there or at A.
			_, err = p.b.Refresh(ctx, a.RefreshToken)
			refused(t, "B.Refresh(A's spent refresh token)", err, nil)
			p.untouched(t, p.stA, p.scA, a2, "", "A's session after B was shown its spent token")
			p.alive(t, p.a, a2, "A after B was shown its spent token")
			p.alive(t, p.b, b, "B")
		}},
		{"AccessTokenOfTheOther", 0, func(t *testing.T, p *pair) {
			a, b := p.both(t)
			ctx := context.Background()
			_, err := p.b.Verify(ctx, a.AccessToken)
			refused(t, "B.Verify(A's access token), same signing key", err, nil)
			_, err = p.a.Verify(ctx, b.AccessToken)
			refused(t, "A.Verify(B's access token), same signing key", err, nil)
		}},
		{"Logout", store.RevokeSessions, func(t *testing.T, p *pair) {
			a, b := p.both(t)
			err := p.b.Logout(context.Background(), a.RefreshToken)
			refused(t, "B.Logout(A's refresh token)", err, nil)
			p.untouched(t, p.stA, p.scA, a, "", "A's session after B.Logout of its token")
			p.alive(t, p.a, a, "A after B's logout with its token")
			p.alive(t, p.b, b, "B")
		}},
		{"RevokeSession", store.RevokeSessions, func(t *testing.T, p *pair) {
			a, b := p.both(t)
			err := p.b.RevokeSession(context.Background(), p.subject, a.SessionID)
			refused(t, "B.RevokeSession(subject, A's session id)", err, sessionkit.ErrNotFound)
			p.untouched(t, p.stA, p.scA, a, "", "A's session after B.RevokeSession of its id")
			p.alive(t, p.a, a, "A after B revoked its session id")
			p.alive(t, p.b, b, "B")
		}},
		{"LogoutAll", store.Versions | store.RevokeSessions, func(t *testing.T, p *pair) {
			a, b := p.both(t)
			ctx := context.Background()
			if err := p.b.LogoutAll(ctx, p.subject); err != nil {
				t.Fatalf("B.LogoutAll: %v", err)
			}
			if p.stateful {
				if _, err := p.b.Verify(ctx, b.AccessToken); !errors.Is(err, sessionkit.ErrTokenRevoked) {
					t.Fatalf("B's own access token after B.LogoutAll: err = %v, want ErrTokenRevoked", err)
				}
			}
			if _, err := p.b.Refresh(ctx, b.RefreshToken); !errors.Is(err, sessionkit.ErrSessionRevoked) {
				t.Fatalf("B's own refresh token after B.LogoutAll: err = %v, want ErrSessionRevoked", err)
			}
			if got := version(t, p.stA, p.scA.User(p.subject)); got != 0 {
				t.Fatalf("A's token version after B.LogoutAll = %d, want 0", got)
			}
			if got := version(t, p.stB, p.scB.User(p.subject)); got != 1 {
				t.Fatalf("B's token version after B.LogoutAll = %d, want 1", got)
			}
			a = p.alive(t, p.a, a, "A after B.LogoutAll")

			// And the other way round, with fresh B tokens.
			b = p.login(t, p.b, "agent-of-tenant-b", "198.51.100.20")
			if err := p.a.LogoutAll(ctx, p.subject); err != nil {
				t.Fatalf("A.LogoutAll: %v", err)
			}
			if _, err := p.a.Refresh(ctx, a.RefreshToken); !errors.Is(err, sessionkit.ErrSessionRevoked) {
				t.Fatalf("A's refresh token after A.LogoutAll: err = %v, want ErrSessionRevoked", err)
			}
			if got := version(t, p.stB, p.scB.User(p.subject)); got != 1 {
				t.Fatalf("B's token version after A.LogoutAll = %d, want 1", got)
			}
			p.alive(t, p.b, b, "B after A.LogoutAll")
		}},
		{"Sessions", store.ListSessions, func(t *testing.T, p *pair) {
			a, b := p.both(t)
			for _, side := range []struct {
				name  string
				iss   *sessionkit.Issuer
				own   *sessionkit.Tokens
				agent string
			}{{"A", p.a, a, "agent-of-tenant-a"}, {"B", p.b, b, "agent-of-tenant-b"}} {
				list, err := side.iss.Sessions(context.Background(), p.subject)
				if err != nil {
					t.Fatalf("%s.Sessions: %v", side.name, err)
				}
				if len(list) != 1 || list[0].ID != side.own.SessionID || list[0].Device.UserAgent != side.agent || list[0].Subject != p.subject {
					t.Fatalf("%s.Sessions lists %+v, want only its own session %s", side.name, list, side.own.SessionID)
				}
			}
		}},
		{"DenyList", store.DenyList | store.Versions, func(t *testing.T, p *pair) {
			a, b := p.both(t)
			ctx := context.Background()
			if err := p.a.RevokeAccessToken(ctx, a.AccessToken); err != nil {
				t.Fatalf("A.RevokeAccessToken: %v", err)
			}
			if _, err := p.a.Verify(ctx, a.AccessToken); !errors.Is(err, sessionkit.ErrTokenRevoked) {
				t.Fatalf("A's revoked access token: err = %v, want ErrTokenRevoked", err)
			}
			err := p.b.RevokeAccessToken(ctx, a.AccessToken)
			refused(t, "B.RevokeAccessToken(A's access token)", err, nil)
			id := jti(t, a.AccessToken)
			check := func(st store.Store, name string) bool {
				state, err := st.CheckAccess(ctx, store.AccessCheck{Subject: name, JTI: id, Now: p.clock.Now()})
				if err != nil {
					t.Fatalf("CheckAccess: %v", err)
				}
				return state.Denied
			}
			if !check(p.stA, p.scA.User(p.subject)) {
				t.Fatal("A's deny-list entry is not under A's name for the subject")
			}
			if check(p.stB, p.scB.User(p.subject)) {
				t.Fatal("A's deny-list entry shows under B's name for the subject")
			}
			if _, err := p.b.Verify(ctx, b.AccessToken); err != nil {
				t.Fatalf("B's access token after A denied one: %v", err)
			}
		}},
		{"UseOnce", store.UseOnce, func(t *testing.T, p *pair) {
			// One client registered at both tenants, one jti used at
			// each: a namespace per issuer, so each accepts it once.
			endA := must(p.a.TokenEndpoint(sessionkit.TokenEndpointConfig{Clients: p.clients}))
			endB := must(p.b.TokenEndpoint(sessionkit.TokenEndpointConfig{Clients: p.clients}))
			grant := func(end http.Handler, aud string) (int, map[string]any) {
				return post(t, end, url.Values{"grant_type": {sessionkit.GrantTypeJWTBearer}, "assertion": {p.assertion(t, aud, "same-jti")}})
			}
			if code, ans := grant(endA, issuerA); code != http.StatusOK {
				t.Fatalf("A: the assertion's first use answered %d %v", code, ans["error"])
			}
			if code, ans := grant(endB, issuerB); code != http.StatusOK {
				t.Fatalf("B: an assertion with the jti A consumed answered %d %v: B shares A's use-once records", code, ans["error"])
			}
			for _, side := range []struct {
				name string
				end  http.Handler
				aud  string
			}{{"A", endA, issuerA}, {"B", endB, issuerB}} {
				if code, ans := grant(side.end, side.aud); code != http.StatusBadRequest || ans["error"] != "invalid_grant" {
					t.Fatalf("%s: a replayed jti answered %d %v, want 400 invalid_grant", side.name, code, ans["error"])
				}
			}
		}},
		{"ClientSessionAtTheOthersTokenEndpoint", store.UseOnce | store.ReuseDetection, func(t *testing.T, p *pair) {
			ctx := context.Background()
			a, err := p.a.Login(ctx, sessionkit.Grant{Subject: p.subject, ClientID: clientID, Scope: "read"})
			if err != nil {
				t.Fatalf("A.Login for the client: %v", err)
			}
			endB := must(p.b.TokenEndpoint(sessionkit.TokenEndpointConfig{Clients: p.clients}))
			code, ans := post(t, endB, url.Values{
				"grant_type":            {sessionkit.GrantTypeRefreshToken},
				"refresh_token":         {a.RefreshToken},
				"client_assertion_type": {sessionkit.ClientAssertionTypeJWTBearer},
				"client_assertion":      {p.assertion(t, issuerB, "auth-at-b")},
			})
			if code != http.StatusBadRequest || ans["error"] != "invalid_grant" {
				t.Fatalf("B's token endpoint given A's client session token answered %d %v, want 400 invalid_grant", code, ans["error"])
			}
			p.untouched(t, p.stA, p.scA, a, clientID, "A's client session after B's token endpoint saw its token")
			endA := must(p.a.TokenEndpoint(sessionkit.TokenEndpointConfig{Clients: p.clients}))
			code, ans = post(t, endA, url.Values{
				"grant_type":            {sessionkit.GrantTypeRefreshToken},
				"refresh_token":         {a.RefreshToken},
				"client_assertion_type": {sessionkit.ClientAssertionTypeJWTBearer},
				"client_assertion":      {p.assertion(t, issuerA, "auth-at-a")},
			})
			if code != http.StatusOK {
				t.Fatalf("A's own token endpoint, after B was shown the token, answered %d %v", code, ans["error"])
			}
		}},
		{"RevokeClient", store.UseOnce | store.Versions | store.DenyList, func(t *testing.T, p *pair) {
			ctx := context.Background()
			a := p.clientToken(t, p.a, issuerA, "own-a")
			b := p.clientToken(t, p.b, issuerB, "own-b")
			if err := p.b.RevokeClient(ctx, clientID); err != nil {
				t.Fatalf("B.RevokeClient: %v", err)
			}
			if _, err := p.b.Verify(ctx, b); !errors.Is(err, sessionkit.ErrTokenRevoked) {
				t.Fatalf("B's client token after B.RevokeClient: err = %v, want ErrTokenRevoked", err)
			}
			if _, err := p.a.Verify(ctx, a); err != nil {
				t.Fatalf("A's client token after B.RevokeClient: %v", err)
			}
			if got := version(t, p.stA, p.scA.Subject(clientID, clientID)); got != 0 {
				t.Fatalf("A's version of the client after B.RevokeClient = %d, want 0", got)
			}
		}},
		{"RevocationAndIntrospectionEndpoints", store.UseOnce | store.ReuseDetection | store.RevokeSessions, func(t *testing.T, p *pair) {
			ctx := context.Background()
			a, err := p.a.Login(ctx, sessionkit.Grant{Subject: p.subject, ClientID: clientID, Scope: "read"})
			if err != nil {
				t.Fatalf("A.Login for the client: %v", err)
			}
			_, revokeB, inspectB := p.endpoints(p.b)
			_, _, inspectA := p.endpoints(p.a)
			for _, tok := range []string{a.RefreshToken, a.AccessToken} {
				code, ans := post(t, inspectB, p.clientAuth(t, url.Values{"token": {tok}}, issuerB, "inspect-b-"+tok[:4]))
				if code != http.StatusOK || ans["active"] != false {
					t.Fatalf("B's introspection of A's token: %d active=%v, want 200 false", code, ans["active"])
				}
				code, ans = post(t, inspectA, p.clientAuth(t, url.Values{"token": {tok}}, issuerA, "inspect-a-"+tok[:4]))
				if code != http.StatusOK || ans["active"] != true || ans["sub"] != p.subject {
					t.Fatalf("A's introspection of its own token: %d active=%v sub=%v", code, ans["active"], ans["sub"])
				}
			}
			code, ans := post(t, revokeB, p.clientAuth(t, url.Values{"token": {a.RefreshToken}}, issuerB, "revoke-b"))
			if code != http.StatusOK {
				t.Fatalf("B's revocation endpoint: %d %v", code, ans["error"])
			}
			p.untouched(t, p.stA, p.scA, a, clientID, "A's client session after B's revocation endpoint saw its token")
		}},
		{"VerifierOnTheSharedStore", store.Versions | store.DenyList | store.RevokeSessions, func(t *testing.T, p *pair) {
			if p.stA != p.stB {
				t.Skip("the Verifier reads one store")
			}
			a, b := p.both(t)
			ctx := context.Background()
			v, err := sessionkit.NewVerifier(sessionkit.VerifierConfig{
				Issuers: []sessionkit.TrustedIssuer{
					{Issuer: issuerA, Keys: p.keys, LegacyUnscopedStore: p.legacyA},
					{Issuer: issuerB, Keys: p.keys},
				},
				Audience: []string{audience},
				Store:    p.stA,
				Now:      p.clock.Now,
			})
			if err != nil {
				t.Fatalf("NewVerifier: %v", err)
			}
			for _, tok := range []string{a.AccessToken, b.AccessToken} {
				if _, err := v.Verify(ctx, tok); err != nil {
					t.Fatalf("Verifier before any revocation: %v", err)
				}
			}
			if err := p.b.LogoutAll(ctx, p.subject); err != nil {
				t.Fatalf("B.LogoutAll: %v", err)
			}
			if _, err := v.Verify(ctx, b.AccessToken); !errors.Is(err, sessionkit.ErrTokenRevoked) {
				t.Fatalf("Verifier, B's token after B.LogoutAll: err = %v, want ErrTokenRevoked", err)
			}
			if _, err := v.Verify(ctx, a.AccessToken); err != nil {
				t.Fatalf("Verifier, A's token after B.LogoutAll: %v", err)
			}
		}},
	}
}

// RunHybrid runs the matrix over the hybrid sealed store on state stores
// from newState: once with one sealed store for both Issuers (bound to A's
// identifier, as a misconfiguration would share it), once with a sealed
// store bound to each Issuer over one state store. A nil state store (a
// newState answering nil) runs the stateless sealed store.
func RunHybrid(t *testing.T, newState func(t *testing.T) store.Store) {
	t.Helper()
	t.Run("OneSealedStore", func(t *testing.T) {
		t.Parallel()
		Run(t, func(t *testing.T) store.Store {
			return sealed(t, issuerA, newKeys(t), newState(t))
		})
	})
	t.Run("SealedStorePerIssuer", func(t *testing.T) {
		t.Parallel()
		RunPair(t, func(t *testing.T) (store.Store, store.Store) {
			state, keys := newState(t), newKeys(t)
			return sealed(t, issuerA, keys, state), sealed(t, issuerB, keys, state)
		})
	})
}

func newKeys(t *testing.T) sealedstore.Keys {
	t.Helper()
	k, err := sealedstore.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return sealedstore.Keys{Current: k}
}

func sealed(t *testing.T, issuer string, keys sealedstore.Keys, state store.Store) store.Store {
	t.Helper()
	s, err := sealedstore.New(sealedstore.Options{Keys: keys, Issuer: issuer, State: state})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// must returns v, and panics on err: for the handler constructors, whose
// configuration the test fixes.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
