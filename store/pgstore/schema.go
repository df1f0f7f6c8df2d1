package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

//go:embed schema/*.sql
var schemaFS embed.FS

// migration is one file of schema/: NNNN_name.sql applies version NNNN.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations lists the embedded schema files in order. Versions run 1, 2,
// 3... without gaps (a test pins it).
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(schemaFS, "schema")
	if err != nil {
		return nil, err
	}
	var list []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("pgstore: schema file %q is not named NNNN_name.sql", e.Name())
		}
		sql, err := fs.ReadFile(schemaFS, "schema/"+e.Name())
		if err != nil {
			return nil, err
		}
		list = append(list, migration{version: v, name: e.Name(), sql: string(sql)})
	}
	slices.SortFunc(list, func(a, b migration) int { return a.version - b.version })
	for i, m := range list {
		if m.version != i+1 {
			return nil, fmt.Errorf("pgstore: schema files skip from version %d to %d", i, m.version)
		}
	}
	return list, nil
}

// SchemaVersion is the version of the schema this package's code reads
// and writes: that of the newest embedded migration.
const SchemaVersion = 1

// ErrSchema is wrapped by the error Migrate returns when the database holds
// a newer schema than this code knows (a newer release of sessionkit
// migrated it): upgrade this program, or give it a schema of its own.
var ErrSchema = errors.New("pgstore: the database schema is newer than this code")

// Migrate brings the store's schema up to date: it creates the schema
// named by Options.Schema if needed, then applies, in order, each embedded
// migration not yet recorded in its table sessionkit_schema, all in one
// transaction under an advisory lock, so that instances starting together
// wait for one another instead of applying a migration twice. It is
// idempotent: call it at every start, before the store's first use (a
// store whose tables are missing answers every call with
// store.ErrUnavailable saying so). A schema newer than this code gives an
// error wrapping [ErrSchema] and changes nothing.
//
// It creates only what is missing, so once the schema is up to date any
// role that may read sessionkit_schema can run it; a migration still
// pending needs the privilege to create tables in the schema (and the
// schema itself, in the database, when it is missing), or it fails with
// an error wrapping [ErrPermission]. The store's other methods need only
// SELECT, INSERT, UPDATE and DELETE on its tables.
func (s *Store) Migrate(ctx context.Context) error {
	list, err := migrations()
	if err != nil {
		return err
	}
	if list[len(list)-1].version != SchemaVersion {
		return fmt.Errorf("pgstore: the newest schema file is version %d, SchemaVersion is %d", list[len(list)-1].version, SchemaVersion)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return migrateError(ctx, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	ident := pgx.Identifier{s.schema}.Sanitize()
	h := fnv.New64a()
	h.Write([]byte("sessionkit/pgstore/migrate\x00" + s.schema))
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(h.Sum64())); err != nil {
		return migrateError(ctx, err)
	}
	// Only what is missing is created: CREATE ... IF NOT EXISTS checks the
	// privilege to create before it looks, which a role that may only use
	// an existing schema lacks.
	var haveSchema, haveTable bool
	err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1),
		to_regclass($2) IS NOT NULL`, s.schema, ident+".sessionkit_schema").Scan(&haveSchema, &haveTable)
	if err != nil {
		return migrateError(ctx, err)
	}
	steps := []string{"SET LOCAL search_path TO " + ident}
	if !haveSchema {
		steps = append([]string{"CREATE SCHEMA " + ident}, steps...)
	}
	if !haveTable {
		steps = append(steps, `CREATE TABLE sessionkit_schema (
			version    integer     PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`)
	}
	for _, sql := range steps {
		if _, err := tx.Exec(ctx, sql); err != nil {
			return migrateError(ctx, err)
		}
	}
	var current int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM sessionkit_schema").Scan(&current); err != nil {
		return migrateError(ctx, err)
	}
	if current > SchemaVersion {
		return fmt.Errorf("%w: schema %s is at version %d, this code knows up to %d", ErrSchema, ident, current, SchemaVersion)
	}
	for _, m := range list[current:] {
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return migrateError(ctx, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO sessionkit_schema (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			return migrateError(ctx, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return migrateError(ctx, err)
	}
	return nil
}

// ErrPermission is wrapped by the error Migrate returns when its role may
// not create what a pending migration needs (SQLSTATE 42501): a
// configuration to fix, not an outage. Run Migrate as the schema's owner
// (from a deploy step, say) or grant CREATE on the schema.
var ErrPermission = errors.New("pgstore: permission denied")

// migrateError maps a failure of Migrate: a refused privilege wraps
// ErrPermission, anything else store.ErrUnavailable.
func migrateError(ctx context.Context, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" {
		return fmt.Errorf("%w: migrate: %w (run Migrate as a role that may create tables in the schema, or as its owner)", ErrPermission, err)
	}
	return unavailable(ctx, "migrate", err)
}
