package store

import (
	"bytes"
	"cmp"
	"crypto/subtle"
	"slices"
	"strings"
	"time"
)

// Record is a session as a stateful store keeps it: the plain value the
// rotation rules decide over. It is written for store authors: a store that
// holds its sessions as Go values (in memory, in a file, in rows it reads
// inside a transaction) keeps or decodes a Record and lets [Record.Rotate],
// [Record.Proves] and [Record.LiveFor] make every decision of the contract,
// inside its lock or transaction, or between a read and a compare-and-set
// write, so that no store writes the rotation rules again. memstore,
// boltstore and pgstore do; redisstore's script, which must decide on the
// server in one round trip, is checked against Record by a differential
// test.
//
// A Record is not safe for concurrent use: the store serialises access to
// it (its mutex, its transaction), or decides over a copy it read and
// writes the result back only if the stored session is still as it read
// it (pgstore).
type Record struct {
	// Session is the session's data. Its Generation is G, the generation of
	// the current secret.
	Session Session
	// Current is the hash of the secret of generation G.
	Current [32]byte
	// Spent holds the hashes of the generations before G, oldest first:
	// Spent[len(Spent)-1] is generation G-1 (the previous one) and Spent[0]
	// is generation G-len(Spent). Rotate keeps the last MinSpentHistory.
	Spent [][32]byte
	// RotatedAt is the time of the last rotation; zero before the first.
	RotatedAt time.Time
	// Sealed is the successor sealed at the last rotation (opaque here),
	// handed back on Replayed.
	Sealed []byte
	// Revoked marks a session ended by a revocation or by reuse.
	Revoked bool
}

// NewRecord checks n with [CheckNewSession] and returns the record a store
// keeps for it: a zero LastUsedAt becomes CreatedAt, IdleExpiresAt is
// capped at ExpiresAt, and Claims are copied, so that the record shares no
// memory with the caller. Stores add limits of their own after it.
func NewRecord(n NewSession) (Record, error) {
	s := n.Session
	if err := CheckNewSession(&s); err != nil {
		return Record{}, err
	}
	NormalizeNew(&s)
	s.Claims = bytes.Clone(n.Session.Claims)
	return Record{Session: s, Current: n.Hash}, nil
}

// NormalizeNew applies to a new session the defaults every store applies:
// a zero LastUsedAt becomes CreatedAt and IdleExpiresAt is capped at
// ExpiresAt. [NewRecord] calls it; a store that keeps no [Record] (the
// sealed store, redisstore) calls it itself.
func NormalizeNew(s *Session) {
	if s.LastUsedAt.IsZero() {
		s.LastUsedAt = s.CreatedAt
	}
	if s.IdleExpiresAt.After(s.ExpiresAt) {
		s.IdleExpiresAt = s.ExpiresAt
	}
}

// Names reports whether handle info h names this record: its session id
// and the subject tag of its subject. It is step 1 of [Store.Rotate] once
// the store has found the record by h.SessionID; a store that caches the
// tag may compare it itself.
func (r *Record) Names(h HandleInfo) bool {
	return h.SessionID == r.Session.ID && h.Tag == SubjectTag(r.Session.Subject)
}

// Matches reports whether presented is the hash that generation g selects
// (step 2 of [Store.Rotate]): the current one for the record's generation
// G, a kept spent one for g < G (G-1 being the previous one). The hashes
// are compared in constant time; a generation the record keeps no hash
// for matches nothing.
func (r *Record) Matches(g uint64, presented [32]byte) bool {
	G := r.Session.Generation
	var want [32]byte
	switch {
	case g == G:
		want = r.Current
	case g < G && G-g <= uint64(len(r.Spent)):
		want = r.Spent[uint64(len(r.Spent))-(G-g)]
	default:
		return false
	}
	return subtle.ConstantTimeCompare(want[:], presented[:]) == 1
}

// LiveFor reports whether the record is subject's session, not revoked and
// live at now: what [Store.Sessions], [Store.RevokeSession] and the
// SessionLive of [Store.CheckAccess] count.
func (r *Record) LiveFor(subject string, now time.Time) bool {
	return r.Session.Subject == subject && !r.Revoked && r.Session.Live(now)
}

