package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// A View's subscription is a round of links, one per Redis server whose
// scripts it must hear: the server itself (one server, or Sentinel's
// master), or every master of a Cluster. Each link proves on its own, with
// a probe answered in order with the messages, that every revocation its
// server ran before the probe has been delivered; the view is in step
// while every link of the round has such a proof less than MaxStaleness
// old. Any link that fails, goes silent or finds the topology changed ends
// the round, and the next one subscribes afresh (a new epoch for each
// link).
//
// Every probe also reads INFO replication on the link's server: it must be
// a master, and the same replication history (master_replid) as at the
// link's first proof. A server that was a replica in between (a failover
// and a failback) has another, and may have missed what the master of the
// meantime published: the link ends.
//
// One server or Sentinel: the probe is a PUBLISH, on a channel of the
// link's own, sent through the client that writes (so, on Sentinel, to the
// current master) in one pipeline with INFO replication and PUBSUB NUMSUB
// of that channel. Only the link subscribes to it, so one subscriber
// proves the subscription is on the server that ran the PUBLISH, the
// master the writes go to (patterns are not counted). None, once the
// subscription is confirmed, means it is somewhere else (a former master,
// after a failover go-redis does not move subscriptions for), and ends the
// round.
//
// Cluster: a script's PUBLISH is delivered at once to the subscribers of
// the node that ran it, and to the others only over the cluster bus, which
// drops messages while a link between two nodes is down. The view
// therefore subscribes to every master serving slots, and a link's probe is
// INFO replication and CLUSTER NODES on its node, whose masters serving
// slots must be the round's by node id, then a PING on its subscription,
// answered after every message its node delivered before. A master added,
// promoted or demoted (a manual failover) ends the round. A master serving
// no slot runs no script, except for a slot being moved to it (a node
// sends the commands of a slot it is moving away to the target, ASK): while
// a node of the round moves a slot to a master outside it, the link has no
// proof, and the view reads the store until the move ends and the new
// owner joins the next round. Each revocation arrives once per master:
// applying one again changes nothing.

// Errors that end a round: the next one starts from what Redis says now.
var (
	errTopology = errors.New("redisstore: the Cluster's masters changed; the View subscribes to the new ones")
	errReplica  = errors.New("redisstore: the View's client reaches a replica, which hears revocations late; give it a client of the master (or a Sentinel client without ReplicaOnly)")
	errMoved    = errors.New("redisstore: the View's subscription is not on the server the writes go to (a failover); the View subscribes again")
	errHistory  = errors.New("redisstore: the server of a View's subscription has another replication history than when it subscribed (a failover and back); the View subscribes again")
	errSilent   = errors.New("redisstore: the View's subscription went silent (no answer to its probes)")
)

// endsLink reports whether a probe's err ends its link (and the round):
// the link's server is not, or no longer, one it may prove anything on.
func endsLink(err error) bool {
	return errors.Is(err, errTopology) || errors.Is(err, errReplica) || errors.Is(err, errMoved) || errors.Is(err, errHistory)
}

// link is one subscription of a round.
type link struct {
	// client is the server's: the link subscribes and probes through it.
	client redis.UniversalClient
	// synced is the monotonic time (View.monoNow) at which the last probe
	// answered on the link's current subscription was sent; 0 before.
	synced atomic.Int64
}

// round is the set of links the View serves at once.
type round struct {
	links   []*link
	masters map[string]bool // Cluster: the masters' ids; nil for one server
	inStep  atomic.Bool     // every link had a proof at once, at some point
}

// syncChannelFor is a channel for one link's probes (one server).
func syncChannelFor(channel string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return channel + ":sync:" + hex.EncodeToString(b[:])
}

// checkViewClient reports whether a View can follow client: one server (or
// Sentinel's master) through a *redis.Client, or a Cluster whose slot map
// comes from the Cluster. A Ring spreads its keys over servers that share
// nothing, and a ClusterClient with ClusterSlots (standalone servers, or
// Sentinel's, mapped by the application) has no Cluster to ask which
// masters there are: each would need a probe per server, and is refused
// rather than followed in part.
func checkViewClient(client redis.UniversalClient) error {
	switch c := client.(type) {
	case *redis.Client:
		return nil
	case *redis.ClusterClient:
		if c.Options().ClusterSlots != nil {
			return errors.New("redisstore: a View needs a ClusterClient that reads the slot map from the Cluster, not one with ClusterSlots (for Sentinel, use redis.NewFailoverClient)")
		}
		return nil
	}
	return fmt.Errorf("redisstore: a View needs a *redis.Client (one server, or Sentinel) or a *redis.ClusterClient, not %T", client)
}

