package redisstore

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 678_000_000, time.UTC)

func testSession(edit func(*store.Session)) store.Session {
	s := store.Session{
		ID:            "sid-1",
		Subject:       "alice",
		Scope:         "read write",
		Claims:        []byte(`{"role": "admin"}`),
		Device:        store.Device{UserAgent: "Mozilla/5.0 (X11) Gecko", IP: "2001:db8::1"},
		CreatedAt:     t0,
		LastUsedAt:    t0,
		IdleExpiresAt: t0.Add(time.Hour),
		ExpiresAt:     t0.Add(24 * time.Hour),
		Generation:    1,
	}
	if edit != nil {
		edit(&s)
	}
	return s
}

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    store.Session
	}{
		{"user session", testSession(nil)},
		{"client session without claims or device", testSession(func(s *store.Session) {
			s.ClientID, s.Claims, s.Scope, s.Device = "client-1", nil, "", store.Device{}
		})},
		{"awkward subject", testSession(func(s *store.Session) { s.Subject = "x{tag}:1:\x00" + strings.Repeat("é", 200) })},
		{"field separators in values", testSession(func(s *store.Session) {
			s.Scope, s.Claims, s.Device.UserAgent = "3:abc", []byte("12:x:"), "0:"
		})},
		{"times before 1970", testSession(func(s *store.Session) {
			s.CreatedAt = time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
			s.LastUsedAt = s.CreatedAt
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hash := sha256.Sum256([]byte(tt.name))
			rec, err := decodeRecord(string(encodeNew(&tt.s, hash)))
			if err != nil {
				t.Fatalf("decodeRecord(encodeNew(...)): %v", err)
			}
			got := rec.session(tt.s.ID)
			want := tt.s
			if len(want.Claims) == 0 {
				want.Claims = nil
			}
			if got.ID != want.ID || got.Subject != want.Subject || got.ClientID != want.ClientID ||
				got.Scope != want.Scope || !bytes.Equal(got.Claims, want.Claims) || got.Device != want.Device ||
				!got.CreatedAt.Equal(want.CreatedAt.Truncate(time.Millisecond)) ||
				!got.LastUsedAt.Equal(want.LastUsedAt.Truncate(time.Millisecond)) ||
				!got.IdleExpiresAt.Equal(want.IdleExpiresAt.Truncate(time.Millisecond)) ||
				!got.ExpiresAt.Equal(want.ExpiresAt.Truncate(time.Millisecond)) || got.Generation != 1 {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
			}
			if !bytes.Equal(rec.current, hash[:]) || len(rec.ring) != 0 || len(rec.sealed) != 0 || rec.rotatedAt != 0 || rec.revoked {
				t.Errorf("a new record has the login hash, no spent hashes, nothing sealed, no rotation, not revoked: got %+v", rec)
			}
		})
	}
}

// fields builds a record from fields, each length-prefixed.
func fields(fs ...string) string {
	var b []byte
	for _, f := range fs {
		b = appendField(b, f)
	}
	return string(b)
}

// validFields are the fields of a valid record, to be edited one at a time.
func validFields() []string {
	return []string{
		"1", "alice", fields("", "read", "ua", "ip"), "{}",
		"1000", "1000", "2000", "3000", "3",
		strings.Repeat("c", 32), strings.Repeat("r", 64), "sealed", "1500", "",
	}
}

func TestDecodeRecordRefusesCorrupt(t *testing.T) {
	t.Parallel()
	edit := func(i int, v string) string {
		f := validFields()
		f[i-1] = v
		return fields(f...)
	}
	valid := fields(validFields()...)
	if _, err := decodeRecord(valid); err != nil {
		t.Fatalf("the valid record does not decode: %v", err)
	}
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"garbage", "garbage"},
		{"truncated", valid[:len(valid)-1]},
		{"trailing bytes", valid + "x"},
		{"one field too many", valid + "0:"},
		{"missing length", ":" + valid},
		{"leading zero length", "01:1" + valid[3:]},
		{"length past the end", "99999999:1"},
		{"format 2", edit(fFormat, "2")},
		{"meta with three fields", edit(fMeta, fields("", "read", "ua"))},
		{"created not a number", edit(fCreated, "x")},
		{"expires empty", edit(fExpires, "")},
		{"generation 0", edit(fGen, "0")},
		{"generation negative", edit(fGen, "-1")},
		{"current hash 31 bytes", edit(fCurrent, strings.Repeat("c", 31))},
		{"ring not whole hashes", edit(fRing, strings.Repeat("r", 33))},
		{"ring longer than the history", edit(fRing, strings.Repeat("r", 32*(spentKeep+1)))},
		{"rotation time not a number", edit(fRotatedAt, "soon")},
		{"revoked flag 2", edit(fRevoked, "2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if rec, err := decodeRecord(tt.in); err == nil {
				t.Errorf("decodeRecord accepted a corrupt record: %+v", rec)
			}
		})
	}
}

func TestExpectedHash(t *testing.T) {
	t.Parallel()
	h := func(c byte) []byte { return bytes.Repeat([]byte{c}, 32) }
	// Generation 5: spent hashes of generations 2, 3 and 4, oldest first.
	rec := &record{gen: 5, current: h('5'), ring: bytes.Join([][]byte{h('2'), h('3'), h('4')}, nil)}
	tests := []struct {
		g    uint64
		want []byte
	}{
		{5, h('5')}, {4, h('4')}, {3, h('3')}, {2, h('2')},
		{1, nil},   // older than the kept history
		{6, nil},   // not reached yet
		{1e6, nil}, // far ahead
	}
	for _, tt := range tests {
		if got := rec.expected(tt.g); !bytes.Equal(got, tt.want) {
			t.Errorf("expected(%d) = %q, want %q", tt.g, got, tt.want)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	s := testSession(nil)
	f.Add(string(encodeNew(&s, [32]byte{1})))
	f.Add(fields(validFields()...))
	f.Add("1:1")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		rec, err := decodeRecord(in)
		if err != nil {
			return
		}
		if len(rec.current) != 32 || len(rec.ring)%32 != 0 || len(rec.ring) > spentKeep*32 || rec.gen == 0 {
			t.Fatalf("decodeRecord accepted a record breaking its invariants: %+v", rec)
		}
		for d := uint64(0); d <= spentKeep+1 && d < rec.gen; d++ {
			if w := rec.expected(rec.gen - d); w != nil && len(w) != 32 {
				t.Fatalf("expected(%d) has %d bytes", rec.gen-d, len(w))
			}
		}
	})
}
