package storetest

import (
	"bytes"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

const (
	racers = 64 // goroutines racing on one secret or key
	rounds = 4  // races per case
)

func concurrencyCases() []testCase {
	return []testCase{
		{name: "RotateRaceWithoutGrace", needs: store.ReuseDetection, run: testRaceNoGrace},
		{name: "RotateRaceWithinGrace", needs: store.ReuseDetection, run: testRaceGrace},
		{name: "UseOnceRace", needs: store.UseOnce, run: testUseOnceRace},
		{name: "RevokeAllRace", needs: store.Versions, run: testRevokeAllRace},
	}
}

// race presents c's current secret from racers goroutines at once, each
// with its own successor and sealed bytes, and returns the attempts.
func (f *fixture) race(c *chain, now time.Time, grace time.Duration) []attempt {
	f.t.Helper()
	h, s := c.current()
	as := make([]attempt, racers)
	errs := make([]error, racers)
	for i := range as {
		as[i].r, as[i].next = rotation(h, s, now, grace)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range as {
		wg.Go(func() {
			<-start
			as[i].res, errs[i] = f.s.Rotate(f.ctx, as[i].r)
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			f.t.Fatalf("rule: Rotate answers concurrent requests with outcomes, not errors: got %v", err)
		}
	}
	for _, a := range as {
		checkShape(f.t, a.res)
	}
	return as
}

// count returns how many attempts had each outcome, and the Rotated one.
func count(as []attempt) (map[store.Outcome]int, *attempt) {
	n := map[store.Outcome]int{}
	var winner *attempt
	for i := range as {
		n[as[i].res.Outcome]++
		if as[i].res.Outcome == store.Rotated {
			winner = &as[i]
		}
	}
	return n, winner
}

// testRaceNoGrace: without a grace window, exactly one of many concurrent
// presentations of a secret rotates and every other one is reuse.
func testRaceNoGrace(t *testing.T, f *fixture) {
	for round := range rounds {
		now := f.at(time.Duration(round+1) * time.Minute)
		c := f.create(f.newSubject(), now)
		as := f.race(c, now, 0)
		n, winner := count(as)
		// Steps are serial: one rotates; the next finds the secret spent
		// and revokes the session (Reused); every later one finds a spent
		// secret of a revoked session, outside any window (Reused, rule 3).
		if n[store.Rotated] != 1 || n[store.Reused] != racers-1 {
			t.Fatalf("rule: one rotation per secret, each step atomic: %d concurrent presentations of the current secret without grace give exactly 1 Rotated and %d Reused: round %d got %v",
				racers, racers-1, round, n)
		}
		f.record(c, *winner)
		f.want("the losers' reuse revoked the session: the winner's successor answers Revoked", f.presentGen(c, 2, now, 0), store.Revoked)
	}
}

// testRaceGrace: within the grace window, exactly one rotates and every
// other one is Replayed with the winner's sealed successor and handle.
func testRaceGrace(t *testing.T, f *fixture) {
	for round := range rounds {
		now := f.at(time.Duration(round+1) * time.Minute)
		c := f.create(f.newSubject(), now)
		as := f.race(c, now, grace)
		n, winner := count(as)
		if n[store.Rotated] != 1 || n[store.Replayed] != racers-1 {
			t.Fatalf("rule: one rotation per secret: %d concurrent presentations of the current secret within grace give exactly 1 Rotated and %d Replayed: round %d got %v",
				racers, racers-1, round, n)
		}
		winInfo, err := f.parse(winner.res.Handle)
		if err != nil {
			t.Fatalf("rule: ParseHandle decodes every handle the store returned: %v", err)
		}
		var loser *attempt
		for i := range as {
			a := &as[i]
			if a.res.Outcome != store.Replayed {
				continue
			}
			loser = a
			if !bytes.Equal(a.res.Sealed, winner.r.Sealed) {
				t.Errorf("rule: every Replayed of a race carries the winner's Sealed bytes: round %d, one did not", round)
			}
			if a.res.Handle != winner.res.Handle {
				if info, err := f.parse(a.res.Handle); err != nil || info != winInfo {
					t.Errorf("rule: every Replayed of a race carries the winner's handle: round %d got %+v (%v), want %+v", round, info, err, winInfo)
				}
			}
			if a.res.Session.Generation != 2 {
				t.Errorf("rule: Replayed returns the session after the winner's rotation: round %d got generation %d, want 2", round, a.res.Session.Generation)
			}
		}
		f.record(c, *winner)
		// The replays wrote nothing: the winner's successor rotates, under
		// the handle a loser got back.
		r, next := rotation(loser.res.Handle, c.secret(2), now, grace)
		f.want("Replayed writes nothing: the winner's successor, under a loser's handle, rotates", f.do(r, next), store.Rotated)
	}
}

// testUseOnceRace: of many concurrent UseOnce calls for one key, exactly
// one reports true.
func testUseOnceRace(t *testing.T, f *fixture) {
	ns := "storetest-race-" + randomID()
	for round := range rounds {
		key := randomID()
		now := f.at(time.Duration(round) * time.Minute)
		got := make([]bool, racers)
		errs := make([]error, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				<-start
				got[i], errs[i] = f.s.UseOnce(f.ctx, ns, key, now.Add(5*time.Minute), now)
			})
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("rule: UseOnce answers concurrent calls: got error %v", err)
			}
		}
		if n := countTrue(got); n != 1 {
			t.Errorf("rule: UseOnce reports true exactly once, even under concurrency: %d concurrent calls, round %d got %d true", racers, round, n)
		}
	}
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// testRevokeAllRace: concurrent RevokeAll calls each bump the version once
// and each returns its own new version.
func testRevokeAllRace(t *testing.T, f *fixture) {
	const n = 16
	subject := f.newSubject()
	f.create(subject, f.base)
	got := make([]uint64, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			got[i], errs[i] = f.s.RevokeAll(f.ctx, subject, f.at(time.Second))
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("rule: RevokeAll answers concurrent calls: got error %v", err)
		}
	}
	slices.Sort(got)
	for i, v := range got {
		if v != uint64(i+1) {
			t.Errorf("rule: RevokeAll bumps the version and returns the new one in one atomic step: %d concurrent calls returned %v, want 1..%d each once", n, got, n)
			break
		}
	}
	if v := f.version(subject); v != n {
		t.Errorf("rule: %d concurrent RevokeAll calls raise the version by exactly %d: Version got %d", n, n, v)
	}
}