// newRound lists the servers to subscribe to.
func (v *View) newRound(ctx context.Context) (*round, error) {
	cc, ok := v.client.(*redis.ClusterClient)
	if !ok {
		return &round{links: []*link{{client: v.client}}}, nil
	}
	r := &round{masters: map[string]bool{}}
	var mu sync.Mutex
	// ForEachMaster reloads the slot map first: the masters serving slots,
	// through the Cluster client's own node clients.
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		id, err := c.ClusterMyID(ctx).Result()
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		r.links = append(r.links, &link{client: c})
		r.masters[id] = true
		return nil
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("redisstore: the View could not list the Cluster's masters: %w", err)
	case len(r.links) == 0:
		return nil, errors.New("redisstore: the Cluster has no master serving slots")
	}
	return r, nil
}

// clusterView is what CLUSTER NODES on one node says: the masters serving
// slots, by id, and the nodes it is moving a slot of its own to.
type clusterView struct {
	masters  map[string]bool
	movingTo []string
}

// parseClusterNodes reads CLUSTER NODES' answer. A node's slots follow its
// eight fields; only the answering node's own line (flag myself) shows a
// slot it is moving away, as [slot->-target id].
func parseClusterNodes(text string) clusterView {
	cv := clusterView{masters: map[string]bool{}}
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		flags := strings.Split(f[2], ",")
		if !slices.Contains(flags, "master") {
			continue
		}
		for _, slot := range f[8:] {
			if !strings.HasPrefix(slot, "[") {
				cv.masters[f[0]] = true
			} else if _, to, ok := strings.Cut(strings.TrimSuffix(slot, "]"), "->-"); ok && slices.Contains(flags, "myself") {
				cv.movingTo = append(cv.movingTo, to)
			}
		}
	}
	return cv
}

// replication reads INFO replication's answer: the role and the
// replication id.
func replication(info string) (role, replid string) {
	for line := range strings.Lines(info) {
		line = strings.TrimRight(line, "\r\n")
		if v, ok := strings.CutPrefix(line, "role:"); ok {
			role = v
		} else if v, ok := strings.CutPrefix(line, "master_replid:"); ok {
			replid = v
		}
	}
	return role, replid
}

// run keeps a round of subscriptions until ctx ends, starting another
// after every loss with a capped backoff. The backoff starts over only
// after a round that was in step for a while: rounds that end before (a
// Cluster whose nodes disagree on its masters, a server refusing a probe)
// are retried ever more slowly, up to a second.
func (v *View) run(ctx context.Context) {
	defer close(v.done)
	const first, most = 10 * time.Millisecond, time.Second
	backoff := first
	for ctx.Err() == nil {
		began := time.Now()
		r, err := v.newRound(ctx)
		if err == nil {
			err = v.serveRound(ctx, r)
			if r.inStep.Load() && time.Since(began) >= max(3*v.staleness, most) {
				backoff = first
			}
		}
		v.synced.Store(0)
		if ctx.Err() != nil {
			return
		}
		v.stats.lost.Add(1)
		v.noteErr(err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, most)
	}
}

// serveRound serves every link of r until one ends, and says why the
// round ended.
func (v *View) serveRound(ctx context.Context, r *round) error {
	v.roundMu.Lock()
	v.round = r
	v.roundMu.Unlock()
	defer func() {
		v.roundMu.Lock()
		v.round = nil
		v.roundMu.Unlock()
	}()
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for _, l := range r.links {
		wg.Go(func() {
			cancel(v.serve(rctx, r, l)) // the first link to end says why
		})
	}
	wg.Wait()
	return context.Cause(rctx)
}

// resync sets the view's proof to the oldest of r's links' (0 when one
// has none), while r is the round served.
func (v *View) resync(r *round) {
	v.roundMu.Lock()
	defer v.roundMu.Unlock()
	if v.round != r {
		return // a prober of an ended round, finishing its probe
	}
	var oldest int64
	for i, l := range r.links {
		s := l.synced.Load()
		if s == 0 {
			v.synced.Store(0)
			return
		}
		if i == 0 || s < oldest {
			oldest = s
		}
	}
	v.synced.Store(oldest)
	r.inStep.Store(true)
}

// noteErr keeps why the view last left step, for Status.
func (v *View) noteErr(err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	v.errMu.Lock()
	v.lastErr = err
	v.errMu.Unlock()
}

// probe is one probe in flight on a link. Its proof counts once it is both
// answered on the subscription and checked (what was sent with it, INFO
// replication with PUBSUB NUMSUB or with CLUSTER NODES, said the link's
// server is one the view must hear, and the subscription on it: judge).
type probe struct {
	seq               uint64
	sent              int64 // monoNow before it was sent
	checked, answered bool
}

// serve reads one link's subscription until it fails, goes silent, its
// round ends or ctx ends, and says why it ended. A prober beside it probes
// as soon as the subscription is confirmed and then four times per
// MaxStaleness, and ends the link when no answer came for three
// MaxStaleness (at least a second); serve returns once the prober has.
func (v *View) serve(ctx context.Context, r *round, l *link) error {
	ctx, stop := context.WithCancel(ctx) // stopped before the prober is waited for
	// One server: the probes' channel, the link's own, never reused.
	channels, probes := []string{v.channel}, ""
	if r.masters == nil {
		probes = syncChannelFor(v.channel)
		channels = []string{probes, v.channel}
	}
	ps := l.client.Subscribe(ctx, channels...)
	defer ps.Close()
	var (
		mu        sync.Mutex
		inflight  []probe
		confirmed int64  // monoNow at the subscription's confirmation; 0 before
		replid    string // the server's replication id at its first proof
		heard     = v.monoNow()
		why       error // set by the prober when it ends the link
	)
	end := func(err error) {
		mu.Lock()
		if why == nil {
			why = err
		}
		mu.Unlock()
		ps.Close() // the reader's Receive fails
	}
	// settle records that probe n was answered (or checked) and, once it
	// is both, takes its proof. The answer to n also stands for every
	// earlier probe still in flight: those are dropped.
	settle := func(n uint64, answer bool) {
		mu.Lock()
		defer mu.Unlock()
		if answer {
			heard = v.monoNow()
			for len(inflight) > 0 && inflight[0].seq < n {
				inflight = inflight[1:]
			}
		}
		for i := range inflight {
			p := &inflight[i]
			if p.seq != n {
				continue
			}
			if answer {
				p.answered = true
			} else {
				p.checked = true
			}
			if p.answered && p.checked {
				inflight = inflight[i+1:]
				if confirmed != 0 && p.sent >= confirmed {
					l.synced.Store(p.sent)
					v.resync(r)
				}
			}
			return
		}
	}
	// answered takes the answer to a probe.
	answered := func(payload string) {
		if n, err := strconv.ParseUint(payload, 10, 64); err == nil {
			settle(n, true)
		}
	}
	// kick asks for a probe at once: a confirmed subscription syncs in one
	// round trip rather than at the next tick.
	kick := make(chan struct{}, 1)
	var prober sync.WaitGroup
	defer prober.Wait()
	// Before the Wait: the prober's probe ends with ctx (on a client that
	// honours context deadlines, as those of ClientOptions and its kin do;
	// on another, at its read timeout).
	defer stop()
	prober.Go(func() {
		every := v.staleness / 4
		silent := max(3*v.staleness, time.Second)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				end(context.Cause(ctx))
				return
			case <-t.C:
			case <-kick:
			}
			// Probe numbers are the View's, never reused: an answer
			// late from an earlier subscription matches no probe of
			// this one.
			n := v.probeSeq.Add(1)
			mu.Lock()
			now := v.monoNow()
			quiet := now-heard > int64(silent)
			after, known := confirmed != 0, replid
			mu.Unlock()
			if quiet {
				end(errSilent)
				return
			}
			pctx, cancel := context.WithTimeout(ctx, silent)
			// A probe that hangs past the silence bound (a client that
			// ignores ctx) ends the link as a silence would.
			watchdog := time.AfterFunc(silent, func() { end(errSilent) })
			res, err := v.probe(pctx, r, l, ps, probes, n, func() {
				mu.Lock()
				if len(inflight) < 64 {
					inflight = append(inflight, probe{seq: n, sent: now})
				}
				mu.Unlock()
			})
			watchdog.Stop()
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					v.noteErr(fmt.Errorf("redisstore: the View's probe failed: %w", err))
				}
				continue
			}
			checked, err := judge(r, res, known, after)
			switch {
			case endsLink(err):
				end(err)
				return
			case err != nil:
				v.noteErr(err)
			case checked:
				mu.Lock()
				if after && replid == "" {
					replid = res.replid
				}
				mu.Unlock()
				settle(n, false)
			}
		}
	})
	ended := func(err error) error {
		mu.Lock()
		defer mu.Unlock()
		if why != nil {
			return why
		}
		return err
	}
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			if msg := err.Error(); strings.HasPrefix(msg, "NOPERM") && strings.Contains(msg, "channel") {
				err = fmt.Errorf("its Redis user needs \"&%s*\": %w", v.channel, err)
			}
			return ended(fmt.Errorf("redisstore: the View's subscription failed: %w", err))
		}
		switch m := msg.(type) {
		case *redis.Message:
			switch m.Channel {
			case v.channel:
				v.apply(m.Payload)
			case probes:
				answered(m.Payload)
				v.expire(v.now())
			}
		case *redis.Pong:
			answered(m.Payload)
			v.expire(v.now())
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				return ended(errors.New("redisstore: the View's subscription was ended by the server"))
			}
			if m.Channel != v.channel {
				continue
			}
			// A new subscription (go-redis may have reconnected on its
			// own): what was published before it may be lost.
			l.synced.Store(0)
			v.resync(r)
			now := v.now()
			v.mu.Lock()
			v.newEpochLocked(now)
			v.mu.Unlock()
			v.stats.subscriptions.Add(1)
			mu.Lock()
			confirmed = v.monoNow()
			replid = ""
			inflight = inflight[:0]
			heard = confirmed
			mu.Unlock()
			select {
			case kick <- struct{}{}:
			default:
			}
		}
	}
}

