package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// downStore is a store whose backend has gone: reads fail.
type downStore struct{ store.Store }

func (downStore) Version(context.Context, string) (uint64, error) {
	return 0, errors.New("boltstore: read version: database not open")
}

// TestWebappReadiness: the webapp's Check (which main runs before
// serving) and GET /readyz say whether the store answers.
func TestWebappReadiness(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		store  store.Store
		ready  bool
		status int
		body   string
	}{
		{"the store answers", memstore.New(), true, http.StatusOK, "ready\n"},
		{"the store is down", downStore{memstore.New()}, false, http.StatusServiceUnavailable, "not ready: store unavailable\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := New(Config{Issuer: "https://webapp.example", Store: tt.store, BcryptCost: bcrypt.MinCost, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Check(context.Background())
			if tt.ready != (err == nil) || !tt.ready && !errors.Is(err, sessionkit.ErrStoreUnavailable) {
				t.Fatalf("Check: %v, want ready %v (else ErrStoreUnavailable)", err, tt.ready)
			}
			srv := httptest.NewTLSServer(s)
			t.Cleanup(srv.Close)
			res, err := srv.Client().Get(srv.URL + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status || string(body) != tt.body || res.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("GET /readyz: %d %q (Cache-Control %q), want %d %q, no-store",
					res.StatusCode, body, res.Header.Get("Cache-Control"), tt.status, tt.body)
			}
		})
	}
}
