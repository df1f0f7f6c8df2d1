package redisstore

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// A session is one Redis string: a fixed-width header, then four parts whose
// lengths the header gives.
//
//	offset len  field (offsets 0-based; the scripts' string.sub is 1-based)
//	0      1    format, "2"
//	1      1    revoked: "0" or "1"
//	2      16   Generation          (decimal, zero-padded; times may be negative)
//	18     16   IdleExpiresAt, Unix milliseconds
//	34     16   ExpiresAt, Unix milliseconds
//	50     16   LastUsedAt, Unix milliseconds
//	66     16   time of the last rotation, Unix milliseconds; 0 before the first
//	82     32   SHA-256 of the current secret
//	114    6    length of the fixed part
//	120    6    length of the claims
//	126    2    spent-hash slots: "00" before the first rotation, then spentKeep
//	128    6    length of the sealed successor
//	134         the fixed part: subject, then client id, scope, user agent, IP
//	            and CreatedAt, each as decimal length, ':' and bytes
//	            ("5:alice"); the subject's comes first so that a script can
//	            check it with one comparison
//	            the application claims, verbatim (empty when there are none)
//	            the spent-hash slots, 32 bytes each: generation g's hash is in
//	            slot g mod spentKeep, for the last spentKeep generations
//	            before the current one G (and not before the first)
//	            the successor sealed at the last rotation
//
// The scripts (scripts.go) read the header at fixed offsets and never decode
// the parts: a rotation overwrites, in place, the header, one spent-hash slot
// and the sealed successor (the first rotation, a rotation that replaces the
// claims or one whose sealed successor has another length writes the record
// anew, copying the fixed part verbatim); a revocation overwrites one byte. One
// string per session also costs about half the memory of a Redis hash with a
// field per value, whose values over 64 bytes (user agent, spent hashes, sealed
// successor) take it out of the compact listpack encoding (see BENCHMARKS.md
// for the measured bytes).
const (
	recordFormat = '2'

	offRevoked   = 1
	offGen       = 2
	offIdle      = 18
	offExpires   = 34
	offLastUsed  = 50
	offRotatedAt = 66
	offCurrent   = 82
	offFixedLen  = 114
	offClaimsLen = 120
	offSpent     = 126
	offSealedLen = 128
	headerLen    = 134

	numWidth = 16 // width of the header's numbers
	lenWidth = 6  // width of the header's lengths
	// maxPart is the longest fixed part, claims or sealed successor a
	// record can hold (lenWidth decimal digits).
	maxPart = 999_999
	// spentKeep is how many spent hashes a session keeps: exactly the
	// contract's minimum, which bounds a session's size (16 * 32 bytes).
	spentKeep = store.MinSpentHistory
	// minNum and maxNum bound the header's numbers (numWidth characters,
	// with a sign for negative ones): years -29719 to 318857 in ms.
	minNum = -999_999_999_999_999
	maxNum = 9_999_999_999_999_999
)

// The header gives the number of spent-hash slots in two digits.
const _ = uint(99 - spentKeep)

var (
	errCorrupt    = errors.New("corrupt session record")
	errOutOfRange = errors.New("time out of range")
	errTooLong    = fmt.Errorf("session data too long: %w", store.ErrTooLarge)
)

// record is a decoded session. Its strings share the memory of the string
// it was decoded from.
type record struct {
	subject   string
	clientID  string
	scope     string
	userAgent string
	ip        string
	created   int64
	claims    string
	lastUsed  int64
	idle      int64
	expires   int64
	gen       uint64
	current   string
	spent     string // the spent-hash slots, "" or spentKeep*32 bytes; only in full records
	sealed    string // only in full records
	rotatedAt int64  // 0 before the first rotation
	revoked   bool
}

// num formats v as a header number, or fails when it does not fit.
func num(v int64) (string, error) {
	if v < minNum || v > maxNum {
		return "", errOutOfRange
	}
	return pad(v, numWidth), nil
}

