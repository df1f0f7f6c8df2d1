package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// TestViewSentinelPartition: Sentinel reaches the master through a proxy
// and B's View reaches it directly. The proxy is cut: Sentinel promotes
// the replica, A's writes go to the new master, and the former master,
// which Sentinel cannot reconfigure, keeps answering B's View (its
// connection never broke). A logout-all at A, on the new master, is still
// refused at B: the View's probes go where the writes go and never reach
// the former master's subscription, so the View leaves step, reads the
// store, and subscribes again, through Sentinel, to the new master. A View
// proven by pings on its own subscription would stay in step on the
// former master and keep accepting the token.
func TestViewSentinelPartition(t *testing.T) {
	needFailoverTests(t)
	plain := func(dir string) func(port int) []string {
		return func(port int) []string {
			return []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
				"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", ""}
		}
	}
	masterDir, replicaDir := t.TempDir(), t.TempDir()
	master := startRedis(t, masterDir, "Ready to accept connections", plain(masterDir))
	replica := startRedis(t, replicaDir, "Ready to accept connections", plain(replicaDir))
	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Addr: replica.addr()})
	t.Cleanup(func() { rc.Close() })
	replicaOf(t, rc, master)

	// Sentinel knows the master by the proxy's address.
	p := newLinkProxy(t, master.addr())
	_, proxyPort, _ := strings.Cut(p.addr, ":")
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	text := fmt.Sprintf("sentinel monitor sk 127.0.0.1 %s 1\n"+
		"sentinel down-after-milliseconds sk 500\nsentinel failover-timeout sk 5000\n", proxyPort)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	sentinel := startRedis(t, dir, "+monitor master sk", func(port int) []string {
		return []string{conf, "--sentinel", "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
			"--daemonize", "no", "--logfile", ""}
	})
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinel.addr()})
	t.Cleanup(func() { sc.Close() })
	waitFor(t, "Sentinel to know the replica", func() bool {
		r, err := sc.Replicas(ctx, "sk").Result()
		return err == nil && len(r) == 1
	})

	a := redis.NewFailoverClient(redisstore.FailoverOptions("sk", sentinel.addr()))
	opts := redisstore.FailoverOptions("sk", sentinel.addr())
	// B reaches the master directly wherever Sentinel names the proxy.
	opts.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == p.addr {
			addr = master.addr()
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	b := redis.NewFailoverClient(opts)
	t.Cleanup(func() { a.Close(); b.Close() })
	f := newViewFixture(t, a, b, redisstore.ViewOptions{})
	toks := f.login(t, "sentinel-"+randomName())
	subject := subjectOf(t, f.a, toks)
	before := f.view.Status()

	p.cut()
	waitFor(t, "Sentinel to promote the replica", func() bool {
		addr, err := sc.GetMasterAddrByName(ctx, "sk").Result()
		return err == nil && len(addr) == 2 && addr[0]+":"+addr[1] == replica.addr()
	})
	waitFor(t, "A to write to the new master", func() bool {
		return a.Set(ctx, "sktest:promoted", "x", time.Minute).Err() == nil
	})
	if err := f.a.LogoutAll(ctx, subject); err != nil {
		t.Fatal(err)
	}
	f.refusedAtB(t, toks.AccessToken)
	waitFor(t, "the view to subscribe to the new master", func() bool {
		st := f.view.Status()
		return st.InStep && st.Subscriptions > before.Subscriptions
	})
	t.Logf("after the failover: %+v", f.view.Status())
}

