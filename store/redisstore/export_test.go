package redisstore

import (
	"context"
	"fmt"

	"github.com/sessionkit/sessionkit/store"
)

// BulkCreate stores sessions as Create does, through pipelines of the create
// script (1000 per round trip): the benchmarks' bulk loader. With rotated,
// each session is stored as one rotation would have left it: at generation
// 2, expecting the secret whose hash is n.Hash, with its spent-hash slots
// and a 72-byte sealed successor, so that the next rotation is the
// steady-state one (in place). It reports the first error, including a
// refused duplicate id.
func (s *Store) BulkCreate(ctx context.Context, sessions []store.NewSession, rotated bool) error {
	if err := createScript.Load(ctx, s.client).Err(); err != nil {
		return err
	}
	for len(sessions) > 0 {
		batch := sessions[:min(1000, len(sessions))]
		sessions = sessions[len(batch):]
		p := s.client.Pipeline()
		for i := range batch {
			n := &batch[i]
			if err := validate(&n.Session); err != nil {
				return err
			}
			rec, err := encodeNew(&n.Session, n.Hash)
			if err != nil {
				return err
			}
			if rotated {
				rec = asRotated(rec, n.Session.CreatedAt.UnixMilli())
			}
			keys, args := s.createCall(&n.Session, store.SubjectTag(n.Session.Subject), rec)
			createScript.EvalSha(ctx, p, keys, args...)
		}
		cmds, err := p.Exec(ctx)
		if err != nil {
			return err
		}
		for _, c := range cmds {
			if v, err := c.(interface{ Int64() (int64, error) }).Int64(); err != nil || v < 0 {
				return fmt.Errorf("bulk create: %v (reply %d)", err, v)
			}
		}
	}
	return nil
}

// asRotated turns a new record into one at generation 2, rotated at
// rotatedAt, with empty spent-hash slots and a zero 72-byte sealed
// successor.
func asRotated(rec []byte, rotatedAt int64) []byte {
	out := make([]byte, 0, len(rec)+spentKeep*32+72)
	out = append(out, rec[:offGen]...)
	out = append(out, pad(2, numWidth)...)
	out = append(out, rec[offGen+numWidth:offRotatedAt]...)
	out = append(out, pad(rotatedAt, numWidth)...)
	out = append(out, rec[offRotatedAt+numWidth:offSpent]...)
	out = append(out, fmt.Sprintf("%02d", spentKeep)...)
	out = append(out, pad(72, lenWidth)...)
	out = append(out, rec[headerLen:]...)
	out = append(out, make([]byte, spentKeep*32+72)...)
	return out
}

// WithoutCutoff switches off the cut-off of s's rotations: its Rotate calls
// run whenever the server gets to them, as before the cut-off existed.
func WithoutCutoff(s *Store) { s.noCutoff = true }
