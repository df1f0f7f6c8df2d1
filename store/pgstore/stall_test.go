package pgstore_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit/internal/pgtest"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/pgstore"
)

// TestHungServer: against a server that accepts connections and never
// answers, every call returns at its context's deadline with an error
// wrapping ErrUnavailable and the context's error.
func TestHungServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	p, err := pgxpool.New(context.Background(), "postgres://sessionkit@"+ln.Addr().String()+"/postgres?sslmode=disable&connect_timeout=0")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s, err := pgstore.New(p, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func(context.Context) error{
		"Rotate": func(ctx context.Context) error {
			_, err := rotate(ctx, s, "AAAAAAAAAAAA~sid~1", "sid", 1, t0)
			return err
		},
		"CheckAccess": func(ctx context.Context) error {
			_, err := s.CheckAccess(ctx, store.AccessCheck{Subject: "a", JTI: "j", Now: t0})
			return err
		},
		"Create":  func(ctx context.Context) error { _, err := s.Create(ctx, newSession("sid", "a", t0)); return err },
		"Migrate": func(ctx context.Context) error { return s.Migrate(ctx) },
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		done := make(chan error, 1)
		go func() { done <- call(ctx) }()
		select {
		case err := <-done:
			if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s against a hung server: %v, want ErrUnavailable and DeadlineExceeded", name, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s against a hung server did not return 30 s after its 200 ms deadline", name)
		}
		cancel()
	}
}

// stallProxy forwards TCP connections to a PostgreSQL server and, while
// stalled, holds what clients send (and refuses new connections, such as
// pgx's cancel requests), delivering it when released: a network that
// delays a statement past its caller's deadline.
type stallProxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	cond    *sync.Cond
	stalled bool
	// refuseNew, set, closes new connections (pgx's cancel requests)
	// and lets the open ones through.
	refuseNew atomic.Bool
	// answered counts the bytes the server sent after a release.
	answered atomic.Int64
	released atomic.Bool
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: target}
	p.cond = sync.NewCond(&p.mu)
	t.Cleanup(func() { ln.Close() })
	go p.serve()
	return p
}

func (p *stallProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		stalled := p.stalled
		p.mu.Unlock()
		if stalled || p.refuseNew.Load() {
			c.Close()
			continue
		}
		srv, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		go func() { // server to client, counting after a release
			buf := make([]byte, 4096)
			for {
				n, err := srv.Read(buf)
				if n > 0 {
					if p.released.Load() {
						p.answered.Add(int64(n))
					}
					c.Write(buf[:n]) //nolint:errcheck // the client may be gone
				}
				if err != nil {
					c.Close()
					return
				}
			}
		}()
		go func() { // client to server, through the gate
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					p.mu.Lock()
					for p.stalled {
						p.cond.Wait()
					}
					p.mu.Unlock()
					if _, werr := srv.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					if !errors.Is(err, io.EOF) {
						// Keep the server's side open until it has answered
						// what was delivered.
						time.Sleep(2 * time.Second)
					}
					srv.Close()
					return
				}
			}
		}()
	}
}

func (p *stallProxy) setStalled(v bool) {
	p.mu.Lock()
	p.stalled = v
	if !v {
		p.released.Store(true)
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}

// stallOn stalls the proxy when the second statement containing marker
// starts: the first one has made pgx prepare and cache the statement on
// the connection, so that the second goes out whole (bind and execute)
// and the server runs it when it arrives.
type stallOn struct {
	p      *stallProxy
	marker string
	seen   atomic.Int64
	hit    atomic.Bool
}

func (s *stallOn) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.Contains(d.SQL, s.marker) && s.seen.Add(1) == 2 {
		s.hit.Store(true)
		s.p.setStalled(true)
	}
	return ctx
}

