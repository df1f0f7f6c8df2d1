// Command metrics is the single-page-app demo (examples/spa) with
// sessionkit's OpenTelemetry adapter attached: every event of its issuer
// (logins, refreshes, reuse, refused tokens, ...) is counted, every store
// call timed, and the OpenTelemetry Prometheus exporter serves the result
// at /metrics, for a Prometheus loading otel/alerts.yml.
//
//	go run .                               # from examples/metrics: http://127.0.0.1:8080
//	curl -s http://127.0.0.1:8080/metrics | grep ^sessionkit_
//	go run . -store redis -redis-url redis://127.0.0.1:6379/0
//	go run . -key-file signing-key.pem     # a signing key kept in a file (made when missing)
//
// Sign in on the page, reload it, sign out, and watch sessionkit_login_total,
// sessionkit_refresh_total and sessionkit_store_duration_seconds move. The
// wiring is three calls: skotel.Events for the hook, skotel.WrapStore for
// the store, and the exporter as the MeterProvider's reader.
//
// /metrics is served on the demo's own address for simplicity; a
// deployment serves it on an internal port only, out of the public's
// reach. Like the SPA demo, it serves plain http on 127.0.0.1 (see
// examples/spa).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/examples/internal/demo"
	"github.com/sessionkit/sessionkit/examples/internal/demostore"
	"github.com/sessionkit/sessionkit/examples/spa/app"
	skotel "github.com/sessionkit/sessionkit/otel"
	"github.com/sessionkit/sessionkit/store"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address (plain http); 127.0.0.1:0 picks a free port")
	accessTTL := flag.Duration("access-ttl", 0, "access-token lifetime (0: sessionkit's default, 15m)")
	keyFile := flag.String("key-file", "", "PEM file of the signing key, made (mode 0600) when missing; empty: as the SPA demo (a key made at start, or the store's key ring)")
	var sf demostore.Flags
	sf.Register(flag.CommandLine)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *accessTTL, *keyFile, &sf, log); err != nil {
		log.Error("metrics demo", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr string, accessTTL time.Duration, keyFile string, sf *demostore.Flags, log *slog.Logger) error {
	// The exporter is a reader of the MeterProvider and a collector of
	// the default Prometheus registry, which promhttp.Handler serves
	// (with the Go runtime's and the process's metrics).
	exporter, err := otelprom.New()
	if err != nil {
		return fmt.Errorf("the Prometheus exporter: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(exporter),
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", "sessionkit-metrics-demo"))),
	)
	defer func() { _ = mp.Shutdown(context.Background()) }()
	events, err := skotel.Events(mp)
	if err != nil {
		return err
	}

	inner, closeStore, err := sf.Open(ctx, log)
	if err != nil {
		return err
	}
	defer closeStore()
	// The wrapper keeps store.KeyStore, so the managed keys of -store
	// redis and bolt find their key ring through it.
	st, err := skotel.WrapStore(mp, inner)
	if err != nil {
		return err
	}

	return demo.Serve(ctx, addr, log, func(url string) (demo.App, error) {
		keys, err := signingKeys(ctx, keyFile, st, url, accessTTL, sf, log)
		if err != nil {
			return nil, err
		}
		a, err := app.New(app.Config{Issuer: url, Store: st, Keys: keys, InsecureHTTP: true, AccessTTL: accessTTL, Logger: log, Events: events})
		if err != nil {
			return nil, err
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.Handler())
		mux.Handle("/", a)
		log.Info("metrics demo: serving", "url", url, "metrics", url+"/metrics")
		return served{mux: mux, app: a}, nil
	})
}

// served is what demo.Serve serves: the app's routes with /metrics, and
// the app's readiness check.
type served struct {
	mux *http.ServeMux
	app *app.App
}

// ServeHTTP serves the app's routes and /metrics.
func (s served) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Check is the app's readiness check.
func (s served) Check(ctx context.Context) error { return s.app.Check(ctx) }

// signingKeys returns the key set of -key-file, or else the SPA demo's
// (demostore.Keys, whose rotation it starts).
func signingKeys(ctx context.Context, keyFile string, st store.Store, url string, accessTTL time.Duration, sf *demostore.Flags, log *slog.Logger) (*sessionkit.KeySet, error) {
	if keyFile == "" {
		keys, rotate, err := sf.Keys(ctx, st, url, accessTTL, log)
		if err != nil {
			return nil, err
		}
		go rotate(ctx)
		return keys, nil
	}
	key, err := readOrMakeKey(keyFile, log)
	if err != nil {
		return nil, err
	}
	log.Info("signing key: from -key-file", "file", keyFile, "kid", key.KeyID())
	return sessionkit.NewKeySet(key), nil
}

// readOrMakeKey reads the PEM signing key of path, making an ES256 key
// there (mode 0600) when the file does not exist.
func readOrMakeKey(path string, log *slog.Logger) (*sessionkit.SigningKey, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		key, err := sessionkit.ParseSigningKeyPEM(data)
		if err != nil {
			return nil, fmt.Errorf("-key-file %s: %w", path, err)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("-key-file: %w", err)
	}
	key, err := sessionkit.GenerateSigningKey(sessionkit.ES256)
	if err != nil {
		return nil, err
	}
	pem, err := key.MarshalPEM()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("-key-file: %w", err)
	}
	_, werr := f.Write(pem)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("-key-file: %w", werr)
	}
	log.Warn("made a new signing key; keep the file private", "file", path)
	return key, nil
}
