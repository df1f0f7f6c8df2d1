// Package pgtest holds the PostgreSQL helpers of the tests: the shared
// server named by POSTGRES_URL ([URL], [Pool]), a fresh schema per test case
// so that cases run in parallel on that one server ([Schema]), and a private,
// throw-away cluster that a fault test may kill and restart ([Start]).
//
// Without POSTGRES_URL, or without the PostgreSQL binaries, the tests skip,
// except under CI=true, where they fail: .ci/run installs PostgreSQL, starts a
// server and exports POSTGRES_URL.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// envURL names the environment variable holding the shared test server's
// URL.
const envURL = "POSTGRES_URL"

// inCI reports whether the tests run in CI (CI=true), where every server
// and binary a test needs is there: a missing one fails the test instead of
// skipping it.
func inCI() bool { return os.Getenv("CI") == "true" }

// skipOrFail skips the test, or fails it under CI=true, with the message.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if inCI() {
		t.Fatalf("under CI=true: "+format, args...)
	}
	t.Skipf(format, args...)
}

// URL returns $POSTGRES_URL. When it is unset the test skips, or fails
// under CI=true, with a message saying what to set.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(envURL)
	if u == "" {
		skipOrFail(t, "%s is unset: set it to a PostgreSQL server's URL, such as "+
			"postgres://sessionkit@127.0.0.1:5432/postgres?sslmode=disable, "+
			"to run this test (.ci/run starts a server and exports it)", envURL)
	}
	return u
}

// Pool returns a connection pool for url, checked with a Ping under a
// 10-second timeout (the test fails if the server does not answer) and
// closed when the test ends.
func Pool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatalf("pgtest: pool for the PostgreSQL URL: %v", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		t.Fatalf("pgtest: the PostgreSQL server does not answer: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Schema creates a schema of a fresh, unique name ("sktest_" and 12 random
// lowercase hexadecimal digits) and returns its name; when the test ends it
// is dropped with everything in it (DROP SCHEMA ... CASCADE). The name needs
// no quoting. Callers put it in front of their tables' names or on the
// search_path themselves.
func Schema(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	name := "sktest_" + hex.EncodeToString(b)
	ident := pgx.Identifier{name}.Sanitize()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
		t.Fatalf("pgtest: create schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+ident+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
		}
	})
	return name
}
