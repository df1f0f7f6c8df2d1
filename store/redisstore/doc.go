// Package redisstore is a [store.Store] on Redis, for applications whose
// instances share sessions, through go-redis v9: a single node, a Sentinel
// failover client or a Redis Cluster, any [redis.UniversalClient].
//
//	rdb := redis.NewClient(redisstore.ClientOptions("127.0.0.1:6379"))
//	// Cluster: redis.NewClusterClient(redisstore.ClusterOptions(addrs...))
//	// Sentinel: redis.NewFailoverClient(redisstore.FailoverOptions(name, sentinels...))
//	st, err := redisstore.New(rdb, redisstore.Options{})
//	iss, err := sessionkit.New(sessionkit.Config{..., Store: st})
//
// [ClientOptions], [ClusterOptions] and [FailoverOptions] return go-redis
// options tuned for the store (see Failover below); complete them with
// passwords and TLS. Any client works, but one built from
// redis.UniversalOptions should at least set ContextTimeoutEnabled (see
// Contexts), and as a Cluster client it heals late after a failover.
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
// (Lookup, Version, LoadKeys), one Lua script (EVALSHA, falling back to
// EVAL once when the server's script cache lacks it) for everything else
// but CheckAccess, which sends its three reads (HGET, HGET, GETRANGE) in
// one pipeline to the subject's slot. A script runs atomically, so each
// method is one atomic step, as the contract requires; CheckAccess's reads
// need not be (its doc comment says why).
// One exception: a Rotate whose context has a deadline reads the server's
// clock first when no rotation has answered from that server for 30 seconds
// (see Stalls).
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
// Redis is down nothing is granted. As with any networked store, a command
// whose answer was lost may still have run on the server. go-redis also
// retries a command whose connection broke (Options.MaxRetries). For a
// rotation both cases are what the grace window is for: presenting the same
// refresh token again within it returns the same successor (Replayed);
// Stalls says what covers a retry that comes after the window. With the
// grace window disabled such a retry is reported as reuse; set MaxRetries
// to -1 if you disable it.
//
// What each fault costs, as this package's fault tests measured it on
// 127.0.0.1 (go test -race on a two-core machine; REDIS_FAILOVER_TESTS=1
// runs the failover and restart tests):
//
//   - A hung server (stopped with SIGSTOP: connections stay open, nothing
//     answers). Every call ends at its deadline: with sessionkit's default
//     StoreTimeout (one second) the middleware and RefreshHandler answered
//     503 after 1.001 s; with no deadline (StoreTimeout negative) only the
//     client's read timeout, retried, ended the call: 10.07 s on go-redis's
//     defaults (TestStoppedServerAnswers503; the second figure with
//     StoreTimeout set negative). A 15 s stop under 32 refreshing clients
//     revoked none of their sessions as stolen (Stalls).
//   - A server killed and restarted (appendonly yes). While it is down,
//     calls fail closed: through the client of ClientOptions in a median
//     0.11 s, 0.35 s at the 99th percentile; through a client with go-redis's
//     dial settings the 99th percentile was 0.94 to 1 s, nearly the whole
//     StoreTimeout, spent connecting. Once the restarted server had loaded
//     its AOF, the first call succeeded 0.02 to 1.01 s later (ClientOptions)
//     or 0.001 to 0.95 s later (go-redis's settings), over 40 restarts each,
//     the same within the noise: after as many failed dials as its pool
//     holds connections, go-redis stops dialing for callers and probes the
//     server once a second, an interval no option changes, so about a
//     second after Redis accepts connections again is the floor for any
//     go-redis client (TestRestartRecovery).
//     What survives the restart is Persistence's matter.
//   - A Cluster master killed (SIGKILL), cluster-node-timeout 1000: its
//     replica was promoted 1.8 to 2.7 s after the kill; through the client
//     of ClusterOptions, sessions on the dead master's slots answered again
//     0.05 to 1.08 s after the promotion (2.0 to 3.1 s after the kill);
//     through redis.NewUniversalClient they still failed 10 s after the
//     promotion, and 57 to 58 s in the runs that waited: until its slot map
//     was a minute old. With Redis's default cluster-require-full-coverage
//     yes, the other masters' sessions failed too (CLUSTERDOWN) from the
//     moment the master was marked failed until the promotion, up to a
//     second; with no, not once. Every write acknowledged and
//     replicated before the kill was there afterwards; see Failover for
//     the writes that are not replicated yet (TestClusterFailover).
//
// # Failover
//
// A single server is down until it comes back. Sentinel and Cluster
// replace a dead master by its replica; how soon sessions answer again
// depends on the servers' settings and on the client's.
//
// The client. [ClientOptions], [ClusterOptions] and [FailoverOptions] set,
// with go-redis's defaults in brackets:
//
//   - ContextTimeoutEnabled true (false): socket deadlines come from the
//     context, so a call ends at sessionkit's StoreTimeout on the socket
//     itself, without the store's guard goroutine (Contexts).
//   - ReadTimeout and WriteTimeout 1 s (5 s): a call whose context has no
//     deadline waits about as long per attempt as one with the default
//     StoreTimeout; they also bound a Cluster client's slot-map reload on
//     a node that hangs.
//   - DialTimeout 500 ms (5 s) and DialerRetries 2 (5, 100 ms apart): a
//     call to a server that refuses connections fails well within its
//     deadline instead of spending it connecting (the 99th percentiles
//     above). A Cluster client reloads its slot map from a goroutine with
//     no deadline, asking one node after another; with go-redis's values a
//     reload that asks a host that is down and drops packets first waits
//     about 25 s before it asks the next.
//   - MaxRetryBackoff 100 ms (1 s): retries fit in one StoreTimeout.
//     MaxRetries stays go-redis's: 3 for a single server and Sentinel, so
//     that a command on a pooled connection a restart broke is sent again
//     on a fresh one; a Cluster client retries on its own (MaxRedirects 3,
//     moving to another node after a failed one).
//   - ClusterStateReloadInterval 1 s (60 s; redis.UniversalOptions cannot
//     set it): a Cluster client sends each slot to the master its slot map
//     names, and a dead master answers no MOVED, so the client learns of
//     the promotion only when it reloads the map. With 1 s it reloads, one
//     CLUSTER SLOTS, once a second while it has traffic.
//
// Cluster servers. cluster-node-timeout (15 s by default) is how long a
// master may be silent before it counts as failing; its replica is
// promoted about a second after the others agree. A shorter timeout heals
// sooner, at the price of failovers when a master merely pauses for that
// long (a fork, a slow disk, a network blip). With
// cluster-require-full-coverage no, the slots of the other masters keep
// answering while one master's slots have no server.
//
// Sentinel. The client of FailoverOptions asks a Sentinel for the master's
// address whenever it connects and drops its connections when Sentinel
// announces a new master, so healing follows Sentinel: its
// down-after-milliseconds (30 s by default) before it acts, then the
// election and the promotion. The tests run the conformance suite through Sentinel but do
// not time a Sentinel failover.
//
// Asynchronous replication. A master acknowledges a write before its
// replica has it, so a failover loses the writes of the last moments
// before the kill: the replication lag, usually well under a millisecond
// between nearby hosts, more under load. For sessions: a lost rotation
// leaves the session expecting the previous refresh token, and the client's
// new one is refused as unknown (ErrInvalidToken, not reuse: its user logs
// in again); a lost logout, session revocation or deny-list entry comes
// undone, so the session or access token works again; a lost logout-all
// brings back the subject's sessions and the access tokens issued before
// it. The store does not wait for replicas (WAIT would add a replica round
// trip to every write, and the failover test issues it before the kill
// only so that it may require every acknowledged write afterwards); with
// min-replicas-to-write 1 and min-replicas-max-lag on the masters, a
// master refuses writes (503 here) while no replica has acknowledged it
// for that many seconds, which bounds what a failover can lose.
//
// # Stalls
//
// A stalled server (stopped, a paused VM, a disk whose fsync hangs) keeps its
// connections open and answers nothing: every call ends at its deadline
// (Failures). The commands already sent stay in its sockets and run when it
// resumes, and the clients retry their refresh tokens, by then often more
// than the grace window after the rotation that spent them. Two things keep
// those retries from being taken for theft:
//
//   - The cut-off: a rotation does not take effect after its caller has
//     given up. When the context has a deadline, Rotate passes its script the
//     deadline in the server's clock, less a margin; the script reads the
//     server's TIME first and, at or past that, answers "late" and writes
//     nothing, and Rotate returns ErrUnavailable (the old token rotates on
//     the retry). The store relates the server's clock to its own from
//     samples: every rotation's answer ends with the server's TIME, taken as
//     read at the midpoint of the round trip, within half of it. It keeps the
//     least uncertain recent sample (the uncertainty grows by 1 ms per second
//     of age; a sample that contradicts it replaces it), one per Cluster
//     master, since the key's master runs the script in its own clock.
//     Without a sample younger than 30 seconds, a Rotate with a deadline
//     reads TIME first: one round trip more, after 30 seconds without a
//     rotation on that server. The margin is the sample's uncertainty at the
//     deadline, plus a round trip like the sample's and 50 ms for the
//     answer's way back, at most half of what the call has left. It uses this
//     machine's clock, never Rotation.Now; a command go-redis sends again
//     carries the same cut-off.
//   - Lost answers: a rotation can run in time and still lose its answer.
//     With appendfsync always Redis sends replies only after the fsync of the
//     commands that made them, and under load that is where a stall usually
//     lands (a hung disk lands nowhere else). Only the caller knows its
//     answer never came, so sessionkit's Issuer remembers, for five minutes,
//     the rotations it gave up on: per token, the successors its first four
//     calls asked for. It stretches such a token's grace window over the
//     time since, and a replay that only the stretch allowed stands only if
//     its successor is one of those: the rotation that spent the token was
//     the Issuer's own call, its successor handed to no one. Any other
//     successor means a rotation whose caller got its answer: reuse, and
//     the session is revoked. This widens the window for those tokens alone:
//     a thief presenting one at that instance within the five minutes gets
//     the user's successor, as within the grace window, instead of setting
//     off reuse detection.
//
// Real reuse is still detected: a token two or more rotations old, and the
// previous token outside the window after a rotation whose caller got its
// answer. In the fault test (TestStallIsNotReuse: 32 clients refreshing in a
// loop through an Issuer and retrying their token 100 ms after an error,
// redis-server with appendfsync always stopped for 15 s) every client failed
// 13 times during the stop and went on afterwards; no reuse was detected for
// them and no session was lost, while the two real reuses planted in the
// same run were detected. With neither mechanism 20 of the 32 sessions were
// revoked as stolen (20 in every run: as many as go-redis's pool has
// connections on two cores); with the cut-off alone 6 to 17, in every run;
// with the Issuer's memory alone none; with appendfsync everysec the cut-off
// alone left none (in eleven runs).
//
// What remains:
//
//   - A retry at another application instance, which does not share the
//     Issuer's memory, after a rotation that ran in time and lost its answer,
//     when the stall lasted longer than the grace window: reuse, as before.
//     With appendfsync always under load a stall usually lands there (the
//     cut-off-alone figures above); with everysec or no persistence the
//     window is the few microseconds between a script and its reply. A load
//     balancer that keeps a client on one instance keeps the memory's effect.
//   - The cut-off is as good as the sample: a step of the server's clock (or
//     a failover to a node whose clock differs) shifts it until the next
//     answer from that server replaces the sample, which happens with the
//     next rotation there. A step forward refuses rotations that were in
//     time (they fail with ErrUnavailable and the retry rotates); a step back
//     lets a late one run (then the Issuer's memory covers its retry, at that
//     instance).
//   - A rotation that runs before the cut-off and whose answer still arrives
//     after the deadline (a way back slower than the margin): its retry is a
//     replay within the grace window, and at the same instance after it.
//   - A stall longer than five minutes, or a grace window switched off
//     (no replays at all): a lost answer's retry is reuse.
//   - An answer lost between the application and its own client (a browser
//     that gave up) is the grace window's to absorb, as with every store.
//
// The in-process stores (memstore, boltstore) cannot stall this way: their
// caller waits for the call and gets its outcome (sessionkit gives them no
// deadline), so a rotation never takes effect after its caller has given up
// and its answer is never lost.
//
// # Pushed revocations
//
// Every script that revokes (Revoke, RevokeSession, RevokeAll, Deny, and
// Rotate when it detects reuse) publishes the revocation on Channel(prefix)
// in the same run as its write and before it, so there is no write without
// its message: the Redis user of every Issuer needs the right to publish on
// that channel (Redis 7 gives a new ACL user none: grant it with
// "&<prefix>revoked"), and without it every revocation fails and writes
// nothing. The Redis user of a View needs "&<prefix>revoked*": it
// subscribes to that channel and, on one server or Sentinel, publishes its
// probes on a channel of its own under it; and the commands of its probes:
// INFO and PUBSUB NUMSUB on one server; INFO, PING, CLUSTER MYID and
// CLUSTER NODES on a Cluster. A probe
// refused leaves the View out of step (its checks read the store), and
// ViewStatus.LastError says why. Pub/sub ignores SELECT:
// applications that share a server on different database numbers need
// different prefixes.
// Store.Watch returns a View: the Store, whose CheckAccess answers from the
// revocations it hears, with no round trip, while it is in step (see View
// for the exact rule and its proof obligations). The channel is classic
// pub/sub; on a Cluster, a View subscribes to every master.
//
// Why a channel and not server-assisted client-side caching (RESP3 CLIENT
// TRACKING, which go-redis does not implement): tracking invalidates keys a
// client has read, so a view would first have to read every subject's keys
// it checks (a round trip per new token), and the invalidations of a
// connection lost in between are gone with it, with no way to tell which
// keys changed; in broadcast mode it names keys, not what they now hold. A
// channel carries the revocation itself, the View applies it without a
// read, and the View's rule for a lost subscription (tokens issued before
// the new one are read from the store once) is exact whatever was missed.
//
// Pub/sub delivers at most once: a message published while a View is not
// subscribed is lost to it. The View never relies on a message arriving: it
// answers on its own only when, on every server it subscribes to, a probe
// sent less than MaxStaleness ago has come back on the subscription (every
// message that server published before came first on the same connection),
// and only for tokens that its current subscriptions followed from before
// their revocation could happen. Measured staleness and costs:
// BENCHMARKS.md, "Pushed revocations".
//
// What the probes cover. Every probe reads INFO replication on its
// server, which must be a master with the replication history it had at
// the subscription's first proof (a failover and back gives it another).
// One server, or Sentinel: the probe is published through the Store's
// client, so it goes where the writes go, and PUBSUB NUMSUB on the same
// connection must count the View's subscription to the probe's channel, a
// channel of that subscription's own: the subscription is on that very
// server. After a failover (go-redis moves no subscription), a View left
// on the former master finds none there, and subscribes again, through
// Sentinel, to the new master; replication is not relied on, since a
// former master that rejoins by a full resync relays the new master's
// messages from then on but none of those before. Cluster: a script's
// PUBLISH reaches the subscribers of its own node at once and the others
// over the cluster bus, which drops what it cannot forward while a link
// between two nodes is down; so a View subscribes to every master serving
// slots, and hears each revocation once per master. A master's probe is
// CLUSTER NODES on that master, whose masters serving slots must be the
// View's, then a ping on its subscription. A failover (even a manual one,
// whose former master still answers), a master added or demoted ends every
// subscription, and the View subscribes to the masters there are now.
// While a slot moves to a master serving none yet, the scripts of its
// moved keys run there (ASK), unheard: the View reads the store until the
// move of that first slot ends. A replica that takes over without the
// masters knowing (CLUSTER FAILOVER TAKEOVER in a partition) is heard once
// one of them names it.
// What no probe can cover is a write Redis itself loses: replication is
// asynchronous, and a revocation acknowledged just before a failover may
// be gone from the store and from every View alike.
//
// # Persistence
//
// Sessions, revocations and versions survive a Redis restart only if Redis
// persists them: run it with appendonly yes. With appendfsync always every
// acknowledged write survives a crash (the tests kill -9 such a server and
// find everything); the default everysec may lose the last second, which for
// sessions means a logout, a revocation or a rotation may come undone.
package redisstore
