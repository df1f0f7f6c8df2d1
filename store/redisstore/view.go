package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// The defaults of ViewOptions.
const (
	// DefaultMaxStaleness is ViewOptions.MaxStaleness's default.
	DefaultMaxStaleness = time.Second
	// DefaultViewTokenLifetime is ViewOptions.MaxTokenLifetime's default.
	DefaultViewTokenLifetime = time.Hour
	// DefaultViewLeeway is ViewOptions.Leeway's default.
	DefaultViewLeeway = time.Minute
	// DefaultViewEntries is ViewOptions.MaxEntries's default.
	DefaultViewEntries = 100_000
)

// The bounds of ViewOptions' durations: what the view remembers must stay
// countable in nanoseconds of the Unix epoch.
const (
	maxViewLifetime = 366 * 24 * time.Hour
	maxViewLeeway   = time.Hour
)

// ErrViewBehind is the error, wrapping store.ErrUnavailable, of a View's
// CheckAccess with ViewOptions.FailClosed while the view is not in step
// with the store: the verifier answers it as an outage (503).
var ErrViewBehind = fmt.Errorf("%w: redisstore: the revocation view is not in step with Redis (subscription lost or silent)", store.ErrUnavailable)

// ViewOptions configures a View. The zero value is valid.
type ViewOptions struct {
	// MaxStaleness bounds how old a revocation the view may not know yet
	// and still answer on its own (default DefaultMaxStaleness; at least
	// 10ms). The view probes each server it subscribes to four times per
	// MaxStaleness; a revocation that completed more than MaxStaleness
	// before a check is known to the view, or the check reads the store.
	MaxStaleness time.Duration
	// MaxTokenLifetime is the longest access-token lifetime (exp - iat) the
	// view answers for (default DefaultViewTokenLifetime): it remembers a
	// revocation that long, plus twice Leeway, after learning of it.
	// Tokens living longer are checked against the store.
	MaxTokenLifetime time.Duration
	// Leeway covers the differences between the clocks of the instances
	// that mint tokens and this one, and the verifiers' exp leeway
	// (default DefaultViewLeeway; it must be at least both). After every
	// (re)subscription the view answers on its own only for tokens issued
	// (iat) Leeway after it; each older token is read from the store once
	// and then followed.
	Leeway time.Duration
	// MaxEntries bounds the revocations remembered, and separately the
	// older tokens followed after one store read (default
	// DefaultViewEntries; each entry costs 100 to 250 bytes). When the
	// revocations would exceed it, the view forgets them all and starts
	// over as after a reconnection: correct, at the price of store reads.
	MaxEntries int
	// FailClosed makes CheckAccess answer ErrViewBehind instead of reading
	// the store while the view is not in step (after losing its
	// subscription, before its first sync, or when Redis stops answering
	// its probes): every stateful check refuses until the view is back, and
	// Ready (sessionkit's readiness check) says so.
	FailClosed bool
	// Now is the clock the minting instances share (default time.Now),
	// against which iat and the retention of revocations are read. The
	// staleness bound runs on the monotonic clock whatever Now is.
	Now func() time.Time
}

