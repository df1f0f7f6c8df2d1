package pgstore_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// t0 is the tests' clock, on a whole millisecond.
var t0 = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

// newSession is a session id of subject created at at, lasting 30 days
// (idle 7), whose first secret is "secret-"+id.
func newSession(id, subject string, at time.Time) store.NewSession {
	return store.NewSession{
		Session: store.Session{
			ID: id, Subject: subject, Scope: "read", CreatedAt: at,
			IdleExpiresAt: at.Add(7 * 24 * time.Hour), ExpiresAt: at.Add(30 * 24 * time.Hour),
			Generation: 1,
		},
		Hash: secret(id, 1),
	}
}

// secret is the hash of the secret of generation g of session id.
func secret(id string, g int) [32]byte {
	return sha256.Sum256([]byte(id + "/" + string(rune('a'+g))))
}

// create stores newSession(id, subject, at) and returns its handle.
func create(t *testing.T, s store.Store, id, subject string, at time.Time) store.Created {
	t.Helper()
	c, err := s.Create(context.Background(), newSession(id, subject, at))
	if err != nil {
		t.Fatalf("Create %s: %v", id, err)
	}
	return c
}

// rotate rotates generation g of session id (whose handle is h) at now.
func rotate(ctx context.Context, s store.Store, h, id string, g int, now time.Time) (store.RotateResult, error) {
	return s.Rotate(ctx, store.Rotation{
		Handle: h, Presented: secret(id, g), Next: secret(id, g+1), Sealed: []byte("sealed"),
		Now: now, Grace: 10 * time.Second, IdleExpiresAt: now.Add(7 * 24 * time.Hour),
	})
}

// TestHostileNames: ids, subjects, jtis and keys that are not UTF-8, hold
// NUL bytes or are huge change nothing and fail like any other unknown
// name: never as an outage (which would answer 503).
func TestHostileNames(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()
	odd := "a\x00b\xff\xfe\u001f"
	create(t, s, "victim", odd, t0)
	for _, id := range []string{"\xff\xfe", "a\x00b", strings.Repeat("x", 65), "", "victim'; --"} {
		if err := s.RevokeSession(ctx, odd, id, t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RevokeSession(%q): %v, want ErrNotFound", id, err)
		}
		st, err := s.CheckAccess(ctx, store.AccessCheck{Subject: odd, SessionID: id, JTI: odd, Now: t0})
		if err != nil || st.SessionLive || st.Denied {
			t.Errorf("CheckAccess(sid %q): %+v, %v; want nothing live", id, st, err)
		}
	}
	if err := s.Deny(ctx, odd, odd, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if first, err := s.UseOnce(ctx, odd, odd, t0.Add(time.Hour), t0); err != nil || !first {
		t.Fatalf("UseOnce with odd names: %v, %v", first, err)
	}
	st, err := s.CheckAccess(ctx, store.AccessCheck{Subject: odd, SessionID: "victim", JTI: odd, Now: t0})
	if err != nil || !st.SessionLive || !st.Denied {
		t.Fatalf("CheckAccess of the odd subject's session: %+v, %v; want live and denied", st, err)
	}
	list, err := s.Sessions(ctx, odd, t0)
	if err != nil || len(list) != 1 || list[0].Subject != odd {
		t.Fatalf("Sessions of the odd subject: %+v, %v", list, err)
	}
	huge := strings.Repeat("h", 64<<10+1)
	if _, err := s.RevokeAll(ctx, huge, t0); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("RevokeAll with a huge subject: %v, want ErrTooLarge", err)
	}
	if err := s.Deny(ctx, "alice", huge, t0); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("Deny with a huge jti: %v, want ErrTooLarge", err)
	}
	if _, err := s.Create(ctx, newSession("big", huge, t0)); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("Create with a huge subject: %v, want ErrTooLarge", err)
	}
}
