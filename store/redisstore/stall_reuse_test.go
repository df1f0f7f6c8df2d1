//go:build unix

package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// The stall of issue "store faults without false alarms": 32 clients
// refreshing in a loop, redis-server stopped for 15 s (longer than the
// 10 s grace window) and continued.
const (
	stallClients  = 32
	stallDuration = 15 * time.Second
	stallRetry    = 100 * time.Millisecond // a client's backoff after an error
)

// TestStallIsNotReuse: 32 clients, each with its own session, refresh in a
// loop through an Issuer (default StoreTimeout) on the README's client and
// a persistent redis-server (appendfsync always); after an error a client
// retries its old token after a short backoff until it succeeds. The server
// is stopped (SIGSTOP) for 15 s mid-run, then continued. No client's
// session is taken for reuse (no EventReuseDetected, every session still
// refreshes afterwards), while two real reuses planted in the same run are
// detected after the stall: a token two rotations old, and the previous
// token, 15 s after a rotation whose caller got its answer.
//
// Two things make it so. The store's cut-off: a rotation that waited in
// the stopped server's sockets writes nothing when it runs after its
// caller's deadline. The Issuer's memory of the rotations it gave up on:
// with appendfsync always, Redis replies only after the fsync of the
// commands an event-loop turn ran, and that is where a stop under load
// usually lands, so rotations that ran in time lose their answers; their
// callers' retries are replays.
//
// SESSIONKIT_STALL_WITHOUT=cutoff runs it with the cut-off switched off
// (redisstore.WithoutCutoff) and reports the false reuse it finds instead
// of failing.
func TestStallIsNotReuse(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("a 15 s stall")
	}
	without := os.Getenv("SESSIONKIT_STALL_WITHOUT")
	unfixed := without != ""
	srv := startRedisServer(t)
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{srv.addr()}, ContextTimeoutEnabled: true})
	t.Cleanup(func() { rdb.Close() })
	st, err := redisstore.New(rdb, redisstore.Options{Prefix: freshPrefix()})
	if err != nil {
		t.Fatal(err)
	}
	switch without {
	case "cutoff":
		redisstore.WithoutCutoff(st)
	case "":
	default:
		t.Fatalf("SESSIONKIT_STALL_WITHOUT=%q: want cutoff", without)
	}
	key, err := sessionkit.GenerateSigningKey(sessionkit.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	reused := map[string]int{} // session id -> EventReuseDetected
	iss, err := sessionkit.New(sessionkit.Config{
		Issuer: "https://auth.example.com", Audience: []string{"api"},
		Keys: sessionkit.NewKeySet(key), Store: st,
		Logger: slog.New(slog.DiscardHandler),
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
	ctx := context.Background() // the Issuer's StoreTimeout bounds each call
	login := func(subject string) *sessionkit.Tokens {
		t.Helper()
		toks, err := iss.Login(ctx, sessionkit.Grant{Subject: subject})
		if err != nil {
			t.Fatalf("Login(%s): %v", subject, err)
		}
		return toks
	}
	refresh := func(what string, toks *sessionkit.Tokens) *sessionkit.Tokens {
		t.Helper()
		next, err := iss.Refresh(ctx, toks.RefreshToken)
		if err != nil {
			t.Fatalf("Refresh(%s): %v", what, err)
		}
		return next
	}

	// The planted reuses, rotated (and answered) before the stall.
	thief1 := login("planted-old")
	t1 := refresh("planted-old", thief1)
	t1 = refresh("planted-old", t1) // thief1 is two rotations old now
	thief2 := login("planted-previous")
	t2 := refresh("planted-previous", thief2) // thief2 is the previous token

	type client struct {
		toks              *sessionkit.Tokens
		ok, failed        int
		okDuring, okAfter int
		fatal             error // ErrRefreshReused, ErrSessionRevoked, ...
	}
	clients := make([]*client, stallClients)
	for i := range clients {
		clients[i] = &client{toks: login(fmt.Sprintf("client-%d", i))}
	}
	var phase atomic.Int32 // 0 before the stall, 1 during, 2 after
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				next, err := iss.Refresh(ctx, c.toks.RefreshToken)
				switch {
				case err == nil:
					c.toks = next
					c.ok++
					switch phase.Load() {
					case 1:
						c.okDuring++
					case 2:
						c.okAfter++
					}
				case errors.Is(err, sessionkit.ErrStoreUnavailable):
					c.failed++
					time.Sleep(stallRetry) // then the same token again
				default:
					c.fatal = err // reuse or revocation: this session is over
					return
				}
			}
		})
	}

	time.Sleep(2 * time.Second)
	resume := stopServer(t, srv)
	phase.Store(1)
	stopped := time.Now()
	time.Sleep(stallDuration)
	resume()
	phase.Store(2)
	t.Logf("redis-server stopped for %v", time.Since(stopped).Round(time.Millisecond))
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()

	// The planted reuses: more than the grace window after their
	// rotations, both detected.
	if _, err := iss.Refresh(ctx, thief1.RefreshToken); !errors.Is(err, sessionkit.ErrRefreshReused) {
		t.Errorf("a token two rotations old after the stall: %v, want ErrRefreshReused", err)
	}
	if _, err := iss.Refresh(ctx, t1.RefreshToken); !errors.Is(err, sessionkit.ErrSessionRevoked) {
		t.Errorf("the current token of a session whose old token was reused: %v, want ErrSessionRevoked", err)
	}
	if _, err := iss.Refresh(ctx, thief2.RefreshToken); !errors.Is(err, sessionkit.ErrRefreshReused) {
		t.Errorf("the previous token, 15 s after an answered rotation: %v, want ErrRefreshReused", err)
	}
	if _, err := iss.Refresh(ctx, t2.RefreshToken); !errors.Is(err, sessionkit.ErrSessionRevoked) {
		t.Errorf("the current token of a session whose previous token was reused: %v, want ErrSessionRevoked", err)
	}

	var falseReuse, revoked, ok, failed, okDuring, okAfter int
	mu.Lock()
	for _, c := range clients {
		falseReuse += reused[c.toks.SessionID]
	}
	planted := reused[thief1.SessionID] + reused[thief2.SessionID]
	mu.Unlock()
	for i, c := range clients {
		ok, failed, okDuring, okAfter = ok+c.ok, failed+c.failed, okDuring+c.okDuring, okAfter+c.okAfter
		if c.fatal != nil {
			revoked++
			if !unfixed {
				t.Errorf("client %d: %v", i, c.fatal)
			}
			continue
		}
		// The session lives: it refreshes once more, and is listed.
		if _, err := iss.Refresh(ctx, c.toks.RefreshToken); err != nil {
			revoked++
			if !unfixed {
				t.Errorf("client %d after the stall: %v", i, err)
			}
		}
	}
	t.Logf("%d refreshes (%d during the stall, %d after it), %d store errors; "+
		"false reuse detections %d, sessions lost %d of %d; planted reuse detected %d of 2",
		ok, okDuring, okAfter, failed, falseReuse, revoked, stallClients, planted)
	if unfixed {
		t.Logf("without %s: %d false reuse detections, %d of %d sessions revoked", without, falseReuse, revoked, stallClients)
		return
	}
	if falseReuse != 0 {
		t.Errorf("%d false reuse detections for sessions that only retried their token", falseReuse)
	}
	if okAfter == 0 {
		t.Error("no refresh succeeded after the server continued")
	}
	if planted != 2 {
		t.Errorf("%d EventReuseDetected for the planted reuses, want 2", planted)
	}
}
