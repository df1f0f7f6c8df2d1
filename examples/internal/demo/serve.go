package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// App is what a demo serves: its routes, and the readiness check Serve
// runs before it serves (the demos' Issuer.Check).
type App interface {
	http.Handler
	Check(ctx context.Context) error
}

// startCheckTimeout bounds the readiness check at start.
const startCheckTimeout = 5 * time.Second

// Serve listens on addr over plain http, builds the demo's app for the URL
// it serves at (the demos use it as their issuer identifier), checks that
// the app is ready (its store answers, its keys are there) so that a
// missing store fails the start and not the first sign-in, tells the log
// how to sign in, and serves until ctx ends, then shuts down gracefully.
func Serve(ctx context.Context, addr string, log *slog.Logger, build func(url string) (App, error)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); !net.ParseIP(host).IsLoopback() {
		log.Warn("listening beyond this machine over plain http: session cookies travel in clear text; put https in front")
	}
	h, err := build(url)
	if err != nil {
		_ = ln.Close()
		return err
	}
	checkCtx, cancel := context.WithTimeout(ctx, startCheckTimeout)
	err = h.Check(checkCtx)
	cancel()
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("not ready to serve: %w", err)
	}
	// sessionkit.New has logged a warning about Cookies.InsecureAllowHTTP.
	l := Logins[0]
	log.Info(fmt.Sprintf("open %s and sign in as %s / %s", url, l.Username, l.Password))

	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// SecurityHeaders sets the headers every page of a cookie-authenticated app
// should carry: scripts only from this origin (no inline script, so an
// injected one does not run), no framing, no MIME sniffing, no Referer.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}
