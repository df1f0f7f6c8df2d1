package sessionkit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit/internal/scope"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/sealedstore"
)

// Defaults for ManagedKeysConfig's zero values.
const (
	// DefaultRotateEvery is how long each managed key signs when
	// ManagedKeysConfig.RotateEvery is 0.
	DefaultRotateEvery = 30 * 24 * time.Hour
	// DefaultPromoteLead is ManagedKeysConfig.PromoteLead when it is 0: the
	// time verifiers that cache a JWKS longer than its max-age need (jwx's
	// jwk.Cache keeps one at least 15 minutes by default).
	DefaultPromoteLead = 15 * time.Minute
	// DefaultRefreshEvery is ManagedKeysConfig.RefreshEvery when it is 0.
	DefaultRefreshEvery = time.Minute
)

// maxManagedKeys bounds the keys of one ring: the schedule keeps at most
// three (previous, current, next); manual rotations stop at this many.
const maxManagedKeys = 8

// ManagedKeysConfig configures OpenManagedKeys. Zero values mean the
// documented defaults.
type ManagedKeysConfig struct {
	// Store keeps the key ring: memstore, boltstore and redisstore
	// implement store.KeyStore. Every instance of a fleet gives the same
	// store (for Redis, the same server and Prefix). Required.
	Store store.KeyStore
	// Issuer is the issuer identifier (Config.Issuer) the keys sign for;
	// the ring is kept under a name scoped to it, so Issuers sharing a
	// store have rings of their own, and New refuses these keys for another
	// Issuer. Required.
	Issuer string
	// KEK is the key-encryption key ring that seals the private keys in
	// the store: Current seals, Previous keys only open rings sealed before
	// a KEK rotation. Keys as the sealed store's (sealedstore.GenerateKey
	// makes one, sealedstore.ParseKey reads its text form); use a key of its
	// own, kept in a secret manager. Rotate it like the sealed store's ring:
	// add the new key to Previous on every instance, make it Current
	// everywhere (the next change of the ring seals under it; see
	// ManagedKeys.Ring for the KEK in use), then drop the old one. Required.
	KEK sealedstore.Keys
	// Algorithm is the algorithm of new keys: RS256 (the default), ES256 or
	// EdDSA. Changing it changes the algorithm from the next rotation on.
	Algorithm Algorithm
	// AccessTTL is the longest access-token lifetime of the Issuers signing
	// with these keys (default DefaultAccessTTL): a key that stopped signing
	// is retired only after it, MaxLeeway and RefreshEvery. New refuses an
	// Issuer whose AccessTTL is longer.
	AccessTTL time.Duration
	// RotateEvery is how long each key signs before its successor takes
	// over (default DefaultRotateEvery; negative: no scheduled rotation,
	// only ManagedKeys.Rotate). It must be at least the promotion delay
	// plus the retirement delay (see ManagedKeys), so that a ring holds at
	// most a previous, a current and a next key.
	RotateEvery time.Duration
	// PromoteLead is the wait before a published key signs, beyond
	// RefreshEvery plus JWKSMaxAge, for verifiers that cache the JWKS
	// longer than its max-age and for clock skew (default
	// DefaultPromoteLead; negative: none).
	PromoteLead time.Duration
	// RefreshEvery is how often Run reloads the ring and takes the steps
	// that are due (default DefaultRefreshEvery, at most JWKSMaxAge): the
	// bound on how long an instance takes to see another's change.
	RefreshEvery time.Duration
	// MustExist makes OpenManagedKeys fail, with an error wrapping
	// ErrNotFound, when the store holds no ring for Issuer, instead of
	// creating one: for tools that inspect a fleet's keys.
	MustExist bool
	// Now is the clock (default time.Now). Every time of the schedule comes
	// from it.
	Now func() time.Time
	// Logger receives the steps this instance takes (publish, promote,
	// retire) and Run's failures; nil discards them. Records never contain
	// key material.
	Logger *slog.Logger
}

