package redisstore_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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
	host, port, _ := strings.Cut(master.addr(), ":")
	if err := rc.Do(ctx, "replicaof", host, port).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replica's sync", func() bool {
		info, err := rc.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})

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
	before := f.view.Status()

	p.cut()
	waitFor(t, "Sentinel to promote the replica", func() bool {
		addr, err := sc.GetMasterAddrByName(ctx, "sk").Result()
		return err == nil && len(addr) == 2 && addr[0]+":"+addr[1] == replica.addr()
	})
	waitFor(t, "A to write to the new master", func() bool {
		return a.Set(ctx, "sktest:promoted", "x", time.Minute).Err() == nil
	})
	if err := f.a.LogoutAll(ctx, subjectOf(t, f.a, toks)); err != nil {
		t.Fatal(err)
	}
	f.refusedAtB(t, toks.AccessToken)
	waitFor(t, "the view to subscribe to the new master", func() bool {
		st := f.view.Status()
		return st.InStep && st.Subscriptions > before.Subscriptions
	})
	t.Logf("after the failover: %+v", f.view.Status())
}
