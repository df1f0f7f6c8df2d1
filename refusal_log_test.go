package sessionkit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// jsonRecords parses the JSON log lines in s.
func jsonRecords(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, rec)
	}
	return out
}

// secretsCollector gathers every credential a test sent or received.
type secretsCollector map[string]bool

// add records tok, and the parts of it that are secret on their own (a
// JWS's signature, a refresh token's secret).
func (s secretsCollector) add(tok string) {
	if tok == "" {
		return
	}
	s[tok] = true
	if i := strings.LastIndexByte(tok, '.'); i >= 0 && len(tok)-i > 16 {
		s[tok[i+1:]] = true
	}
}

// wantAbsent fails for every secret found in log.
func (s secretsCollector) wantAbsent(t *testing.T, log string) {
	t.Helper()
	if len(s) == 0 {
		t.Fatal("no secrets were collected: the test checks nothing")
	}
	for sec := range s {
		if strings.Contains(log, sec) {
			t.Errorf("the log shows a credential (%d bytes): %.12s...", len(sec), sec)
		}
	}
}

// TestRefusalLogs drives browser flows through the Middleware and the
// ready-made handlers with a Debug logger: each refused request is one
// record with its reason, method and path, at the reason's level, and no
// token, cookie or Authorization value ever reaches the log.
func TestRefusalLogs(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newAuthFixture(t, func(c *Config) { c.Logger = logger })
	api := Middleware(f.iss, MiddlewareOptions{AccessCookie: true, Logger: logger})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	mux := http.NewServeMux()
	mux.Handle("/api/", api)
	mux.Handle("/", f.h)
	secrets := secretsCollector{}
	browser := func(user string) *browserJar {
		b := newBrowser(t, mux, "test-agent")
		if rec := b.send("POST", "/auth/login?user="+user); rec.Code != http.StatusNoContent {
			t.Fatalf("login: %d", rec.Code)
		}
		return b
	}
	keep := func(b *browserJar) {
		for _, c := range b.cookies {
			secrets.add(c.Value)
		}
	}
	bearer := func(tok string) func(*http.Request) {
		secrets.add(tok)
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}

	type want struct {
		path, method string
		status       int
		reason       Reason
	}
	var wants []want
	expect := func(rec interface{ Result() *http.Response }, w want) {
		t.Helper()
		if got := rec.Result().StatusCode; got != w.status {
			t.Fatalf("%s %s: %d; want %d", w.method, w.path, got, w.status)
		}
		wants = append(wants, w)
	}

	alice := browser("alice")
	keep(alice)
	if rec := alice.send("GET", "/api/me"); rec.Code != http.StatusNoContent {
		t.Fatalf("api: %d", rec.Code)
	}
	anon := newBrowser(t, mux, "")
	expect(anon.send("GET", "/api/missing"), want{"/api/missing", "GET", 401, ReasonMissing})
	expect(anon.send("GET", "/api/forged", bearer(tamper(alice.access()))), want{"/api/forged", "GET", 401, ReasonBadSignature})
	expect(anon.send("GET", "/api/garbage", bearer("not-a-jws")), want{"/api/garbage", "GET", 401, ReasonMalformed})
	expect(alice.send("POST", "/api/cross", crossSiteEvil), want{"/api/cross", "POST", 403, ReasonCrossOrigin})

	thief := alice.fork()
	if rec := alice.send("POST", "/auth/refresh"); rec.Code != http.StatusOK {
		t.Fatalf("refresh: %d", rec.Code)
	}
	keep(alice)
	f.clock.Advance(time.Minute) // past the grace window
	expect(thief.send("POST", "/auth/refresh"), want{"/auth/refresh", "POST", 401, ReasonReused})
	expect(anon.send("POST", "/auth/refresh"), want{"/auth/refresh", "POST", 401, ReasonMissing})

	bob := browser("bob")
	keep(bob)
	expect(bob.send("POST", "/auth/refresh", crossSiteEvil), want{"/auth/refresh", "POST", 403, ReasonCrossOrigin})
	f.clock.Advance(time.Hour)
	expect(bob.send("GET", "/api/stale"), want{"/api/stale", "GET", 401, ReasonExpired})
	expect(bob.send("POST", "/auth/logout-all"), want{"/auth/logout-all", "POST", 401, ReasonExpired})
	if rec := bob.send("POST", "/auth/refresh"); rec.Code != http.StatusOK {
		t.Fatalf("refresh: %d", rec.Code)
	}
	keep(bob)
	old := bob.access()
	if rec := bob.send("POST", "/auth/logout-all"); rec.Code != http.StatusNoContent {
		t.Fatalf("logout-all: %d", rec.Code)
	}
	expect(anon.send("GET", "/api/revoked", bearer(old)), want{"/api/revoked", "GET", 401, ReasonRevoked})

	f.fs.down.Store(true)
	carol := alice.fork()
	expect(carol.send("POST", "/auth/refresh"), want{"/auth/refresh", "POST", 503, ReasonStoreUnavailable})
	f.fs.down.Store(false)

	log := buf.String()
	secrets.wantAbsent(t, log)
	for _, h := range []string{"Authorization", "Cookie", "Bearer "} {
		if strings.Contains(log, h) {
			t.Errorf("the log mentions %q", h)
		}
	}

	// One record per refusal, in order, at the reason's level.
	var refusals []map[string]any
	for _, rec := range jsonRecords(t, log) {
		if _, ok := rec["reason"]; ok && rec["path"] != nil {
			refusals = append(refusals, rec)
		}
	}
	if len(refusals) != len(wants) {
		t.Fatalf("%d refusal records for %d refusals:\n%s", len(refusals), len(wants), log)
	}
	for i, w := range wants {
		rec := refusals[i]
		if rec["reason"] != string(w.reason) || rec["path"] != w.path || rec["method"] != w.method ||
			rec["level"] != w.reason.LogLevel().String() {
			t.Errorf("record %d = %v; want %+v at %v", i, rec, w, w.reason.LogLevel())
		}
		if st, ok := rec["status"]; ok && st != float64(w.status) {
			t.Errorf("record %d status %v; want %d", i, st, w.status)
		}
	}
}

// TestTokenEndpointLogs: the token endpoint's refusals are logged once
// with reason, method and path, and never with an assertion or token.
func TestTokenEndpointLogs(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newOAuthFixtureWith(t, false, func(c *Config) { c.Logger = logger })
	secrets := secretsCollector{}
	a := f.assertion(t, "svc-rsa", nil)
	secrets.add(a)
	_, body, _ := post(t, f.token, bearerForm(a))
	at, _ := body["access_token"].(string)
	secrets.add(at)
	post(t, f.token, bearerForm(a)) // replayed
	forged := tamper(f.assertion(t, "svc-ec", nil))
	secrets.add(forged)
	post(t, f.token, bearerForm(forged))
	toks := login(t, f.iss, "alice")
	secrets.add(toks.RefreshToken)
	secrets.add(toks.AccessToken)
	_, body, _ = post(t, f.token, refreshForm(toks.RefreshToken))
	rt, _ := body["refresh_token"].(string)
	secrets.add(rt)
	f.clock.Advance(time.Minute)
	post(t, f.token, refreshForm(toks.RefreshToken)) // reused

	log := buf.String()
	secrets.wantAbsent(t, log)
	var got []string
	for _, rec := range jsonRecords(t, log) {
		if r, ok := rec["reason"].(string); ok {
			if rec["path"] != "/oauth/token" || rec["method"] != "POST" || rec["level"] != Reason(r).LogLevel().String() {
				t.Errorf("record %v", rec)
			}
			got = append(got, r)
		}
	}
	want := []string{string(ReasonAssertionReplayed), string(ReasonBadSignature), string(ReasonReused)}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("refusal records %v; want %v\n%s", got, want, log)
	}
}

// TestHandlerRefusalsLoggedOnce: a refusal another part already logs with
// the request (OnRefresh's, a store outage's) gets no second record.
func TestHandlerRefusalsLoggedOnce(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newAuthFixture(t, func(c *Config) {
		c.Logger = logger
		c.OnRefresh = func(_ context.Context, s Session) (map[string]any, error) {
			if s.Subject == "banned" {
				return nil, errors.New("banned user")
			}
			return nil, nil
		}
	})
	for _, tt := range []struct {
		name, user string
		down       bool
		status     int
	}{
		{"OnRefresh refuses", "banned", false, http.StatusUnauthorized},
		{"store down", "u1", true, http.StatusServiceUnavailable},
	} {
		b := f.login(t, tt.user, "ua")
		before := len(jsonRecords(t, buf.String()))
		f.fs.down.Store(tt.down)
		rec := b.send("POST", "/auth/refresh")
		f.fs.down.Store(false)
		if rec.Code != tt.status {
			t.Fatalf("%s: %d; want %d", tt.name, rec.Code, tt.status)
		}
		recs := jsonRecords(t, buf.String())[before:]
		if len(recs) != 1 || recs[0]["path"] != "/auth/refresh" || recs[0]["method"] != "POST" {
			t.Errorf("%s: records %v; want one, with the request", tt.name, recs)
		}
	}
}