// TestViewFormerMasterReattached: B's View subscribes on master M through a
// client that dials wherever the master is (as a Sentinel client does).
// The replica R is promoted and the clients' pooled connections move to it,
// but not the View's subscription (go-redis moves none on a failover). A
// logout-all runs on R; then M becomes R's replica with a full resync,
// which carries R's data but none of its past messages, and from then on
// relays R's. Probes published on R would reach the subscription on M
// through replication, so a View proven by their arrival alone would be
// back in step without the logout-all; so would one counting PUBLISH's
// receivers on R, where a client subscribes by pattern. This one counts
// the subscribers of its probe channel on R (PUBSUB NUMSUB), finds none,
// and subscribes again, where the writes go: the token is refused.
func TestViewFormerMasterReattached(t *testing.T) {
	m, r := startRedisServer(t), startRedisServer(t)
	ctx := context.Background()
	admin := func(s *redisServer) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: s.addr()})
		t.Cleanup(func() { c.Close() })
		return c
	}
	am, ar := admin(m), admin(r)
	for _, c := range []*redis.Client{am, ar} {
		// A full resync at once, not after Redis's 5 s wait for more replicas.
		if err := c.ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err(); err != nil {
			t.Fatal(err)
		}
	}
	replicaOf(t, ar, m)

	var master atomic.Pointer[redisServer]
	master.Store(m)
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, master.Load().addr())
	}
	client := func() *redis.Client {
		o := redisstore.ClientOptions(m.addr())
		o.Dialer = dial
		c := redis.NewClient(o)
		t.Cleanup(func() { c.Close() })
		return c
	}
	f := newViewFixture(t, client(), client(), redisstore.ViewOptions{})
	toks := f.login(t, "reattached-"+randomName())
	subject := subjectOf(t, f.a, toks)
	before := f.view.Status()
	// Every write M acknowledged reaches R first (replication is
	// asynchronous): a write of the test's own, then WAIT on its connection.
	var wait *redis.IntCmd
	if _, err := am.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "sktest:fence", "x", time.Minute)
		wait = redis.NewIntCmd(ctx, "wait", 1, 5000)
		return p.Process(ctx, wait)
	}); err != nil || wait.Val() < 1 {
		t.Fatalf("WAIT: %v, %d replicas", err, wait.Val())
	}

	// The failover: R promoted, the pooled connections to M dropped (the
	// subscription kept), and the logout-all on R before M follows it.
	if err := ar.Do(ctx, "replicaof", "no", "one").Err(); err != nil {
		t.Fatal(err)
	}
	master.Store(r)
	if err := am.Do(ctx, "client", "kill", "type", "normal").Err(); err != nil {
		t.Fatal(err)
	}
	// A client of R's own subscribed to every channel by pattern (redis-cli
	// PSUBSCRIBE *, an audit consumer): PUBLISH counts it as a receiver of
	// the View's probes, PUBSUB NUMSUB does not.
	audit := ar.PSubscribe(ctx, "*")
	t.Cleanup(func() { audit.Close() })
	if _, err := audit.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.a.LogoutAll(ctx, subject); err != nil {
		t.Fatal(err)
	}
	// A write on M after R's promotion: their histories part, and M
	// rejoins by a full resync, which carries R's data but none of the
	// messages R published before.
	if err := am.Set(ctx, "sktest:parted", "x", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	replicaOf(t, am, r)

	// Past the staleness bound, a view in step must know the logout-all.
	// Nothing verifies meanwhile: a store read while out of step would
	// teach the view the revocation however it got back in step.
	time.Sleep(2 * viewStaleness)
	wctx, cancel := context.WithTimeout(ctx, viewWait)
	defer cancel()
	if err := f.view.WaitInStep(wctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.b.Verify(ctx, toks.AccessToken); !errors.Is(err, sessionkit.ErrTokenRevoked) {
		t.Fatalf("B, its view in step after the failover: %v, want ErrTokenRevoked", err)
	}
	if st := f.view.Status(); st.Subscriptions <= before.Subscriptions {
		t.Fatalf("the view kept its subscription on the former master: %+v", st)
	}
	if err := f.view.Status().LastError; err == nil || !strings.Contains(err.Error(), "not on the server the writes go to") {
		t.Fatalf("the view's last error: %v, want its subscription not where the writes go", err)
	}
}

// TestViewOnAReplica: a View whose client reaches a replica never answers
// on its own (a replica hears revocations only as fast as it replicates)
// and says why; its checks read the store.
func TestViewOnAReplica(t *testing.T) {
	primary, replica := startRedisServer(t), startRedisServer(t)
	rc := redis.NewClient(redisstore.ClientOptions(replica.addr()))
	t.Cleanup(func() { rc.Close() })
	ctx := context.Background()
	replicaOf(t, rc, primary)
	s, err := redisstore.New(rc, redisstore.Options{Prefix: "replica" + randomName() + ":"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Watch(redisstore.ViewOptions{MaxStaleness: viewStaleness})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	waitFor(t, "the view to say why it is not in step", func() bool {
		err := v.Status().LastError
		return err != nil && strings.Contains(err.Error(), "replica")
	})
	wctx, cancel := context.WithTimeout(ctx, 5*viewStaleness)
	defer cancel()
	if err := v.WaitInStep(wctx); err == nil {
		t.Fatal("a view on a replica is in step")
	}
	now := time.Now()
	q := store.AccessCheck{Subject: "u", Version: 0, JTI: "j", IssuedAt: now, ExpiresAt: now.Add(time.Minute), Now: now}
	if _, ok := v.CheckAccessLocal(q); ok {
		t.Fatal("a view on a replica answered a check on its own")
	}
}

// replicaOf makes the server of c a replica of of, and waits for its link.
func replicaOf(t *testing.T, c *redis.Client, of *redisServer) {
	t.Helper()
	ctx := context.Background()
	host, port, _ := strings.Cut(of.addr(), ":")
	if err := c.Do(ctx, "replicaof", host, port).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replica's sync", func() bool {
		info, err := c.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
}
