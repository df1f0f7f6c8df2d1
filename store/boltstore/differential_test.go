package boltstore_test

import (
	"testing"

	"github.com/sessionkit/sessionkit/internal/difftest"
)

// TestDifferential runs the random sequences of internal/difftest against
// a bbolt file and memstore: both decide with store.Record, so what it
// checks is everything around the decision (the codec, the indexes, what a
// transaction writes back).
func TestDifferential(t *testing.T) {
	t.Parallel()
	difftest.Run(t, openTemp, 4, 400)
}
