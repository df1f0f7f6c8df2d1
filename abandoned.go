package sessionkit

import (
	"sync"
	"time"
)

// abandonedRotations remembers the rotations this Issuer sent and gave up
// on (the store call failed: a timeout, an outage), by presented secret
// hash: the time of the first such call and the successor hashes the first
// few asked for. The store may still have applied one (a server that ran
// it and stalled before answering: with appendfsync always Redis answers
// only after the fsync, and that is where a stall under load lands), so
// its caller never saw the successor, and the client's retry with the same
// token comes later than the grace window after the rotation's time: taken
// for reuse, it would revoke a legitimate session.
//
// So a rotation of a remembered token gets its grace window stretched to
// cover the time since the first abandoned call, and a replay the stretch
// alone allowed (outside the normal window) stands only if its successor is
// one those calls asked for: then the rotation that spent the token was this
// Issuer's own, its successor handed to no one by a Rotated answer. Any other
// successor means a rotation whose caller got its answer: reuse, and the
// session is revoked (redeem). It holds for retries to this instance; a
// retry that a load balancer sends to another one gets the normal window.
type abandonedRotations struct {
	mu sync.Mutex
	m  map[[32]byte]*abandoned
}

// abandoned is what is remembered of one token's abandoned rotations.
type abandoned struct {
	at   time.Time  // Rotation.Now of the first abandoned call
	next [][32]byte // the successor hashes of the first maxAbandonedCalls
}

const (
	// abandonTTL is how long an abandoned rotation is remembered: the
	// longest stall after which a retry is still a replay.
	abandonTTL = 5 * time.Minute
	// maxAbandonedCalls is how many abandoned calls of one token are
	// remembered: the first ones, since only one of them can have rotated
	// (the token is spent after it), in a stall the one in flight when it
	// began (the store's cut-off keeps the later ones from running).
	maxAbandonedCalls = 4
	// maxAbandoned bounds the tokens remembered; past it, expired entries
	// go, then any, down to half.
	maxAbandoned = 10000
)

// add remembers that a rotation of presented at now, asking for next,
// was abandoned.
func (a *abandonedRotations) add(presented, next [32]byte, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if e, ok := a.m[presented]; ok && now.Sub(e.at) <= abandonTTL {
		if len(e.next) < maxAbandonedCalls {
			e.next = append(e.next, next)
		}
		return
	}
	if a.m == nil {
		a.m = make(map[[32]byte]*abandoned)
	}
	if len(a.m) >= maxAbandoned {
		for k, e := range a.m {
			if now.Sub(e.at) > abandonTTL || len(a.m) >= maxAbandoned/2 {
				delete(a.m, k)
			}
		}
	}
	a.m[presented] = &abandoned{at: now, next: [][32]byte{next}}
}

// grace returns the grace window for a rotation of presented at now: grace,
// or, for a remembered token, grace stretched to cover the time since its
// first abandoned call, with the successor hashes a replay must match.
func (a *abandonedRotations) grace(presented [32]byte, now time.Time, grace time.Duration) (time.Duration, [][32]byte) {
	if grace <= 0 {
		return grace, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.m[presented]
	if !ok {
		return grace, nil
	}
	if now.Sub(e.at) > abandonTTL {
		delete(a.m, presented)
		return grace, nil
	}
	return max(grace, now.Sub(e.at)+grace), e.next
}

// forget drops presented: its rotation was answered, and none of the
// abandoned calls took effect, or the session or token is over (a replay
// keeps it: the other tabs of the same browser may retry too).
func (a *abandonedRotations) forget(presented [32]byte) {
	a.mu.Lock()
	delete(a.m, presented)
	a.mu.Unlock()
}
