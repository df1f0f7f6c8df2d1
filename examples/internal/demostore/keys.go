package demostore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/sealedstore"
)

// Keys returns the signing keys of issuer on st: on the memory store a key
// made now (the sessions end with the process anyway); on bbolt, Redis and
// PostgreSQL the key ring kept in the store itself
// (sessionkit.OpenManagedKeys), so a restart keeps the keys and every
// access token issued before still verifies, and several instances on one
// Redis or PostgreSQL share them. The private keys are sealed under the
// key-encryption key of -kek-file, which Keys creates (mode 0600) when it
// is missing: a convenience of the demo; a deployment keeps its KEK in a
// secret manager. run rotates the keys on their schedule
// until its context ends (the application starts it). accessTTL is the
// Issuer's (zero: the default).
func (f *Flags) Keys(ctx context.Context, st store.Store, issuer string, accessTTL time.Duration, log *slog.Logger) (keys *sessionkit.KeySet, run func(context.Context), err error) {
	ks, ok := st.(store.KeyStore)
	if f.Kind == "memory" || !ok {
		key, err := sessionkit.GenerateSigningKey(sessionkit.ES256)
		if err != nil {
			return nil, nil, err
		}
		log.Info("signing key: made at start (memory store: access tokens end with the process)", "kid", key.KeyID())
		return sessionkit.NewKeySet(key), func(context.Context) {}, nil
	}
	kek, err := f.kek(log)
	if err != nil {
		return nil, nil, err
	}
	m, err := sessionkit.OpenManagedKeys(ctx, sessionkit.ManagedKeysConfig{
		Store: ks, Issuer: issuer, KEK: kek, Algorithm: sessionkit.ES256, AccessTTL: accessTTL, Logger: log,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("signing keys in the %s store: %w", f.Kind, err)
	}
	log.Info("signing keys: kept in the store, sealed under -kek-file", "kid", m.Keys().SigningKeyID(), "kek", f.KEKFile)
	return m.Keys(), func(ctx context.Context) { _ = m.Run(ctx) }, nil
}

// kek reads the key-encryption key of -kek-file, making one when the file
// does not exist.
func (f *Flags) kek(log *slog.Logger) (sealedstore.Keys, error) {
	data, err := os.ReadFile(f.KEKFile)
	if errors.Is(err, fs.ErrNotExist) {
		k, err := sealedstore.GenerateKey()
		if err != nil {
			return sealedstore.Keys{}, err
		}
		file, err := os.OpenFile(f.KEKFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return sealedstore.Keys{}, fmt.Errorf("-kek-file: %w", err)
		}
		_, werr := file.WriteString(k.Encode() + "\n")
		if cerr := file.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return sealedstore.Keys{}, fmt.Errorf("-kek-file: %w", werr)
		}
		log.Warn("made a new key-encryption key for the demo's signing keys; keep it with the store (a deployment keeps it in a secret manager)", "file", f.KEKFile)
		return sealedstore.Keys{Current: k}, nil
	}
	if err != nil {
		return sealedstore.Keys{}, fmt.Errorf("-kek-file: %w", err)
	}
	k, err := sealedstore.ParseKey(strings.TrimSpace(string(data)))
	if err != nil {
		return sealedstore.Keys{}, fmt.Errorf("-kek-file %s: %w", f.KEKFile, err)
	}
	return sealedstore.Keys{Current: k}, nil
}
