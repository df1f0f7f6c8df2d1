package redisstore

import (
	"time"

	"github.com/redis/go-redis/v9"
)

// The client settings ClientOptions, ClusterOptions and FailoverOptions
// share, chosen for sessionkit's default StoreTimeout of one second. The
// package documentation (Failover, Failures) explains each and gives the
// figures the fault tests measured with them.
const (
	// tunedTimeout is the read and write timeout: a call whose context has
	// no deadline waits about as long as one with sessionkit's default
	// StoreTimeout, not go-redis's 5 s per attempt; it also bounds the
	// Cluster client's slot-map reload on a node that hangs.
	tunedTimeout = time.Second
	// tunedDialTimeout bounds one TCP (and TLS) connect. A Cluster client
	// reloads its slot map from a background goroutine without a deadline:
	// with go-redis's 5 s, a reload that picks a host that is down
	// (packets dropped, no refusal) stalls for DialerRetries times that
	// before it asks another node.
	tunedDialTimeout = 500 * time.Millisecond
	// tunedDialerRetries is how many connects one dial makes (go-redis: 5,
	// 100 ms apart): two, so that a call to a server that refuses
	// connections fails well within its deadline instead of spending it on
	// connects, and a reload moves on from a dead node quickly.
	tunedDialerRetries = 2
	// tunedMaxRetryBackoff caps the pause before a retried command
	// (go-redis: 1 s, longer than a whole StoreTimeout).
	tunedMaxRetryBackoff = 100 * time.Millisecond
	// tunedReloadInterval is how old the Cluster client's slot map may get
	// before the next command reloads it (go-redis: 60 s). After a
	// failover the client keeps sending a dead master's slots to the dead
	// node, which answers no MOVED, until it reloads the map.
	tunedReloadInterval = time.Second
)

// ClientOptions returns go-redis options for a single Redis server at addr
// (host:port) tuned for the store: ContextTimeoutEnabled, so that each call
// ends at its context's deadline (sessionkit's StoreTimeout) on the socket
// itself; read and write timeouts of one second for calls without a
// deadline; a 500 ms dial timeout, two connects per dial and retry pauses
// of at most 100 ms, so that retries fit in one StoreTimeout. go-redis's
// own MaxRetries (3) stays: a command whose pooled connection broke (a
// restarted server) is sent again on a fresh one. The package
// documentation (Failover) explains each value. Set what your deployment
// needs (Password, TLSConfig, DB) on the result before passing it to
// redis.NewClient.
func ClientOptions(addr string) *redis.Options {
	return &redis.Options{
		Addr:                  addr,
		ContextTimeoutEnabled: true,
		ReadTimeout:           tunedTimeout,
		WriteTimeout:          tunedTimeout,
		DialTimeout:           tunedDialTimeout,
		DialerRetries:         tunedDialerRetries,
		MaxRetryBackoff:       tunedMaxRetryBackoff,
	}
}

// ClusterOptions returns go-redis options for a Redis Cluster reached
// through addrs (host:port of some of its nodes) tuned for the store as
// ClientOptions is, and with ClusterStateReloadInterval of one second
// instead of go-redis's 60 s: after a master dies and its replica is
// promoted, the client learns the new slot map within about a second, not
// only when the old master comes back or a minute has passed
// (redis.UniversalOptions cannot set it, so redis.NewUniversalClient keeps
// the 60 s). The reload is one CLUSTER SLOTS per second per client, sent
// only while the client has traffic. go-redis's cluster retries stay (up to
// MaxRedirects, 3, moving to another node after a failed one). Set what
// your deployment needs (Password, TLSConfig) on the result before passing
// it to redis.NewClusterClient.
func ClusterOptions(addrs ...string) *redis.ClusterOptions {
	return &redis.ClusterOptions{
		Addrs:                      addrs,
		ContextTimeoutEnabled:      true,
		ReadTimeout:                tunedTimeout,
		WriteTimeout:               tunedTimeout,
		DialTimeout:                tunedDialTimeout,
		DialerRetries:              tunedDialerRetries,
		MaxRetryBackoff:            tunedMaxRetryBackoff,
		ClusterStateReloadInterval: tunedReloadInterval,
	}
}

// FailoverOptions returns go-redis options for the master that Redis
// Sentinel monitors as masterName, found through sentinelAddrs (host:port
// of the Sentinels), tuned for the store as ClientOptions is. The client
// asks a Sentinel for the master's address whenever it connects and drops
// its connections when Sentinel announces a new master, so how soon a
// failover heals is Sentinel's down-after-milliseconds and election, set
// on the Sentinels (package documentation, Failover). Set what your
// deployment needs (Password, SentinelPassword, TLSConfig) on the result
// before passing it to redis.NewFailoverClient.
func FailoverOptions(masterName string, sentinelAddrs ...string) *redis.FailoverOptions {
	return &redis.FailoverOptions{
		MasterName:            masterName,
		SentinelAddrs:         sentinelAddrs,
		ContextTimeoutEnabled: true,
		ReadTimeout:           tunedTimeout,
		WriteTimeout:          tunedTimeout,
		DialTimeout:           tunedDialTimeout,
		DialerRetries:         tunedDialerRetries,
		MaxRetryBackoff:       tunedMaxRetryBackoff,
	}
}
