package sessionkit

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// hangStore is a store whose CheckAccess and Rotate hang until their
// context ends, as a stopped Redis does; it records each call's deadline.
type hangStore struct {
	store.Store
	mu        sync.Mutex
	deadlines []time.Time // zero: the call had none
	hang      bool
}

func (h *hangStore) wait(ctx context.Context) error {
	d, _ := ctx.Deadline()
	h.mu.Lock()
	h.deadlines = append(h.deadlines, d)
	hang := h.hang
	h.mu.Unlock()
	if !hang {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("no deadline: the test would hang") // never wait forever
	}
	<-ctx.Done()
	return ctx.Err()
}

func (h *hangStore) CheckAccess(ctx context.Context, q store.AccessCheck) (store.AccessState, error) {
	if err := h.wait(ctx); err != nil {
		return store.AccessState{}, err
	}
	return h.Store.CheckAccess(ctx, q)
}

func (h *hangStore) Rotate(ctx context.Context, r store.Rotation) (store.RotateResult, error) {
	if err := h.wait(ctx); err != nil {
		return store.RotateResult{}, err
	}
	return h.Store.Rotate(ctx, r)
}

// Capabilities are the memstore's but InProcess: a hangStore stands for a
// store across a network.
func (h *hangStore) Capabilities() store.Capabilities {
	return h.Store.Capabilities() &^ store.InProcess
}

func (h *hangStore) last() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.deadlines[len(h.deadlines)-1]
}

// TestStoreTimeout: a store call whose context has no deadline gets
// Config.StoreTimeout (default one second), a caller's deadline is kept, a
// negative timeout sets none; a hung store answers ErrStoreUnavailable
// and the Middleware and RefreshHandler 503 with Retry-After.
func TestStoreTimeout(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		timeout time.Duration
		want    time.Duration // 0: no deadline
	}{
		{"default", 0, DefaultStoreTimeout},
		{"configured", 250 * time.Millisecond, 250 * time.Millisecond},
		{"none", -1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hs := &hangStore{Store: memstore.New()}
			iss, _ := newTestIssuer(t, func(c *Config) { c.Store = hs; c.StoreTimeout = tt.timeout })
			toks := login(t, iss, "u1")
			before := time.Now()
			if _, err := iss.Verify(context.Background(), toks.AccessToken); err != nil {
				t.Fatal(err)
			}
			got := hs.last()
			switch {
			case tt.want == 0 && !got.IsZero():
				t.Fatalf("deadline %v; want none", got)
			case tt.want != 0 && (got.Before(before.Add(tt.want)) || got.After(time.Now().Add(tt.want))):
				t.Fatalf("deadline %v after the call; want %v", got.Sub(before), tt.want)
			}
			// A caller's own deadline is kept, shorter or longer.
			for _, d := range []time.Duration{time.Minute, time.Millisecond * 100} {
				ctx, cancel := context.WithTimeout(context.Background(), d)
				want, _ := ctx.Deadline()
				if _, err := iss.Verify(ctx, toks.AccessToken); err != nil {
					t.Fatal(err)
				}
				cancel()
				if got := hs.last(); !got.Equal(want) {
					t.Errorf("caller's deadline %v became %v", want, got)
				}
			}
		})
	}

	// A store whose calls cannot hang gets no deadline: no allocation per
	// call for nothing.
	if st := memstore.New(); withDeadlines(st, time.Second) != store.Store(st) {
		t.Error("an InProcess store got a deadline wrapper")
	}

	hs := &hangStore{Store: memstore.New()}
	f := newAuthFixture(t, func(c *Config) { hs.Store = c.Store; c.Store = hs; c.StoreTimeout = 50 * time.Millisecond })
	b := f.login(t, "u1", "ua")
	hs.mu.Lock()
	hs.hang = true
	hs.mu.Unlock()
	if _, err := f.iss.Verify(context.Background(), b.access()); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("Verify on a hung store: %v", err)
	}
	api := Middleware(f.iss, MiddlewareOptions{AccessCookie: true})
	for _, rec := range []interface {
		Result() *http.Response
	}{
		run(api, newRequest("GET", "/", withCookie(accessCookie, b.access()))).rec,
		b.send("POST", "/auth/refresh"),
	} {
		res := rec.Result()
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
			t.Errorf("on a hung store: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
		}
	}
	if b.refresh() == "" {
		t.Error("a 503 cleared the refresh cookie")
	}
}
