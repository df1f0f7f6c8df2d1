package sessionkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of a Verifier's remote JWKS cache.
const (
	// DefaultMinCacheTTL is the shortest time a fetched JWKS is kept,
	// whatever its Cache-Control says.
	DefaultMinCacheTTL = 5 * time.Minute
	// DefaultMaxCacheTTL is the longest time a fetched JWKS is kept.
	DefaultMaxCacheTTL = 24 * time.Hour
	// DefaultRefetchInterval is the least time between two refetches of
	// one issuer's JWKS for unknown kids (see VerifierConfig.RefetchInterval).
	DefaultRefetchInterval = 30 * time.Second
	// DefaultFetchTimeout bounds one JWKS fetch.
	DefaultFetchTimeout = 10 * time.Second
	// MaxJWKSSize is the largest JWKS document a Verifier reads (1 MiB).
	MaxJWKSSize = 1 << 20
)

// initialRetry is the least time between two attempts to fetch a JWKS while
// no key set has been obtained yet.
const initialRetry = time.Second

// errRateLimited is remoteKeys.fetch's answer when the last attempt was too
// recent to try again.
var errRateLimited = errors.New("sessionkit: JWKS refetch rate-limited")

// remoteKeys is the cached JWKS of one trusted issuer.
//
// The cached set is an immutable snapshot read without locking. A fetch is
// single-flight: it runs in its own goroutine under a context detached from
// the caller that started it (with the fetch timeout), and every caller,
// the first included, waits for it only as long as its own context allows.
//
// A fetch has one of two causes, each with its own rate limit:
//
//   - Expiry (get): the cached set is missing or expired. Such a fetch
//     starts only when the last attempt of either cause is at least one
//     refetch interval old (initialRetry while no set was ever fetched), so
//     a refetch for an unknown kid also serves as the refresh that falls
//     due right after it, and a failing endpoint is asked once per interval.
//     Until then an expired set keeps serving.
//   - Unknown kid (refetch): a token names a kid the cached set lacks. Such
//     a fetch starts at once unless the last one for an unknown kid is less
//     than an interval old; a fetch for expiry does not count, so a kid
//     published right after any other fetch is picked up by the first token
//     that carries it. Within the interval, a kid absent from the last
//     fetched set is answered as unknown at once (the negative cache), so a
//     flood of tokens with random kids costs at most one fetch per interval.
//
// A caller of either kind joins the fetch in flight, if any, instead of
// starting one, and that costs no rate-limit budget. A fetch that succeeds
// sets the next expiry, so the two causes together make at most two fetches
// per interval, and, while the endpoint answers and no unknown kids arrive,
// one per cache lifetime (at least MinCacheTTL). A clock that moves back
// lifts the limits.
type remoteKeys struct {
	url      string // the configured JWKSURL; "" when discovered
	issuer   string
	client   *http.Client
	allow    algSet
	hmac     []*publicKey // configured HMAC keys, merged into every set
	minTTL   time.Duration
	maxTTL   time.Duration
	interval time.Duration
	timeout  time.Duration
	log      *slog.Logger
	events   func(context.Context, Event) // VerifierConfig.Events
	now      func() time.Time

	// Discovery, when url is "" (discovery.go).
	locations [2]string                     // where the document is
	insecure  bool                          // InsecureAllowHTTP, for its jwks_uri
	doc       atomic.Pointer[discoveredDoc] // the last good document; nil before the first

	cur atomic.Pointer[remoteSet] // the last good set; nil before the first

	mu       sync.Mutex // guards inflight, lastTry and lastKID
	inflight *fetchCall
	lastTry  time.Time // the last attempt of either cause
	lastKID  time.Time // the last attempt for an unknown kid
}

// remoteSet is one fetched JWKS: its keys and cache metadata.
type remoteSet struct {
	keys    *resolvedKeys
	expires time.Time
	etag    string
	url     string // where it was fetched; its etag is for that URL only
}

// fetchCall is one fetch in flight; done closes when set and err are final.
type fetchCall struct {
	done chan struct{}
	set  *remoteSet
	err  error
}