// pad formats v zero-padded to width characters, after the sign if any. v
// must fit.
func pad(v int64, width int) string {
	var b [24]byte
	return string(appendPad(b[:0], v, width))
}

// appendPad appends v zero-padded to width characters (at most 24), after
// the sign if any. v must fit.
func appendPad(b []byte, v int64, width int) []byte {
	var d [24]byte
	neg := v < 0
	if neg {
		v = -v
	}
	i := len(d)
	for range width {
		i--
		d[i] = byte('0' + v%10)
		v /= 10
	}
	if neg {
		d[i] = '-' // the leading digit of a fitting negative number is 0
	}
	return append(b, d[i:]...)
}

// appendField appends one length-prefixed field.
func appendField(b []byte, v string) []byte {
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, ':')
	return append(b, v...)
}

// encodeNew encodes a session as Create stores it: generation 1, no spent
// hashes, nothing sealed, not revoked.
func encodeNew(s *store.Session, hash [32]byte) ([]byte, error) {
	var fixed []byte
	fixed = appendField(fixed, s.Subject)
	fixed = appendField(fixed, s.ClientID)
	fixed = appendField(fixed, s.Scope)
	fixed = appendField(fixed, s.Device.UserAgent)
	fixed = appendField(fixed, s.Device.IP)
	fixed = appendField(fixed, strconv.FormatInt(ms(s.CreatedAt), 10))
	if len(fixed) > maxPart || len(s.Claims) > maxPart {
		return nil, errTooLong
	}
	var nums [4]string
	for i, t := range []time.Time{s.IdleExpiresAt, s.ExpiresAt, s.LastUsedAt, {}} {
		v := int64(0) // no rotation yet
		if i < 3 {
			v = ms(t)
		}
		var err error
		if nums[i], err = num(v); err != nil {
			return nil, err
		}
	}
	b := make([]byte, 0, headerLen+len(fixed)+len(s.Claims))
	b = append(b, recordFormat, '0')
	b = append(b, pad(1, numWidth)...)
	for _, n := range nums {
		b = append(b, n...)
	}
	b = append(b, hash[:]...)
	b = append(b, pad(int64(len(fixed)), lenWidth)...)
	b = append(b, pad(int64(len(s.Claims)), lenWidth)...)
	b = append(b, "00"...)
	b = append(b, pad(0, lenWidth)...)
	b = append(b, fixed...)
	b = append(b, s.Claims...)
	return b, nil
}

// headerInt parses the header number or length at b[off:off+width].
func headerInt(b string, off, width int) (int64, bool) {
	v, err := strconv.ParseInt(b[off:off+width], 10, 64)
	return v, err == nil
}

// decodeRecord decodes a stored session. A full record has its spent hashes
// and sealed successor; the scripts answer with the record cut after its
// claims (full == false), which is all a Session needs.
func decodeRecord(b string, full bool) (*record, error) {
	if len(b) < headerLen || b[0] != recordFormat {
		return nil, errCorrupt
	}
	r := &record{current: b[offCurrent : offCurrent+32]}
	switch b[offRevoked] {
	case '0':
	case '1':
		r.revoked = true
	default:
		return nil, errCorrupt
	}
	var gen, fixedLen, claimsLen, slots, sealedLen int64
	var ok [9]bool
	gen, ok[0] = headerInt(b, offGen, numWidth)
	r.idle, ok[1] = headerInt(b, offIdle, numWidth)
	r.expires, ok[2] = headerInt(b, offExpires, numWidth)
	r.lastUsed, ok[3] = headerInt(b, offLastUsed, numWidth)
	r.rotatedAt, ok[4] = headerInt(b, offRotatedAt, numWidth)
	fixedLen, ok[5] = headerInt(b, offFixedLen, lenWidth)
	claimsLen, ok[6] = headerInt(b, offClaimsLen, lenWidth)
	slots, ok[7] = headerInt(b, offSpent, 2)
	sealedLen, ok[8] = headerInt(b, offSealedLen, lenWidth)
	for _, o := range ok {
		if !o {
			return nil, errCorrupt
		}
	}
	if gen <= 0 || fixedLen < 0 || claimsLen < 0 || sealedLen < 0 || (gen == 1) != (slots == 0) || (slots != 0 && slots != spentKeep) {
		return nil, errCorrupt
	}
	r.gen = uint64(gen)
	end := headerLen + int(fixedLen) + int(claimsLen)
	if full {
		if len(b) != end+int(slots)*32+int(sealedLen) {
			return nil, errCorrupt
		}
		r.spent = b[end : end+int(slots)*32]
		r.sealed = b[end+int(slots)*32:]
	} else if len(b) != end {
		return nil, errCorrupt
	}
	fields, err := splitFields(b[headerLen:headerLen+int(fixedLen)], 6)
	if err != nil {
		return nil, err
	}
	r.subject, r.clientID, r.scope, r.userAgent, r.ip = fields[0], fields[1], fields[2], fields[3], fields[4]
	if r.created, err = strconv.ParseInt(fields[5], 10, 64); err != nil {
		return nil, errCorrupt
	}
	r.claims = b[headerLen+int(fixedLen) : end]
	return r, nil
}

