package boltstore_test

import (
	"testing"

	"github.com/sessionkit/sessionkit/internal/isolationtest"
)

// TestIssuerIsolation runs the cross-issuer matrix (internal/isolationtest):
// two Issuers with different identifiers on one bbolt file, directly and
// through the hybrid sealed store, must not see each other at all.
func TestIssuerIsolation(t *testing.T) {
	t.Parallel()
	t.Run("boltstore", func(t *testing.T) {
		t.Parallel()
		isolationtest.Run(t, openTemp)
	})
	t.Run("sealedstore+boltstore", func(t *testing.T) {
		t.Parallel()
		isolationtest.RunHybrid(t, openTemp)
	})
}
