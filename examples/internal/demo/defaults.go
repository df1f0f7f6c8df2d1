package demo

import (
	"log/slog"

	"golang.org/x/crypto/bcrypt"

	"github.com/sessionkit/sessionkit"
)

// Defaults are what a demo app needs besides its configuration: a logger,
// the demo users and a key set.
type Defaults struct {
	Log   *slog.Logger
	Users *Users
	Keys  *sessionkit.KeySet
}

// NewDefaults fills in what a demo's configuration left out: log nil
// discards, cost 0 is bcrypt's default, keys nil is one ES256 key made
// now (tests; the commands keep theirs in the store).
func NewDefaults(log *slog.Logger, cost int, keys *sessionkit.KeySet) (*Defaults, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	users, err := NewUsers(cost)
	if err != nil {
		return nil, err
	}
	if keys == nil {
		key, err := sessionkit.GenerateSigningKey(sessionkit.ES256)
		if err != nil {
			return nil, err
		}
		keys = sessionkit.NewKeySet(key)
	}
	return &Defaults{Log: log, Users: users, Keys: keys}, nil
}
