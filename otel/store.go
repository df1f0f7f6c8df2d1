package skotel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/sessionkit/sessionkit/store"
)

// storeBuckets are the bucket boundaries of sessionkit.store.duration, in
// seconds: from 100 µs (a store on the same host) to 2.5 s (a store about
// to time out).
var storeBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// The attribute keys of the store histogram.
const (
	attrMethod    = attribute.Key("sessionkit.store.method")
	attrErrorType = attribute.Key("error.type")
)

// method names a timed store method.
type method int

const (
	mCreate method = iota
	mRotate
	mSessions
	mLookup
	mRevoke
	mRevokeSession
	mRevokeAll
	mDeny
	mVersion
	mCheckAccess
	mUseOnce
	mLoadKeys
	mSwapKeys
	nMethods
)

var methodNames = [nMethods]string{
	mCreate: "Create", mRotate: "Rotate", mSessions: "Sessions",
	mLookup: "Lookup", mRevoke: "Revoke", mRevokeSession: "RevokeSession", mRevokeAll: "RevokeAll",
	mDeny: "Deny", mVersion: "Version", mCheckAccess: "CheckAccess", mUseOnce: "UseOnce",
	mLoadKeys: "LoadKeys", mSwapKeys: "SwapKeys",
}

// errType is the error.type value of a failed store call: a closed set.
type errType int

const (
	eNone errType = iota
	eTimeout
	eCanceled
	eUnavailable
	eNotFound
	eUnsupported
	eTooLarge
	eOther
	nErrTypes
)

var errTypeNames = [nErrTypes]string{
	eTimeout: "timeout", eCanceled: "canceled", eUnavailable: "unavailable", eNotFound: "not_found",
	eUnsupported: "unsupported", eTooLarge: "too_large", eOther: otherValue,
}

// classify maps a store error to its error.type. A dead context comes
// first: the store contract wraps it in store.ErrUnavailable too.
func classify(err error) errType {
	switch {
	case err == nil:
		return eNone
	case errors.Is(err, context.DeadlineExceeded):
		return eTimeout
	case errors.Is(err, context.Canceled):
		return eCanceled
	case errors.Is(err, store.ErrUnavailable):
		return eUnavailable
	case errors.Is(err, store.ErrNotFound):
		return eNotFound
	case errors.Is(err, store.ErrUnsupported):
		return eUnsupported
	case errors.Is(err, store.ErrTooLarge):
		return eTooLarge
	}
	return eOther
}

// timer records the duration of store calls, with an attribute set
// precomputed for every method and outcome.
type timer struct {
	hist metric.Float64Histogram
	opts [nMethods][nErrTypes][]metric.RecordOption
}

func newTimer(mp metric.MeterProvider) (*timer, error) {
	const name = "sessionkit.store.duration"
	h, err := mp.Meter(ScopeName).Float64Histogram(name,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of session-store calls, by method; failed calls carry error.type."),
		metric.WithExplicitBucketBoundaries(storeBuckets...))
	if err != nil {
		return nil, fmt.Errorf("skotel: creating the histogram %s: %w", name, err)
	}
	t := &timer{hist: h}
	for m := range nMethods {
		for e := range nErrTypes {
			attrs := []attribute.KeyValue{attrMethod.String(methodNames[m])}
			if e != eNone {
				attrs = append(attrs, attrErrorType.String(errTypeNames[e]))
			}
			t.opts[m][e] = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attrs...))}
		}
	}
	return t, nil
}

// done records a call of m that started at start and returned *err. The
// methods defer it, so that it reads the error they return.
func (t *timer) done(ctx context.Context, m method, start time.Time, err *error) {
	t.hist.Record(ctx, time.Since(start).Seconds(), t.opts[m][classify(*err)]...)
}

// WrapStore returns st with every call that takes a context timed into the
// histogram sessionkit.store.duration (seconds, attribute
// sessionkit.store.method; error.type on failure) on a Meter of mp (scope
// ScopeName). Capabilities and ParseHandle, which by the store contract do
// no I/O, pass straight through. Answers and errors are st's own,
// unchanged, so errors.Is works as before.
//
// When st is also a store.KeyStore (managed signing keys), so is the
// result, and LoadKeys and SwapKeys are timed too: sessionkit finds every
// optional interface it looks for. The result has a method
// Unwrap() store.Store returning st, for anything else of the concrete
// store (Close, for one).
//
// An error means the histogram could not be created.
func WrapStore(mp metric.MeterProvider, st store.Store) (store.Store, error) {
	if mp == nil {
		return nil, errors.New("skotel: WrapStore needs a MeterProvider: pass your SDK's provider, or otel.GetMeterProvider() for the global one")
	}
	if st == nil {
		return nil, errors.New("skotel: WrapStore needs a store to wrap")
	}
	t, err := newTimer(mp)
	if err != nil {
		return nil, err
	}
	s := &timedStore{next: st, t: t}
	if ks, ok := st.(store.KeyStore); ok {
		return &timedKeyStore{timedStore: s, keys: ks}, nil
	}
	return s, nil
}

// timedStore times every call of a store.Store.
type timedStore struct {
	next store.Store
	t    *timer
}