// Proves reports whether presented proves the handle h for a live session:
// the proof [Store.Lookup] and [Store.Revoke] require (h names the record,
// presented is the hash its generation selects, the session is neither
// revoked nor expired at now).
func (r *Record) Proves(h HandleInfo, presented [32]byte, now time.Time) bool {
	return r.Names(h) && r.Matches(h.Generation, presented) && !r.Revoked && r.Session.Live(now)
}

// Rotate decides the rotation rot of the session the record holds, for the
// handle h the store parsed from rot.Handle, following [Store.Rotate]'s
// procedure from step 2 (the store has done step 1: it found this record by
// h.SessionID and checked h's tag, with [Record.Names] or a cached tag).
// It changes the record in place and reports write true only for Rotated
// and Reused of a live session, the outcomes the store must write back in
// the same step; for every other outcome the record is unchanged.
//
// The result's Version is left zero: the store fills in the subject's
// version for Rotated and Replayed. The record takes rot.Sealed and
// rot.Claims as they are, and the result's Session and Sealed share memory
// with the record: a store that keeps the record in memory copies rot's
// slices first, and the result's before it lets go of its lock.
func (r *Record) Rotate(h HandleInfo, rot *Rotation) (res RotateResult, write bool) {
	// 2. The handle's generation selects one expected hash.
	if !r.Matches(h.Generation, rot.Presented) {
		return RotateResult{Outcome: Unknown}, false
	}
	g, G := h.Generation, r.Session.Generation
	inGrace := g == G-1 && rot.Grace > 0 && rot.Now.Before(r.RotatedAt.Add(rot.Grace))
	// 3. Revoked: a spent secret outside the grace window is still reuse
	// (nothing more to write), anything else Revoked. Then expired.
	if r.Revoked {
		if g < G && !inGrace {
			return RotateResult{Outcome: Reused, Session: r.Session}, false
		}
		return RotateResult{Outcome: Revoked}, false
	}
	if !r.Session.Live(rot.Now) {
		return RotateResult{Outcome: Expired}, false
	}
	switch {
	case g == G: // 4. Rotated.
		r.spend()
		r.Current = rot.Next
		r.Sealed = rot.Sealed
		r.RotatedAt = rot.Now
		r.Session.Generation = G + 1
		r.Session.LastUsedAt = rot.Now
		r.Session.IdleExpiresAt = rot.IdleExpiresAt
		if r.Session.IdleExpiresAt.After(r.Session.ExpiresAt) {
			r.Session.IdleExpiresAt = r.Session.ExpiresAt
		}
		if rot.Claims != nil {
			r.Session.Claims = rot.Claims
		}
		return RotateResult{
			Outcome: Rotated,
			Handle:  FormatHandle(HandleInfo{Tag: h.Tag, SessionID: r.Session.ID, Generation: G + 1}),
			Session: r.Session,
		}, true
	case inGrace: // 5. Replayed.
		return RotateResult{
			Outcome: Replayed,
			Handle:  FormatHandle(HandleInfo{Tag: h.Tag, SessionID: r.Session.ID, Generation: G}),
			Sealed:  r.Sealed,
			Session: r.Session,
		}, false
	default: // 6. Reused: revoke the session.
		r.Revoked = true
		return RotateResult{Outcome: Reused, Session: r.Session}, true
	}
}

// spend moves the current hash into the spent history, keeping the last
// MinSpentHistory. A history at its bound shifts in place, so that a
// record kept in memory rotates without allocating once it is full.
func (r *Record) spend() {
	if n := len(r.Spent); n >= MinSpentHistory {
		copy(r.Spent, r.Spent[n-MinSpentHistory+1:])
		r.Spent = r.Spent[:MinSpentHistory]
		r.Spent[MinSpentHistory-1] = r.Current
		return
	}
	if r.Spent == nil {
		r.Spent = make([][32]byte, 0, MinSpentHistory)
	}
	r.Spent = append(r.Spent, r.Current)
}

// SortSessions puts sessions in the order [Store.Sessions] lists them:
// oldest first, by CreatedAt, then by ID.
func SortSessions(list []Session) {
	slices.SortFunc(list, func(a, b Session) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
}
