package sessionkit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit/internal/scope"
	"github.com/sessionkit/sessionkit/store"
)

// ReadinessTimeout is how long ReadinessHandler waits for its checks, at
// most: probes often set no timeout of their own, and a probe that waits
// longer than its prober does answers nobody.
const ReadinessTimeout = 3 * time.Second

// Checker is a readiness check: Check returns nil when the dependency it
// covers can serve, else an error saying what is wrong. Issuer, Verifier
// and KeySet implement it; so can the application's own dependencies, for
// ReadinessHandler.
type Checker interface {
	Check(ctx context.Context) error
}

var (
	_ Checker = (*Issuer)(nil)
	_ Checker = (*Verifier)(nil)
	_ Checker = (*KeySet)(nil)
)

// Check reports whether ks can sign: nil when it has a signing key, else an
// error wrapping ErrKeysUnavailable. It does no I/O. A KeySet that only
// verifies (TrustedIssuer.Keys) needs no signing key: Verifier.Check asks
// it for a published key instead.
func (ks *KeySet) Check(context.Context) error {
	if ks.load().signing == nil {
		return fmt.Errorf("%w: the key set has no signing key", ErrKeysUnavailable)
	}
	return nil
}

// Check reports whether the Issuer can serve: its KeySet has a signing key
// (else an error wrapping ErrKeysUnavailable) and its store answers a read
// (else an error wrapping ErrStoreUnavailable, and ctx's error when ctx
// ended first). Call it before serving, with a deadline, so that a missing
// store fails the start rather than the first login; ReadinessHandler
// serves it to probes.
//
// The read is the cheapest call every stateful store has: the token
// version (store.Store.Version) of a subject no Issuer ever writes, under
// this Issuer's name in the store. It writes nothing and goes through the
// same path as the Issuer's own reads (connection, permissions, Redis
// Cluster routing, a database's schema), which a bare ping would not; on a
// Redis Cluster it reaches the one node owning that name's slot. A store
// without store.Versions keeps nothing the check could read, so it counts
// as ready: the stateless sealed store is always ready, and a hybrid sealed
// store is checked through its state store. A store with more to say
// (store.Readier: a redisstore.View with FailClosed whose subscription is
// not in step) is asked after the read. A store failure is also logged
// (Config.Logger); errors and records carry no secrets.
func (iss *Issuer) Check(ctx context.Context) error {
	if err := iss.keys.Check(ctx); err != nil {
		return err
	}
	if err := checkStore(ctx, iss.store, iss.scope); err != nil {
		iss.log.ErrorContext(ctx, "sessionkit: not ready: the store cannot serve", "error", err)
		return err
	}
	return nil
}