// ManagedKeys is a KeySet kept in a store.KeyStore and rotated on a
// schedule, the same for every instance of a fleet. Create it with
// OpenManagedKeys; it is safe for concurrent use.
//
// The schedule, decided by whichever instance first finds a step due and
// written with one compare-and-set (an instance that loses the race reloads
// the winner's ring, so each step happens once):
//
//   - publish: RotateEvery after the current key was promoted, less the
//     promotion delay, a new key joins the ring as the next key: every
//     instance verifies with it and serves it in its JWKS within
//     RefreshEvery;
//   - promote: the promotion delay (RefreshEvery + JWKSMaxAge +
//     PromoteLead) after publication, so that every instance has loaded it
//     and every verifier's cached JWKS has it, the next key signs and the
//     current one becomes previous;
//   - retire: the retirement delay (AccessTTL + MaxLeeway + RefreshEvery)
//     after a key stopped signing, so that the last token any instance
//     signed with it has expired everywhere, it leaves the ring.
//
// The instance that takes a step writes its times into the ring (when the
// next key may be promoted, when a previous key may be retired), and every
// instance waits for the later of those and its own configuration's; give
// every instance the same configuration all the same, with the AccessTTL
// of the longest-lived tokens any of them mints. The bounds assume that
// every instance runs its rounds: one that cannot reach the store keeps
// signing with the key it has, and its tokens fail elsewhere once that key
// is retired (with the same store for sessions, it cannot log anyone in
// meanwhile either). Nothing runs on its own: Run (or Tick, from the
// application's own timer) does a round of reload and due steps.
type ManagedKeys struct {
	store        store.KeyStore
	issuer       string
	name         string
	keks         *kekRing
	alg          Algorithm
	accessTTL    time.Duration
	rotateEvery  time.Duration // 0: no schedule
	promoteDelay time.Duration
	retireDelay  time.Duration
	refreshEvery time.Duration
	clock        func() time.Time
	log          *slog.Logger
	keys         *KeySet

	mu   sync.Mutex // guards ring; held for no store call
	ring *keyRing
}

// KeyInfo describes one managed key.
type KeyInfo struct {
	// KeyID is the key's kid.
	KeyID string
	// Algorithm is the algorithm it signs with.
	Algorithm Algorithm
	// State is its place in the rotation.
	State KeyState
	// PublishedAt is when it joined the ring (and the JWKS).
	PublishedAt time.Time
	// PromoteAt is, for the next key, the earliest time it is promoted.
	PromoteAt time.Time
	// PromotedAt is, for the current and previous keys, when it started
	// signing.
	PromotedAt time.Time
	// StoppedAt is, for a previous key, when its successor was promoted.
	StoppedAt time.Time
	// RetireAt is, for a previous key, the earliest time it is retired:
	// tokens it signed may be live until then.
	RetireAt time.Time
}

// KeyRingInfo describes a ring of managed keys, for listings.
type KeyRingInfo struct {
	// Version is the store's version of the ring: it rises by one at every
	// change.
	Version uint64
	// KEKID is the id of the key-encryption key the private keys are sealed
	// under.
	KEKID string
	// RotateAt is when the schedule publishes the next key; zero when a
	// next key is published already or rotation is not scheduled.
	RotateAt time.Time
	// Keys are the ring's keys: previous keys oldest first, the current key,
	// the next key.
	Keys []KeyInfo
}

// keyStep is one change of the ring, for the log.
type keyStep struct {
	what string // "published", "promoted", "retired", ...
	kid  string
}

// keyPlan computes a change of the ring r (nil: there is none) at now: the
// keys to store and the steps they take, or no keys when nothing is to be
// done.
type keyPlan func(r *keyRing, now time.Time) ([]*ringKey, []keyStep, error)

