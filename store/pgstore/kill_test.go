package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/pgtest"
	"github.com/sessionkit/sessionkit/store/pgstore"
)

// faultEnv enables the kill test, which starts a server of its own and
// runs alone in CI (it would compete with the other packages' tests).
const faultEnv = "PG_FAULT_TESTS"

// acked is what one worker of TestKilledUnderLoad was told had happened.
type acked struct {
	subject string
	// latest is the last refresh token an acknowledged Refresh (or
	// Login) returned for a session that was not logged out.
	latest []string
	// loggedOut are refresh tokens of sessions an acknowledged Logout
	// ended.
	loggedOut []string
	// denied are access tokens an acknowledged RevokeAccessToken revoked.
	denied []string
}

// TestKilledUnderLoad: eight workers log in, refresh, log out and revoke
// access tokens on an Issuer over a private PostgreSQL server, which is
// killed with SIGKILL under that load and restarted. Calls during the
// outage fail with ErrStoreUnavailable and the middleware answers 503;
// after the restart every acknowledged rotation, logout and revocation is
// there (fsync on, default synchronous_commit).
func TestKilledUnderLoad(t *testing.T) {
	if os.Getenv(faultEnv) == "" {
		t.Skipf("set %s=1 to kill a PostgreSQL server under load (CI does, in a step of its own)", faultEnv)
	}
	srv := pgtest.Start(t)
	cfg, err := pgxpool.ParseConfig(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 16
	ctx := context.Background()
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	st, err := pgstore.NewChecked(ctx, p, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key, err := sessionkit.GenerateSigningKey(sessionkit.ES256)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := sessionkit.New(sessionkit.Config{
		Issuer: "https://auth.example.com", Audience: []string{"api"},
		Keys: sessionkit.NewKeySet(key), Store: st,
		// A refresh in flight at the kill may have committed unanswered:
		// its retry after the restart is then a replay of the previous
		// token, which must fall within the window.
		ReuseGrace: sessionkit.MaxReuseGrace,
	})
	if err != nil {
		t.Fatal(err)
	}

	const workers = 8
	var (
		stop      atomic.Bool
		killed    atomic.Bool
		ackedOps  atomic.Int64
		outageErr atomic.Int64
		wg        sync.WaitGroup
	)
	books := make([]*acked, workers)
	errs := make(chan error, workers)
	for w := range workers {
		book := &acked{subject: fmt.Sprintf("user-%d", w)}
		books[w] = book
		wg.Go(func() {
			// fail records an error: ErrStoreUnavailable after the kill is
			// expected, anything else is a failure.
			fail := func(op string, err error) {
				if killed.Load() && errors.Is(err, sessionkit.ErrStoreUnavailable) {
					outageErr.Add(1)
					return
				}
				errs <- fmt.Errorf("worker %d: %s: %w (killed: %v)", w, op, err, killed.Load())
			}
			for i := 0; !stop.Load(); i++ {
				toks, err := iss.Login(ctx, sessionkit.Grant{Subject: book.subject})
				if err != nil {
					fail("Login", err)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				ackedOps.Add(1)
				live := toks.RefreshToken
				book.latest = append(book.latest, live)
				for range 3 {
					next, err := iss.Refresh(ctx, live)
					if err != nil {
						fail("Refresh", err)
						break
					}
					ackedOps.Add(1)
					live = next.RefreshToken
					book.latest[len(book.latest)-1] = live
					toks = next
				}
				switch i % 4 {
				case 1:
					if err := iss.Logout(ctx, live); err != nil {
						fail("Logout", err)
						continue
					}
					ackedOps.Add(1)
					book.latest = book.latest[:len(book.latest)-1]
					book.loggedOut = append(book.loggedOut, live)
				case 2:
					if err := iss.RevokeAccessToken(ctx, toks.AccessToken); err != nil {
						fail("RevokeAccessToken", err)
						continue
					}
					ackedOps.Add(1)
					book.denied = append(book.denied, toks.AccessToken)
				}
			}
		})
	}

	probe, err := iss.Login(ctx, sessionkit.Grant{Subject: "probe"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	before := ackedOps.Load()
	killed.Store(true)
	srv.Kill()
	killedAt := time.Now()
	time.Sleep(500 * time.Millisecond)

	// While the server is down: the middleware answers 503 and lets
	// nothing through.
	var passed atomic.Int32
	api := sessionkit.Middleware(iss, sessionkit.MiddlewareOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		passed.Add(1)
	}))
	if _, err := iss.Login(ctx, sessionkit.Grant{Subject: "probe"}); !errors.Is(err, sessionkit.ErrStoreUnavailable) {
		t.Errorf("Login while the server is down: %v, want ErrStoreUnavailable", err)
	}
	for range 3 {
		req := httptest.NewRequest(http.MethodGet, "https://api.example.com/items", nil)
		req.Header.Set("Authorization", "Bearer "+probe.AccessToken)
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("middleware while the server is down: status %d, want 503", rec.Code)
		}
	}
	if passed.Load() != 0 {
		t.Fatalf("the middleware let %d requests through while the server was down", passed.Load())
	}

	srv.Restart(t)
	restartedAt := time.Now()
	// The pool drops its dead connections as calls fail on them, then
	// dials the restarted server.
	var recovered time.Duration
	for {
		if _, err := st.Version(ctx, "probe"); err == nil {
			recovered = time.Since(restartedAt)
			break
		}
		if time.Since(restartedAt) > 30*time.Second {
			t.Fatal("the store did not answer 30 s after the restart")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d operations acknowledged before the kill, %d in all; %d calls failed with ErrStoreUnavailable during the outage (%v down); the store answered %v after the restart",
		before, ackedOps.Load(), outageErr.Load(), restartedAt.Sub(killedAt).Round(time.Millisecond), recovered.Round(time.Millisecond))

	// Everything acknowledged is there.
	var sessions, logouts, denials int
	for _, b := range books {
		for _, rt := range b.latest {
			if _, err := iss.Refresh(ctx, rt); err != nil {
				t.Errorf("%s: an acknowledged refresh token after the restart: %v", b.subject, err)
			}
			sessions++
		}
		for _, rt := range b.loggedOut {
			if _, err := iss.Refresh(ctx, rt); err == nil {
				t.Errorf("%s: a logged-out session refreshed after the restart", b.subject)
			}
			logouts++
		}
		for _, at := range b.denied {
			if _, err := iss.Verify(ctx, at); !errors.Is(err, sessionkit.ErrTokenRevoked) {
				t.Errorf("%s: a revoked access token after the restart: %v, want ErrTokenRevoked", b.subject, err)
			}
			denials++
		}
	}
	t.Logf("after the restart: %d acknowledged sessions refresh, %d logouts and %d access-token revocations hold", sessions, logouts, denials)
}
