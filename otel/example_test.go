package skotel_test

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/sessionkit/sessionkit"
	skotel "github.com/sessionkit/sessionkit/otel"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// An Issuer whose events are counted and whose store calls are timed. A
// real application gives the MeterProvider an exporter's reader (the
// Prometheus exporter, OTLP); a ManualReader shows what was recorded.
func Example() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	events, err := skotel.Events(mp)
	if err != nil {
		panic(err)
	}
	st, err := skotel.WrapStore(mp, memstore.New())
	if err != nil {
		panic(err)
	}
	key, err := sessionkit.GenerateSigningKey(sessionkit.ES256)
	if err != nil {
		panic(err)
	}
	iss, err := sessionkit.New(sessionkit.Config{
		Issuer: "https://auth.example.com", Audience: []string{"api"},
		Keys: sessionkit.NewKeySet(key), Store: st, Events: events,
	})
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	toks, err := iss.Login(ctx, sessionkit.Grant{Subject: "alice"})
	if err != nil {
		panic(err)
	}
	if _, err := iss.Refresh(ctx, toks.RefreshToken); err != nil {
		panic(err)
	}
	if _, err := iss.Verify(ctx, "not a token"); err == nil {
		panic("a malformed token verified")
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		panic(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			for _, p := range d.DataPoints {
				fmt.Println(m.Name, p.Attributes.Encoded(attributeEncoder), p.Value)
			}
		case metricdata.Histogram[float64]:
			for _, p := range d.DataPoints {
				fmt.Println(m.Name, p.Attributes.Encoded(attributeEncoder), p.Count, "calls")
			}
		}
	}
	// Unordered output:
	// sessionkit.login sessionkit.issuer=https://auth.example.com 1
	// sessionkit.refresh sessionkit.issuer=https://auth.example.com,sessionkit.outcome=rotated 1
	// sessionkit.token.refused sessionkit.issuer=https://auth.example.com,sessionkit.reason=malformed 1
	// sessionkit.store.duration sessionkit.store.method=Create 1 calls
	// sessionkit.store.duration sessionkit.store.method=Rotate 1 calls
}

var attributeEncoder = attribute.DefaultEncoder()