// OpenManagedKeys loads the ring of cfg.Issuer from cfg.Store, creating it
// with a first signing key if there is none (unless cfg.MustExist): when
// instances start together, one creates it and the others load that one.
// It takes no scheduled step and starts no goroutine: call Run (or Tick)
// for that. Errors wrap ErrInvalidConfig (a bad configuration, a KEK that
// does not open the ring), ErrStoreUnavailable, ErrKeysUnavailable (a
// stored ring that does not decode) or ErrNotFound.
func OpenManagedKeys(ctx context.Context, cfg ManagedKeysConfig) (*ManagedKeys, error) {
	m, err := newManagedKeys(cfg)
	if err != nil {
		return nil, err
	}
	r, err := m.change(ctx, 1, func(r *keyRing, now time.Time) ([]*ringKey, []keyStep, error) {
		if r != nil {
			return nil, nil, nil
		}
		if cfg.MustExist {
			return nil, nil, fmt.Errorf("%w: managed keys: the store holds no key ring for issuer %q", ErrNotFound, m.issuer)
		}
		k, err := m.generate(now)
		if err != nil {
			return nil, nil, err
		}
		k.State, k.Promoted, k.PromoteAt = KeyCurrent, now, time.Time{}
		return []*ringKey{k}, []keyStep{{"created the first key", k.KID}}, nil
	})
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("%w: managed keys: the key ring was created and is gone again", ErrKeysUnavailable)
	}
	return m, nil
}

