package boltstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// sampleRecord is a session rotated spent times, with every field set.
func sampleRecord(spent int) *record {
	at := time.Date(2030, 1, 2, 3, 4, 5, 678_901_234, time.UTC)
	r := &record{store.Record{
		Session: store.Session{
			ID:            "sid-1",
			Subject:       "alice@example.com",
			ClientID:      "client-7",
			Scope:         "openid profile",
			Claims:        []byte(`{"role": "admin", "n": [1, 2.5]}`),
			Device:        store.Device{UserAgent: "Mozilla/5.0 (X11; Linux) é", IP: "2001:db8::1"},
			CreatedAt:     at,
			LastUsedAt:    at.Add(time.Duration(spent) * time.Minute),
			IdleExpiresAt: at.Add(7 * 24 * time.Hour),
			ExpiresAt:     at.Add(30 * 24 * time.Hour),
			Generation:    uint64(spent) + 1,
		},
		Current: sha256.Sum256([]byte("current")),
	}}
	for i := range spent {
		r.Spent = append(r.Spent, sha256.Sum256([]byte(fmt.Sprint("spent", i))))
	}
	if spent > 0 {
		r.RotatedAt = r.Session.LastUsedAt
		r.Sealed = bytes.Repeat([]byte{0xA5}, 72)
	}
	return r
}

// sameRecord compares two records, times by instant.
func sameRecord(t *testing.T, got, want *record) {
	t.Helper()
	g, w := *got, *want
	for _, p := range []struct{ g, w *time.Time }{
		{&g.Session.CreatedAt, &w.Session.CreatedAt}, {&g.Session.LastUsedAt, &w.Session.LastUsedAt},
		{&g.Session.IdleExpiresAt, &w.Session.IdleExpiresAt}, {&g.Session.ExpiresAt, &w.Session.ExpiresAt},
		{&g.RotatedAt, &w.RotatedAt},
	} {
		if !p.g.Equal(*p.w) {
			t.Errorf("time %v, want %v", *p.g, *p.w)
		}
		*p.g, *p.w = time.Time{}, time.Time{}
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("record mismatch:\n got %+v\nwant %+v", g, w)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(r *record)
	}{
		{"fresh", func(r *record) {}},
		{"rotated once", func(r *record) { *r = *sampleRecord(1) }},
		{"full spent history", func(r *record) { *r = *sampleRecord(store.MinSpentHistory) }},
		{"revoked", func(r *record) { *r = *sampleRecord(3); r.Revoked = true }},
		{"nil claims", func(r *record) { r.Session.Claims = nil }},
		{"empty claims kept apart from nil", func(r *record) { r.Session.Claims = []byte{} }},
		{"empty strings", func(r *record) { r.Session.ClientID, r.Session.Scope, r.Session.Device = "", "", store.Device{} }},
		{"zero created time", func(r *record) { r.Session.CreatedAt, r.Session.LastUsedAt = time.Time{}, time.Time{} }},
		{"before 1970", func(r *record) { r.Session.CreatedAt = time.Date(1901, 3, 4, 5, 6, 7, 8, time.UTC) }},
		{"other zone", func(r *record) { r.Session.CreatedAt = r.Session.CreatedAt.In(time.FixedZone("X", -5*3600)) }},
		{"huge generation", func(r *record) { r.Session.Generation = 1<<64 - 1 }},
		{"binary subject", func(r *record) { r.Session.Subject = "a\x00b\xff" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := sampleRecord(0)
			tt.edit(r)
			v := r.encode()
			got, err := decodeRecord(r.Session.ID, v)
			if err != nil {
				t.Fatalf("decodeRecord: %v", err)
			}
			sameRecord(t, got, r)
			if (got.Session.Claims == nil) != (r.Session.Claims == nil) {
				t.Errorf("claims nil-ness changed: got %v, want %v", got.Session.Claims == nil, r.Session.Claims == nil)
			}
			// Decoded fields never alias the value bbolt owns.
			for i := range v {
				v[i] = 0xEE
			}
			sameRecord(t, got, r)
		})
	}
}