// View is a Store whose CheckAccess answers from a local view of the
// revocations the store announces, with no round trip, while that view is
// in step with Redis; every other method is the Store's, and the
// revocations made through the View enter its view at once.
//
// It subscribes to Channel(prefix), on which every script that revokes
// publishes in the same run as its write: logout (Revoke), RevokeSession,
// logout-all and client revocation (RevokeAll), RevokeAccessToken (Deny),
// reuse detected (Rotate). The view keeps, bounded and expiring by
// themselves, the subjects' lowest current token versions, the ended
// sessions and the denied jtis; a token it answers for is refused when one
// of them covers it and accepted otherwise.
//
// Correctness under faults: the view answers on its own only while, on
// every server it subscribes to, a probe sent less than MaxStaleness ago
// has been answered on the subscription, in order with its messages, so
// that every revocation that server ran before the probe has arrived
// (viewlink.go says how each kind of deployment is probed). Otherwise,
// and while it has never synced, CheckAccess reads the store (or, with
// FailClosed, refuses). A revocation made while a subscription was down
// is never missed: after every (re)subscription the view answers on its
// own only for tokens issued after it (iat at least Leeway after), and
// every older token is read from the store once in the new subscription's
// life, after which the subscription carries whatever happens to it.
// Outside that, what a view cannot see: a session's natural end (idle or
// absolute expiry; access tokens never outlive the absolute one) is
// noticed only at the token's exp.
//
// One server, or Sentinel: the view subscribes through the Store's client,
// and probes with a message of its own published through that client,
// which must find the view's subscription on that server (PUBSUB NUMSUB):
// one left on a former master after a failover is not proven, and is made
// again. Redis Cluster: a script's PUBLISH reaches the other nodes over
// the cluster bus, which drops messages while a link between two nodes is
// down, so the view subscribes to every master serving slots, each proving
// its own scripts' messages, and starts again whenever CLUSTER NODES on any
// of them names other masters (a failover, a master added). Sharded pub/sub
// (SPUBLISH, Redis 7) is not used: a script may publish only on a channel
// of its own keys' slot, so a view would need a channel, and a
// subscription, per slot. A Ring is refused.
//
// Create one with (*Store).Watch; Close it when done. It is safe for
// concurrent use.
type View struct {
	*Store

	staleness, lifetime, leeway time.Duration
	maxEntries                  int
	failClosed                  bool
	now                         func() time.Time

	mono time.Time // the monotonic origin of synced
	// synced is the oldest, over the links of the current round, of the
	// monotonic times (since mono) at which each link's last answered
	// probe was sent; 0 while one has none (viewlink.go).
	synced atomic.Int64

	mu         sync.RWMutex
	subjects   map[string]*subjectView
	entries    int // versions, sessions and denied jtis in subjects
	followed   map[string]follow
	epoch      uint64    // bumped by every (re)subscription and every reset
	epochStart time.Time // on now's clock
	epochMono  int64     // monoNow at epochStart
	expiries   expiries  // when to look at each entry again (viewexpiry.go)

	stats struct {
		messages, malformed, resets, subscriptions, lost, storeReads, refusedBehind atomic.Uint64
	}

	roundMu  sync.Mutex
	round    *round // the links served now; nil between rounds
	errMu    sync.Mutex
	lastErr  error         // why the view last left step
	probeSeq atomic.Uint64 // the last probe's number, over every round

	cancel context.CancelFunc
	done   chan struct{}
}

// subjectView is what a View knows of one subject's revocations. Times are
// Unix ns on the View's clock (now); deny ends are Unix ms as announced.
type subjectView struct {
	minVersion   uint64
	versionUntil int64
	sessions     map[string]int64 // ended session id -> forget after
	denied       map[string]int64 // jti -> deny-list end (Unix ms)
}

// follow records that a token issued before the current subscription was
// read from the store in it and was live then: from then on, the
// subscription carries whatever happens to it.
type follow struct {
	subject, session string
	version          uint64
	epoch            uint64
	until            int64 // Unix ns: its exp plus the leeway
}

// Compile-time check that *View implements the contract, answers checks
// locally and reports its readiness.
var (
	_ store.Store        = (*View)(nil)
	_ store.LocalChecker = (*View)(nil)
	_ store.Readier      = (*View)(nil)
)

