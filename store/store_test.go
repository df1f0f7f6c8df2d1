package store

import (
	"strings"
	"testing"
	"time"
)

func TestCheckNewSession(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	good := func() Session {
		return Session{ID: "abc-_DEF123", Subject: "alice", Generation: 1, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	if s := good(); CheckNewSession(&s) != nil {
		t.Fatalf("a valid session refused: %v", CheckNewSession(&s))
	}
	cases := []struct {
		name string
		mod  func(*Session)
		want string
	}{
		{"empty ID", func(s *Session) { s.ID = "" }, "empty ID"},
		{"ID too long", func(s *Session) { s.ID = strings.Repeat("a", 65) }, "1 to 64"},
		{"ID with a tilde (the handle separator)", func(s *Session) { s.ID = "a~b" }, "base64url"},
		{"ID with a non-ASCII letter", func(s *Session) { s.ID = "abé" }, "base64url"},
		{"empty subject", func(s *Session) { s.Subject = "" }, "empty Subject"},
		{"generation 0", func(s *Session) { s.Generation = 0 }, "Generation is 0"},
		{"generation 2", func(s *Session) { s.Generation = 2 }, "Generation is 2"},
		{"expires at creation", func(s *Session) { s.ExpiresAt = s.CreatedAt }, "ExpiresAt"},
	}
	for _, tc := range cases {
		s := good()
		tc.mod(&s)
		if err := CheckNewSession(&s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
	// Every ID it accepts fits a stateful handle and parses back.
	for _, id := range []string{"a", strings.Repeat("Z", 64), "-_09azAZ"} {
		s := good()
		s.ID = id
		if err := CheckNewSession(&s); err != nil {
			t.Fatalf("%q: %v", id, err)
		}
		h := FormatHandle(HandleInfo{Tag: SubjectTag(s.Subject), SessionID: id, Generation: 1})
		if got, err := ParseStatefulHandle(h); err != nil || got.SessionID != id {
			t.Errorf("%q: handle %q parses to %+v, %v", id, h, got, err)
		}
	}
}

func TestCapabilitiesString(t *testing.T) {
	t.Parallel()
	for c, want := range map[Capabilities]string{
		0:                             "(none)",
		ReuseDetection:                "ReuseDetection",
		Versions | DenyList:           "Versions|DenyList",
		All:                           "ReuseDetection|RevokeSessions|ListSessions|Versions|DenyList|UseOnce",
		UseOnce | Capabilities(1<<10): "UseOnce|0x400",
	} {
		if got := c.String(); got != want {
			t.Errorf("%#x.String() = %q, want %q", uint32(c), got, want)
		}
	}
}
