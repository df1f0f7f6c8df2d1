package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/scope"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// failoverEnv is the environment variable that runs the failover and
// restart tests: they start servers of their own (six for the Cluster),
// kill them and assert how soon calls succeed again, so they run on their
// own (.ci/run sets it for a step of its own) rather than beside every
// other package's tests.
const failoverEnv = "REDIS_FAILOVER_TESTS"

func needFailoverTests(t *testing.T) {
	t.Helper()
	if os.Getenv(failoverEnv) != "1" {
		t.Skipf("%s is not 1: this test kills Redis servers and times the recovery (.ci/run runs it in a step of its own)", failoverEnv)
	}
}

// failoverBound is the bound of issue "Cluster failover heals in about a
// second": sessions on a dead master's slots answer again within it of the
// replica's promotion, with the client of redisstore.ClusterOptions.
const failoverBound = 2 * time.Second

// plainWait is how long after the promotion the test keeps trying the
// client of redis.NewUniversalClient, for the record: it reloads its slot
// map only every 60 s, so it may not heal within it at all.
const plainWait = 10 * time.Second

// clusterNodeTimeout is the nodes' cluster-node-timeout: a master silent
// for that long is suspected failing, and its replica is elected about a
// second later.
const clusterNodeTimeout = time.Second

// testCluster is a Redis Cluster on 127.0.0.1, each node a redis-server of
// the test's own.
type testCluster struct {
	nodes []*redisServer
	admin map[string]*redis.Client // a client of each node by address, for the test's own commands
	// bus holds, with clusterSpec.busProxies, the proxy in front of each
	// node's cluster bus (in the order of nodes): cutting them all cuts
	// every link between two nodes, and nothing else.
	bus []*linkProxy
}

// clusterSpec is the shape of a testCluster.
type clusterSpec struct {
	masters, replicas int           // replicas per master
	spares            int           // masters added after them, serving no slot
	nodeTimeout       time.Duration // cluster-node-timeout
	busProxies        bool          // put each node's bus behind a linkProxy
}

// startCluster starts six redis-servers with cluster mode on (and args),
// joins them with redis-cli --cluster create (one replica per master) and
// waits until every node sees a healthy cluster and every replica is in
// sync. It skips or fails like startRedis when redis-server or redis-cli is
// missing.
func startCluster(t *testing.T, args ...string) *testCluster {
	t.Helper()
	return startClusterOf(t, clusterSpec{masters: 3, replicas: 1, nodeTimeout: clusterNodeTimeout}, args...)
}

