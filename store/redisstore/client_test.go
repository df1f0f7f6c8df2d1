package redisstore_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/store/redisstore"
)

// TestTunedOptions: the clients built from ClientOptions, ClusterOptions
// and FailoverOptions keep the tuned values through go-redis's own
// defaults (which would otherwise fill every zero field), and the Cluster
// client reloads its slot map every second.
func TestTunedOptions(t *testing.T) {
	t.Parallel()
	type tuned struct {
		contextTimeout                bool
		read, write, dial, maxBackoff time.Duration
		dialerRetries                 int
	}
	want := tuned{true, time.Second, time.Second, 500 * time.Millisecond, 100 * time.Millisecond, 2}
	single := redis.NewClient(redisstore.ClientOptions("127.0.0.1:1"))
	defer single.Close()
	failover := redis.NewFailoverClient(redisstore.FailoverOptions("sessionkit", "127.0.0.1:1"))
	defer failover.Close()
	cluster := redis.NewClusterClient(redisstore.ClusterOptions("127.0.0.1:1", "127.0.0.1:2"))
	defer cluster.Close()
	fromOptions := func(o *redis.Options) tuned {
		return tuned{o.ContextTimeoutEnabled, o.ReadTimeout, o.WriteTimeout, o.DialTimeout, o.MaxRetryBackoff, o.DialerRetries}
	}
	co := cluster.Options()
	for _, c := range []struct {
		name string
		got  tuned
	}{
		{"ClientOptions", fromOptions(single.Options())},
		{"FailoverOptions", fromOptions(failover.Options())},
		{"ClusterOptions", tuned{co.ContextTimeoutEnabled, co.ReadTimeout, co.WriteTimeout, co.DialTimeout, co.MaxRetryBackoff, co.DialerRetries}},
	} {
		if c.got != want {
			t.Errorf("%s: the client has %+v, want %+v", c.name, c.got, want)
		}
	}
	if got := single.Options().Addr; got != "127.0.0.1:1" {
		t.Errorf("ClientOptions: Addr %q", got)
	}
	if got := co.ClusterStateReloadInterval; got != time.Second {
		t.Errorf("ClusterOptions: ClusterStateReloadInterval %v, want 1s", got)
	}
	if got := co.Addrs; len(got) != 2 {
		t.Errorf("ClusterOptions: Addrs %q", got)
	}
}

func ExampleClusterOptions() {
	opts := redisstore.ClusterOptions("10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000")
	opts.Password = "from your secret store" // and TLSConfig, as your deployment needs
	rdb := redis.NewClusterClient(opts)
	defer rdb.Close()
	st, err := redisstore.New(rdb, redisstore.Options{})
	_, _ = st, err // Config.Store: st
}

func ExampleFailoverOptions() {
	rdb := redis.NewFailoverClient(redisstore.FailoverOptions("sessionkit", "10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"))
	defer rdb.Close()
	st, err := redisstore.New(rdb, redisstore.Options{})
	_, _ = st, err // Config.Store: st
}

func ExampleClientOptions() {
	rdb := redis.NewClient(redisstore.ClientOptions("redis:6379"))
	defer rdb.Close()
	st, err := redisstore.New(rdb, redisstore.Options{})
	_, _ = st, err // Config.Store: st
}
