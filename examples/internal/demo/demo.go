// Package demo holds what the browser demos (examples/spa and
// examples/webapp) share: their users, whose passwords are hashed with
// bcrypt at startup, as a real application would store them; the security
// headers of their pages; and Serve.
package demo

import (
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// Login is a demo user's credentials, which the demo pages show.
type Login struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

// Logins are the demo users. Never ship passwords in a program: a real
// application keeps only their bcrypt (or argon2id) hashes in its database.
var Logins = []Login{
	{Username: "alice", Password: "wonderland", Name: "Alice Liddell"},
	{Username: "bob", Password: "builder", Name: "Bob the Builder"},
}

// User is an authenticated demo user.
type User struct {
	Username string
	Name     string
}

// Users checks demo passwords against their bcrypt hashes.
type Users struct {
	hashes map[string][]byte
	names  map[string]string
	// dummy is compared against when the user is unknown, so that an
	// unknown name takes as long as a wrong password.
	dummy []byte
}

// NewUsers hashes the demo passwords with bcrypt at the given cost
// (bcrypt.DefaultCost for the demos; tests may use bcrypt.MinCost).
func NewUsers(cost int) (*Users, error) {
	u := &Users{hashes: map[string][]byte{}, names: map[string]string{}}
	for _, l := range Logins {
		h, err := bcrypt.GenerateFromPassword([]byte(l.Password), cost)
		if err != nil {
			return nil, fmt.Errorf("hashing the demo passwords: %w", err)
		}
		u.hashes[l.Username], u.names[l.Username] = h, l.Name
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("no user has this password"), cost)
	if err != nil {
		return nil, fmt.Errorf("hashing the demo passwords: %w", err)
	}
	u.dummy = dummy
	return u, nil
}

// Check returns the user whose username and password these are.
func (u *Users) Check(username, password string) (User, bool) {
	h, known := u.hashes[username]
	if !known {
		h = u.dummy
	}
	// bcrypt refuses passwords over 72 bytes: they simply do not match.
	if bcrypt.CompareHashAndPassword(h, []byte(password)) != nil || !known {
		return User{}, false
	}
	return User{Username: username, Name: u.names[username]}, true
}

// Name returns the display name of username ("" for an unknown one).
func (u *Users) Name(username string) string { return u.names[username] }
