package redisstore

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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
		{"times before 1970 and the zero time", testSession(func(s *store.Session) {
			s.CreatedAt = time.Time{}
			s.LastUsedAt = time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hash := sha256.Sum256([]byte(tt.name))
			b, err := encodeNew(&tt.s, hash)
			if err != nil {
				t.Fatalf("encodeNew: %v", err)
			}
			rec, err := decodeRecord(string(b), true)
			if err != nil {
				t.Fatalf("decodeRecord(encodeNew(...)): %v", err)
			}
			if d := diff(rec.session(tt.s.ID), tt.s); d != "" {
				t.Errorf("round trip: %s", d)
			}
			if rec.current != string(hash[:]) || rec.spent != "" || rec.sealed != "" || rec.rotatedAt != 0 || rec.revoked {
				t.Errorf("a new record has the login hash, no spent hashes, nothing sealed, no rotation, not revoked: got %+v", rec)
			}
			// The scripts answer with a new record as it is: all of it is
			// the part up to the claims.
			if _, err := decodeRecord(string(b), false); err != nil {
				t.Errorf("decodeRecord(new record, up to its claims): %v", err)
			}
		})
	}
}

func diff(got, want store.Session) string {
	if len(want.Claims) == 0 {
		want.Claims = nil
	}
	ms := func(t time.Time) time.Time { return t.Truncate(time.Millisecond) }
	if got.ID != want.ID || got.Subject != want.Subject || got.ClientID != want.ClientID ||
		got.Scope != want.Scope || !bytes.Equal(got.Claims, want.Claims) || got.Device != want.Device ||
		!got.CreatedAt.Equal(ms(want.CreatedAt)) || !got.LastUsedAt.Equal(ms(want.LastUsedAt)) ||
		!got.IdleExpiresAt.Equal(ms(want.IdleExpiresAt)) || !got.ExpiresAt.Equal(ms(want.ExpiresAt)) ||
		got.Generation != want.Generation {
		return "got " + sessionString(got) + ", want " + sessionString(want)
	}
	return ""
}

func sessionString(s store.Session) string {
	return strings.Join([]string{s.ID, s.Subject, s.ClientID, s.Scope, string(s.Claims), s.Device.UserAgent, s.Device.IP,
		s.CreatedAt.String(), s.LastUsedAt.String(), s.IdleExpiresAt.String(), s.ExpiresAt.String()}, "|")
}

func TestEncodeNewRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    store.Session
	}{
		{"expiry past year 318857", testSession(func(s *store.Session) { s.ExpiresAt = time.UnixMilli(maxNum + 1) })},
		{"last use before year -29719", testSession(func(s *store.Session) { s.LastUsedAt = time.UnixMilli(minNum - 1) })},
		{"claims of a megabyte", testSession(func(s *store.Session) { s.Claims = make([]byte, maxPart+1) })},
		{"user agent of a megabyte", testSession(func(s *store.Session) { s.Device.UserAgent = strings.Repeat("a", maxPart) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := encodeNew(&tt.s, [32]byte{}); err == nil {
				t.Errorf("encodeNew accepted it")
			}
		})
	}
}

// rawRecord builds a full record field by field, for decoding tests.
type rawRecord struct {
	format, revoked                         string
	gen, idle, expires, lastUsed, rotatedAt string
	current                                 string
	fixedLen, claimsLen, spentN, sealedLen  string
	fixed, claims, spent, sealed            string
}

func validRaw() rawRecord {
	fixed := string(appendField(appendField(appendField(appendField(appendField(appendField(nil,
		"alice"), ""), "read"), "ua"), "ip"), "1000"))
	return rawRecord{
		format: "2", revoked: "0",
		gen: pad(3, numWidth), idle: pad(2000, numWidth), expires: pad(3000, numWidth),
		lastUsed: pad(1500, numWidth), rotatedAt: pad(1500, numWidth),
		current:  strings.Repeat("c", 32),
		fixedLen: pad(int64(len(fixed)), lenWidth), claimsLen: pad(2, lenWidth),
		spentN: "16", sealedLen: pad(6, lenWidth),
		fixed: fixed, claims: "{}", spent: strings.Repeat("s", spentKeep*32), sealed: "sealed",
	}
}

