package storetest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// keyCase is one named case of the key-ring contract.
type keyCase struct {
	name string
	run  func(t *testing.T, k *keyFixture)
}

// keyFixture is one key-ring case's store and helpers.
type keyFixture struct {
	t   *testing.T
	s   store.KeyStore
	ctx context.Context
}

// RunKeys runs the conformance cases of the [store.KeyStore] contract
// against the stores newKeyStore makes, as [Run] does for [store.Store]:
// every case is a parallel subtest that calls newKeyStore(t) with its own t
// and works on that store under names of its own (random, so stores over
// one shared server or file may be returned), and RunKeys returns when all
// have finished. Failure messages start with "rule:".
func RunKeys(t *testing.T, newKeyStore func(t *testing.T) store.KeyStore) {
	t.Helper()
	for _, c := range keyCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newKeyStore(t)
			if s == nil {
				t.Fatal("storetest: newKeyStore returned a nil store")
			}
			c.run(t, &keyFixture{t: t, s: s, ctx: t.Context()})
		})
	}
}

func keyCases() []keyCase {
	return []keyCase{
		{"NoRing", testNoRing},
		{"FirstSwap", testFirstSwap},
		{"Sequence", testKeySequence},
		{"StaleVersion", testStaleVersion},
		{"NamesApart", testNamesApart},
		{"Verbatim", testKeysVerbatim},
		{"NoAliasing", testKeysNoAliasing},
		{"Limits", testKeyLimits},
		{"SwapRace", testSwapRace},
		{"DeadContext", testKeysDeadContext},
	}
}

// newName returns a ring name no other case uses, shaped like sessionkit's
// (an issuer identifier, a separator, a purpose).
func newName() string { return "https://storetest.example/" + randomID() + "\x1fk\x1fsigning" }

// load reads name, failing the case on an error.
func (k *keyFixture) load(name string) ([]byte, uint64) {
	k.t.Helper()
	blob, v, err := k.s.LoadKeys(k.ctx, name)
	if err != nil {
		k.t.Fatalf("rule: LoadKeys answers on a live context: got error %v", err)
	}
	return blob, v
}

// swap swaps name from version to blob, failing the case on an error.
func (k *keyFixture) swap(name string, version uint64, blob []byte) bool {
	k.t.Helper()
	ok, err := k.s.SwapKeys(k.ctx, name, version, blob)
	if err != nil {
		k.t.Fatalf("rule: SwapKeys answers a valid request on a live context: swapping from version %d got error %v", version, err)
	}
	return ok
}

// expect checks that name holds blob at version.
func (k *keyFixture) expect(what, name string, blob []byte, version uint64) {
	k.t.Helper()
	got, v := k.load(name)
	if v != version || !bytes.Equal(got, blob) {
		k.t.Errorf("rule: %s: LoadKeys got version %d and %d bytes (%s), want version %d and %d bytes (%s)",
			what, v, len(got), preview(got), version, len(blob), preview(blob))
	}
	if version == 0 && got != nil {
		k.t.Errorf("rule: %s: a name without a ring loads a nil blob, got %d bytes", what, len(got))
	}
}

// preview shows the start of a blob in a failure message.
func preview(b []byte) string {
	if len(b) > 16 {
		return string(b[:16]) + "..."
	}
	return string(b)
}

func testNoRing(t *testing.T, k *keyFixture) {
	k.expect("a name never swapped has no ring", newName(), nil, 0)
	for _, name := range []string{"", strings.Repeat("n", store.MaxKeyRingNameLen+1)} {
		blob, v, err := k.s.LoadKeys(k.ctx, name)
		if err != nil || blob != nil || v != 0 {
			t.Errorf("rule: a name SwapKeys refuses (%d bytes) has no ring: LoadKeys got %d bytes, version %d, error %v", len(name), len(blob), v, err)
		}
	}
}

func testFirstSwap(t *testing.T, k *keyFixture) {
	name, blob := newName(), []byte(`{"ring":1}`)
	if !k.swap(name, 0, blob) {
		t.Fatal("rule: SwapKeys from version 0 creates the ring a name does not have: it reported a lost race")
	}
	k.expect("the first swap stores version 1", name, blob, 1)
	if k.swap(name, 0, []byte(`{"ring":"other"}`)) {
		t.Error("rule: SwapKeys from version 0 fails once the ring exists: it swapped")
	}
	k.expect("a lost swap changes nothing", name, blob, 1)
}

func testKeySequence(t *testing.T, k *keyFixture) {
	name := newName()
	var blob []byte
	for v := uint64(0); v < 5; v++ {
		blob = randomBytes(100 + int(v))
		if !k.swap(name, v, blob) {
			t.Fatalf("rule: SwapKeys from the current version %d swaps: it reported a lost race", v)
		}
		k.expect("each swap raises the version by one", name, blob, v+1)
	}
}

func testStaleVersion(t *testing.T, k *keyFixture) {
	name := newName()
	blob := []byte("ring at version 2")
	k.swap(name, 0, []byte("ring at version 1"))
	k.swap(name, 1, blob)
	for _, v := range []uint64{0, 1, 3, 4, 1 << 40} {
		if k.swap(name, v, []byte("stale")) {
			t.Errorf("rule: SwapKeys from a version that is not the current one (%d, current 2) fails: it swapped", v)
		}
	}
	k.expect("a stale swap changes nothing", name, blob, 2)
}