// startClusterOf starts a cluster of spec's shape, as startCluster does.
func startClusterOf(t *testing.T, spec clusterSpec, args ...string) *testCluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		if inCI() {
			t.Fatalf("redis-cli is not installed under CI=true (.ci/run installs it): %v", err)
		}
		t.Skipf("redis-cli is not installed: %v", err)
	}
	c := &testCluster{admin: map[string]*redis.Client{}}
	var addrs []string
	for range spec.masters*(1+spec.replicas) + spec.spares {
		dir := t.TempDir()
		// The cluster bus defaults to port+10000, which may be taken or
		// past 65535: give it a free port of its own, behind a proxy that
		// the other nodes are told of when there is one.
		bus, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		var announce []string
		if spec.busProxies {
			p := newLinkProxy(t, "127.0.0.1:"+strconv.Itoa(bus))
			c.bus = append(c.bus, p)
			announce = []string{"--cluster-announce-bus-port", p.addr[strings.LastIndexByte(p.addr, ':')+1:]}
		}
		srv := startRedis(t, dir, "Ready to accept connections", func(port int) []string {
			a := []string{
				"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--cluster-port", strconv.Itoa(bus),
				"--dir", dir, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", strconv.Itoa(int(spec.nodeTimeout.Milliseconds())),
				"--appendonly", "no", "--save", "", "--daemonize", "no", "--logfile", "",
			}
			return append(append(a, announce...), args...)
		})
		c.nodes = append(c.nodes, srv)
		addrs = append(addrs, srv.addr())
		a := redis.NewClient(&redis.Options{Addr: srv.addr(), MaxRetries: -1, DialerRetries: 1})
		t.Cleanup(func() { a.Close() })
		c.admin[srv.addr()] = a
	}
	members := len(addrs) - spec.spares
	create := append([]string{"--cluster", "create"}, addrs[:members]...)
	create = append(create, "--cluster-replicas", strconv.Itoa(spec.replicas), "--cluster-yes")
	if out, err := exec.Command(cli, create...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, spare := range addrs[members:] {
		if out, err := exec.Command(cli, "--cluster", "add-node", spare, addrs[0]).CombinedOutput(); err != nil {
			t.Fatalf("redis-cli --cluster add-node: %v\n%s", err, out)
		}
	}
	ctx := context.Background()
	deadline := time.Now().Add(hangBound)
	for !c.healthy(ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("the cluster did not become healthy within %v", hangBound)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c
}

func (c *testCluster) addrs() []string {
	var addrs []string
	for _, n := range c.nodes {
		addrs = append(addrs, n.addr())
	}
	return addrs
}

// healthy reports whether every node answers cluster_state:ok knowing all
// the nodes, and every replica's link to its master is up and synced.
func (c *testCluster) healthy(ctx context.Context) bool {
	for addr, a := range c.admin {
		info, err := a.ClusterInfo(ctx).Result()
		known := "cluster_known_nodes:" + strconv.Itoa(len(c.nodes)) + "\r"
		if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, known) {
			return false
		}
		nodes, err := clusterNodes(ctx, a)
		if err != nil {
			return false
		}
		for _, n := range nodes {
			if n.addr != addr || n.master {
				continue
			}
			repl, err := a.Info(ctx, "replication").Result()
			if err != nil || !strings.Contains(repl, "master_link_status:up") || !strings.Contains(repl, "master_sync_in_progress:0") {
				return false
			}
		}
	}
	return true
}

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	id, addr string
	master   bool   // flags include master
	failed   bool   // flags include fail
	masterID string // a replica's master; "" for a master
}

func clusterNodes(ctx context.Context, a *redis.Client) ([]clusterNode, error) {
	text, err := a.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, err
	}
	var nodes []clusterNode
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr := f[1]
		if i := strings.IndexAny(addr, "@,"); i >= 0 {
			addr = addr[:i]
		}
		flags := strings.Split(f[2], ",")
		n := clusterNode{id: f[0], addr: addr, master: slices.Contains(flags, "master"), failed: slices.Contains(flags, "fail")}
		if f[3] != "-" {
			n.masterID = f[3]
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

// replicas maps each master's address to its replica's, as node sees it.
func (c *testCluster) replicas(t *testing.T, ctx context.Context, node string) map[string]string {
	t.Helper()
	nodes, err := clusterNodes(ctx, c.admin[node])
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]string{}
	for _, n := range nodes {
		byID[n.id] = n.addr
	}
	m := map[string]string{}
	for _, n := range nodes {
		if !n.master {
			m[byID[n.masterID]] = n.addr
		}
	}
	if len(m) != 3 {
		t.Fatalf("want three masters with a replica each, CLUSTER NODES shows %v", nodes)
	}
	return m
}

// waitReplicated makes sure every write master has acknowledged has
// reached its replica: a write of the test's own to a key of the master's,
// then WAIT 1 on the same connection. The replication stream is one
// sequence per master, so the replica's acknowledgement of the last write
// covers every earlier one. Without it a write acknowledged just before
// the kill may be lost: Redis replicates asynchronously.
func (c *testCluster) waitReplicated(t *testing.T, ctx context.Context, cc *redis.ClusterClient, master string) {
	t.Helper()
	for i := 0; ; i++ {
		key := fmt.Sprintf("sktest:fence:{%d}", i)
		m, err := cc.MasterForKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if m.Options().Addr != master {
			continue
		}
		var wait *redis.IntCmd
		_, err = c.admin[master].Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, key, "x", time.Minute)
			wait = redis.NewIntCmd(ctx, "wait", 1, hangBound.Milliseconds())
			_ = p.Process(ctx, wait)
			return nil
		})
		if err != nil {
			t.Fatalf("WAIT on %s: %v", master, err)
		}
		if n := wait.Val(); n < 1 {
			t.Fatalf("WAIT on %s: %d replicas acknowledged, want 1", master, n)
		}
		return
	}
}

