package boltstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/storetest"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func sum(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

func newSession(id, subject string, at time.Time) store.NewSession {
	return store.NewSession{
		Session: store.Session{
			ID:            id,
			Subject:       subject,
			Scope:         "read",
			Claims:        []byte(`{"role":"admin"}`),
			Device:        store.Device{UserAgent: "ua", IP: "192.0.2.1"},
			CreatedAt:     at,
			LastUsedAt:    at,
			IdleExpiresAt: at.Add(7 * 24 * time.Hour),
			ExpiresAt:     at.Add(30 * 24 * time.Hour),
			Generation:    1,
		},
		Hash: sum(id + "/1"),
	}
}

// openStore opens a store on a fresh file, closed when the test ends.
func openStore(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "sessions.db"), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// family is a session rotated a number of times: handles[g] and secret(g)
// are the token of generation g.
type family struct {
	id, subject string
	handles     map[uint64]string
}

func (f *family) secret(g uint64) [32]byte { return sum(fmt.Sprintf("%s/%d", f.id, g)) }

func (f *family) gen() uint64 { return uint64(len(f.handles)) }

// newFamily creates session id of subject at t0 and rotates it n times,
// rotation k at t0 + k minutes.
func newFamily(t *testing.T, s *Store, id, subject string, n int) *family {
	t.Helper()
	c, err := s.Create(context.Background(), newSession(id, subject, t0))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	f := &family{id: id, subject: subject, handles: map[uint64]string{1: c.Handle}}
	for range n {
		f.rotate(t, s, t0.Add(time.Duration(f.gen())*time.Minute))
	}
	return f
}

// rotate rotates f's current token at now.
func (f *family) rotate(t *testing.T, s *Store, now time.Time) store.RotateResult {
	t.Helper()
	g := f.gen()
	res, err := s.Rotate(context.Background(), f.rotation(g, now, 10*time.Second))
	if err != nil || res.Outcome != store.Rotated {
		t.Fatalf("rotation of generation %d: %v, %v", g, res.Outcome, err)
	}
	f.handles[g+1] = res.Handle
	return res
}

// rotation presents the token of generation g at now.
func (f *family) rotation(g uint64, now time.Time, grace time.Duration) store.Rotation {
	return store.Rotation{
		Handle:        f.handles[g],
		Presented:     f.secret(g),
		Next:          f.secret(g + 1),
		Sealed:        []byte(fmt.Sprintf("sealed-%d", g+1)),
		Now:           now,
		Grace:         grace,
		IdleExpiresAt: now.Add(7 * 24 * time.Hour),
	}
}

