// Package redisstore is a [store.Store] on Redis, for applications whose
// instances share sessions, through go-redis v9: a single node, a Sentinel
// failover client or a Redis Cluster, any [redis.UniversalClient].
//
//	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
//		Addrs:                 []string{"127.0.0.1:6379"},
//		ContextTimeoutEnabled: true, // see Contexts below
//	})
//	st, err := redisstore.New(rdb, redisstore.Options{})
//	iss, err := sessionkit.New(sessionkit.Config{..., Store: st})
//
// New does no I/O. [NewChecked] also pings the server (every master of a
// Cluster) within its context's deadline, for a program that should not
// start without Redis; later, Issuer.Check tells readiness probes whether
// the store still answers.
//
// It implements the whole contract, declares every capability and runs the
// store/storetest conformance suite against miniredis, a real redis-server, a
// three-master Cluster and a Sentinel-managed master. It needs Redis 6.2 or
// later (SET ... PXAT).
//
// # One round trip per call
//
// Every method is one command: a GET, HGET or HMGET for the pure reads
// (Session, Lookup, Version, LoadKeys), one Lua script (EVALSHA, falling back to EVAL once when
// the server's script cache lacks it) for everything else. A script runs
// atomically, so each method is one atomic step, as the contract requires.
//
// # Keys
//
// With the default prefix "sessionkit:" and T the subject's tag
// ([store.SubjectTag], 12 characters carried in every refresh token's
// handle):
//
//	sessionkit:s:{T}:<sid>   one session: a string (a fixed-width header, the
//	                         session's data, spent-hash slots, sealed successor)
//	sessionkit:i:{T}         the subject's index: a sorted set of session ids
//	                         scored by absolute expiry (listing, revoke-all)
//	sessionkit:v:{T}         token versions: a hash, field = subject
//	sessionkit:d:{T}:<jti>   a deny-list entry: a hash, field = subject,
//	                         value = until
//	sessionkit:o:<n>:<ns>:<key>  a use-once record (n = length of ns)
//	sessionkit:k:<name>      a key ring ([store.KeyStore]): a hash, v =
//	                         version, b = blob; never expires
//
// The braces are the Redis Cluster hash tag: every key of one subject is in
// one slot, so Login, Refresh, LogoutAll and the access check each touch one
// slot, and a rotation, which only has the refresh token's handle, finds the
// session without knowing the subject. The prefix comes first and may not
// contain braces. Two subjects could in principle share a tag (72 bits of
// SHA-256), so the stored subject is always checked too: versions and
// deny-list entries are keyed by the subject itself inside the tag's hash,
// and a session of another subject under the same tag is never read, listed,
// revoked or reported live for this one. Session ids are unique per
// subject; sessionkit's are 128 random bits. A key ring is one key, read
// with one HMGET and swapped by one compare-and-set script, so it needs no
// hash tag: its slot is its own, whatever its name holds.
//
// Refresh secrets are never stored: only their SHA-256. A session keeps its
// current hash, the last [store.MinSpentHistory] spent ones (for reuse
// detection) and the successor sealed at its last rotation (opaque bytes,
// for the grace window). Lookup compares hashes in Go in constant time; the
// rotation compares them inside its script, which is sound because they are
// hashes of 256-bit random secrets.
//
// # Time and expiry
//
// Liveness is decided by the now passed to each method, never by the Redis
// clock. Native expiry only cleans up, Options.ExpiryMargin after a record
// stops counting: a session key at its absolute ExpiresAt plus the margin
// (so a revoked or idle-expired session still answers Revoked or Expired
// until then), the index at its latest session's, a deny-list entry at its
// until plus the margin, a use-once record likewise. Token versions never
// expire. The index drops members past their absolute expiry plus the margin
// whenever a session is added to it; listing it and revoking all also drop
// members whose session is gone or revoked, and a revocation drops its
// session. Times are kept at millisecond precision.
//
// # Contexts
//
// No call outlives its context's deadline. go-redis takes socket deadlines from
// the context only when the client has ContextTimeoutEnabled; otherwise a call
// on a hung server would wait for the client's ReadTimeout. So when the context
// has a deadline and the client is not a go-redis client with
// ContextTimeoutEnabled (and read and write timeouts not switched off), the
// call runs its command on a helper goroutine and returns as soon as the
// context is done, at its deadline or on cancellation; the helper finishes when
// the client gives up on its own (its ReadTimeout). The hand-over to the helper
// and back costs a noticeable part of a local round trip (BENCHMARKS.md), so
// enable ContextTimeoutEnabled: the store then calls the client directly and
// the socket deadline ends the call. A context without a deadline is not
// watched (only the client's timeouts bound such a call), nor is a cancellation
// before the deadline on a client with ContextTimeoutEnabled once the command
// is sent.
// A call that fails because its context ended returns an error wrapping both
// [store.ErrUnavailable] and the context's error.
//
// # Failures
//
// Any error from Redis or the network wraps [store.ErrUnavailable], which
// sessionkit reports as ErrStoreUnavailable and its middleware as 503: while
// Redis is down nothing is granted. After repeated failed dials go-redis probes
// the server about once a second before it dials for callers again, so calls go
// on failing closed for up to a second after Redis is back. As with any
// networked store, a command whose answer was lost may still have run on the
// server. go-redis also retries a command whose connection broke
// (Options.MaxRetries). For a rotation both cases are what the grace window is
// for: presenting the same refresh token again within it returns the same
// successor (Replayed). With the grace window disabled such a retry is reported
// as reuse; set MaxRetries to -1 if you disable it.
//
// # Stalls
//
// A server that stalls (stopped, swapping, blocked by a slow command) holds
// the commands sent meanwhile and runs them when it resumes, long after their
// callers returned at their deadlines (sessionkit's StoreTimeout, one second
// by default, gives every call one). A rotation applied that late would leave
// its caller's retry with the old token more than the grace window after the
// rotation's time, to be taken for reuse, revoking a legitimate session. So
// Rotate, when its context has a deadline, passes that deadline to the
// script in the server's clock, and the script, reading TIME, answers "late"
// and writes nothing once it has passed: Rotate returns ErrUnavailable and
// the old token rotates on the retry. The server's clock is estimated
// against this process's wall clock from TIME (the offset within half a round
// trip, a sample serving a minute, one TIME round trip more when it is
// stale), and the deadline is moved earlier by that uncertainty and 20 ms.
// In a Cluster the key's node runs the script: a node whose clock is off
// from the one sampled moves the deadline by that much.
//
// One window is left: a rotation the server ran just before it stalled, whose
// answer it had not yet sent. Its caller gave up, yet it took effect.
// sessionkit's Issuer remembers, for MaxReuseGrace, the rotations it gave up
// on, and answers a retry of such a token as a replay; a retry that reaches
// another instance gets the normal grace window. Measured with 32 clients
// refreshing through an Issuer and retrying their old token after an error,
// the server stopped (SIGSTOP) for 15 s (TestStallCausesNoFalseReuse): 20
// false reuse detections and 20 of 32 sessions revoked before, 0 and 0
// now; a real reuse planted in the same run is detected.
//
// The in-process stores (memstore, boltstore) cannot stall this way: their
// caller waits for the call (sessionkit gives them no deadline), so a
// rotation never takes effect after its caller has given up.
//
// # Persistence
//
// Sessions, revocations and versions survive a Redis restart only if Redis
// persists them: run it with appendonly yes. With appendfsync always every
// acknowledged write survives a crash (the tests kill -9 such a server and
// find everything); the default everysec may lose the last second, which for
// sessions means a logout, a revocation or a rotation may come undone.
package redisstore
