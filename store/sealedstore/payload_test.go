package sealedstore

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

func sameData(a, b *data) bool {
	return a.hash == b.hash && a.s.ID == b.s.ID && a.s.Subject == b.s.Subject && a.s.ClientID == b.s.ClientID &&
		a.s.Scope == b.s.Scope && bytes.Equal(a.s.Claims, b.s.Claims) && (a.s.Claims == nil) == (b.s.Claims == nil) &&
		a.s.Device == b.s.Device && a.s.CreatedAt.Equal(b.s.CreatedAt) && a.s.LastUsedAt.Equal(b.s.LastUsedAt) &&
		a.s.IdleExpiresAt.Equal(b.s.IdleExpiresAt) && a.s.ExpiresAt.Equal(b.s.ExpiresAt) && a.s.Generation == b.s.Generation
}

// TestPayloadRoundTrip: every field survives encoding, nil claims stay nil
// and empty ones empty, times keep their millisecond, and payloadLen is the
// encoded length.
func TestPayloadRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 2, 3, 4, 5, 678_000_000, time.UTC)
	full := data{hash: [32]byte{1, 2, 3, 31: 9}, s: store.Session{
		ID: "sid", Subject: "sub\x00ject {tag} ü", ClientID: "client", Scope: "a b",
		Claims: []byte(`{"a": [1, 2.50]}`), Device: store.Device{UserAgent: strings.Repeat("ua", 200), IP: "::1"},
		CreatedAt: at, LastUsedAt: at.Add(time.Hour), IdleExpiresAt: at.Add(2 * time.Hour), ExpiresAt: at.Add(24 * time.Hour),
		Generation: 1 << 40,
	}}
	noClaims, emptyClaims, old := full, full, full
	noClaims.s.Claims = nil
	emptyClaims.s.Claims = []byte{}
	old.s.CreatedAt = time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC) // negative Unix milliseconds
	for _, tt := range []struct {
		name string
		d    data
	}{{"full", full}, {"nil claims", noClaims}, {"empty claims", emptyClaims}, {"before 1970", old}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := appendPayload(nil, &tt.d)
			if len(b) != payloadLen(&tt.d) {
				t.Fatalf("payloadLen = %d, encoded %d bytes", payloadLen(&tt.d), len(b))
			}
			got, err := decodePayload(b)
			if err != nil {
				t.Fatalf("decodePayload: %v", err)
			}
			if !sameData(got, &tt.d) {
				t.Fatalf("round trip: got %+v, want %+v", got, tt.d)
			}
			for n := range len(b) {
				if _, err := decodePayload(b[:n]); err == nil {
					t.Fatalf("decodePayload accepted the payload cut to %d of %d bytes", n, len(b))
				}
			}
			if _, err := decodePayload(append(bytes.Clone(b), 0)); err == nil {
				t.Fatalf("decodePayload accepted a trailing byte")
			}
		})
	}
	zero := full
	zero.s.Generation = 0
	if _, err := decodePayload(appendPayload(nil, &zero)); err == nil {
		t.Fatalf("decodePayload accepted generation 0")
	}
}

// FuzzDecodePayload: decoding never panics, and whatever decodes encodes
// back to something that decodes the same.
func FuzzDecodePayload(f *testing.F) {
	d := data{s: store.Session{ID: "sid", Subject: "u", Claims: []byte(`{}`), CreatedAt: time.UnixMilli(1e12), Generation: 3}}
	f.Add(appendPayload(nil, &d))
	d.s.Claims = nil
	f.Add(appendPayload(nil, &d))
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodePayload(b)
		if err != nil {
			return
		}
		again, err := decodePayload(appendPayload(nil, got))
		if err != nil || !sameData(got, again) {
			t.Fatalf("re-encoding a decoded payload changed it: %v", err)
		}
	})
}
