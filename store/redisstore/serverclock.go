package redisstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// A rotation must not take effect after its caller has given up: the caller
// then retries with the same token, and if the rotation ran meanwhile that
// retry can come more than the grace window after it and be taken for reuse
// (a server stopped for longer than the window runs the rotations queued in
// its sockets when it resumes). So Rotate, when its context has a deadline,
// passes rotateScript a cut-off in the server's clock: the deadline minus a
// margin. The script reads the server's TIME first and, at or past the
// cut-off, answers codeLate and writes nothing.
//
// The cut-off needs the offset between the server's clock and this
// process's. Every rotateScript answer carries the server's TIME, so each
// Rotate yields a sample for free; a Rotate with a deadline and no fresh
// sample first runs timeScript on the session's key (one more round trip,
// at most once per sampleMaxAge per server while rotations are rare).

const (
	// sampleMaxAge is how long a clock sample serves before a Rotate with a
	// deadline asks the server's clock anew.
	sampleMaxAge = 30 * time.Second
	// driftPerSecond is how much the uncertainty of a sample grows per
	// second of its age: twice the fastest an NTP daemon slews a clock
	// (500 ppm), for two clocks slewing apart.
	driftPerSecond = time.Millisecond
	// lateSafety is the margin's allowance, beyond one round trip, for the
	// answer's way back (queueing in the server, the network, the client's
	// scheduler, a garbage collection): a rotation the script applies this
	// close to the deadline would likely be answered after it.
	lateSafety = 50 * time.Millisecond
)

// clockSample relates the server's clock to this process's: the server read
// server (Unix µs) at some moment within unc of local. local is the midpoint
// of the round trip that carried the reading, unc half its duration: the
// server read its clock while the command was in its hands, so within the
// round trip. local keeps its monotonic reading, so a step of this
// machine's wall clock after the sample does not move the conversion (Go
// subtracts monotonic readings when both times have them, as deadlines made
// by context.WithTimeout do).
type clockSample struct {
	server int64
	local  time.Time
	unc    time.Duration
}

// uncAt is the sample's uncertainty for a conversion at t: unc, plus the
// drift the two clocks may have had since.
func (c *clockSample) uncAt(t time.Time) time.Duration {
	age := t.Sub(c.local)
	if age < 0 {
		age = -age
	}
	return c.unc + time.Duration(age.Seconds()*float64(driftPerSecond))
}

// serverAt converts t to the server's clock (Unix µs).
func (c *clockSample) serverAt(t time.Time) int64 {
	return c.server + t.Sub(c.local).Microseconds()
}

// serverClock keeps the best recent sample of one server's clock: the one
// with the least uncertainty after ageing.
type serverClock struct {
	mu   sync.Mutex
	best clockSample // zero local: none yet
}

// sample returns the best sample if it is younger than sampleMaxAge at now.
func (c *serverClock) sample(now time.Time) (clockSample, bool) {
	c.mu.Lock()
	s := c.best
	c.mu.Unlock()
	return s, !s.local.IsZero() && now.Sub(s.local) < sampleMaxAge
}

// contradicts reports that n and c cannot both hold: the offsets they
// measure differ by more than their uncertainties allow (the server's clock
// stepped, or a failover put another server behind the same address).
func (c *clockSample) contradicts(n *clockSample) bool {
	d := n.server - c.serverAt(n.local)
	if d < 0 {
		d = -d
	}
	return time.Duration(d)*time.Microsecond > n.unc+c.uncAt(n.local)
}

// observe takes the server's reading from a round trip sent at sent and
// answered at received. It replaces the best sample when the new one is at
// least as certain as the best has become with age, or contradicts it.
func (c *serverClock) observe(server int64, sent, received time.Time) {
	rtt := received.Sub(sent)
	if server <= 0 || rtt < 0 {
		return
	}
	n := clockSample{server: server, local: sent.Add(rtt / 2), unc: rtt / 2}
	c.mu.Lock()
	defer c.mu.Unlock()
	if b := &c.best; b.local.IsZero() || n.unc <= b.uncAt(n.local) || b.contradicts(&n) {
		c.best = n
	}
}

// cutoff is rotateScript's cut-off for a call made at now whose context ends
// at deadline, in the server's clock (Unix µs): the deadline, less the
// sample's uncertainty at the deadline (so the server's clock is surely
// before the deadline when it is before the cut-off), less the answer's way
// back: one round trip as the sample's, plus lateSafety, but at most half the
// time the call has left, so that a short deadline still leaves the script
// time to run.
func (c *clockSample) cutoff(now, deadline time.Time) int64 {
	back := 2*c.unc + lateSafety
	if left := deadline.Sub(now); back > left/2 {
		back = max(left/2, 0)
	}
	return c.serverAt(deadline) - (c.uncAt(deadline) + back).Microseconds()
}

// clockFor returns the clock of the server that holds key: in a Cluster,
// the master of its slot (each node has its own clock), else the one
// server the client talks to.
func (s *Store) clockFor(ctx context.Context, key string) (*serverClock, error) {
	if s.cluster == nil {
		return &s.clock, nil
	}
	node, err := s.cluster.MasterForKey(ctx, key)
	if err != nil {
		return nil, err
	}
	addr := node.Options().Addr
	if c, ok := s.clocks.Load(addr); ok {
		return c.(*serverClock), nil
	}
	c, _ := s.clocks.LoadOrStore(addr, new(serverClock))
	return c.(*serverClock), nil
}

// rotateCutoff returns rotateScript's cut-off (Unix µs) for a call on key
// whose context has the given deadline, asking the server's clock first
// (timeScript, one round trip) when clk has no fresh sample.
func (s *Store) rotateCutoff(ctx context.Context, clk *serverClock, key string, deadline time.Time) (int64, error) {
	now := time.Now()
	smp, ok := clk.sample(now)
	if !ok {
		if _, err := s.roundTrip(ctx, func(ctx context.Context) (any, error) {
			sent := time.Now()
			v, err := timeScript.Run(ctx, s.client, []string{key}).Int64()
			if err == nil {
				clk.observe(v, sent, time.Now())
			}
			return v, err
		}); err != nil {
			return 0, err
		}
		now = time.Now()
		if smp, ok = clk.sample(now); !ok {
			return 0, errors.New("the server's TIME is unusable")
		}
	}
	return smp.cutoff(now, deadline), nil
}

// observeRotate takes the server's reading from rotateScript's answer v (its
// last element).
func (clk *serverClock) observeRotate(v any, sent, received time.Time) {
	if a, ok := v.([]any); ok && len(a) > 0 {
		if t, ok := a[len(a)-1].(int64); ok {
			clk.observe(t, sent, received)
		}
	}
}

// clusterOf returns c as a Cluster client, or nil.
func clusterOf(c redis.UniversalClient) *redis.ClusterClient {
	cc, _ := c.(*redis.ClusterClient)
	return cc
}
