package sessionkit

import (
	"context"

	"github.com/sessionkit/sessionkit/store"
)

// Every name an Issuer hands its store is scoped to its issuer identifier
// (internal/scope): subjects, use-once namespaces and the hashes of refresh
// secrets. Two Issuers sharing one store therefore never name the same
// record, and a refresh token of one presented to the other matches nothing
// there. Sessions coming back from the store carry scoped subjects; own
// turns them back into the application's.

// own turns the scoped subject of a session read from the store into the
// application's subject. It reports false, logging the inconsistency, for a
// session outside this Issuer's scope: the secret hashes bind the issuer, so
// only a store answering for a record it was not asked about gets there.
func (iss *Issuer) own(ctx context.Context, s *store.Session) bool {
	sub, ok := iss.scope.Unscope(s.Subject)
	if !ok {
		iss.log.ErrorContext(ctx, "sessionkit: the store answered with a session of another issuer's scope; refused", "sid", s.ID)
		return false
	}
	s.Subject = sub
	return true
}
