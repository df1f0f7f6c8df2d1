package redisstore_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// closedAddr returns an address on 127.0.0.1 where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestPing: Ping answers nil from a live server, single node or Cluster.
func TestPing(t *testing.T) {
	t.Parallel()
	clients := []struct {
		name string
		make func(t *testing.T) redis.UniversalClient
	}{
		{"miniredis", func(t *testing.T) redis.UniversalClient {
			c := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
			t.Cleanup(func() { c.Close() })
			return c
		}},
		{"redis-server (REDIS_URL)", func(t *testing.T) redis.UniversalClient { return singleClient(t) }},
		{"cluster (REDIS_CLUSTER_ADDRS)", func(t *testing.T) redis.UniversalClient { return clusterClient(t) }},
	}
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			t.Parallel()
			s, err := redisstore.New(cl.make(t), redisstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), hangBound)
			defer cancel()
			if err := s.Ping(ctx); err != nil {
				t.Fatalf("Ping: %v", err)
			}
		})
	}
}

// TestNewChecked: a store when Redis answers; otherwise an error wrapping
// ErrUnavailable (and the context's error) and no store. Options are
// checked before anything is sent.
func TestNewChecked(t *testing.T) {
	t.Parallel()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		addr    func(t *testing.T) string
		ctx     context.Context
		opts    redisstore.Options
		wantErr []error // nil: a store
		wantMsg string
	}{
		{name: "Redis answers", addr: func(t *testing.T) string { return miniredis.RunT(t).Addr() }},
		{name: "nothing listens", addr: closedAddr, wantErr: []error{store.ErrUnavailable}, wantMsg: "redisstore: ping: "},
		{name: "the server never answers, with a deadline", addr: func(t *testing.T) string { return newSilentServer(t).addr },
			ctx: deadline(t), wantErr: []error{store.ErrUnavailable, context.DeadlineExceeded}},
		{name: "a cancelled context", addr: func(t *testing.T) string { return miniredis.RunT(t).Addr() },
			ctx: cancelled, wantErr: []error{store.ErrUnavailable, context.Canceled}},
		{name: "bad options, no I/O", addr: closedAddr, ctx: cancelled,
			opts: redisstore.Options{Prefix: "{x}"}, wantMsg: "must not contain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := redis.NewClient(&redis.Options{Addr: tt.addr(t), MaxRetries: -1, DialerRetries: 1, ReadTimeout: -1, WriteTimeout: -1})
			t.Cleanup(func() { c.Close() })
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			var s *redisstore.Store
			err := await(t, "NewChecked", func() error {
				var err error
				s, err = redisstore.NewChecked(ctx, c, tt.opts)
				return err
			})
			if tt.wantErr == nil && tt.wantMsg == "" {
				if err != nil || s == nil {
					t.Fatalf("NewChecked: %v, %v; want a store", s, err)
				}
				if _, err := s.Version(context.Background(), "alice"); err != nil {
					t.Fatalf("the checked store does not work: %v", err)
				}
				return
			}
			if err == nil || s != nil {
				t.Fatalf("NewChecked: %v, %v; want an error and no store", s, err)
			}
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("NewChecked: %v, want it to wrap %v", err, want)
				}
			}
			if tt.wantErr == nil && errors.Is(err, store.ErrUnavailable) {
				t.Errorf("NewChecked: %v; bad options are no outage", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("NewChecked: %q does not say %q", err, tt.wantMsg)
			}
		})
	}
}

// deadline returns a context whose deadline is 50 ms away, cancelled when
// the test ends.
func deadline(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	t.Cleanup(cancel)
	return ctx
}

// TestIssuerCheckOnRedis: sessionkit's readiness check over this store
// reads without writing when Redis answers, and reports an outage, within
// the context's deadline when the server hangs.
func TestIssuerCheckOnRedis(t *testing.T) {
	t.Parallel()
	key, err := sessionkit.GenerateSigningKey(sessionkit.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		server   func(t *testing.T) (addr string, after func(t *testing.T))
		deadline bool
		wantErr  []error
	}{
		{name: "Redis answers", server: func(t *testing.T) (string, func(*testing.T)) {
			m := miniredis.RunT(t)
			return m.Addr(), func(t *testing.T) {
				if keys := m.Keys(); len(keys) != 0 {
					t.Errorf("Check wrote %q", keys)
				}
			}
		}},
		{name: "Redis is not there", server: func(t *testing.T) (string, func(*testing.T)) {
			return closedAddr(t), nil
		}, wantErr: []error{sessionkit.ErrStoreUnavailable}},
		{name: "Redis hangs, with a deadline", server: func(t *testing.T) (string, func(*testing.T)) {
			return newSilentServer(t).addr, nil
		}, deadline: true, wantErr: []error{sessionkit.ErrStoreUnavailable, context.DeadlineExceeded}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr, after := tt.server(t)
			c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1, ReadTimeout: -1, WriteTimeout: -1})
			t.Cleanup(func() { c.Close() })
			st, err := redisstore.New(c, redisstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			iss, err := sessionkit.New(sessionkit.Config{
				Issuer: "https://auth.example.com", Audience: []string{"api"},
				Keys: sessionkit.NewKeySet(key), Store: st,
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tt.deadline {
				ctx = deadline(t)
			}
			err = await(t, "Issuer.Check", func() error { return iss.Check(ctx) })
			if tt.wantErr == nil && err != nil {
				t.Fatalf("Check: %v, want nil", err)
			}
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("Check: %v, want it to wrap %v", err, want)
				}
			}
			if after != nil {
				after(t)
			}
		})
	}
}
