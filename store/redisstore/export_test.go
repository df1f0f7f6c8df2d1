package redisstore

import (
	"context"
	"fmt"

	"github.com/sessionkit/sessionkit/store"
)

// BulkCreate stores sessions as Create does, through pipelines of the create
// script (1000 per round trip): the benchmarks' bulk loader. It reports the
// first error, including a refused duplicate id.
func (s *Store) BulkCreate(ctx context.Context, sessions []store.NewSession) error {
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
			tag := store.SubjectTag(n.Session.Subject)
			exp := ms(n.Session.ExpiresAt)
			rec, err := encodeNew(&n.Session, n.Hash)
			if err != nil {
				return err
			}
			createScript.EvalSha(ctx, p,
				[]string{s.sessionKey(tag, n.Session.ID), s.indexKey(tag), s.versionKey(tag)},
				rec, itoa(exp), itoa(exp+s.margin), itoa(ms(n.Session.CreatedAt)),
				itoa(s.margin), n.Session.Subject, n.Session.ID)
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
