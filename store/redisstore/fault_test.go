package redisstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// hangBound is how long a test waits for a call that must return at a
// short context deadline before declaring it hung. It is a hang detector,
// not a timing assertion: the deadlines are 50 ms.
const hangBound = 20 * time.Second

// silentServer is a TCP server on 127.0.0.1 that accepts connections, reads
// what they send and never answers. heard is closed when the first bytes
// arrive.
type silentServer struct {
	addr  string
	heard chan struct{}
}

func newSilentServer(t *testing.T) *silentServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silentServer{addr: l.Addr().String(), heard: make(chan struct{})}
	var once sync.Once
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
					once.Do(func() { close(s.heard) })
				}
			})
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return s
}

// await runs call and returns its error, failing the test if it does not
// return within hangBound.
func await(t *testing.T, what string, call func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-time.After(hangBound):
		t.Fatalf("%s did not return %v after its context's deadline: it hangs", what, hangBound)
		return nil
	}
}

// TestContextDeadlineOnSilentServer: against a server that accepts and
// never answers, every method returns at its context's deadline with an
// error wrapping ErrUnavailable and context.DeadlineExceeded, whatever the
// client's own timeouts. The clients have no read timeout at all, so only
// the context can end a call.
func TestContextDeadlineOnSilentServer(t *testing.T) {
	t.Parallel()
	clients := []struct {
		name string
		make func(addr string) redis.UniversalClient
	}{
		{"client ignoring contexts", func(addr string) redis.UniversalClient {
			return redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: -1, WriteTimeout: -1})
		}},
		{"client with ContextTimeoutEnabled", func(addr string) redis.UniversalClient {
			return redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: -1, WriteTimeout: -1, ContextTimeoutEnabled: true})
		}},
		{"client with ContextTimeoutEnabled but deadlines off", func(addr string) redis.UniversalClient {
			return redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: -2, WriteTimeout: -2, ContextTimeoutEnabled: true})
		}},
		{"cluster client", func(addr string) redis.UniversalClient {
			return redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}, ReadTimeout: -1, WriteTimeout: -1})
		}},
	}
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			t.Parallel()
			srv := newSilentServer(t)
			c := cl.make(srv.addr)
			t.Cleanup(func() { c.Close() })
			s, err := redisstore.New(c, redisstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range methods(s, "alice") {
				t.Run(m.name, func(t *testing.T) {
					t.Parallel()
					ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
					defer cancel()
					err := await(t, m.name, func() error { return m.call(ctx) })
					if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("%s on a silent server: got %v, want an error wrapping ErrUnavailable and context.DeadlineExceeded", m.name, err)
					}
				})
			}
		})
	}
}

// TestContextCanceledOnSilentServer: a call in flight, whose context has a
// deadline the client does not honour itself, returns when its context is
// cancelled before that deadline (the server has received the command), with
// an error wrapping ErrUnavailable and context.Canceled.
func TestContextCanceledOnSilentServer(t *testing.T) {
	t.Parallel()
	srv := newSilentServer(t)
	c := redis.NewClient(&redis.Options{Addr: srv.addr, ReadTimeout: -1, WriteTimeout: -1})
	t.Cleanup(func() { c.Close() })
	s, err := redisstore.New(c, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	go func() {
		<-srv.heard
		cancel()
	}()
	err = await(t, "Rotate", func() error {
		_, err := s.Rotate(ctx, store.Rotation{
			Handle: store.FormatHandle(store.HandleInfo{Tag: store.SubjectTag("alice"), SessionID: "sid-1", Generation: 1}),
			Now:    t0, IdleExpiresAt: t0.Add(time.Hour),
		})
		return err
	})
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("Rotate cancelled in flight: got %v, want an error wrapping ErrUnavailable and context.Canceled", err)
	}
}

// ---- a redis-server of the test's own ----

