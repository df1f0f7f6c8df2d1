package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
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
// One server or Sentinel: the probe is a PUBLISH, on a channel of the
// view's own, sent through the client that writes (so, on Sentinel, to the
// current master) in one pipeline after ROLE, which must say master. Only
// the view subscribes to that channel, so PUBLISH counting one receiver
// proves the subscription is on the server that ran it: the master the
// writes go to. None, once the subscription is confirmed, means it is
// somewhere else (a former master, after a failover go-redis does not move
// subscriptions for), and ends the round.
//
// Cluster: a script's PUBLISH is delivered at once to the subscribers of
// the node that ran it, and to the others only over the cluster bus, which
// drops messages while a link between two nodes is down. The view
// therefore subscribes to every master (those that serve no slot yet too:
// a slot being moved to one runs scripts there before it owns it), and a
// link's probe is CLUSTER NODES on its node, whose live masters must be
// the round's by node id, then a PING on its subscription, answered after
// every message its node delivered before. A master added, promoted,
// demoted (a manual failover) or failed ends the round. Each revocation
// thus arrives once per master: applying one again changes nothing.

// Errors that end a round: the next one starts from what Redis says now.
var (
	errTopology = errors.New("redisstore: the Cluster's masters changed; the View subscribes to the new ones")
	errReplica  = errors.New("redisstore: the View's client reaches a replica, which hears revocations late; give it a client of the master (or a Sentinel client without ReplicaOnly)")
	errMoved    = errors.New("redisstore: the View's subscription is not on the server the writes go to (a failover); the View subscribes again")
	errSilent   = errors.New("redisstore: the View's subscription went silent (no answer to its probes)")
)

// link is one subscription of a round.
type link struct {
	// client is the server's: the link subscribes and probes through it.
	client redis.UniversalClient
	// id is the Cluster node's id; "" for one server.
	id string
	// synced is the monotonic time (View.monoNow) at which the last probe
	// answered on the link's current subscription was sent; 0 before.
	synced atomic.Int64
}

// round is the set of links the View serves at once.
type round struct {
	links   []*link
	masters map[string]bool // Cluster: the masters' ids; nil for one server
	own     []*redis.Client // clients the round made (slot-less masters), closed with it
	inStep  atomic.Bool     // every link had a proof at once, at some point
}

// close releases the clients the round made.
func (r *round) close() {
	for _, c := range r.own {
		_ = c.Close()
	}
}

// syncChannelFor is the channel of a View's own probes (one server).
func syncChannelFor(channel string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return channel + ":sync:" + hex.EncodeToString(b[:])
}

// viewClient reports whether a View can follow client: one server (or
// Sentinel's master) through a *redis.Client, or a Cluster whose slot map
// comes from the Cluster. A Ring spreads its keys over servers that share
// nothing, and a ClusterClient with ClusterSlots (standalone servers, or
// Sentinel's, mapped by the application) has no Cluster to ask which
// masters there are: each would need a probe per server, and is refused
// rather than followed in part.
func viewClient(client redis.UniversalClient) error {
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
		r.links = append(r.links, &link{client: c, id: id})
		r.masters[id] = true
		return nil
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("redisstore: the View could not list the Cluster's masters: %w", err)
	case len(r.links) == 0:
		return nil, errors.New("redisstore: the Cluster has no master serving slots")
	}
	// The masters serving no slot, from one node's CLUSTER NODES: a client
	// of each, as the Cluster client's own are but for the address.
	first := r.links[0].client.(*redis.Client)
	nodes, err := liveMasters(ctx, first)
	if err != nil {
		return nil, err
	}
	for id, addr := range nodes {
		if r.masters[id] {
			continue
		}
		o := *first.Options()
		o.Addr = addr
		c := redis.NewClient(&o)
		r.own = append(r.own, c)
		r.links = append(r.links, &link{client: c, id: id})
		r.masters[id] = true
	}
	return r, nil
}

// liveMasters reads CLUSTER NODES on c: the masters not failed, by id,
// with their addresses.
func liveMasters(ctx context.Context, c redis.UniversalClient) (map[string]string, error) {
	text, err := c.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: CLUSTER NODES: %w", err)
	}
	return parseLiveMasters(text), nil
}