func testNamesApart(t *testing.T, k *keyFixture) {
	// Names that are prefixes of each other, differ in a control byte, or
	// hold braces (a Redis Cluster hash tag) and colons, each keep a ring
	// of their own.
	base := newName()
	names := []string{base, base + "x", base[:len(base)-1], base + "\x00", base + "\x1f", base + "{tag}", base + ":1"}
	for i, name := range names {
		if !k.swap(name, 0, []byte{byte('a' + i)}) {
			t.Fatalf("rule: each name has a ring of its own: the first swap of name %d reported a lost race", i)
		}
	}
	k.swap(names[0], 1, []byte("moved on"))
	k.expect("each name has a ring of its own", names[0], []byte("moved on"), 2)
	for i, name := range names[1:] {
		k.expect("each name has a ring of its own", name, []byte{byte('b' + i)}, 1)
	}
}

func testKeysVerbatim(t *testing.T, k *keyFixture) {
	name := newName()
	blob := make([]byte, 0, 1024)
	for i := range 1024 {
		blob = append(blob, byte(i*7)) // every byte value, NUL and 0xff included
	}
	k.swap(name, 0, blob)
	k.expect("a blob comes back byte for byte", name, blob, 1)
}

func testKeysNoAliasing(t *testing.T, k *keyFixture) {
	name := newName()
	blob := []byte("the caller's bytes")
	want := bytes.Clone(blob)
	k.swap(name, 0, blob)
	blob[0] = 'X'
	k.expect("the store keeps its own copy of a blob it was given", name, want, 1)
	got, _ := k.load(name)
	got[0] = 'Y'
	k.expect("a loaded blob is the caller's to change", name, want, 1)
}

func testKeyLimits(t *testing.T, k *keyFixture) {
	name := newName()
	full := randomBytes(store.MaxKeyRingSize)
	if !k.swap(name, 0, full) {
		t.Fatal("rule: a blob of store.MaxKeyRingSize bytes is kept: it reported a lost race")
	}
	k.expect("a blob of store.MaxKeyRingSize bytes is kept", name, full, 1)
	long := strings.Repeat("n", store.MaxKeyRingNameLen-len(name)) + name
	if !k.swap(long, 0, []byte("ok")) {
		t.Error("rule: a name of store.MaxKeyRingNameLen bytes is kept: it reported a lost race")
	}
	for _, c := range []struct {
		what     string
		name     string
		blob     []byte
		tooLarge bool
	}{
		{"a blob over store.MaxKeyRingSize", name, randomBytes(store.MaxKeyRingSize + 1), true},
		{"a name over store.MaxKeyRingNameLen", "n" + long, []byte("ok"), true},
		{"an empty blob", name, nil, false},
		{"an empty name", "", []byte("ok"), false},
	} {
		ok, err := k.s.SwapKeys(k.ctx, c.name, 1, c.blob)
		if ok || err == nil {
			t.Errorf("rule: SwapKeys refuses %s with an error: got swapped %v, error %v", c.what, ok, err)
		}
		if c.tooLarge && !errors.Is(err, store.ErrTooLarge) {
			t.Errorf("rule: SwapKeys refuses %s with an error wrapping ErrTooLarge: got %v", c.what, err)
		}
		if errors.Is(err, store.ErrUnavailable) {
			t.Errorf("rule: SwapKeys refuses %s as the caller's mistake, not an outage: got %v", c.what, err)
		}
	}
	k.expect("a refused swap changes nothing", name, full, 1)
}

func testSwapRace(t *testing.T, k *keyFixture) {
	name := newName()
	for v := uint64(0); v < rounds; v++ {
		blobs := make([][]byte, racers)
		won := make([]bool, racers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range racers {
			blobs[i] = randomBytes(64)
			wg.Go(func() {
				<-start
				ok, err := k.s.SwapKeys(k.ctx, name, v, blobs[i])
				if err != nil {
					t.Errorf("rule: SwapKeys answers every racer: got error %v", err)
				}
				won[i] = ok
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, ok := range won {
			if ok && winner >= 0 {
				t.Fatalf("rule: of racers swapping from one version exactly one swaps: racers %d and %d both swapped from version %d", winner, i, v)
			}
			if ok {
				winner = i
			}
		}
		if winner < 0 {
			t.Fatalf("rule: of racers swapping from one version exactly one swaps: none swapped from version %d", v)
		}
		k.expect("the ring is the one winner's", name, blobs[winner], v+1)
	}
}

func testKeysDeadContext(t *testing.T, k *keyFixture) {
	name, blob := newName(), []byte("kept")
	k.swap(name, 0, blob)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, c := range []struct {
		ctx   context.Context
		cause error
	}{{canceled, context.Canceled}, {expired, context.DeadlineExceeded}} {
		check := func(method string, err error) {
			t.Helper()
			if !errors.Is(err, c.cause) || !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("rule: a method called with a dead context fails with an error wrapping ctx.Err() (%v) and ErrUnavailable: %s got %v", c.cause, method, err)
			}
		}
		_, _, err := k.s.LoadKeys(c.ctx, name)
		check("LoadKeys", err)
		ok, err := k.s.SwapKeys(c.ctx, name, 1, []byte("lost"))
		check("SwapKeys", err)
		if ok {
			t.Errorf("rule: a method called with a dead context changes nothing: SwapKeys reported a swap")
		}
	}
	k.expect("a failed SwapKeys changes nothing", name, blob, 1)
}
