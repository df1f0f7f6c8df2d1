package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// The child role of TestViewLogoutAllLatency: the variable holds the key
// prefix; the signing key's PEM comes in viewLatencyKeyEnv.
const (
	viewLatencyChildEnv = "SESSIONKIT_VIEW_LATENCY_CHILD"
	viewLatencyKeyEnv   = "SESSIONKIT_VIEW_LATENCY_KEY"
)

// TestViewLogoutAllLatency measures how long a logout-all at one process
// (A) takes to be refused at another (B), two processes on one Redis
// (REDIS_URL, or a Cluster: viewServerEnv), over SESSIONKIT_LATENCY_TRIALS
// trials (skipped when unset).
// B is this test binary run again: an Issuer with the same key whose store
// is a redisstore.View on its own client. Per trial A logs a fresh subject
// in and sends B the access token; B verifies it until it passes (its
// first check reads the store once, then the view follows the token) and
// answers; A notes the time and calls LogoutAll; B verifies every 50 µs
// until the token is refused and answers the wall-clock time of that
// refusal and whether it needed a store read. A prints p50, p90, p99 and
// the maximum of refusal time minus the time just before LogoutAll (one
// host, one clock), and fails when p99 exceeds 100 ms.
func TestViewLogoutAllLatency(t *testing.T) {
	if prefix := os.Getenv(viewLatencyChildEnv); prefix != "" {
		if err := viewLatencyChild(prefix, os.Getenv(viewLatencyKeyEnv)); err != nil {
			fmt.Println("error", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	trials, _ := strconv.Atoi(os.Getenv("SESSIONKIT_LATENCY_TRIALS"))
	if trials <= 0 {
		t.Skip("set SESSIONKIT_LATENCY_TRIALS=1000 (and REDIS_URL) to measure")
	}
	client, why, err := viewRedis()
	if err != nil {
		t.Fatal(err)
	}
	if client == nil {
		t.Skip(why)
	}
	defer client.Close()
	prefix := fmt.Sprintf("sklat:%d:", time.Now().UnixNano())
	defer cleanKeys(client, prefix)
	st, err := redisstore.New(client, redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	key, err := sessionkit.GenerateSigningKey(sessionkit.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := key.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	a, err := sessionkit.New(sessionkit.Config{Issuer: issuerID, Audience: []string{audience}, Keys: sessionkit.NewKeySet(key), Store: st})
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run", "^TestViewLogoutAllLatency$")
	cmd.Env = append(os.Environ(), viewLatencyChildEnv+"="+prefix, viewLatencyKeyEnv+"="+string(pemKey))
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { in.Close(); _ = cmd.Wait() }()
	out := bufio.NewScanner(outPipe)
	read := func() []string {
		if !out.Scan() {
			t.Fatalf("B ended: %v", out.Err())
		}
		f := strings.Fields(out.Text())
		if len(f) == 0 || f[0] == "error" {
			t.Fatalf("B: %s", out.Text())
		}
		return f
	}
	if f := read(); f[0] != "ready" {
		t.Fatalf("B: %v", f)
	}
	ctx := context.Background()
	lat := make([]time.Duration, 0, trials)
	local := 0
	for i := range trials {
		subject := fmt.Sprintf("lat-%d", i)
		toks, err := a.Login(ctx, sessionkit.Grant{Subject: subject})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(in, toks.AccessToken)
		if f := read(); f[0] != "ok" {
			t.Fatalf("B: %v", f)
		}
		t0 := time.Now()
		if err := a.LogoutAll(ctx, subject); err != nil {
			t.Fatal(err)
		}
		f := read()
		ns, err := strconv.ParseInt(f[1], 10, 64)
		if f[0] != "refused" || err != nil {
			t.Fatalf("B: %v", f)
		}
		lat = append(lat, time.Unix(0, ns).Sub(t0))
		if f[2] == "local" {
			local++
		}
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	t.Logf("logout-all at A until refused at B, %d trials: p50 %v, p90 %v, p99 %v, max %v; refused from the view alone: %d",
		trials, q(0.50), q(0.90), q(0.99), lat[len(lat)-1], local)
	if q(0.99) > 100*time.Millisecond {
		t.Fatalf("p99 %v above 100ms", q(0.99))
	}
}

// viewLatencyChild is B: reads a token per line, answers "ok" once it
// verifies, then "refused <unix ns> local|store" once it is refused.
func viewLatencyChild(prefix, pemKey string) error {
	client, why, err := viewRedis()
	if err != nil {
		return err
	}
	if client == nil {
		return errors.New(why)
	}
	defer client.Close()
	st, err := redisstore.New(client, redisstore.Options{Prefix: prefix})
	if err != nil {
		return err
	}
	view, err := st.Watch(redisstore.ViewOptions{Leeway: time.Millisecond})
	if err != nil {
		return err
	}
	defer view.Close()
	ctx := context.Background()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := view.WaitInStep(wctx); err != nil {
		return err
	}
	key, err := sessionkit.ParseSigningKeyPEM([]byte(pemKey))
	if err != nil {
		return err
	}
	b, err := sessionkit.New(sessionkit.Config{Issuer: issuerID, Audience: []string{audience}, Keys: sessionkit.NewKeySet(key), Store: view})
	if err != nil {
		return err
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64<<10), 64<<10)
	for in.Scan() {
		tok := in.Text()
		for {
			_, err := b.Verify(ctx, tok)
			if err == nil {
				break
			}
			if !errors.Is(err, sessionkit.ErrStoreUnavailable) {
				return err
			}
			time.Sleep(time.Millisecond)
		}
		if _, err := b.Verify(ctx, tok); err != nil { // followed now
			return err
		}
		reads := view.Status().StoreReads
		fmt.Println("ok")
		for {
			_, err := b.Verify(ctx, tok)
			if errors.Is(err, sessionkit.ErrTokenRevoked) {
				at := time.Now().UnixNano()
				how := "local"
				if view.Status().StoreReads != reads {
					how = "store"
				}
				fmt.Println("refused", at, how)
				break
			}
			if err != nil {
				return err
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	return in.Err()
}
