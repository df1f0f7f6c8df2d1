package pgstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit/internal/pgtest"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/pgstore"
)

// TestMigrate: Migrate is idempotent and versioned; instances migrating
// together apply the schema once; a store whose tables are missing fails
// with ErrUnavailable naming Migrate; a newer schema is refused.
func TestMigrate(t *testing.T) {
	t.Parallel()
	p := pool(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	schema := pgtest.Schema(t, p)
	s, err := pgstore.New(p, pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Create(ctx, newSession("before", "alice", t0))
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "Migrate") {
		t.Fatalf("Create before Migrate: %v, want ErrUnavailable naming Migrate", err)
	}

	// Five instances starting together.
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Go(func() { errs[i] = s.Migrate(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Migrate %d: %v", i, err)
		}
	}
	var n, v int
	if err := p.QueryRow(ctx, `SELECT count(*), max(version) FROM "`+schema+`".sessionkit_schema`).Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	if n != pgstore.SchemaVersion || v != pgstore.SchemaVersion {
		t.Fatalf("sessionkit_schema holds %d rows up to version %d, want %d", n, v, pgstore.SchemaVersion)
	}
	create(t, s, "after", "alice", t0)
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	if list, err := s.Sessions(ctx, "alice", t0); err != nil || len(list) != 1 {
		t.Fatalf("after a second Migrate: %d sessions, %v; want the one kept", len(list), err)
	}

	// A newer release migrated the schema.
	if _, err := p.Exec(ctx, `INSERT INTO "`+schema+`".sessionkit_schema (version, name) VALUES ($1, 'future.sql')`, pgstore.SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); !errors.Is(err, pgstore.ErrSchema) {
		t.Fatalf("Migrate under a newer schema: %v, want ErrSchema", err)
	}
}

// TestNewRefuses: New checks its arguments without I/O.
func TestNewRefuses(t *testing.T) {
	t.Parallel()
	if _, err := pgstore.New(nil, pgstore.Options{}); err == nil {
		t.Error("New(nil pool) succeeded")
	}
}

// TestMigrateWithoutCreate: a role that may only use the tables (no
// CREATE on the database or the schema) runs Migrate, and so NewChecked,
// once the schema is up to date; on a schema still to migrate it gets
// ErrPermission, not an outage.
func TestMigrateWithoutCreate(t *testing.T) {
	t.Parallel()
	p := pool(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	schema := pgtest.Schema(t, p)
	owner, err := pgstore.New(p, pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	role := "app_" + schema
	ident := `"` + schema + `"`
	for _, sql := range []string{
		`CREATE ROLE "` + role + `" LOGIN`,
		`GRANT USAGE ON SCHEMA ` + ident + ` TO "` + role + `"`,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ` + ident + ` TO "` + role + `"`,
	} {
		if _, err := p.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = p.Exec(ctx, `DROP OWNED BY "`+role+`"`)
		_, _ = p.Exec(ctx, `DROP ROLE "`+role+`"`)
	})
	cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.User = role
	cfg.MaxConns = 2
	app, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	s, err := pgstore.NewChecked(ctx, app, pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatalf("NewChecked as a role without CREATE, schema up to date: %v", err)
	}
	create(t, s, "app", "alice", t0)

	fresh, err := pgstore.New(app, pgstore.Options{Schema: "missing_" + schema})
	if err != nil {
		t.Fatal(err)
	}
	err = fresh.Migrate(ctx)
	if !errors.Is(err, pgstore.ErrPermission) || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Migrate of a new schema without CREATE: %v, want ErrPermission (not ErrUnavailable)", err)
	}
}
