package sealedstore

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// KeySize is the size of a sealing key's secret, in bytes (AES-256).
const KeySize = 32

// MaxKeyIDLen is the longest key id, in bytes.
const MaxKeyIDLen = 32

// Key is one sealing key: KeySize secret bytes and the id that names the key,
// in clear, in every handle sealed with it. Keep the secret like a password
// database's credentials: whoever holds it can read every session and forge
// refresh tokens. Key's String, GoString and LogValue methods print the id
// only, so a key that ends up in a log line does not leak its secret.
type Key struct {
	// ID names the key in handles so that the store picks the key to open
	// them with: 1 to MaxKeyIDLen characters of [A-Za-z0-9_-], unique
	// within a key ring.
	ID string
	// Secret is the key itself: KeySize bytes from a cryptographic random
	// source (GenerateKey makes one).
	Secret []byte
}

// GenerateKey returns a new Key: KeySize bytes from crypto/rand and a random
// 8-character ID.
func GenerateKey() (Key, error) {
	var b [6 + KeySize]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Key{}, fmt.Errorf("sealedstore: generating a key: %w", err)
	}
	return Key{ID: base64.RawURLEncoding.EncodeToString(b[:6]), Secret: b[6:]}, nil
}

// Encode returns the key in the text form ParseKey reads: the ID, a colon and
// the secret in unpadded base64url. The text contains the secret: keep it in
// a secret manager or an environment variable, never in logs or source.
func (k Key) Encode() string {
	return k.ID + ":" + base64.RawURLEncoding.EncodeToString(k.Secret)
}

// ParseKey reads a key in the text form Encode writes ("id:secret"),
// ignoring surrounding white space (the newline of a file or an environment
// variable). Errors never quote the text.
func ParseKey(text string) (Key, error) {
	id, secret, ok := strings.Cut(strings.TrimSpace(text), ":")
	if !ok {
		return Key{}, errors.New("sealedstore: a key's text form is id:secret")
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(secret)
	if err != nil {
		return Key{}, errors.New("sealedstore: a key's secret is unpadded base64url")
	}
	k := Key{ID: id, Secret: b}
	if err := k.validate(); err != nil {
		return Key{}, err
	}
	return k, nil
}

// String describes the key without its secret.
func (k Key) String() string { return fmt.Sprintf("sealedstore.Key{ID: %q, Secret: (redacted)}", k.ID) }

// GoString describes the key without its secret, for %#v.
func (k Key) GoString() string { return k.String() }

// LogValue logs the key's id only.
func (k Key) LogValue() slog.Value { return slog.GroupValue(slog.String("id", k.ID)) }

// validate checks the id's shape and the secret's size. Its errors never
// contain the secret.
func (k Key) validate() error {
	if !validKeyID(k.ID) {
		return fmt.Errorf("sealedstore: key id must be 1 to %d characters of [A-Za-z0-9_-]", MaxKeyIDLen)
	}
	if len(k.Secret) != KeySize {
		return fmt.Errorf("sealedstore: key %q: secret must be %d bytes, got %d", k.ID, KeySize, len(k.Secret))
	}
	return nil
}

func validKeyID(id string) bool {
	if id == "" || len(id) > MaxKeyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !isB64URL(id[i]) {
			return false
		}
	}
	return true
}

// Keys is a key ring. Current seals every new handle; Previous keys only open
// handles sealed before a rotation. Every refresh reseals the session under
// the current key, so a key can leave the ring once no live session can
// still hold a handle sealed with it.
//
// To rotate without logging anyone out:
//
//  1. Generate a key and add it to Previous on every instance (each can now
//     open what the new key seals).
//  2. Make it Current everywhere, moving the old current key to Previous.
//  3. After Config.RefreshTTL (the idle lifetime) has passed, every live
//     session has been refreshed and so resealed under the new key: remove
//     the old key. A handle sealed under a removed key is unknown (Refresh
//     answers ErrInvalidToken).
//
// On a single instance steps 1 and 2 are one.
type Keys struct {
	// Current seals new handles (and opens them). Required.
	Current Key
	// Previous keys open handles sealed before the current key took over;
	// they never seal.
	Previous []Key
}

// Validate checks the key ring as New does: every id of the right shape
// and unique, every secret KeySize bytes. Its errors never contain a
// secret. sessionkit's managed keys take a Keys as their key-encryption
// key ring and check it with Validate.
func (ks Keys) Validate() error {
	_, err := newRing(ks)
	return err
}

// ring is a validated copy of Keys.
type ring struct {
	current *ringKey
	byID    map[string]*ringKey
}

type ringKey struct {
	id     string
	secret [KeySize]byte
}

// newRing validates ks and copies it, so later changes to the caller's slices
// do not reach the store.
func newRing(ks Keys) (ring, error) {
	r := ring{byID: make(map[string]*ringKey, 1+len(ks.Previous))}
	add := func(k Key) (*ringKey, error) {
		if err := k.validate(); err != nil {
			return nil, err
		}
		if _, dup := r.byID[k.ID]; dup {
			return nil, fmt.Errorf("sealedstore: key id %q appears twice in the key ring", k.ID)
		}
		rk := &ringKey{id: k.ID}
		copy(rk.secret[:], k.Secret)
		r.byID[k.ID] = rk
		return rk, nil
	}
	cur, err := add(ks.Current)
	if err != nil {
		return ring{}, fmt.Errorf("%w (current key)", err)
	}
	r.current = cur
	for i, k := range ks.Previous {
		if _, err := add(k); err != nil {
			return ring{}, fmt.Errorf("%w (previous key %d)", err, i)
		}
	}
	return r, nil
}
