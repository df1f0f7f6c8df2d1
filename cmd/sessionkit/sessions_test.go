package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/boltstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

const (
	issuerA = "https://auth.example.com"
	issuerB = "https://other.example.com"
)

// backend is a store the store commands run on: the -store URL and flags
// that name it, and how the test opens the same store to write sessions
// and check them (closing it before the command runs: bbolt allows one
// opener).
type backend struct {
	name  string
	setup func(t *testing.T) (url string, flags []string, open func(t *testing.T) (store.Store, func()))
}

// needEnv returns the environment variable, skipping the test when it is
// unset (failing under CI=true, where CI starts the servers).
func needEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is unset under CI=true", name)
		}
		t.Skipf("%s is unset: set it to run this test against a real Redis", name)
	}
	return v
}

// freshPrefix returns a Redis key prefix no other test uses.
func freshPrefix() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	return "sktest:cli:" + base64.RawURLEncoding.EncodeToString(b) + ":"
}

// redisBackend opens a Redis store on clients made by newClient, under a
// fresh prefix whose keys it deletes at the end.
func redisBackend(t *testing.T, url string, newClient func() redis.UniversalClient) (string, []string, func(t *testing.T) (store.Store, func())) {
	prefix := freshPrefix()
	t.Cleanup(func() {
		c := newClient()
		defer c.Close()
		ctx := context.Background()
		del := func(ctx context.Context, c *redis.Client) error {
			keys, err := c.Keys(ctx, prefix+"*").Result()
			if err != nil || len(keys) == 0 {
				return err
			}
			for _, k := range keys {
				c.Del(ctx, k)
			}
			return nil
		}
		switch c := c.(type) {
		case *redis.ClusterClient:
			_ = c.ForEachMaster(ctx, del)
		case *redis.Client:
			_ = del(ctx, c)
		}
	})
	return url, []string{"-redis-prefix", prefix}, func(t *testing.T) (store.Store, func()) {
		c := newClient()
		st, err := redisstore.New(c, redisstore.Options{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		return st, func() { c.Close() }
	}
}

var backends = []backend{
	{"bolt", func(t *testing.T) (string, []string, func(t *testing.T) (store.Store, func())) {
		path := filepath.Join(t.TempDir(), "sessions.db")
		return "bolt:" + path, nil, func(t *testing.T) (store.Store, func()) {
			st, err := boltstore.Open(path, boltstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return st, func() { st.Close() }
		}
	}},
	{"miniredis", func(t *testing.T) (string, []string, func(t *testing.T) (store.Store, func())) {
		m := miniredis.RunT(t)
		return redisBackend(t, "redis://"+m.Addr()+"/0", func() redis.UniversalClient { return redis.NewClient(&redis.Options{Addr: m.Addr()}) })
	}},
	{"redis", func(t *testing.T) (string, []string, func(t *testing.T) (store.Store, func())) {
		url := needEnv(t, "REDIS_URL")
		opts, err := redis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		return redisBackend(t, url, func() redis.UniversalClient { return redis.NewClient(opts) })
	}},
	{"cluster", func(t *testing.T) (string, []string, func(t *testing.T) (store.Store, func())) {
		addrs := needEnv(t, "REDIS_CLUSTER_ADDRS")
		return redisBackend(t, "redis+cluster://"+addrs, func() redis.UniversalClient {
			return redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ",")})
		})
	}},
}

// seeded is what seed wrote: the ids of the sessions and an access token
// of alice at issuer A.
type seeded struct {
	alice1, alice2, bob, aliceB, legacy string
	aliceToken                          string
}

