package skotel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/sealedstore"
	"github.com/sessionkit/sessionkit/store/storetest"
)

// wrapMemstore returns a fresh memstore wrapped for mp.
func wrapMemstore(t testing.TB, mp metric.MeterProvider) store.Store {
	t.Helper()
	inner := memstore.New()
	t.Cleanup(func() { _ = inner.Close() })
	st, err := WrapStore(mp, inner)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// newSealed returns a sealed store with a fresh key, hybrid over state
// when state is not nil.
func newSealed(t testing.TB, state store.Store) *sealedstore.Store {
	t.Helper()
	k, err := sealedstore.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := sealedstore.New(sealedstore.Options{Keys: sealedstore.Keys{Current: k}, Issuer: testIssuer, State: state})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStoreConformance runs the public conformance suite over wrapped
// stores: the wrapper changes nothing a store answers. The key-ring cases
// run through the wrapper's store.KeyStore.
func TestStoreConformance(t *testing.T) {
	t.Parallel()
	mp, r := newProvider(t)
	t.Run("memstore", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T) store.Store { return wrapMemstore(t, mp) })
	})
	t.Run("memstore,keys", func(t *testing.T) {
		t.Parallel()
		storetest.RunKeys(t, func(t *testing.T) store.KeyStore {
			ks, ok := wrapMemstore(t, mp).(store.KeyStore)
			if !ok {
				t.Fatal("the wrapped memstore is not a store.KeyStore")
			}
			return ks
		})
	})
	t.Run("sealedstore", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T) store.Store {
			st, err := WrapStore(mp, newSealed(t, nil))
			if err != nil {
				t.Fatal(err)
			}
			return st
		})
	})
	t.Run("sealedstore+memstore", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T) store.Store {
			st, err := WrapStore(mp, newSealed(t, wrapMemstore(t, mp)))
			if err != nil {
				t.Fatal(err)
			}
			return st
		})
	})
	t.Cleanup(func() {
		// Every timed method was recorded, and the dead-context cases as
		// canceled and timeout.
		got := collect(t, r)
		for _, m := range methodNames {
			for _, suffix := range []string{"", "error.type=canceled,", "error.type=timeout,"} {
				if k := "sessionkit.store.duration{" + suffix + "sessionkit.store.method=" + m + "}"; got[k] == 0 {
					t.Errorf("nothing recorded as %s", k)
				}
			}
		}
	})
}

// failingStore is a memstore whose Version fails with err.
type failingStore struct {
	*memstore.Store
	err error
}

func (s failingStore) Version(context.Context, string) (uint64, error) { return 0, s.err }

// TestStoreRecords checks each error.type of the closed set, the buckets,
// and that answers and errors come back unchanged.
func TestStoreRecords(t *testing.T) {
	t.Parallel()
	mp, r := newProvider(t)
	ctx := context.Background()
	mem := wrapMemstore(t, mp)
	keys := mem.(store.KeyStore)
	unavailable := fmt.Errorf("%w: connection refused", store.ErrUnavailable)
	strange := errors.New("a store's own error")
	wrapFailing := func(err error) store.Store {
		st, werr := WrapStore(mp, failingStore{memstore.New(), err})
		if werr != nil {
			t.Fatal(werr)
		}
		return st
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	expired, cancel2 := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel2()
	stateless, err := WrapStore(mp, newSealed(t, nil))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		call    func() error
		want    error // nil: success
		errType string
	}{
		{"Version", func() error { _, err := mem.Version(ctx, "u1"); return err }, nil, ""},
		{"Sessions", func() error { _, err := mem.Sessions(canceled, "u1", time.Now()); return err }, context.Canceled, "canceled"},
		{"CheckAccess", func() error {
			_, err := mem.CheckAccess(expired, store.AccessCheck{Subject: "u1", JTI: "j", Now: time.Now()})
			return err
		}, context.DeadlineExceeded, "timeout"},
		{"SwapKeys", func() error {
			_, err := keys.SwapKeys(ctx, "ring", 0, make([]byte, store.MaxKeyRingSize+1))
			return err
		}, store.ErrTooLarge, "too_large"},
		{"RevokeSession", func() error { return stateless.RevokeSession(ctx, "u1", "s1", time.Now()) }, store.ErrUnsupported, "unsupported"},
		{"Version", func() error { _, err := wrapFailing(unavailable).Version(ctx, "u1"); return err }, unavailable, "unavailable"},
		{"Version", func() error { _, err := wrapFailing(strange).Version(ctx, "u1"); return err }, strange, "_OTHER"},
	}
	want := map[string]int64{}
	for _, tt := range tests {
		err := tt.call()
		if tt.want == nil && err != nil || !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
		k := "sessionkit.store.method=" + tt.name
		if tt.errType != "" {
			k = "error.type=" + tt.errType + "," + k
		}
		want["sessionkit.store.duration{"+k+"}"]++
	}
	if d := diff(collect(t, r), want); d != "" {
		t.Errorf("store metrics:%s", d)
	}

	var rm metricdata.ResourceMetrics
	if err := r.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	h := rm.ScopeMetrics[0].Metrics[0]
	if h.Name != "sessionkit.store.duration" || h.Unit != "s" {
		t.Fatalf("metric %s in %q, want sessionkit.store.duration in s", h.Name, h.Unit)
	}
	for _, p := range h.Data.(metricdata.Histogram[float64]).DataPoints {
		if !slices.Equal(p.Bounds, storeBuckets) {
			t.Errorf("bounds %v, want %v", p.Bounds, storeBuckets)
		}
		if p.Sum < 0 || p.Sum > 10 {
			t.Errorf("%v: sum of durations %v s", p.Attributes, p.Sum)
		}
	}
}