// splitFields splits b into exactly n length-prefixed fields.
func splitFields(b string, n int) ([]string, error) {
	out := make([]string, 0, n)
	for len(out) < n {
		i := 0
		for i < len(b) && i < lenWidth && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == 0 || i >= len(b) || b[i] != ':' || (i > 1 && b[0] == '0') {
			return nil, errCorrupt
		}
		l, _ := strconv.Atoi(b[:i]) // at most lenWidth digits: cannot fail
		b = b[i+1:]
		if l > len(b) {
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

// session returns the record as a store.Session with id. Its Claims are a
// copy: the caller may keep and change them.
func (r *record) session(id string) store.Session {
	s := store.Session{
		ID:            id,
		Subject:       r.subject,
		ClientID:      r.clientID,
		Scope:         r.scope,
		Device:        store.Device{UserAgent: r.userAgent, IP: r.ip},
		CreatedAt:     fromMS(r.created),
		LastUsedAt:    fromMS(r.lastUsed),
		IdleExpiresAt: fromMS(r.idle),
		ExpiresAt:     fromMS(r.expires),
		Generation:    r.gen,
	}
	if r.claims != "" {
		s.Claims = []byte(r.claims)
	}
	return s
}

// live reports whether the record is not revoked and live at now (Unix ms).
func (r *record) live(now int64) bool {
	return !r.revoked && now < r.idle && now < r.expires
}

// expected returns the hash that generation g selects: the current one for
// the record's generation G, the one in slot g mod spentKeep for the kept
// spent generations G-spentKeep <= g < G; "" else. The same rule is in the
// scripts' expected().
func (r *record) expected(g uint64) string {
	G := r.gen
	switch {
	case g == G:
		return r.current
	case g < G && G-g <= spentKeep && len(r.spent) == spentKeep*32:
		off := (g % spentKeep) * 32
		return r.spent[off : off+32]
	}
	return ""
}

// ms converts t to Unix milliseconds: the store keeps times at millisecond
// precision, as the conformance suite expects.
func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// headerLiveFor reports, from the start of a stored session (its header
// and at least its subject's field, as CheckAccess reads it), whether the
// session is subject's, not revoked and live at now (Unix ms). It is what
// the scripts' live() and owned() decide.
func headerLiveFor(b, subject string, now int64) (bool, error) {
	if len(b) < headerLen || b[0] != recordFormat || (b[offRevoked] != '0' && b[offRevoked] != '1') {
		return false, errCorrupt
	}
	idle, ok1 := headerInt(b, offIdle, numWidth)
	expires, ok2 := headerInt(b, offExpires, numWidth)
	if !ok1 || !ok2 {
		return false, errCorrupt
	}
	field := strconv.Itoa(len(subject)) + ":" + subject
	owned := len(b) >= headerLen+len(field) && b[headerLen:headerLen+len(field)] == field
	return owned && b[offRevoked] == '0' && now < idle && now < expires, nil
}
