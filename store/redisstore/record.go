package redisstore

import (
	"errors"
	"strconv"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// A session is one Redis string: a list of fields, each written as its length
// in decimal, a colon and its bytes ("5:alice"). Go writes it at Create; the
// Lua scripts (see scripts.go) decode it, change the rotation fields and write
// it back, copying every other field verbatim. One string per session costs
// about half the memory of a Redis hash with a field per value, whose values
// over 64 bytes (user agent, spent hashes, sealed successor) take it out of
// the compact listpack encoding: by MEMORY USAGE on Redis 7.0, a browser
// session takes 488 bytes as a string against 1064 as a hash when created,
// 1128 against 1936 after 20 rotations. The scripts read and write it with
// one command each.
//
// The field numbers below are 1-based, as in the scripts.
const (
	fFormat    = 1  // recordFormat
	fSubject   = 2  // the subject, verbatim
	fMeta      = 3  // client id, scope, user agent, IP: a nested field list only Go reads
	fClaims    = 4  // application claims, verbatim; empty when there are none
	fCreated   = 5  // CreatedAt, Unix milliseconds
	fLastUsed  = 6  // LastUsedAt, Unix milliseconds
	fIdle      = 7  // IdleExpiresAt, Unix milliseconds
	fExpires   = 8  // ExpiresAt, Unix milliseconds
	fGen       = 9  // Generation, decimal
	fCurrent   = 10 // SHA-256 of the current secret, 32 bytes
	fRing      = 11 // spent hashes, oldest first: generations G-n .. G-1, 32 bytes each, n <= spentKeep
	fSealed    = 12 // the successor sealed at the last rotation; empty before the first
	fRotatedAt = 13 // time of the last rotation, Unix milliseconds; empty before the first
	fRevoked   = 14 // "1" once revoked, else empty
	numFields  = 14

	recordFormat = "1"
	// spentKeep is how many spent hashes a session keeps: exactly the
	// contract's minimum, which bounds a session's size (16 * 32 bytes).
	spentKeep = store.MinSpentHistory
	// maxFieldLen bounds one field when decoding, far above anything
	// sessionkit writes, so that a corrupt length cannot ask for more.
	maxFieldLen = 1 << 24
)

var errCorrupt = errors.New("corrupt session record")

// record is a decoded session.
type record struct {
	subject   string
	clientID  string
	scope     string
	userAgent string
	ip        string
	claims    []byte
	created   int64
	lastUsed  int64
	idle      int64
	expires   int64
	gen       uint64
	current   []byte
	ring      []byte
	sealed    []byte
	rotatedAt int64 // 0 before the first rotation
	revoked   bool
}

// appendField appends one length-prefixed field.
func appendField(b []byte, v string) []byte {
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, ':')
	return append(b, v...)
}

func appendInt(b []byte, v int64) []byte {
	var tmp [20]byte
	return appendField(b, string(strconv.AppendInt(tmp[:0], v, 10)))
}

// encodeNew encodes a session as Create stores it: generation 1, no spent
// hashes, nothing sealed, not revoked.
func encodeNew(s *store.Session, hash [32]byte) []byte {
	var meta []byte
	meta = appendField(meta, s.ClientID)
	meta = appendField(meta, s.Scope)
	meta = appendField(meta, s.Device.UserAgent)
	meta = appendField(meta, s.Device.IP)

	b := make([]byte, 0, 160+len(s.Subject)+len(meta)+len(s.Claims))
	b = appendField(b, recordFormat)
	b = appendField(b, s.Subject)
	b = appendField(b, string(meta))
	b = appendField(b, string(s.Claims))
	b = appendInt(b, ms(s.CreatedAt))
	b = appendInt(b, ms(s.LastUsedAt))
	b = appendInt(b, ms(s.IdleExpiresAt))
	b = appendInt(b, ms(s.ExpiresAt))
	b = appendInt(b, 1)
	b = appendField(b, string(hash[:]))
	b = appendField(b, "")
	b = appendField(b, "")
	b = appendField(b, "")
	b = appendField(b, "")
	return b
}