// probe sends probe n on l, through its server's client (one
// connection): it calls sent before anything goes out (the answer proves
// every revocation the server ran before that moment), and returns what
// the server said of itself, which judge weighs. One server: INFO
// replication, a PUBLISH of n on the link's channel, PUBSUB NUMSUB
// of it; its answer is that message. Cluster: INFO replication and
// CLUSTER NODES, then a PING of n on the subscription, answered in order
// with the node's messages.
func (v *View) probe(ctx context.Context, r *round, l *link, ps *redis.PubSub, channel string, n uint64, sent func()) (probeResult, error) {
	payload := strconv.FormatUint(n, 10)
	var (
		res   probeResult
		info  *redis.StringCmd
		subs  *redis.MapStringIntCmd
		nodes *redis.StringCmd
	)
	sent()
	_, err := l.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		info = p.Info(ctx, "replication")
		if r.masters == nil {
			p.Publish(ctx, channel, payload)
			subs = p.PubSubNumSub(ctx, channel)
		} else {
			nodes = p.ClusterNodes(ctx)
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	res.role, res.replid = replication(info.Val())
	if r.masters == nil {
		res.subscribers = subs.Val()[channel]
		return res, nil
	}
	res.cluster = parseClusterNodes(nodes.Val())
	return res, ps.Ping(ctx, payload)
}

// probeResult is what a probe's commands said of the link's server.
type probeResult struct {
	role, replid string
	subscribers  int64       // one server: the link's channel's subscribers
	cluster      clusterView // Cluster: the node's CLUSTER NODES
}

// judge weighs a probe's result: whether it may prove anything (checked),
// or the error that ends the link. replid is the link's server's
// replication id at its first proof ("" before); confirmed, whether the
// subscription was confirmed before the probe was sent.
func judge(r *round, res probeResult, replid string, confirmed bool) (checked bool, err error) {
	switch {
	case res.role != "master" && r.masters != nil:
		return false, errTopology // a master demoted
	case res.role != "master":
		return false, errReplica
	case r.masters == nil && res.subscribers == 0 && confirmed:
		return false, errMoved // first: the likelier reason of another history
	case res.replid == "":
		return false, errors.New("redisstore: INFO replication names no master_replid: the View needs Redis 4 or later")
	case replid != "" && res.replid != replid:
		return false, errHistory
	}
	if r.masters == nil {
		switch {
		case res.subscribers == 1:
			return true, nil
		case res.subscribers > 1:
			return false, errors.New("redisstore: another client subscribes to the View's probe channel; the probe proves nothing")
		}
		return false, nil // sent before the subscription took
	}
	if len(res.cluster.masters) != len(r.masters) {
		return false, errTopology
	}
	for id := range res.cluster.masters {
		if !r.masters[id] {
			return false, errTopology
		}
	}
	for _, to := range res.cluster.movingTo {
		if !r.masters[to] {
			return false, fmt.Errorf("redisstore: a slot is moving to a master serving none (%s), which the View does not hear until it owns the slot: the View reads the store until then", to)
		}
	}
	return true, nil
}
