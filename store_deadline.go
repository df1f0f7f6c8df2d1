package sessionkit

import (
	"context"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// DefaultStoreTimeout is the deadline of a store call whose context has
// none (Config.StoreTimeout, VerifierConfig.StoreTimeout): long enough for
// a store that answers at all, short enough that a hung one answers 503
// before a user gives up.
const DefaultStoreTimeout = time.Second

// storeTimeout is the deadline a configured timeout means: d, the default
// for 0, none (0) for a negative d.
func storeTimeout(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return DefaultStoreTimeout
	case d < 0:
		return 0
	}
	return d
}

// withDeadlines returns st whose every call has a deadline: the caller's,
// or d from the call when the caller's context has none. With d zero, or
// for a store whose calls cannot hang (store.InProcess), st itself.
func withDeadlines(st store.Store, d time.Duration) store.Store {
	if d <= 0 || st == nil || st.Capabilities().Has(store.InProcess) {
		return st
	}
	local, _ := st.(store.LocalChecker)
	return deadlineStore{st, local, d}
}

// deadlineStore gives each call of Store a deadline (see withDeadlines).
// ParseHandle and Capabilities, which do no I/O, pass through.
type deadlineStore struct {
	store.Store
	local store.LocalChecker // Store's, when it answers checks in process
	d     time.Duration
}

// Ready is Store's store.Readier answer, within the deadline; nil for a
// store that has none.
func (s deadlineStore) Ready(ctx context.Context) error {
	r, ok := s.Store.(store.Readier)
	if !ok {
		return nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return r.Ready(ctx)
}

// bound returns ctx, or ctx with the default deadline when it has none.
func (s deadlineStore) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.d)
}

func (s deadlineStore) Create(ctx context.Context, n store.NewSession) (store.Created, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Create(ctx, n)
}

func (s deadlineStore) Rotate(ctx context.Context, r store.Rotation) (store.RotateResult, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Rotate(ctx, r)
}

func (s deadlineStore) Sessions(ctx context.Context, subject string, now time.Time) ([]store.Session, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Sessions(ctx, subject, now)
}

func (s deadlineStore) Lookup(ctx context.Context, handle string, presented [32]byte, now time.Time) (store.Session, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Lookup(ctx, handle, presented, now)
}

func (s deadlineStore) Revoke(ctx context.Context, handle string, presented [32]byte, now time.Time) (store.Session, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Revoke(ctx, handle, presented, now)
}

func (s deadlineStore) RevokeSession(ctx context.Context, subject, id string, now time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.RevokeSession(ctx, subject, id, now)
}

func (s deadlineStore) RevokeAll(ctx context.Context, subject string, now time.Time) (uint64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.RevokeAll(ctx, subject, now)
}

func (s deadlineStore) Deny(ctx context.Context, subject, jti string, until time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Deny(ctx, subject, jti, until)
}

func (s deadlineStore) Version(ctx context.Context, subject string) (uint64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.Version(ctx, subject)
}

// CheckAccess tries a local answer first: it needs no deadline.
func (s deadlineStore) CheckAccess(ctx context.Context, q store.AccessCheck) (store.AccessState, error) {
	if s.local != nil {
		if st, ok := s.local.CheckAccessLocal(q); ok {
			return st, nil
		}
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.CheckAccess(ctx, q)
}

func (s deadlineStore) UseOnce(ctx context.Context, namespace, key string, until, now time.Time) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.Store.UseOnce(ctx, namespace, key, until, now)
}
