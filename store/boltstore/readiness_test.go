package boltstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/boltstore"
)

// TestIssuerCheckOnBolt: sessionkit's readiness check over a bbolt file
// passes while the store is open and reports ErrStoreUnavailable once it
// is closed.
func TestIssuerCheckOnBolt(t *testing.T) {
	t.Parallel()
	key, err := sessionkit.GenerateSigningKey(sessionkit.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		closed bool
	}{{"open", false}, {"closed", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := boltstore.Open(filepath.Join(t.TempDir(), "sessions.db"), boltstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			iss, err := sessionkit.New(sessionkit.Config{
				Issuer: "https://auth.example.com", Audience: []string{"api"},
				Keys: sessionkit.NewKeySet(key), Store: s,
			})
			if err != nil {
				t.Fatal(err)
			}
			if tt.closed {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
			err = iss.Check(context.Background())
			switch {
			case !tt.closed && err != nil:
				t.Fatalf("Check on an open store: %v", err)
			case tt.closed && !errors.Is(err, sessionkit.ErrStoreUnavailable):
				t.Fatalf("Check on a closed store: %v, want ErrStoreUnavailable", err)
			}
		})
	}
}