func (r rawRecord) String() string {
	return r.format + r.revoked + r.gen + r.idle + r.expires + r.lastUsed + r.rotatedAt + r.current +
		r.fixedLen + r.claimsLen + r.spentN + r.sealedLen + r.fixed + r.claims + r.spent + r.sealed
}

func TestDecodeRecord(t *testing.T) {
	t.Parallel()
	rec, err := decodeRecord(validRaw().String(), true)
	if err != nil {
		t.Fatalf("the valid record does not decode: %v", err)
	}
	if rec.gen != 3 || rec.idle != 2000 || rec.expires != 3000 || rec.lastUsed != 1500 || rec.rotatedAt != 1500 ||
		rec.subject != "alice" || rec.scope != "read" || rec.userAgent != "ua" || rec.ip != "ip" || rec.created != 1000 ||
		rec.claims != "{}" || len(rec.spent) != spentKeep*32 || rec.sealed != "sealed" || rec.revoked {
		t.Errorf("decoded %+v", rec)
	}
	pub := validRaw()
	pub.spent, pub.sealed = "", ""
	if _, err := decodeRecord(pub.String(), false); err != nil {
		t.Errorf("the record up to its claims does not decode: %v", err)
	}
}

func TestDecodeRecordRefusesCorrupt(t *testing.T) {
	t.Parallel()
	edit := func(f func(*rawRecord)) string {
		r := validRaw()
		f(&r)
		return r.String()
	}
	valid := validRaw().String()
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"header only, cut", valid[:headerLen-1]},
		{"truncated", valid[:len(valid)-1]},
		{"trailing byte", valid + "x"},
		{"format 1", edit(func(r *rawRecord) { r.format = "1" })},
		{"revoked flag 2", edit(func(r *rawRecord) { r.revoked = "2" })},
		{"generation 0", edit(func(r *rawRecord) { r.gen = pad(0, numWidth) })},
		{"generation not a number", edit(func(r *rawRecord) { r.gen = strings.Repeat("x", numWidth) })},
		{"idle expiry not a number", edit(func(r *rawRecord) { r.idle = strings.Repeat(" ", numWidth) })},
		{"15 spent-hash slots", edit(func(r *rawRecord) { r.spentN = "15"; r.spent = r.spent[32:] })},
		{"slots say 16, none there", edit(func(r *rawRecord) { r.spent = "" })},
		{"no slots after a rotation", edit(func(r *rawRecord) { r.spentN = "00"; r.spent = "" })},
		{"slots before the first rotation", edit(func(r *rawRecord) { r.gen = pad(1, numWidth) })},
		{"claims length too short", edit(func(r *rawRecord) { r.claimsLen = pad(1, lenWidth) })},
		{"negative sealed length", edit(func(r *rawRecord) { r.sealedLen = "-00001" })},
		{"fixed part with five fields", edit(func(r *rawRecord) {
			r.fixed = string(appendField(appendField(appendField(appendField(appendField(nil, "alice"), ""), "read"), "ua"), "ip"))
			r.fixedLen = pad(int64(len(r.fixed)), lenWidth)
		})},
		{"creation time not a number", edit(func(r *rawRecord) {
			r.fixed = string(appendField(appendField(appendField(appendField(appendField(appendField(nil, "alice"), ""), "read"), "ua"), "ip"), "soon"))
			r.fixedLen = pad(int64(len(r.fixed)), lenWidth)
		})},
		{"field length past its part", edit(func(r *rawRecord) { r.fixed = "9" + r.fixed[1:] })},
		{"field length with a leading zero", edit(func(r *rawRecord) { r.fixed = "05:alice" + r.fixed[7:] })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if rec, err := decodeRecord(tt.in, true); err == nil {
				t.Errorf("decodeRecord accepted a corrupt record: %+v", rec)
			}
		})
	}
}

