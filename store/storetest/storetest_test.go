package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

func TestCapPhrase(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		c    store.Capabilities
		want string
	}{
		{store.UseOnce, "capability UseOnce"},
		{store.ReuseDetection | store.Versions, "capabilities ReuseDetection|Versions"},
		{store.All, "capabilities ReuseDetection|RevokeSessions|ListSessions|Versions|DenyList|UseOnce"},
		{1 << 20, "capability 0x100000"},
	} {
		if got := capPhrase(tc.c); got != tc.want {
			t.Errorf("capPhrase(%#x) = %q, want %q", uint32(tc.c), got, tc.want)
		}
	}
}

func TestDiffSession(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	s := store.Session{
		ID: "id", Subject: "sub", Claims: []byte(`{"a": 1}`),
		CreatedAt: at, LastUsedAt: at, IdleExpiresAt: at.Add(time.Hour), ExpiresAt: at.Add(24 * time.Hour), Generation: 1,
	}

	same := s
	same.CreatedAt = at.In(time.FixedZone("X", 3600)).Add(999 * time.Microsecond) // same millisecond, other zone
	if d := diffSession(same, s); d != "" {
		t.Errorf("diffSession of equal sessions (ms precision, any zone) = %q, want none", d)
	}

	noClaims, emptyClaims := s, s
	noClaims.Claims, emptyClaims.Claims = nil, []byte{}
	if d := diffSession(emptyClaims, noClaims); d != "" {
		t.Errorf("diffSession treats nil and empty claims as different: %q", d)
	}

	bad := s
	bad.Claims = []byte(`{"a":1}`) // re-encoded, not verbatim
	bad.Generation = 2
	bad.IdleExpiresAt = bad.IdleExpiresAt.Add(time.Millisecond)
	d := diffSession(bad, s)
	for _, field := range []string{"Claims", "Generation", "IdleExpiresAt"} {
		if !strings.Contains(d, field) {
			t.Errorf("diffSession misses a difference in %s: %q", field, d)
		}
	}
}

func TestAfterCapsIdleExpiry(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	s := store.Session{CreatedAt: at, LastUsedAt: at, IdleExpiresAt: at.Add(time.Hour), ExpiresAt: at.Add(2 * time.Hour), Generation: 1}
	got := after(s, store.Rotation{Now: at.Add(time.Minute), IdleExpiresAt: at.Add(5 * time.Hour)})
	if got.Generation != 2 || !got.LastUsedAt.Equal(at.Add(time.Minute)) || !got.IdleExpiresAt.Equal(s.ExpiresAt) {
		t.Errorf("after = generation %d, last used %v, idle %v; want 2, +1m, capped at %v", got.Generation, got.LastUsedAt, got.IdleExpiresAt, s.ExpiresAt)
	}
}

func TestHandleAlphabet(t *testing.T) {
	t.Parallel()
	for _, r := range "azAZ09-_~" {
		if !isHandleChar(r) {
			t.Errorf("isHandleChar(%q) = false", r)
		}
	}
	for _, r := range ".+/= \x00ü%" {
		if isHandleChar(r) {
			t.Errorf("isHandleChar(%q) = true", r)
		}
	}
}
