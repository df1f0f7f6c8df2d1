package storetest

import (
	"context"
	"fmt"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// FindSession returns subject's live session id at now, read through
// [store.Store.Sessions], or an error wrapping [store.ErrNotFound] when the
// list does not hold it. Store tests use it to read one session back; the
// contract has no method for that, because sessionkit never needs one.
func FindSession(ctx context.Context, s store.Store, subject, id string, now time.Time) (store.Session, error) {
	list, err := s.Sessions(ctx, subject, now)
	if err != nil {
		return store.Session{}, err
	}
	for _, sess := range list {
		if sess.ID == id {
			return sess, nil
		}
	}
	return store.Session{}, fmt.Errorf("%w: no live session %q of this subject", store.ErrNotFound, id)
}
