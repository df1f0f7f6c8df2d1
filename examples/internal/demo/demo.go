// Package demo holds what the browser demos (examples/spa and
// examples/webapp) share: the demo users, whose passwords are hashed with
// bcrypt at startup as a real application would store them, and the flags
// that choose the session store.
package demo

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/boltstore"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// Login is a demo user's credentials, which the demo pages show.
type Login struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

// Logins are the demo users. Never ship passwords in a program: a real
// application keeps only their bcrypt (or argon2id) hashes in its database.
var Logins = []Login{
	{Username: "alice", Password: "wonderland", Name: "Alice Liddell"},
	{Username: "bob", Password: "builder", Name: "Bob the Builder"},
}

// User is an authenticated demo user.
type User struct {
	Username string
	Name     string
}

// Users checks demo passwords against their bcrypt hashes.
type Users struct {
	hashes map[string][]byte
	names  map[string]string
	// dummy is compared against when the user is unknown, so that an
	// unknown name takes as long as a wrong password.
	dummy []byte
}

// NewUsers hashes the demo passwords with bcrypt at the given cost
// (bcrypt.DefaultCost for the demos; tests may use bcrypt.MinCost).
func NewUsers(cost int) (*Users, error) {
	u := &Users{hashes: map[string][]byte{}, names: map[string]string{}}
	for _, l := range Logins {
		h, err := bcrypt.GenerateFromPassword([]byte(l.Password), cost)
		if err != nil {
			return nil, fmt.Errorf("hashing the demo passwords: %w", err)
		}
		u.hashes[l.Username], u.names[l.Username] = h, l.Name
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("no user has this password"), cost)
	if err != nil {
		return nil, fmt.Errorf("hashing the demo passwords: %w", err)
	}
	u.dummy = dummy
	return u, nil
}

// Check returns the user whose username and password these are.
func (u *Users) Check(username, password string) (User, bool) {
	h, known := u.hashes[username]
	if !known {
		h = u.dummy
	}
	// bcrypt refuses passwords over 72 bytes: they simply do not match.
	if bcrypt.CompareHashAndPassword(h, []byte(password)) != nil || !known {
		return User{}, false
	}
	return User{Username: username, Name: u.names[username]}, true
}

// Name returns the display name of username ("" for an unknown one).
func (u *Users) Name(username string) string { return u.names[username] }

// StoreFlags are the command-line flags that choose the session store.
type StoreFlags struct {
	Kind     string
	RedisURL string
	BoltPath string
}

// Register defines -store, -redis-url and -bolt-path on fs.
func (f *StoreFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Kind, "store", "memory", "session store: memory, redis or bolt")
	fs.StringVar(&f.RedisURL, "redis-url", "redis://127.0.0.1:6379/0", "Redis URL, for -store redis")
	fs.StringVar(&f.BoltPath, "bolt-path", "sessions.db", "bbolt database file, for -store bolt")
}

// Open opens the chosen store. close releases it (the Redis client, the
// bbolt file); call it after the server has stopped.
func (f *StoreFlags) Open(ctx context.Context, log *slog.Logger) (st store.Store, close func() error, err error) {
	switch f.Kind {
	case "memory":
		log.Info("session store: memory (sessions end when the process does)")
		return memstore.New(), func() error { return nil }, nil
	case "redis":
		opts, err := redis.ParseURL(f.RedisURL)
		if err != nil {
			return nil, nil, fmt.Errorf("-redis-url: %w", err)
		}
		client := redis.NewClient(opts)
		pingCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if err := client.Ping(pingCtx).Err(); err != nil {
			_ = client.Close()
			return nil, nil, fmt.Errorf("cannot reach Redis at %s: %w", opts.Addr, err)
		}
		s, err := redisstore.New(client, redisstore.Options{})
		if err != nil {
			_ = client.Close()
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
	}
	return nil, nil, fmt.Errorf("-store %q: want memory, redis or bolt", f.Kind)
}
