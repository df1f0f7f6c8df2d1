package pgstore

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// errCorrupt reports a row whose columns cannot be a session this store
// wrote; it surfaces as store.ErrUnavailable, like any damaged backend.
var errCorrupt = errors.New("pgstore: corrupt row")

// nameKey is the lookup key of one or two names (a subject; a subject and
// a jti; a use-once namespace and key): the SHA-256 of each name preceded
// by its length, so that no pair of names collides with another by moving
// bytes between them. Fixed-size keys keep every index entry small, whatever
// the length of the names.
func nameKey(kind byte, names ...string) []byte {
	h := sha256.New()
	var n [9]byte
	n[0] = kind
	h.Write(n[:1])
	for _, s := range names {
		binary.BigEndian.PutUint64(n[1:], uint64(len(s)))
		h.Write(n[1:])
		h.Write([]byte(s))
	}
	return h.Sum(nil)
}

// Kinds of name keys.
const (
	keySubject = 's'
	keyDeny    = 'd'
	keyOnce    = 'o'
)

// subjectKey is the lookup key of a subject's sessions and version.
func subjectKey(subject string) []byte { return nameKey(keySubject, subject) }

// Stored times are Unix nanoseconds, clamped to what an int64 holds (the
// years 1678 to 2262): no session store meets a time outside them, and
// clamping keeps absurd inputs from overflowing.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// ns encodes t.
func ns(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// fromNS decodes a time made by ns, in UTC.
func fromNS(n int64) time.Time { return time.Unix(0, n).UTC() }

// encodeSpent packs the spent hashes, oldest first, 32 bytes each.
func encodeSpent(spent [][32]byte) []byte {
	b := make([]byte, 0, 32*len(spent))
	for _, h := range spent {
		b = append(b, h[:]...)
	}
	return b
}

// decodeSpent unpacks a value made by encodeSpent: a multiple of 32 bytes,
// at most store.MinSpentHistory hashes.
func decodeSpent(b []byte) ([][32]byte, error) {
	if len(b)%32 != 0 || len(b) > 32*store.MinSpentHistory {
		return nil, errCorrupt
	}
	spent := make([][32]byte, len(b)/32, store.MinSpentHistory)
	for i := range spent {
		copy(spent[i][:], b[32*i:])
	}
	return spent, nil
}
