package pgstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit/internal/pgtest"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/pgstore"
)

// shared is the pool every test of the package opens its schemas on: one
// pool for the package, so that parallel cases do not each hold a pool of
// connections to the server.
var shared struct {
	once sync.Once
	pool *pgxpool.Pool
	err  error
}

// pool returns the package's pool on $POSTGRES_URL (skipping, or failing
// under CI=true, without it).
func pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := pgtest.URL(t)
	shared.once.Do(func() {
		cfg, err := pgxpool.ParseConfig(url)
		if err != nil {
			shared.err = err
			return
		}
		cfg.MaxConns = 16
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shared.pool, shared.err = pgxpool.NewWithConfig(ctx, cfg)
		if shared.err == nil {
			shared.err = shared.pool.Ping(ctx)
		}
	})
	if shared.err != nil {
		t.Fatalf("PostgreSQL at POSTGRES_URL: %v", shared.err)
	}
	return shared.pool
}

// open returns a migrated store in a schema of its own, dropped when t
// ends.
func open(t testing.TB) *pgstore.Store {
	t.Helper()
	return openWith(t, pgstore.Options{})
}

// openWith is open with options (its Schema is set here).
func openWith(t testing.TB, opts pgstore.Options) *pgstore.Store {
	t.Helper()
	p := pool(t)
	opts.Schema = pgtest.Schema(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := pgstore.NewChecked(ctx, p, opts)
	if err != nil {
		t.Fatalf("NewChecked: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// asStore adapts open to the suites' constructors.
func asStore(t *testing.T) store.Store { return open(t) }
