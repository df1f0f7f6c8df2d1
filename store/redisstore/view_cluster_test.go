package redisstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/scope"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// clusterPair returns two clients of c tuned as the package advises, for
// the fixture's A and B.
func clusterPair(t *testing.T, c *testCluster) (a, b *redis.ClusterClient) {
	t.Helper()
	a = redis.NewClusterClient(redisstore.ClusterOptions(c.addrs()...))
	b = redis.NewClusterClient(redisstore.ClusterOptions(c.addrs()...))
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// faultScope is how the fixture's Issuers name their subjects in the store.
var faultScope = scope.New(faultIssuerID, false)

// slotKey is a key in the slot of the store's keys for the fixture's
// subject.
func slotKey(subject string) string {
	return "{" + store.SubjectTag(faultScope.User(subject)) + "}"
}

// subjectsByMaster logs in, at A, one subject on the slots of each master
// (by address) and has B follow each token.
func subjectsByMaster(t *testing.T, f *viewFixture, cc *redis.ClusterClient, masters int) map[string]*sessionkit.Tokens {
	t.Helper()
	ctx := context.Background()
	by := map[string]*sessionkit.Tokens{}
	for range 1000 {
		if len(by) == masters {
			return by
		}
		subject := "node-" + randomName()
		m, err := cc.MasterForKey(ctx, slotKey(subject))
		if err != nil {
			t.Fatal(err)
		}
		if addr := m.Options().Addr; by[addr] == nil {
			by[addr] = f.login(t, subject)
		}
	}
	t.Fatalf("found subjects on %d masters, want %d", len(by), masters)
	return nil
}

// TestViewClusterBusCut: every link between two nodes of a Cluster is cut
// (each node's cluster bus is behind a proxy), so a script's PUBLISH
// reaches only the subscribers of the node that ran it. The clients' links
// to the nodes are untouched: every node answers, and the view stays in
// step. A logout-all on each master's slots is still refused at B from its
// view, with no store read: the view subscribes to, and probes, every
// master. A view subscribed to one node would miss two of them, in step.
//
// Then a slot moves to a fourth master, which served none: while the move
// lasts, its scripts run on the new master (ASK), which the view does not
// hear, so the view is out of step and reads the store (the logout-all
// run there is refused). Once the new master owns the slot the view
// subscribes to it too, and hears the next logout-all there.
func TestViewClusterBusCut(t *testing.T) {
	needFailoverTests(t)
	// A node timeout far beyond the test, so that no node is suspected
	// while the bus is down.
	c := startClusterOf(t, clusterSpec{masters: 3, spares: 1, nodeTimeout: time.Minute, busProxies: true})
	a, b := clusterPair(t, c)
	f := newViewFixture(t, a, b, redisstore.ViewOptions{})
	if n := f.view.Status().Servers; n != 3 {
		t.Fatalf("the view subscribes to %d servers of a Cluster of three masters serving slots, want 3", n)
	}
	byMaster := subjectsByMaster(t, f, a, 3)
	ctx := context.Background()
	spare := c.admin[c.nodes[3].addr()]
	moving := "moving-" + randomName()
	tag := slotKey(moving)
	first := f.login(t, moving)
	if err := f.a.LogoutAll(ctx, moving); err != nil { // its version key
		t.Fatal(err)
	}
	f.refusedAtB(t, first.AccessToken)
	movingToks := f.login(t, moving)

	for _, p := range c.bus {
		p.cut()
	}
	busDown(t, c)

	reads := f.view.Status().StoreReads
	for addr, toks := range byMaster {
		if err := f.a.LogoutAll(ctx, subjectOf(t, f.a, toks)); err != nil {
			t.Fatal(err)
		}
		f.refusedAtB(t, toks.AccessToken)
		t.Logf("a logout-all on %s's slots, its bus cut: refused at B", addr)
	}
	st := f.view.Status()
	if st.StoreReads != reads || !st.InStep {
		t.Fatalf("the refusals took %d store reads (in step: %v), want none from a view in step", st.StoreReads-reads, st.InStep)
	}

	// The move: the subject's keys go to the spare, the slot stays its
	// owner's until the move ends.
	moveSlot(t, ctx, a, c, tag, spare)
	waitFor(t, "the view to stop answering while a slot moves to a master it does not hear", func() bool {
		st := f.view.Status()
		return !st.InStep && st.LastError != nil && strings.Contains(st.LastError.Error(), "moving")
	})
	reads = f.view.Status().StoreReads
	if err := f.a.LogoutAll(ctx, moving); err != nil {
		t.Fatal(err)
	}
	if keys, err := spare.Do(ctx, "cluster", "countkeysinslot", mustSlot(t, a, tag)).Int(); err != nil || keys == 0 {
		t.Fatalf("the spare holds %d keys of the moving slot (%v): the logout-all did not run there", keys, err)
	}
	f.refusedAtB(t, movingToks.AccessToken)
	if got := f.view.Status().StoreReads; got == reads {
		t.Fatal("the token of the moving slot was refused without a store read: the view cannot have heard it")
	}

	// The move ends: every node is told the spare owns the slot (the bus
	// is down, so each one is told directly).
	spareID, err := spare.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	slot := mustSlot(t, a, tag)
	for _, n := range c.nodes {
		if err := c.admin[n.addr()].Do(ctx, "cluster", "setslot", slot, "node", spareID).Err(); err != nil {
			t.Fatalf("SETSLOT NODE on %s: %v", n.addr(), err)
		}
	}
	waitFor(t, "the view to subscribe to the new owner", func() bool {
		st := f.view.Status()
		return st.InStep && st.Servers == 4
	})
	again := f.login(t, moving)
	reads = f.view.Status().StoreReads
	if err := f.a.LogoutAll(ctx, moving); err != nil {
		t.Fatal(err)
	}
	f.refusedAtB(t, again.AccessToken)
	if got := f.view.Status().StoreReads; got != reads {
		t.Fatalf("the refusal on the new owner's slot took %d store reads, want none", got-reads)
	}
}

// mustSlot is key's slot.
func mustSlot(t *testing.T, cc *redis.ClusterClient, key string) int64 {
	t.Helper()
	slot, err := cc.ClusterKeySlot(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return slot
}

// moveSlot starts moving key's slot to the master to (CLUSTER SETSLOT
// IMPORTING and MIGRATING) and moves every key of it there (MIGRATE), but
// does not end the move: the slot stays its owner's, which sends the
// commands on its keys to "to" (ASK).
func moveSlot(t *testing.T, ctx context.Context, cc *redis.ClusterClient, c *testCluster, key string, to *redis.Client) {
	t.Helper()
	slot := mustSlot(t, cc, key)
	owner, err := cc.MasterForKey(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	from := c.admin[owner.Options().Addr]
	fromID, err := from.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	toID, err := to.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := to.Do(ctx, "cluster", "setslot", slot, "importing", fromID).Err(); err != nil {
		t.Fatal(err)
	}
	if err := from.Do(ctx, "cluster", "setslot", slot, "migrating", toID).Err(); err != nil {
		t.Fatal(err)
	}
	keys, err := from.ClusterGetKeysInSlot(ctx, int(slot), 1000).Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("the slot's keys: %v %v", keys, err)
	}
	host, port, _ := strings.Cut(to.Options().Addr, ":")
	args := []any{"migrate", host, port, "", 0, 5000, "keys"}
	for _, k := range keys {
		args = append(args, k)
	}
	if err := from.Do(ctx, args...).Err(); err != nil {
		t.Fatalf("MIGRATE: %v", err)
	}
}

// busDown waits until a message published on one node of c no longer
// reaches a subscriber on another: the cluster bus is down.
func busDown(t *testing.T, c *testCluster) {
	t.Helper()
	ctx := context.Background()
	from, to := c.admin[c.nodes[1].addr()], c.admin[c.nodes[0].addr()]
	ps := to.Subscribe(ctx, "sktest:bus")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(viewWait)
	for time.Now().Before(deadline) {
		if err := from.Publish(ctx, "sktest:bus", "probe").Err(); err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		_, err := ps.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			return // nothing came: the bus drops it
		}
	}
	t.Fatalf("messages still cross the cluster bus %v after cutting it", viewWait)
}

// TestViewClusterManualFailover: a replica takes over its master with
// CLUSTER FAILOVER, and the former master stays up, answering as a
// replica. The view sees the masters change (the former master's CLUSTER
// SLOTS names the new one), subscribes to the new masters and is back in
// step; a token issued afterwards on the promoted master's slots is
// answered from the view and its logout-all is refused there.
func TestViewClusterManualFailover(t *testing.T) {
	needFailoverTests(t)
	c := startClusterOf(t, clusterSpec{masters: 3, replicas: 1, nodeTimeout: 5 * time.Second})
	a, b := clusterPair(t, c)
	f := newViewFixture(t, a, b, redisstore.ViewOptions{})
	ctx := context.Background()
	before := f.view.Status()
	if before.Servers != 3 {
		t.Fatalf("the view subscribes to %d servers, want the 3 masters", before.Servers)
	}
	var master, replica string
	for m, r := range c.replicas(t, ctx, c.nodes[0].addr()) {
		master, replica = m, r
		break
	}
	if err := c.admin[replica].Do(ctx, "cluster", "failover").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replica's promotion", func() bool {
		role, err := c.admin[replica].Do(ctx, "role").Slice()
		return err == nil && len(role) > 0 && role[0] == "master"
	})
	waitFor(t, "the view to subscribe to the new masters", func() bool {
		st := f.view.Status()
		return st.Lost > before.Lost && st.InStep && st.Servers == 3
	})
	if err := f.view.Status().LastError; err == nil || !strings.Contains(err.Error(), "masters changed") {
		t.Fatalf("the view's last error after a manual failover: %v, want the masters changed", err)
	}
	t.Logf("%s took over from %s; the view: %+v", replica, master, f.view.Status())

	var toks *sessionkit.Tokens
	for toks == nil {
		subject := "promoted-" + randomName()
		m, err := a.MasterForKey(ctx, slotKey(subject))
		if err != nil {
			t.Fatal(err)
		}
		if m.Options().Addr == replica {
			toks = f.login(t, subject)
		}
	}
	reads := f.view.Status().StoreReads
	if err := f.a.LogoutAll(ctx, subjectOf(t, f.a, toks)); err != nil {
		t.Fatal(err)
	}
	f.refusedAtB(t, toks.AccessToken)
	if got := f.view.Status().StoreReads; got != reads {
		t.Fatalf("the refusal took %d store reads, want none", got-reads)
	}
}

// TestViewRefusesWhatItCannotFollow: the shards of a Ring share nothing,
// and a ClusterClient with a ClusterSlots func (standalone servers mapped
// by the application) has no Cluster to ask for its masters: a View would
// hear some of the servers only.
func TestViewRefusesWhatItCannotFollow(t *testing.T) {
	m1, m2 := miniredis.RunT(t), miniredis.RunT(t)
	ring := redis.NewRing(&redis.RingOptions{
		Addrs:                 map[string]string{"a": m1.Addr(), "b": m2.Addr()},
		ContextTimeoutEnabled: true,
	})
	mapped := redis.NewClusterClient(&redis.ClusterOptions{
		ClusterSlots: func(context.Context) ([]redis.ClusterSlot, error) {
			return []redis.ClusterSlot{{Start: 0, End: 16383, Nodes: []redis.ClusterNode{{Addr: m1.Addr()}}}}, nil
		},
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { ring.Close(); mapped.Close() })
	for _, c := range []struct {
		client redis.UniversalClient
		want   string
	}{{ring, "Ring"}, {mapped, "ClusterSlots"}} {
		s, err := redisstore.New(c.client, redisstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Watch(redisstore.ViewOptions{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("Watch on %T: %v, want a refusal naming %s", c.client, err, c.want)
		}
	}
}
