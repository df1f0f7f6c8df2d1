package demo

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"
)

// fakeApp is an App whose Check runs check.
type fakeApp struct {
	http.Handler
	check func(ctx context.Context) error
}

func (a fakeApp) Check(ctx context.Context) error { return a.check(ctx) }

// TestServeChecksReadiness: Serve builds the app and checks it, with a
// deadline, before it serves: an app that is not ready, or that cannot be
// built, ends Serve with the reason; a ready one is served until ctx ends.
func TestServeChecksReadiness(t *testing.T) {
	t.Parallel()
	errDown := errors.New("sessionkit: store unavailable: connection refused")
	tests := []struct {
		name    string
		build   func(cancel context.CancelFunc) (App, error)
		wantErr error // nil: Serve returns nil once ctx ends
		wantMsg string
	}{
		{name: "ready", build: func(cancel context.CancelFunc) (App, error) {
			return fakeApp{http.NotFoundHandler(), func(ctx context.Context) error {
				if _, ok := ctx.Deadline(); !ok {
					return errors.New("the check has no deadline")
				}
				cancel() // Serve goes on to serve, then stops
				return nil
			}}, nil
		}},
		{name: "not ready", build: func(context.CancelFunc) (App, error) {
			return fakeApp{http.NotFoundHandler(), func(context.Context) error { return errDown }}, nil
		}, wantErr: errDown, wantMsg: "not ready to serve: " + errDown.Error()},
		{name: "the app cannot be built", build: func(context.CancelFunc) (App, error) {
			return nil, errDown
		}, wantErr: errDown, wantMsg: errDown.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			err := Serve(ctx, "127.0.0.1:0", slog.New(slog.DiscardHandler), func(string) (App, error) { return tt.build(cancel) })
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Serve: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || err.Error() != tt.wantMsg {
				t.Fatalf("Serve: %v, want %q", err, tt.wantMsg)
			}
		})
	}
}
