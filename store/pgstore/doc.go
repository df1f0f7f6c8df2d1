// Package pgstore is a [store.Store] and a [store.KeyStore] in PostgreSQL,
// on a [pgxpool.Pool] the application opens and closes: sessions survive
// restarts and are shared by every instance of a service, in the database
// the application already runs.
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	...
//	st, err := pgstore.NewChecked(ctx, pool, pgstore.Options{JanitorInterval: time.Minute})
//	...
//	defer st.Close()
//	iss, err := sessionkit.New(sessionkit.Config{Store: st, ...})
//
// It implements the whole contract, declares [store.All] and runs the
// store/storetest conformance suite, the cross-issuer isolation matrix and
// the differential test against memstore.
//
// # Schema
//
// The schema comes with the package (schema/*.sql, embedded) and is applied
// by [Store.Migrate] (which [NewChecked] calls): idempotent and versioned in
// the table sessionkit_schema, in one transaction under an advisory lock,
// so instances starting together apply each migration once. Call it at
// every start, or run it from a deploy step with the rights to create
// tables; the store's calls need only SELECT, INSERT, UPDATE and DELETE.
// Tables live in Options.Schema (default "public"):
//
//   - sessionkit_sessions: one row per session: its data, the current
//     hash, the last [store.MinSpentHistory] spent hashes, the time of the
//     last rotation and the sealed successor, the revoked flag, and the
//     epoch: the subject's token version when it was created;
//   - sessionkit_versions: per subject, its token version (never removed);
//   - sessionkit_denied, sessionkit_once: the deny-list and use-once
//     records, each with the time it lasts until;
//   - sessionkit_keys: key rings (sessionkit's managed signing keys,
//     sealed before they reach the store).
//
// Subjects, jtis, namespaces and keys are looked up by the SHA-256 of their
// bytes (kept as bytea, compared byte for byte), so that every index entry
// has a fixed size whatever the names; key-ring names (at most 2048 bytes)
// are kept as they are. Times are Unix nanoseconds.
//
// # One round trip, decisions in Go
//
// Every method but two is one statement, one round trip, one implicit
// transaction: Create (an insert that reads the subject's version), Lookup
// and Sessions (one select each), RevokeSession and RevokeAll (one update
// or upsert each), Deny, Version, CheckAccess (the deny-list, the version
// and the session in one select) and UseOnce (one upsert whose row lock
// orders concurrent calls).
//
// Rotate and Revoke decide with [store.Record], the rotation rules' one
// home, rather than in SQL or in a server-side function, which would be
// one more copy of the rules to keep in step. They read the session and
// its subject's version in one select and decide in Go; the outcomes that
// write nothing (Unknown, Replayed, Expired, Revoked, a failed proof) end
// there, in one round trip, and the two that write (Rotated, Reused) write
// the record back with a second statement, a compare-and-set on the
// generation read, the revoked flag and the epoch: a concurrent rotation
// or revocation of the same session makes it fail, and the call reads and
// decides again (at most eight times). BENCHMARKS.md gives the cost of that
// second round trip.
//
// A logout-all bumps the subject's version and writes no session row: a
// session whose epoch is below its subject's version counts as revoked in
// every method. So a login racing a logout-all either sees the new version
// (and lives) or was created under the old one (and is revoked), and a
// logout-all costs the same whatever the number of sessions.
//
// # Contexts and faults
//
// Every method checks its context first and passes it to pgx, which gives
// up at the deadline and cancels the statement on the server; the error
// wraps both store.ErrUnavailable and the context's error. Any failure of
// the database (connection refused or lost, a statement cancelled, missing
// tables) wraps store.ErrUnavailable. Each write is one statement,
// committed whole or not at all; a statement the server refuses or that
// was cancelled in time changed nothing.
//
// But a write whose caller gave up may still commit on the server: the
// cancel request can come too late or not arrive, and PostgreSQL does not
// tell the client. For a rotation that would be the stall [store.Rotation]
// warns of, so a rotation's write carries the deadline, translated to the
// server's clock from the moment the server read the session (erring
// early by the read's return trip), and takes effect only if the server
// reaches the row and holds its lock before it; past it, it writes
// nothing. What no statement can check is its own commit: a commit that
// the disk's flush or a synchronous standby delays past the deadline, or
// whose answer is lost, still takes effect. The Issuer keeps, per
// process, the rotations it gave up on, and lets their retries replay
// (see sessionkit's grace window). Durability is PostgreSQL's: with the
// default synchronous_commit, a method that returned has its write on
// disk.
//
// # Expiry
//
// Liveness is decided by the now passed to each method: a row whose expiry
// has passed is absent at once. Expired rows stay until the janitor,
// started only when Options.JanitorInterval is positive and stopped by
// Close, or [Store.Sweep] called by the application, removes them:
// sessions one minute after their absolute expiry (revoked and expired
// sessions are remembered until then), deny-list and use-once entries one
// minute after their time, 1000 rows per statement, skipping rows a
// writer holds.
package pgstore