// seed logs alice in twice and bob once at issuer A, alice once at issuer
// B, and carol once at a legacy unscoped Issuer, all on st.
func seed(t *testing.T, st store.Store) seeded {
	t.Helper()
	ctx := context.Background()
	key, err := sessionkit.GenerateSigningKey(sessionkit.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	newIssuer := func(name string, legacy bool) *sessionkit.Issuer {
		iss, err := sessionkit.New(sessionkit.Config{Issuer: name, Audience: []string{"api"}, Keys: sessionkit.NewKeySet(key), Store: st, LegacyUnscopedStore: legacy})
		if err != nil {
			t.Fatal(err)
		}
		return iss
	}
	a, b, legacy := newIssuer(issuerA, false), newIssuer(issuerB, false), newIssuer(issuerA, true)
	login := func(iss *sessionkit.Issuer, sub, ua string) *sessionkit.Tokens {
		toks, err := iss.Login(ctx, sessionkit.Grant{Subject: sub, Device: sessionkit.Device{UserAgent: ua, IP: "192.0.2.1"}, Claims: map[string]any{"plan": "pro"}})
		if err != nil {
			t.Fatal(err)
		}
		return toks
	}
	first := login(a, "alice", "Firefox/1 on alice's laptop")
	return seeded{
		alice1:     first.SessionID,
		alice2:     login(a, "alice", "Safari\x1b[31m/2 "+strings.Repeat("x", 80)).SessionID,
		bob:        login(a, "bob", "curl/8").SessionID,
		aliceB:     login(b, "alice", "B's app").SessionID,
		legacy:     login(legacy, "carol", "old app").SessionID,
		aliceToken: first.AccessToken,
	}
}

func TestStoreCommands(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			url, flags, open := be.setup(t)
			st, closeStore := open(t)
			s := seeded{}
			s = seed(t, st)
			closeStore()

			// on puts the flags first, so that the arguments may follow
			// "--" (a session id may start with "-").
			on := func(issuer, cmd string, args ...string) []string {
				return append(append([]string{cmd, "-store", url, "-issuer", issuer}, flags...), args...)
			}
			steps := []struct {
				name string
				args []string
				want check
				json []string // with -json: the session ids listed
			}{
				{"list", on(issuerA, "sessions", "list", "alice"), check{code: 0, emptyStderr: true, stdout: []string{
					"SESSION ID", "CREATED", "LAST USED", "IDLE EXPIRY", "ABSOLUTE EXPIRY", "USER AGENT", "IP",
					s.alice1, s.alice2, "Firefox/1 on alice's laptop", "192.0.2.1", " UTC ", `"Safari\x1b[31m/2 xxx`, "...",
				}, absent: []string{s.bob, s.aliceB, "\x1b", strings.Repeat("x", 80)}}, nil},
				{"list -json", on(issuerA, "sessions", "list", "alice", "-json"), check{code: 0}, []string{s.alice1, s.alice2}},
				{"list at the other issuer", on(issuerB, "sessions", "list", "alice", "-json"), check{code: 0}, []string{s.aliceB}},
				{"list nobody", on(issuerA, "sessions", "list", "carol"), check{code: 0, stdout: []string{"no live sessions of carol under issuer " + issuerA}}, nil},
				{"list nobody -json", on(issuerA, "sessions", "list", "carol", "-json"), check{code: 0}, []string{}},
				{"list legacy", on(issuerA, "sessions", "list", "carol", "-json", "-legacy-unscoped"), check{code: 0}, []string{s.legacy}},
				{"revoke another's session", on(issuerA, "sessions", "revoke", "bob", "--", s.alice1), check{code: 1, emptyStdout: true, stderr: []string{
					"sessionkit sessions: sessionkit: not found: no live session with that id for this subject"}}, nil},
				{"revoke at the other issuer", on(issuerB, "sessions", "revoke", "alice", "--", s.alice1), check{code: 1, stderr: []string{"no live session with that id"}}, nil},
				{"revoke", on(issuerA, "sessions", "revoke", "alice", "--", s.alice1), check{code: 0, emptyStderr: true, stdout: []string{"revoked session " + s.alice1 + " of alice\n"}}, nil},
				{"revoked", on(issuerA, "sessions", "list", "alice", "-json"), check{code: 0}, []string{s.alice2}},
				{"revoke again", on(issuerA, "sessions", "revoke", "alice", "--", s.alice1), check{code: 1, stderr: []string{"no live session with that id"}}, nil},
				{"logout-all", on(issuerA, "logout-all", "alice"), check{code: 0, emptyStderr: true, stdout: []string{"ended every session of alice"}}, nil},
				{"logged out", on(issuerA, "sessions", "list", "alice", "-json"), check{code: 0}, []string{}},
				{"the other issuer's session lives", on(issuerB, "sessions", "list", "alice", "-json"), check{code: 0}, []string{s.aliceB}},
				{"bob's session lives", on(issuerA, "sessions", "list", "bob", "-json"), check{code: 0}, []string{s.bob}},
			}
			for _, step := range steps {
				got := runCmd(t, "", step.args...)
				step.want.verify(t, got)
				if step.json == nil {
					continue
				}
				var list []sessionJSON
				if err := json.Unmarshal([]byte(got.stdout), &list); err != nil {
					t.Fatalf("%s: not JSON: %v\n%s", step.name, err, got.stdout)
				}
				var ids []string
				for _, l := range list {
					ids = append(ids, l.ID)
					if l.Claims["plan"] != "pro" || l.IP != "192.0.2.1" || l.CreatedAt.IsZero() || !l.ExpiresAt.After(l.IdleExpiresAt.Add(-time.Second)) {
						t.Errorf("%s: listed %+v", step.name, l)
					}
				}
				// Oldest first, but two logins in one millisecond may
				// come in either order.
				slices.Sort(ids)
				want := slices.Sorted(slices.Values(step.json))
				if strings.Join(ids, ",") != strings.Join(want, ",") {
					t.Errorf("%s: listed %q, want %q", step.name, ids, step.json)
				}
			}

			// alice's access tokens fail the stateful check after logout-all.
			st, closeStore = open(t)
			defer closeStore()
			key, _ := sessionkit.GenerateSigningKey(sessionkit.EdDSA)
			iss, err := sessionkit.New(sessionkit.Config{Issuer: issuerA, Audience: []string{"api"}, Keys: sessionkit.NewKeySet(key), Store: st})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := iss.Verify(context.Background(), s.aliceToken); !errors.Is(err, sessionkit.ErrTokenRevoked) && !errors.Is(err, sessionkit.ErrInvalidToken) {
				t.Errorf("alice's token after logout-all: %v, want it refused", err)
			}
		})
	}
}

func TestStoreCommandErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	locked := filepath.Join(dir, "locked.db")
	made, err := boltstore.Open(locked, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := made.Close(); err != nil {
		t.Fatal(err)
	}
	holdLock(t, locked) // as the application, in its own process, would
	missing := filepath.Join(dir, "missing.db")
	closed := miniredis.RunT(t)
	closedAddr := closed.Addr()
	closed.Close()

	tests := []struct {
		name string
		args []string
		want check
	}{
		{"no action", []string{"sessions"}, check{code: 2, stderr: []string{"want list or revoke"}}},
		{"unknown action", []string{"sessions", "drop", "alice", "-store", "bolt:x", "-issuer", issuerA}, check{code: 2, stderr: []string{`unknown action "drop"`}}},
		{"list without subject", []string{"sessions", "list", "-store", "bolt:x", "-issuer", issuerA}, check{code: 2, stderr: []string{"list needs SUBJECT"}}},
		{"list two subjects", []string{"sessions", "list", "a", "b", "-store", "bolt:x", "-issuer", issuerA}, check{code: 2, stderr: []string{"list takes one SUBJECT"}}},
		{"revoke without sid", []string{"sessions", "revoke", "alice", "-store", "bolt:x", "-issuer", issuerA}, check{code: 2, stderr: []string{"revoke takes SUBJECT and SID"}}},
		{"session id starting with -", []string{"sessions", "revoke", "alice", "-Wq2-7wEjRB6mHTv0Y1ZGA", "-store", "bolt:x", "-issuer", issuerA}, check{code: 2, stderr: []string{
			`flag provided but not defined: -Wq2-7wEjRB6mHTv0Y1ZGA (an argument starting with "-", such as a session id, goes after "--")`}}},
		{"revoke -json", []string{"sessions", "revoke", "alice", "s1", "-json", "-store", "bolt:x", "-issuer", issuerA}, check{code: 2, stderr: []string{"-json is for list"}}},
		{"no -store", []string{"sessions", "list", "alice", "-issuer", issuerA}, check{code: 2, stderr: []string{"-store is required"}}},
		{"no -issuer", []string{"logout-all", "alice", "-store", "bolt:x"}, check{code: 2, stderr: []string{"-issuer is required"}}},
		{"logout-all without subject", []string{"logout-all", "-store", "bolt:x", "-issuer", issuerA}, check{code: 2, stderr: []string{"SUBJECT is required"}}},
		{"logout-all two subjects", []string{"logout-all", "a", "b", "-store", "bolt:x", "-issuer", issuerA}, check{code: 2, stderr: []string{`unexpected "b"`}}},
		{"unknown scheme", []string{"logout-all", "alice", "-store", "postgres://db", "-issuer", issuerA}, check{code: 2, stderr: []string{"-store: want redis://host:port"}}},
		{"bad Redis URL hides the password", []string{"logout-all", "alice", "-store", "redis://user:s3cr3t-pw@host:port/0", "-issuer", issuerA}, check{code: 2, stderr: []string{"-store: "}, absent: []string{"s3cr3t-pw"}}},
		{"bad issuer", []string{"sessions", "list", "alice", "-store", "bolt:" + locked, "-issuer", " spaced "}, check{code: 2, stderr: []string{"-issuer: sessionkit: invalid configuration: Issuer must not have surrounding spaces"}}},
		{"negative -lock-timeout", []string{"logout-all", "alice", "-store", "bolt:x", "-issuer", issuerA, "-lock-timeout", "-1s"}, check{code: 2, stderr: []string{"-lock-timeout must not be negative"}}},
		{"missing bolt file", []string{"sessions", "list", "alice", "-store", "bolt:" + missing, "-issuer", issuerA}, check{code: 1, emptyStdout: true, stderr: []string{
			"bolt file " + missing + " does not exist (this command opens an application's store; it never creates one)"}}},
		{"bolt file held by the application", []string{"logout-all", "alice", "-store", "bolt:" + locked, "-issuer", issuerA, "-lock-timeout", "0"}, check{code: 1, emptyStdout: true, stderr: []string{
			locked + " is locked by another process, most likely the running application", "Stop the application"}}},
		{"Redis down", []string{"sessions", "list", "alice", "-store", "redis://:pw-secret@" + closedAddr + "/0", "-issuer", issuerA}, check{code: 1, emptyStdout: true, stderr: []string{
			"cannot reach Redis at " + closedAddr}, absent: []string{"pw-secret"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.want.verify(t, runCmd(t, "", tt.args...))
		})
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the command created %s: %v", missing, err)
	}
}

func TestParseStoreURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url     string
		bolt    string
		addrs   []string // Redis address(es); nil for bolt and errors
		cluster bool
		tls     bool
		user    string
		pass    string
		db      int
		dial    time.Duration
		err     string
	}{
		{url: "bolt:/var/lib/app/sessions.db", bolt: "/var/lib/app/sessions.db"},
		{url: "bolt:sessions.db", bolt: "sessions.db"},
		{url: "bolt:", err: "needs a path"},
		{url: "redis://127.0.0.1:6379/2", addrs: []string{"127.0.0.1:6379"}, db: 2},
		{url: "rediss://u:p@redis.internal:6380/0?dial_timeout=3", addrs: []string{"redis.internal:6380"}, tls: true, user: "u", pass: "p", dial: 3 * time.Second},
		{url: "redis+cluster://h1:7000,h2:7001,h3:7002", addrs: []string{"h1:7000", "h2:7001", "h3:7002"}, cluster: true},
		{url: "rediss+cluster://u:p@h1:7000,h2:7001/?dial_timeout=2s", addrs: []string{"h1:7000", "h2:7001"}, cluster: true, tls: true, user: "u", pass: "p", dial: 2 * time.Second},
		{url: "redis+cluster://h1:7000/0", err: "no database number"},
		{url: "redis+cluster://h1:7000,,h2:7001", err: "empty address"},
		{url: "redis+cluster:h1:7000", err: "redis+cluster://host:port,host:port"},
		{url: "redis://h1:6379?bogus=1", err: "bogus"},
		{url: "redis://u:hunter22@h1:port", err: "invalid port"},
		{url: "redis://u:hun/ter22@h1:6379/0", err: "percent-encode"},
		{url: "redis://u:hunter?22@h1:6379/0", err: "percent-encode"},
		{url: "rediss+cluster://u:hunter#22@h1:7000,h2:7001", err: "percent-encode"},
		{url: "redis://u:hunter%2F22@h1:port", err: "invalid port"},
		{url: "memory:", err: "want redis://"},
		{url: "/var/lib/app/sessions.db", err: "want redis://"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			loc, err := parseStoreURL(tt.url)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "hun") || strings.Contains(err.Error(), "22") {
					t.Errorf("the error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var addrs []string
			var user, pass string
			var tls bool
			var dial time.Duration
			switch {
			case loc.boltPath != "":
				if loc.boltPath != tt.bolt {
					t.Errorf("bolt path %q, want %q", loc.boltPath, tt.bolt)
				}
				return
			case loc.redis != nil:
				o := loc.redis
				addrs, user, pass, tls, dial = []string{o.Addr}, o.Username, o.Password, o.TLSConfig != nil, o.DialTimeout
				if o.DB != tt.db {
					t.Errorf("db %d, want %d", o.DB, tt.db)
				}
			default:
				o := loc.cluster
				addrs, user, pass, tls, dial = o.Addrs, o.Username, o.Password, o.TLSConfig != nil, o.DialTimeout
			}
			if (loc.cluster != nil) != tt.cluster || strings.Join(addrs, ",") != strings.Join(tt.addrs, ",") ||
				user != tt.user || pass != tt.pass || tls != tt.tls || (tt.dial != 0 && dial != tt.dial) {
				t.Errorf("cluster %v addrs %q user %q pass %q tls %v dial %v; want %v %q %q %q %v %v",
					loc.cluster != nil, addrs, user, pass, tls, dial, tt.cluster, tt.addrs, tt.user, tt.pass, tt.tls, tt.dial)
			}
		})
	}
}

// FuzzParseStoreURL parses anything as a -store URL: no panic, and an
// error never shows the URL's password.
func FuzzParseStoreURL(f *testing.F) {
	for _, s := range []string{"bolt:x.db", "redis://u:secretpw@h:1/0", "rediss+cluster://u:secretpw@a:1,b:2?dial_timeout=1", "redis://u:secretpw@h:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		_, err := parseStoreURL(raw)
		if err == nil {
			return
		}
		_, rest, _ := strings.Cut(raw, "//")
		userinfo, _, ok := strings.Cut(rest, "@")
		_, pw, hasPW := strings.Cut(userinfo, ":")
		if !ok || !hasPW || len(pw) < 6 || strings.Count(raw, pw) != 1 || !strings.Contains(err.Error(), pw) {
			return
		}
		// The message holds the password's text: a leak only if it came
		// from the URL, not from a fixed message that happens to contain
		// it (such as "rediss+cluster" for the password "s+clus").
		_, other := parseStoreURL(strings.Replace(raw, pw, strings.Repeat("Q", len(pw)), 1))
		if other == nil || !strings.Contains(other.Error(), pw) {
			t.Fatalf("the error of %q shows the password: %v", raw, err)
		}
	})
}
