package pgstore

import (
	"bytes"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// FuzzDecodeSpent: decodeSpent never panics, accepts exactly the values
// encodeSpent makes (multiples of 32 bytes, at most MinSpentHistory
// hashes) and gives them back.
func FuzzDecodeSpent(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 32))
	f.Add(make([]byte, 33))
	f.Add(make([]byte, 32*store.MinSpentHistory))
	f.Add(make([]byte, 32*(store.MinSpentHistory+1)))
	f.Fuzz(func(t *testing.T, b []byte) {
		spent, err := decodeSpent(b)
		valid := len(b)%32 == 0 && len(b) <= 32*store.MinSpentHistory
		if (err == nil) != valid {
			t.Fatalf("decodeSpent(%d bytes): %v", len(b), err)
		}
		if err == nil && !bytes.Equal(encodeSpent(spent), b) {
			t.Fatal("encodeSpent(decodeSpent(b)) != b")
		}
	})
}

// TestTimes: times round-trip to the nanosecond and absurd ones clamp.
func TestTimes(t *testing.T) {
	t.Parallel()
	for _, tm := range []time.Time{time.Date(2031, 3, 4, 5, 6, 7, 8, time.UTC), time.Unix(0, 0).UTC()} {
		if got := fromNS(ns(tm)); !got.Equal(tm) {
			t.Errorf("%v came back as %v", tm, got)
		}
	}
	if got := fromNS(ns(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))); !got.Equal(maxTime) {
		t.Errorf("year 9999 came back as %v, want %v", got, maxTime)
	}
	if got := fromNS(ns(time.Time{})); !got.Equal(minTime) {
		t.Errorf("the zero time came back as %v, want %v", got, minTime)
	}
}

// TestNameKeys: moving bytes between two names changes the key.
func TestNameKeys(t *testing.T) {
	t.Parallel()
	if bytes.Equal(nameKey(keyDeny, "ab", "c"), nameKey(keyDeny, "a", "bc")) {
		t.Error("(ab, c) and (a, bc) share a key")
	}
	if bytes.Equal(nameKey(keyDeny, "a", "b"), nameKey(keyOnce, "a", "b")) {
		t.Error("a deny key equals a use-once key")
	}
}
