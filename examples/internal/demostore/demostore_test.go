package demostore

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/sessionkit/sessionkit/internal/pgtest"
	"github.com/sessionkit/sessionkit/store"
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

// TestOpen: every store opens when its backend is there; a missing one
// fails at once with a message saying what is missing.
func TestOpen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		flags   func(t *testing.T) Flags
		wantErr []string // substrings of the error; nil: the store opens
		outage  bool     // the error wraps store.ErrUnavailable
	}{
		{name: "memory", flags: func(*testing.T) Flags { return Flags{Kind: "memory"} }},
		{name: "redis", flags: func(t *testing.T) Flags {
			return Flags{Kind: "redis", RedisURL: "redis://" + miniredis.RunT(t).Addr() + "/0"}
		}},
		{name: "redis not running", flags: func(t *testing.T) Flags {
			return Flags{Kind: "redis", RedisURL: "redis://:hunter2@" + closedAddr(t) + "/0"}
		}, wantErr: []string{"cannot reach Redis at 127.0.0.1:", "is redis-server running?"}, outage: true},
		{name: "a malformed Redis URL", flags: func(*testing.T) Flags { return Flags{Kind: "redis", RedisURL: "http://x"} },
			wantErr: []string{"-redis-url"}},
		{name: "bolt", flags: func(t *testing.T) Flags {
			return Flags{Kind: "bolt", BoltPath: filepath.Join(t.TempDir(), "sessions.db")}
		}},
		{name: "bolt in a missing directory", flags: func(t *testing.T) Flags {
			return Flags{Kind: "bolt", BoltPath: filepath.Join(t.TempDir(), "missing", "sessions.db")}
		}, wantErr: []string{filepath.Join("missing", "sessions.db")}},
		{name: "postgres", flags: func(t *testing.T) Flags {
			return Flags{Kind: "postgres", PostgresURL: pgtest.URL(t)}
		}},
		{name: "postgres not running", flags: func(t *testing.T) Flags {
			return Flags{Kind: "postgres", PostgresURL: "postgres://demo:hunter2@" + closedAddr(t) + "/postgres?sslmode=disable"}
		}, wantErr: []string{"cannot use PostgreSQL at 127.0.0.1:", "is it running"}, outage: true},
		{name: "a malformed PostgreSQL URL", flags: func(*testing.T) Flags { return Flags{Kind: "postgres", PostgresURL: "postgres://x:99999999/"} },
			wantErr: []string{"-postgres-url"}},
		{name: "an unknown store", flags: func(*testing.T) Flags { return Flags{Kind: "floppy"} },
			wantErr: []string{`-store "floppy"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := tt.flags(t)
			st, closeStore, err := f.Open(context.Background(), slog.New(slog.DiscardHandler))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer closeStore()
				if _, err := st.Version(context.Background(), "alice"); err != nil {
					t.Fatalf("the store does not answer: %v", err)
				}
				return
			}
			if err == nil {
				closeStore()
				t.Fatal("Open succeeded, want an error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Open: %q does not say %q", err, want)
				}
			}
			if errors.Is(err, store.ErrUnavailable) != tt.outage {
				t.Errorf("Open: %v; wraps ErrUnavailable: %v, want %v", err, !tt.outage, tt.outage)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("Open: %q shows the Redis password", err)
			}
		})
	}
}

// TestKeys: the memory store gets a key made at start; bbolt keeps the
// ring in the file, sealed under a KEK file made once (mode 0600), so a
// restart signs with the same key.
func TestKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	mem := Flags{Kind: "memory"}
	st, closeStore, err := mem.Open(ctx, log)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	keys, _, err := mem.Keys(ctx, st, "http://127.0.0.1:8080", 0, log)
	if err != nil || keys.SigningKeyID() == "" {
		t.Fatalf("memory: %v", err)
	}

	dir := t.TempDir()
	bolt := Flags{Kind: "bolt", BoltPath: filepath.Join(dir, "sessions.db"), KEKFile: filepath.Join(dir, "kek.txt")}
	open := func() string {
		t.Helper()
		st, closeStore, err := bolt.Open(ctx, log)
		if err != nil {
			t.Fatal(err)
		}
		defer closeStore()
		keys, _, err := bolt.Keys(ctx, st, "http://127.0.0.1:8080", 0, log)
		if err != nil {
			t.Fatalf("bolt: %v", err)
		}
		return keys.SigningKeyID()
	}
	first := open()
	info, err := os.Stat(bolt.KEKFile)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the KEK file: %v, mode %v; want 0600", err, info.Mode().Perm())
	}
	if again := open(); again != first {
		t.Fatalf("after a restart the signing key is %s, want %s", again, first)
	}
	if err := os.WriteFile(bolt.KEKFile, []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st2, close2, err := bolt.Open(ctx, log)
	if err != nil {
		t.Fatal(err)
	}
	defer close2()
	if _, _, err := bolt.Keys(ctx, st2, "http://127.0.0.1:8080", 0, log); err == nil || strings.Contains(err.Error(), "garbage") {
		t.Fatalf("a malformed KEK file: %v", err)
	}
}
