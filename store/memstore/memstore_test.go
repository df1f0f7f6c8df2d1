package memstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// family is a session rotated a number of times: handles[g] and secret(g)
// are the token of generation g.
type family struct {
	s       *Store
	id      string
	subject string
	handles map[uint64]string
}

func (f *family) secret(g uint64) [32]byte { return sum(fmt.Sprintf("%s/%d", f.id, g)) }

func (f *family) sealed(g uint64) []byte { return []byte(fmt.Sprintf("sealed-%d", g)) }

// newFamily creates a session at t0 and rotates it n times, rotation k at
// t0 + k minutes.
func newFamily(t *testing.T, s *Store, id, subject string, n int) *family {
	t.Helper()
	ctx := context.Background()
	f := &family{s: s, id: id, subject: subject, handles: map[uint64]string{}}
	c, err := s.Create(ctx, newSession(id, subject, t0))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	f.handles[1] = c.Handle
	for g := uint64(1); g <= uint64(n); g++ {
		now := t0.Add(time.Duration(g) * time.Minute)
		res, err := s.Rotate(ctx, store.Rotation{
			Handle:        f.handles[g],
			Presented:     f.secret(g),
			Next:          f.secret(g + 1),
			Sealed:        f.sealed(g + 1),
			Now:           now,
			Grace:         10 * time.Second,
			IdleExpiresAt: now.Add(7 * 24 * time.Hour),
		})
		if err != nil || res.Outcome != store.Rotated {
			t.Fatalf("rotation %d: %v, %v", g, res.Outcome, err)
		}
		f.handles[g+1] = res.Handle
	}
	return f
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
		{"empty ID", mod(func(n *store.NewSession) { n.Session.ID = "" }), "empty ID"},
		{"ID not handle-safe", mod(func(n *store.NewSession) { n.Session.ID = "a~b" }), "base64url"},
		{"ID too long", mod(func(n *store.NewSession) { n.Session.ID = strings.Repeat("a", 65) }), "base64url"},
		{"empty subject", mod(func(n *store.NewSession) { n.Session.Subject = "" }), "empty Subject"},
		{"generation 0", mod(func(n *store.NewSession) { n.Session.Generation = 0 }), "Generation"},
		{"generation 2", mod(func(n *store.NewSession) { n.Session.Generation = 2 }), "Generation"},
		{"expires at creation", mod(func(n *store.NewSession) { n.Session.ExpiresAt = t0 }), "ExpiresAt"},
		{"zero times", mod(func(n *store.NewSession) {
			n.Session.CreatedAt, n.Session.ExpiresAt = time.Time{}, time.Time{}
		}), "ExpiresAt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := New()
			c, err := s.Create(context.Background(), tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Create error = %v, want one mentioning %q", err, tt.wantErr)
				}
				if len(s.sessions) != 0 {
					t.Fatal("a failed Create stored a session")
				}
				return
			}
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			h, err := s.ParseHandle(c.Handle)
			if err != nil {
				t.Fatalf("ParseHandle(%q): %v", c.Handle, err)
			}
			want := store.HandleInfo{Tag: store.SubjectTag("alice"), SessionID: "sid-1", Generation: 1}
			if h != want {
				t.Fatalf("handle = %+v, want %+v", h, want)
			}
		})
	}
}

func TestCreateDuplicateAndVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New()
	if _, err := s.RevokeAll(ctx, "alice", t0); err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(ctx, newSession("sid-1", "alice", t0))
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != 1 {
		t.Fatalf("Version = %d, want 1", c.Version)
	}
	dup := newSession("sid-1", "bob", t0.Add(time.Hour))
	dup.Hash = sum("other")
	if _, err := s.Create(ctx, dup); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate Create error = %v", err)
	}
	got, err := storetest.FindSession(ctx, s, "alice", "sid-1", t0)
	if err != nil || got.Subject != "alice" {
		t.Fatalf("original session after duplicate Create: %+v, %v", got, err)
	}
	// A revoked session is still remembered: its ID stays taken.
	if _, err := s.RevokeAll(ctx, "alice", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, dup); err == nil {
		t.Fatal("Create reused the ID of a remembered, revoked session")
	}
	// Once forgettable (past ExpiresAt and the margin), the ID may be reused.
	late := newSession("sid-1", "bob", t0.Add(31*24*time.Hour))
	if _, err := s.Create(ctx, late); err != nil {
		t.Fatalf("Create after the old session could be forgotten: %v", err)
	}
	if list, _ := s.Sessions(ctx, "alice", t0); len(list) != 0 || s.bySubject["alice"] != nil {
		t.Fatalf("alice still indexes the replaced session: %v", list)
	}
}