// Watch subscribes to the store's revocations and returns a View of them.
// It does not wait for the subscription: until the first sync, CheckAccess
// reads the store (or refuses, with FailClosed); WaitInStep waits for it.
// The View lives until Close.
func (s *Store) Watch(opts ViewOptions) (*View, error) {
	if err := checkViewClient(s.client); err != nil {
		return nil, err
	}
	v := &View{
		Store:      s,
		staleness:  opts.MaxStaleness,
		lifetime:   opts.MaxTokenLifetime,
		leeway:     opts.Leeway,
		maxEntries: opts.MaxEntries,
		failClosed: opts.FailClosed,
		now:        opts.Now,
		mono:       time.Now(),
		subjects:   make(map[string]*subjectView),
		followed:   make(map[string]follow),
		done:       make(chan struct{}),
	}
	switch {
	case v.staleness < 0, v.lifetime < 0, v.leeway < 0, v.maxEntries < 0:
		return nil, errors.New("redisstore: ViewOptions durations and MaxEntries must not be negative")
	case v.staleness == 0:
		v.staleness = DefaultMaxStaleness
	case v.staleness < 10*time.Millisecond:
		return nil, fmt.Errorf("redisstore: ViewOptions.MaxStaleness must be at least 10ms, got %v", v.staleness)
	case v.lifetime > maxViewLifetime, v.leeway > maxViewLeeway:
		return nil, fmt.Errorf("redisstore: ViewOptions.MaxTokenLifetime must be at most %v and Leeway at most %v (tokens living longer are checked against the store anyway)", maxViewLifetime, maxViewLeeway)
	}
	if v.lifetime == 0 {
		v.lifetime = DefaultViewTokenLifetime
	}
	if v.leeway == 0 {
		v.leeway = DefaultViewLeeway
	}
	if v.maxEntries == 0 {
		v.maxEntries = DefaultViewEntries
	}
	if v.now == nil {
		v.now = time.Now
	}
	v.epochStart = v.now()
	v.epochMono = v.monoNow()
	ctx, cancel := context.WithCancel(context.Background())
	v.cancel = cancel
	go v.run(ctx)
	return v, nil
}

// Close stops the subscription and waits for it to end. The View's
// CheckAccess then reads the store (or refuses, with FailClosed); the
// Store itself, and its client, stay open.
func (v *View) Close() error {
	v.cancel()
	<-v.done
	v.synced.Store(0)
	return nil
}

// ViewStatus is a View's state, for operators (readiness, metrics).
type ViewStatus struct {
	// InStep reports that the view answers on its own.
	InStep bool
	// SyncedAt is when the oldest of the last probes answered (one per
	// server) was sent (zero while not in step): the view knows every
	// revocation before it.
	SyncedAt time.Time
	// Servers is the number of servers the view is subscribed to now: 1,
	// or a Cluster's masters; 0 between two attempts.
	Servers int
	// Subscriptions counts the subscriptions confirmed (one per server,
	// and again after each reconnection); Lost, the times the view's
	// subscriptions failed or could not be made, went silent (no answer
	// to its probes for three MaxStaleness, at least a second), met a
	// changed topology or were found away from the writes, and were all
	// started again.
	Subscriptions, Lost uint64
	// LastError says why the view last left step or failed a probe (nil
	// when it never did), for operators: a refused channel (ACL), a
	// replica, a changed Cluster, a lost connection.
	LastError error
	// Entries is the number of revocations remembered; Followed, the older
	// tokens followed after one store read.
	Entries, Followed int
	// Messages counts the announcements applied (on a Cluster each arrives
	// once per master: applying one again changes nothing), Malformed
	// those that could not be read (each one resets the view), Resets the
	// times the view forgot everything (overflow or malformed message).
	Messages, Malformed, Resets uint64
	// StoreReads counts the checks read from the store (not in step, older
	// tokens, long-lived tokens); RefusedBehind, those refused with
	// ErrViewBehind.
	StoreReads, RefusedBehind uint64
}

// Status reports the view's state.
func (v *View) Status() ViewStatus {
	v.mu.RLock()
	st := ViewStatus{Entries: v.entries, Followed: len(v.followed)}
	v.mu.RUnlock()
	if s := v.synced.Load(); s > 0 {
		st.SyncedAt = v.mono.Add(time.Duration(s))
		st.InStep = v.inStep()
	}
	v.roundMu.Lock()
	if v.round != nil {
		st.Servers = len(v.round.links)
	}
	v.roundMu.Unlock()
	v.errMu.Lock()
	st.LastError = v.lastErr
	v.errMu.Unlock()
	st.Subscriptions = v.stats.subscriptions.Load()
	st.Lost = v.stats.lost.Load()
	st.Messages = v.stats.messages.Load()
	st.Malformed = v.stats.malformed.Load()
	st.Resets = v.stats.resets.Load()
	st.StoreReads = v.stats.storeReads.Load()
	st.RefusedBehind = v.stats.refusedBehind.Load()
	return st
}

// WaitInStep waits until the view answers on its own, or ctx ends.
func (v *View) WaitInStep(ctx context.Context) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for !v.inStep() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("redisstore: the revocation view is not in step: %w", ctx.Err())
		case <-v.done:
			return errors.New("redisstore: the revocation view is closed")
		case <-t.C:
		}
	}
	return nil
}

