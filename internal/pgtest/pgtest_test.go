package pgtest_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionkit/sessionkit/internal/pgtest"
)

// connect opens one connection to url, closed when the test ends.
func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// TestKillRestart: a row committed just before a SIGKILL is there after the
// restart (crash recovery), the killed server refuses connections, and a
// Restart of a running server stops it cleanly first.
func TestKillRestart(t *testing.T) {
	t.Parallel()
	s := pgtest.Start(t)
	ctx := context.Background()
	conn := connect(t, s.URL())
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (id int PRIMARY KEY, note text NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO kept VALUES (1, 'committed before the kill')"); err != nil {
		t.Fatal(err)
	}

	s.Kill()
	if err := conn.Ping(ctx); err == nil {
		t.Fatal("a connection to the killed server still answers")
	}
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	c, err := pgx.Connect(dctx, s.URL())
	cancel()
	if err == nil {
		c.Close(ctx)
		t.Fatal("the killed server accepts connections")
	}
	s.Kill() // a second Kill does nothing

	s.Restart(t)
	readNote(t, s.URL())

	s.Restart(t) // running: fast shutdown, then start
	readNote(t, s.URL())
}

// readNote checks the row TestKillRestart wrote.
func readNote(t *testing.T, url string) {
	t.Helper()
	var note string
	if err := connect(t, url).QueryRow(context.Background(), "SELECT note FROM kept WHERE id = 1").Scan(&note); err != nil {
		t.Fatalf("reading the row back: %v", err)
	}
	if note != "committed before the kill" {
		t.Fatalf("note = %q", note)
	}
}

// TestSchema: on the shared server (POSTGRES_URL), every call makes a new
// schema, and the schema is gone once its test has ended.
func TestSchema(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t, pgtest.URL(t))
	ctx := context.Background()
	var a, b string
	t.Run("case", func(t *testing.T) {
		a, b = pgtest.Schema(t, pool), pgtest.Schema(t, pool)
		name := regexp.MustCompile(`^sktest_[0-9a-f]{12}$`)
		if !name.MatchString(a) || !name.MatchString(b) || a == b {
			t.Fatalf("schemas %q and %q", a, b)
		}
		if _, err := pool.Exec(ctx, "CREATE TABLE "+a+".t (id int)"); err != nil {
			t.Fatal(err)
		}
	})
	var left int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname IN ($1, $2)", a, b).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d of the schemas %s, %s outlived their test", left, a, b)
	}
}