// count returns the number of keys in bucket.
func count(t *testing.T, s *Store, bucket []byte) int {
	t.Helper()
	n := 0
	if err := s.db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket(bucket).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreate(t *testing.T) {
	t.Parallel()
	mod := func(f func(*store.NewSession)) store.NewSession {
		n := newSession("sid-1", "alice", t0)
		f(&n)
		return n
	}
	tests := []struct {
		name    string
		in      store.NewSession
		wantErr string
	}{
		{"valid", newSession("sid-1", "alice", t0), ""},
		{"zero LastUsedAt is CreatedAt", mod(func(n *store.NewSession) { n.Session.LastUsedAt = time.Time{} }), ""},
		{"idle expiry capped", mod(func(n *store.NewSession) { n.Session.IdleExpiresAt = t0.Add(365 * 24 * time.Hour) }), ""},
		{"empty ID", mod(func(n *store.NewSession) { n.Session.ID = "" }), "empty ID"},
		{"ID not handle-safe", mod(func(n *store.NewSession) { n.Session.ID = "a~b" }), "base64url"},
		{"ID too long", mod(func(n *store.NewSession) { n.Session.ID = strings.Repeat("a", 65) }), "base64url"},
		{"empty subject", mod(func(n *store.NewSession) { n.Session.Subject = "" }), "empty Subject"},
		{"subject too long", mod(func(n *store.NewSession) { n.Session.Subject = strings.Repeat("s", maxKeyPart+1) }), "Subject longer"},
		{"generation 0", mod(func(n *store.NewSession) { n.Session.Generation = 0 }), "Generation"},
		{"generation 2", mod(func(n *store.NewSession) { n.Session.Generation = 2 }), "Generation"},
		{"expires at creation", mod(func(n *store.NewSession) { n.Session.ExpiresAt = t0 }), "ExpiresAt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := openStore(t, Options{})
			c, err := s.Create(context.Background(), tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.Is(err, store.ErrUnavailable) {
					t.Fatalf("Create error = %v, want one mentioning %q, not ErrUnavailable", err, tt.wantErr)
				}
				for _, b := range [][]byte{bucketSessions, bucketSubjects, bucketExpiry} {
					if n := count(t, s, b); n != 0 {
						t.Fatalf("a failed Create left %d keys in %s", n, b)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			h, err := s.ParseHandle(c.Handle)
			want := store.HandleInfo{Tag: store.SubjectTag("alice"), SessionID: "sid-1", Generation: 1}
			if err != nil || h != want {
				t.Fatalf("handle = %+v, %v; want %+v", h, err, want)
			}
			got, err := storetest.FindSession(context.Background(), s, "alice", "sid-1", t0)
			if err != nil {
				t.Fatal(err)
			}
			if !got.LastUsedAt.Equal(t0) || got.IdleExpiresAt.After(got.ExpiresAt) {
				t.Errorf("stored LastUsedAt %v, IdleExpiresAt %v, ExpiresAt %v", got.LastUsedAt, got.IdleExpiresAt, got.ExpiresAt)
			}
		})
	}
}

func TestCreateDuplicateAndReplace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, Options{})
	if _, err := s.RevokeAll(ctx, "alice", t0); err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(ctx, newSession("sid-1", "alice", t0))
	if err != nil || c.Version != 1 {
		t.Fatalf("Create = %+v, %v; want version 1", c, err)
	}
	dup := newSession("sid-1", "bob", t0.Add(time.Hour))
	if _, err := s.Create(ctx, dup); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate Create error = %v", err)
	}
	// Revoked and expired, it is still remembered until ExpiresAt + margin.
	if _, err := s.RevokeAll(ctx, "alice", t0); err != nil {
		t.Fatal(err)
	}
	dup.Session.CreatedAt = t0.Add(30*24*time.Hour + sweepMargin - time.Second)
	dup.Session.ExpiresAt = dup.Session.CreatedAt.Add(time.Hour)
	if _, err := s.Create(ctx, dup); err == nil {
		t.Fatal("Create reused the ID of a remembered session")
	}
	// Once forgettable, the ID is reused and the old index entries go.
	late := newSession("sid-1", "bob", t0.Add(30*24*time.Hour+sweepMargin))
	if _, err := s.Create(ctx, late); err != nil {
		t.Fatalf("Create after the old session could be forgotten: %v", err)
	}
	if list, err := s.Sessions(ctx, "bob", late.Session.CreatedAt); err != nil || len(list) != 1 {
		t.Fatalf("bob's sessions: %v, %v", list, err)
	}
	for _, b := range [][]byte{bucketSessions, bucketSubjects, bucketExpiry} {
		if n := count(t, s, b); n != 1 {
			t.Errorf("%s holds %d keys, want 1 (alice's entries removed)", b, n)
		}
	}
}

