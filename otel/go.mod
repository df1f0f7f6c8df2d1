module github.com/sessionkit/sessionkit/otel

go 1.25.0

replace github.com/sessionkit/sessionkit => ../

require (
	github.com/sessionkit/sessionkit v0.0.0
	go.opentelemetry.io/otel v1.46.0
	go.opentelemetry.io/otel/metric v1.46.0
)

require github.com/cespare/xxhash/v2 v2.3.0 // indirect
