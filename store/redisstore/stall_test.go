//go:build unix

package redisstore_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

	if err := srv.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = srv.cmd.Process.Signal(syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)
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

// TestStallCausesNoFalseReuse: 32 clients refresh in a loop through an
// Issuer (StoreTimeout's default second) and, after an error, retry their
// old token, while redis-server is stopped (SIGSTOP) for 15 s and then
// continued. The rotations sent during the stall reach the server after
// their callers gave up, and take no effect, so no retry is taken for
// reuse: no reuse event, and every session still refreshes. A real reuse
// planted in the same run (a token two rotations old) is detected.
func TestStallCausesNoFalseReuse(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("a 15 s stall")
	}
	srv := startRedisServer(t)
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{srv.addr()}, ContextTimeoutEnabled: true})
	t.Cleanup(func() { rdb.Close() })
	st, err := redisstore.New(rdb, redisstore.Options{Prefix: freshPrefix()})
	if err != nil {
		t.Fatal(err)
	}
	key, err := sessionkit.GenerateSigningKey(sessionkit.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	reused := map[string]int{} // session id -> reuse events
	iss, err := sessionkit.New(sessionkit.Config{
		Issuer: "https://auth.example.com", Audience: []string{"api"},
		Keys: sessionkit.NewKeySet(key), Store: st,
		Events: func(_ context.Context, e sessionkit.Event) {
			if e.Kind == sessionkit.EventReuseDetected {
				mu.Lock()
				reused[e.SessionID]++
				mu.Unlock()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const clients = 32
	toks := make([]*sessionkit.Tokens, clients)
	for i := range toks {
		if toks[i], err = iss.Login(ctx, sessionkit.Grant{Subject: "user-" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	planted, err := iss.Login(ctx, sessionkit.Grant{Subject: "victim"})
	if err != nil {
		t.Fatal(err)
	}
	old := planted.RefreshToken
	for range 2 { // two rotations: old is now two generations back
		if planted, err = iss.Refresh(ctx, planted.RefreshToken); err != nil {
			t.Fatal(err)
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var errorsSeen, reuseErrors atomic.Int64
	for i := range clients {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				next, err := iss.Refresh(ctx, toks[i].RefreshToken) // the store call gets the 1 s default deadline
				switch {
				case err == nil:
					toks[i] = next
				case errors.Is(err, sessionkit.ErrRefreshReused):
					reuseErrors.Add(1)
					return
				default:
					errorsSeen.Add(1)
					time.Sleep(100 * time.Millisecond) // then retry the same, old token
				}
			}
		})
	}
	time.Sleep(2 * time.Second)
	if err := srv.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(15 * time.Second)
	if err := srv.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()

	if _, err := iss.Refresh(ctx, old); !errors.Is(err, sessionkit.ErrRefreshReused) {
		t.Errorf("the planted reuse: %v; want ErrRefreshReused", err)
	}
	mu.Lock()
	victim, falseReuse := reused[planted.SessionID], 0
	for id, n := range reused {
		if id != planted.SessionID {
			falseReuse += n
		}
	}
	mu.Unlock()
	if victim != 1 {
		t.Errorf("the planted reuse was reported %d times; want 1", victim)
	}
	alive := 0
	for i := range toks {
		if _, err := iss.Refresh(ctx, toks[i].RefreshToken); err == nil {
			alive++
		}
	}
	t.Logf("errors during the stall: %d; false reuse: %d events, %d refused refreshes; sessions alive: %d of %d",
		errorsSeen.Load(), falseReuse, reuseErrors.Load(), alive, clients)
	if falseReuse != 0 || reuseErrors.Load() != 0 || alive != clients {
		t.Errorf("false reuse %d events, %d refused refreshes, %d of %d sessions alive; want 0, 0, all", falseReuse, reuseErrors.Load(), alive, clients)
	}
	if errorsSeen.Load() == 0 {
		t.Error("no client saw the stall: the test tested nothing")
	}
}