func TestExpectedHash(t *testing.T) {
	t.Parallel()
	h := func(g int) string { return strings.Repeat(string(rune('a'+g)), 32) }
	// Generation 20: generations 4 to 19 are kept, generation g in slot
	// g mod 16 (slots 0 to 3 hold generations 16 to 19).
	slots := make([]string, spentKeep)
	for g := 4; g < 20; g++ {
		slots[g%spentKeep] = h(g)
	}
	rec := &record{gen: 20, current: h(20), spent: strings.Join(slots, "")}
	young := &record{gen: 3, current: h(3), spent: strings.Repeat("\x00", spentKeep*32)}
	young.spent = young.spent[:32] + h(1) + h(2) + young.spent[96:]
	fresh := &record{gen: 1, current: h(1)}
	tests := []struct {
		name string
		r    *record
		g    uint64
		want string
	}{
		{"current", rec, 20, h(20)},
		{"previous", rec, 19, h(19)},
		{"in slot 0", rec, 16, h(16)},
		{"oldest kept", rec, 4, h(4)},
		{"older than the kept history", rec, 3, ""},
		{"not reached yet", rec, 21, ""},
		{"far ahead", rec, 1e6, ""},
		{"young session, first", young, 1, h(1)},
		{"young session, previous", young, 2, h(2)},
		{"fresh session, current", fresh, 1, h(1)},
		{"fresh session, ahead", fresh, 2, ""},
	}
	for _, tt := range tests {
		if got := tt.r.expected(tt.g); got != tt.want {
			t.Errorf("%s: expected(%d) = %q, want %q", tt.name, tt.g, got, tt.want)
		}
	}
}

func TestPad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v     int64
		width int
		want  string
	}{
		{0, 6, "000000"},
		{42, 6, "000042"},
		{-5, 16, "-000000000000005"},
		{maxNum, numWidth, "9999999999999999"},
		{minNum, numWidth, "-999999999999999"},
	}
	for _, tt := range tests {
		if got := pad(tt.v, tt.width); got != tt.want {
			t.Errorf("pad(%d, %d) = %q, want %q", tt.v, tt.width, got, tt.want)
		}
	}
	for _, v := range []int64{maxNum + 1, minNum - 1} {
		if _, err := num(v); err == nil {
			t.Errorf("num(%d) accepted a number that does not fit", v)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	s := testSession(nil)
	b, err := encodeNew(&s, [32]byte{1})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(b), true)
	f.Add(validRaw().String(), true)
	f.Add(validRaw().String(), false)
	f.Add("2", false)
	f.Fuzz(func(t *testing.T, in string, full bool) {
		rec, err := decodeRecord(in, full)
		if err != nil {
			return
		}
		if len(rec.current) != 32 || (len(rec.spent) != 0 && len(rec.spent) != spentKeep*32) || rec.gen == 0 {
			t.Fatalf("decodeRecord accepted a record breaking its invariants: %+v", rec)
		}
		for d := uint64(0); d <= spentKeep+1 && d < rec.gen; d++ {
			if w := rec.expected(rec.gen - d); w != "" && len(w) != 32 {
				t.Fatalf("expected(%d) has %d bytes", rec.gen-d, len(w))
			}
		}
	})
}

// TestRotateKeys: the three keys cut from one string are the keys the
// other methods name.
func TestRotateKeys(t *testing.T) {
	s, err := New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), Options{Prefix: "p:x:"})
	if err != nil {
		t.Fatal(err)
	}
	tag := store.SubjectTag("alice")
	got := s.rotateKeys(tag, "sid-1")
	want := [3]string{s.sessionKey(tag, "sid-1"), s.versionKey(tag), s.indexKey(tag)}
	if got != want {
		t.Fatalf("rotateKeys = %q, want %q", got, want)
	}
}