// redisServer is a redis-server process the test started on 127.0.0.1 in
// a directory of its own.
type redisServer struct {
	t     *testing.T
	bin   string
	dir   string
	port  atomic.Int32            // read by clients' dialers while the server restarts
	args  func(port int) []string // the command line after the binary
	ready string                  // the log line that says it is ready
	cmd   *exec.Cmd
}

// startRedisServer starts a persistent redis-server (appendonly yes,
// appendfsync always) on a free port.
func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	dir := t.TempDir()
	return startRedis(t, dir, "Ready to accept connections", func(port int) []string {
		return []string{
			"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
			"--appendonly", "yes", "--appendfsync", "always", "--save", "",
			"--daemonize", "no", "--logfile", "",
		}
	})
}

// startRedis starts redis-server with args on a free port and waits for the
// ready line in its log. It skips the test when redis-server is not
// installed, except under CI=true, where it fails.
func startRedis(t *testing.T, dir, ready string, args func(port int) []string) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if inCI() {
			t.Fatalf("redis-server is not installed under CI=true (.ci/run installs it): %v", err)
		}
		t.Skipf("redis-server is not installed: %v", err)
	}
	s := &redisServer{t: t, bin: bin, dir: dir, args: args, ready: ready}
	t.Cleanup(s.kill)
	var lastErr error
	if lastErr = s.startOnFreePort(); lastErr != nil {
		t.Fatalf("starting redis-server: %v", lastErr)
	}
	return s
}

// startOnFreePort starts the server on a free port, trying a few: a free
// port can be taken between finding it and binding it.
func (s *redisServer) startOnFreePort() error {
	var err error
	for range 5 {
		port, perr := freePort()
		if perr != nil {
			return perr
		}
		s.port.Store(int32(port))
		if err = s.start(); err == nil {
			return nil
		}
	}
	return err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(int(s.port.Load())) }

// dialer dials the server wherever it is now, so that a client keeps
// finding it after a restart on another port.
func (s *redisServer) dialer(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, s.addr())
}

// start runs redis-server on s.port and waits until it logs its ready
// line.
func (s *redisServer) start() error {
	cmd := exec.Command(s.bin, s.args(int(s.port.Load()))...)
	dieWithTest(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var log []string
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, s.ready) {
				ready <- nil
				io.Copy(io.Discard, out) // keep the pipe drained
				return
			}
			log = append(log, line)
		}
		ready <- fmt.Errorf("redis-server exited before it was ready:\n%s", strings.Join(log, "\n"))
	}()
	select {
	case err := <-ready:
		if err != nil {
			cmd.Wait()
			return err
		}
		s.cmd = cmd
		return nil
	case <-time.After(hangBound):
		cmd.Process.Kill()
		cmd.Wait()
		return errors.New("redis-server did not become ready")
	}
}

// kill stops the server with SIGKILL (kill -9), by its own PID.
func (s *redisServer) kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// restart starts the server again on the same directory and port, or on
// another port if that one was taken meanwhile (clients using s.dialer
// follow it).
func (s *redisServer) restart() {
	s.t.Helper()
	if err := s.start(); err != nil {
		if err := s.startOnFreePort(); err != nil {
			s.t.Fatalf("restarting redis-server: %v", err)
		}
	}
}