func TestRotate(t *testing.T) {
	t.Parallel()
	const grace = 10 * time.Second
	// A family rotated 3 times has generation G = 4; rotation k happened at
	// t0 + k minutes, so the last one (3 -> 4) at t0+3m.
	last := t0.Add(3 * time.Minute)
	tests := []struct {
		name       string
		rotations  int
		revoke     bool
		handle     func(f *family) string
		presented  func(f *family) [32]byte
		now        time.Time
		grace      time.Duration
		want       store.Outcome
		wantGen    uint64 // handle generation in the result, 0 for none
		wantSealed []byte
	}{
		{name: "current", rotations: 3, handle: gen(4), presented: secret(4), now: last.Add(time.Hour), grace: grace, want: store.Rotated, wantGen: 5},
		{name: "first token", rotations: 0, handle: gen(1), presented: secret(1), now: t0, grace: grace, want: store.Rotated, wantGen: 2},
		{name: "current, wrong secret", rotations: 3, handle: gen(4), presented: secret(3), now: last, grace: grace, want: store.Unknown},
		{name: "previous in grace", rotations: 3, handle: gen(3), presented: secret(3), now: last.Add(grace - 1), grace: grace, want: store.Replayed, wantGen: 4, wantSealed: []byte("sealed-4")},
		{name: "previous at grace end", rotations: 3, handle: gen(3), presented: secret(3), now: last.Add(grace), grace: grace, want: store.Reused},
		{name: "previous, grace off", rotations: 3, handle: gen(3), presented: secret(3), now: last, grace: 0, want: store.Reused},
		{name: "previous, negative grace", rotations: 3, handle: gen(3), presented: secret(3), now: last, grace: -grace, want: store.Reused},
		{name: "previous, wrong secret", rotations: 3, handle: gen(3), presented: secret(4), now: last, grace: grace, want: store.Unknown},
		{name: "spent, inside grace of last rotation", rotations: 3, handle: gen(2), presented: secret(2), now: last, grace: grace, want: store.Reused},
		{name: "first of many spent", rotations: store.MinSpentHistory, handle: gen(1), presented: secret(1), now: t0.Add(time.Hour), grace: grace, want: store.Reused},
		{name: "spent beyond history", rotations: store.MinSpentHistory + 1, handle: gen(1), presented: secret(1), now: t0.Add(time.Hour), grace: grace, want: store.Unknown},
		{name: "beyond history, hash its slot now holds", rotations: store.MinSpentHistory + 1, handle: gen(1), presented: secret(store.MinSpentHistory + 1), now: t0.Add(time.Hour), grace: grace, want: store.Unknown},
		{name: "future generation", rotations: 3, handle: gen(5), presented: secret(5), now: last, grace: grace, want: store.Unknown},
		{name: "foreign tag", rotations: 3, handle: func(f *family) string {
			return store.FormatHandle(store.HandleInfo{Tag: store.SubjectTag("mallory"), SessionID: f.id, Generation: 4})
		}, presented: secret(4), now: last, grace: grace, want: store.Unknown},
		{name: "unknown session", rotations: 3, handle: func(f *family) string {
			return store.FormatHandle(store.HandleInfo{Tag: store.SubjectTag(f.subject), SessionID: "nope", Generation: 4})
		}, presented: secret(4), now: last, grace: grace, want: store.Unknown},
		{name: "malformed handle", rotations: 3, handle: func(*family) string { return "x" }, presented: secret(4), now: last, grace: grace, want: store.Unknown},
		{name: "revoked, current", rotations: 3, revoke: true, handle: gen(4), presented: secret(4), now: last, grace: grace, want: store.Revoked},
		{name: "revoked, spent", rotations: 3, revoke: true, handle: gen(2), presented: secret(2), now: last, grace: grace, want: store.Reused},
		{name: "revoked, previous in grace", rotations: 3, revoke: true, handle: gen(3), presented: secret(3), now: last, grace: grace, want: store.Revoked},
		{name: "revoked, previous outside grace", rotations: 3, revoke: true, handle: gen(3), presented: secret(3), now: last.Add(grace), grace: grace, want: store.Reused},
		{name: "revoked and expired, spent", rotations: 3, revoke: true, handle: gen(1), presented: secret(1), now: last.Add(8 * 24 * time.Hour), grace: grace, want: store.Reused},
		{name: "revoked and expired, current", rotations: 3, revoke: true, handle: gen(4), presented: secret(4), now: last.Add(8 * 24 * time.Hour), grace: grace, want: store.Revoked},
		{name: "revoked, wrong secret", rotations: 3, revoke: true, handle: gen(4), presented: secret(1), now: last, grace: grace, want: store.Unknown},
		{name: "idle expired", rotations: 3, handle: gen(4), presented: secret(4), now: last.Add(7 * 24 * time.Hour), grace: grace, want: store.Expired},
		{name: "idle expired, previous", rotations: 3, handle: gen(3), presented: secret(3), now: last.Add(7 * 24 * time.Hour), grace: grace, want: store.Expired},
		{name: "absolute expired", rotations: 0, handle: gen(1), presented: secret(1), now: t0.Add(30 * 24 * time.Hour), grace: grace, want: store.Expired},
		{name: "zero now", rotations: 0, handle: gen(1), presented: secret(1), now: time.Time{}, grace: grace, want: store.Rotated, wantGen: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := New()
			f := newFamily(t, s, "sid-1", "alice", tt.rotations)
			if tt.revoke {
				if err := s.RevokeSession(ctx, "alice", "sid-1", t0); err != nil {
					t.Fatal(err)
				}
			}
			before := snapshot(s, "sid-1")
			res, err := s.Rotate(ctx, store.Rotation{
				Handle:        tt.handle(f),
				Presented:     tt.presented(f),
				Next:          sum("next"),
				Sealed:        []byte("sealed-next"),
				Now:           tt.now,
				Grace:         tt.grace,
				IdleExpiresAt: tt.now.Add(365 * 24 * time.Hour), // past ExpiresAt: capped
				Claims:        []byte(`{"next": true}`),         // stored on Rotated only
			})
			if err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			if res.Outcome != tt.want {
				t.Fatalf("Outcome = %v, want %v", res.Outcome, tt.want)
			}
			var gotGen uint64
			if res.Handle != "" {
				h, err := store.ParseStatefulHandle(res.Handle)
				if err != nil {
					t.Fatalf("result handle: %v", err)
				}
				gotGen = h.Generation
			}
			if gotGen != tt.wantGen {
				t.Fatalf("result handle generation = %d, want %d", gotGen, tt.wantGen)
			}
			if !bytes.Equal(res.Sealed, tt.wantSealed) {
				t.Fatalf("Sealed = %q, want %q", res.Sealed, tt.wantSealed)
			}
			after := snapshot(s, "sid-1")
			switch tt.want {
			case store.Rotated:
				idle := tt.now.Add(365 * 24 * time.Hour)
				if idle.After(res.Session.ExpiresAt) {
					idle = res.Session.ExpiresAt
				}
				if res.Session.Generation != tt.wantGen || !res.Session.LastUsedAt.Equal(tt.now) ||
					!res.Session.IdleExpiresAt.Equal(idle) || string(res.Session.Claims) != `{"next": true}` {
					t.Fatalf("rotated session = %+v", res.Session)
				}
				if after.claims != `{"next": true}` {
					t.Fatalf("Rotated did not store the claims it carried: %q", after.claims)
				}
				// The new secret is current; the presented one is now previous.
				res2, _ := s.Rotate(ctx, store.Rotation{Handle: res.Handle, Presented: sum("next"), Next: sum("next2"), Now: tt.now, IdleExpiresAt: tt.now.Add(time.Hour)})
				if res2.Outcome != store.Rotated {
					t.Fatalf("rotating the successor: %v", res2.Outcome)
				}
			case store.Replayed:
				if after != before {
					t.Fatal("Replayed wrote")
				}
				if res.Session.Generation != 4 || string(res.Session.Claims) != `{"role":"admin"}` {
					t.Fatalf("replayed session = %+v", res.Session)
				}
			case store.Reused:
				if !after.revoked || !res.Session.ExpiresAt.Equal(t0.Add(30*24*time.Hour)) || string(res.Session.Claims) != `{"role":"admin"}` {
					t.Fatalf("Reused: revoked=%v session=%+v", after.revoked, res.Session)
				}
				before.revoked = true
				if after != before {
					t.Fatal("Reused wrote more than the revocation")
				}
			default:
				if after != before {
					t.Fatalf("%v wrote: %+v -> %+v", tt.want, before, after)
				}
				if res.Handle != "" || res.Sealed != nil || res.Session.ID != "" || res.Version != 0 {
					t.Fatalf("%v carries data: %+v", tt.want, res)
				}
			}
		})
	}
}

func gen(g uint64) func(*family) string { return func(f *family) string { return f.handles[g] } }

func secret(g uint64) func(*family) [32]byte { return func(f *family) [32]byte { return f.secret(g) } }

type recState struct {
	current   [32]byte
	gen       uint64
	revoked   bool
	idle      time.Time
	lastUsed  time.Time
	rotatedAt time.Time
	sealed    string
	claims    string
}

func snapshot(s *Store, id string) recState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.sessions[id]
	if r == nil {
		return recState{}
	}
	return recState{r.Current, r.Session.Generation, r.Revoked, r.Session.IdleExpiresAt, r.Session.LastUsedAt, r.RotatedAt, string(r.Sealed), string(r.Session.Claims)}
}

// writeCount is the number of writes since the last sweep.
func (s *Store) writeCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.writes
}

func TestRotateVersionAndReuseRevokes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New()
	f := newFamily(t, s, "sid-1", "alice", 1)
	// RevokeAll bumps the version; a new session sees it in rotations.
	g := newFamily(t, s, "sid-2", "bob", 0)
	if v, err := s.RevokeAll(ctx, "bob", t0); err != nil || v != 1 {
		t.Fatalf("RevokeAll = %d, %v", v, err)
	}
	if _, err := s.Create(ctx, newSession("sid-3", "bob", t0)); err != nil {
		t.Fatal(err)
	}
	res, _ := s.Rotate(ctx, store.Rotation{Handle: g.handles[1], Presented: g.secret(1), Now: t0, IdleExpiresAt: t0.Add(time.Hour)})
	if res.Outcome != store.Revoked {
		t.Fatalf("rotation after RevokeAll: %v", res.Outcome)
	}
	h := store.FormatHandle(store.HandleInfo{Tag: store.SubjectTag("bob"), SessionID: "sid-3", Generation: 1})
	res, _ = s.Rotate(ctx, store.Rotation{Handle: h, Presented: sum("sid-3/1"), Next: sum("n"), Now: t0, IdleExpiresAt: t0.Add(time.Hour)})
	if res.Outcome != store.Rotated || res.Version != 1 {
		t.Fatalf("rotation of new session: %v version %d", res.Outcome, res.Version)
	}
	// Reuse of alice's spent token revokes her whole session: the current
	// token then answers Revoked.
	now := t0.Add(time.Hour)
	res, _ = s.Rotate(ctx, store.Rotation{Handle: f.handles[1], Presented: f.secret(1), Now: now, Grace: time.Second, IdleExpiresAt: now})
	if res.Outcome != store.Reused {
		t.Fatalf("reuse: %v", res.Outcome)
	}
	res, _ = s.Rotate(ctx, store.Rotation{Handle: f.handles[2], Presented: f.secret(2), Now: now, IdleExpiresAt: now.Add(time.Hour)})
	if res.Outcome != store.Revoked {
		t.Fatalf("current after reuse: %v", res.Outcome)
	}
	if st, _ := s.CheckAccess(ctx, store.AccessCheck{Subject: "alice", SessionID: "sid-1", Now: now}); st.SessionLive {
		t.Fatal("session still live after reuse")
	}
}

func TestConcurrentRotate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New()
	f := newFamily(t, s, "sid-1", "alice", 0)
	const n = 32
	results := make([]store.RotateResult, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var err error
			results[i], err = s.Rotate(ctx, store.Rotation{
				Handle: f.handles[1], Presented: f.secret(1), Next: f.secret(2), Sealed: []byte("succ"),
				Now: t0, Grace: 10 * time.Second, IdleExpiresAt: t0.Add(time.Hour),
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	rotated := 0
	for _, r := range results {
		switch r.Outcome {
		case store.Rotated:
			rotated++
		case store.Replayed:
			want := store.FormatHandle(store.HandleInfo{Tag: store.SubjectTag("alice"), SessionID: "sid-1", Generation: 2})
			if string(r.Sealed) != "succ" || r.Handle != want {
				t.Fatalf("replay = %+v", r)
			}
		default:
			t.Fatalf("outcome %v", r.Outcome)
		}
	}
	if rotated != 1 {
		t.Fatalf("%d rotations, want exactly 1", rotated)
	}
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		rotations int
		handleGen uint64
		secretGen uint64
		now       time.Time
		wantErr   bool
	}{
		{"current", 3, 4, 4, t0, false},
		{"previous", 3, 3, 3, t0, false},
		{"spent", 3, 1, 1, t0, false},
		{"first token, never rotated", 0, 1, 1, t0, false},
		{"genuine secret, other generation", 3, 4, 2, t0, true},
		{"future generation", 3, 5, 5, t0, true},
		{"beyond history", store.MinSpentHistory + 1, 1, 1, t0, true},
		{"expired", 0, 1, 1, t0.Add(30 * 24 * time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := New()
			f := newFamily(t, s, "sid-1", "alice", tt.rotations)
			h := store.FormatHandle(store.HandleInfo{Tag: store.SubjectTag("alice"), SessionID: "sid-1", Generation: tt.handleGen})
			before := snapshot(s, "sid-1")
			got, err := s.Revoke(ctx, h, f.secret(tt.secretGen), tt.now)
			if tt.wantErr {
				if !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("Revoke error = %v, want ErrNotFound", err)
				}
				if snapshot(s, "sid-1") != before {
					t.Fatal("failed Revoke changed the session")
				}
				return
			}
			if err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			if got.ID != "sid-1" || got.Generation != uint64(tt.rotations)+1 || string(got.Claims) != `{"role":"admin"}` {
				t.Fatalf("Revoke returned %+v", got)
			}
			if _, err := s.Revoke(ctx, h, f.secret(tt.secretGen), tt.now); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("second Revoke error = %v", err)
			}
			if _, err := storetest.FindSession(ctx, s, "alice", "sid-1", tt.now); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Session after Revoke: %v", err)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	last := t0.Add(3 * time.Minute) // the last rotation of a family rotated 3 times
	tests := []struct {
		name      string
		rotations int
		revoke    bool
		tag       string // the subject whose tag the handle carries; "" for alice
		handleGen uint64
		secretGen uint64
		now       time.Time
		wantErr   bool
	}{
		{name: "current", rotations: 3, handleGen: 4, secretGen: 4, now: last},
		{name: "previous, outside grace", rotations: 3, handleGen: 3, secretGen: 3, now: last.Add(time.Hour)},
		{name: "spent", rotations: 3, handleGen: 1, secretGen: 1, now: last},
		{name: "oldest kept spent", rotations: store.MinSpentHistory, handleGen: 1, secretGen: 1, now: t0.Add(time.Hour)},
		{name: "first token, never rotated", handleGen: 1, secretGen: 1, now: t0},
		{name: "1ms before idle expiry", handleGen: 1, secretGen: 1, now: t0.Add(7*24*time.Hour - time.Millisecond)},
		{name: "beyond history", rotations: store.MinSpentHistory + 1, handleGen: 1, secretGen: 1, now: t0.Add(time.Hour), wantErr: true},
		{name: "beyond history, hash its slot now holds", rotations: store.MinSpentHistory + 1, handleGen: 1, secretGen: store.MinSpentHistory + 1, now: t0.Add(time.Hour), wantErr: true},
		{name: "genuine secret, other generation", rotations: 3, handleGen: 4, secretGen: 2, now: last, wantErr: true},
		{name: "current secret, previous handle", rotations: 3, handleGen: 3, secretGen: 4, now: last, wantErr: true},
		{name: "future generation", rotations: 3, handleGen: 5, secretGen: 5, now: last, wantErr: true},
		{name: "foreign tag", rotations: 3, tag: "mallory", handleGen: 4, secretGen: 4, now: last, wantErr: true},
		{name: "revoked, current", rotations: 3, revoke: true, handleGen: 4, secretGen: 4, now: last, wantErr: true},
		{name: "revoked, spent", rotations: 3, revoke: true, handleGen: 1, secretGen: 1, now: last, wantErr: true},
		{name: "idle expired", rotations: 3, handleGen: 4, secretGen: 4, now: last.Add(7 * 24 * time.Hour), wantErr: true},
		{name: "absolute expired", handleGen: 1, secretGen: 1, now: t0.Add(30 * 24 * time.Hour), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := New()
			f := newFamily(t, s, "sid-1", "alice", tt.rotations)
			if tt.revoke {
				if err := s.RevokeSession(ctx, "alice", "sid-1", t0); err != nil {
					t.Fatal(err)
				}
			}
			tag := tt.tag
			if tag == "" {
				tag = "alice"
			}
			h := store.FormatHandle(store.HandleInfo{Tag: store.SubjectTag(tag), SessionID: "sid-1", Generation: tt.handleGen})
			before, writes := snapshot(s, "sid-1"), s.writeCount()
			got, err := s.Lookup(ctx, h, f.secret(tt.secretGen), tt.now)
			if snapshot(s, "sid-1") != before || s.writeCount() != writes {
				t.Fatal("Lookup wrote")
			}
			if tt.wantErr {
				if !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("Lookup = %+v, %v; want ErrNotFound", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			want, err := storetest.FindSession(ctx, s, "alice", "sid-1", tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if got.Generation != uint64(tt.rotations)+1 || string(got.Claims) != `{"role":"admin"}` ||
				got.ID != want.ID || got.Subject != want.Subject || got.Scope != want.Scope || got.Device != want.Device ||
				!got.CreatedAt.Equal(want.CreatedAt) || !got.LastUsedAt.Equal(want.LastUsedAt) ||
				!got.IdleExpiresAt.Equal(want.IdleExpiresAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
				t.Fatalf("Lookup = %+v, want %+v", got, want)
			}
		})
	}
}

func TestRevokeBadHandles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New()
	f := newFamily(t, s, "sid-1", "alice", 0)
	for _, h := range []string{"", "~", "~~", strings.Repeat("a", 1<<20), "x~sid-1~1",
		store.FormatHandle(store.HandleInfo{Tag: store.SubjectTag("bob"), SessionID: "sid-1", Generation: 1})} {
		if _, err := s.Revoke(ctx, h, f.secret(1), t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Revoke(%.20q) error = %v", h, err)
		}
	}
	if !snapshot(s, "sid-1").idle.After(t0) || snapshot(s, "sid-1").revoked {
		t.Fatal("bad handles changed the session")
	}
}

func TestSessionReadsAndOwnership(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New()
	mk := func(id, subject string, at time.Time) {
		t.Helper()
		if _, err := s.Create(ctx, newSession(id, subject, at)); err != nil {
			t.Fatal(err)
		}
	}
	mk("b", "alice", t0)
	mk("a", "alice", t0) // same CreatedAt: ordered by ID
	mk("c", "alice", t0.Add(-time.Hour))
	mk("d", "alice", t0.Add(-time.Minute))
	mk("e", "bob", t0)
	short := newSession("f", "alice", t0)
	short.Session.IdleExpiresAt = t0.Add(time.Minute)
	if _, err := s.Create(ctx, short); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(ctx, "bob", "d", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RevokeSession of another subject's session: %v", err)
	}
	if err := s.RevokeSession(ctx, "alice", "d", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(ctx, "alice", "d", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second RevokeSession: %v", err)
	}
	if err := s.RevokeSession(ctx, "alice", "missing", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RevokeSession of unknown id: %v", err)
	}
	now := t0.Add(2 * time.Minute)
	list, err := s.Sessions(ctx, "alice", now)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, x := range list {
		ids = append(ids, x.ID)
	}
	if got := strings.Join(ids, ","); got != "c,a,b" {
		t.Fatalf("Sessions = %s, want c,a,b", got)
	}
	if list, _ := s.Sessions(ctx, "nobody", now); list == nil || len(list) != 0 {
		t.Fatalf("Sessions of unknown subject = %#v, want empty", list)
	}
	if _, err := storetest.FindSession(ctx, s, "bob", "a", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Session of another subject: %v", err)
	}
	if _, err := storetest.FindSession(ctx, s, "alice", "f", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Session idle-expired: %v", err)
	}
	handle := func(subject, id string) string {
		return store.FormatHandle(store.HandleInfo{Tag: store.SubjectTag(subject), SessionID: id, Generation: 1})
	}
	proof := func(id string) [32]byte { return newSession(id, "", t0).Hash }
	if _, err := s.Lookup(ctx, handle("bob", "a"), proof("a"), now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Lookup under another subject's tag: %v", err)
	}
	if _, err := s.Lookup(ctx, handle("alice", "f"), proof("f"), now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Lookup of an expired session: %v", err)
	}
	if got, err := s.Lookup(ctx, handle("alice", "a"), proof("a"), now); err != nil || got.ID != "a" {
		t.Fatalf("Lookup of a live session: %+v %v", got, err)
	}
}

func TestNoAliasing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New()
	n := newSession("sid-1", "alice", t0)
	c, err := s.Create(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	n.Session.Claims[0] = 'X'
	got, _ := storetest.FindSession(ctx, s, "alice", "sid-1", t0)
	if string(got.Claims) != `{"role":"admin"}` {
		t.Fatalf("Create kept the caller's slice: %q", got.Claims)
	}
	got.Claims[0] = 'Y'
	list, _ := s.Sessions(ctx, "alice", t0)
	list[0].Claims[1] = 'Z'
	claims := []byte(`{"a":1}`)
	sealed := []byte("sealed")
	res, _ := s.Rotate(ctx, store.Rotation{Handle: c.Handle, Presented: n.Hash, Next: sum("2"), Sealed: sealed, Now: t0, Grace: time.Minute, IdleExpiresAt: t0.Add(time.Hour), Claims: claims})
	claims[0] = 'W'
	if got, _ := storetest.FindSession(ctx, s, "alice", "sid-1", t0); string(got.Claims) != `{"a":1}` {
		t.Fatalf("Rotate kept the caller's Rotation.Claims slice: stored claims = %q", got.Claims)
	}
	res.Session.Claims[0] = 'V'
	sealed[0] = 'U'
	lk, err := s.Lookup(ctx, res.Handle, sum("2"), t0)
	if err != nil {
		t.Fatal(err)
	}
	lk.Claims[0] = 'S'
	rep, _ := s.Rotate(ctx, store.Rotation{Handle: c.Handle, Presented: n.Hash, Now: t0, Grace: time.Minute})
	if rep.Outcome != store.Replayed || string(rep.Sealed) != "sealed" {
		t.Fatalf("replay = %v %q", rep.Outcome, rep.Sealed)
	}
	rep.Sealed[0] = 'T'
	rep.Session.Claims[0] = 'R'
	rep2, _ := s.Rotate(ctx, store.Rotation{Handle: c.Handle, Presented: n.Hash, Now: t0, Grace: time.Minute})
	if string(rep2.Sealed) != "sealed" {
		t.Fatalf("second replay sealed = %q", rep2.Sealed)
	}
	if got, _ := storetest.FindSession(ctx, s, "alice", "sid-1", t0); string(got.Claims) != `{"a":1}` {
		t.Fatalf("stored claims = %q", got.Claims)
	}
}

func TestCheckAccess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New()
	if _, err := s.Create(ctx, newSession("sid-1", "alice", t0)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, newSession("sid-2", "alice", t0)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(ctx, "alice", "sid-2", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Deny(ctx, "alice", "j1", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Deny(ctx, "alice", "j1", t0.Add(time.Minute)); err != nil { // an earlier until does not shorten it
		t.Fatal(err)
	}
	if _, err := s.RevokeAll(ctx, "carol", t0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		q    store.AccessCheck
		want store.AccessState
	}{
		{"live", store.AccessCheck{Subject: "alice", SessionID: "sid-1", JTI: "j2", Now: t0}, store.AccessState{SessionLive: true}},
		{"denied", store.AccessCheck{Subject: "alice", SessionID: "sid-1", JTI: "j1", Now: t0.Add(30 * time.Minute)}, store.AccessState{Denied: true, SessionLive: true}},
		{"deny over", store.AccessCheck{Subject: "alice", SessionID: "sid-1", JTI: "j1", Now: t0.Add(time.Hour)}, store.AccessState{SessionLive: true}},
		{"deny is per subject", store.AccessCheck{Subject: "bob", JTI: "j1", Now: t0}, store.AccessState{}},
		{"no session id", store.AccessCheck{Subject: "alice", JTI: "j2", Now: t0}, store.AccessState{}},
		{"revoked session", store.AccessCheck{Subject: "alice", SessionID: "sid-2", Now: t0}, store.AccessState{}},
		{"foreign session", store.AccessCheck{Subject: "bob", SessionID: "sid-1", Now: t0}, store.AccessState{}},
		{"expired session", store.AccessCheck{Subject: "alice", SessionID: "sid-1", Now: t0.Add(7 * 24 * time.Hour)}, store.AccessState{}},
		{"version", store.AccessCheck{Subject: "carol", Now: t0}, store.AccessState{Version: 1}},
		{"empty everything", store.AccessCheck{}, store.AccessState{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.CheckAccess(ctx, tt.q)
			if err != nil || got != tt.want {
				t.Fatalf("CheckAccess = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestRevokeAll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New()
	for _, id := range []string{"a", "b"} {
		if _, err := s.Create(ctx, newSession(id, "alice", t0)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(ctx, newSession("c", "bob", t0)); err != nil {
		t.Fatal(err)
	}
	for want := uint64(1); want <= 3; want++ {
		v, err := s.RevokeAll(ctx, "alice", t0)
		if err != nil || v != want {
			t.Fatalf("RevokeAll = %d, %v; want %d", v, err, want)
		}
		if got, _ := s.Version(ctx, "alice"); got != want {
			t.Fatalf("Version = %d, want %d", got, want)
		}
	}
	if list, _ := s.Sessions(ctx, "alice", t0); len(list) != 0 {
		t.Fatalf("alice still has %d sessions", len(list))
	}
	if list, _ := s.Sessions(ctx, "bob", t0); len(list) != 1 {
		t.Fatal("RevokeAll touched another subject")
	}
	if v, _ := s.Version(ctx, "bob"); v != 0 {
		t.Fatalf("bob's version = %d", v)
	}
}

func TestUseOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New()
	steps := []struct {
		ns, key    string
		until, now time.Time
		want       bool
	}{
		{"c1", "j", t0.Add(time.Minute), t0, true},
		{"c1", "j", t0.Add(time.Minute), t0.Add(time.Second), false},
		{"c2", "j", t0.Add(time.Minute), t0, true},     // namespaces are separate
		{"c1\x00j", "", t0.Add(time.Minute), t0, true}, // no separator confusion
		{"c1", "j\x00", t0.Add(time.Minute), t0, true},
		{"c1", "j", t0.Add(time.Hour), t0.Add(time.Minute), true}, // the first record is over
		{"c1", "j", t0.Add(2 * time.Minute), t0.Add(30 * time.Minute), false},
		{"", "", t0, t0, true}, // until <= now: never live
		{"", "", t0, t0, true},
	}
	for i, st := range steps {
		got, err := s.UseOnce(ctx, st.ns, st.key, st.until, st.now)
		if err != nil || got != st.want {
			t.Fatalf("step %d: UseOnce(%q, %q) = %v, %v; want %v", i, st.ns, st.key, got, err, st.want)
		}
	}
	// Exactly once under concurrency.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			ok, err := s.UseOnce(ctx, "race", "k", t0.Add(time.Hour), t0)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d winners, want 1", wins.Load())
	}
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := New()
	if _, err := s.Create(context.Background(), newSession("sid-1", "alice", t0)); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"Create": func() error { _, err := s.Create(ctx, newSession("sid-2", "alice", t0)); return err },
		"Rotate": func() error { _, err := s.Rotate(ctx, store.Rotation{}); return err },
		"Session": func() error {
			_, err := storetest.FindSession(ctx, s, "alice", "sid-1", t0)
			return err
		},
		"Sessions":      func() error { _, err := s.Sessions(ctx, "alice", t0); return err },
		"Lookup":        func() error { _, err := s.Lookup(ctx, "", [32]byte{}, t0); return err },
		"Revoke":        func() error { _, err := s.Revoke(ctx, "", [32]byte{}, t0); return err },
		"RevokeSession": func() error { return s.RevokeSession(ctx, "alice", "sid-1", t0) },
		"RevokeAll":     func() error { _, err := s.RevokeAll(ctx, "alice", t0); return err },
		"Deny":          func() error { return s.Deny(ctx, "alice", "j", t0.Add(time.Hour)) },
		"Version":       func() error { _, err := s.Version(ctx, "alice"); return err },
		"CheckAccess":   func() error { _, err := s.CheckAccess(ctx, store.AccessCheck{}); return err },
		"UseOnce":       func() error { _, err := s.UseOnce(ctx, "n", "k", t0.Add(time.Hour), t0); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("%s: error = %v, want ErrUnavailable and context.Canceled", name, err)
		}
	}
	if len(s.sessions) != 1 || len(s.denied) != 0 || len(s.once) != 0 || len(s.versions) != 0 || s.sessions["sid-1"].Revoked {
		t.Fatal("a call with a cancelled context changed the store")
	}
}

func (s *Store) counts() (sessions, subjects, denied, once, versions int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.sessions), len(s.bySubject), len(s.denied), len(s.once), len(s.versions)
}

func TestMemoryBoundedWithoutJanitor(t *testing.T) {
	t.Parallel()
	const n = 5000
	later := t0.Add(2 * time.Hour)
	tests := []struct {
		name  string
		write func(s *Store, i int) error
	}{
		{"UseOnce on one key", func(s *Store, i int) error {
			_, err := s.UseOnce(context.Background(), "ns", "same", later.Add(time.Hour), later)
			return err
		}},
		{"new sessions", func(s *Store, i int) error {
			n := newSession(fmt.Sprintf("new-%d", i), fmt.Sprintf("user-%d", i%10), later)
			_, err := s.Create(context.Background(), n)
			return err
		}},
		{"Deny after one dated write", func(s *Store, i int) error {
			if i == 0 { // Deny has no now: its sweep uses the latest now seen
				if _, err := s.UseOnce(context.Background(), "ns", "k", later, later); err != nil {
					return err
				}
			}
			return s.Deny(context.Background(), "someone", "jti", later.Add(time.Hour))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := New()
			for i := range n {
				ns := newSession(fmt.Sprintf("old-%d", i), fmt.Sprintf("user-%d", i%100), t0)
				ns.Session.IdleExpiresAt = t0.Add(time.Minute)
				ns.Session.ExpiresAt = t0.Add(time.Minute)
				if _, err := s.Create(ctx, ns); err != nil {
					t.Fatal(err)
				}
				if err := s.Deny(ctx, "u", fmt.Sprint(i), t0.Add(time.Minute)); err != nil {
					t.Fatal(err)
				}
				if _, err := s.UseOnce(ctx, "ns", fmt.Sprint(i), t0.Add(time.Minute), t0); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.RevokeAll(ctx, "user-1", t0); err != nil {
				t.Fatal(err)
			}
			if got, _, d, o, _ := s.counts(); got != n || d != n || o != n {
				t.Fatalf("before: %d sessions, %d denied, %d once; want %d each", got, d, o, n)
			}
			// Every write counts; a sweep is due at the latest after as
			// many writes as there were records after the last sweep.
			for i := range 3*n + minSweepEvery + 1 {
				if err := tt.write(s, i); err != nil {
					t.Fatal(err)
				}
			}
			sessions, _, denied, once, versions := s.counts()
			oldSessions := 0
			for id := range s.sessions {
				if strings.HasPrefix(id, "old-") {
					oldSessions++
				}
			}
			if oldSessions != 0 || denied > 1 || once > 2 {
				t.Fatalf("after: %d old sessions (%d in all), %d denied, %d once: expired records were not swept", oldSessions, sessions, denied, once)
			}
			for sub := range s.bySubject {
				if !strings.HasPrefix(sub, "user-") || len(s.bySubject[sub]) == 0 {
					t.Fatalf("stale index entry %q", sub)
				}
			}
			if versions != 1 {
				t.Fatalf("versions = %d, want 1: versions never expire", versions)
			}
			if v, _ := s.Version(ctx, "user-1"); v != 1 {
				t.Fatalf("version after sweep = %d", v)
			}
		})
	}
}

func TestSweepKeepsRememberedSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New()
	f := newFamily(t, s, "sid-1", "alice", 1)
	if err := s.RevokeSession(ctx, "alice", "sid-1", t0); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.sweep(t0.Add(29 * 24 * time.Hour)) // revoked and idle-expired, before ExpiresAt
	s.mu.Unlock()
	res, _ := s.Rotate(ctx, store.Rotation{Handle: f.handles[2], Presented: f.secret(2), Now: t0.Add(29 * 24 * time.Hour)})
	if res.Outcome != store.Revoked {
		t.Fatalf("revoked session before its ExpiresAt answers %v, want revoked", res.Outcome)
	}
	s.mu.Lock()
	s.sweep(t0.Add(30 * 24 * time.Hour)) // at ExpiresAt: kept for the margin
	s.mu.Unlock()
	if n, _, _, _, _ := s.counts(); n != 1 {
		t.Fatal("session swept at its ExpiresAt, without the margin")
	}
	s.mu.Lock()
	s.sweep(t0.Add(30*24*time.Hour + sweepMargin))
	s.mu.Unlock()
	if n, subjects, _, _, _ := s.counts(); n != 0 || subjects != 0 {
		t.Fatalf("%d sessions, %d subjects left after ExpiresAt", n, subjects)
	}
}

// clock is a settable clock for the janitor.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time   { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Set(at time.Time) { c.ns.Store(at.UnixNano()) }
func (s *Store) sweepCount() int  { s.mu.RLock(); defer s.mu.RUnlock(); return s.sweeps }
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 5000 { // at most ~5 s; the janitor ticks every millisecond
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestJanitor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var c clock
	c.Set(t0)
	s := NewWithOptions(Options{JanitorInterval: time.Millisecond, Now: c.Now})
	defer s.Close()
	for i := range 100 {
		ns := newSession(fmt.Sprintf("s%d", i), "alice", t0)
		ns.Session.ExpiresAt = t0.Add(time.Hour)
		if _, err := s.Create(ctx, ns); err != nil {
			t.Fatal(err)
		}
		if err := s.Deny(ctx, "alice", fmt.Sprint(i), t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UseOnce(ctx, "ns", fmt.Sprint(i), t0.Add(time.Hour), t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RevokeAll(ctx, "alice", t0); err != nil {
		t.Fatal(err)
	}
	// Sweeps before the expiry keep everything.
	start := s.sweepCount()
	waitFor(t, "three sweeps", func() bool { return s.sweepCount() >= start+3 })
	if n, _, d, o, _ := s.counts(); n != 100 || d != 100 || o != 100 {
		t.Fatalf("janitor removed live records: %d sessions, %d denied, %d once", n, d, o)
	}
	// Past expiry plus the margin, on the janitor's clock, they go.
	c.Set(t0.Add(time.Hour + sweepMargin))
	waitFor(t, "the sweep", func() bool {
		n, _, d, o, _ := s.counts()
		return n == 0 && d == 0 && o == 0
	})
	if _, _, _, _, v := s.counts(); v != 1 {
		t.Fatal("janitor removed a version")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	default:
		t.Fatal("janitor still running after Close")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// The store stays usable after Close.
	if _, err := s.Create(ctx, newSession("after", "alice", t0)); err != nil {
		t.Fatal(err)
	}
}

// TestNoGoroutineWithoutJanitor is not parallel: it counts the process's
// goroutines, which parallel tests would change under it. Non-parallel
// top-level tests run before the parallel ones resume.
func TestNoGoroutineWithoutJanitor(t *testing.T) {
	ctx := context.Background()
	before := runtime.NumGoroutine()
	for _, opts := range []Options{{}, {JanitorInterval: -time.Second}, {Now: time.Now}} {
		s := NewWithOptions(opts)
		if s.stop != nil {
			t.Fatalf("NewWithOptions(%+v) prepared a janitor", opts)
		}
		if _, err := s.Create(ctx, newSession("sid-1", "alice", t0)); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if after := runtime.NumGoroutine(); after != before {
		t.Fatalf("goroutines: %d before, %d after", before, after)
	}
}

// FuzzRotateHandle feeds arbitrary handles and secrets to Lookup, Rotate and
// Revoke: no panic, no error, and nothing but the genuine token is found,
// rotates or revokes.
func FuzzRotateHandle(f *testing.F) {
	genuine := store.FormatHandle(store.HandleInfo{Tag: store.SubjectTag("alice"), SessionID: "sid-1", Generation: 1})
	f.Add(genuine, []byte("sid-1/1"))
	f.Add(genuine, []byte("sid-1/2"))
	f.Add("", []byte{})
	f.Add("~~", []byte("x"))
	f.Add(genuine[:len(genuine)-1]+"3w5e11264sgsf", []byte("sid-1/1"))
	f.Add(strings.Repeat("a~", 200), []byte("x"))
	f.Fuzz(func(t *testing.T, handle string, secret []byte) {
		ctx := context.Background()
		s := New()
		if _, err := s.Create(ctx, newSession("sid-1", "alice", t0)); err != nil {
			t.Fatal(err)
		}
		presented := sha256.Sum256(secret)
		isGenuine := handle == genuine && presented == sum("sid-1/1")
		if _, err := s.Lookup(ctx, handle, presented, t0); (err == nil) != isGenuine || (err != nil && !errors.Is(err, store.ErrNotFound)) {
			t.Fatalf("Lookup(%q) = %v, genuine %v", handle, err, isGenuine)
		}
		res, err := s.Rotate(ctx, store.Rotation{Handle: handle, Presented: presented, Next: sum("next"), Now: t0, IdleExpiresAt: t0.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]store.Outcome{true: store.Rotated, false: store.Unknown}[isGenuine]; res.Outcome != want {
			t.Fatalf("Rotate(%q) = %v, want %v", handle, res.Outcome, want)
		}
		if _, err := s.Revoke(ctx, handle, presented, t0); err == nil && !isGenuine {
			t.Fatalf("Revoke(%q) succeeded with a forged token", handle)
		}
		_, _ = s.ParseHandle(handle)
	})
}