// get returns the key set to verify with. A fresh cached set is returned at
// once. A missing or expired one is fetched; if that fails (or is
// rate-limited after a recent failure) an expired set keeps serving, and
// without any set the answer wraps ErrKeysUnavailable.
func (r *remoteKeys) get(ctx context.Context, now time.Time) (*resolvedKeys, error) {
	cur := r.cur.Load()
	if cur != nil && now.Before(cur.expires) {
		return cur.keys, nil
	}
	set, err := r.fetch(ctx, false)
	if err == nil {
		return set.keys, nil
	}
	if cur != nil {
		return cur.keys, nil // stale but the last good one; the failure is logged
	}
	if errors.Is(err, errRateLimited) {
		return nil, fmt.Errorf("%w: the JWKS could not be fetched yet", ErrKeysUnavailable)
	}
	return nil, err
}

// refetch fetches the JWKS again because a token named a kid the cached set
// lacks. It returns the new set, or nil when the rate limit (the negative
// cache) answers for it. An error means the fetch failed or the caller's
// context ended.
func (r *remoteKeys) refetch(ctx context.Context) (*resolvedKeys, error) {
	set, err := r.fetch(ctx, true)
	if errors.Is(err, errRateLimited) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return set.keys, nil
}

// fetch starts a fetch, or joins the one in flight, and waits for it or for
// ctx. forKID names the cause: an unknown kid, else expiry (see remoteKeys
// for the limits). It answers errRateLimited when the last attempt that
// counts for the cause is too recent.
func (r *remoteKeys) fetch(ctx context.Context, forKID bool) (*remoteSet, error) {
	r.mu.Lock()
	call := r.inflight
	if call == nil {
		now := r.now()
		last, wait := r.lastTry, r.interval
		switch {
		case forKID:
			last = r.lastKID
		case r.cur.Load() == nil:
			wait = min(initialRetry, r.interval)
		}
		if !last.IsZero() && now.Before(last.Add(wait)) && !now.Before(last) {
			r.mu.Unlock()
			return nil, errRateLimited
		}
		r.lastTry = now
		if forKID {
			r.lastKID = now
		}
		call = &fetchCall{done: make(chan struct{})}
		r.inflight = call
		go r.run(context.WithoutCancel(ctx), call)
	}
	r.mu.Unlock()
	select {
	case <-call.done:
		return call.set, call.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for the JWKS: %w", ErrKeysUnavailable, ctx.Err())
	}
}

// run performs call: discovery when due, one HTTP fetch of the JWKS, then
// publishes the outcome. Each step is bounded by the fetch timeout.
func (r *remoteKeys) run(ctx context.Context, call *fetchCall) {
	url, err := r.jwksURL(ctx) // logs its own failures
	var set *remoteSet
	if err == nil {
		set, err = r.download(ctx, url)
	}
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	switch {
	case err == nil:
		r.cur.Store(set)
	case url == "": // discovery failed, and reported it
	case r.cur.Load() != nil:
		r.log.WarnContext(ctx, "sessionkit: JWKS fetch failed; still verifying with the last good key set", "jwks", url, "error", err)
		r.fetchFailed(ctx, err)
	default:
		r.log.ErrorContext(ctx, "sessionkit: JWKS fetch failed; no keys to verify with", "jwks", url, "error", err)
		r.fetchFailed(ctx, err)
	}
	call.set, call.err = set, err
	r.mu.Lock()
	r.inflight = nil
	r.mu.Unlock()
	close(call.done)
}

