package boltstore

import (
	"bytes"
	"encoding/binary"
	"time"

	"go.etcd.io/bbolt"
)

// janitor sweeps at every tick until Close.
func (s *Store) janitor(tick <-chan time.Time, stopTicker func()) {
	defer close(s.done)
	defer stopTicker()
	for {
		select {
		case <-s.stop:
			return
		case <-tick:
			now := s.now() // user code: called outside any transaction
			n, err := s.sweep(now)
			if err != nil {
				s.log.Warn("boltstore: janitor sweep failed; retrying at the next interval", "removed", n, "err", err)
			}
			if s.swept != nil {
				s.swept(n, err)
			}
		}
	}
}

// sweep removes every record that may be forgotten at now, in transactions
// of at most sweepChunk records, stopping early if Close was called. It
// returns how many records it removed.
func (s *Store) sweep(now time.Time) (int, error) {
	total := 0
	for {
		n, more, err := s.sweepChunk(now, sweepChunk)
		total += n
		if err != nil || !more {
			return total, err
		}
		select {
		case <-s.stop:
			return total, nil
		default:
		}
	}
}

// sweepChunk removes, in one write transaction, up to limit records whose
// expiry-index entry says they may be forgotten at now, with their entries.
// It reports whether more may remain.
func (s *Store) sweepChunk(now time.Time, limit int) (removed int, more bool, err error) {
	err = s.db.Update(func(tx *bbolt.Tx) error {
		removed, more = 0, false
		b, err := bucketsOf(tx)
		if err != nil {
			return err
		}
		// Collect first: deleting under a live cursor skips keys.
		var due [][]byte
		c := b.expiry.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if len(due) == limit {
				more = true
				break
			}
			if len(k) >= 9 && int64(binary.BigEndian.Uint64(k)^(1<<63)) > now.Unix() {
				break
			}
			due = append(due, bytes.Clone(k))
		}
		for _, k := range due {
			gone, err := b.reclaim(k, now)
			if err != nil {
				return err
			}
			if gone {
				removed++
			}
			if err := b.expiry.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	return removed, more, nil
}

// reclaim removes the record an expiry-index entry k points at, if it may
// be forgotten at now, and reports whether it did. A record whose value
// does not decode is removed too: its entry says it is past its time, and
// it cannot be used anyway. The caller deletes k.
func (b *buckets) reclaim(k []byte, now time.Time) (bool, error) {
	if len(k) < 9 {
		return false, nil // not an entry of ours: just drop it
	}
	kind, key := k[8], k[9:]
	switch kind {
	case kindSession:
		v := b.sessions.Get(key)
		if v == nil {
			return false, nil
		}
		rec, err := decodeRecord(string(key), v)
		if err != nil {
			return true, b.sessions.Delete(key)
		}
		if !forgettable(rec.Session.ExpiresAt, now) {
			return false, nil // a later session with this id has its own entry
		}
		if err := b.sessions.Delete(key); err != nil {
			return false, err
		}
		return true, b.subjects.Delete(prefixKey(rec.Session.Subject, rec.Session.ID))
	case kindDeny, kindOnce:
		bucket := b.deny
		if kind == kindOnce {
			bucket = b.once
		}
		v := bucket.Get(key)
		if v == nil {
			return false, nil
		}
		if until, err := decodeTime(v); err == nil && !forgettable(until, now) {
			return false, nil // extended: its new entry is later
		}
		return true, bucket.Delete(key)
	}
	return false, nil
}
