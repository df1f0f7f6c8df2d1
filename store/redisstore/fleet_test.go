package redisstore_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/fleettest"
	"github.com/sessionkit/sessionkit/internal/scope"
	"github.com/sessionkit/sessionkit/store/redisstore"
	"github.com/sessionkit/sessionkit/store/sealedstore"
)

// The fleet tests start the test binary again as a child process serving
// one fleet instance (fleettest.Serve) when fleetServerEnv is set: its
// value is the server ("redis://..." or "cluster:host:port,..."), and the
// key prefix and the KEK come in the other two variables.
const (
	fleetServerEnv = "REDISSTORE_FLEET_SERVER"
	fleetPrefixEnv = "REDISSTORE_FLEET_PREFIX"
	fleetKEKEnv    = "REDISSTORE_FLEET_KEK"
)

func TestMain(m *testing.M) {
	if server := os.Getenv(fleetServerEnv); server != "" {
		if err := serveFleetInstance(server, os.Getenv(fleetPrefixEnv), os.Getenv(fleetKEKEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "fleet instance:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveFleetInstance is the child's part: one instance on its own client
// and store, served on stdin and stdout until stdin closes.
func serveFleetInstance(server, prefix, kekText string) error {
	kek, err := sealedstore.ParseKey(kekText)
	if err != nil {
		return err
	}
	var c redis.UniversalClient
	if addrs, ok := strings.CutPrefix(server, "cluster:"); ok {
		c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ",")})
	} else {
		opts, err := redis.ParseURL(server)
		if err != nil {
			return err
		}
		c = redis.NewClient(opts)
	}
	defer c.Close()
	st, err := redisstore.New(c, redisstore.Options{Prefix: prefix})
	if err != nil {
		return err
	}
	return fleettest.Serve(os.Stdin, os.Stdout, func(now time.Time) (fleettest.Instance, error) {
		return fleettest.OpenLocal(st, st, sealedstore.Keys{Current: kek}, now)
	})
}

// TestManagedKeysFleet runs the fleet scenario (internal/fleettest) on
// miniredis, a real redis-server (REDIS_URL) and a Cluster
// (REDIS_CLUSTER_ADDRS): two instances in this process, each with a client
// and a store of its own, and two instances in two child processes (this
// test binary started again), which race for every step through the
// server alone. A restart is a third instance (a third process).
func TestManagedKeysFleet(t *testing.T) {
	t.Parallel()
	for _, srv := range []struct {
		name string
		// server returns a client and the server's name for a child
		server func(t *testing.T) (redis.UniversalClient, string)
	}{
		{"Miniredis", func(t *testing.T) (redis.UniversalClient, string) {
			m := miniredis.RunT(t)
			c := redis.NewClient(&redis.Options{Addr: m.Addr()})
			t.Cleanup(func() { c.Close() })
			return c, "redis://" + m.Addr()
		}},
		{"Redis", func(t *testing.T) (redis.UniversalClient, string) {
			return singleClient(t), os.Getenv("REDIS_URL")
		}},
		{"Cluster", func(t *testing.T) (redis.UniversalClient, string) {
			return clusterClient(t), "cluster:" + os.Getenv("REDIS_CLUSTER_ADDRS")
		}},
	} {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			c, server := srv.server(t)
			kek := fleettest.NewKEK(t)
			t.Run("OneProcess", func(t *testing.T) {
				t.Parallel()
				prefix := freshPrefix()
				t.Cleanup(func() { deletePrefix(t, c, prefix) })
				fleettest.Run(t, func(t *testing.T, now time.Time) (fleettest.Instance, error) {
					st, err := redisstore.New(c, redisstore.Options{Prefix: prefix})
					if err != nil {
						return nil, err
					}
					return fleettest.OpenLocal(st, st, kek, now)
				})
			})
			t.Run("TwoProcesses", func(t *testing.T) {
				t.Parallel()
				prefix := freshPrefix()
				t.Cleanup(func() { deletePrefix(t, c, prefix) })
				fleettest.Run(t, func(t *testing.T, now time.Time) (fleettest.Instance, error) {
					return startFleetInstance(t, server, prefix, kek, now)
				})
			})
		})
	}
}

// startFleetInstance starts a child process serving one instance on server
// under prefix, and opens it at now. The child ends with the test.
func startFleetInstance(t *testing.T, server, prefix string, kek sealedstore.Keys, now time.Time) (fleettest.Instance, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-test.run=^$")
	dieWithTest(cmd)
	cmd.Env = append(os.Environ(), fleetServerEnv+"="+server, fleetPrefixEnv+"="+prefix, fleetKEKEnv+"="+kek.Current.Encode())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("fleet instance process: %v", err)
		}
	})
	return fleettest.OpenRemote(stdin, stdout, now)
}

// BenchmarkManagedKeysTick measures an idle round of managed keys (nothing
// due: one HMGET of the ring, its version unchanged) beside a plain GET of
// a value as large, against REDIS_URL, for rings of one and of three RS256
// keys (previous, current, next).
func BenchmarkManagedKeysTick(b *testing.B) {
	c := benchClient(b, nil)
	ctx := context.Background()
	for _, n := range []int{1, 3} {
		prefix := freshPrefix()
		b.Cleanup(func() { deletePrefix(b, c, prefix) })
		st, err := redisstore.New(c, redisstore.Options{Prefix: prefix})
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		cfg := fleettest.ManagedConfig(st, fleettest.NewKEK(b), func() time.Time { return now })
		cfg.Algorithm, cfg.RotateEvery = sessionkit.RS256, -1
		m, err := sessionkit.OpenManagedKeys(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if n == 3 { // promote a second key, publish a third
			if _, err := m.Rotate(ctx); err != nil {
				b.Fatal(err)
			}
			now = now.Add(time.Hour)
			if err := m.Tick(ctx); err != nil {
				b.Fatal(err)
			}
			if _, err := m.Rotate(ctx); err != nil {
				b.Fatal(err)
			}
		}
		if got := len(m.Ring().Keys); got != n {
			b.Fatalf("the ring holds %d keys, want %d", got, n)
		}
		blob, _, err := st.LoadKeys(ctx, scope.KeyRing(fleettest.Issuer))
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Set(ctx, prefix+"bench-get", blob, 0).Err(); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("keys=%d/GET", n), func(b *testing.B) {
			for b.Loop() {
				if err := c.Get(ctx, prefix+"bench-get").Err(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(blob)), "ring-bytes")
		})
		b.Run(fmt.Sprintf("keys=%d/Tick", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := m.Tick(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