// Ready reports whether the view's checks can be served (store.Readier,
// which sessionkit's Issuer.Check and Verifier.Check call): always nil
// without FailClosed, since its checks then read the store while the view
// is not in step, and the readiness check reads the store too. With
// FailClosed it waits for the view to be in step, at most MaxStaleness
// (less when ctx ends sooner: a view whose link works syncs in one round
// trip), and then answers ErrViewBehind: every stateful check would refuse.
func (v *View) Ready(ctx context.Context) error {
	if !v.failClosed || v.inStep() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, v.staleness)
	defer cancel()
	if err := v.WaitInStep(ctx); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", ErrViewBehind, ctx.Err())
		}
		return fmt.Errorf("%w: the view is closed", ErrViewBehind)
	}
	return nil
}

// monoNow is the monotonic time since v.mono, never 0.
func (v *View) monoNow() int64 { return int64(time.Since(v.mono)) + 1 }

// inStep reports that, on every link of the current round, a probe sent
// less than MaxStaleness ago was answered.
func (v *View) inStep() bool { return v.inStepAt(v.monoNow()) }

// inStepAt is inStep at the monotonic time mono.
func (v *View) inStepAt(mono int64) bool {
	s := v.synced.Load()
	return s > 0 && mono-s <= int64(v.staleness)
}

// ---- the check ----

// CheckAccess answers from the view when it is in step and covers the
// token, else reads the store (with FailClosed, refuses while not in
// step). A token the view knows to be revoked is refused without a read in
// any case.
func (v *View) CheckAccess(ctx context.Context, q store.AccessCheck) (store.AccessState, error) {
	if err := store.ContextError(ctx); err != nil {
		return store.AccessState{}, err
	}
	if st, ok := v.CheckAccessLocal(q); ok {
		return st, nil
	}
	inStep := v.inStep()
	v.mu.RLock()
	epoch := v.epoch
	v.mu.RUnlock()
	if !inStep && v.failClosed {
		v.stats.refusedBehind.Add(1)
		return store.AccessState{}, ErrViewBehind
	}
	v.stats.storeReads.Add(1)
	st, err := v.Store.CheckAccess(ctx, q)
	if err != nil {
		return st, err
	}
	v.learn(q, st, epoch, inStep)
	return st, nil
}

// CheckAccessLocal is CheckAccess's answer without I/O, when the view has
// one (store.LocalChecker): a revocation it knows covers the token, or it
// is in step and covers the token. Otherwise ok is false.
func (v *View) CheckAccessLocal(q store.AccessCheck) (st store.AccessState, ok bool) {
	mono := v.monoNow()
	inStep := v.inStepAt(mono)
	v.mu.RLock()
	sv := v.subjects[q.Subject]
	st, refused := knownLocked(q, sv)
	covered := inStep && v.coversLocked(q, sv, mono)
	v.mu.RUnlock()
	return st, refused || covered
}

// knownLocked answers from what the view remembers of the token's subject
// (sv, nil when nothing): refused when a revocation covers the token (the
// state says which), else the state of a token nothing revoked.
func knownLocked(q store.AccessCheck, sv *subjectView) (store.AccessState, bool) {
	st := store.AccessState{Version: q.Version, SessionLive: q.SessionID != ""}
	if sv == nil {
		return st, false
	}
	refused := false
	if sv.minVersion > q.Version {
		st.Version, refused = sv.minVersion, true
	}
	if q.SessionID != "" {
		if _, ended := sv.sessions[q.SessionID]; ended {
			st.SessionLive, refused = false, true
		}
	}
	if u, ok := sv.denied[q.JTI]; ok && q.Now.UnixMilli() < u {
		st.Denied, refused = true, true
	}
	return st, refused
}