// download GETs the JWKS at url (conditionally, when the cached set came
// from there with an ETag) and builds the new set.
func (r *remoteKeys) download(ctx context.Context, url string) (*remoteSet, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	cur := r.cur.Load()
	etag := ""
	if cur != nil && cur.url == url {
		etag = cur.etag
	}
	d, err := r.getDocument(ctx, url, "application/jwk-set+json, application/json", etag, MaxJWKSSize, "JWKS")
	if err != nil {
		return nil, err
	}
	now := r.now()
	if d.notModified {
		return &remoteSet{keys: cur.keys, expires: now.Add(r.ttl(d.header)), etag: etag, url: url}, nil
	}
	keys, err := parseJWKS(ctx, d.body, r.allow, r.log, url)
	if err != nil {
		return nil, unusable{fmt.Errorf("the JWKS is unusable: %w", err)}
	}
	resolved, conflicts := newResolvedKeys(r.allow, r.hmac, keys)
	logKIDConflicts(ctx, r.log, r.issuer, conflicts)
	return &remoteSet{
		keys:    resolved,
		expires: now.Add(r.ttl(d.header)),
		etag:    etagOf(d.header),
		url:     url,
	}, nil
}

// unusable marks the failure of a fetched document's content (a JWKS or
// discovery document that is too large, malformed or names another
// issuer), as opposed to a failure of the fetch.
type unusable struct{ error }

func (e unusable) Unwrap() error { return e.error }

// fetchFailed reports a failed JWKS or discovery fetch to
// VerifierConfig.Events: ReasonBadDocument for an unusable document,
// ReasonFetchFailed for anything else (network, timeout, status, refused
// redirect).
func (r *remoteKeys) fetchFailed(ctx context.Context, err error) {
	if r.events == nil {
		return
	}
	reason := ReasonFetchFailed
	if errors.As(err, new(unusable)) {
		reason = ReasonBadDocument
	}
	r.events(ctx, Event{Kind: EventKeysFetchFailed, Issuer: r.issuer, Reason: reason, Time: r.now()})
}

// fetchedDoc is getDocument's answer: a body, or notModified.
type fetchedDoc struct {
	body        []byte
	header      http.Header
	notModified bool
}

// statusError is an HTTP answer other than 200 (or 304 to a conditional
// request).
type statusError struct {
	what string
	code int
}

func (e *statusError) Error() string {
	return fmt.Sprintf("the %s endpoint answered %d", e.what, e.code)
}

// getDocument GETs url through the Verifier's client (redirects only on
// url's origin), conditionally when etag is set, and reads at most limit
// bytes of the body. what names the document in errors.
func (r *remoteKeys) getDocument(ctx context.Context, url, accept, etag string, limit int, what string) (*fetchedDoc, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the %s: %w", what, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && etag != "":
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return &fetchedDoc{header: resp.Header, notModified: true}, nil
	case resp.StatusCode != http.StatusOK:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, &statusError{what: what, code: resp.StatusCode}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("reading the %s: %w", what, err)
	}
	if len(body) > limit {
		return nil, unusable{fmt.Errorf("the %s is larger than %d bytes", what, limit)}
	}
	return &fetchedDoc{body: body, header: resp.Header}, nil
}

// etagOf is a response's ETag, or "" when it has none or one longer than
// 256 bytes (not worth keeping).
func etagOf(h http.Header) string {
	etag := h.Get("ETag")
	if len(etag) > 256 {
		return ""
	}
	return etag
}

// ttl is how long a response may be cached: its Cache-Control max-age,
// clamped to [minTTL, maxTTL]; minTTL without max-age or with no-cache or
// no-store.
func (r *remoteKeys) ttl(h http.Header) time.Duration {
	d, ok := maxAge(h.Values("Cache-Control"))
	if !ok {
		return r.minTTL
	}
	return min(max(d, r.minTTL), r.maxTTL)
}

// maxAge reads max-age from Cache-Control fields (RFC 9111 §5.2). no-store
// and no-cache count as 0; a malformed or missing max-age as absent.
func maxAge(fields []string) (time.Duration, bool) {
	var (
		age   time.Duration
		found bool
	)
	for _, f := range fields {
		for d := range strings.SplitSeq(f, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store", "no-cache":
				return 0, true
			case "max-age":
				val = strings.Trim(strings.TrimSpace(val), `"`)
				n, err := strconv.ParseUint(val, 10, 32)
				if err != nil {
					continue
				}
				if !found {
					age, found = time.Duration(n)*time.Second, true
				}
			}
		}
	}
	return age, found
}