// account is a subject with one session and the writes acknowledged for
// it before the kill, and what Verify and Refresh must answer afterwards.
type account struct {
	subject     string
	first       *sessionkit.Tokens // as Login returned them
	toks        *sessionkit.Tokens // the latest tokens
	verifyErr   error              // nil: Verify(toks.AccessToken) succeeds
	refreshErr  error              // nil: Refresh(toks.RefreshToken) succeeds
	description string
}

// TestClusterFailover: on a Cluster of three masters and three replicas,
// sessions, rotations and revocations on every master, replicated (WAIT),
// then one master killed with SIGKILL. Once its replica is promoted,
// sessions on its slots answer again within failoverBound through the
// client of redisstore.ClusterOptions, and every acknowledged write is
// there. The client of redis.NewUniversalClient is timed too, for the
// record. No call fails other than with ErrStoreUnavailable meanwhile.
//
// It runs twice: with Redis's default cluster-require-full-coverage yes,
// under which every node refuses every command (CLUSTERDOWN) from the moment
// the master is marked failed until its replica takes over, and with
// cluster-require-full-coverage no, under which the surviving masters' slots
// answer throughout. The subtests run one after the other: they time
// recovery on a machine they would otherwise share.
func TestClusterFailover(t *testing.T) {
	needFailoverTests(t)
	t.Run("full coverage required", func(t *testing.T) { clusterFailover(t, true) })
	t.Run("cluster-require-full-coverage no", func(t *testing.T) { clusterFailover(t, false) })
}