// TestWrapStoreInterfaces: the wrapper is a store.KeyStore exactly when
// the wrapped store is, and Unwrap returns the wrapped store.
func TestWrapStoreInterfaces(t *testing.T) {
	t.Parallel()
	mp, _ := newProvider(t)
	mem := memstore.New()
	sealed := newSealed(t, nil)
	for _, tt := range []struct {
		inner store.Store
		keys  bool
	}{{mem, true}, {sealed, false}} {
		st, err := WrapStore(mp, tt.inner)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := st.(store.KeyStore); ok != tt.keys {
			t.Errorf("WrapStore(%T) is a store.KeyStore: %v, want %v", tt.inner, ok, tt.keys)
		}
		u, ok := st.(interface{ Unwrap() store.Store })
		if !ok || u.Unwrap() != tt.inner {
			t.Errorf("WrapStore(%T).Unwrap() does not return the wrapped store", tt.inner)
		}
		if st.Capabilities() != tt.inner.Capabilities() {
			t.Errorf("WrapStore(%T).Capabilities() = %v, want %v", tt.inner, st.Capabilities(), tt.inner.Capabilities())
		}
	}
	if _, err := WrapStore(nil, mem); err == nil || !strings.Contains(err.Error(), "MeterProvider") {
		t.Errorf("WrapStore(nil, st): %v, want an error naming the MeterProvider", err)
	}
	if _, err := WrapStore(mp, nil); err == nil {
		t.Error("WrapStore(mp, nil) succeeded")
	}
	if _, err := WrapStore(refusingProvider{}, mem); err == nil || !errors.Is(err, errRefused) || !strings.Contains(err.Error(), "sessionkit.store.duration") {
		t.Errorf("WrapStore(refusing): %v, want an error naming the histogram and wrapping the provider's", err)
	}
}

// TestStoreNoAllocation: the wrapper adds no allocation to a call.
func TestStoreNoAllocation(t *testing.T) {
	mp, _ := newProvider(t)
	inner := memstore.New()
	st, err := WrapStore(mp, inner)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q := store.AccessCheck{Subject: "u1", SessionID: "s1", JTI: "j1", Now: time.Now()}
	call := func(s store.Store) func() {
		return func() {
			if _, err := s.CheckAccess(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
	}
	call(st)() // the first call creates the series
	if bare, wrapped := testing.AllocsPerRun(100, call(inner)), testing.AllocsPerRun(100, call(st)); wrapped != bare {
		t.Errorf("CheckAccess: %v allocations wrapped, %v bare", wrapped, bare)
	}
}

// localStore answers access checks locally and has a readiness of its
// own, as a redisstore.View does.
type localStore struct {
	*memstore.Store
	ready error
}

func (s localStore) CheckAccessLocal(q store.AccessCheck) (store.AccessState, bool) {
	return store.AccessState{Version: q.Version + 1}, true
}

func (s localStore) Ready(context.Context) error { return s.ready }

// TestWrapStorePassesThrough: a wrapped store's local answers and its
// readiness reach the Issuer through the wrapper, untimed; a store with
// neither has none to pass.
func TestWrapStorePassesThrough(t *testing.T) {
	t.Parallel()
	mp, _ := newProvider(t)
	behind := fmt.Errorf("behind: %w", store.ErrUnavailable)
	st, err := WrapStore(mp, localStore{memstore.New(), behind})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := st.(store.LocalChecker).CheckAccessLocal(store.AccessCheck{Version: 4}); !ok || got.Version != 5 {
		t.Errorf("CheckAccessLocal through the wrapper: %+v, %v; want the wrapped store's answer", got, ok)
	}
	if err := st.(store.Readier).Ready(context.Background()); !errors.Is(err, behind) {
		t.Errorf("Ready through the wrapper: %v, want the wrapped store's %v", err, behind)
	}
	plain, err := WrapStore(mp, memstore.New())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := plain.(store.LocalChecker).CheckAccessLocal(store.AccessCheck{}); ok {
		t.Error("a store without local answers answered locally through the wrapper")
	}
	if err := plain.(store.Readier).Ready(context.Background()); err != nil {
		t.Errorf("a store without a readiness of its own: %v, want ready", err)
	}
}