// Check reports whether the Verifier can verify: every trusted issuer has
// keys, and VerifierConfig.Store, when set, answers a read as in
// Issuer.Check. An issuer with a JWKS URL (configured or discovered) has
// keys when its set is cached, fresh or stale (as Verify would use it), or
// can be fetched now; a fetch is single-flight and rate-limited like
// Verify's, and Check waits for it as long as ctx allows. An issuer with a
// local KeySet needs a published key of an allowed algorithm; HMAC keys are
// always there. A failure wraps ErrKeysUnavailable or ErrStoreUnavailable
// (both, joined, when both fail) and names the issuer; fetch failures are
// logged where they happen and store failures here (VerifierConfig.Logger).
func (v *Verifier) Check(ctx context.Context) error {
	issuers := make([]string, 0, len(v.byIssuer))
	for iss := range v.byIssuer {
		issuers = append(issuers, iss)
	}
	slices.Sort(issuers) // one order for the errors, every time
	now := v.clock()
	var errs []error
	for _, iss := range issuers {
		keys, err := v.byIssuer[iss].keys(ctx, now)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("sessionkit: issuer %q: %w", shorten(iss), err))
		case len(keys.byKID) == 0:
			errs = append(errs, fmt.Errorf("%w: issuer %q has no key of an allowed algorithm", ErrKeysUnavailable, shorten(iss)))
		}
	}
	if v.store != nil {
		if err := checkStore(ctx, v.store, v.byIssuer[issuers[0]].scope); err != nil {
			v.log.ErrorContext(ctx, "sessionkit: not ready: the store cannot serve", "error", err)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkStore reads the token version of sc's probe subject from st, if st
// keeps versions, then asks a store.Readier whether it can serve. Every
// failure wraps ErrStoreUnavailable.
func checkStore(ctx context.Context, st store.Store, sc scope.Scope) error {
	if !st.Capabilities().Has(store.Versions) {
		return nil
	}
	if _, err := st.Version(ctx, sc.Probe()); err != nil {
		if !errors.Is(err, ErrStoreUnavailable) {
			err = fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
		}
		return fmt.Errorf("sessionkit: the store does not answer a read: %w", err)
	}
	if r, ok := st.(store.Readier); ok {
		if err := r.Ready(ctx); err != nil {
			if !errors.Is(err, ErrStoreUnavailable) {
				err = fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
			}
			return fmt.Errorf("sessionkit: the store answers but cannot serve the checks: %w", err)
		}
	}
	return nil
}

// ReadinessHandler returns a readiness endpoint for load balancers and
// orchestrators, e.g. at GET /readyz: it runs every check (an Issuer, a
// Verifier, a KeySet, the application's own) concurrently and answers 200
// "ready" when all pass, 503 "not ready: " and a short reason otherwise
// ("store unavailable", "keys unavailable", "check failed", with
// "(timed out)" when the deadline ended it, or "timed out" for a check
// still running then). The reason never says more: the checks' errors name
// hosts, paths and issuers, so Issuer and Verifier log them instead (their
// Logger). Answers are text/plain with Cache-Control: no-store; it answers
// GET and HEAD (405 otherwise).
//
// It waits at most ReadinessTimeout, less when the request's context ends
// sooner, even for a check that ignores its context. With no checks it
// always answers ready. A panic in a check propagates to the request, as
// one in the handler itself would.
func ReadinessHandler(checks ...Checker) http.Handler {
	for i, c := range checks {
		if c == nil {
			panic(fmt.Errorf("%w: ReadinessHandler: check %d is nil", ErrInvalidConfig, i))
		}
	}
	checks = slices.Clone(checks)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeText(w, r, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), ReadinessTimeout)
		defer cancel()
		if reason := runChecks(ctx, checks); reason != "" {
			writeText(w, r, http.StatusServiceUnavailable, "not ready: "+reason)
			return
		}
		writeText(w, r, http.StatusOK, "ready")
	})
}

// checkResult is one check's outcome: its index and error, or the value
// it panicked with.
type checkResult struct {
	i        int
	err      error
	panicked bool
	value    any
}

// runChecks runs the checks concurrently until all have answered or ctx
// ends, and returns the short reasons of the failures (deduplicated, in the
// checks' order, joined by ", "); "" when all passed. A check that panics
// panics the caller.
func runChecks(ctx context.Context, checks []Checker) string {
	results := make(chan checkResult, len(checks)) // a late check never blocks
	for i, c := range checks {
		go func() {
			res := checkResult{i: i, panicked: true}
			defer func() {
				if res.panicked {
					res.value = recover()
				}
				results <- res
			}()
			res.err = c.Check(ctx)
			res.panicked = false
		}()
	}
	reasons := make([]string, len(checks))
	answered := make([]bool, len(checks))
	take := func(res checkResult) {
		if res.panicked {
			panic(res.value)
		}
		answered[res.i] = true
		if res.err != nil {
			reasons[res.i] = shortReason(res.err)
		}
	}
wait:
	for range checks {
		select {
		case res := <-results:
			take(res)
		case <-ctx.Done():
			// Take the answers already there (a check that returned at
			// the deadline); the others are still running.
			for len(results) > 0 {
				take(<-results)
			}
			for i := range reasons {
				if !answered[i] {
					reasons[i] = "timed out"
				}
			}
			break wait
		}
	}
	var out []string
	for _, r := range reasons {
		if r != "" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return strings.Join(out, ", ")
}

// shortReason names what err says is wrong, from its sentinels alone.
func shortReason(err error) string {
	var what []string
	if errors.Is(err, ErrKeysUnavailable) {
		what = append(what, "keys unavailable")
	}
	if errors.Is(err, ErrStoreUnavailable) {
		what = append(what, "store unavailable")
	}
	if len(what) == 0 {
		what = append(what, "check failed")
	}
	reason := strings.Join(what, ", ")
	if errors.Is(err, context.DeadlineExceeded) {
		reason += " (timed out)"
	}
	return reason
}

// writeText writes a one-line plain-text answer (no body for HEAD).
func writeText(w http.ResponseWriter, r *http.Request, status int, msg string) {
	body := msg + "\n"
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}