func TestTimesClamped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   time.Time
		want time.Time
	}{
		{"zero", time.Time{}, time.Time{}},
		{"ordinary", time.Date(2030, 5, 6, 7, 8, 9, 10, time.UTC), time.Date(2030, 5, 6, 7, 8, 9, 10, time.UTC)},
		{"before year 1", time.Time{}.Add(-time.Hour), minTime},
		{"far future", time.Unix(1<<62, 0), maxTime},
		{"largest time", time.Unix(1<<63-62135596801, 999999999), maxTime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeTime(encodeTime(tt.in))
			if err != nil {
				t.Fatalf("decodeTime: %v", err)
			}
			if !got.Equal(tt.want) {
				t.Fatalf("round trip of %v = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestDecodeRefusesCorruptValues(t *testing.T) {
	t.Parallel()
	good := sampleRecord(3).encode()
	with := func(edit func(v []byte) []byte) []byte { return edit(bytes.Clone(good)) }
	// spentAt is the offset of the spent count in a value of sampleRecord.
	r := sampleRecord(3)
	spentAt := 2 + len(appendTime(nil, r.Session.IdleExpiresAt)) + len(appendTime(nil, r.Session.ExpiresAt)) +
		len(appendString(nil, r.Session.Subject)) + len(binary.AppendUvarint(nil, r.Session.Generation)) + 32
	if good[spentAt] != 3 {
		t.Fatalf("the spent count of the sample is not at offset %d", spentAt)
	}
	tests := []struct {
		name string
		v    []byte
	}{
		{"empty", nil},
		{"unknown format", with(func(v []byte) []byte { v[0] = 2; return v })},
		{"unknown flag", with(func(v []byte) []byte { v[1] = 0x80; return v })},
		{"trailing byte", append(bytes.Clone(good), 0)},
		{"more spent hashes than kept", with(func(v []byte) []byte { v[spentAt] = store.MinSpentHistory + 1; return v })},
		{"more spent hashes than generations", with(func(v []byte) []byte { v[spentAt] = 4; return v })},
		{"length past the end", sampleRecordWithSubjectLen(1 << 40)},
		{"nanoseconds out of range", func() []byte {
			v := []byte{recordFormat, 0}
			v = binary.AppendVarint(v, 0)
			return binary.AppendUvarint(v, 1e9)
		}()},
		{"seconds out of range", func() []byte {
			v := []byte{recordFormat, 0}
			v = binary.AppendVarint(v, maxTime.Unix()+1)
			return binary.AppendUvarint(v, 0)
		}()},
	}
	for n := range len(good) {
		tests = append(tests, struct {
			name string
			v    []byte
		}{fmt.Sprintf("truncated to %d bytes", n), good[:n]})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := decodeRecord("sid", tt.v); !errors.Is(err, errCorrupt) {
				t.Errorf("decodeRecord = %v, want errCorrupt", err)
			}
		})
	}
}

// sampleRecordWithSubjectLen is a value whose subject claims n bytes.
func sampleRecordWithSubjectLen(n uint64) []byte {
	r := sampleRecord(0)
	v := []byte{recordFormat, 0}
	v = appendTime(v, r.Session.IdleExpiresAt)
	v = appendTime(v, r.Session.ExpiresAt)
	v = binary.AppendUvarint(v, n)
	return append(v, "alice"...)
}

func TestLiveIn(t *testing.T) {
	t.Parallel()
	r := sampleRecord(2)
	revoked := sampleRecord(2)
	revoked.Revoked = true
	tests := []struct {
		name    string
		v       []byte
		subject string
		now     time.Time
		want    bool
	}{
		{"live", r.encode(), r.Session.Subject, r.Session.CreatedAt, true},
		{"1ns before idle expiry", r.encode(), r.Session.Subject, r.Session.IdleExpiresAt.Add(-1), true},
		{"at idle expiry", r.encode(), r.Session.Subject, r.Session.IdleExpiresAt, false},
		{"other subject", r.encode(), "bob", r.Session.CreatedAt, false},
		{"subject prefix", r.encode(), r.Session.Subject[:3], r.Session.CreatedAt, false},
		{"revoked", revoked.encode(), r.Session.Subject, r.Session.CreatedAt, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := liveIn(tt.v, tt.subject, tt.now)
			if err != nil || got != tt.want {
				t.Errorf("liveIn = %v, %v; want %v", got, err, tt.want)
			}
			// It agrees with the full decoding.
			rec, err := decodeRecord("sid", tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if full := rec.LiveFor(tt.subject, tt.now); full != got {
				t.Errorf("liveIn = %v but the decoded record's liveFor = %v", got, full)
			}
		})
	}
	if _, err := liveIn([]byte{recordFormat}, "alice", r.Session.CreatedAt); !errors.Is(err, errCorrupt) {
		t.Errorf("liveIn of a truncated value = %v, want errCorrupt", err)
	}
}

func TestMatches(t *testing.T) {
	t.Parallel()
	r := sampleRecord(store.MinSpentHistory + 4) // G = MinSpentHistory+5, spent trimmed below
	r.Spent = r.Spent[len(r.Spent)-store.MinSpentHistory:]
	G := r.Session.Generation
	tests := []struct {
		name      string
		g         uint64
		presented [32]byte
		want      bool
	}{
		{"current", G, r.Current, true},
		{"current hash under the previous generation", G - 1, r.Current, false},
		{"previous", G - 1, r.Spent[len(r.Spent)-1], true},
		{"oldest kept", G - store.MinSpentHistory, r.Spent[0], true},
		{"oldest kept under the wrong generation", G - store.MinSpentHistory + 1, r.Spent[0], false},
		{"beyond the history", G - store.MinSpentHistory - 1, r.Spent[0], false},
		{"future generation", G + 1, r.Current, false},
		{"generation 0", 0, r.Current, false},
		{"wrong hash", G, sha256.Sum256([]byte("x")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := r.Matches(tt.g, tt.presented); got != tt.want {
				t.Errorf("matches(%d) = %v, want %v", tt.g, got, tt.want)
			}
		})
	}
}

func TestExpiryKeysSortByTime(t *testing.T) {
	t.Parallel()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	times := []time.Time{
		time.Time{}, time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), base.Add(-time.Second),
		base, base.Add(time.Nanosecond), base.Add(time.Second), maxTime,
	}
	for i := 1; i < len(times); i++ {
		a := expiryKey(kindSession, times[i-1], []byte("zzz"))
		b := expiryKey(kindSession, times[i], []byte("aaa"))
		if bytes.Compare(a, b) >= 0 && forgetSecond(times[i-1]) != forgetSecond(times[i]) {
			t.Errorf("expiry key of %v does not sort before that of %v", times[i-1], times[i])
		}
	}
	// The forget second is never before expiry + margin.
	for _, at := range times[:len(times)-1] {
		if f := time.Unix(forgetSecond(at), 0); f.Before(at.Add(sweepMargin)) {
			t.Errorf("forgetSecond(%v) = %v, before expiry + margin", at, f)
		}
	}
}

