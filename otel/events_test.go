package skotel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/sessionkit/sessionkit"
)

// flow is what driveIssuer did: the identifiers no attribute may carry.
type flow struct {
	subjects, sessions, tokens []string
}

// driveIssuer runs iss through a login, a refresh, a reuse, a failed
// refresh, a logout, a session revoked by id, an access token revoked and
// then refused, a logout-all, and a forged and an expired access token.
func driveIssuer(t *testing.T, iss *sessionkit.Issuer, clk *clock) flow {
	t.Helper()
	ctx := context.Background()
	var f flow
	login := func(subject string) *sessionkit.Tokens {
		t.Helper()
		toks, err := iss.Login(ctx, sessionkit.Grant{Subject: subject, Scope: "read"})
		if err != nil {
			t.Fatalf("Login(%q): %v", subject, err)
		}
		f.subjects = append(f.subjects, subject)
		f.sessions = append(f.sessions, toks.SessionID)
		f.tokens = append(f.tokens, toks.AccessToken, toks.RefreshToken)
		return toks
	}
	verifyFails := func(token string, want error) {
		t.Helper()
		if _, err := iss.Verify(ctx, token); !errors.Is(err, want) {
			t.Fatalf("Verify: %v, want %v", err, want)
		}
	}

	first := login("alice")
	second, err := iss.Refresh(ctx, first.RefreshToken)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	f.tokens = append(f.tokens, second.AccessToken, second.RefreshToken)
	clk.Advance(time.Minute) // past the grace window: the first token again is reuse
	if _, err := iss.Refresh(ctx, first.RefreshToken); !errors.Is(err, sessionkit.ErrRefreshReused) {
		t.Fatalf("Refresh of a rotated token: %v, want ErrRefreshReused", err)
	}
	if _, err := iss.Refresh(ctx, "skr1.no-such-handle.no-such-secret"); !errors.Is(err, sessionkit.ErrInvalidToken) {
		t.Fatalf("Refresh of an unknown token: %v, want ErrInvalidToken", err)
	}

	if err := iss.Logout(ctx, login("alice").RefreshToken); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	bob := login("bob")
	if err := iss.RevokeSession(ctx, "bob", bob.SessionID); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	carol := login("carol")
	if err := iss.RevokeAccessToken(ctx, carol.AccessToken); err != nil {
		t.Fatalf("RevokeAccessToken: %v", err)
	}
	verifyFails(carol.AccessToken, sessionkit.ErrTokenRevoked)
	if err := iss.LogoutAll(ctx, "alice"); err != nil {
		t.Fatalf("LogoutAll: %v", err)
	}

	dave := login("dave")
	verifyFails(forge(t, dave.AccessToken), sessionkit.ErrInvalidToken)
	clk.Advance(time.Hour) // past the access token's 15 minutes
	verifyFails(dave.AccessToken, sessionkit.ErrTokenExpired)
	return f
}

// forge returns token with one character of its signature changed, so that
// it still decodes but no longer verifies.
func forge(t testing.TB, token string) string {
	t.Helper()
	i := strings.LastIndexByte(token, '.') + 10
	if i >= len(token) {
		t.Fatalf("token too short to forge: %d bytes", len(token))
	}
	c := byte('A')
	if token[i] == 'A' {
		c = 'B'
	}
	return token[:i] + string(c) + token[i+1:]
}

// TestEventsFromIssuer drives a real Issuer on memstore and reads every
// counter with its attributes.
func TestEventsFromIssuer(t *testing.T) {
	t.Parallel()
	events, r := newEvents(t)
	iss, clk := newIssuer(t, events, nil)
	driveIssuer(t, iss, clk)

	const i = "sessionkit.issuer=" + testIssuer
	want := map[string]int64{
		"sessionkit.login{" + i + "}":                                                             5,
		"sessionkit.refresh{" + i + ",sessionkit.outcome=rotated}":                                1,
		"sessionkit.refresh{" + i + ",sessionkit.outcome=reused,sessionkit.reason=reused}":        1,
		"sessionkit.refresh{" + i + ",sessionkit.outcome=failed,sessionkit.reason=unknown_token}": 1,
		"sessionkit.logout{sessionkit.event=logout," + i + "}":                                    1,
		"sessionkit.logout{sessionkit.event=session_revoked," + i + "}":                           1,
		"sessionkit.logout{sessionkit.event=logout_all," + i + "}":                                1,
		"sessionkit.token.revoked{sessionkit.event=access_token_revoked," + i + "}":               1,
		"sessionkit.token.refused{" + i + ",sessionkit.reason=revoked}":                           1,
		"sessionkit.token.refused{" + i + ",sessionkit.reason=bad_signature}":                     1,
		"sessionkit.token.refused{" + i + ",sessionkit.reason=expired}":                           1,
	}
	if d := diff(collect(t, r), want); d != "" {
		t.Errorf("metrics after the flow:%s", d)
	}
}