// Unwrap returns the wrapped store.
func (s *timedStore) Unwrap() store.Store { return s.next }

// Capabilities returns the wrapped store's capabilities.
func (s *timedStore) Capabilities() store.Capabilities { return s.next.Capabilities() }

// ParseHandle calls the wrapped store's ParseHandle (untimed: no I/O).
func (s *timedStore) ParseHandle(handle string) (store.HandleInfo, error) {
	return s.next.ParseHandle(handle)
}

// Create times the wrapped store's Create.
func (s *timedStore) Create(ctx context.Context, ns store.NewSession) (_ store.Created, err error) {
	defer s.t.done(ctx, mCreate, time.Now(), &err)
	return s.next.Create(ctx, ns)
}

// Rotate times the wrapped store's Rotate.
func (s *timedStore) Rotate(ctx context.Context, r store.Rotation) (_ store.RotateResult, err error) {
	defer s.t.done(ctx, mRotate, time.Now(), &err)
	return s.next.Rotate(ctx, r)
}

// Sessions times the wrapped store's Sessions.
func (s *timedStore) Sessions(ctx context.Context, subject string, now time.Time) (_ []store.Session, err error) {
	defer s.t.done(ctx, mSessions, time.Now(), &err)
	return s.next.Sessions(ctx, subject, now)
}

// Lookup times the wrapped store's Lookup.
func (s *timedStore) Lookup(ctx context.Context, handle string, presented [32]byte, now time.Time) (_ store.Session, err error) {
	defer s.t.done(ctx, mLookup, time.Now(), &err)
	return s.next.Lookup(ctx, handle, presented, now)
}

// Revoke times the wrapped store's Revoke.
func (s *timedStore) Revoke(ctx context.Context, handle string, presented [32]byte, now time.Time) (_ store.Session, err error) {
	defer s.t.done(ctx, mRevoke, time.Now(), &err)
	return s.next.Revoke(ctx, handle, presented, now)
}

// RevokeSession times the wrapped store's RevokeSession.
func (s *timedStore) RevokeSession(ctx context.Context, subject, id string, now time.Time) (err error) {
	defer s.t.done(ctx, mRevokeSession, time.Now(), &err)
	return s.next.RevokeSession(ctx, subject, id, now)
}

// RevokeAll times the wrapped store's RevokeAll.
func (s *timedStore) RevokeAll(ctx context.Context, subject string, now time.Time) (_ uint64, err error) {
	defer s.t.done(ctx, mRevokeAll, time.Now(), &err)
	return s.next.RevokeAll(ctx, subject, now)
}

// Deny times the wrapped store's Deny.
func (s *timedStore) Deny(ctx context.Context, subject, jti string, until time.Time) (err error) {
	defer s.t.done(ctx, mDeny, time.Now(), &err)
	return s.next.Deny(ctx, subject, jti, until)
}

// Version times the wrapped store's Version.
func (s *timedStore) Version(ctx context.Context, subject string) (_ uint64, err error) {
	defer s.t.done(ctx, mVersion, time.Now(), &err)
	return s.next.Version(ctx, subject)
}

// CheckAccessLocal passes the wrapped store's local answer through, untimed:
// an answer from memory (a redisstore.View) is no store call. A store
// without local answers has none (ok false).
func (s *timedStore) CheckAccessLocal(q store.AccessCheck) (store.AccessState, bool) {
	if l, ok := s.next.(store.LocalChecker); ok {
		return l.CheckAccessLocal(q)
	}
	return store.AccessState{}, false
}

// CheckAccess times the wrapped store's CheckAccess.
func (s *timedStore) CheckAccess(ctx context.Context, q store.AccessCheck) (_ store.AccessState, err error) {
	defer s.t.done(ctx, mCheckAccess, time.Now(), &err)
	return s.next.CheckAccess(ctx, q)
}

// UseOnce times the wrapped store's UseOnce.
func (s *timedStore) UseOnce(ctx context.Context, namespace, key string, until, now time.Time) (_ bool, err error) {
	defer s.t.done(ctx, mUseOnce, time.Now(), &err)
	return s.next.UseOnce(ctx, namespace, key, until, now)
}

// timedKeyStore is a timedStore over a store that is a store.KeyStore too.
type timedKeyStore struct {
	*timedStore
	keys store.KeyStore
}

// LoadKeys times the wrapped store's LoadKeys.
func (s *timedKeyStore) LoadKeys(ctx context.Context, name string) (_ []byte, _ uint64, err error) {
	defer s.t.done(ctx, mLoadKeys, time.Now(), &err)
	return s.keys.LoadKeys(ctx, name)
}

// SwapKeys times the wrapped store's SwapKeys.
func (s *timedKeyStore) SwapKeys(ctx context.Context, name string, version uint64, blob []byte) (_ bool, err error) {
	defer s.t.done(ctx, mSwapKeys, time.Now(), &err)
	return s.keys.SwapKeys(ctx, name, version, blob)
}

// Ready passes the wrapped store's readiness (store.Readier) through,
// untimed: it is no store call of the request path. A store without one is
// ready (nil).
func (s *timedStore) Ready(ctx context.Context) error {
	if r, ok := s.next.(store.Readier); ok {
		return r.Ready(ctx)
	}
	return nil
}
