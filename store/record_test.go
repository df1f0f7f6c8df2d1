package store_test

import (
	"crypto/sha256"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

var rt0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func secretHash(g uint64) [32]byte { return sha256.Sum256([]byte(fmt.Sprint("secret-", g))) }

// rotatedRecord returns a record of alice's session "sid-1" rotated n
// times, a minute apart, with the secrets secretHash(1..n+1).
func rotatedRecord(t *testing.T, n int) (*store.Record, store.HandleInfo) {
	t.Helper()
	rec, err := store.NewRecord(store.NewSession{
		Session: store.Session{ID: "sid-1", Subject: "alice", CreatedAt: rt0, Generation: 1,
			IdleExpiresAt: rt0.Add(48 * time.Hour), ExpiresAt: rt0.Add(24 * time.Hour), Claims: []byte(`{"a":1}`)},
		Hash: secretHash(1),
	})
	if err != nil {
		t.Fatal(err)
	}
	h := store.HandleInfo{Tag: store.SubjectTag("alice"), SessionID: "sid-1", Generation: 1}
	for i := range n {
		g := uint64(i + 1)
		res, write := rec.Rotate(h, &store.Rotation{Presented: secretHash(g), Next: secretHash(g + 1),
			Sealed: []byte(fmt.Sprint("sealed-", g+1)), Now: rt0.Add(time.Duration(g) * time.Minute),
			Grace: 10 * time.Second, IdleExpiresAt: rt0.Add(time.Duration(g)*time.Minute + time.Hour)})
		if res.Outcome != store.Rotated || !write {
			t.Fatalf("rotation %d: %v, write %v", g, res.Outcome, write)
		}
		h.Generation = g + 1
	}
	return &rec, h
}

func TestNewRecord(t *testing.T) {
	t.Parallel()
	claims := []byte(`{"a":1}`)
	rec, err := store.NewRecord(store.NewSession{
		Session: store.Session{ID: "sid-1", Subject: "alice", CreatedAt: rt0, Generation: 1,
			IdleExpiresAt: rt0.Add(48 * time.Hour), ExpiresAt: rt0.Add(24 * time.Hour), Claims: claims},
		Hash: secretHash(1),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Session.LastUsedAt.Equal(rt0) || !rec.Session.IdleExpiresAt.Equal(rt0.Add(24*time.Hour)) {
		t.Errorf("NewRecord: LastUsedAt %v, IdleExpiresAt %v; want CreatedAt and ExpiresAt", rec.Session.LastUsedAt, rec.Session.IdleExpiresAt)
	}
	claims[0] = 'X'
	if string(rec.Session.Claims) != `{"a":1}` {
		t.Error("NewRecord shares the claims with its caller")
	}
	if rec.Current != secretHash(1) || rec.Spent != nil || rec.Revoked {
		t.Errorf("NewRecord: %+v", rec)
	}
	for _, bad := range []store.Session{
		{ID: "", Subject: "alice", CreatedAt: rt0, Generation: 1, ExpiresAt: rt0.Add(time.Hour)},
		{ID: "sid-1", Subject: "alice", CreatedAt: rt0, Generation: 2, ExpiresAt: rt0.Add(time.Hour)},
		{ID: "sid-1", Subject: "alice", CreatedAt: rt0, Generation: 1, ExpiresAt: rt0},
	} {
		if _, err := store.NewRecord(store.NewSession{Session: bad}); err == nil {
			t.Errorf("NewRecord(%+v): no error", bad)
		}
	}
}

// TestRecordHistory pins the spent history: the last MinSpentHistory
// generations are reuse, older ones unknown, and a full history rotates in
// place.
func TestRecordHistory(t *testing.T) {
	t.Parallel()
	const n = store.MinSpentHistory + 5
	rec, h := rotatedRecord(t, n)
	G := uint64(n + 1)
	if rec.Session.Generation != G || len(rec.Spent) != store.MinSpentHistory {
		t.Fatalf("after %d rotations: generation %d, %d spent hashes", n, rec.Session.Generation, len(rec.Spent))
	}
	for g := uint64(1); g <= G+1; g++ {
		want := g <= G && G-g <= store.MinSpentHistory
		if got := rec.Matches(g, secretHash(g)); got != want {
			t.Errorf("Matches(%d, its own secret) = %v, want %v", g, got, want)
		}
		if g > 1 && rec.Matches(g, secretHash(g-1)) {
			t.Errorf("Matches(%d, the secret of %d) = true", g, g-1)
		}
	}
	backing := &rec.Spent[0]
	rec.Rotate(h, &store.Rotation{Presented: secretHash(G), Next: secretHash(G + 1), Now: rt0.Add(time.Duration(G) * time.Minute),
		IdleExpiresAt: rt0.Add(time.Duration(G)*time.Minute + time.Hour)})
	if &rec.Spent[0] != backing || len(rec.Spent) != store.MinSpentHistory {
		t.Error("a rotation with a full history does not rotate the history in place")
	}
	G++
	if rec.Spent[store.MinSpentHistory-1] != secretHash(G-1) || rec.Spent[0] != secretHash(G-store.MinSpentHistory) {
		t.Error("a rotation with a full history does not shift the oldest hash out")
	}
}

// cloneRecord returns a deep copy of r.
func cloneRecord(r *store.Record) store.Record {
	c := *r
	c.Spent = slices.Clone(r.Spent)
	c.Sealed = slices.Clone(r.Sealed)
	c.Session.Claims = slices.Clone(r.Session.Claims)
	return c
}

// TestRecordRotate runs the decision table of store.Store.Rotate on the
// record: outcome, handle generation, whether it writes, and that a
// decision reported as not writing changed nothing.
func TestRecordRotate(t *testing.T) {
	t.Parallel()
	const grace = 10 * time.Second
	last := rt0.Add(3 * time.Minute) // the time of the third rotation
	tests := []struct {
		name      string
		revoked   bool
		g         uint64 // the handle's generation
		secret    uint64 // whose secret is presented
		now       time.Time
		grace     time.Duration
		want      store.Outcome
		wantGen   uint64
		wantWrite bool
	}{
		{"current", false, 4, 4, last.Add(time.Minute), grace, store.Rotated, 5, true},
		{"current, wrong secret", false, 4, 3, last, grace, store.Unknown, 0, false},
		{"previous in grace", false, 3, 3, last.Add(grace - 1), grace, store.Replayed, 4, false},
		{"previous at grace end", false, 3, 3, last.Add(grace), grace, store.Reused, 0, true},
		{"previous, grace off", false, 3, 3, last, 0, store.Reused, 0, true},
		{"previous, negative grace", false, 3, 3, last, -grace, store.Reused, 0, true},
		{"spent, in the grace of the last rotation", false, 2, 2, last, grace, store.Reused, 0, true},
		{"future generation", false, 5, 5, last, grace, store.Unknown, 0, false},
		{"generation zero", false, 0, 0, last, grace, store.Unknown, 0, false},
		{"revoked, current", true, 4, 4, last, grace, store.Revoked, 0, false},
		{"revoked, spent", true, 2, 2, last, grace, store.Reused, 0, false},
		{"revoked, previous in grace", true, 3, 3, last, grace, store.Revoked, 0, false},
		{"revoked, previous outside grace", true, 3, 3, last.Add(grace), grace, store.Reused, 0, false},
		{"revoked and expired, spent", true, 1, 1, rt0.Add(25 * time.Hour), grace, store.Reused, 0, false},
		{"revoked, wrong secret", true, 4, 1, last, grace, store.Unknown, 0, false},
		{"idle expired", false, 4, 4, last.Add(time.Hour), grace, store.Expired, 0, false},
		{"idle expired, previous", false, 3, 3, last.Add(time.Hour), grace, store.Expired, 0, false},
		{"absolute expired", false, 4, 4, rt0.Add(24 * time.Hour), grace, store.Expired, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec, h := rotatedRecord(t, 3)
			rec.Revoked = tt.revoked
			before := cloneRecord(rec)
			h.Generation = tt.g
			rot := store.Rotation{Presented: secretHash(tt.secret), Next: secretHash(99), Sealed: []byte("sealed-next"),
				Now: tt.now, Grace: tt.grace, IdleExpiresAt: tt.now.Add(48 * time.Hour), Claims: []byte(`{"b":2}`)}
			res, write := rec.Rotate(h, &rot)
			if res.Outcome != tt.want || write != tt.wantWrite {
				t.Fatalf("Rotate: %v, write %v; want %v, write %v", res.Outcome, write, tt.want, tt.wantWrite)
			}
			var gotGen uint64
			if res.Handle != "" {
				hi, err := store.ParseStatefulHandle(res.Handle)
				if err != nil || hi.Tag != h.Tag || hi.SessionID != "sid-1" {
					t.Fatalf("handle %q: %+v, %v", res.Handle, hi, err)
				}
				gotGen = hi.Generation
			}
			if gotGen != tt.wantGen {
				t.Errorf("handle generation %d, want %d", gotGen, tt.wantGen)
			}
			if res.Version != 0 {
				t.Errorf("Version %d: the core leaves it to the store", res.Version)
			}
			switch tt.want {
			case store.Rotated:
				if rec.Current != rot.Next || rec.Spent[len(rec.Spent)-1] != before.Current || !rec.RotatedAt.Equal(tt.now) ||
					!rec.Session.LastUsedAt.Equal(tt.now) || string(rec.Sealed) != "sealed-next" || string(rec.Session.Claims) != `{"b":2}` {
					t.Errorf("Rotated record: %+v", rec)
				}
				if !rec.Session.IdleExpiresAt.Equal(rec.Session.ExpiresAt) {
					t.Errorf("IdleExpiresAt %v not capped at ExpiresAt %v", rec.Session.IdleExpiresAt, rec.Session.ExpiresAt)
				}
			case store.Replayed:
				if string(res.Sealed) != "sealed-4" {
					t.Errorf("Replayed: sealed %q, want the one kept at the last rotation", res.Sealed)
				}
			case store.Reused:
				if !rec.Revoked || res.Session.ID != "sid-1" {
					t.Errorf("Reused: revoked %v, session %+v", rec.Revoked, res.Session)
				}
				rec.Revoked = before.Revoked
			}
			if tt.want != store.Rotated && !reflect.DeepEqual(*rec, before) {
				t.Errorf("%v changed more than the revocation:\n got %+v\nwant %+v", tt.want, *rec, before)
			}
		})
	}
}

func TestRecordProvesAndLiveFor(t *testing.T) {
	t.Parallel()
	rec, h := rotatedRecord(t, 2)
	at := rt0.Add(3 * time.Minute)
	if !rec.Proves(h, secretHash(3), at) || !rec.Proves(store.HandleInfo{Tag: h.Tag, SessionID: "sid-1", Generation: 1}, secretHash(1), at) {
		t.Error("Proves refuses the current or a spent secret of a live session")
	}
	for name, hi := range map[string]store.HandleInfo{
		"foreign tag":  {Tag: store.SubjectTag("mallory"), SessionID: "sid-1", Generation: 3},
		"other id":     {Tag: h.Tag, SessionID: "sid-2", Generation: 3},
		"wrong secret": {Tag: h.Tag, SessionID: "sid-1", Generation: 2},
	} {
		if rec.Proves(hi, secretHash(3), at) {
			t.Errorf("Proves accepts a handle with a %s", name)
		}
	}
	if !rec.LiveFor("alice", at) || rec.LiveFor("bob", at) || rec.LiveFor("alice", rt0.Add(24*time.Hour)) {
		t.Error("LiveFor: wrong subject or expiry")
	}
	rec.Revoked = true
	if rec.Proves(h, secretHash(3), at) || rec.LiveFor("alice", at) {
		t.Error("a revoked session proves or counts as live")
	}
}