// waitReachable waits until c answers PING again, failing the test if that
// takes longer than hangBound.
func waitReachable(t *testing.T, c redis.UniversalClient) {
	t.Helper()
	deadline := time.Now().Add(hangBound)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the client did not reconnect to the restarted server within %v", hangBound)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clock is a settable clock for the issuer.
type clock struct{ now atomic.Pointer[time.Time] }

func newClock() *clock {
	c := &clock{}
	c.set(time.Now().Truncate(time.Millisecond))
	return c
}
func (c *clock) Now() time.Time          { return *c.now.Load() }
func (c *clock) set(t time.Time)         { c.now.Store(&t) }
func (c *clock) advance(d time.Duration) { c.set(c.Now().Add(d)) }

// TestRedisKilledAndRestarted runs sessionkit on a persistent redis-server,
// kills it with SIGKILL, checks that everything fails closed while it is
// down, restarts it and checks that every acknowledged session, rotation,
// revocation and version bump survived and that everything works again.
func TestRedisKilledAndRestarted(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.addr(), Dialer: srv.dialer, DialerRetries: 1, MaxRetries: 1})
	t.Cleanup(func() { rdb.Close() })
	st, err := redisstore.New(rdb, redisstore.Options{Prefix: freshPrefix()})
	if err != nil {
		t.Fatal(err)
	}
	key, err := sessionkit.GenerateSigningKey(sessionkit.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	iss, err := sessionkit.New(sessionkit.Config{
		Issuer: "https://auth.example.com", Audience: []string{"api"},
		Keys: sessionkit.NewKeySet(key), Store: st, Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	login := func(subject, ua string) *sessionkit.Tokens {
		t.Helper()
		toks, err := iss.Login(ctx, sessionkit.Grant{Subject: subject, Device: sessionkit.Device{UserAgent: ua}})
		if err != nil {
			t.Fatalf("Login(%s): %v", subject, err)
		}
		return toks
	}
	refresh := func(toks *sessionkit.Tokens) *sessionkit.Tokens {
		t.Helper()
		next, err := iss.Refresh(ctx, toks.RefreshToken)
		if err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		return next
	}

	// Acknowledged writes: each call returned before the kill.
	alice1 := login("alice", "laptop")
	clk.advance(time.Second) // Sessions lists oldest first
	alice2 := login("alice", "phone")
	clk.advance(time.Second)
	alice1r := refresh(alice1) // rotated
	if err := iss.RevokeAccessToken(ctx, alice2.AccessToken); err != nil {
		t.Fatal(err)
	}
	alice3 := login("alice", "tablet")
	if err := iss.RevokeSession(ctx, "alice", alice3.SessionID); err != nil {
		t.Fatal(err)
	}
	bob := login("bob", "laptop")
	if err := iss.LogoutAll(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	erin := login("erin", "laptop")
	erinR := refresh(erin)
	users := make([]*sessionkit.Tokens, 20)
	for i := range users {
		users[i] = login(fmt.Sprintf("user-%d", i), "ua")
		users[i] = refresh(users[i])
	}

	srv.kill()

	// While Redis is down: every stateful call fails with
	// ErrStoreUnavailable, and the middleware answers 503 without ever
	// letting a request through.
	down := []struct {
		name string
		call func() error
	}{
		{"Login", func() error { _, err := iss.Login(ctx, sessionkit.Grant{Subject: "carol"}); return err }},
		{"Refresh", func() error { _, err := iss.Refresh(ctx, alice1r.RefreshToken); return err }},
		{"Verify", func() error { _, err := iss.Verify(ctx, alice1r.AccessToken); return err }},
		{"Verify of a revoked token", func() error { _, err := iss.Verify(ctx, alice2.AccessToken); return err }},
		{"Logout", func() error { return iss.Logout(ctx, alice1r.RefreshToken) }},
		{"LogoutAll", func() error { return iss.LogoutAll(ctx, "alice") }},
		{"Sessions", func() error { _, err := iss.Sessions(ctx, "alice"); return err }},
	}
	for _, d := range down {
		if err := d.call(); !errors.Is(err, sessionkit.ErrStoreUnavailable) {
			t.Errorf("%s while Redis is down: got %v, want ErrStoreUnavailable", d.name, err)
		}
	}
	var passed atomic.Int32
	api := sessionkit.Middleware(iss, sessionkit.MiddlewareOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		passed.Add(1)
		claims, _ := sessionkit.ClaimsFromContext(r.Context())
		fmt.Fprint(w, claims.Subject)
	}))
	get := func(token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "https://api.example.com/items", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		return rec
	}
	for _, tok := range []string{alice1r.AccessToken, alice1.AccessToken, alice2.AccessToken, bob.AccessToken, users[0].AccessToken} {
		if rec := get(tok); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("middleware while Redis is down: got status %d, want 503", rec.Code)
		}
	}
	if n := passed.Load(); n != 0 {
		t.Fatalf("middleware let %d requests through as authenticated while Redis was down", n)
	}

	srv.restart()
	// After failed dials go-redis probes the server about once a second
	// before it dials for callers again: wait for that, not for any expiry.
	waitReachable(t, rdb)

	// Everything acknowledged survived, and everything works again.
	for _, v := range []struct {
		name    string
		token   string
		wantErr error
	}{
		{"alice's rotated session", alice1r.AccessToken, nil},
		{"alice's session, token from before the rotation", alice1.AccessToken, nil},
		{"alice's denied access token", alice2.AccessToken, sessionkit.ErrTokenRevoked},
		{"alice's revoked session", alice3.AccessToken, sessionkit.ErrTokenRevoked},
		{"bob, logged out everywhere", bob.AccessToken, sessionkit.ErrTokenRevoked},
	} {
		_, err := iss.Verify(ctx, v.token)
		if (v.wantErr == nil && err != nil) || (v.wantErr != nil && !errors.Is(err, v.wantErr)) {
			t.Errorf("Verify(%s) after the restart: got %v, want %v", v.name, err, v.wantErr)
		}
	}
	if _, err := iss.Refresh(ctx, bob.RefreshToken); !errors.Is(err, sessionkit.ErrSessionRevoked) {
		t.Errorf("Refresh of bob's session after the restart: got %v, want ErrSessionRevoked (LogoutAll survived)", err)
	}
	if _, err := iss.Refresh(ctx, alice3.RefreshToken); !errors.Is(err, sessionkit.ErrSessionRevoked) {
		t.Errorf("Refresh of alice's revoked session after the restart: got %v, want ErrSessionRevoked", err)
	}
	list, err := iss.Sessions(ctx, "alice")
	if err != nil {
		t.Fatalf("Sessions after the restart: %v", err)
	}
	var sids []string
	for _, s := range list {
		sids = append(sids, s.ID)
	}
	if want := []string{alice1.SessionID, alice2.SessionID}; !slices.Equal(sids, want) {
		t.Errorf("Sessions(alice) after the restart = %q, want %q", sids, want)
	}
	alice1rr := refresh(alice1r) // the rotation survived: its successor rotates
	if _, err := iss.Verify(ctx, alice1rr.AccessToken); err != nil {
		t.Errorf("Verify of a token minted after the restart: %v", err)
	}
	for i, u := range users {
		if _, err := iss.Verify(ctx, u.AccessToken); err != nil {
			t.Errorf("Verify(user-%d) after the restart: %v", i, err)
		}
		refresh(u)
	}
	if _, err := iss.Login(ctx, sessionkit.Grant{Subject: "carol"}); err != nil {
		t.Errorf("Login after the restart: %v", err)
	}
	if rec := get(alice1rr.AccessToken); rec.Code != http.StatusOK || rec.Body.String() != "alice" {
		t.Errorf("middleware after the restart: got %d %q, want 200 \"alice\"", rec.Code, rec.Body.String())
	}
	// The spent-hash history survived: erin's first token, presented
	// outside the grace window, is reuse.
	clk.advance(time.Minute)
	if _, err := iss.Refresh(ctx, erin.RefreshToken); !errors.Is(err, sessionkit.ErrRefreshReused) {
		t.Errorf("Refresh with erin's spent token after the restart: got %v, want ErrRefreshReused", err)
	}
	if _, err := iss.Refresh(ctx, erinR.RefreshToken); !errors.Is(err, sessionkit.ErrSessionRevoked) {
		t.Errorf("Refresh with erin's current token after the reuse: got %v, want ErrSessionRevoked", err)
	}
}
