package redisstore_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	mrserver "github.com/alicebob/miniredis/v2/server"
	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// viewStaleness is the tests' ViewOptions.MaxStaleness: short, so that a
// lost or silent subscription shows within the tests' waits.
const viewStaleness = 100 * time.Millisecond

// viewWait bounds the tests' waits for something the view must do within
// a few MaxStaleness: a hang detector, not a timing assertion.
const viewWait = 10 * time.Second

// viewFixture is two instances on one Redis: A, an Issuer on a plain
// Store, and B, an Issuer whose store is a View on a client of its own.
type viewFixture struct {
	a, b   *sessionkit.Issuer
	view   *redisstore.View
	prefix string
}

// newViewFixture builds the fixture: A on client a, B's View on client b
// (both under one fresh prefix), with opts (Leeway 1ms when zero).
func newViewFixture(t *testing.T, a, b redis.UniversalClient, opts redisstore.ViewOptions) *viewFixture {
	t.Helper()
	sa, prefix := newStore(t, a)
	sb, err := redisstore.New(b, redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	if opts.MaxStaleness == 0 {
		opts.MaxStaleness = viewStaleness
	}
	if opts.Leeway == 0 {
		opts.Leeway = time.Millisecond
	}
	view, err := sb.Watch(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { view.Close() })
	key, err := sessionkit.GenerateSigningKey(sessionkit.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	keys := sessionkit.NewKeySet(key)
	mk := func(st any) *sessionkit.Issuer {
		cfg := sessionkit.Config{Issuer: faultIssuerID, Audience: []string{"api"}, Keys: keys, ReuseGrace: -1}
		switch st := st.(type) {
		case *redisstore.Store:
			cfg.Store = st
		case *redisstore.View:
			cfg.Store = st
		}
		iss, err := sessionkit.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return iss
	}
	f := &viewFixture{a: mk(sa), b: mk(view), view: view, prefix: prefix}
	ctx, cancel := context.WithTimeout(context.Background(), viewWait)
	defer cancel()
	if err := view.WaitInStep(ctx); err != nil {
		t.Fatal(err)
	}
	return f
}

// login logs subject in at A and has B verify the token until it is
// followed: afterwards B answers it without a store read.
func (f *viewFixture) login(t *testing.T, subject string) *sessionkit.Tokens {
	t.Helper()
	ctx := context.Background()
	toks, err := f.a.Login(ctx, sessionkit.Grant{Subject: subject})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := f.b.Verify(ctx, toks.AccessToken); err != nil {
			t.Fatalf("B refuses a fresh token: %v", err)
		}
	}
	reads := f.view.Status().StoreReads
	for range 10 {
		if _, err := f.b.Verify(ctx, toks.AccessToken); err != nil {
			t.Fatalf("B refuses a fresh token: %v", err)
		}
	}
	if got := f.view.Status().StoreReads; got != reads {
		t.Fatalf("B read the store %d times for a followed token, want none", got-reads)
	}
	return toks
}

// refusedAtB waits until B refuses token as revoked.
func (f *viewFixture) refusedAtB(t *testing.T, token string) {
	t.Helper()
	deadline := time.Now().Add(viewWait)
	for {
		_, err := f.b.Verify(context.Background(), token)
		if errors.Is(err, sessionkit.ErrTokenRevoked) {
			return
		}
		if err != nil {
			t.Fatalf("B: %v, want ErrTokenRevoked", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("B still accepts the token %v after its revocation at A", viewWait)
		}
		time.Sleep(time.Millisecond)
	}
}

// viewMiniredis is a miniredis for a View. A View's probes read INFO
// replication, whose section miniredis lacks: this one answers it as a
// master does, with a replication id of its own.
func viewMiniredis(t *testing.T) *miniredis.Miniredis {
	t.Helper()
	m := miniredis.RunT(t)
	replid := strings.Repeat("5", 40)
	m.Server().SetPreHook(func(c *mrserver.Peer, cmd string, args ...string) bool {
		if !strings.EqualFold(cmd, "info") || len(args) != 1 || !strings.EqualFold(args[0], "replication") {
			return false
		}
		c.WriteBulk("# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_replid:" + replid + "\r\n")
		return true
	})
	return m
}

// viewServers runs test on miniredis, a real redis-server and a Cluster,
// with a client for A and one for B.
func viewServers(t *testing.T, test func(t *testing.T, a, b redis.UniversalClient)) {
	t.Run("miniredis", func(t *testing.T) {
		m := viewMiniredis(t)
		a := redis.NewClient(&redis.Options{Addr: m.Addr()})
		b := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { a.Close(); b.Close() })
		test(t, a, b)
	})
	t.Run("redis", func(t *testing.T) {
		test(t, singleClient(t), singleClient(t))
	})
	t.Run("cluster", func(t *testing.T) {
		test(t, clusterClient(t), clusterClient(t))
	})
}

// TestViewLearnsEveryRevocation: each way an Issuer revokes, done at A,
// reaches B's View by the channel, and B refuses the token with no store
// read (the refusal comes from the view). On a Cluster the subjects' slots
// spread over the masters while B subscribes to one node.
func TestViewLearnsEveryRevocation(t *testing.T) {
	viewServers(t, func(t *testing.T, a, b redis.UniversalClient) {
		f := newViewFixture(t, a, b, redisstore.ViewOptions{})
		ctx := context.Background()
		for _, c := range []struct {
			name   string
			revoke func(toks *sessionkit.Tokens, subject string) error
		}{
			{"logout-all", func(_ *sessionkit.Tokens, subject string) error { return f.a.LogoutAll(ctx, subject) }},
			{"revoke-session", func(toks *sessionkit.Tokens, subject string) error {
				return f.a.RevokeSession(ctx, subject, toks.SessionID)
			}},
			{"revoke-access-token", func(toks *sessionkit.Tokens, _ string) error {
				return f.a.RevokeAccessToken(ctx, toks.AccessToken)
			}},
			{"logout", func(toks *sessionkit.Tokens, _ string) error { return f.a.Logout(ctx, toks.RefreshToken) }},
			{"reuse-detected", func(toks *sessionkit.Tokens, _ string) error {
				if _, err := f.a.Refresh(ctx, toks.RefreshToken); err != nil {
					return err
				}
				if _, err := f.a.Refresh(ctx, toks.RefreshToken); !errors.Is(err, sessionkit.ErrRefreshReused) {
					return err
				}
				return nil
			}},
		} {
			for i := range 3 { // three subjects, on several slots
				subject := c.name + "-" + randomName()
				toks := f.login(t, subject)
				reads := f.view.Status().StoreReads
				if err := c.revoke(toks, subject); err != nil {
					t.Fatalf("%s %d: %v", c.name, i, err)
				}
				f.refusedAtB(t, toks.AccessToken)
				if got := f.view.Status().StoreReads; got != reads {
					t.Fatalf("%s %d: B read the store %d times, want the refusal from the view alone", c.name, i, got-reads)
				}
			}
		}
		if st := f.view.Status(); st.Messages == 0 || st.Malformed != 0 || st.Resets != 0 {
			t.Fatalf("status %+v: want messages, no malformed one, no reset", st)
		}
	})
}

// TestViewReadsItsOwnRevocations: a revocation made through the View is in
// it when the call returns, before its message comes back.
func TestViewReadsItsOwnRevocations(t *testing.T) {
	m := viewMiniredis(t)
	a := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { a.Close() })
	f := newViewFixture(t, a, a, redisstore.ViewOptions{})
	ctx := context.Background()
	toks := f.login(t, "own")
	if err := f.b.LogoutAll(ctx, "own"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.b.Verify(ctx, toks.AccessToken); !errors.Is(err, sessionkit.ErrTokenRevoked) {
		t.Fatalf("B verifies a token it just logged out everywhere: %v", err)
	}
}

// TestViewNeverMissesARevocationInAGap: B's connections to Redis go
// through a proxy. The test cuts them (and refuses new ones), revokes at A
// while B cannot hear, then lets B reconnect: the first request after the
// reconnection is refused, although B followed the token before the gap
// and its view never got the message. A token nobody revoked is still
// accepted, after one store read. While the view is behind, a FailClosed
// view refuses every check and a default one reads the store.
func TestViewNeverMissesARevocationInAGap(t *testing.T) {
	direct := singleClient(t)
	for _, failClosed := range []bool{false, true} {
		name := map[bool]string{false: "store-reads", true: "fail-closed"}[failClosed]
		t.Run(name, func(t *testing.T) {
			p := newLinkProxy(t, direct.Options().Addr)
			viaProxy := redis.NewClient(&redis.Options{Addr: p.addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
			t.Cleanup(func() { viaProxy.Close() })
			f := newViewFixture(t, direct, viaProxy, redisstore.ViewOptions{FailClosed: failClosed})
			ctx := context.Background()
			revoked := f.login(t, "victim-"+randomName())
			kept := f.login(t, "bystander-"+randomName())
			subs := f.view.Status().Subscriptions

			p.cut()
			waitFor(t, "the view to notice the cut", func() bool { return !f.view.Status().InStep })
			if err := f.a.LogoutAll(ctx, subjectOf(t, f.a, revoked)); err != nil {
				t.Fatal(err)
			}
			// Behind: the check cannot come from the view.
			_, err := f.b.Verify(ctx, kept.AccessToken)
			if !errors.Is(err, sessionkit.ErrStoreUnavailable) {
				t.Fatalf("B behind its view, store unreachable: %v, want ErrStoreUnavailable", err)
			}
			if failClosed && f.view.Status().RefusedBehind == 0 {
				t.Fatal("a FailClosed view did not count its refusal")
			}

			p.restore()
			waitFor(t, "the view to resubscribe", func() bool {
				st := f.view.Status()
				return st.InStep && st.Subscriptions > subs
			})
			if _, err := f.b.Verify(ctx, revoked.AccessToken); !errors.Is(err, sessionkit.ErrTokenRevoked) {
				t.Fatalf("first request after reconnection: %v, want ErrTokenRevoked (a revocation made in the gap)", err)
			}
			reads := f.view.Status().StoreReads
			if _, err := f.b.Verify(ctx, kept.AccessToken); err != nil {
				t.Fatalf("a token nobody revoked, after reconnection: %v", err)
			}
			if got := f.view.Status().StoreReads; got != reads+1 {
				t.Fatalf("the older token took %d store reads after reconnection, want 1", got-reads)
			}
			if _, err := f.b.Verify(ctx, kept.AccessToken); err != nil {
				t.Fatal(err)
			}
			if got := f.view.Status().StoreReads; got != reads+1 {
				t.Fatalf("the older token is not followed after its store read: %d reads", got-reads)
			}
		})
	}
}

// TestViewSilentLink: the proxy stops forwarding without closing anything.
// Within MaxStaleness and a ping the view stops answering on its own (a
// FailClosed one refuses). A revocation made meanwhile is delivered once
// the link flows again, in order, on the same subscription. Then a longer
// silence: the view drops the subscription and is back in step on a new
// one once the link flows.
func TestViewSilentLink(t *testing.T) {
	direct := singleClient(t)
	p := newLinkProxy(t, direct.Options().Addr)
	viaProxy := redis.NewClient(&redis.Options{Addr: p.addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { viaProxy.Close() })
	f := newViewFixture(t, direct, viaProxy, redisstore.ViewOptions{FailClosed: true})
	ctx := context.Background()
	subject := "silent-" + randomName()
	toks := f.login(t, subject)
	kept := f.login(t, "kept-"+randomName())

	p.stall()
	waitFor(t, "the view to notice the silence", func() bool { return !f.view.Status().InStep })
	if _, err := f.b.Verify(ctx, kept.AccessToken); !errors.Is(err, sessionkit.ErrStoreUnavailable) {
		t.Fatalf("a FailClosed view behind a silent link: %v, want ErrStoreUnavailable", err)
	}
	if err := f.a.LogoutAll(ctx, subject); err != nil {
		t.Fatal(err)
	}
	p.flow()
	waitFor(t, "the view back in step", func() bool { return f.view.Status().InStep })
	f.refusedAtB(t, toks.AccessToken)
	if _, err := f.b.Verify(ctx, kept.AccessToken); err != nil {
		t.Fatal(err)
	}

	st := f.view.Status()
	p.stall()
	waitFor(t, "the view to drop the silent subscription", func() bool { return f.view.Status().Lost > st.Lost })
	p.flow()
	waitFor(t, "a new subscription", func() bool {
		now := f.view.Status()
		return now.InStep && now.Subscriptions > st.Subscriptions
	})
	if _, err := f.b.Verify(ctx, kept.AccessToken); err != nil {
		t.Fatal(err)
	}
}

// TestViewForgetsSafely: an announcement the view cannot read, and more
// revocations than MaxEntries, make it forget everything and start over;
// what it forgot is read from the store again, so a token revoked before
// still fails and a followed one takes one store read.
func TestViewForgetsSafely(t *testing.T) {
	m := viewMiniredis(t)
	a := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { a.Close() })
	f := newViewFixture(t, a, a, redisstore.ViewOptions{MaxEntries: 2})
	ctx := context.Background()
	var revoked []*sessionkit.Tokens
	for range 3 {
		subject := "user-" + randomName()
		toks := f.login(t, subject)
		if err := f.a.LogoutAll(ctx, subject); err != nil {
			t.Fatal(err)
		}
		f.refusedAtB(t, toks.AccessToken)
		revoked = append(revoked, toks)
	}
	if f.view.Status().Resets == 0 {
		t.Fatal("three revocations in a view of two entries: no reset")
	}
	for _, toks := range revoked {
		if _, err := f.b.Verify(ctx, toks.AccessToken); !errors.Is(err, sessionkit.ErrTokenRevoked) {
			t.Fatalf("a token revoked before the reset: %v", err)
		}
	}

	kept := f.login(t, "kept-"+randomName())
	resets := f.view.Status().Resets
	if err := a.Publish(ctx, redisstore.Channel(f.prefix), "v3:abc").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the malformed message", func() bool { return f.view.Status().Malformed == 1 })
	if f.view.Status().Resets != resets+1 {
		t.Fatal("a malformed announcement did not reset the view")
	}
	reads := f.view.Status().StoreReads
	if _, err := f.b.Verify(ctx, kept.AccessToken); err != nil {
		t.Fatal(err)
	}
	if f.view.Status().StoreReads != reads+1 {
		t.Fatal("after a reset, a token followed before was not read from the store again")
	}
}

// ---- helpers ----

// waitFor polls cond until it holds, failing after viewWait.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(viewWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", viewWait, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// subjectOf is the subject of an access token A issued.
func subjectOf(t *testing.T, iss *sessionkit.Issuer, toks *sessionkit.Tokens) string {
	t.Helper()
	c, err := iss.Verify(context.Background(), toks.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	return c.Subject
}

// linkProxy forwards TCP connections to a server, and can cut them (close
// them all and refuse new ones) or stall them (stop forwarding, closing
// nothing).
type linkProxy struct {
	addr   string
	target string
	mu     sync.Mutex
	down   bool
	paused bool
	resume *sync.Cond
	conns  []net.Conn
}

func newLinkProxy(t *testing.T, target string) *linkProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &linkProxy{addr: l.Addr().String(), target: target}
	p.resume = sync.NewCond(&p.mu)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			down := p.down
			p.mu.Unlock()
			if down {
				c.Close()
				continue
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go p.pipe(c, s)
			go p.pipe(s, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		p.flow()
		p.cut()
	})
	return p
}

// pipe copies from src to dst, waiting while the proxy is stalled.
func (p *linkProxy) pipe(src, dst net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		for p.paused {
			p.resume.Wait()
		}
		p.mu.Unlock()
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				src.Close()
			}
			dst.Close()
			return
		}
	}
}

