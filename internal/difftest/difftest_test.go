package difftest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/internal/difftest"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// TestSelf: memstore against memstore never differs.
func TestSelf(t *testing.T) {
	t.Parallel()
	difftest.Run(t, func(*testing.T) store.Store { return memstore.New() }, 8, 400)
}

// skewed is a memstore whose rotation rules are wrong in one place.
type skewed struct {
	*memstore.Store
	rotate func(r *store.Rotation)
}

func (s skewed) Rotate(ctx context.Context, r store.Rotation) (store.RotateResult, error) {
	s.rotate(&r)
	return s.Store.Rotate(ctx, r)
}

// TestCatchesWrongRules: the sequences reach each rule, so a store that
// breaks one of them differs within a few hundred steps.
func TestCatchesWrongRules(t *testing.T) {
	t.Parallel()
	for name, wrong := range map[string]func(r *store.Rotation){
		"grace window ignored":  func(r *store.Rotation) { r.Grace = 0 },
		"grace window doubled":  func(r *store.Rotation) { r.Grace *= 2 },
		"idle expiry not moved": func(r *store.Rotation) { r.IdleExpiresAt = r.Now },
		"claims dropped":        func(r *store.Rotation) { r.Claims = nil },
		"clock a second late":   func(r *store.Rotation) { r.Now = r.Now.Add(-1e9) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var err error
			for seed := uint64(1); seed <= 8 && err == nil; seed++ {
				err = difftest.Compare(memstore.New(), skewed{memstore.New(), wrong}, seed, 400)
			}
			if err == nil {
				t.Fatal("no difference found in 8 sequences of 400 steps")
			}
			t.Log(err)
			if !strings.Contains(err.Error(), difftest.SeedEnv) {
				t.Errorf("the difference does not say how to replay it: %v", err)
			}
		})
	}
}
