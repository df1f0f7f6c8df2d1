//go:build unix

package redisstore_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// stallBound is the bound of issue "a hung store answers 503 in about a
// second": Config.StoreTimeout's default second plus a generous margin
// for a loaded test machine. Without the default deadline the first 503
// came after about 10 s (go-redis's read timeout, retried).
const stallBound = 3 * time.Second

// TestStoppedServerAnswers503: with redis-server stopped (SIGSTOP: the
// socket stays open, nothing answers), the Middleware and RefreshHandler
// answer 503 with Retry-After within stallBound, with no deadline of the
// application's, on the client the README shows and on go-redis's default
// one; once the server continues, the same session works.
func TestStoppedServerAnswers503(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		opts redis.UniversalOptions
	}{
		{"README's client", redis.UniversalOptions{ContextTimeoutEnabled: true}},
		{"default client", redis.UniversalOptions{}}, // the store's guard goroutine ends the call
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stoppedServerAnswers503(t, tt.opts)
		})
	}
}

func stoppedServerAnswers503(t *testing.T, opts redis.UniversalOptions) {
	srv := startRedisServer(t)
	opts.Addrs = []string{srv.addr()}
	rdb := redis.NewUniversalClient(&opts)
	t.Cleanup(func() { rdb.Close() })
	st, err := redisstore.New(rdb, redisstore.Options{Prefix: freshPrefix()})
	if err != nil {
		t.Fatal(err)
	}
	key, err := sessionkit.GenerateSigningKey(sessionkit.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := sessionkit.New(sessionkit.Config{
		Issuer: "https://auth.example.com", Audience: []string{"api"},
		Keys: sessionkit.NewKeySet(key), Store: st,
	})
	if err != nil {
		t.Fatal(err)
	}
	toks, err := iss.Login(context.Background(), sessionkit.Grant{Subject: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	api := sessionkit.Middleware(iss, sessionkit.MiddlewareOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	refresh := iss.RefreshHandler()
	call := func(h http.Handler, r *http.Request) (*httptest.ResponseRecorder, time.Duration) {
		start := time.Now()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec, time.Since(start)
	}
	apiReq := func() *http.Request {
		r := httptest.NewRequest("GET", "/api", nil)
		r.Header.Set("Authorization", "Bearer "+toks.AccessToken)
		return r
	}
	refreshReq := func() *http.Request {
		r := httptest.NewRequest("POST", "/auth/refresh", strings.NewReader(`{"refresh_token":"`+toks.RefreshToken+`"}`))
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	if rec, _ := call(api, apiReq()); rec.Code != http.StatusNoContent {
		t.Fatalf("before the stall: %d", rec.Code)
	}

	resume := stopServer(t, srv)
	for _, tt := range []struct {
		name string
		h    http.Handler
		req  func() *http.Request
	}{{"Middleware", api, apiReq}, {"RefreshHandler", refresh, refreshReq}} {
		rec, took := call(tt.h, tt.req())
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Errorf("%s on a stopped server: %d, Retry-After %q", tt.name, rec.Code, rec.Header().Get("Retry-After"))
		}
		if took > stallBound {
			t.Errorf("%s answered after %v; want within %v (StoreTimeout %v)", tt.name, took, stallBound, sessionkit.DefaultStoreTimeout)
		}
		t.Logf("%s: %d after %v", tt.name, rec.Code, took.Round(time.Millisecond))
	}

	resume()
	deadline := time.Now().Add(hangBound)
	for {
		rec, _ := call(api, apiReq())
		if rec.Code == http.StatusNoContent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after SIGCONT: still %d", rec.Code)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopServer stops srv (SIGSTOP: its sockets stay open, nothing answers) and
// returns the function that continues it (SIGCONT), which also runs when
// the test ends; calls after the first do nothing.
func stopServer(t *testing.T, srv *redisServer) (resume func()) {
	t.Helper()
	if err := srv.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	resume = func() { once.Do(func() { _ = srv.cmd.Process.Signal(syscall.SIGCONT) }) }
	t.Cleanup(resume)
	return resume
}