// cut closes every connection and refuses new ones until restore.
func (p *linkProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *linkProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// stall stops forwarding on every connection, closing nothing, until flow.
func (p *linkProxy) stall() {
	p.mu.Lock()
	p.paused = true
	p.mu.Unlock()
}

func (p *linkProxy) flow() {
	p.mu.Lock()
	p.paused = false
	p.resume.Broadcast()
	p.mu.Unlock()
}

// TestViewBehindAVerifier: a resource server's Verifier (keys from A's
// JWKS) with the View as its Store learns of a logout-all at A and refuses
// the token with no store read, from the view alone.
func TestViewBehindAVerifier(t *testing.T) {
	m := viewMiniredis(t)
	a := redis.NewClient(&redis.Options{Addr: m.Addr()})
	b := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { a.Close(); b.Close() })
	f := newViewFixture(t, a, b, redisstore.ViewOptions{})
	jwks := httptest.NewServer(f.a.Keys())
	t.Cleanup(jwks.Close)
	ver, err := sessionkit.NewVerifier(sessionkit.VerifierConfig{
		Issuer: faultIssuerID, JWKSURL: jwks.URL, Audience: []string{"api"},
		Store: f.view, InsecureAllowHTTP: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	toks, err := f.a.Login(ctx, sessionkit.Grant{Subject: "rs-user"})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := ver.Verify(ctx, toks.AccessToken); err != nil {
			t.Fatal(err)
		}
	}
	reads := f.view.Status().StoreReads
	if _, err := ver.Verify(ctx, toks.AccessToken); err != nil {
		t.Fatal(err)
	}
	if err := f.a.LogoutAll(ctx, "rs-user"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the Verifier to refuse", func() bool {
		_, err := ver.Verify(ctx, toks.AccessToken)
		return errors.Is(err, sessionkit.ErrTokenRevoked)
	})
	if got := f.view.Status().StoreReads; got != reads {
		t.Fatalf("the Verifier read the store %d times, want none", got-reads)
	}
}
