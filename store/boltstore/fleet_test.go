package boltstore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/fleettest"
	"github.com/sessionkit/sessionkit/store/boltstore"
)

// TestManagedKeysFleet runs the fleet scenario (internal/fleettest) with
// two Issuers in this process on one opened bbolt file (bbolt locks the
// file to one process).
func TestManagedKeysFleet(t *testing.T) {
	t.Parallel()
	st := openTemp(t).(*boltstore.Store)
	kek := fleettest.NewKEK(t)
	fleettest.Run(t, func(t *testing.T, now time.Time) (fleettest.Instance, error) {
		return fleettest.OpenLocal(st, st, kek, now)
	})
}

// TestManagedKeysSurviveReopen: after the file is closed and opened again,
// as at a restart, the managed keys are the same and a token signed before
// verifies.
func TestManagedKeysSurviveReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sessions.db")
	kek := fleettest.NewKEK(t)
	now := time.Now().Truncate(time.Second)
	open := func() (*boltstore.Store, *fleettest.Local) {
		st, err := boltstore.Open(path, boltstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		inst, err := fleettest.OpenLocal(st, st, kek, now)
		if err != nil {
			t.Fatal(err)
		}
		return st, inst
	}
	st, before := open()
	if _, err := before.Keys().Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	tok, err := before.Mint()
	if err != nil {
		t.Fatal(err)
	}
	want := before.Keys().Ring()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, after := open()
	defer st.Close()
	if got := after.Keys().Ring(); got.Version != want.Version || len(got.Keys) != 2 || got.Keys[0].KeyID != want.Keys[0].KeyID || got.Keys[1].KeyID != want.Keys[1].KeyID {
		t.Fatalf("after reopening: ring %+v, want %+v", got, want)
	}
	if err := after.Verify([]string{tok}); err != nil {
		t.Fatalf("a token signed before the restart: %v", err)
	}
	if after.Keys().Keys().SigningKeyID() != fleettest.KeyID(tok) {
		t.Fatal("the signing key changed at the restart")
	}
}