// newManagedKeys checks cfg and applies its defaults.
func newManagedKeys(cfg ManagedKeysConfig) (*ManagedKeys, error) {
	bad := func(format string, args ...any) (*ManagedKeys, error) {
		return nil, fmt.Errorf("%w: ManagedKeysConfig: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if cfg.Store == nil {
		return bad("Store is required")
	}
	if err := validIssuer(cfg.Issuer); err != nil {
		return bad("Issuer %v", err)
	}
	keks, err := newKEKRing(cfg.KEK)
	if err != nil {
		return bad("KEK: %v", err)
	}
	m := &ManagedKeys{
		store:        cfg.Store,
		issuer:       cfg.Issuer,
		name:         scope.KeyRing(cfg.Issuer),
		keks:         keks,
		alg:          cfg.Algorithm,
		accessTTL:    orDefault(cfg.AccessTTL, DefaultAccessTTL),
		rotateEvery:  orDefault(cfg.RotateEvery, DefaultRotateEvery),
		refreshEvery: orDefault(cfg.RefreshEvery, DefaultRefreshEvery),
		clock:        cfg.Now,
		log:          cfg.Logger,
	}
	switch m.alg {
	case "":
		m.alg = RS256
	case RS256, ES256, EdDSA:
	default:
		return bad("Algorithm %q: managed keys sign with RS256, ES256 or EdDSA", shorten(string(cfg.Algorithm)))
	}
	if m.accessTTL < time.Second {
		return bad("AccessTTL must be at least one second")
	}
	if m.refreshEvery <= 0 || m.refreshEvery > JWKSMaxAge {
		return bad("RefreshEvery %v must be positive and at most JWKSMaxAge (%v)", cfg.RefreshEvery, JWKSMaxAge)
	}
	lead := max(orDefault(cfg.PromoteLead, DefaultPromoteLead), 0)
	// An instance sees a published key within refreshEvery and serves it
	// from then on; a verifier that fetched the JWKS just before keeps it
	// JWKSMaxAge more. So the promotion delay always exceeds the refresh
	// interval, by construction.
	m.promoteDelay = m.refreshEvery + JWKSMaxAge + lead
	// The last token an instance signs with a key comes at most
	// refreshEvery after the promotion of its successor (when that instance
	// reloads), and verifies for AccessTTL plus the leeway after that.
	m.retireDelay = m.accessTTL + MaxLeeway + m.refreshEvery
	if m.rotateEvery < 0 {
		m.rotateEvery = 0
	}
	if m.rotateEvery > 0 && m.rotateEvery < m.promoteDelay+m.retireDelay {
		return bad("RotateEvery %v is shorter than the promotion delay (%v) plus the retirement delay (%v)", m.rotateEvery, m.promoteDelay, m.retireDelay)
	}
	if m.clock == nil {
		m.clock = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.keys = &KeySet{managed: m}
	return m, nil
}

// Keys returns the key set to give Config.Keys and TrustedIssuer.Keys. It
// follows the ring: every change this instance makes or loads reaches it at
// once. Its Publish, Promote, Rotate and Retire methods refuse to work:
// use the ManagedKeys' own.
func (m *ManagedKeys) Keys() *KeySet { return m.keys }

// Ring describes the ring as this instance last loaded or changed it
// (OpenManagedKeys, Tick, Rotate, Retire); it does no I/O.
func (m *ManagedKeys) Ring() KeyRingInfo {
	r := m.installed()
	info := KeyRingInfo{Version: r.version, KEKID: r.kek, Keys: make([]KeyInfo, len(r.keys))}
	for i, k := range r.keys {
		info.Keys[i] = KeyInfo{KeyID: k.KID, Algorithm: k.Alg, State: k.State, PublishedAt: k.Published, PromotedAt: k.Promoted, StoppedAt: k.Stopped}
		switch k.State {
		case KeyNext:
			info.Keys[i].PromoteAt = m.promoteAt(k)
		case KeyPrevious:
			info.Keys[i].RetireAt = m.retireAt(k)
		}
	}
	if r.next() == nil && m.rotateEvery > 0 {
		info.RotateAt = m.rotateAt(r.current())
	}
	return info
}

// Tick does one round: it reloads the ring (decoding it only when its
// version changed) and takes the steps that are due at the configured
// clock's now, in one compare-and-set. When another instance changed the
// ring first, Tick loads that ring and is done: the step has happened. Run
// calls it every RefreshEvery; tests and applications with a timer of
// their own call it directly. It returns the store's error, or one wrapping
// ErrKeysUnavailable or ErrInvalidConfig for a ring it cannot open; the
// keys loaded before stay in use.
func (m *ManagedKeys) Tick(ctx context.Context) error {
	_, err := m.change(ctx, 0, m.due)
	return err
}

// Run calls Tick at once and then every RefreshEvery, each with a deadline
// of RefreshEvery, until ctx ends, and returns ctx's error. A failed round
// is logged and the loaded keys stay in use until a later one succeeds.
// It is the only goroutine managed keys need; run one per ManagedKeys.
func (m *ManagedKeys) Run(ctx context.Context) error {
	t := time.NewTicker(m.refreshEvery)
	defer t.Stop()
	for {
		tctx, cancel := context.WithTimeout(ctx, m.refreshEvery)
		err := m.Tick(tctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			m.log.ErrorContext(ctx, "sessionkit: managed keys: refresh failed; the loaded keys stay in use", "issuer", m.issuer, "error", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Rotate starts a rotation now: it publishes a next key, which the schedule
// promotes after the promotion delay, and returns it. While a next key is
// published already, it changes nothing and returns that one. A ring full
// of keys (previous keys not yet retired) refuses another.
func (m *ManagedKeys) Rotate(ctx context.Context) (KeyInfo, error) {
	_, err := m.change(ctx, 2, func(r *keyRing, now time.Time) ([]*ringKey, []keyStep, error) {
		if r.next() != nil {
			return nil, nil, nil
		}
		keys := r.edit()
		if len(keys) >= maxManagedKeys {
			return nil, nil, keyErr("Rotate: the ring holds %d keys already; retire a previous key first", len(keys))
		}
		k, err := m.generate(now)
		if err != nil {
			return nil, nil, err
		}
		return append(keys, k), []keyStep{{"published", k.KID}}, nil
	})
	if err != nil {
		return KeyInfo{}, err
	}
	for _, k := range m.Ring().Keys {
		if k.State == KeyNext {
			return k, nil
		}
	}
	// Another instance promoted the key between the change and this read.
	return KeyInfo{}, fmt.Errorf("%w: managed keys: the published key was promoted meanwhile", ErrKeysUnavailable)
}

// Retire removes the key kid from the ring now, if that is safe: a
// previous key once its RetireAt has passed (the schedule does it then
// anyway), or the next key, which has signed nothing (a rotation called
// off; the schedule publishes another when one is due). The current key and
// a previous key that may still have live tokens are refused; UnsafeRetire
// retires them.
func (m *ManagedKeys) Retire(ctx context.Context, kid string) error {
	return m.retire(ctx, kid, false)
}

// UnsafeRetire removes the key kid from the ring now, whatever tokens it
// signed: for a key that leaked. Tokens it signed fail at once (at other
// instances within RefreshEvery). Retiring the current key promotes the
// next key in the same step, or a new key when none is published, which
// verifiers that cached the JWKS before refuse until they fetch it again
// (a sessionkit Verifier refetches at once for an unknown kid).
func (m *ManagedKeys) UnsafeRetire(ctx context.Context, kid string) error {
	return m.retire(ctx, kid, true)
}

func (m *ManagedKeys) retire(ctx context.Context, kid string, unsafe bool) error {
	_, err := m.change(ctx, 2, func(r *keyRing, now time.Time) ([]*ringKey, []keyStep, error) {
		k := r.find(kid)
		if k == nil {
			return nil, nil, keyErr("Retire: no key %q in the ring", shorten(kid))
		}
		switch {
		case k.State == KeyCurrent && !unsafe:
			return nil, nil, keyErr("Retire: key %q is the current signing key; UnsafeRetire replaces it at once", kid)
		case k.State == KeyPrevious && !unsafe && now.Before(m.retireAt(k)):
			return nil, nil, keyErr("Retire: key %q may have signed tokens that are live until %s; UnsafeRetire retires it anyway", kid, m.retireAt(k).UTC().Format(time.RFC3339))
		}
		steps := []keyStep{{"retired", kid}}
		var keys []*ringKey
		for _, e := range r.edit() {
			if e.KID != kid {
				keys = append(keys, e)
			}
		}
		if k.State == KeyCurrent {
			succ := keyIn(keys, KeyNext)
			if succ == nil {
				var err error
				if succ, err = m.generate(now); err != nil {
					return nil, nil, err
				}
				keys = append(keys, succ)
			}
			succ.State, succ.Promoted, succ.PromoteAt = KeyCurrent, now, time.Time{}
			steps = append(steps, keyStep{"promoted at once", succ.KID})
		}
		return keys, steps, nil
	})
	return err
}

// due is Tick's plan: retire the previous keys whose time has come, promote
// the next key when its time has come, publish one when the current key's
// successor is due.
func (m *ManagedKeys) due(r *keyRing, now time.Time) ([]*ringKey, []keyStep, error) {
	if r == nil {
		return nil, nil, fmt.Errorf("%w: managed keys: the store holds no key ring for issuer %q", ErrKeysUnavailable, m.issuer)
	}
	var (
		keys      []*ringKey
		steps     []keyStep
		cur, next *ringKey
	)
	for _, k := range r.edit() {
		switch {
		case k.State == KeyPrevious && !now.Before(m.retireAt(k)):
			steps = append(steps, keyStep{"retired", k.KID})
			continue
		case k.State == KeyCurrent:
			cur = k
		case k.State == KeyNext:
			next = k
		}
		keys = append(keys, k)
	}
	if next != nil && !now.Before(m.promoteAt(next)) {
		cur.State, cur.Stopped, cur.RetireAt = KeyPrevious, now, now.Add(m.retireDelay)
		next.State, next.Promoted, next.PromoteAt = KeyCurrent, now, time.Time{}
		steps = append(steps, keyStep{"promoted", next.KID})
		cur, next = next, nil
	}
	if next == nil && m.rotateEvery > 0 && !now.Before(m.rotateAt(cur)) && len(keys) < maxManagedKeys {
		k, err := m.generate(now)
		if err != nil {
			return nil, nil, err
		}
		keys = append(keys, k)
		steps = append(steps, keyStep{"published", k.KID})
	}
	if len(steps) == 0 {
		return nil, nil, nil
	}
	return keys, steps, nil
}

// promoteAt is when the next key k may be promoted: the later of the time
// the ring says and the promotion delay of this configuration.
func (m *ManagedKeys) promoteAt(k *ringKey) time.Time {
	return later(k.PromoteAt, k.Published.Add(m.promoteDelay))
}

// retireAt is when the previous key k may be retired, likewise.
func (m *ManagedKeys) retireAt(k *ringKey) time.Time {
	return later(k.RetireAt, k.Stopped.Add(m.retireDelay))
}

// rotateAt is when the successor of the current key cur is published, so
// that it is promoted RotateEvery after cur was.
func (m *ManagedKeys) rotateAt(cur *ringKey) time.Time {
	return cur.Promoted.Add(m.rotateEvery - m.promoteDelay)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// generate makes a new next key published at now.
func (m *ManagedKeys) generate(now time.Time) (*ringKey, error) {
	sk, err := GenerateSigningKey(m.alg)
	if err != nil {
		return nil, err
	}
	return &ringKey{ringKeyInfo: ringKeyInfo{
		KID: sk.KeyID(), Alg: sk.Algorithm(), State: KeyNext,
		Published: now, PromoteAt: now.Add(m.promoteDelay),
	}, key: sk}, nil
}

// installed returns the ring in use.
func (m *ManagedKeys) installed() *keyRing {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ring
}

// install puts r in use unless a later version is in use already, and
// returns the ring in use.
func (m *ManagedKeys) install(r *keyRing) *keyRing {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ring == nil || r.version > m.ring.version {
		m.ring = r
		m.keys.snap.Store(r.snap)
	}
	return m.ring
}

// load reads the ring from the store and puts it in use (decoding it only
// when its version is not the one in use). It returns the ring in use, or
// nil when the store holds none.
func (m *ManagedKeys) load(ctx context.Context) (*keyRing, error) {
	blob, version, err := m.store.LoadKeys(ctx, m.name)
	if err != nil {
		return nil, storeFailure(err)
	}
	cur := m.installed()
	switch {
	case cur == nil && version == 0:
		return nil, nil
	case cur == nil:
	case version == cur.version:
		return cur, nil
	case version < cur.version:
		// Someone deleted the ring, or restored the store from a backup:
		// keep the keys in use and say so at every round.
		return nil, fmt.Errorf("%w: managed keys: the store's key ring is at version %d, older than version %d in use: was the store restored or the ring deleted?", ErrKeysUnavailable, version, cur.version)
	}
	r, err := decodeRing(m.issuer, version, blob, m.keks, cur)
	if err != nil {
		return nil, err
	}
	m.log.DebugContext(ctx, "sessionkit: managed keys: loaded the key ring", "issuer", m.issuer, "version", version, "signing", r.current().KID)
	return m.install(r), nil
}

// change loads the ring, plans a change at the clock's now and stores it
// with one compare-and-set. A lost race reloads and plans again, up to
// retries times; then the winner's ring stays in use. It returns the ring
// in use.
func (m *ManagedKeys) change(ctx context.Context, retries int, plan keyPlan) (*keyRing, error) {
	for attempt := 0; ; attempt++ {
		r, err := m.load(ctx)
		if err != nil {
			return nil, err
		}
		keys, steps, err := plan(r, m.clock().UTC())
		if err != nil || keys == nil {
			return r, err
		}
		var version uint64
		if r != nil {
			version = r.version
		}
		next, err := makeRing(version+1, m.keks.current, keys)
		if err != nil {
			return nil, fmt.Errorf("sessionkit: managed keys: %w", err) // a bug of the plan
		}
		blob, err := encodeRing(m.issuer, next.version, next.keys, m.keks)
		if err != nil {
			return nil, err
		}
		swapped, err := m.store.SwapKeys(ctx, m.name, version, blob)
		if err != nil {
			return nil, storeFailure(err)
		}
		if swapped {
			for _, s := range steps {
				m.log.InfoContext(ctx, "sessionkit: managed keys: "+s.what, "issuer", m.issuer, "kid", s.kid, "version", next.version)
			}
			return m.install(next), nil
		}
		m.log.DebugContext(ctx, "sessionkit: managed keys: another instance changed the ring first", "issuer", m.issuer, "version", version)
		if attempt == retries {
			return m.load(ctx)
		}
	}
}
