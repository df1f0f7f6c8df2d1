package boltstore

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/sessionkit/store"
)

// defaultMaxBatch is the default Options.MaxBatchSize.
const defaultMaxBatch = 1000

// errPanicked stands for a panic inside a transaction function while the
// batch it was in is sorted out; the panic itself reaches the function's
// caller.
var errPanicked = errors.New("boltstore: transaction function panicked")

// txFunc is one store step inside a write transaction. It reports whether it
// wrote anything. It may run more than once (when another function of its
// batch fails, the batch is rolled back and retried without it), so it must
// decide everything from the transaction's state and reset its results at
// the start of every run.
type txFunc func(tx *bbolt.Tx) (wrote bool, err error)

// batcher is a group commit over one bbolt database: writers that arrive
// while a transaction is being committed queue up, and the next transaction
// runs all of them and commits (one fsync) once. A writer alone commits at
// once: there is no delay to tune.
//
// The writer that finds no transaction running leads: it runs the queue
// (itself first) as one batch, then hands the lead to the first writer that
// queued meanwhile, if any, and returns. So no writer runs more than one
// batch, and every queued writer is either finished or woken to lead.
type batcher struct {
	db  *bbolt.DB
	max int

	mu      sync.Mutex
	pending []*call
	leading bool // a writer is running a batch
}

// call is one queued writer.
type call struct {
	ctx context.Context
	fn  txFunc

	// Set before wake is signalled, read after.
	err      error
	panicked any
	lead     bool // set under batcher.mu: the writer leads the next batch
	done     bool // finished; read and written by the leader only

	wake chan struct{} // buffered: the call finished, or its writer leads
}

// do runs fn in a write transaction shared with concurrent writers and
// returns when that transaction has ended. fn's changes are committed unless
// it, or the commit, fails; a failing fn leaves nothing behind and its error
// is returned. If ctx ends while the call is still queued, the call is
// withdrawn (fn never runs) and do returns the context's error; once its
// transaction has begun, do waits for it, since a bbolt transaction cannot be
// stopped midway. A panic in fn is re-raised in do's caller.
func (b *batcher) do(ctx context.Context, fn txFunc) error {
	c := &call{ctx: ctx, fn: fn, wake: make(chan struct{}, 1)}
	b.mu.Lock()
	b.pending = append(b.pending, c)
	if !b.leading {
		b.leading = true
		b.mu.Unlock()
		b.lead()
		return c.result()
	}
	b.mu.Unlock()

	select {
	case <-c.wake:
	case <-ctx.Done():
		if b.withdraw(c) {
			return store.ContextError(ctx)
		}
		<-c.wake
	}
	if c.lead {
		b.lead()
	}
	return c.result()
}

// withdraw removes c from the queue if it is still there and was not chosen
// to lead; it reports whether it did.
func (b *batcher) withdraw(c *call) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c.lead {
		return false
	}
	i := slices.Index(b.pending, c)
	if i < 0 {
		return false
	}
	b.pending = slices.Delete(b.pending, i, i+1)
	return true
}

// lead runs one batch from the head of the queue (the leader's own call is
// at its head) and passes the lead on.
//
// Before taking the batch the leader yields once: the writers that the last
// commit just released are runnable, and letting them queue their next
// write now puts them in this batch instead of the next one. Without it,
// writers settle into two groups that take turns, and a batch holds about
// half of them; with it, nearly all (the benchmarks report
// rotations/commit). A lone writer has nobody to yield to and loses nothing.
func (b *batcher) lead() {
	runtime.Gosched()
	b.mu.Lock()
	n := min(len(b.pending), b.max)
	batch := slices.Clone(b.pending[:n])
	b.pending = slices.Delete(b.pending, 0, n)
	b.mu.Unlock()

	b.run(batch)

	b.mu.Lock()
	if len(b.pending) > 0 {
		next := b.pending[0]
		next.lead = true
		next.wake <- struct{}{}
	} else {
		b.leading = false
	}
	b.mu.Unlock()
}

// run runs the calls of a batch and finishes each of them. When a call
// fails, the transaction is rolled back, the others are run again without
// it, and it runs alone afterwards so that its outcome is its own.
func (b *batcher) run(batch []*call) {
	var alone []*call
	for len(batch) > 0 {
		failed, err := b.try(batch)
		if failed < 0 {
			break
		}
		if len(batch) == 1 {
			batch[0].finish(err)
			break
		}
		alone = append(alone, batch[failed])
		batch = slices.Delete(batch, failed, failed+1)
		batch = slices.DeleteFunc(batch, (*call).finished)
	}
	for _, c := range alone {
		if failed, err := b.try([]*call{c}); failed >= 0 {
			c.finish(err)
		}
	}
}

// try runs calls in one write transaction. A call whose context has ended
// by the time its turn comes is finished with the context's error without
// running. If every call that ran succeeded, try commits (or, when none
// wrote, rolls back: there is nothing to make durable), finishes them with
// the result and returns -1. If one fails, it rolls back, finishes no call
// that ran, and returns the index of the failed call and its error.
func (b *batcher) try(calls []*call) (int, error) {
	tx, err := b.db.Begin(true)
	if err != nil {
		for _, c := range calls {
			c.finish(err)
		}
		return -1, nil
	}
	wrote := false
	for i, c := range calls {
		if err := store.ContextError(c.ctx); err != nil {
			c.finish(err)
			continue
		}
		w, err := c.apply(tx)
		if err != nil {
			_ = tx.Rollback()
			return i, err
		}
		wrote = wrote || w
	}
	if wrote {
		err = tx.Commit()
	} else {
		err = tx.Rollback()
	}
	for _, c := range calls {
		if !c.finished() {
			c.finish(err)
		}
	}
	return -1, nil
}

// apply runs the call's function, turning a panic into errPanicked (the
// panic value is kept for the caller).
func (c *call) apply(tx *bbolt.Tx) (wrote bool, err error) {
	c.panicked = nil
	defer func() {
		if p := recover(); p != nil {
			c.panicked = p
			wrote, err = false, errPanicked
		}
	}()
	return c.fn(tx)
}

// finish records the outcome and wakes the call's writer. Only the leader
// running the call's batch calls it, once.
func (c *call) finish(err error) {
	c.err = err
	c.done = true
	c.wake <- struct{}{}
}

// finished reports whether finish was called; only the leader reads it.
func (c *call) finished() bool { return c.done }

// result returns the outcome of a finished call, re-raising its panic.
func (c *call) result() error {
	if c.panicked != nil {
		panic(c.panicked)
	}
	return c.err
}
