package redisstore

import (
	"errors"
	"strconv"
	"strings"
)

// Channel returns the Redis pub/sub channel on which a Store with key
// prefix prefix ("" for DefaultPrefix) announces its revocations, for a
// View or for an operator watching with SUBSCRIBE.
func Channel(prefix string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return prefix + "revoked"
}

// The kinds of announcement the scripts publish (the announce helper of
// scripts.go): the letter, the subject's length, ':', the subject, then
//
//	'v' the subject's new token version, decimal (RevokeAll);
//	's' the id of the subject's session that ended (Revoke,
//	    RevokeSession, Rotate when it detects reuse);
//	'd' the deny-list entry's end (Unix ms, decimal), ':', the jti (Deny).
const (
	kindVersion = 'v'
	kindSession = 's'
	kindDeny    = 'd'
)

// announcement is one message of the revocations channel.
type announcement struct {
	kind    byte
	subject string
	version uint64 // kindVersion
	id      string // kindSession: the session id; kindDeny: the jti
	until   int64  // kindDeny: Unix ms
}

// maxAnnouncement bounds what parseAnnouncement reads: a subject and an id
// of the sizes the stores accept, with room to spare.
const maxAnnouncement = 64 << 10

var errAnnouncement = errors.New("redisstore: malformed revocation announcement")

// parseAnnouncement reads one message, in one pass; anything it does not
// recognise is errAnnouncement.
func parseAnnouncement(m string) (announcement, error) {
	if len(m) < 3 || len(m) > maxAnnouncement {
		return announcement{}, errAnnouncement
	}
	a := announcement{kind: m[0]}
	colon := strings.IndexByte(m[:min(len(m), 8)], ':')
	if colon < 2 {
		return announcement{}, errAnnouncement
	}
	n, err := strconv.Atoi(m[1:colon])
	if err != nil || n < 0 || n > len(m)-colon-1 || m[1] == '+' || m[1] == '-' {
		return announcement{}, errAnnouncement
	}
	a.subject = m[colon+1 : colon+1+n]
	rest := m[colon+1+n:]
	switch a.kind {
	case kindVersion:
		v, err := strconv.ParseUint(rest, 10, 64)
		if err != nil || v == 0 {
			return announcement{}, errAnnouncement
		}
		a.version = v
	case kindSession:
		if rest == "" {
			return announcement{}, errAnnouncement
		}
		a.id = rest
	case kindDeny:
		c := strings.IndexByte(rest, ':')
		if c < 1 || c == len(rest)-1 {
			return announcement{}, errAnnouncement
		}
		u, err := strconv.ParseInt(rest[:c], 10, 64)
		if err != nil || u <= 0 {
			return announcement{}, errAnnouncement
		}
		a.until, a.id = u, rest[c+1:]
	default:
		return announcement{}, errAnnouncement
	}
	return a, nil
}