// TestSurvivesReopen: everything written is there after Close and Open.
func TestSurvivesReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	live := newFamily(t, s, "live", "alice", 3)
	gone := newFamily(t, s, "gone", "alice", 1)
	if _, err := s.Revoke(ctx, gone.handles[2], gone.secret(2), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	other := newFamily(t, s, "other", "bob", 0)
	if _, err := s.RevokeAll(ctx, "bob", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Deny(ctx, "alice", "jti-1", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if first, err := s.UseOnce(ctx, "assertion", "a-1", t0.Add(time.Hour), t0); err != nil || !first {
		t.Fatal(first, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	now := t0.Add(2 * time.Hour)
	got, err := s.Lookup(ctx, live.handles[4], live.secret(4), now)
	if err != nil || got.Generation != 4 || string(got.Claims) != `{"role":"admin"}` {
		t.Errorf("live session after reopen: %+v, %v", got, err)
	}
	if res, err := s.Rotate(ctx, live.rotation(3, now, 0)); err != nil || res.Outcome != store.Reused {
		t.Errorf("spent token after reopen: %v, %v; want reused (the history survived)", res.Outcome, err)
	}
	if res, err := s.Rotate(ctx, gone.rotation(2, now, 0)); err != nil || res.Outcome != store.Revoked {
		t.Errorf("revoked session after reopen: %v, %v; want revoked", res.Outcome, err)
	}
	if res, err := s.Rotate(ctx, other.rotation(1, now, 0)); err != nil || res.Outcome != store.Revoked {
		t.Errorf("session of a revoke-all after reopen: %v, %v; want revoked", res.Outcome, err)
	}
	st, err := s.CheckAccess(ctx, store.AccessCheck{Subject: "alice", JTI: "jti-1", Now: t0.Add(30 * time.Minute)})
	if err != nil || !st.Denied {
		t.Errorf("deny-list after reopen: %+v, %v", st, err)
	}
	if v, err := s.Version(ctx, "bob"); err != nil || v != 1 {
		t.Errorf("bob's version after reopen: %d, %v", v, err)
	}
	if first, err := s.UseOnce(ctx, "assertion", "a-1", t0.Add(time.Hour), t0.Add(time.Minute)); err != nil || first {
		t.Errorf("use-once key after reopen: first = %v, %v", first, err)
	}
}

func TestOpenRefusesForeignFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
		wantErr string
	}{
		{"not a bbolt file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 1000)), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "boltstore: open"},
		{"another application's buckets", func(t *testing.T, path string) {
			withDB(t, path, func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("orders")); return err })
		}, "not a boltstore file"},
		{"another format", func(t *testing.T, path string) {
			withDB(t, path, func(tx *bbolt.Tx) error {
				b, err := tx.CreateBucket(bucketMeta)
				if err != nil {
					return err
				}
				return b.Put(keyFormat, []byte("sessionkit/boltstore/v0"))
			})
		}, `holds format "sessionkit/boltstore/v0"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "x.db")
			tt.prepare(t, path)
			s, err := Open(path, Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open accepted the file")
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Errorf("Open error %q, want one naming the file and mentioning %q", err, tt.wantErr)
			}
		})
	}
}

// withDB runs fn in a write transaction of a bbolt file at path.
func withDB(t *testing.T, path string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// TestNewSharesADatabase: New adds the store's buckets to an application's
// database, leaves the rest alone, and Close leaves the database open.
func TestNewSharesADatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "app.db")
	withDB(t, path, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("orders"))
		if err != nil {
			return err
		}
		return b.Put([]byte("o1"), []byte("pizza"))
	})
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
	s, err := New(db)
	if err != nil {
		t.Fatal(err)
	}
	newFamily(t, s, "sid-1", "alice", 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket([]byte("orders")).Get([]byte("o1")); string(v) != "pizza" {
			return fmt.Errorf("the application's data changed: %q", v)
		}
		return nil
	}); err != nil {
		t.Fatalf("the database after Close: %v", err)
	}
	// A second store over the same database sees the first one's data.
	s2, err := New(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := storetest.FindSession(ctx, s2, "alice", "sid-1", t0); err != nil {
		t.Errorf("a second New over the database: %v", err)
	}
}

func TestFileMode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mode os.FileMode
		want os.FileMode
	}{
		{"default is owner only", 0, 0o600},
		{"explicit", 0o640, 0o640},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "s.db")
			s, err := Open(path, Options{FileMode: tt.mode})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			// The umask may take permissions away, never add them.
			if got := fi.Mode().Perm(); got&^tt.want != 0 || got&0o600 != 0o600 {
				t.Errorf("file mode %v, want %v", got, tt.want)
			}
		})
	}
}

// calls are every method of the store, each failing only through the
// database.
func calls(f *family) []struct {
	name string
	call func(s *Store) error
} {
	ctx := context.Background()
	return []struct {
		name string
		call func(s *Store) error
	}{
		{"Create", func(s *Store) error { _, err := s.Create(ctx, newSession("new", "alice", t0)); return err }},
		{"Rotate", func(s *Store) error { _, err := s.Rotate(ctx, f.rotation(f.gen(), t0.Add(time.Hour), 0)); return err }},
		{"Sessions", func(s *Store) error { _, err := s.Sessions(ctx, f.subject, t0); return err }},
		{"Lookup", func(s *Store) error { _, err := s.Lookup(ctx, f.handles[f.gen()], f.secret(f.gen()), t0); return err }},
		{"Revoke", func(s *Store) error { _, err := s.Revoke(ctx, f.handles[f.gen()], f.secret(f.gen()), t0); return err }},
		{"RevokeSession", func(s *Store) error { return s.RevokeSession(ctx, f.subject, f.id, t0) }},
		{"RevokeAll", func(s *Store) error { _, err := s.RevokeAll(ctx, f.subject, t0); return err }},
		{"Deny", func(s *Store) error { return s.Deny(ctx, f.subject, "jti", t0.Add(time.Hour)) }},
		{"Version", func(s *Store) error { _, err := s.Version(ctx, f.subject); return err }},
		{"CheckAccess", func(s *Store) error {
			_, err := s.CheckAccess(ctx, store.AccessCheck{Subject: f.subject, SessionID: f.id, JTI: "jti", Now: t0})
			return err
		}},
		{"UseOnce", func(s *Store) error { _, err := s.UseOnce(ctx, "ns", "k", t0.Add(time.Hour), t0); return err }},
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	t.Parallel()
	s := openStore(t, Options{})
	f := newFamily(t, s, "sid-1", "alice", 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, c := range calls(f) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if err := c.call(s); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("%s on a closed store: %v, want ErrUnavailable", c.name, err)
			}
		})
	}
}

// TestCorruptRecordIsUnavailable: a session value that does not decode
// makes every method touching it fail with ErrUnavailable, and changes
// nothing.
func TestCorruptRecordIsUnavailable(t *testing.T) {
	t.Parallel()
	s := openStore(t, Options{})
	f := newFamily(t, s, "sid-1", "alice", 2)
	garbage := []byte{recordFormat, 0, 0x80}
	if err := s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketSessions).Put([]byte(f.id), garbage) }); err != nil {
		t.Fatal(err)
	}
	before := lastTx(t, s.db)
	for _, c := range calls(f) {
		if slices.Contains([]string{"Create", "Deny", "Version", "UseOnce"}, c.name) {
			continue // they do not read the session
		}
		err := c.call(s)
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s over a corrupt session: %v, want ErrUnavailable", c.name, err)
		}
		if err != nil && !strings.Contains(err.Error(), "corrupt record") {
			t.Errorf("%s: error %q does not say the record is corrupt", c.name, err)
		}
	}
	if got := lastTx(t, s.db); got != before {
		t.Errorf("failed calls committed %d transactions", got-before)
	}
	// The janitor removes it once its expiry entry is due.
	n, err := s.sweep(t0.Add(31 * 24 * time.Hour))
	if err != nil || n != 1 || count(t, s, bucketSessions) != 0 {
		t.Errorf("sweep over a corrupt session: removed %d, %v; %d sessions left", n, err, count(t, s, bucketSessions))
	}
}

// TestNoCommitWithoutWrite: a step that decides to write nothing commits
// no transaction (no fsync); one that writes commits exactly one.
func TestNoCommitWithoutWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, Options{})
	f := newFamily(t, s, "sid-1", "alice", 2) // G = 3, last rotation at t0+2m
	revoked := newFamily(t, s, "sid-2", "alice", 1)
	if err := s.RevokeSession(ctx, "alice", revoked.id, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Deny(ctx, "alice", "jti-1", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseOnce(ctx, "ns", "k", t0.Add(time.Hour), t0); err != nil {
		t.Fatal(err)
	}
	inGrace := t0.Add(2*time.Minute + time.Second)
	wrong := f.rotation(3, inGrace, 0)
	wrong.Presented = sum("forged")
	foreign := f.rotation(3, inGrace, 0)
	foreign.Handle = store.FormatHandle(store.HandleInfo{Tag: store.SubjectTag("mallory"), SessionID: f.id, Generation: 3})
	tests := []struct {
		name   string
		call   func() error
		writes bool
	}{
		{"Rotate, wrong secret", func() error { return outcome(s.Rotate(ctx, wrong))(store.Unknown) }, false},
		{"Rotate, another subject's tag", func() error { return outcome(s.Rotate(ctx, foreign))(store.Unknown) }, false},
		{"Rotate, replay in grace", func() error { return outcome(s.Rotate(ctx, f.rotation(2, inGrace, time.Minute)))(store.Replayed) }, false},
		{"Rotate, expired", func() error { return outcome(s.Rotate(ctx, f.rotation(3, t0.Add(8*24*time.Hour), 0)))(store.Expired) }, false},
		{"Rotate, revoked", func() error { return outcome(s.Rotate(ctx, revoked.rotation(2, inGrace, 0)))(store.Revoked) }, false},
		{"Rotate, spent token of a revoked session", func() error { return outcome(s.Rotate(ctx, revoked.rotation(1, inGrace, 0)))(store.Reused) }, false},
		{"Revoke, wrong secret", func() error { return notFound(s.Revoke(ctx, f.handles[3], sum("x"), inGrace)) }, false},
		{"RevokeSession, other subject", func() error { return notFound(struct{}{}, s.RevokeSession(ctx, "bob", f.id, inGrace)) }, false},
		{"Deny, earlier time", func() error { return s.Deny(ctx, "alice", "jti-1", t0.Add(time.Minute)) }, false},
		{"UseOnce, live key", func() error { return want(s.UseOnce(ctx, "ns", "k", t0.Add(time.Minute), t0))(false) }, false},
		{"Deny, later time", func() error { return s.Deny(ctx, "alice", "jti-1", t0.Add(2*time.Hour)) }, true},
		{"Rotate, current", func() error { return outcome(s.Rotate(ctx, f.rotation(3, inGrace, 0)))(store.Rotated) }, true},
	}
	for _, tt := range tests { // in order: the last ones change state
		before := lastTx(t, s.db)
		if err := tt.call(); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		want := 0
		if tt.writes {
			want = 1
		}
		if got := lastTx(t, s.db) - before; got != want {
			t.Errorf("%s committed %d transactions, want %d", tt.name, got, want)
		}
	}
}

func outcome(res store.RotateResult, err error) func(store.Outcome) error {
	return func(w store.Outcome) error {
		if err != nil || res.Outcome != w {
			return fmt.Errorf("got %v, %v; want %v", res.Outcome, err, w)
		}
		return nil
	}
}

func notFound[T any](_ T, err error) error {
	if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("got %v, want ErrNotFound", err)
	}
	return nil
}

func want(got bool, err error) func(bool) error {
	return func(w bool) error {
		if err != nil || got != w {
			return fmt.Errorf("got %v, %v; want %v", got, err, w)
		}
		return nil
	}
}

// TestRotationsShareCommits: rotations queued while a commit is running
// are committed together, once.
func TestRotationsShareCommits(t *testing.T) {
	t.Parallel()
	s := openStore(t, Options{})
	const n = 8
	fams := make([]*family, n)
	for i := range fams {
		fams[i] = newFamily(t, s, fmt.Sprint("sid-", i), fmt.Sprint("user-", i%3), 0)
	}
	before := lastTx(t, s.db)
	release := holdWriter(t, s.db)
	rotate := func(f *family) txFunc {
		return func(tx *bbolt.Tx) (bool, error) {
			b, err := bucketsOf(tx)
			if err != nil {
				return false, err
			}
			h, _ := store.ParseStatefulHandle(f.handles[1])
			r := f.rotation(1, t0.Add(time.Minute), 0)
			res, wrote, err := b.rotate(h, &r)
			if err == nil && res.Outcome != store.Rotated {
				err = fmt.Errorf("outcome %v", res.Outcome)
			}
			return wrote, err
		}
	}
	first := stall(s.batch, rotate(fams[0]))
	fns := make([]txFunc, n-1)
	for i := range fns {
		fns[i] = rotate(fams[i+1])
	}
	res := queue(s.batch, context.Background(), fns...)
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if err := <-r; err != nil {
			t.Fatal(err)
		}
	}
	if got := lastTx(t, s.db) - before; got != 2 {
		t.Errorf("%d rotations committed %d transactions, want 2", n, got)
	}
	for _, f := range fams {
		if got, err := storetest.FindSession(context.Background(), s, f.subject, f.id, t0.Add(time.Minute)); err != nil || got.Generation != 2 {
			t.Errorf("%s after the shared commit: generation %d, %v", f.id, got.Generation, err)
		}
	}
}

// TestDeadContextWhileQueued: a store method whose context ends while it
// waits behind a commit returns at once, wrapping ErrUnavailable and the
// context's error, and changes nothing.
func TestDeadContextWhileQueued(t *testing.T) {
	t.Parallel()
	s := openStore(t, Options{})
	f := newFamily(t, s, "sid-1", "alice", 0)
	release := holdWriter(t, s.db)
	first := stall(s.batch, func(*bbolt.Tx) (bool, error) { return false, nil })
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { _, err := s.Rotate(ctx, f.rotation(1, t0.Add(time.Minute), 0)); res <- err }()
	waitUntil(s.batch, func() bool { return len(s.batch.pending) == 1 })
	cancel()
	err := <-res
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if !errors.Is(err, context.Canceled) || !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Rotate with a context ended in the queue: %v, want context.Canceled and ErrUnavailable", err)
	}
	if got, err := storetest.FindSession(context.Background(), s, "alice", f.id, t0); err != nil || got.Generation != 1 {
		t.Errorf("the session after the withdrawn rotation: generation %d, %v; want 1", got.Generation, err)
	}
}

// TestSubjectsDoNotMix: subjects that are prefixes of one another, or
// differ by a NUL, never see each other's sessions, versions or denials.
func TestSubjectsDoNotMix(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, Options{})
	subjects := []string{"al", "alice", "alice2", "alice\x00", "\x05alice"}
	for i, subj := range subjects {
		newFamily(t, s, fmt.Sprint("sid-", i), subj, 0)
	}
	if _, err := s.RevokeAll(ctx, "alice", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Deny(ctx, "alice", "jti", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i, subj := range subjects {
		list, err := s.Sessions(ctx, subj, t0)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := s.Version(ctx, subj)
		st, _ := s.CheckAccess(ctx, store.AccessCheck{Subject: subj, SessionID: fmt.Sprint("sid-", i), JTI: "jti", Now: t0})
		isAlice := subj == "alice"
		if (len(list) == 0) != isAlice || (v == 1) != isAlice || st.Denied != isAlice || st.SessionLive == isAlice {
			t.Errorf("subject %q: %d sessions, version %d, %+v (alice's revoke-all and denial must touch alice only)", subj, len(list), v, st)
		}
	}
}

func TestLongKeysRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, Options{})
	long := strings.Repeat("x", maxKeyPart+1)
	tests := []struct {
		name string
		err  error
	}{
		{"Deny subject", s.Deny(ctx, long, "jti", t0)},
		{"Deny jti", s.Deny(ctx, "alice", long, t0)},
		{"UseOnce namespace", func() error { _, err := s.UseOnce(ctx, long, "k", t0, t0); return err }()},
		{"UseOnce key", func() error { _, err := s.UseOnce(ctx, "ns", long, t0, t0); return err }()},
		{"RevokeAll subject", func() error { _, err := s.RevokeAll(ctx, long, t0); return err }()},
	}
	for _, tt := range tests {
		if tt.err == nil || errors.Is(tt.err, store.ErrUnavailable) || !strings.Contains(tt.err.Error(), "longer than") {
			t.Errorf("%s of %d bytes: %v, want a caller error", tt.name, len(long), tt.err)
		}
	}
	// At the limit they work.
	edge := strings.Repeat("y", maxKeyPart)
	if err := s.Deny(ctx, edge, edge, t0.Add(time.Hour)); err != nil {
		t.Errorf("Deny at the limit: %v", err)
	}
	if _, err := s.UseOnce(ctx, edge, edge, t0.Add(time.Hour), t0); err != nil {
		t.Errorf("UseOnce at the limit: %v", err)
	}
}

// TestSpentHistoryBounded: a session keeps exactly store.MinSpentHistory
// spent hashes: the oldest kept one is still reuse, the one before it is
// unknown, and the value does not grow past it.
func TestSpentHistoryBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, Options{})
	f := newFamily(t, s, "sid-1", "alice", 40)
	G := f.gen()
	var size int
	if err := s.db.View(func(tx *bbolt.Tx) error {
		size = len(tx.Bucket(bucketSessions).Get([]byte(f.id)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if max := 400 + 32*store.MinSpentHistory; size > max {
		t.Errorf("the session value is %d bytes after 40 rotations, want at most %d", size, max)
	}
	now := t0.Add(time.Hour)
	if res, err := s.Rotate(ctx, f.rotation(G-store.MinSpentHistory-1, now, 0)); err != nil || res.Outcome != store.Unknown {
		t.Errorf("a token older than the history: %v, %v; want unknown", res.Outcome, err)
	}
	if res, err := s.Rotate(ctx, f.rotation(G-store.MinSpentHistory, now, 0)); err != nil || res.Outcome != store.Reused {
		t.Errorf("the oldest token in the history: %v, %v; want reused", res.Outcome, err)
	}
}

// TestNoGoroutineWithoutJanitor is not parallel: it counts the process's
// goroutines, which parallel tests would change under it. Goroutines left
// by earlier tests (with -count > 1) may still be ending, so the count may
// fall; it must not rise.
func TestNoGoroutineWithoutJanitor(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, opts := range []Options{{}, {JanitorInterval: -time.Second}, {Now: time.Now}} {
		s, err := Open(filepath.Join(t.TempDir(), "s.db"), opts)
		if err != nil {
			t.Fatal(err)
		}
		if s.stop != nil {
			t.Fatalf("Open(%+v) prepared a janitor", opts)
		}
		newFamily(t, s, "sid-1", "alice", 2)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("goroutines: %d before, %d after", before, after)
	}
}
