package pgstore

import (
	"strings"

	"github.com/jackc/pgx/v5"
)

// queries holds the store's statements with the schema's tables named in
// full. Parameters are bound, never spliced: the schema name, quoted as an
// identifier, is the only text put into them.
type queries struct {
	create, read, writeBack, sessions, revokeSession, revokeAll string
	deny, version, checkAccess, useOnce                         string
	loadKeys, insertKeys, swapKeys                              string
	sweepSessions, sweepDenied, sweepOnce                       string
}

// serverMicros is the server's clock, in Unix microseconds, at the moment
// the expression is evaluated (clock_timestamp, unlike now, moves within a
// transaction).
const serverMicros = `(extract(epoch FROM clock_timestamp()) * 1000000)::bigint`

func newQueries(schema string) queries {
	s := pgx.Identifier{schema}.Sanitize() + "."
	r := strings.NewReplacer("{s}", s, "NOW_US", serverMicros)
	q := func(sql string) string { return r.Replace(sql) }
	return queries{
		// $14: a remembered session whose expires_at is at or before it
		// may be forgotten, and its id given to the new session.
		create: q(`INSERT INTO {s}sessionkit_sessions AS s (id, subject_key, subject, client_id, scope, claims,
			user_agent, ip, created_at, last_used_at, idle_expires_at, expires_at, generation, current_hash,
			spent, rotated_at, sealed, revoked, epoch)
		SELECT $1::text, $2::bytea, $3::bytea, $4::bytea, $5::bytea, $6::bytea, $7::bytea, $8::bytea,
			$9::bigint, $10::bigint, $11::bigint, $12::bigint, 1, $13::bytea, ''::bytea, NULL, NULL, false,
			coalesce((SELECT version FROM {s}sessionkit_versions WHERE subject_key = $2::bytea), 0)
		ON CONFLICT (id) DO UPDATE SET subject_key = EXCLUDED.subject_key, subject = EXCLUDED.subject,
			client_id = EXCLUDED.client_id, scope = EXCLUDED.scope, claims = EXCLUDED.claims,
			user_agent = EXCLUDED.user_agent, ip = EXCLUDED.ip, created_at = EXCLUDED.created_at,
			last_used_at = EXCLUDED.last_used_at, idle_expires_at = EXCLUDED.idle_expires_at,
			expires_at = EXCLUDED.expires_at, generation = EXCLUDED.generation,
			current_hash = EXCLUDED.current_hash, spent = EXCLUDED.spent, rotated_at = EXCLUDED.rotated_at,
			sealed = EXCLUDED.sealed, revoked = EXCLUDED.revoked, epoch = EXCLUDED.epoch
		WHERE s.expires_at <= $14::bigint
		RETURNING epoch`),
		read: q(`SELECT s.subject, s.client_id, s.scope, s.claims, s.user_agent, s.ip, s.created_at,
			s.last_used_at, s.idle_expires_at, s.expires_at, s.generation, s.current_hash, s.spent,
			s.rotated_at, s.sealed, s.revoked, s.epoch, coalesce(v.version, 0), NOW_US
		FROM {s}sessionkit_sessions s LEFT JOIN {s}sessionkit_versions v ON v.subject_key = s.subject_key
		WHERE s.id = $1`),
		// The compare-and-set of a rotation or revocation: the row read
		// ($1 its id, $3 its subject's key, $14 its created_at: a row that
		// reused the id is another session) at the generation read ($2),
		// still live; $4, when not NULL, the server time (Unix
		// microseconds) from which the write must not take effect. The
		// WHERE clause checks $4 before the row lock, RETURNING once the
		// row is locked (a lock wait is not re-checked by the WHERE
		// clause): past it, a division by zero (SQLSTATE 22012, the one
		// way plain SQL has to raise an error) aborts the statement, so
		// nothing is written. The second column tells a write withheld by
		// the WHERE clause's check from a lost race.
		writeBack: q(`WITH u AS (
			UPDATE {s}sessionkit_sessions SET generation = $5, current_hash = $6, spent = $7,
				rotated_at = $8, sealed = $9, last_used_at = $10, idle_expires_at = $11, claims = $12,
				revoked = $13
			WHERE id = $1 AND subject_key = $3 AND created_at = $14 AND generation = $2 AND NOT revoked
				AND epoch >= coalesce((SELECT version FROM {s}sessionkit_versions WHERE subject_key = $3), 0)
				AND ($4::bigint IS NULL OR NOW_US < $4::bigint)
			RETURNING 1 / (CASE WHEN $4::bigint IS NOT NULL AND NOW_US >= $4::bigint THEN 0 ELSE 1 END))
		SELECT EXISTS (SELECT 1 FROM u), ($4::bigint IS NOT NULL AND NOW_US >= $4::bigint)`),
		// The filter on revoked and expiry only spares reading dead rows;
		// store.Record.LiveFor decides.
		sessions: q(`SELECT s.id, s.subject, s.client_id, s.scope, s.claims, s.user_agent, s.ip,
			s.created_at, s.last_used_at, s.idle_expires_at, s.expires_at, s.generation, s.revoked, s.epoch,
			coalesce(v.version, 0)
		FROM {s}sessionkit_sessions s LEFT JOIN {s}sessionkit_versions v ON v.subject_key = s.subject_key
		WHERE s.subject_key = $1 AND NOT s.revoked AND s.expires_at > $2 AND s.idle_expires_at > $2`),
		// store.Record.LiveFor as a predicate, so that the revocation is
		// one statement; the differential test holds it to the rule.
		revokeSession: q(`UPDATE {s}sessionkit_sessions s SET revoked = true
		WHERE s.id = $1 AND s.subject_key = $2 AND s.subject = $3 AND NOT s.revoked
			AND s.idle_expires_at > $4 AND s.expires_at > $4
			AND s.epoch >= coalesce((SELECT version FROM {s}sessionkit_versions WHERE subject_key = $2), 0)`),
		revokeAll: q(`INSERT INTO {s}sessionkit_versions AS v (subject_key, version) VALUES ($1, 1)
		ON CONFLICT (subject_key) DO UPDATE SET version = v.version + 1
		RETURNING version`),
		deny: q(`INSERT INTO {s}sessionkit_denied AS d (k, until_ns) VALUES ($1, $2)
		ON CONFLICT (k) DO UPDATE SET until_ns = EXCLUDED.until_ns WHERE d.until_ns < EXCLUDED.until_ns`),
		version: q(`SELECT coalesce((SELECT version FROM {s}sessionkit_versions WHERE subject_key = $1), 0)`),
		checkAccess: q(`SELECT v.version,
			EXISTS (SELECT 1 FROM {s}sessionkit_denied WHERE k = $2 AND until_ns > $4),
			s.subject, s.revoked, s.epoch, s.idle_expires_at, s.expires_at
		FROM (SELECT coalesce((SELECT version FROM {s}sessionkit_versions WHERE subject_key = $1), 0) AS version) v
		LEFT JOIN {s}sessionkit_sessions s ON s.id = $3 AND s.subject_key = $1`),
		// The upsert's row lock orders concurrent calls; fresh records
		// whether the row it found (if any) was dead at $3.
		useOnce: q(`INSERT INTO {s}sessionkit_once AS o (k, until_ns, fresh) VALUES ($1, $2, true)
		ON CONFLICT (k) DO UPDATE SET fresh = o.until_ns <= $3,
			until_ns = CASE WHEN o.until_ns <= $3 THEN EXCLUDED.until_ns
				ELSE greatest(o.until_ns, EXCLUDED.until_ns) END
		RETURNING fresh`),
		loadKeys:   q(`SELECT blob, version FROM {s}sessionkit_keys WHERE name = $1`),
		insertKeys: q(`INSERT INTO {s}sessionkit_keys (name, version, blob) VALUES ($1, 1, $2) ON CONFLICT (name) DO NOTHING`),
		swapKeys:   q(`UPDATE {s}sessionkit_keys SET blob = $3, version = version + 1 WHERE name = $1 AND version = $2`),
		// The janitor's chunks: SKIP LOCKED leaves rows a writer holds.
		sweepSessions: q(`DELETE FROM {s}sessionkit_sessions WHERE id IN (SELECT id FROM {s}sessionkit_sessions
			WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`),
		sweepDenied: q(`DELETE FROM {s}sessionkit_denied WHERE k IN (SELECT k FROM {s}sessionkit_denied
			WHERE until_ns < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`),
		sweepOnce: q(`DELETE FROM {s}sessionkit_once WHERE k IN (SELECT k FROM {s}sessionkit_once
			WHERE until_ns < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`),
	}
}
