package sessionkit

import (
	"context"
	"errors"
	"fmt"

	"github.com/sessionkit/sessionkit/store"
)

// Logout ends the session a refresh token belongs to. The current token, the
// previous one or a recently spent one proves ownership (a spent one older
// than the previous also fires EventReuseDetected); anything else wraps
// ErrInvalidToken and changes nothing. The session's access tokens then fail
// Verify's session check. A store that cannot end a session (the stateless
// sealed store) gives an error wrapping ErrUnsupported: the client's copy of
// the token is all there is to discard.
//
// A session issued to an OAuth client ends only through the
// RevocationEndpoint, with that client's authentication.
func (iss *Issuer) Logout(ctx context.Context, refreshToken string) error {
	return iss.logout(ctx, refreshToken, "")
}

// logout is Logout for the session's owner (see scope.Scope.SecretHash).
func (iss *Issuer) logout(ctx context.Context, refreshToken, clientID string) error {
	if err := iss.needs(store.RevokeSessions, "Logout"); err != nil {
		return err
	}
	handle, secret, err := parseRefreshToken(refreshToken)
	if err != nil {
		return err
	}
	info, err := iss.store.ParseHandle(handle)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errMalformed("unknown refresh token")
		}
		return storeFailure(err)
	}
	now := iss.now()
	s, err := iss.store.Revoke(ctx, handle, iss.scope.SecretHash(secret[:], clientID), now)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errMalformed("unknown refresh token or session already ended")
		}
		return storeFailure(err)
	}
	if !iss.own(ctx, &s) {
		return errMalformed("unknown refresh token or session already ended")
	}
	if info.Generation+1 < s.Generation {
		// Older than the previous token: whoever holds it also held a
		// rotated-away token, the same signal as reuse on Refresh.
		iss.emit(ctx, Event{Kind: EventReuseDetected, Reason: ReasonReused, Subject: s.Subject, ClientID: s.ClientID, SessionID: s.ID, Time: now})
	}
	iss.emit(ctx, Event{Kind: EventLogout, Subject: s.Subject, ClientID: s.ClientID, SessionID: s.ID, Time: now})
	return nil
}

// LogoutAll ends every session of subject and, in the same store step, bumps
// its token version, so every access token issued to it before fails its next
// Verify with ErrTokenRevoked.
func (iss *Issuer) LogoutAll(ctx context.Context, subject string) error {
	if err := iss.needs(store.Versions|store.RevokeSessions, "LogoutAll"); err != nil {
		return err
	}
	if err := validSubject(subject); err != nil {
		return err
	}
	now := iss.now()
	if _, err := iss.store.RevokeAll(ctx, iss.scope.User(subject), now); err != nil {
		return storeFailure(err)
	}
	iss.emit(ctx, Event{Kind: EventLogoutAll, Subject: subject, Time: now})
	return nil
}

// RevokeSession ends subject's session sid (for "sign out that device"). A
// session of another subject, or an ended one, gives ErrNotFound and nothing
// changes.
func (iss *Issuer) RevokeSession(ctx context.Context, subject, sid string) error {
	if err := iss.needs(store.RevokeSessions, "RevokeSession"); err != nil {
		return err
	}
	now := iss.now()
	if err := iss.store.RevokeSession(ctx, iss.scope.User(subject), sid, now); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: no live session with that id for this subject", ErrNotFound)
		}
		return storeFailure(err)
	}
	iss.emit(ctx, Event{Kind: EventSessionRevoked, Subject: subject, SessionID: sid, Time: now})
	return nil
}

// RevokeAccessToken puts one access token on the deny-list until its exp plus
// MaxLeeway, so no verifier's leeway can bring it back; the entry then
// vanishes by itself. The token must be one of this issuer's (signature and
// claims checked, expiry aside). Revoking an already expired token is a no-op.
func (iss *Issuer) RevokeAccessToken(ctx context.Context, accessToken string) error {
	if err := iss.needs(store.DenyList, "RevokeAccessToken"); err != nil {
		return err
	}
	now := iss.now()
	c, err := iss.parseOwnAccessToken(accessToken, now)
	if err != nil {
		return err
	}
	until := c.ExpiresAt.Add(MaxLeeway)
	if !until.After(now) {
		return nil
	}
	if err := iss.store.Deny(ctx, iss.scope.Subject(c.Subject, c.ClientID), c.ID, until); err != nil {
		return storeFailure(err)
	}
	iss.emit(ctx, Event{Kind: EventAccessTokenRevoked, Subject: c.Subject, ClientID: c.ClientID, SessionID: c.SessionID, Time: now})
	return nil
}

// Sessions lists subject's live sessions, oldest first, with device metadata.
func (iss *Issuer) Sessions(ctx context.Context, subject string) ([]Session, error) {
	if err := iss.needs(store.ListSessions, "Sessions"); err != nil {
		return nil, err
	}
	list, err := iss.store.Sessions(ctx, iss.scope.User(subject), iss.now())
	if err != nil {
		return nil, storeFailure(err)
	}
	out := make([]Session, 0, len(list))
	for i := range list {
		if iss.own(ctx, &list[i]) {
			out = append(out, publicSession(&list[i]))
		}
	}
	return out, nil
}

// needs returns an error wrapping ErrUnsupported when the store lacks a
// capability in c, which operation op relies on (Config.AcceptStoreLimits
// accepted it missing).
func (iss *Issuer) needs(c store.Capabilities, op string) error {
	if missing := c &^ iss.caps; missing != 0 {
		return fmt.Errorf("%w: %s needs a store with %s", ErrUnsupported, op, missing)
	}
	return nil
}