func (s *stallOn) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestStalledRotationWritesNothing: a rotation whose write reaches the
// server only after its caller's deadline (a stalled network: the client
// gave up, its cancel request never arrived) must not take effect, or the
// caller's retry with the same token would be reuse once the grace window
// has passed. The write carries the deadline on the server's clock.
func TestStalledRotationWritesNothing(t *testing.T) {
	t.Parallel()
	direct := pool(t)
	schema := pgtest.Schema(t, direct)
	var tracer *stallOn
	s, proxy := proxied(t, schema, func(p *stallProxy) pgx.QueryTracer {
		tracer = &stallOn{p: p, marker: "WITH u AS ("}
		return tracer
	})
	ctx := context.Background()
	warm := create(t, s, "warm", "alice", t0)
	if r, err := rotate(ctx, s, warm.Handle, "warm", 1, t0); err != nil || r.Outcome != store.Rotated {
		t.Fatalf("warming up: %v, %v", r.Outcome, err)
	}
	c := create(t, s, "stall", "alice", t0)

	rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err := rotate(rctx, s, c.Handle, "stall", 1, t0)
	cancel()
	if !tracer.hit.Load() {
		t.Fatal("the rotation never reached its write")
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a rotation stalled past its deadline: %v, want ErrUnavailable", err)
	}
	time.Sleep(300 * time.Millisecond) // well past the deadline
	proxy.setStalled(false)
	for i := 0; proxy.answered.Load() == 0; i++ {
		if i == 300 {
			t.Fatal("the server never answered the delivered write")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The write arrived late and did nothing.
	loginTokenRotates(t, direct, schema, c.Handle, "stall")
}

// TestRotationBehindALockWritesNothing: a rotation whose write waits for
// the session's row lock (another transaction holds it) past its caller's
// deadline, its cancel request lost, must not take effect when the lock
// is released: the deadline is checked again once the row is locked.
func TestRotationBehindALockWritesNothing(t *testing.T) {
	t.Parallel()
	direct := pool(t)
	schema := pgtest.Schema(t, direct)
	s, proxy := proxied(t, schema, nil)
	ctx := context.Background()
	c := create(t, s, "locked", "alice", t0)

	tx, err := direct.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // committed below
	if _, err := tx.Exec(ctx, `SELECT 1 FROM `+pgx.Identifier{schema, "sessionkit_sessions"}.Sanitize()+` WHERE id = 'locked' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	proxy.refuseNew.Store(true)
	rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = rotate(rctx, s, c.Handle, "locked", 1, t0)
	cancel()
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a rotation behind a lock past its deadline: %v, want ErrUnavailable", err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := tx.Commit(ctx); err != nil { // the lock goes; the waiting UPDATE runs
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	loginTokenRotates(t, direct, schema, c.Handle, "locked")
}

// proxied opens a migrated store on schema through a stallProxy in front
// of the server (one connection, so that statements stay prepared on it),
// with the pgx tracer tracer makes for the proxy, if any.
func proxied(t *testing.T, schema string, tracer func(*stallProxy) pgx.QueryTracer) (*pgstore.Store, *stallProxy) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newStallProxy(t, cfg.ConnConfig.Host+":"+strconv.Itoa(int(cfg.ConnConfig.Port)))
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = "127.0.0.1", uint16(proxy.ln.Addr().(*net.TCPAddr).Port)
	if tracer != nil {
		cfg.ConnConfig.Tracer = tracer(proxy)
	}
	cfg.MaxConns = 1
	ctx := context.Background()
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	s, err := pgstore.NewChecked(ctx, p, pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	return s, proxy
}

// loginTokenRotates checks, on a store of its own over direct, that the
// login token of session id (handle) is still current: it rotates, long
// after any grace window, so the write the test withheld took no effect.
func loginTokenRotates(t *testing.T, direct *pgxpool.Pool, schema, handle, id string) {
	t.Helper()
	check, err := pgstore.New(direct, pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	r, err := rotate(context.Background(), check, handle, id, 1, t0.Add(time.Hour))
	if err != nil || r.Outcome != store.Rotated {
		t.Fatalf("after the withheld write was delivered: %v, %v; want the login token to rotate (nothing written)", r.Outcome, err)
	}
}
