package sessionkit

import (
	"sync"
	"time"
)

// abandonedRotations remembers the rotations this Issuer sent and gave up
// on (the store call failed: a timeout, an outage), by refresh-token
// handle, for MaxReuseGrace. The store may still have applied such a
// rotation (a server stalled after running it and before answering), so
// its caller never saw the successor, and the client's retry with the same
// token comes later than the grace window after the rotation's time: taken
// for reuse, it would revoke a legitimate session. For a handle remembered
// here, the retry's grace window is stretched to cover the time since the
// abandoned call, up to MaxReuseGrace: the retry is answered as a replay.
// It holds for retries to this instance; a retry that a load balancer
// sends to another one gets the normal window.
type abandonedRotations struct {
	mu sync.Mutex
	at map[string]time.Time // handle -> Rotation.Now of the abandoned call
}

// maxAbandoned bounds the entries kept; past it, the oldest half goes.
const maxAbandoned = 10000

// add remembers that the rotation of handle at now was abandoned.
func (a *abandonedRotations) add(handle string, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.at == nil {
		a.at = make(map[string]time.Time)
	}
	if len(a.at) >= maxAbandoned {
		for h, t := range a.at {
			if now.Sub(t) > MaxReuseGrace || len(a.at) >= maxAbandoned/2 {
				delete(a.at, h)
			}
		}
	}
	if _, ok := a.at[handle]; !ok { // the first abandoned call is the one that may have applied
		a.at[handle] = now
	}
}

// grace returns the grace window for a rotation of handle at now: grace,
// stretched past an abandoned call of the handle (see abandonedRotations).
func (a *abandonedRotations) grace(handle string, now time.Time, grace time.Duration) time.Duration {
	if grace <= 0 {
		return grace
	}
	a.mu.Lock()
	t, ok := a.at[handle]
	a.mu.Unlock()
	if !ok {
		return grace
	}
	if now.Sub(t) > MaxReuseGrace {
		a.forget(handle)
		return grace
	}
	return min(max(grace, now.Sub(t)+grace), MaxReuseGrace)
}

// forget drops handle: its token rotated, so no abandoned call of it took
// effect (a replay keeps it: the other tabs of the same browser may retry
// too).
func (a *abandonedRotations) forget(handle string) {
	a.mu.Lock()
	delete(a.at, handle)
	a.mu.Unlock()
}
