// Command webapp is the server-rendered demo: html/template pages and
// redirects, no script. It signs in, shows who you are and a protected
// page, renews the session when the access token has expired, logs out here
// or everywhere, and lists and revokes sessions, with sessionkit's cookies,
// login helper, PageMiddleware and RefreshHandler, and the standard
// library's cross-origin protection in front of every form post.
// The server is package app, which the browser tests (e2e/) build too.
//
//	go run ./examples/webapp                # http://127.0.0.1:8080, memory store
//	go run ./examples/webapp -store redis -redis-url redis://127.0.0.1:6379/0
//	go run ./examples/webapp -store bolt -bolt-path sessions.db
//
// It serves plain http on 127.0.0.1, so its cookies are set with
// Cookies.InsecureAllowHTTP (no Secure attribute, no __Host-/__Secure-
// prefixes): a development setting. Behind https, leave it off.
//
// When the access cookie has expired, PageMiddleware answers a page load
// with a redirect to /auth/refresh (the refresh cookie is scoped to /auth),
// which rotates the cookies and redirects back; if the session is over it
// redirects to the sign-in page. Try -access-ttl 20s to watch it.
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
	"github.com/sessionkit/sessionkit/examples/webapp/app"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address (plain http)")
	accessTTL := flag.Duration("access-ttl", 0, "access-token lifetime (0: sessionkit's default, 15m); try 20s to watch the renewal")
	var sf demostore.Flags
	sf.Register(flag.CommandLine)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *accessTTL, &sf, log); err != nil {
		log.Error("webapp demo", "error", err)
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