// parseLiveMasters reads CLUSTER NODES' answer: the masters not failed,
// in a handshake or without an address, by id, with their host:port.
func parseLiveMasters(text string) map[string]string {
	masters := map[string]string{}
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		flags := strings.Split(f[2], ",")
		if !slices.Contains(flags, "master") || slices.ContainsFunc(flags, func(f string) bool {
			return f == "fail" || f == "handshake" || f == "noaddr"
		}) {
			continue
		}
		// ip:port@cport[,hostname], the ip bare even when IPv6.
		addr, _, _ := strings.Cut(f[1], "@")
		addr, _, _ = strings.Cut(addr, ",")
		if i := strings.LastIndexByte(addr, ':'); i >= 0 {
			addr = net.JoinHostPort(addr[:i], addr[i+1:])
		}
		masters[f[0]] = addr
	}
	return masters
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
			r.close()
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
// answered on the subscription and checked (what was sent with it, ROLE and
// PUBLISH's count of receivers, or CLUSTER NODES, said the link's server is
// one the view must hear, and the subscription on it).
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
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	channels := []string{v.channel}
	if r.masters == nil {
		channels = []string{v.syncChannel, v.channel}
	}
	ps := l.client.Subscribe(ctx, channels...)
	defer ps.Close()
	var (
		mu        sync.Mutex
		inflight  []probe
		confirmed int64 // monoNow at the subscription's confirmation; 0 before
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
	defer stop() // before the Wait: the prober's probe ends with ctx
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
			after := confirmed != 0
			mu.Unlock()
			if quiet {
				end(errSilent)
				return
			}
			pctx, cancel := context.WithTimeout(ctx, silent)
			err := v.probe(pctx, r, l, ps, n, after, func() {
				mu.Lock()
				if len(inflight) < 64 {
					inflight = append(inflight, probe{seq: n, sent: now})
				}
				mu.Unlock()
			}, func() { settle(n, false) })
			cancel()
			if errors.Is(err, errTopology) || errors.Is(err, errReplica) || errors.Is(err, errMoved) {
				end(err)
				return
			}
			if err != nil && ctx.Err() == nil {
				v.noteErr(fmt.Errorf("redisstore: the View's probe failed: %w", err))
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
			if strings.HasPrefix(err.Error(), "NOPERM") {
				err = fmt.Errorf("its Redis user needs \"&%s*\": %w", v.channel, err)
			}
			return ended(fmt.Errorf("redisstore: the View's subscription failed: %w", err))
		}
		switch m := msg.(type) {
		case *redis.Message:
			switch m.Channel {
			case v.channel:
				v.apply(m.Payload)
			case v.syncChannel:
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

// probe sends probe n on l: it calls sent before anything goes out (the
// answer proves every revocation l's server ran before that moment), and
// checked once what it sent with it shows the server is one the view must
// hear. One server: ROLE, which must say master, and a PUBLISH of n on the
// view's channel, in one pipeline (one connection) through the client
// that writes, which must count one receiver: the view's subscription is
// on that server (none, when the subscription was confirmed before the
// probe, is errMoved); its answer is that message. Cluster: CLUSTER NODES
// on l's node, whose live masters must be r's, then a PING of n on the
// subscription, answered in order with the node's messages.
func (v *View) probe(ctx context.Context, r *round, l *link, ps *redis.PubSub, n uint64, confirmed bool, sent, checked func()) error {
	payload := strconv.FormatUint(n, 10)
	if r.masters == nil {
		sent()
		var (
			role *redis.Cmd
			pub  *redis.IntCmd
		)
		_, err := l.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			role = p.Do(ctx, "role")
			pub = p.Publish(ctx, v.syncChannel, payload)
			return nil
		})
		if err != nil {
			return err
		}
		reply, err := role.Slice()
		if err != nil || len(reply) == 0 {
			return fmt.Errorf("redisstore: ROLE answered %v: %w", reply, err)
		}
		if s, _ := reply[0].(string); s != "master" {
			return errReplica
		}
		switch receivers := pub.Val(); {
		case receivers >= 1:
			checked()
		case confirmed:
			return errMoved
		}
		return nil
	}
	sent()
	masters, err := liveMasters(ctx, l.client)
	if err != nil {
		return err
	}
	if len(masters) != len(r.masters) {
		return errTopology
	}
	for id := range masters {
		if !r.masters[id] {
			return errTopology
		}
	}
	checked()
	return ps.Ping(ctx, payload)
}
