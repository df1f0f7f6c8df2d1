package pgstore

import (
	"context"
	"time"
)

// sweepChunk is how many rows one janitor statement removes at most, so
// that no statement holds many row locks or runs long.
const sweepChunk = 1000

// janitor sweeps at every tick until Close.
func (s *Store) janitor(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every+10*time.Second)
		go func() {
			select {
			case <-s.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("pgstore: janitor: sweep failed; retrying at the next interval", "err", err)
		}
		cancel()
	}
}

// Sweep removes the rows that stopped counting more than a minute before
// the janitor's clock (Options.Now): sessions past their absolute expiry
// (revoked and expired sessions are remembered until then), deny-list and
// use-once entries past their time. It deletes in chunks of 1000 rows, one
// statement each, skipping rows a writer holds, and returns how many rows
// it removed. The janitor calls it; an application without one may call
// it from its own scheduler. Token versions are never removed.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	cut := ns(s.now().Add(-forgetMargin))
	total := 0
	for _, sql := range []string{s.q.sweepSessions, s.q.sweepDenied, s.q.sweepOnce} {
		for {
			tag, err := s.pool.Exec(ctx, sql, cut, sweepChunk)
			if err != nil {
				return total, unavailable(ctx, "sweep", err)
			}
			total += int(tag.RowsAffected())
			if tag.RowsAffected() < sweepChunk {
				break
			}
		}
	}
	return total, nil
}