// coversLocked reports whether every revocation of the token would be in
// the view: a lifetime the view remembers revocations for, and issued after
// the current subscription began, or read from the store during it. sv is
// what the view remembers of the token's subject (nil when nothing).
//
// The epoch's start is read on the wall clock (iat is), but a wall clock
// can be stepped forward after it (a VM resumed, NTP correcting a clock
// that was behind): the epoch began no earlier than the check's time minus
// the monotonic time elapsed since, so the later of the two counts.
func (v *View) coversLocked(q store.AccessCheck, sv *subjectView, mono int64) bool {
	if q.IssuedAt.IsZero() || q.ExpiresAt.Sub(q.IssuedAt) > v.lifetime {
		return false
	}
	if sv != nil && sv.minVersion != 0 && q.Version != sv.minVersion {
		// Older versions are refused (knownLocked); a newer one than the
		// view knows means a logout-all it has not heard of yet, or a
		// version the store lost and counted again: only the store knows.
		return false
	}
	start := v.epochStart
	if s := q.Now.Add(-time.Duration(mono - v.epochMono)); s.After(start) {
		start = s
	}
	if !q.IssuedAt.Before(start.Add(v.leeway)) {
		return true
	}
	if q.JTI == "" {
		return false
	}
	f, ok := v.followed[q.JTI]
	// The whole of what the read was about must match: a jti is unique
	// per token, but the view does not rest on every issuer making it so.
	return ok && f.epoch == v.epoch && f.subject == q.Subject &&
		f.session == q.SessionID && f.version == q.Version
}

// learn keeps what a store read said: the revocations it showed, and, for
// a live token read while in step, that the subscription of epoch now
// follows it.
func (v *View) learn(q store.AccessCheck, st store.AccessState, epoch uint64, inStep bool) {
	live := !st.Denied && st.Version == q.Version && (q.SessionID == "" || st.SessionLive)
	if live && (!inStep || q.JTI == "" || q.IssuedAt.IsZero() || q.ExpiresAt.Sub(q.IssuedAt) > v.lifetime) {
		return // nothing to remember
	}
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	switch {
	case !live:
		if st.Version > q.Version {
			v.addVersionLocked(q.Subject, st.Version, now)
		}
		if q.SessionID != "" && !st.SessionLive {
			v.addSessionLocked(q.Subject, q.SessionID, now)
		}
		if st.Denied {
			v.addDenyLocked(q.Subject, q.JTI, q.ExpiresAt.Add(v.leeway).UnixMilli(), now)
		}
	case v.epoch == epoch:
		if len(v.followed) >= v.maxEntries {
			// Following afresh costs one store read per token; it
			// never loses a revocation.
			clear(v.followed)
		}
		f := follow{
			subject: q.Subject, session: q.SessionID, version: q.Version,
			epoch: epoch, until: q.ExpiresAt.Add(v.leeway).UnixNano(),
		}
		_, known := v.followed[q.JTI]
		v.followed[q.JTI] = f
		if !known {
			v.rememberLocked(expiry{at: f.until, kind: expFollow, id: q.JTI})
		}
	}
}

// ---- what the view remembers ----

// forget is how long after learning of it the view keeps a version or an
// ended session: every token it covers was issued before and lives at most
// lifetime, plus the clocks' differences and the verifiers' leeway.
func (v *View) forget(now time.Time) int64 {
	return now.Add(v.lifetime + 2*v.leeway).UnixNano()
}

// subjectLocked returns subject's entry, creating it. When the view is full
// even after expiring what is due, it is reset first.
func (v *View) subjectLocked(subject string, now time.Time) *subjectView {
	if v.entries >= v.maxEntries {
		v.expireLocked(now, 0)
		if v.entries >= v.maxEntries {
			v.resetLocked(now)
		}
	}
	sv := v.subjects[subject]
	if sv == nil {
		sv = &subjectView{}
		v.subjects[subject] = sv
	}
	return sv
}

// The add methods record an entry, then (for a new one) when to look at
// it again: a record made before its entry could be lost to a rebuild.

func (v *View) addVersionLocked(subject string, version uint64, now time.Time) {
	if version == 0 {
		return // refuses nothing
	}
	sv := v.subjectLocked(subject, now)
	fresh := sv.minVersion == 0
	sv.minVersion = max(sv.minVersion, version)
	sv.versionUntil = v.forget(now)
	if fresh {
		v.entries++
		v.rememberLocked(expiry{at: sv.versionUntil, kind: expVersion, subject: subject})
	}
}