// TestEventsAttributes feeds the hook one event of every kind and checks
// the counter and attribute set each lands in.
func TestEventsAttributes(t *testing.T) {
	t.Parallel()
	const i = "sessionkit.issuer=https://a"
	tests := []struct {
		e    sessionkit.Event
		want string
	}{
		{sessionkit.Event{Kind: sessionkit.EventLogin}, "sessionkit.login{" + i + "}"},
		{sessionkit.Event{Kind: sessionkit.EventRefresh}, "sessionkit.refresh{" + i + ",sessionkit.outcome=rotated}"},
		{sessionkit.Event{Kind: sessionkit.EventReuseDetected, Reason: sessionkit.ReasonReused}, "sessionkit.refresh{" + i + ",sessionkit.outcome=reused,sessionkit.reason=reused}"},
		{sessionkit.Event{Kind: sessionkit.EventRefreshRefused}, "sessionkit.refresh{" + i + ",sessionkit.outcome=refused}"},
		{sessionkit.Event{Kind: sessionkit.EventRefreshFailed, Reason: sessionkit.ReasonSessionExpired},
			"sessionkit.refresh{" + i + ",sessionkit.outcome=failed,sessionkit.reason=session_expired}"},
		{sessionkit.Event{Kind: sessionkit.EventLogout}, "sessionkit.logout{sessionkit.event=logout," + i + "}"},
		{sessionkit.Event{Kind: sessionkit.EventLogoutAll}, "sessionkit.logout{sessionkit.event=logout_all," + i + "}"},
		{sessionkit.Event{Kind: sessionkit.EventSessionRevoked}, "sessionkit.logout{sessionkit.event=session_revoked," + i + "}"},
		{sessionkit.Event{Kind: sessionkit.EventAccessTokenRevoked}, "sessionkit.token.revoked{sessionkit.event=access_token_revoked," + i + "}"},
		{sessionkit.Event{Kind: sessionkit.EventClientRevoked}, "sessionkit.token.revoked{sessionkit.event=client_revoked," + i + "}"},
		{sessionkit.Event{Kind: sessionkit.EventClientToken}, "sessionkit.client_token{" + i + "}"},
		{sessionkit.Event{Kind: sessionkit.EventAccessTokenRefused, Reason: sessionkit.ReasonWrongAudience},
			"sessionkit.token.refused{" + i + ",sessionkit.reason=wrong_audience}"},
		{sessionkit.Event{Kind: sessionkit.EventTokenRequestRefused, Reason: sessionkit.ReasonAssertionReplayed},
			"sessionkit.token_request.refused{" + i + ",sessionkit.reason=assertion_replayed}"},
		{sessionkit.Event{Kind: sessionkit.EventKeysFetchFailed, Reason: sessionkit.ReasonFetchFailed},
			"sessionkit.keys.fetch.failed{" + i + ",sessionkit.reason=fetch_failed}"},
		{sessionkit.Event{Kind: 1000, Reason: sessionkit.ReasonInternal},
			"sessionkit.event{sessionkit.event=unknown," + i + ",sessionkit.reason=internal}"},
		{sessionkit.Event{Kind: sessionkit.EventAccessTokenRefused, Reason: sessionkit.Reason(strings.Repeat("x", maxReasonLen+1))},
			"sessionkit.token.refused{" + i + ",sessionkit.reason=_OTHER}"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			events, r := newEvents(t)
			e := tt.e
			e.Issuer, e.Subject, e.SessionID, e.ClientID = "https://a", "u1", "sid1", "client1"
			events(context.Background(), e)
			events(context.Background(), e) // the second comes from the cache
			if d := diff(collect(t, r), map[string]int64{tt.want: 2}); d != "" {
				t.Errorf("%v:%s", e.Kind, d)
			}
		})
	}
}

// TestEventsNoIssuer: an event without an issuer (a Verifier's refusal of
// a token naming an untrusted one) carries no issuer attribute.
func TestEventsNoIssuer(t *testing.T) {
	t.Parallel()
	events, r := newEvents(t)
	events(context.Background(), sessionkit.Event{Kind: sessionkit.EventAccessTokenRefused, Reason: sessionkit.ReasonWrongIssuer})
	want := map[string]int64{"sessionkit.token.refused{sessionkit.reason=wrong_issuer}": 1}
	if d := diff(collect(t, r), want); d != "" {
		t.Errorf("metrics:%s", d)
	}
}

