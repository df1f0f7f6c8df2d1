// Package demostore opens the session store the browser demos
// (examples/spa and examples/webapp) run on, as chosen by their flags:
// memory, Redis, bbolt or PostgreSQL.
package demostore

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/boltstore"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// Flags are the command-line flags that choose the session store.
type Flags struct {
	Kind        string
	RedisURL    string
	BoltPath    string
	PostgresURL string
	KEKFile     string
}

// Register defines -store, -redis-url, -bolt-path, -postgres-url and
// -kek-file on fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Kind, "store", "memory", "session store: memory, redis, bolt or postgres")
	fs.StringVar(&f.RedisURL, "redis-url", "redis://127.0.0.1:6379/0", "Redis URL, for -store redis")
	fs.StringVar(&f.BoltPath, "bolt-path", "sessions.db", "bbolt database file, for -store bolt")
	fs.StringVar(&f.PostgresURL, "postgres-url", "postgres://127.0.0.1:5432/postgres", "PostgreSQL URL (pgx syntax: URL or key=value), for -store postgres; the store's tables are created in it when missing")
	fs.StringVar(&f.KEKFile, "kek-file", "demo-kek.txt", "key-encryption key of the signing keys kept in the store, for -store redis, bolt and postgres (made when missing)")
}

// Open opens the chosen store. close releases it (the Redis client, the
// bbolt file, the PostgreSQL pool); call it after the server has stopped.
func (f *Flags) Open(ctx context.Context, log *slog.Logger) (st store.Store, close func() error, err error) {
	switch f.Kind {
	case "memory":
		log.Info("session store: memory (sessions end when the process does)")
		return memstore.New(), func() error { return nil }, nil
	case "redis":
		opts, err := redis.ParseURL(f.RedisURL)
		if err != nil {
			return nil, nil, fmt.Errorf("-redis-url: %w", err)
		}
		opts.ContextTimeoutEnabled = true // store calls end at their deadline (see redisstore's Contexts)
		client := redis.NewClient(opts)
		// Fail here, with the reason, rather than at the first sign-in.
		pingCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		s, err := redisstore.NewChecked(pingCtx, client, redisstore.Options{})
		if err != nil {
			_ = client.Close()
			if errors.Is(err, store.ErrUnavailable) {
				return nil, nil, fmt.Errorf("cannot reach Redis at %s (is redis-server running? -store memory needs none): %w", opts.Addr, err)
			}
			return nil, nil, err
		}
		log.Info("session store: redis", "addr", opts.Addr, "db", opts.DB)
		return s, client.Close, nil
	case "bolt":
		s, err := boltstore.Open(f.BoltPath, boltstore.Options{JanitorInterval: time.Hour, Logger: log})
		if err != nil {
			if errors.Is(err, boltstore.ErrLocked) {
				return nil, nil, fmt.Errorf("%s is in use by another process: %w", f.BoltPath, err)
			}
			return nil, nil, err
		}
		log.Info("session store: bbolt", "path", f.BoltPath)
		return s, s.Close, nil
	case "postgres":
		cfg, err := pgxpool.ParseConfig(f.PostgresURL)
		if err != nil {
			return nil, nil, fmt.Errorf("-postgres-url: %w", err)
		}
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("-postgres-url: %w", err)
		}
		// Fail here, with the reason, rather than at the first sign-in;
		// and create the tables (Migrate) when they are missing.
		checkCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		s, err := pgstore.NewChecked(checkCtx, pool, pgstore.Options{JanitorInterval: time.Hour, Logger: log})
		if err != nil {
			pool.Close()
			if errors.Is(err, store.ErrUnavailable) {
				return nil, nil, fmt.Errorf("cannot use PostgreSQL at %s:%d (is it running, and may user %q create tables? -store memory needs none): %w",
					cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.User, err)
			}
			return nil, nil, err
		}
		log.Info("session store: postgres", "host", cfg.ConnConfig.Host, "port", cfg.ConnConfig.Port, "database", cfg.ConnConfig.Database, "schema", s.Schema())
		return s, func() error {
			err := s.Close()
			pool.Close()
			return err
		}, nil
	}
	return nil, nil, fmt.Errorf("-store %q: want memory, redis, bolt or postgres", f.Kind)
}
