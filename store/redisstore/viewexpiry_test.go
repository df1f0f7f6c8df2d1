package redisstore

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// modelEntry is what the test knows of one entry of the view: until when
// it must be there, and after when it must be gone.
type modelEntry struct {
	until    int64 // the entry's current expiry: present at least until then
	maxUntil int64 // the latest expiry it ever had: gone after that
}

// TestViewExpiry drives a view's entries with random revocations, follows,
// epochs, resets and clock steps against a model, expiring after each
// step: no entry ever goes before its time (a revocation forgotten early
// is a revoked token accepted), every entry goes once its time has passed,
// the count of entries is exact, and the heap stays a heap no bigger than
// twice the view.
func TestViewExpiry(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) { runExpiryModel(t, seed) })
	}
}

func runExpiryModel(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	clock := time.Unix(1_800_000_000, 0)
	v := &View{
		lifetime: time.Minute, leeway: time.Second, maxEntries: 40,
		subjects: map[string]*subjectView{}, followed: map[string]follow{},
		now: func() time.Time { return clock },
	}
	model := map[string]*modelEntry{}
	set := func(key string, until int64) {
		e := model[key]
		if e == nil {
			e = &modelEntry{}
			model[key] = e
		}
		e.until, e.maxUntil = until, max(e.maxUntil, until)
	}
	clearKind := func(prefix byte) {
		for k := range model {
			if k[0] == prefix {
				delete(model, k)
			}
		}
	}
	name := func(what string, n int) string { return what + strconv.Itoa(rng.IntN(n)) }

	for step := range 3000 {
		resets := v.stats.resets.Load()
		var key string
		var until int64
		v.mu.Lock()
		switch op := rng.IntN(10); {
		case op < 2:
			subject := name("u", 30)
			v.addVersionLocked(subject, uint64(1+rng.IntN(5)), clock)
			key, until = "v|"+subject, v.forget(clock)
		case op < 4:
			subject, id := name("u", 30), name("s", 8)
			v.addSessionLocked(subject, id, clock)
			key, until = "s|"+subject+"|"+id, v.forget(clock)
		case op < 6:
			subject, jti := name("u", 30), name("j", 8)
			end := clock.Add(time.Duration(rng.IntN(120)) * time.Second).UnixMilli()
			v.addDenyLocked(subject, jti, end, clock)
			key = "d|" + subject + "|" + jti
			until = v.denyExpiry(v.subjects[subject].denied[jti])
		case op < 9:
			jti := name("f", 60)
			if len(v.followed) >= v.maxEntries {
				clearKind('f')
			}
			exp := clock.Add(time.Duration(rng.IntN(60)) * time.Second)
			q := store.AccessCheck{Subject: "u", JTI: jti, Version: 1,
				IssuedAt: exp.Add(-30 * time.Second), ExpiresAt: exp}
			v.mu.Unlock()
			v.learn(q, store.AccessState{Version: 1}, v.epoch, true)
			v.mu.Lock()
			key, until = "f|"+jti, exp.Add(v.leeway).UnixNano()
		default:
			v.newEpochLocked(clock)
			clearKind('f')
		}
		v.mu.Unlock()
		if v.stats.resets.Load() != resets {
			clear(model) // the view forgot everything, then took this entry
		}
		if key != "" {
			set(key, until)
		}

		clock = clock.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
		v.expire(clock)
		checkExpiryModel(t, step, v, model, clock.UnixNano())
	}
}

// checkExpiryModel compares the view with the model at now, after expiry.
func checkExpiryModel(t *testing.T, step int, v *View, model map[string]*modelEntry, now int64) {
	t.Helper()
	present := func(key string) bool {
		parts := strings.Split(key, "|")
		if parts[0] == "f" {
			_, ok := v.followed[parts[1]]
			return ok
		}
		sv := v.subjects[parts[1]]
		if sv == nil {
			return false
		}
		switch parts[0] {
		case "v":
			return sv.minVersion != 0
		case "s":
			_, ok := sv.sessions[parts[2]]
			return ok
		default:
			_, ok := sv.denied[parts[2]]
			return ok
		}
	}
	for key, e := range model {
		switch got := present(key); {
		case e.until >= now && !got:
			t.Fatalf("step %d: %s forgotten %v before its time", step, key, time.Duration(e.until-now))
		case e.maxUntil < now && got:
			t.Fatalf("step %d: %s kept %v past its time", step, key, time.Duration(now-e.maxUntil))
		case e.maxUntil < now:
			delete(model, key)
		}
	}
	entries := 0
	for _, sv := range v.subjects {
		if sv.minVersion == 0 && len(sv.sessions) == 0 && len(sv.denied) == 0 {
			t.Fatalf("step %d: an empty subject is kept", step)
		}
		entries += len(sv.sessions) + len(sv.denied)
		if sv.minVersion != 0 {
			entries++
		}
	}
	if entries != v.entries {
		t.Fatalf("step %d: the view counts %d entries, holds %d", step, v.entries, entries)
	}
	h := v.expiries
	for i := 1; i < len(h); i++ {
		if h[(i-1)/2].at > h[i].at {
			t.Fatalf("step %d: the expiry heap is out of order at %d", step, i)
		}
	}
	if live := v.entries + len(v.followed); len(h) > 2*live+expiryBatch {
		t.Fatalf("step %d: %d expiry records for %d entries", step, len(h), live)
	}
	if len(h) > 0 && h[0].at < now {
		t.Fatalf("step %d: a record due %v ago is left", step, time.Duration(now-h[0].at))
	}
}

// BenchmarkViewExpire: the lock hold of one expiry batch (expiryBatch
// records due) in a view of 100,000 entries.
func BenchmarkViewExpire(b *testing.B) {
	clock := time.Unix(1_800_000_000, 0)
	v := &View{
		lifetime: time.Hour, leeway: time.Minute, maxEntries: 200_000,
		subjects: map[string]*subjectView{}, followed: map[string]follow{},
		now: func() time.Time { return clock },
	}
	fill := func() {
		for i := v.entries; i < 100_000; i++ {
			v.addSessionLocked("user-"+strconv.Itoa(i%50_000), "sid-"+strconv.Itoa(i), clock)
			clock = clock.Add(time.Millisecond)
		}
	}
	fill()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		fill()
		now := clock.Add(time.Hour + 2*time.Minute) // the oldest are due
		b.StartTimer()
		v.mu.Lock()
		v.expireLocked(now, expiryBatch)
		v.mu.Unlock()
	}
}
