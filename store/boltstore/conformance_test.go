package boltstore_test

import (
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/boltstore"
	"github.com/sessionkit/sessionkit/store/storetest"
)

// TestConformance runs the public conformance suite twice: every case on a
// file of its own (Open), and every case on one shared file (New over a
// bbolt database opened here) whose janitor sweeps every millisecond on the
// real clock while the cases run, so that group commits mix the cases'
// writes and the janitor races them.
func TestConformance(t *testing.T) {
	t.Parallel()
	t.Run("FilePerCase", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, openTemp)
	})
	t.Run("SharedFileWithJanitor", func(t *testing.T) {
		t.Parallel()
		db, err := bbolt.Open(filepath.Join(t.TempDir(), "shared.db"), 0o600, &bbolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatalf("bbolt.Open: %v", err)
		}
		s, err := boltstore.NewWithOptions(db, boltstore.Options{JanitorInterval: time.Millisecond})
		if err != nil {
			t.Fatalf("NewWithOptions: %v", err)
		}
		storetest.Run(t, func(t *testing.T) store.Store { return s })
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("closing the database after Close (New leaves it open): %v", err)
		}
	})
}

// openTemp opens a store on a new file in t's temporary directory, closed
// (and checked to close cleanly) when t ends.
func openTemp(t *testing.T) store.Store {
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

// TestKeyConformance runs the key-ring cases of the suite, every case on a
// file of its own and every case on one shared store.
func TestKeyConformance(t *testing.T) {
	t.Parallel()
	t.Run("FilePerCase", func(t *testing.T) {
		t.Parallel()
		storetest.RunKeys(t, func(t *testing.T) store.KeyStore { return openTemp(t).(*boltstore.Store) })
	})
	t.Run("SharedFile", func(t *testing.T) {
		t.Parallel()
		s := openTemp(t)
		storetest.RunKeys(t, func(t *testing.T) store.KeyStore { return s.(*boltstore.Store) })
	})
}