// TestEventsIssuerBound: past MaxIssuers distinct issuers, events are
// recorded under "_OTHER", so the series stay bounded.
func TestEventsIssuerBound(t *testing.T) {
	t.Parallel()
	events, r := newEvents(t)
	const extra = 5
	want := map[string]int64{}
	for n := range MaxIssuers + extra {
		iss := fmt.Sprintf("https://tenant%d.example", n)
		for range 2 {
			events(context.Background(), sessionkit.Event{Kind: sessionkit.EventLogin, Issuer: iss})
		}
		if n < MaxIssuers {
			want["sessionkit.login{sessionkit.issuer="+iss+"}"] = 2
		}
	}
	want["sessionkit.login{sessionkit.issuer=_OTHER}"] = 2 * extra
	// An admitted issuer stays admitted.
	events(context.Background(), sessionkit.Event{Kind: sessionkit.EventLogin, Issuer: "https://tenant0.example"})
	want["sessionkit.login{sessionkit.issuer=https://tenant0.example}"]++
	if d := diff(collect(t, r), want); d != "" {
		t.Errorf("metrics:%s", d)
	}
}

// TestEventsConcurrent runs the hook from several goroutines over keys
// that are new and cached at once (run with -race).
func TestEventsConcurrent(t *testing.T) {
	t.Parallel()
	events, r := newEvents(t)
	const goroutines, rounds = 8, 200
	reasons := []sessionkit.Reason{sessionkit.ReasonExpired, sessionkit.ReasonBadSignature, sessionkit.ReasonUnknownKey, sessionkit.ReasonRevoked}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for n := range rounds {
				events(context.Background(), sessionkit.Event{
					Kind: sessionkit.EventAccessTokenRefused, Issuer: testIssuer, Reason: reasons[(g+n)%len(reasons)],
				})
			}
		})
	}
	wg.Wait()
	want := map[string]int64{}
	for _, reason := range reasons {
		want["sessionkit.token.refused{sessionkit.issuer="+testIssuer+",sessionkit.reason="+string(reason)+"}"] = goroutines * rounds / int64(len(reasons))
	}
	if d := diff(collect(t, r), want); d != "" {
		t.Errorf("metrics:%s", d)
	}
}

// TestEventsNoAllocation: an event whose kind, reason and issuer were seen
// before costs the hook no allocation.
func TestEventsNoAllocation(t *testing.T) {
	events, _ := newEvents(t)
	ctx := context.Background()
	e := sessionkit.Event{Kind: sessionkit.EventAccessTokenRefused, Issuer: testIssuer, Reason: sessionkit.ReasonExpired, Subject: "u1", SessionID: "s1"}
	events(ctx, e)
	if n := testing.AllocsPerRun(100, func() { events(ctx, e) }); n != 0 {
		t.Errorf("%v allocations per cached event, want 0", n)
	}
}

// TestNoIdentifiersInAttributes drives an Issuer over a wrapped store and
// checks that no attribute value of any metric is a subject, a session id
// or token material.
func TestNoIdentifiersInAttributes(t *testing.T) {
	t.Parallel()
	mp, r := newProvider(t)
	events, err := Events(mp)
	if err != nil {
		t.Fatal(err)
	}
	st := wrapMemstore(t, mp)
	iss, clk := newIssuer(t, events, st)
	f := driveIssuer(t, iss, clk)
	if _, err := iss.Sessions(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	vals := attributeValues(t, r)
	if len(vals) == 0 {
		t.Fatal("no attribute values recorded")
	}
	secret := append(append(append([]string{}, f.subjects...), f.sessions...), f.tokens...)
	for _, v := range vals {
		for _, s := range secret {
			if v == s || len(v) > 16 && strings.Contains(s, v) {
				t.Errorf("attribute value %q is (part of) a subject, session id or token", v)
			}
		}
	}
}

// TestEventsErrors: no provider, or a provider refusing an instrument, is
// an error that says which.
func TestEventsErrors(t *testing.T) {
	t.Parallel()
	if _, err := Events(nil); err == nil || !strings.Contains(err.Error(), "MeterProvider") {
		t.Errorf("Events(nil): %v, want an error naming the MeterProvider", err)
	}
	if _, err := Events(refusingProvider{}); err == nil || !strings.Contains(err.Error(), "sessionkit.login") || !errors.Is(err, errRefused) {
		t.Errorf("Events(refusing): %v, want an error naming sessionkit.login and wrapping the provider's", err)
	}
}

var errRefused = errors.New("instrument refused")

// refusingProvider's Meter refuses every instrument.
type refusingProvider struct{ noop.MeterProvider }

func (refusingProvider) Meter(string, ...metric.MeterOption) metric.Meter { return refusingMeter{} }

type refusingMeter struct{ noop.Meter }

func (refusingMeter) Int64Counter(string, ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return nil, errRefused
}

func (refusingMeter) Float64Histogram(string, ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	return nil, errRefused
}
