package redisstore

import (
	"math"
	"time"
)

// A View forgets its entries when they expire, a few at a time: every
// entry (a subject's version, an ended session, a denied jti, a followed
// token) has one record in a min-heap on the time to look at it again.
// Expiring pops the records that are due; an entry found still live (its
// time was pushed back: a newer version, a session ended again, a longer
// deny) goes back in at its new time, one that expired is deleted. So the
// work is proportional to what expires, never a scan of the whole view
// under its lock, and no entry goes before its time.

// The kinds of entries an expiry record stands for.
const (
	expVersion uint8 = iota
	expSession
	expDeny
	expFollow
)

// expiryBatch bounds the records one lock hold expires, so that the checks
// waiting for the lock wait microseconds, not milliseconds.
const expiryBatch = 256

// expiry is when to look at one entry of the view again.
type expiry struct {
	at      int64 // Unix ns on the view's clock
	kind    uint8
	subject string // expVersion, expSession, expDeny
	id      string // session id (expSession), jti (expDeny, expFollow)
}

// expiries is a min-heap of expiry on at.
type expiries []expiry

func (h *expiries) push(e expiry) {
	*h = append(*h, e)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p].at <= s[i].at {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *expiries) pop() expiry {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s[n] = expiry{} // let the strings go
	s = s[:n]
	s.down(0)
	*h = s
	return top
}

// down restores the heap order below i.
func (s expiries) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(s) {
			return
		}
		m := l
		if r := l + 1; r < len(s) && s[r].at < s[l].at {
			m = r
		}
		if s[i].at <= s[m].at {
			return
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
}

// denyExpiry is when a deny entry ending at untilMS (Unix ms) may go: the
// verifiers accept a token up to the leeway past its exp.
// It saturates: an end too far to count in nanoseconds (a deny "for
// ever") never expires rather than wrapping into the past.
func (v *View) denyExpiry(untilMS int64) int64 {
	const maxMS = math.MaxInt64 / int64(time.Millisecond)
	if untilMS >= maxMS-v.leeway.Milliseconds()-1 {
		return math.MaxInt64
	}
	return time.UnixMilli(untilMS).Add(v.leeway).UnixNano()
}

// due reports whether an entry may have expired at now.
func (v *View) due(now time.Time) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.expiries) > 0 && v.expiries[0].at < now.UnixNano()
}

// expire forgets what has expired at now, expiryBatch records per hold of
// the lock. The subscription's goroutine calls it after every pong.
func (v *View) expire(now time.Time) {
	for v.due(now) {
		v.mu.Lock()
		v.expireLocked(now, expiryBatch)
		v.mu.Unlock()
	}
}

// expireLocked handles up to budget (0: no bound) of the records due at
// now.
func (v *View) expireLocked(now time.Time, budget int) {
	ns := now.UnixNano()
	for n := 0; len(v.expiries) > 0 && v.expiries[0].at < ns && (budget == 0 || n < budget); n++ {
		e := v.expiries.pop()
		if at, live := v.expiryOf(e); live {
			if at >= ns {
				e.at = at
				v.expiries.push(e)
				continue
			}
			v.dropLocked(e)
		}
	}
}

// rememberLocked records when to look at a new entry again. Records of
// entries forgotten all at once (the followed tokens of a past epoch) wait
// for their time; should they outnumber the live entries, the heap is
// rebuilt (one pass over the view under the lock, as rare as that many
// follows were dropped at once): the heap never holds more than twice the
// view's entries plus a batch.
func (v *View) rememberLocked(e expiry) {
	v.expiries.push(e)
	if live := v.entries + len(v.followed); len(v.expiries) > 2*live+expiryBatch {
		v.rebuildExpiriesLocked()
	}
}

// expiryOf is the current expiry of e's entry, and whether it exists.
func (v *View) expiryOf(e expiry) (int64, bool) {
	if e.kind == expFollow {
		f, ok := v.followed[e.id]
		return f.until, ok
	}
	sv := v.subjects[e.subject]
	if sv == nil {
		return 0, false
	}
	switch e.kind {
	case expVersion:
		return sv.versionUntil, sv.minVersion != 0
	case expSession:
		at, ok := sv.sessions[e.id]
		return at, ok
	default:
		until, ok := sv.denied[e.id]
		return v.denyExpiry(until), ok
	}
}

// dropLocked deletes e's entry, and its subject once it holds nothing.
func (v *View) dropLocked(e expiry) {
	if e.kind == expFollow {
		delete(v.followed, e.id)
		return
	}
	sv := v.subjects[e.subject]
	switch e.kind {
	case expVersion:
		sv.minVersion = 0
	case expSession:
		delete(sv.sessions, e.id)
	default:
		delete(sv.denied, e.id)
	}
	v.entries--
	if sv.minVersion == 0 && len(sv.sessions) == 0 && len(sv.denied) == 0 {
		delete(v.subjects, e.subject)
	}
}

// rebuildExpiriesLocked makes the heap anew from the entries: one record
// each.
func (v *View) rebuildExpiriesLocked() {
	h := make(expiries, 0, v.entries+len(v.followed))
	for subject, sv := range v.subjects {
		if sv.minVersion != 0 {
			h = append(h, expiry{at: sv.versionUntil, kind: expVersion, subject: subject})
		}
		for id, at := range sv.sessions {
			h = append(h, expiry{at: at, kind: expSession, subject: subject, id: id})
		}
		for jti, until := range sv.denied {
			h = append(h, expiry{at: v.denyExpiry(until), kind: expDeny, subject: subject, id: jti})
		}
	}
	for jti, f := range v.followed {
		h = append(h, expiry{at: f.until, kind: expFollow, id: jti})
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
	v.expiries = h
}