func clusterFailover(t *testing.T, fullCoverage bool) {
	coverage := "yes"
	if !fullCoverage {
		coverage = "no"
	}
	cl := startCluster(t, "--cluster-require-full-coverage", coverage)
	ctx := context.Background()
	addrs := cl.addrs()
	tuned := redis.NewClusterClient(redisstore.ClusterOptions(addrs...))
	t.Cleanup(func() { tuned.Close() })
	plain := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs, ContextTimeoutEnabled: true}) // README's client
	t.Cleanup(func() { plain.Close() })
	clk := newClock()
	issTuned := newFaultIssuer(t, tuned, clk)
	issPlain := newFaultIssuer(t, plain, clk)

	// The master holding subject's keys: the slot of the tag of the
	// subject as the Issuer names it in the store.
	issuerScope := scope.New(faultIssuerID, false)
	masterOf := func(subject string) string {
		t.Helper()
		m, err := tuned.MasterForKey(ctx, "{"+store.SubjectTag(issuerScope.User(subject))+"}")
		if err != nil {
			t.Fatal(err)
		}
		return m.Options().Addr
	}
	replicaOf := cl.replicas(t, ctx, addrs[0])
	masters := slices.Sorted(maps.Keys(replicaOf))
	victim := masters[0]

	// Subjects on every master, eight each, with every kind of write.
	const perMaster = 8
	bucket := map[string][]string{}
	for i := 0; len(bucket[masters[0]]) < perMaster || len(bucket[masters[1]]) < perMaster || len(bucket[masters[2]]) < perMaster; i++ {
		s := fmt.Sprintf("user-%d", i)
		if m := masterOf(s); len(bucket[m]) < perMaster {
			bucket[m] = append(bucket[m], s)
		}
	}
	login := func(iss *sessionkit.Issuer, subject string) *sessionkit.Tokens {
		t.Helper()
		toks, err := iss.Login(ctx, sessionkit.Grant{Subject: subject, Device: sessionkit.Device{UserAgent: "ua"}})
		if err != nil {
			t.Fatalf("Login(%s): %v", subject, err)
		}
		return toks
	}
	accounts := map[string][]*account{}
	for _, m := range masters {
		for i, s := range bucket[m] {
			a := &account{subject: s}
			a.first = login(issTuned, s)
			a.toks = a.first
			switch i {
			case 0, 1, 2:
				next, err := issTuned.Refresh(ctx, a.first.RefreshToken)
				if err != nil {
					t.Fatalf("Refresh(%s): %v", s, err)
				}
				a.toks, a.description = next, "rotated"
			case 3:
				if err := issTuned.RevokeAccessToken(ctx, a.toks.AccessToken); err != nil {
					t.Fatal(err)
				}
				a.verifyErr, a.description = sessionkit.ErrTokenRevoked, "access token revoked"
			case 4:
				if err := issTuned.RevokeSession(ctx, s, a.toks.SessionID); err != nil {
					t.Fatal(err)
				}
				a.verifyErr, a.refreshErr, a.description = sessionkit.ErrTokenRevoked, sessionkit.ErrSessionRevoked, "session revoked"
			case 5:
				if err := issTuned.LogoutAll(ctx, s); err != nil {
					t.Fatal(err)
				}
				a.verifyErr, a.refreshErr, a.description = sessionkit.ErrTokenRevoked, sessionkit.ErrSessionRevoked, "logged out everywhere"
			default:
				a.description = "logged in"
			}
			accounts[m] = append(accounts[m], a)
		}
	}
	onVictim := accounts[victim][0]
	plainToks := login(issPlain, onVictim.subject) // the same slot, under the plain store's prefix
	onSurvivor := accounts[masters[1]][0]
	for _, m := range masters {
		cl.waitReplicated(t, ctx, tuned, m)
	}

	// The kill, then: the promotion as the replica reports it, and each
	// client's first successful Verify of a session on the dead master's
	// slots. Meanwhile a session on a surviving master is verified too.
	var victimSrv *redisServer
	for _, n := range cl.nodes {
		if n.addr() == victim {
			victimSrv = n
		}
	}
	watchCtx, stop := context.WithTimeout(ctx, hangBound+plainWait)
	defer stop()
	killed := time.Now()
	victimSrv.kill()

	promotedCh := make(chan time.Time, 1)
	go func() {
		replica := cl.admin[replicaOf[victim]]
		for watchCtx.Err() == nil {
			if role, err := replica.Do(watchCtx, "ROLE").Slice(); err == nil && len(role) > 0 && role[0] == "master" {
				promotedCh <- time.Now()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		promotedCh <- time.Time{}
	}()
	type probeResult struct {
		healed   time.Time // the end of the first successful call; zero: none
		failures int
		wrong    []error // failures other than ErrStoreUnavailable
	}
	// probe verifies token every 10 ms until ctx ends, or until a call
	// succeeds when untilHealed.
	probe := func(ctx context.Context, iss *sessionkit.Issuer, token string, untilHealed bool) <-chan probeResult {
		ch := make(chan probeResult, 1)
		go func() {
			var r probeResult
			for ctx.Err() == nil {
				_, err := iss.Verify(context.Background(), token)
				if err == nil {
					if r.healed.IsZero() {
						r.healed = time.Now()
					}
					if untilHealed {
						break
					}
				} else {
					r.failures++
					if !errors.Is(err, sessionkit.ErrStoreUnavailable) {
						r.wrong = append(r.wrong, err)
					}
				}
				time.Sleep(10 * time.Millisecond)
			}
			ch <- r
		}()
		return ch
	}
	tunedCh := probe(watchCtx, issTuned, onVictim.toks.AccessToken, true)
	// The plain client is timed in the first run only: it takes the same
	// route in both.
	plainCtx, stopPlain := context.WithCancel(watchCtx)
	defer stopPlain()
	var plainCh <-chan probeResult
	if fullCoverage {
		plainCh = probe(plainCtx, issPlain, plainToks.AccessToken, true)
	}
	survivorCtx, stopSurvivor := context.WithCancel(watchCtx)
	defer stopSurvivor()
	survivorCh := probe(survivorCtx, issTuned, onSurvivor.toks.AccessToken, false)

	promoted := <-promotedCh
	if promoted.IsZero() {
		t.Fatalf("the replica %s of the killed master %s was not promoted within %v", replicaOf[victim], victim, hangBound)
	}
	time.AfterFunc(time.Until(promoted.Add(plainWait)), stopPlain)
	t.Logf("cluster-require-full-coverage %s: replica promoted %v after the kill (cluster-node-timeout %v)", coverage, promoted.Sub(killed).Round(time.Millisecond), clusterNodeTimeout)
	rt := <-tunedCh
	stopSurvivor()
	rs := <-survivorCh
	switch {
	case rt.healed.IsZero():
		t.Fatalf("ClusterOptions client: sessions on the killed master's slots never answered again (%d failed calls)", rt.failures)
	case rt.failures == 0 || rt.healed.Before(promoted):
		t.Fatalf("ClusterOptions client: the probed session answered %v after the kill, before the promotion: it is not on the killed master's slots", rt.healed.Sub(killed))
	}
	took := rt.healed.Sub(promoted)
	t.Logf("ClusterOptions client: sessions on the dead master's slots answered again %v after the promotion (%v after the kill; %d failed calls); a session on a surviving master failed %d calls meanwhile",
		took.Round(time.Millisecond), rt.healed.Sub(killed).Round(time.Millisecond), rt.failures, rs.failures)
	if took > failoverBound {
		t.Errorf("ClusterOptions client: sessions answered again %v after the promotion, want within %v", took, failoverBound)
	}
	if !fullCoverage && rs.failures > 0 {
		t.Errorf("with cluster-require-full-coverage no, a session on a surviving master failed %d calls during the failover, want none", rs.failures)
	}
	for _, err := range slices.Concat(rt.wrong, rs.wrong) {
		t.Errorf("ClusterOptions client during the failover: %v, want only ErrStoreUnavailable", err)
	}

	// Every acknowledged write is there, on every master's slots.
	for _, m := range masters {
		for _, a := range accounts[m] {
			where := fmt.Sprintf("%s (%s, on %s)", a.subject, a.description, m)
			if m == victim {
				where = fmt.Sprintf("%s (%s, on the killed master)", a.subject, a.description)
			}
			if _, err := issTuned.Verify(ctx, a.toks.AccessToken); !errors.Is(err, a.verifyErr) {
				t.Errorf("Verify %s after the failover: %v, want %v", where, err, a.verifyErr)
			}
			if _, err := issTuned.Refresh(ctx, a.toks.RefreshToken); !errors.Is(err, a.refreshErr) {
				t.Errorf("Refresh %s after the failover: %v, want %v", where, err, a.refreshErr)
			}
		}
	}
	// The spent-hash history survived too: a rotated session's first token,
	// outside the grace window, is reuse.
	clk.advance(time.Minute)
	if _, err := issTuned.Refresh(ctx, accounts[victim][0].first.RefreshToken); !errors.Is(err, sessionkit.ErrRefreshReused) {
		t.Errorf("Refresh with a spent token of the killed master's after the failover: %v, want ErrRefreshReused", err)
	}

	if plainCh == nil {
		return
	}
	rp := <-plainCh
	if rp.healed.IsZero() {
		t.Logf("NewUniversalClient client: sessions on the dead master's slots still failed %v after the promotion (%d failed calls; it reloads its slot map every 60 s)", plainWait, rp.failures)
	} else {
		t.Logf("NewUniversalClient client: sessions on the dead master's slots answered again %v after the promotion (%d failed calls)", rp.healed.Sub(promoted).Round(time.Millisecond), rp.failures)
	}
	for _, err := range rp.wrong {
		t.Errorf("NewUniversalClient client during the failover: %v, want only ErrStoreUnavailable", err)
	}
}

// faultIssuerID is the issuer identifier of newFaultIssuer's Issuers.
const faultIssuerID = "https://auth.example.com"

// newFaultIssuer returns an Issuer on a store of client under a fresh
// prefix, on clk, with the default StoreTimeout.
func newFaultIssuer(t *testing.T, client redis.UniversalClient, clk *clock) *sessionkit.Issuer {
	t.Helper()
	st, err := redisstore.New(client, redisstore.Options{Prefix: freshPrefix()})
	if err != nil {
		t.Fatal(err)
	}
	key, err := sessionkit.GenerateSigningKey(sessionkit.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := sessionkit.New(sessionkit.Config{
		Issuer: faultIssuerID, Audience: []string{"api"},
		Keys: sessionkit.NewKeySet(key), Store: st, Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}