// splitFields splits b into exactly n length-prefixed fields.
func splitFields(b string, n int) ([]string, error) {
	out := make([]string, 0, n)
	for len(out) < n {
		i := 0
		for i < len(b) && i < 9 && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == 0 || i >= len(b) || b[i] != ':' || (i > 1 && b[0] == '0') {
			return nil, errCorrupt
		}
		l, _ := strconv.Atoi(b[:i]) // at most 9 digits: cannot fail
		b = b[i+1:]
		if l > maxFieldLen || l > len(b) {
			return nil, errCorrupt
		}
		out = append(out, b[:l])
		b = b[l:]
	}
	if len(b) != 0 {
		return nil, errCorrupt
	}
	return out, nil
}

// decodeRecord decodes a stored session.
func decodeRecord(b string) (*record, error) {
	f, err := splitFields(b, numFields)
	if err != nil {
		return nil, err
	}
	if f[fFormat-1] != recordFormat {
		return nil, errCorrupt
	}
	meta, err := splitFields(f[fMeta-1], 4)
	if err != nil {
		return nil, err
	}
	r := &record{
		subject:   f[fSubject-1],
		clientID:  meta[0],
		scope:     meta[1],
		userAgent: meta[2],
		ip:        meta[3],
		current:   []byte(f[fCurrent-1]),
		ring:      []byte(f[fRing-1]),
		sealed:    []byte(f[fSealed-1]),
	}
	if c := f[fClaims-1]; c != "" {
		r.claims = []byte(c)
	}
	for _, p := range []struct {
		dst *int64
		i   int
	}{{&r.created, fCreated}, {&r.lastUsed, fLastUsed}, {&r.idle, fIdle}, {&r.expires, fExpires}} {
		if *p.dst, err = strconv.ParseInt(f[p.i-1], 10, 64); err != nil {
			return nil, errCorrupt
		}
	}
	if r.gen, err = strconv.ParseUint(f[fGen-1], 10, 64); err != nil || r.gen == 0 {
		return nil, errCorrupt
	}
	if at := f[fRotatedAt-1]; at != "" {
		if r.rotatedAt, err = strconv.ParseInt(at, 10, 64); err != nil {
			return nil, errCorrupt
		}
	}
	switch f[fRevoked-1] {
	case "":
	case "1":
		r.revoked = true
	default:
		return nil, errCorrupt
	}
	if len(r.current) != 32 || len(r.ring)%32 != 0 || len(r.ring) > spentKeep*32 {
		return nil, errCorrupt
	}
	return r, nil
}

// session returns the record as a store.Session with id.
func (r *record) session(id string) store.Session {
	return store.Session{
		ID:            id,
		Subject:       r.subject,
		ClientID:      r.clientID,
		Scope:         r.scope,
		Claims:        r.claims,
		Device:        store.Device{UserAgent: r.userAgent, IP: r.ip},
		CreatedAt:     fromMS(r.created),
		LastUsedAt:    fromMS(r.lastUsed),
		IdleExpiresAt: fromMS(r.idle),
		ExpiresAt:     fromMS(r.expires),
		Generation:    r.gen,
	}
}

// live reports whether the record is not revoked and live at now (Unix ms).
func (r *record) live(now int64) bool {
	return !r.revoked && now < r.idle && now < r.expires
}

// expected returns the hash that generation g selects: the current one for
// the record's generation G, a kept spent one for G-n <= g < G; nil else.
// The same rule is in the scripts' expected().
func (r *record) expected(g uint64) []byte {
	G := r.gen
	switch {
	case g == G:
		return r.current
	case g < G:
		n := uint64(len(r.ring) / 32)
		if G-g <= n {
			off := (n - (G - g)) * 32
			return r.ring[off : off+32]
		}
	}
	return nil
}

// ms converts t to Unix milliseconds: the store keeps times at millisecond
// precision, as the conformance suite expects.
func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }
