package redisstore

import (
	"testing"
	"time"
)

// TestCutoff pins the margin: the sample's uncertainty at the deadline
// (its half round trip plus the drift allowance for its age), plus the
// answer's way back (a round trip as the sample's, plus lateSafety), which
// never takes more than half of what the call has left.
func TestCutoff(t *testing.T) {
	t.Parallel()
	local := time.Unix(1_900_000_000, 0)
	const server = int64(1_800_000_000_000_000) // the server's clock is 100,000,000 s behind
	smp := clockSample{server: server, local: local, unc: time.Millisecond}
	us := func(d time.Duration) int64 { return d.Microseconds() }
	for _, tt := range []struct {
		name     string
		now      time.Duration // after the sample
		deadline time.Duration // after now
		want     int64
	}{
		// 2 s after the sample: 1 ms + 2 ms drift; back 2 ms + 50 ms.
		{"a second's deadline", time.Second, time.Second, server + us(2*time.Second-3*time.Millisecond-52*time.Millisecond)},
		{"at the sample", 0, 500 * time.Millisecond, server + us(500*time.Millisecond-1500*time.Microsecond-52*time.Millisecond)},
		// 20 ms left: back is 10 ms.
		{"a short deadline", 0, 20 * time.Millisecond, server + us(20*time.Millisecond-1020*time.Microsecond-10*time.Millisecond)},
		{"a passed deadline", time.Second, -time.Second, server - us(time.Millisecond)},
	} {
		now := local.Add(tt.now)
		if got := smp.cutoff(now, now.Add(tt.deadline)); got != tt.want {
			t.Errorf("%s: cutoff = server%+d µs, want server%+d µs", tt.name, got-server, tt.want-server)
		}
	}
}

// TestServerClockKeepsTheBestSample: a sample replaces the best one when it
// is at least as certain as the best has become with age, or contradicts
// it; a sample serves for sampleMaxAge.
func TestServerClockKeepsTheBestSample(t *testing.T) {
	t.Parallel()
	base := time.Unix(1_900_000_000, 0)
	at := func(d time.Duration) time.Time { return base.Add(d) }
	srv := func(d time.Duration) int64 { return at(d).UnixMicro() + 5_000_000 } // the server is 5 s ahead
	var c serverClock
	if _, ok := c.sample(base); ok {
		t.Fatal("a fresh clock has a sample")
	}
	// A 2 ms round trip: unc 1 ms, local the midpoint.
	c.observe(srv(time.Millisecond), at(0), at(2*time.Millisecond))
	s, ok := c.sample(at(time.Second))
	if !ok || s.unc != time.Millisecond || !s.local.Equal(at(time.Millisecond)) || s.serverAt(at(time.Second)) != srv(time.Second) {
		t.Fatalf("first sample: %+v, %v", s, ok)
	}
	// A slower round trip a moment later (10 ms: unc 5 ms) does not replace
	// it; a faster one does.
	c.observe(srv(105*time.Millisecond), at(100*time.Millisecond), at(110*time.Millisecond))
	if s, _ := c.sample(at(time.Second)); s.unc != time.Millisecond {
		t.Errorf("a less certain sample replaced the best: unc %v", s.unc)
	}
	c.observe(srv(200*time.Millisecond+250*time.Microsecond), at(200*time.Millisecond), at(200*time.Millisecond+500*time.Microsecond))
	if s, _ := c.sample(at(time.Second)); s.unc != 250*time.Microsecond {
		t.Errorf("a more certain sample did not replace the best: unc %v", s.unc)
	}
	// Ten seconds on, the best has aged to about 10 ms: a 5 ms one replaces
	// it.
	c.observe(srv(10*time.Second+5*time.Millisecond), at(10*time.Second), at(10*time.Second+10*time.Millisecond))
	if s, _ := c.sample(at(11 * time.Second)); s.unc != 5*time.Millisecond {
		t.Errorf("a sample more certain than the aged best did not replace it: unc %v", s.unc)
	}
	// A reading 1 s off (the server's clock stepped): it contradicts the
	// best, so it replaces it, however uncertain.
	c.observe(srv(12*time.Second+50*time.Millisecond)+1_000_000, at(12*time.Second), at(12*time.Second+100*time.Millisecond))
	s, _ = c.sample(at(13 * time.Second))
	if s.unc != 50*time.Millisecond || s.serverAt(at(13*time.Second)) != srv(13*time.Second)+1_000_000 {
		t.Errorf("a contradicting sample did not replace the best: %+v", s)
	}
	// Nonsense is ignored.
	c.observe(0, at(13*time.Second), at(13*time.Second))
	c.observe(srv(14*time.Second), at(14*time.Second), at(13*time.Second))
	if s2, _ := c.sample(at(13 * time.Second)); s2 != s {
		t.Errorf("a reading of 0 or a negative round trip was taken: %+v", s2)
	}
	// A sample serves for sampleMaxAge.
	if _, ok := c.sample(s.local.Add(sampleMaxAge - time.Millisecond)); !ok {
		t.Error("a sample younger than sampleMaxAge does not serve")
	}
	if _, ok := c.sample(s.local.Add(sampleMaxAge)); ok {
		t.Error("a sample sampleMaxAge old still serves")
	}
}
