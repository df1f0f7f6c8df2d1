// Command spa is the single-page-app demo: a static page (no build step)
// that signs in, shows who you are, counts down to the access token's
// expiry, calls a protected API, refreshes silently when the access token
// has expired (and says when it did), logs out here or everywhere, and
// lists and revokes sessions, each named by its device ("Chrome on Linux",
// sessionkit.DeviceName). It fits a phone's screen. The tokens live in HttpOnly cookies set by
// sessionkit's login helper and ready-made handlers (see package app).
//
//	go run ./examples/spa                  # http://127.0.0.1:8080, memory store
//	go run ./examples/spa -store redis -redis-url redis://127.0.0.1:6379/0
//	go run ./examples/spa -store bolt -bolt-path sessions.db
//
// It serves plain http on 127.0.0.1, so its cookies are set with
// Cookies.InsecureAllowHTTP (no Secure attribute, no __Host-/__Secure-
// prefixes): a development setting. Behind https, leave it off.
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sessionkit/sessionkit/examples/internal/demo"
	"github.com/sessionkit/sessionkit/examples/internal/demostore"
	"github.com/sessionkit/sessionkit/examples/spa/app"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address (plain http)")
	accessTTL := flag.Duration("access-ttl", 0, "access-token lifetime (0: sessionkit's default, 15m); try 20s to watch the silent refresh")
	var sf demostore.Flags
	sf.Register(flag.CommandLine)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *accessTTL, &sf, log); err != nil {
		log.Error("spa demo", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr string, accessTTL time.Duration, sf *demostore.Flags, log *slog.Logger) error {
	st, closeStore, err := sf.Open(ctx, log)
	if err != nil {
		return err
	}
	defer closeStore()
	return demo.Serve(ctx, addr, log, func(url string) (demo.App, error) {
		keys, rotate, err := sf.Keys(ctx, st, url, accessTTL, log)
		if err != nil {
			return nil, err
		}
		go rotate(ctx)
		return app.New(app.Config{Issuer: url, Store: st, Keys: keys, InsecureHTTP: true, AccessTTL: accessTTL, Logger: log})
	})
}
