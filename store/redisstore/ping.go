package redisstore

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/store"
)

// NewChecked is New followed by Ping: for a program that should not start
// without Redis, it fails at once with the reason (server down, wrong
// address or password) instead of at the first login. Give ctx a
// deadline: Ping waits no longer than ctx allows (see Contexts in the
// package documentation), while a context without one leaves the wait to
// the client's own timeouts. On failure the client stays open: it is the
// caller's, as with New.
func NewChecked(ctx context.Context, client redis.UniversalClient, opts Options) (*Store, error) {
	s, err := New(client, opts)
	if err != nil {
		return nil, err
	}
	if err := s.Ping(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Ping checks that Redis answers: a PING, sent to every master of a
// Cluster client and to every shard of a Ring, so that a node that is down
// shows at once rather than for the subjects it holds. It returns nil or
// an error wrapping store.ErrUnavailable (and ctx's error when ctx ended
// first), within ctx's deadline like every method of the store.
//
// sessionkit's readiness check (Issuer.Check) does not call it: that reads
// a key through the store contract, which also shows missing permissions
// on the key prefix; Ping is for the moment before an Issuer exists.
func (s *Store) Ping(ctx context.Context) error {
	if err := store.ContextError(ctx); err != nil {
		return err
	}
	ping := func(ctx context.Context, c *redis.Client) error { return c.Ping(ctx).Err() }
	_, err := s.roundTrip(ctx, func(ctx context.Context) (any, error) {
		switch c := s.client.(type) {
		case *redis.ClusterClient:
			return nil, c.ForEachMaster(ctx, ping)
		case *redis.Ring:
			return nil, c.ForEachShard(ctx, ping)
		}
		return nil, s.client.Ping(ctx).Err()
	})
	if err != nil {
		return unavailable(ctx, "ping", err)
	}
	return nil
}
