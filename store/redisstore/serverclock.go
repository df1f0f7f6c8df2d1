package redisstore

import (
	"context"
	"sync"
	"time"
)

// A rotation must not take effect after its caller has given up: when a
// stalled server (stopped, swapping, blocked) finally runs a rotation whose
// caller returned at its deadline, the caller's retry with its old token
// would come more than the grace window after the rotation and be taken
// for reuse, revoking a legitimate session. So Rotate tells the script the
// caller's deadline, in the server's clock, and the script, reading TIME,
// writes nothing once it has passed.
//
// serverClock estimates the server's clock against this process's wall
// clock (context deadlines are wall-clock times), from TIME: the offset is
// TIME minus the midpoint of the request's send and receive times, known
// within half the round trip. A sample serves for clockSampleAge; a
// stale one is replaced at the next Rotate with a deadline, which then
// costs one TIME round trip more (once a minute).
type serverClock struct {
	mu     sync.Mutex
	offset time.Duration // server clock minus local wall clock
	slack  time.Duration // half the round trip of the sample
	taken  time.Time     // local wall time of the sample; zero: none
	skew   time.Duration // tests: added to the offset
}

// clockSampleAge is how long an offset sample serves.
const clockSampleAge = time.Minute

// lateMargin is subtracted from the server-side deadline besides the
// sample's slack: a rotation applied that close to the caller's deadline
// may answer after it. (Such a caller's retry still comes well inside the
// grace window, so it is a replay; the margin only keeps that rare.)
const lateMargin = 20 * time.Millisecond

// serverTime reads the server's TIME.
func (s *Store) serverTime(ctx context.Context) (time.Time, error) {
	v, err := s.roundTrip(ctx, func(ctx context.Context) (any, error) { return s.client.Time(ctx).Result() })
	if err != nil {
		return time.Time{}, err
	}
	return v.(time.Time), nil
}

// serverDeadline returns the last server time, in Unix milliseconds, at
// which a call with this local deadline may still take effect; now reads
// the server's clock when the sample is stale.
func (c *serverClock) serverDeadline(ctx context.Context, now func(context.Context) (time.Time, error), deadline time.Time) (int64, error) {
	c.mu.Lock()
	fresh := !c.taken.IsZero() && time.Since(c.taken) < clockSampleAge
	offset, slack := c.offset+c.skew, c.slack
	c.mu.Unlock()
	if !fresh {
		t0 := time.Now()
		server, err := now(ctx)
		if err != nil {
			return 0, err
		}
		t1 := time.Now()
		half := t1.Sub(t0) / 2
		offset, slack = server.Sub(t0.Add(half)), half
		c.mu.Lock()
		c.offset, c.slack, c.taken = offset, slack, t1
		offset += c.skew
		c.mu.Unlock()
	}
	return deadline.Add(offset - slack - lateMargin).UnixMilli(), nil
}
