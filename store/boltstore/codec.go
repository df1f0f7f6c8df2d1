package boltstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// recordFormat is the first byte of every session value; a value starting
// with anything else is refused as corrupt.
const recordFormat = 1

// flagRevoked marks a revoked session in the flags byte of its value.
const flagRevoked = 1 << 0

// errCorrupt is wrapped by every decoding error. It never carries the bytes
// it failed on: a session value holds hashes and a sealed successor.
var errCorrupt = errors.New("boltstore: corrupt record")

// record is one stored session: the record the rotation rules of
// [store.Record] decide over, decoded from its value for the length of a
// transaction. Its Session's ID comes from the key, not the value.
type record struct {
	store.Record
}

// A session value, in order (uvarint and varint as in encoding/binary; a
// string or byte field is a uvarint length and the bytes; a time is the
// varint Unix seconds and the uvarint nanoseconds):
//
//	format byte (1), flags byte, IdleExpiresAt, ExpiresAt, Subject,
//	Generation, current hash (32 bytes), count of spent hashes and the
//	hashes (32 bytes each), rotation time, sealed successor, ClientID,
//	Scope, Claims (uvarint length+1, 0 for nil, then the bytes),
//	Device.UserAgent, Device.IP, CreatedAt, LastUsedAt.
//
// What CheckAccess needs (revoked flag, expiries, subject) comes first, so
// that it reads a prefix without decoding the rest.

// encode returns the value of r in a new buffer (bbolt needs the buffer to
// stay untouched until the transaction ends).
func (r *record) encode() []byte {
	s := &r.Session
	n := 64 + len(s.Subject) + 33 + len(r.Spent)*32 + 16 + len(r.Sealed) + len(s.ClientID) +
		len(s.Scope) + len(s.Claims) + len(s.Device.UserAgent) + len(s.Device.IP) + 40
	b := make([]byte, 0, n)
	flags := byte(0)
	if r.Revoked {
		flags |= flagRevoked
	}
	b = append(b, recordFormat, flags)
	b = appendTime(b, s.IdleExpiresAt)
	b = appendTime(b, s.ExpiresAt)
	b = appendString(b, s.Subject)
	b = binary.AppendUvarint(b, s.Generation)
	b = append(b, r.Current[:]...)
	b = binary.AppendUvarint(b, uint64(len(r.Spent)))
	for _, h := range r.Spent {
		b = append(b, h[:]...)
	}
	b = appendTime(b, r.RotatedAt)
	b = appendBytes(b, r.Sealed)
	b = appendString(b, s.ClientID)
	b = appendString(b, s.Scope)
	if s.Claims == nil {
		b = binary.AppendUvarint(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(s.Claims))+1)
		b = append(b, s.Claims...)
	}
	b = appendString(b, s.Device.UserAgent)
	b = appendString(b, s.Device.IP)
	b = appendTime(b, s.CreatedAt)
	b = appendTime(b, s.LastUsedAt)
	return b
}

// decodeRecord decodes the value v of session id. Everything it returns is
// copied out of v, which bbolt owns.
func decodeRecord(id string, v []byte) (*record, error) {
	d := decoder{b: v}
	flags := d.header()
	r := &record{store.Record{Revoked: flags&flagRevoked != 0}}
	s := &r.Session
	s.ID = id
	s.IdleExpiresAt = d.time()
	s.ExpiresAt = d.time()
	s.Subject = d.string()
	s.Generation = d.uvarint()
	r.Current = d.hash()
	n := d.uvarint()
	if d.err == nil && (n > store.MinSpentHistory || s.Generation == 0 || n > s.Generation-1) {
		d.fail()
	}
	if d.err == nil && n > 0 {
		r.Spent = make([][32]byte, n)
		for i := range r.Spent {
			r.Spent[i] = d.hash()
		}
	}
	r.RotatedAt = d.time()
	if sealed := d.bytes(); len(sealed) > 0 {
		r.Sealed = bytes.Clone(sealed)
	}
	s.ClientID = d.string()
	s.Scope = d.string()
	if c := d.uvarint(); c > 0 {
		if b := d.take(c - 1); b != nil {
			s.Claims = bytes.Clone(b)
		}
	}
	s.Device.UserAgent = d.string()
	s.Device.IP = d.string()
	s.CreatedAt = d.time()
	s.LastUsedAt = d.time()
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return nil, d.err
	}
	return r, nil
}

// liveIn reports, from a session value, whether the session belongs to
// subject, is not revoked and is live at now. It reads only the value's
// prefix and allocates nothing.
func liveIn(v []byte, subject string, now time.Time) (bool, error) {
	d := decoder{b: v}
	flags := d.header()
	idle, abs := d.time(), d.time()
	subj := d.take(d.uvarint())
	if d.err != nil {
		return false, d.err
	}
	return flags&flagRevoked == 0 && string(subj) == subject && (&store.Session{IdleExpiresAt: idle, ExpiresAt: abs}).Live(now), nil
}

// encodeTime returns a deny-list or use-once value: the time it lasts until.
func encodeTime(t time.Time) []byte { return appendTime(make([]byte, 0, 16), t) }

// decodeTime decodes a value made by encodeTime.
func decodeTime(v []byte) (time.Time, error) {
	d := decoder{b: v}
	t := d.time()
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	return t, d.err
}

// encodeUint64 and decodeUint64 code a token version.
func encodeUint64(n uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), n) }

func decodeUint64(v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, errCorrupt
	}
	return binary.BigEndian.Uint64(v), nil
}

// Stored times are clamped to [minTime, maxTime]: the years 1 to 9999 hold
// every time a session store meets, and clamping keeps absurd inputs (which
// would overflow Unix seconds) from producing values that fail to decode.
var (
	minTime = time.Time{}
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

func appendTime(b []byte, t time.Time) []byte {
	if t.Before(minTime) {
		t = minTime
	} else if t.After(maxTime) {
		t = maxTime
	}
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b []byte, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// decoder reads the fields of a value. After the first failure every read
// returns a zero value and err stays set.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

// header reads the format and flags bytes.
func (d *decoder) header() byte {
	if len(d.b) < 2 || d.b[0] != recordFormat || d.b[1]&^flagRevoked != 0 {
		d.fail()
		return 0
	}
	flags := d.b[1]
	d.b = d.b[2:]
	return flags
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[k:]
	return n
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	n, k := binary.Varint(d.b)
	if k <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[k:]
	return n
}

// take returns the next n bytes, still owned by the value.
func (d *decoder) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) bytes() []byte { return d.take(d.uvarint()) }

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) hash() (h [32]byte) {
	copy(h[:], d.take(32))
	return h
}

func (d *decoder) time() time.Time {
	sec := d.varint()
	nsec := d.uvarint()
	if d.err != nil {
		return time.Time{}
	}
	if nsec >= 1e9 || sec < minTime.Unix() || sec > maxTime.Unix() {
		d.fail()
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}
