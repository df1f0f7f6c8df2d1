package skotel

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/memstore"
)

const (
	testIssuer   = "https://auth.example.test"
	testAudience = "api"
)

// newProvider returns a MeterProvider whose metrics reader collects.
func newProvider(t testing.TB) (*sdkmetric.MeterProvider, *sdkmetric.ManualReader) {
	t.Helper()
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return mp, r
}

// newEvents returns an Events hook on a fresh MeterProvider and its reader.
func newEvents(t testing.TB) (func(context.Context, sessionkit.Event), *sdkmetric.ManualReader) {
	t.Helper()
	mp, r := newProvider(t)
	events, err := Events(mp)
	if err != nil {
		t.Fatal(err)
	}
	return events, r
}

// collect returns every metric r holds, each of its data points as
// `name{key=value,...}` (keys sorted) mapped to its value: a counter's sum,
// a histogram's count.
func collect(t testing.TB, r *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != ScopeName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, ScopeName)
		}
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				if !d.IsMonotonic || d.Temporality != metricdata.CumulativeTemporality {
					t.Errorf("%s: not a cumulative monotonic sum", m.Name)
				}
				for _, p := range d.DataPoints {
					got[series(m.Name, p.Attributes)] += p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					got[series(m.Name, p.Attributes)] += int64(p.Count)
				}
			default:
				t.Errorf("%s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return got
}

// series names one data point: the metric and its attributes.
func series(name string, set attribute.Set) string {
	var kv []string
	for _, a := range set.ToSlice() {
		kv = append(kv, string(a.Key)+"="+a.Value.Emit())
	}
	return name + "{" + strings.Join(kv, ",") + "}"
}

// attributeValues returns every attribute value of every data point r holds.
func attributeValues(t testing.TB, r *sdkmetric.ManualReader) []string {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	var vals []string
	add := func(set attribute.Set) {
		for _, a := range set.ToSlice() {
			vals = append(vals, a.Value.Emit())
		}
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					add(p.Attributes)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					add(p.Attributes)
				}
			}
		}
	}
	return vals
}

// diff describes how got differs from want, or returns "".
func diff(got, want map[string]int64) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if g, ok := got[k]; !ok {
			fmt.Fprintf(&b, "\n  missing %s = %d", k, want[k])
		} else if g != want[k] {
			fmt.Fprintf(&b, "\n  %s = %d, want %d", k, g, want[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			fmt.Fprintf(&b, "\n  unexpected %s = %d", k, got[k])
		}
	}
	return b.String()
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newIssuer returns an Issuer of testIssuer on st (nil: a fresh
// memstore) reporting to events, with an ES256 key and a test clock.
func newIssuer(t testing.TB, events func(context.Context, sessionkit.Event), st store.Store) (*sessionkit.Issuer, *clock) {
	t.Helper()
	return newIssuerAt(t, testIssuer, events, st)
}

// newIssuerAt is newIssuer for the issuer identifier id.
func newIssuerAt(t testing.TB, id string, events func(context.Context, sessionkit.Event), st store.Store) (*sessionkit.Issuer, *clock) {
	t.Helper()
	key, err := sessionkit.GenerateSigningKey(sessionkit.ES256)
	if err != nil {
		t.Fatal(err)
	}
	if st == nil {
		st = memstore.New()
	}
	clk := newClock()
	iss, err := sessionkit.New(sessionkit.Config{
		Issuer: id, Audience: []string{testAudience},
		Keys: sessionkit.NewKeySet(key), Store: st, Now: clk.Now, Events: events,
	})
	if err != nil {
		t.Fatal(err)
	}
	return iss, clk
}
