package redisstore

import (
	"strconv"
	"strings"
	"testing"
)

// TestParseAnnouncement reads what the scripts' announce helper writes and
// refuses everything else.
func TestParseAnnouncement(t *testing.T) {
	for _, c := range []struct {
		in   string
		want announcement
	}{
		{"v5:alice7", announcement{kind: kindVersion, subject: "alice", version: 7}},
		{"s3:a:bsid-1", announcement{kind: kindSession, subject: "a:b", id: "sid-1"}},
		{"d0:1700000000000:jti:x", announcement{kind: kindDeny, subject: "", until: 1700000000000, id: "jti:x"}},
		{"s2:\x00\xffid", announcement{kind: kindSession, subject: "\x00\xff", id: "id"}},
	} {
		got, err := parseAnnouncement(c.in)
		if err != nil || got != c.want {
			t.Errorf("parseAnnouncement(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{
		"", "v", "v5", "v5:", "v5:alic", "v5:alice", "v5:alice0", "v5:alice-1", "v5:alicex",
		"v-1:a7", "v+1:a7", "v:a7", "v99999999:a", "x1:a7", "s1:a", "d1:a", "d1:a5", "d1:a5:",
		"d1:a:jti", "d1:a0:jti", "d1:a-5:jti", "v5:alice18446744073709551616",
		"s" + strconv.Itoa(maxAnnouncement) + ":" + strings.Repeat("a", maxAnnouncement),
	} {
		if a, err := parseAnnouncement(in); err == nil {
			t.Errorf("parseAnnouncement(%q) = %+v, want an error", in, a)
		}
	}
}

// FuzzParseAnnouncement: any message is read without panicking, and one
// that is read names its parts within the message.
func FuzzParseAnnouncement(f *testing.F) {
	for _, s := range []string{"v5:alice7", "s3:a:bsid", "d1:a17:jti", "v0:", "d3:abc:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		a, err := parseAnnouncement(in)
		if err != nil {
			return
		}
		if !strings.Contains(in, a.subject) || !strings.HasSuffix(in, a.id) {
			t.Fatalf("parseAnnouncement(%q) = %+v: parts not from the message", in, a)
		}
	})
}
