package boltstore_test

import (
	"path/filepath"
	"testing"

	"github.com/sessionkit/sessionkit/internal/isolationtest"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/boltstore"
)

// TestIssuerIsolation runs the cross-issuer matrix (internal/isolationtest):
// two Issuers with different identifiers on one bbolt file, directly and
// through the hybrid sealed store, must not see each other at all.
func TestIssuerIsolation(t *testing.T) {
	t.Parallel()
	open := func(t *testing.T) store.Store {
		s, err := boltstore.Open(filepath.Join(t.TempDir(), "sessions.db"), boltstore.Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	t.Run("boltstore", func(t *testing.T) {
		t.Parallel()
		isolationtest.Run(t, open)
	})
	t.Run("sealedstore+boltstore", func(t *testing.T) {
		t.Parallel()
		isolationtest.RunHybrid(t, open)
	})
}
