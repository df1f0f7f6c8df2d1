package redisstore_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/redisstore"
	"github.com/sessionkit/sessionkit/store/storetest"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// recorder is a go-redis hook that records every command sent, and how
// many round trips (single commands and pipelines) carried them.
type recorder struct {
	mu    sync.Mutex
	cmds  [][]any
	trips int
}

func (r *recorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *recorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.mu.Lock()
		r.cmds = append(r.cmds, cmd.Args())
		r.trips++
		r.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (r *recorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.mu.Lock()
		for _, c := range cmds {
			r.cmds = append(r.cmds, c.Args())
		}
		r.trips++
		r.mu.Unlock()
		return next(ctx, cmds)
	}
}

// take returns the commands recorded since the last take.
func (r *recorder) take() [][]any {
	c, _ := r.takeTrips()
	return c
}

// takeTrips returns the commands recorded since the last take, and the
// number of round trips that sent them.
func (r *recorder) takeTrips() ([][]any, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, n := r.cmds, r.trips
	r.cmds, r.trips = nil, 0
	return c, n
}

// mini starts a miniredis whose clock is at t0 and a store on it with a
// one-minute margin, recording commands.
func mini(t *testing.T) (*miniredis.Miniredis, *redis.Client, *redisstore.Store, *recorder) {
	t.Helper()
	m := miniredis.RunT(t)
	m.SetTime(t0)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { c.Close() })
	rec := &recorder{}
	c.AddHook(rec)
	s, err := redisstore.New(c, redisstore.Options{Prefix: "app:", ExpiryMargin: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	warm(t, c)
	rec.take()
	return m, c, s, rec
}

// warm calls every method once through a store of its own on c (prefix
// "warm:"), so that the server's script cache holds every script and the
// client has a connection: from then on each call is one command.
func warm(t *testing.T, c redis.UniversalClient) {
	t.Helper()
	w, err := redisstore.New(c, redisstore.Options{Prefix: "warm:"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range methods(w, "warm-up") {
		m.call(context.Background()) // outcomes do not matter here
	}
}

func hash(s string) [32]byte { return sha256.Sum256([]byte(s)) }

func newSession(id, subject string) store.NewSession {
	return store.NewSession{
		Session: store.Session{
			ID: id, Subject: subject, Scope: "read",
			CreatedAt: t0, LastUsedAt: t0,
			IdleExpiresAt: t0.Add(time.Hour), ExpiresAt: t0.Add(24 * time.Hour),
			Generation: 1,
		},
		Hash: hash(id + "/1"),
	}
}

func mustCreate(t *testing.T, s *redisstore.Store, n store.NewSession) string {
	t.Helper()
	c, err := s.Create(context.Background(), n)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return c.Handle
}

func TestNewChecksOptions(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { c.Close() })
	tests := []struct {
		name    string
		client  redis.UniversalClient
		opts    redisstore.Options
		wantErr string
	}{
		{"zero options", c, redisstore.Options{}, ""},
		{"prefix and margin", c, redisstore.Options{Prefix: "app:", ExpiryMargin: time.Hour}, ""},
		{"no client", nil, redisstore.Options{}, "needs a client"},
		{"prefix with an opening brace", c, redisstore.Options{Prefix: "app{"}, "must not contain"},
		{"prefix with a hash tag", c, redisstore.Options{Prefix: "{app}:"}, "must not contain"},
		{"negative margin", c, redisstore.Options{ExpiryMargin: -time.Second}, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := redisstore.New(tt.client, tt.opts)
			switch {
			case tt.wantErr == "" && (err != nil || s == nil):
				t.Errorf("New: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("New: got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDefaultPrefix(t *testing.T) {
	t.Parallel()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { c.Close() })
	s, err := redisstore.New(c, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, newSession("sid-1", "alice"))
	for _, k := range m.Keys() {
		if !strings.HasPrefix(k, redisstore.DefaultPrefix) {
			t.Errorf("key %q lacks the default prefix %q", k, redisstore.DefaultPrefix)
		}
	}
}

// hashTag returns the Redis Cluster hash tag of key: what is between its
// first '{' and the first '}' after it, if that is not empty.
func hashTag(key string) (string, bool) {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return "", false
	}
	j := strings.IndexByte(key[i+1:], '}')
	if j <= 0 {
		return "", false
	}
	return key[i+1 : i+1+j], true
}

// keysOf returns the key arguments of a recorded command.
func keysOf(t *testing.T, cmd []any) []string {
	t.Helper()
	name := strings.ToLower(fmt.Sprint(cmd[0]))
	var keys []any
	switch name {
	case "evalsha", "eval":
		n := cmd[2].(int)
		keys = cmd[3 : 3+n]
	case "get", "hget", "getrange":
		keys = cmd[1:2]
	default:
		t.Fatalf("unexpected command %q", name)
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.(string)
	}
	return out
}

// keysOfAll is keysOf over every command of one round trip.
func keysOfAll(t *testing.T, cmds [][]any) []string {
	t.Helper()
	var keys []string
	for _, c := range cmds {
		keys = append(keys, keysOf(t, c)...)
	}
	return keys
}

// TestKeysShareTheSubjectsSlot: every key a subject's operations touch
// carries the subject's tag as its Cluster hash tag, after the prefix; and
// each operation is one round trip: one command, or (CheckAccess) one
// pipeline of reads.
func TestKeysShareTheSubjectsSlot(t *testing.T) {
	t.Parallel()
	_, _, s, rec := mini(t)
	ctx := context.Background()
	subject := "alice {admin} ~ü"
	tag := store.SubjectTag(subject)
	n := newSession("sid-1", subject)
	h := mustCreate(t, s, n)
	steps := []struct {
		name string
		run  func() error
	}{
		{"Create", func() error { _, err := s.Create(ctx, newSession("sid-2", subject)); return err }},
		{"Rotate", func() error {
			_, err := s.Rotate(ctx, store.Rotation{Handle: h, Presented: n.Hash, Next: hash("next"), Now: t0.Add(time.Minute), IdleExpiresAt: t0.Add(2 * time.Hour)})
			return err
		}},
		{"Lookup", func() error { _, err := s.Lookup(ctx, h, n.Hash, t0); return err }},
		{"Sessions", func() error { _, err := s.Sessions(ctx, subject, t0); return err }},
		{"Deny", func() error { return s.Deny(ctx, subject, "jti{x}", t0.Add(time.Hour)) }},
		{"CheckAccess", func() error {
			_, err := s.CheckAccess(ctx, store.AccessCheck{Subject: subject, SessionID: "sid-1", JTI: "jti{x}", Now: t0})
			return err
		}},
		{"Version", func() error { _, err := s.Version(ctx, subject); return err }},
		{"RevokeSession", func() error { return s.RevokeSession(ctx, subject, "sid-2", t0) }},
		{"Revoke", func() error { _, err := s.Revoke(ctx, h, n.Hash, t0); return err }},
		{"RevokeAll", func() error { _, err := s.RevokeAll(ctx, subject, t0); return err }},
	}
	rec.take()
	for _, st := range steps {
		err := st.run()
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: %v", st.name, err)
		}
		cmds, trips := rec.takeTrips()
		if trips != 1 || len(cmds) != 1 && st.name != "CheckAccess" {
			t.Errorf("%s sent %d commands in %d round trips, want one command (CheckAccess: one pipeline): %v", st.name, len(cmds), trips, cmds)
			continue
		}
		for _, k := range keysOfAll(t, cmds) {
			if got, ok := hashTag(k); !ok || got != tag {
				t.Errorf("%s touches key %q whose hash tag is %q, want the subject's tag %q", st.name, k, got, tag)
			}
			if !strings.HasPrefix(k, "app:") {
				t.Errorf("%s touches key %q outside the prefix", st.name, k)
			}
		}
	}
}

// TestUseOnceKeys: use-once records live under their own namespace of
// keys, one command per call, and names cannot run into each other.
func TestUseOnceKeys(t *testing.T) {
	t.Parallel()
	m, _, s, rec := mini(t)
	ctx := context.Background()
	pairs := [][2]string{{"a:b", "c"}, {"a", "b:c"}, {"a:b:c", ""}, {"", "a:b:c"}}
	for _, p := range pairs {
		rec.take()
		ok, err := s.UseOnce(ctx, p[0], p[1], t0.Add(time.Minute), t0)
		if err != nil || !ok {
			t.Fatalf("UseOnce(%q, %q) = %v, %v; want true (names are distinct)", p[0], p[1], ok, err)
		}
		if n := len(rec.take()); n != 1 {
			t.Errorf("UseOnce sent %d commands, want 1", n)
		}
	}
	var keys []string
	for _, k := range m.Keys() {
		if !strings.HasPrefix(k, "warm:") {
			keys = append(keys, k)
		}
	}
	if len(keys) != len(pairs) {
		t.Errorf("got keys %q, want one per namespace and key", keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "app:o:") {
			t.Errorf("use-once key %q is not under app:o:", k)
		}
	}
}

// TestScriptCacheFlushed: after SCRIPT FLUSH (a restarted or failed-over
// server) the scripts still run: go-redis falls back to EVAL on NOSCRIPT.
func TestScriptCacheFlushed(t *testing.T) {
	t.Parallel()
	_, c, s, rec := mini(t)
	ctx := context.Background()
	n := newSession("sid-1", "alice")
	h := mustCreate(t, s, n)
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	rec.take()
	res, err := s.Rotate(ctx, store.Rotation{Handle: h, Presented: n.Hash, Next: hash("next"), Now: t0.Add(time.Minute), IdleExpiresAt: t0.Add(2 * time.Hour)})
	if err != nil || res.Outcome != store.Rotated {
		t.Fatalf("Rotate after SCRIPT FLUSH: %v, %v; want Rotated", res.Outcome, err)
	}
	var names []string
	for _, cmd := range rec.take() {
		names = append(names, strings.ToLower(fmt.Sprint(cmd[0])))
	}
	if !slices.Equal(names, []string{"evalsha", "eval"}) {
		t.Errorf("after SCRIPT FLUSH the rotation sent %v, want EVALSHA then EVAL", names)
	}
	if _, err := s.Rotate(ctx, store.Rotation{Handle: res.Handle, Presented: hash("next"), Next: hash("next2"), Now: t0.Add(2 * time.Minute), IdleExpiresAt: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); len(got) != 1 {
		t.Errorf("once loaded, a rotation is one EVALSHA again: got %d commands", len(got))
	}
}

// TestNativeExpiryIsCleanUp: keys expire natively only ExpiryMargin after
// their record stops counting; until then the store answers by the now it
// is given; versions never expire.
func TestNativeExpiryIsCleanUp(t *testing.T) {
	t.Parallel()
	m, _, s, _ := mini(t)
	ctx := context.Background()
	const margin = time.Minute
	subject := "alice"
	tag := store.SubjectTag(subject)
	n := newSession("sid-1", subject)
	h := mustCreate(t, s, n)
	later := newSession("sid-2", subject)
	later.Session.ExpiresAt = t0.Add(48 * time.Hour)
	mustCreate(t, s, later)
	if err := s.Deny(ctx, subject, "jti-1", t0.Add(15*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseOnce(ctx, "ns", "k", t0.Add(5*time.Minute), t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeAll(ctx, "bob", t0); err != nil {
		t.Fatal(err)
	}
	ttls := []struct {
		key  string
		want time.Duration
	}{
		{"app:s:{" + tag + "}:sid-1", 24*time.Hour + margin},
		{"app:s:{" + tag + "}:sid-2", 48*time.Hour + margin},
		{"app:i:{" + tag + "}", 48*time.Hour + margin}, // the index outlives its latest session
		{"app:d:{" + tag + "}:jti-1", 15*time.Minute + margin},
		{"app:o:2:ns:k", 5*time.Minute + margin},
		{"app:v:{" + store.SubjectTag("bob") + "}", 0}, // versions never expire
	}
	for _, tt := range ttls {
		if !m.Exists(tt.key) {
			t.Errorf("key %q missing; keys: %q", tt.key, m.Keys())
			continue
		}
		if got := m.TTL(tt.key); got != tt.want {
			t.Errorf("TTL of %q = %v, want %v", tt.key, got, tt.want)
		}
	}

	// The Redis clock is past sid-1's absolute expiry, within the margin:
	// the key is there and liveness follows the now passed in.
	m.FastForward(24*time.Hour + margin/2)
	if _, err := s.Lookup(ctx, h, n.Hash, t0.Add(30*time.Minute)); err != nil {
		t.Errorf("Lookup at a now when the session is live, Redis clock past its expiry: %v", err)
	}
	r, err := s.Rotate(ctx, store.Rotation{Handle: h, Presented: n.Hash, Next: hash("x"), Now: t0.Add(24 * time.Hour), IdleExpiresAt: t0.Add(25 * time.Hour)})
	if err != nil || r.Outcome != store.Expired {
		t.Errorf("Rotate at the absolute expiry, within the margin: %v, %v; want Expired (remembered)", r.Outcome, err)
	}
	// Past the margin the key is gone: the session is forgotten (Unknown),
	// and listing drops it from the index.
	m.FastForward(margin)
	if m.Exists("app:s:{" + tag + "}:sid-1") {
		t.Errorf("the session key outlived its absolute expiry plus the margin")
	}
	r, err = s.Rotate(ctx, store.Rotation{Handle: h, Presented: n.Hash, Next: hash("x"), Now: t0.Add(24*time.Hour + margin), IdleExpiresAt: t0.Add(25 * time.Hour)})
	if err != nil || r.Outcome != store.Unknown {
		t.Errorf("Rotate once the key expired: %v, %v; want Unknown (forgotten)", r.Outcome, err)
	}
	if _, err := s.Sessions(ctx, subject, t0.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if members, _ := m.ZMembers("app:i:{" + tag + "}"); !slices.Equal(members, []string{"sid-2"}) {
		t.Errorf("index members after listing = %q, want only sid-2 (gone members cleaned)", members)
	}
	if v, err := s.Version(ctx, "bob"); err != nil || v != 1 {
		t.Errorf("Version(bob) = %d, %v; want 1 (versions never expire)", v, err)
	}
}

// TestIndexDropsEndedSessions: revocation removes a session from its
// subject's index (it is still remembered, under its own key).
func TestIndexDropsEndedSessions(t *testing.T) {
	t.Parallel()
	m, _, s, _ := mini(t)
	ctx := context.Background()
	subject := "alice"
	index := "app:i:{" + store.SubjectTag(subject) + "}"
	ids := []string{"sid-1", "sid-2", "sid-3", "sid-4"}
	handles := map[string]string{}
	for _, id := range ids {
		handles[id] = mustCreate(t, s, newSession(id, subject))
	}
	steps := []struct {
		name string
		run  func() error
		want []string
	}{
		{"RevokeSession", func() error { return s.RevokeSession(ctx, subject, "sid-1", t0) }, []string{"sid-2", "sid-3", "sid-4"}},
		{"Revoke", func() error { _, err := s.Revoke(ctx, handles["sid-2"], hash("sid-2/1"), t0); return err }, []string{"sid-3", "sid-4"}},
		{"reuse", func() error {
			for _, want := range []store.Outcome{store.Rotated, store.Reused} {
				r, err := s.Rotate(ctx, store.Rotation{Handle: handles["sid-3"], Presented: hash("sid-3/1"), Next: hash("n"), Now: t0, IdleExpiresAt: t0.Add(time.Hour)})
				if err != nil || r.Outcome != want {
					return fmt.Errorf("rotation: %v, %v; want %v", r.Outcome, err, want)
				}
			}
			return nil
		}, []string{"sid-4"}},
		{"RevokeAll", func() error { _, err := s.RevokeAll(ctx, subject, t0); return err }, nil},
	}
	for _, st := range steps {
		if err := st.run(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		members, _ := m.ZMembers(index)
		if !slices.Equal(members, st.want) {
			t.Errorf("after %s the index holds %q, want %q", st.name, members, st.want)
		}
	}
	for _, id := range ids {
		if !m.Exists("app:s:{" + store.SubjectTag(subject) + "}:" + id) {
			t.Errorf("revoked session %s was forgotten before its absolute expiry", id)
		}
	}
}

// TestStoredSubjectChecked: a session stored under a subject's tag but
// belonging to another subject (two subjects whose tags collide) is never
// read, listed, revoked or reported live for the first one.
func TestStoredSubjectChecked(t *testing.T) {
	t.Parallel()
	m, _, s, _ := mini(t)
	ctx := context.Background()
	mustCreate(t, s, newSession("sid-b", "bob"))
	// Move bob's session and index entry under alice's tag, as a tag
	// collision would have put them.
	bobTag, aliceTag := store.SubjectTag("bob"), store.SubjectTag("alice")
	blob, err := m.Get("app:s:{" + bobTag + "}:sid-b")
	if err != nil {
		t.Fatal(err)
	}
	m.Set("app:s:{"+aliceTag+"}:sid-b", blob)
	m.ZAdd("app:i:{"+aliceTag+"}", float64(t0.Add(24*time.Hour).UnixMilli()), "sid-b")

	if _, err := storetest.FindSession(ctx, s, "alice", "sid-b", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session(alice, bob's session) = %v, want ErrNotFound", err)
	}
	if list, err := s.Sessions(ctx, "alice", t0); err != nil || len(list) != 0 {
		t.Errorf("Sessions(alice) = %v, %v; want none", list, err)
	}
	if err := s.RevokeSession(ctx, "alice", "sid-b", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeSession(alice, bob's session) = %v, want ErrNotFound", err)
	}
	if st, err := s.CheckAccess(ctx, store.AccessCheck{Subject: "alice", SessionID: "sid-b", JTI: "j", Now: t0}); err != nil || st.SessionLive {
		t.Errorf("CheckAccess(alice, bob's session) = %+v, %v; want not live", st, err)
	}
	if _, err := s.RevokeAll(ctx, "alice", t0); err != nil {
		t.Fatal(err)
	}
	moved, _ := m.Get("app:s:{" + aliceTag + "}:sid-b")
	if moved != blob {
		t.Errorf("RevokeAll(alice) changed bob's session")
	}
}

// TestCorruptRecord: a record the store cannot decode is an outage
// (ErrUnavailable), never a missing session, and never a panic.
func TestCorruptRecord(t *testing.T) {
	t.Parallel()
	m, _, s, _ := mini(t)
	ctx := context.Background()
	n := newSession("sid-1", "alice")
	h := mustCreate(t, s, n)
	m.Set("app:s:{"+store.SubjectTag("alice")+"}:sid-1", "14:not a record")
	calls := []struct {
		name string
		run  func() error
	}{
		{"Lookup", func() error { _, err := s.Lookup(ctx, h, n.Hash, t0); return err }},
		{"Sessions", func() error { _, err := s.Sessions(ctx, "alice", t0); return err }},
		{"Rotate", func() error {
			_, err := s.Rotate(ctx, store.Rotation{Handle: h, Presented: n.Hash, Next: hash("x"), Now: t0, IdleExpiresAt: t0.Add(time.Hour)})
			return err
		}},
		{"Revoke", func() error { _, err := s.Revoke(ctx, h, n.Hash, t0); return err }},
		{"RevokeSession", func() error { return s.RevokeSession(ctx, "alice", "sid-1", t0) }},
		{"RevokeAll", func() error { _, err := s.RevokeAll(ctx, "alice", t0); return err }},
		{"CheckAccess", func() error {
			_, err := s.CheckAccess(ctx, store.AccessCheck{Subject: "alice", SessionID: "sid-1", JTI: "j", Now: t0})
			return err
		}},
		{"Create over it", func() error { _, err := s.Create(ctx, n); return err }},
	}
	for _, c := range calls {
		if err := c.run(); !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s on a corrupt record: got %v, want an error wrapping ErrUnavailable only", c.name, err)
		}
	}
	m.HSet("app:v:{"+store.SubjectTag("carol")+"}", "carol", "-3")
	if _, err := s.Version(ctx, "carol"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Version of a corrupt version: got %v, want ErrUnavailable", err)
	}
}

// TestServerDown: every method on a server that refuses connections fails
// with ErrUnavailable.
func TestServerDown(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { c.Close() })
	s, err := redisstore.New(c, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range methods(s, "alice") {
		if err := m.call(context.Background()); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with the server down: got %v, want ErrUnavailable", m.name, err)
		}
	}
}

// method is one store method called with fixed arguments.
type method struct {
	name string
	call func(ctx context.Context) error
}

// methods returns every I/O method of s, called for subject.
func methods(s *redisstore.Store, subject string) []method {
	n := newSession("sid-1", subject)
	h := store.FormatHandle(store.HandleInfo{Tag: store.SubjectTag(subject), SessionID: "sid-1", Generation: 1})
	return []method{
		{"Ping", func(ctx context.Context) error { return s.Ping(ctx) }},
		{"Create", func(ctx context.Context) error { _, err := s.Create(ctx, n); return err }},
		{"Rotate", func(ctx context.Context) error {
			_, err := s.Rotate(ctx, store.Rotation{Handle: h, Presented: n.Hash, Next: hash("x"), Now: t0, IdleExpiresAt: t0.Add(time.Hour)})
			return err
		}},
		{"Sessions", func(ctx context.Context) error { _, err := s.Sessions(ctx, subject, t0); return err }},
		{"Lookup", func(ctx context.Context) error { _, err := s.Lookup(ctx, h, n.Hash, t0); return err }},
		{"Revoke", func(ctx context.Context) error { _, err := s.Revoke(ctx, h, n.Hash, t0); return err }},
		{"RevokeSession", func(ctx context.Context) error { return s.RevokeSession(ctx, subject, "sid-1", t0) }},
		{"RevokeAll", func(ctx context.Context) error { _, err := s.RevokeAll(ctx, subject, t0); return err }},
		{"Deny", func(ctx context.Context) error { return s.Deny(ctx, subject, "jti", t0.Add(time.Hour)) }},
		{"Version", func(ctx context.Context) error { _, err := s.Version(ctx, subject); return err }},
		{"CheckAccess", func(ctx context.Context) error {
			_, err := s.CheckAccess(ctx, store.AccessCheck{Subject: subject, SessionID: "sid-1", JTI: "jti", Now: t0})
			return err
		}},
		{"UseOnce", func(ctx context.Context) error {
			_, err := s.UseOnce(ctx, "ns", "key", t0.Add(time.Minute), t0)
			return err
		}},
	}
}

// TestRotationPaths: a rotation writes in place when it can (same sealed
// length, claims kept) and writes the record anew otherwise (the first
// rotation, other sealed lengths, new claims). Either way every kept spent
// hash still proves the session, a replay gets the last sealed successor,
// and the key keeps its native expiry.
func TestRotationPaths(t *testing.T) {
	t.Parallel()
	m, _, s, _ := mini(t)
	ctx := context.Background()
	subject := "alice"
	n := newSession("sid-1", subject)
	h := mustCreate(t, s, n)
	key := "app:s:{" + store.SubjectTag(subject) + "}:sid-1"
	ttl := m.TTL(key)
	secret := func(g int) [32]byte { return hash(fmt.Sprintf("sid-1/%d", g)) }
	handles := map[int]string{1: h}
	steps := []struct {
		sealed int    // length of the sealed successor
		claims []byte // nil keeps the claims
	}{
		{72, nil},                        // first rotation: anew, slots appear
		{72, nil},                        // in place
		{100, nil},                       // longer sealed: anew
		{40, nil},                        // shorter sealed: anew
		{40, []byte(`{"role":"owner"}`)}, // new claims: anew
		{40, nil},                        // in place again
		{0, nil},                         // no sealed successor at all
		{0, []byte{}},                    // claims emptied
		{40, []byte(`{"plan": "pro"}`)},  // both
	}
	claims := []byte(nil)
	for i, st := range steps {
		g := i + 1
		now := t0.Add(time.Duration(g) * time.Minute)
		sealed := []byte(strings.Repeat(string(rune('a'+i)), st.sealed))
		r, err := s.Rotate(ctx, store.Rotation{
			Handle: handles[g], Presented: secret(g), Next: secret(g + 1), Sealed: sealed,
			Now: now, Grace: 10 * time.Second, IdleExpiresAt: now.Add(time.Hour), Claims: st.claims,
		})
		if err != nil || r.Outcome != store.Rotated {
			t.Fatalf("rotation %d: %v, %v", g, r.Outcome, err)
		}
		handles[g+1] = r.Handle
		if st.claims != nil {
			claims = st.claims
		}
		if string(r.Session.Claims) != string(claims) || r.Session.Generation != uint64(g+1) || !r.Session.LastUsedAt.Equal(now) {
			t.Errorf("rotation %d returned %+v, want generation %d, claims %q, last used %v", g, r.Session, g+1, claims, now)
		}
		for e := 1; e <= g+1; e++ { // every secret issued so far (all within the kept history)
			if got, err := s.Lookup(ctx, handles[e], secret(e), now); err != nil || got.Generation != uint64(g+1) || string(got.Claims) != string(claims) {
				t.Errorf("after rotation %d, Lookup with the secret of generation %d: %+v, %v", g, e, got, err)
			}
		}
		if st.sealed > 0 {
			rp, err := s.Rotate(ctx, store.Rotation{
				Handle: handles[g], Presented: secret(g), Next: hash("other"), Sealed: []byte("other"),
				Now: now.Add(time.Second), Grace: 10 * time.Second, IdleExpiresAt: now.Add(time.Hour),
			})
			if err != nil || rp.Outcome != store.Replayed || string(rp.Sealed) != string(sealed) || rp.Handle != r.Handle {
				t.Errorf("after rotation %d, a replay got %v %q (handle %q), %v; want Replayed with the %d sealed bytes and handle %q",
					g, rp.Outcome, rp.Sealed, rp.Handle, err, len(sealed), r.Handle)
			}
		}
		if got := m.TTL(key); got != ttl {
			t.Errorf("after rotation %d the key's TTL is %v, want %v (kept)", g, got, ttl)
		}
	}
	// Reuse of the first secret revokes the session, in place.
	last := len(steps) + 1
	x, err := s.Rotate(ctx, store.Rotation{Handle: handles[1], Presented: secret(1), Next: hash("x"), Now: t0.Add(time.Hour), Grace: 10 * time.Second, IdleExpiresAt: t0.Add(2 * time.Hour)})
	if err != nil || x.Outcome != store.Reused {
		t.Fatalf("the first secret after %d rotations: %v, %v; want Reused", last-1, x.Outcome, err)
	}
	if got := m.TTL(key); got != ttl {
		t.Errorf("after the revocation the key's TTL is %v, want %v (kept)", got, ttl)
	}
	if r, err := s.Rotate(ctx, store.Rotation{Handle: handles[last], Presented: secret(last), Next: hash("y"), Now: t0.Add(time.Hour), IdleExpiresAt: t0.Add(2 * time.Hour)}); err != nil || r.Outcome != store.Revoked {
		t.Errorf("the current secret after the reuse: %v, %v; want Revoked", r.Outcome, err)
	}
}