func (v *View) addSessionLocked(subject, id string, now time.Time) {
	sv := v.subjectLocked(subject, now)
	if sv.sessions == nil {
		sv.sessions = make(map[string]int64)
	}
	at := v.forget(now)
	_, known := sv.sessions[id]
	sv.sessions[id] = at
	if !known {
		v.entries++
		v.rememberLocked(expiry{at: at, kind: expSession, subject: subject, id: id})
	}
}

func (v *View) addDenyLocked(subject, jti string, untilMS int64, now time.Time) {
	sv := v.subjectLocked(subject, now)
	if sv.denied == nil {
		sv.denied = make(map[string]int64)
	}
	cur, known := sv.denied[jti]
	sv.denied[jti] = max(cur, untilMS)
	if !known {
		v.entries++
		v.rememberLocked(expiry{at: v.denyExpiry(untilMS), kind: expDeny, subject: subject, id: jti})
	}
}

// resetLocked forgets every revocation and starts a new epoch at now, as a
// reconnection does: tokens issued before it are read from the store again.
func (v *View) resetLocked(now time.Time) {
	v.subjects = make(map[string]*subjectView)
	v.entries = 0
	v.newEpochLocked(now)
	clear(v.expiries) // every record's entry is gone
	v.expiries = v.expiries[:0]
	v.stats.resets.Add(1)
}

// newEpochLocked starts an epoch at now: what was followed is followed no
// more.
func (v *View) newEpochLocked(now time.Time) {
	v.epoch++
	v.epochStart = now
	v.epochMono = v.monoNow()
	clear(v.followed)
}

// apply takes one announcement into the view; one it cannot read resets it
// (it may have been a revocation).
func (v *View) apply(payload string) {
	a, err := parseAnnouncement(payload)
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	if err != nil {
		v.stats.malformed.Add(1)
		v.resetLocked(now)
		return
	}
	v.stats.messages.Add(1)
	switch a.kind {
	case kindVersion:
		v.addVersionLocked(a.subject, a.version, now)
	case kindSession:
		v.addSessionLocked(a.subject, a.id, now)
	case kindDeny:
		v.addDenyLocked(a.subject, a.id, a.until, now)
	}
}

// ---- the revocations made through the View enter it at once ----

// Rotate is the Store's; a reuse it detects enters the view.
func (v *View) Rotate(ctx context.Context, r store.Rotation) (store.RotateResult, error) {
	res, err := v.Store.Rotate(ctx, r)
	if err == nil && res.Outcome == store.Reused {
		v.ended(res.Session.Subject, res.Session.ID)
	}
	return res, err
}

// Revoke is the Store's; the ended session enters the view.
func (v *View) Revoke(ctx context.Context, handle string, presented [32]byte, now time.Time) (store.Session, error) {
	s, err := v.Store.Revoke(ctx, handle, presented, now)
	if err == nil {
		v.ended(s.Subject, s.ID)
	}
	return s, err
}

// RevokeSession is the Store's; the ended session enters the view.
func (v *View) RevokeSession(ctx context.Context, subject, id string, now time.Time) error {
	err := v.Store.RevokeSession(ctx, subject, id, now)
	if err == nil {
		v.ended(subject, id)
	}
	return err
}

// RevokeAll is the Store's; the new version enters the view.
func (v *View) RevokeAll(ctx context.Context, subject string, now time.Time) (uint64, error) {
	ver, err := v.Store.RevokeAll(ctx, subject, now)
	if err == nil {
		t := v.now()
		v.mu.Lock()
		v.addVersionLocked(subject, ver, t)
		v.mu.Unlock()
	}
	return ver, err
}

// Deny is the Store's; the entry enters the view.
func (v *View) Deny(ctx context.Context, subject, jti string, until time.Time) error {
	err := v.Store.Deny(ctx, subject, jti, until)
	if err == nil {
		t := v.now()
		v.mu.Lock()
		v.addDenyLocked(subject, jti, until.UnixMilli(), t)
		v.mu.Unlock()
	}
	return err
}

func (v *View) ended(subject, id string) {
	t := v.now()
	v.mu.Lock()
	v.addSessionLocked(subject, id, t)
	v.mu.Unlock()
}