func TestPrefixKeysDoNotMix(t *testing.T) {
	t.Parallel()
	// No key of one subject starts with the prefix of another.
	subjects := []string{"", "a", "ab", "a\x00", "\x01a", string(bytes.Repeat([]byte("x"), 200))}
	for _, a := range subjects {
		for _, b := range subjects {
			if a == b {
				continue
			}
			if bytes.HasPrefix(prefixKey(a, "sid"), prefixKey(b, "")) {
				t.Errorf("key of subject %q starts with the prefix of subject %q", a, b)
			}
		}
	}
}

// FuzzDecodeRecord: decoding arbitrary bytes never panics, and whatever
// decodes encodes to a value that decodes to the same record.
func FuzzDecodeRecord(f *testing.F) {
	for _, n := range []int{0, 1, store.MinSpentHistory} {
		f.Add(sampleRecord(n).encode())
	}
	rev := sampleRecord(2)
	rev.Revoked = true
	f.Add(rev.encode())
	f.Add([]byte{recordFormat, 0, 0})
	f.Fuzz(func(t *testing.T, v []byte) {
		r, err := decodeRecord("sid", v)
		if _, lerr := liveIn(v, "alice", time.Unix(0, 0)); err == nil && lerr != nil {
			t.Fatalf("liveIn refused a value decodeRecord accepts: %v", lerr)
		}
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("decodeRecord error %v does not wrap errCorrupt", err)
			}
			return
		}
		again, err := decodeRecord("sid", r.encode())
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		sameRecord(t, again, r)
	})
}
