package boltstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/sessionkit/store"
)

var bucketTest = []byte("test")

// newBatcher opens a fresh database with a "test" bucket and a batcher over
// it allowing max calls per batch.
func newBatcher(t *testing.T, max int) *batcher {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "batch.db"), 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucket(bucketTest)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return &batcher{db: db, max: max}
}

// put is a txFunc writing key=val into the test bucket.
func put(key, val string) txFunc {
	return func(tx *bbolt.Tx) (bool, error) {
		return true, tx.Bucket(bucketTest).Put([]byte(key), []byte(val))
	}
}

// get reads key from the test bucket ("" if absent).
func get(t *testing.T, db *bbolt.DB, key string) string {
	t.Helper()
	var v string
	if err := db.View(func(tx *bbolt.Tx) error {
		v = string(tx.Bucket(bucketTest).Get([]byte(key)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

// lastTx is the id of the last committed write transaction.
func lastTx(t testing.TB, db *bbolt.DB) int {
	t.Helper()
	var id int
	if err := db.View(func(tx *bbolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}

// holdWriter takes bbolt's writer lock, so that the next batch blocks in
// Begin until release is called.
func holdWriter(t *testing.T, db *bbolt.DB) (release func()) {
	t.Helper()
	tx, err := db.Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	return func() { _ = tx.Rollback() }
}

// waitUntil yields until cond, read under the batcher's lock, holds. It
// waits for goroutines to reach a state, never for time to pass; a bug
// shows as the test binary's timeout.
func waitUntil(b *batcher, cond func() bool) {
	for {
		b.mu.Lock()
		ok := cond()
		b.mu.Unlock()
		if ok {
			return
		}
		runtime.Gosched()
	}
}

// stall starts a leader whose batch (fn alone) blocks in Begin behind the
// held writer lock, and returns its result channel once the leader has
// taken its batch, so that later calls queue behind it.
func stall(b *batcher, fn txFunc) <-chan error {
	res := make(chan error, 1)
	go func() { res <- b.do(context.Background(), fn) }()
	waitUntil(b, func() bool { return b.leading && len(b.pending) == 0 })
	return res
}

// queue starts one goroutine per fn, each calling do with ctx, waits until
// all of them are queued, and returns their results in order.
func queue(b *batcher, ctx context.Context, fns ...txFunc) []chan error {
	b.mu.Lock()
	base := len(b.pending)
	b.mu.Unlock()
	res := make([]chan error, len(fns))
	for i, fn := range fns {
		res[i] = make(chan error, 1)
		go func() { res[i] <- b.do(ctx, fn) }()
		waitUntil(b, func() bool { return len(b.pending) == base+i+1 })
	}
	return res
}

func TestBatchSharesCommits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		max         int
		queued      int
		wantCommits int
	}{
		{"one writer alone", 1000, 0, 1},
		{"seven queued behind a commit share the next", 1000, 7, 2},
		{"MaxBatchSize caps a batch", 3, 7, 4}, // 1, then 3 + 3 + 1
		{"MaxBatchSize 1 commits each alone", 1, 4, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBatcher(t, tt.max)
			before := lastTx(t, b.db)
			release := holdWriter(t, b.db)
			first := stall(b, put("k0", "v0"))
			fns := make([]txFunc, tt.queued)
			for i := range fns {
				fns[i] = put(fmt.Sprint("k", i+1), fmt.Sprint("v", i+1))
			}
			res := queue(b, context.Background(), fns...)
			release()
			if err := <-first; err != nil {
				t.Fatalf("leader: %v", err)
			}
			for i, r := range res {
				if err := <-r; err != nil {
					t.Fatalf("writer %d: %v", i+1, err)
				}
			}
			if got := lastTx(t, b.db) - before; got != tt.wantCommits {
				t.Errorf("%d writes made %d commits, want %d", tt.queued+1, got, tt.wantCommits)
			}
			for i := range tt.queued + 1 {
				if v := get(t, b.db, fmt.Sprint("k", i)); v != fmt.Sprint("v", i) {
					t.Errorf("k%d = %q after its call returned", i, v)
				}
			}
			if b.leading || len(b.pending) != 0 {
				t.Errorf("batcher not idle: leading %v, %d pending", b.leading, len(b.pending))
			}
		})
	}
}

func TestBatchNoWriteNoCommit(t *testing.T) {
	t.Parallel()
	b := newBatcher(t, 1000)
	before := lastTx(t, b.db)
	read := func(tx *bbolt.Tx) (bool, error) { _ = tx.Bucket(bucketTest).Get([]byte("k")); return false, nil }
	for range 3 {
		if err := b.do(context.Background(), read); err != nil {
			t.Fatal(err)
		}
	}
	if got := lastTx(t, b.db); got != before {
		t.Errorf("calls that wrote nothing committed %d transactions", got-before)
	}
	// A call that claims no write but wrote anyway is rolled back: the
	// report decides.
	sneaky := func(tx *bbolt.Tx) (bool, error) { return false, tx.Bucket(bucketTest).Put([]byte("k"), []byte("v")) }
	if err := b.do(context.Background(), sneaky); err != nil {
		t.Fatal(err)
	}
	if v := get(t, b.db, "k"); v != "" {
		t.Errorf("a write reported as none was committed: k = %q", v)
	}
}

func TestBatchFailureIsolated(t *testing.T) {
	t.Parallel()
	b := newBatcher(t, 1000)
	errBoom := errors.New("boom")
	runs := 0
	failing := func(tx *bbolt.Tx) (bool, error) {
		runs++ // only the leader's goroutine runs functions
		if err := tx.Bucket(bucketTest).Put([]byte("bad"), []byte("x")); err != nil {
			return false, err
		}
		return false, errBoom
	}
	release := holdWriter(t, b.db)
	first := stall(b, put("k0", "v0"))
	res := queue(b, context.Background(), put("k1", "v1"), failing, put("k2", "v2"))
	before := lastTx(t, b.db)
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for i, want := range []error{nil, errBoom, nil} {
		if err := <-res[i]; !errors.Is(err, want) || (want == nil && err != nil) {
			t.Errorf("writer %d: got %v, want %v", i+1, err, want)
		}
	}
	for _, k := range []string{"k0", "k1", "k2"} {
		if get(t, b.db, k) == "" {
			t.Errorf("%s missing: a failing neighbour undid it", k)
		}
	}
	if v := get(t, b.db, "bad"); v != "" {
		t.Errorf("the failing function's write survived: bad = %q", v)
	}
	// k0 alone; k1 and k2 together after the rollback; the failing one
	// alone, rolled back.
	if got := lastTx(t, b.db) - before; got != 2 {
		t.Errorf("%d commits, want 2", got)
	}
	if runs != 2 {
		t.Errorf("the failing function ran %d times, want 2 (in the batch, then alone)", runs)
	}
}

func TestBatchPanicReachesCaller(t *testing.T) {
	t.Parallel()
	b := newBatcher(t, 1000)
	release := holdWriter(t, b.db)
	first := stall(b, put("k0", "v0"))
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		_ = b.do(context.Background(), func(*bbolt.Tx) (bool, error) { panic("kaboom") })
	}()
	waitUntil(b, func() bool { return len(b.pending) == 1 })
	res := queue(b, context.Background(), put("k1", "v1"))
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if p := <-panicked; p != "kaboom" {
		t.Errorf("the caller recovered %v, want the function's panic", p)
	}
	if err := <-res[0]; err != nil {
		t.Errorf("a neighbour of the panicking function: %v", err)
	}
	// The batcher still works.
	if err := b.do(context.Background(), put("k2", "v2")); err != nil || get(t, b.db, "k2") != "v2" {
		t.Errorf("after a panic: %v", err)
	}
}

func TestBatchContext(t *testing.T) {
	t.Parallel()
	t.Run("withdrawn while queued", func(t *testing.T) {
		t.Parallel()
		b := newBatcher(t, 1000)
		release := holdWriter(t, b.db)
		first := stall(b, put("k0", "v0"))
		ctx, cancel := context.WithCancel(context.Background())
		res := queue(b, ctx, put("k1", "v1"))
		keep := queue(b, context.Background(), put("k2", "v2"))
		cancel()
		// It returns while the writer lock is still held: it never ran.
		err := <-res[0]
		if !errors.Is(err, context.Canceled) || !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("withdrawn call: %v, want context.Canceled and ErrUnavailable", err)
		}
		release()
		if err := <-first; err != nil {
			t.Fatal(err)
		}
		if err := <-keep[0]; err != nil {
			t.Fatal(err)
		}
		if v := get(t, b.db, "k1"); v != "" {
			t.Errorf("the withdrawn call's write happened: k1 = %q", v)
		}
		if get(t, b.db, "k2") != "v2" {
			t.Errorf("the call queued after the withdrawn one was lost")
		}
	})
	t.Run("ended after its batch was taken", func(t *testing.T) {
		t.Parallel()
		b := newBatcher(t, 1000)
		release := holdWriter(t, b.db)
		ctx, cancel := context.WithCancel(context.Background())
		res := make(chan error, 1)
		go func() { res <- b.do(ctx, put("k0", "v0")) }()
		waitUntil(b, func() bool { return b.leading && len(b.pending) == 0 })
		cancel() // the leader is blocked in Begin with this call in its batch
		release()
		if err := <-res; !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
		if v := get(t, b.db, "k0"); v != "" {
			t.Errorf("a call whose context ended before its turn ran: k0 = %q", v)
		}
	})
	t.Run("the head of the queue withdraws", func(t *testing.T) {
		t.Parallel()
		// The first queued call is cancelled; the lead passes to the next.
		b := newBatcher(t, 1)
		release := holdWriter(t, b.db)
		first := stall(b, put("k0", "v0"))
		ctx, cancel := context.WithCancel(context.Background())
		gone := queue(b, ctx, put("k1", "v1"))
		rest := queue(b, context.Background(), put("k2", "v2"), put("k3", "v3"))
		cancel()
		<-gone[0]
		release()
		for _, r := range rest {
			if err := <-r; err != nil {
				t.Fatal(err)
			}
		}
		if err := <-first; err != nil {
			t.Fatal(err)
		}
		if get(t, b.db, "k3") != "v3" || get(t, b.db, "k1") != "" {
			t.Errorf("k1 = %q, k3 = %q", get(t, b.db, "k1"), get(t, b.db, "k3"))
		}
	})
}

// TestBatchManyWriters hammers the batcher from many goroutines, some of
// them cancelled at random points, under the race detector: every call
// returns, and exactly the calls that returned nil wrote.
func TestBatchManyWriters(t *testing.T) {
	t.Parallel()
	b := newBatcher(t, 7)
	const writers, each = 16, 40
	var wg sync.WaitGroup
	errs := make([][]error, writers)
	for w := range writers {
		errs[w] = make([]error, each)
		wg.Go(func() {
			for i := range each {
				ctx, cancel := context.WithCancel(context.Background())
				if i%5 == 0 {
					go cancel()
				}
				errs[w][i] = b.do(ctx, put(fmt.Sprintf("w%d-%d", w, i), "v"))
				cancel()
			}
		})
	}
	wg.Wait()
	for w := range writers {
		for i, err := range errs[w] {
			wrote := get(t, b.db, fmt.Sprintf("w%d-%d", w, i)) == "v"
			switch {
			case err == nil && !wrote:
				t.Errorf("w%d-%d returned nil but did not write", w, i)
			case err != nil && wrote:
				t.Errorf("w%d-%d returned %v but wrote", w, i, err)
			case err != nil && !errors.Is(err, context.Canceled):
				t.Errorf("w%d-%d: %v", w, i, err)
			}
		}
	}
}
