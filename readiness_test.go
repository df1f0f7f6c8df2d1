package sessionkit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/scope"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// shortDeadline is the deadline of the tests whose store or JWKS endpoint
// hangs: they wait for it to pass, and assert nothing about time.
const shortDeadline = 20 * time.Millisecond

// probeStore answers Version with version (when set), records the
// subjects asked, and forwards everything else.
type probeStore struct {
	store.Store
	version func(ctx context.Context, subject string) (uint64, error)
	mu      sync.Mutex
	asked   []string
}

func (p *probeStore) Version(ctx context.Context, subject string) (uint64, error) {
	p.mu.Lock()
	p.asked = append(p.asked, subject)
	p.mu.Unlock()
	if p.version != nil {
		return p.version(ctx, subject)
	}
	return p.Store.Version(ctx, subject)
}

func (p *probeStore) subjects() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.asked...)
}

// failVersion fails every Version with err.
func failVersion(err error) func(context.Context, string) (uint64, error) {
	return func(context.Context, string) (uint64, error) { return 0, err }
}

// hangVersion answers Version only when its context ends, as a store on a
// server that never answers does.
func hangVersion(ctx context.Context, _ string) (uint64, error) {
	<-ctx.Done()
	return 0, store.ContextError(ctx)
}

// readierStore is a store with a readiness of its own (store.Readier), as a
// redisstore.View has. It declares no InProcess, so the Issuer's store
// wrapper gives its calls deadlines.
type readierStore struct {
	store.Store
	ready func(ctx context.Context) error
}

func (r readierStore) Capabilities() store.Capabilities {
	return r.Store.Capabilities() &^ store.InProcess
}

func (r readierStore) Ready(ctx context.Context) error { return r.ready(ctx) }

// hangReady answers Ready only when its context ends.
func hangReady(ctx context.Context) error {
	<-ctx.Done()
	return fmt.Errorf("view behind: %w", ctx.Err())
}

// errSecretHost is a store failure whose text must never reach a
// readiness answer.
var errSecretHost = errors.New("dial tcp 10.1.2.3:6379 (user admin, password hunter2): connection refused")

func TestKeySetCheck(t *testing.T) {
	t.Parallel()
	published := NewKeySet(nil)
	if err := published.Publish(testKey(t, ES256, 0)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		ks    *KeySet
		ready bool
	}{
		{"a signing key", NewKeySet(testKey(t, RS256, 0)), true},
		{"no key", NewKeySet(nil), false},
		{"the zero KeySet", &KeySet{}, false},
		{"a nil KeySet", nil, false},
		{"a published key that does not sign", published, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.ks.Check(context.Background())
			if tt.ready {
				if err != nil {
					t.Fatalf("Check: %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrKeysUnavailable) || !strings.Contains(err.Error(), "no signing key") {
				t.Fatalf("Check: %v, want ErrKeysUnavailable saying there is no signing key", err)
			}
		})
	}
}

func TestIssuerCheck(t *testing.T) {
	t.Parallel()
	keys, _ := sealedKeys(t)
	stateless := func(c *Config) { c.AcceptStoreLimits = store.All; c.SkipRevocationCheck = true }
	tests := []struct {
		name     string
		store    store.Store // each used by one case
		mod      func(*Config)
		deadline bool
		wantErr  []error // nil: ready
		wantText string  // in the error
	}{
		{name: "memstore answers", store: memstore.New()},
		{name: "a failing store",
			store:   &probeStore{Store: memstore.New(), version: failVersion(errSecretHost)},
			wantErr: []error{ErrStoreUnavailable}, wantText: "connection refused"},
		{name: "a store reporting its outage",
			store:   &probeStore{Store: memstore.New(), version: failVersion(fmt.Errorf("x: %w", store.ErrUnavailable))},
			wantErr: []error{ErrStoreUnavailable}},
		{name: "a store answering nonsense", // whatever it is, the store did not answer the read
			store:   &probeStore{Store: memstore.New(), version: failVersion(store.ErrNotFound)},
			wantErr: []error{ErrStoreUnavailable}},
		{name: "a store that hangs, with a deadline",
			store:    &probeStore{Store: memstore.New(), version: hangVersion},
			deadline: true, wantErr: []error{ErrStoreUnavailable, context.DeadlineExceeded}},
		{name: "a store that is ready (store.Readier)",
			store: readierStore{memstore.New(), func(context.Context) error { return nil }}},
		{name: "a store that answers but cannot serve (store.Readier)",
			store:   readierStore{memstore.New(), func(context.Context) error { return fmt.Errorf("view behind: %w", store.ErrUnavailable) }},
			wantErr: []error{ErrStoreUnavailable}, wantText: "cannot serve the checks: view behind"},
		{name: "a Readier's own error is an outage",
			store:   readierStore{memstore.New(), func(context.Context) error { return errors.New("view behind") }},
			wantErr: []error{ErrStoreUnavailable}, wantText: "view behind"},
		{name: "a Readier that hangs gets the StoreTimeout",
			store:   readierStore{memstore.New(), hangReady},
			mod:     func(c *Config) { c.StoreTimeout = shortDeadline },
			wantErr: []error{ErrStoreUnavailable, context.DeadlineExceeded}},
		{name: "the stateless sealed store is always ready", store: sealedStore(t, keys, nil), mod: stateless},
		{name: "a hybrid sealed store whose state store fails",
			store:   sealedStore(t, keys, &probeStore{Store: memstore.New(), version: failVersion(errSecretHost)}),
			mod:     func(c *Config) { c.AcceptStoreLimits = store.ListSessions },
			wantErr: []error{ErrStoreUnavailable}, wantText: "connection refused"},
		{name: "a store without versions is not read",
			store: declaringStore{&probeStore{Store: memstore.New(), version: failVersion(errSecretHost)}, store.All &^ store.Versions},
			mod:   func(c *Config) { c.AcceptStoreLimits = store.Versions; c.SkipRevocationCheck = true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			log := &lockedBuffer{}
			iss, _ := newTestIssuer(t, func(c *Config) {
				c.Store = tt.store
				c.Logger = newTestLogger(log)
				if tt.mod != nil {
					tt.mod(c)
				}
			})
			ctx := context.Background()
			if tt.deadline {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, shortDeadline)
				defer cancel()
			}
			err := iss.Check(ctx)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Check: %v, want nil", err)
				}
				return
			}
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("Check: %v, want it to wrap %v", err, want)
				}
			}
			if errors.Is(err, ErrKeysUnavailable) {
				t.Errorf("Check: %v wraps ErrKeysUnavailable; only the store failed", err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Check: %q does not say %q", err, tt.wantText)
			}
			if !strings.Contains(log.String(), "not ready: the store cannot serve") {
				t.Errorf("the failure was not logged: %q", log.String())
			}
		})
	}
}

// TestIssuerCheckProbe: the store read is the token version of the
// issuer's probe subject, which no login writes.
func TestIssuerCheckProbe(t *testing.T) {
	t.Parallel()
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprint("legacy=", legacy), func(t *testing.T) {
			t.Parallel()
			st := &probeStore{Store: memstore.New()}
			iss, _ := newTestIssuer(t, func(c *Config) { c.Store = st; c.LegacyUnscopedStore = legacy })
			login(t, iss, "alice")
			if err := iss.LogoutAll(context.Background(), "alice"); err != nil {
				t.Fatal(err)
			}
			if err := iss.Check(context.Background()); err != nil {
				t.Fatalf("Check: %v", err)
			}
			want := scope.New(testIssuer, legacy).Probe()
			if got := st.subjects(); len(got) != 1 || got[0] != want {
				t.Fatalf("Check read the versions of %q, want only %q", got, want)
			}
			if v, err := st.Store.Version(context.Background(), want); err != nil || v != 0 {
				t.Fatalf("the probe subject's version is %d, %v: something wrote it", v, err)
			}
		})
	}
}

// TestIssuerCheckKeysFirst: an Issuer whose key set has lost its signing
// key (New refuses one without; a key set filled from elsewhere might
// lose it) is not ready, whatever the store says, and the store is not
// asked.
func TestIssuerCheckKeysFirst(t *testing.T) {
	t.Parallel()
	st := &probeStore{Store: memstore.New()}
	iss, _ := newTestIssuer(t, func(c *Config) { c.Store = st })
	iss.keys = NewKeySet(nil)
	err := iss.Check(context.Background())
	if !errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("Check: %v, want ErrKeysUnavailable alone", err)
	}
	if got := st.subjects(); len(got) != 0 {
		t.Fatalf("Check read the store (%q) though the keys are missing", got)
	}
}

func TestVerifierCheck(t *testing.T) {
	t.Parallel()
	down := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	tests := []struct {
		name string
		// run drives the fixture and returns Check's final answer.
		run      func(t *testing.T, f *remoteFixture) error
		wantErr  []error
		wantText string
	}{
		{name: "the JWKS answers", run: func(t *testing.T, f *remoteFixture) error {
			return f.v.Check(context.Background())
		}},
		{name: "the JWKS endpoint is down", run: func(t *testing.T, f *remoteFixture) error {
			f.srv.set(down)
			return f.v.Check(context.Background())
		}, wantErr: []error{ErrKeysUnavailable}, wantText: `issuer "` + testIssuer + `"`},
		{name: "the JWKS server is gone", run: func(t *testing.T, f *remoteFixture) error {
			f.srv.Close()
			return f.v.Check(context.Background())
		}, wantErr: []error{ErrKeysUnavailable}},
		{name: "the JWKS endpoint hangs, with a deadline", run: func(t *testing.T, f *remoteFixture) error {
			f.srv.hold(t)
			ctx, cancel := context.WithTimeout(context.Background(), shortDeadline)
			defer cancel()
			return f.v.Check(ctx)
		}, wantErr: []error{ErrKeysUnavailable, context.DeadlineExceeded}},
		{name: "a cached set keeps it ready while the endpoint is down", run: func(t *testing.T, f *remoteFixture) error {
			if err := f.v.Check(context.Background()); err != nil {
				t.Fatalf("first Check: %v", err)
			}
			f.srv.set(down)
			f.clock.Advance(DefaultMaxCacheTTL + time.Hour) // expired: a refetch is due, and fails
			return f.v.Check(context.Background())
		}},
		{name: "ready once the endpoint is back", run: func(t *testing.T, f *remoteFixture) error {
			f.srv.set(down)
			if err := f.v.Check(context.Background()); !errors.Is(err, ErrKeysUnavailable) {
				t.Fatalf("Check while down: %v, want ErrKeysUnavailable", err)
			}
			f.srv.set(f.keys)
			f.clock.Advance(initialRetry) // past the retry limit
			return f.v.Check(context.Background())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newRemoteFixture(t, ES256, nil)
			err := tt.run(t, f)
			checkReadiness(t, err, tt.wantErr, tt.wantText)
		})
	}
}

// TestVerifierCheckSources: issuers with local keys, HMAC keys and a
// store, alone and together.
func TestVerifierCheckSources(t *testing.T) {
	t.Parallel()
	empty := NewKeySet(nil)
	hmac := []HMACKey{{KeyID: "h1", Algorithm: HS256, Secret: make([]byte, 32)}}
	failing := &probeStore{Store: memstore.New(), version: failVersion(errSecretHost)}
	tests := []struct {
		name     string
		cfg      VerifierConfig
		wantErr  []error
		wantText string
	}{
		{name: "a local KeySet", cfg: VerifierConfig{Issuers: []TrustedIssuer{{Issuer: testIssuer, Keys: NewKeySet(testKey(t, ES256, 0))}}}},
		{name: "a local KeySet without keys",
			cfg:     VerifierConfig{Issuers: []TrustedIssuer{{Issuer: testIssuer, Keys: empty}}},
			wantErr: []error{ErrKeysUnavailable}, wantText: "no key of an allowed algorithm"},
		{name: "a local KeySet whose keys are not allowed",
			cfg: VerifierConfig{Issuers: []TrustedIssuer{{Issuer: testIssuer, Keys: NewKeySet(testKey(t, RS256, 0))}},
				Algorithms: []Algorithm{ES256}},
			wantErr: []error{ErrKeysUnavailable}},
		{name: "HMAC keys alone",
			cfg: VerifierConfig{Issuers: []TrustedIssuer{{Issuer: testIssuer, HMACKeys: hmac}}, Algorithms: []Algorithm{HS256}}},
		{name: "a store that answers",
			cfg: VerifierConfig{Issuers: []TrustedIssuer{{Issuer: testIssuer, Keys: NewKeySet(testKey(t, ES256, 0))}}, Store: memstore.New()}},
		{name: "a failing store",
			cfg:     VerifierConfig{Issuers: []TrustedIssuer{{Issuer: testIssuer, Keys: NewKeySet(testKey(t, ES256, 0))}}, Store: failing},
			wantErr: []error{ErrStoreUnavailable}, wantText: "connection refused"},
		{name: "a store that cannot serve (store.Readier)",
			cfg: VerifierConfig{Issuers: []TrustedIssuer{{Issuer: testIssuer, Keys: NewKeySet(testKey(t, ES256, 0))}},
				Store: readierStore{memstore.New(), func(context.Context) error { return fmt.Errorf("view behind: %w", store.ErrUnavailable) }}},
			wantErr: []error{ErrStoreUnavailable}, wantText: "cannot serve the checks"},
		{name: "keys and store both failing, every issuer named",
			cfg: VerifierConfig{Issuers: []TrustedIssuer{
				{Issuer: "https://b.example", Keys: empty},
				{Issuer: "https://a.example", Keys: NewKeySet(nil)},
				{Issuer: "https://c.example", Keys: NewKeySet(testKey(t, ES256, 0))},
			}, Store: failing},
			wantErr: []error{ErrKeysUnavailable, ErrStoreUnavailable}, wantText: `issuer "https://a.example" has no key of an allowed algorithm
sessionkit: keys unavailable: issuer "https://b.example"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.cfg.Audience = []string{testAudience}
			v := newTestVerifier(t, tt.cfg, nil)
			err := v.Check(context.Background())
			checkReadiness(t, err, tt.wantErr, tt.wantText)
			if strings.Contains(fmt.Sprint(err), "c.example") {
				t.Errorf("Check: %v names an issuer that has keys", err)
			}
		})
	}
}

// checkReadiness checks a Check answer: nil when wantErr is, else an error
// wrapping every wantErr (and no other readiness sentinel) and saying
// wantText.
func checkReadiness(t *testing.T, err error, wantErr []error, wantText string) {
	t.Helper()
	if wantErr == nil {
		if err != nil {
			t.Fatalf("Check: %v, want nil", err)
		}
		return
	}
	for _, sentinel := range []error{ErrKeysUnavailable, ErrStoreUnavailable, context.DeadlineExceeded} {
		want := false
		for _, w := range wantErr {
			want = want || w == sentinel
		}
		if errors.Is(err, sentinel) != want {
			t.Errorf("Check: %v; wraps %v: %v, want %v", err, sentinel, !want, want)
		}
	}
	if !strings.Contains(fmt.Sprint(err), wantText) {
		t.Errorf("Check: %q does not say %q", err, wantText)
	}
}

// checkFunc is a Checker made of a function.
type checkFunc func(ctx context.Context) error

func (f checkFunc) Check(ctx context.Context) error { return f(ctx) }

// deaf is a check that ignores its context and answers only when the test
// ends.
func deaf(t *testing.T) Checker {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	return checkFunc(func(context.Context) error { <-release; return nil })
}

func TestReadinessHandler(t *testing.T) {
	t.Parallel()
	ready := checkFunc(func(context.Context) error { return nil })
	storeDown := checkFunc(func(context.Context) error {
		return fmt.Errorf("%w: %w", ErrStoreUnavailable, errSecretHost)
	})
	keysDown := checkFunc(func(context.Context) error {
		return fmt.Errorf("%w: issuer %q: the JWKS endpoint answered 500", ErrKeysUnavailable, "https://internal.example")
	})
	hangs := checkFunc(func(ctx context.Context) error { _, err := hangVersion(ctx, ""); return err })
	tests := []struct {
		name     string
		checks   func(t *testing.T) []Checker
		method   string
		deadline bool // the request's context has a short deadline
		status   int
		body     string // the whole body; with timedOut, a prefix
		timedOut bool   // the body ends in a reason saying "timed out"
	}{
		{name: "no checks", checks: func(*testing.T) []Checker { return nil }, status: 200, body: "ready\n"},
		{name: "all ready", checks: func(*testing.T) []Checker { return []Checker{ready, ready} }, status: 200, body: "ready\n"},
		{name: "HEAD", method: http.MethodHead, checks: func(*testing.T) []Checker { return []Checker{ready} }, status: 200},
		{name: "HEAD not ready", method: http.MethodHead, checks: func(*testing.T) []Checker { return []Checker{storeDown} }, status: 503},
		{name: "the store is down", checks: func(*testing.T) []Checker { return []Checker{ready, storeDown} },
			status: 503, body: "not ready: store unavailable\n"},
		{name: "the keys are missing", checks: func(*testing.T) []Checker { return []Checker{keysDown} },
			status: 503, body: "not ready: keys unavailable\n"},
		{name: "both, each said once, in the checks' order",
			checks: func(*testing.T) []Checker { return []Checker{keysDown, storeDown, keysDown, ready} },
			status: 503, body: "not ready: keys unavailable, store unavailable\n"},
		{name: "an application check",
			checks: func(*testing.T) []Checker {
				return []Checker{checkFunc(func(context.Context) error { return errSecretHost })}
			},
			status: 503, body: "not ready: check failed\n"},
		{name: "a store that hangs, with a deadline",
			checks: func(*testing.T) []Checker { return []Checker{hangs} }, deadline: true,
			status: 503, body: "not ready: ", timedOut: true},
		{name: "a check deaf to its context",
			checks: func(t *testing.T) []Checker { return []Checker{deaf(t)} }, deadline: true,
			status: 503, body: "not ready: timed out\n"},
		{name: "POST", method: http.MethodPost, checks: func(*testing.T) []Checker { return []Checker{ready} },
			status: 405, body: "method not allowed\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			r := httptest.NewRequest(method, "/readyz", nil)
			if tt.deadline {
				ctx, cancel := context.WithTimeout(r.Context(), shortDeadline)
				defer cancel()
				r = r.WithContext(ctx)
			}
			w := httptest.NewRecorder()
			ReadinessHandler(tt.checks(t)...).ServeHTTP(w, r)
			res := w.Result()
			body := w.Body.String()
			if res.StatusCode != tt.status {
				t.Errorf("status %d, want %d", res.StatusCode, tt.status)
			}
			switch {
			case tt.timedOut:
				if !strings.HasPrefix(body, tt.body) || !strings.HasSuffix(body, "timed out)\n") && !strings.HasSuffix(body, "timed out\n") {
					t.Errorf("body %q, want %q and a reason saying it timed out", body, tt.body)
				}
			case method == http.MethodHead:
				if body != "" {
					t.Errorf("HEAD answered a body: %q", body)
				}
			case body != tt.body:
				t.Errorf("body %q, want %q", body, tt.body)
			}
			for name, want := range map[string]string{
				"Cache-Control":          "no-store",
				"Content-Type":           "text/plain; charset=utf-8",
				"X-Content-Type-Options": "nosniff",
			} {
				if got := res.Header.Get(name); got != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
			if method == http.MethodPost && res.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow: %q, want %q", res.Header.Get("Allow"), "GET, HEAD")
			}
			if method == http.MethodHead && res.Header.Get("Content-Length") == "0" {
				t.Errorf("HEAD: Content-Length 0, want the length GET would send")
			}
			for _, secret := range []string{"10.1.2.3", "hunter2", "internal.example", "admin"} {
				if strings.Contains(body, secret) {
					t.Errorf("body %q reveals %q", body, secret)
				}
			}
		})
	}
}

// TestReadinessHandlerBoundsItsWait: a probe without a deadline of its own
// gets one, at most ReadinessTimeout away, passed to every check.
func TestReadinessHandlerBoundsItsWait(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var deadlines []time.Time
	record := checkFunc(func(ctx context.Context) error {
		d, ok := ctx.Deadline()
		if !ok {
			return errors.New("no deadline")
		}
		mu.Lock()
		deadlines = append(deadlines, d)
		mu.Unlock()
		return nil
	})
	w := httptest.NewRecorder()
	ReadinessHandler(record, record).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	after := time.Now()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d (%q): a check got no deadline", w.Code, w.Body)
	}
	if len(deadlines) != 2 {
		t.Fatalf("%d checks ran, want 2", len(deadlines))
	}
	for _, d := range deadlines {
		if d.After(after.Add(ReadinessTimeout)) {
			t.Errorf("deadline %v is more than ReadinessTimeout after the answer (%v)", d, after)
		}
	}
}

// TestReadinessHandlerIssuerAndVerifier: the handler over a real Issuer
// and Verifier, ready, then not.
func TestReadinessHandlerIssuerAndVerifier(t *testing.T) {
	t.Parallel()
	st := &probeStore{Store: memstore.New()}
	f := newRemoteFixture(t, ES256, func(c *VerifierConfig) { c.Store = st })
	h := ReadinessHandler(f.iss, f.v, f.keys)
	get := func() (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return w.Code, w.Body.String()
	}
	if code, body := get(); code != 200 || body != "ready\n" {
		t.Fatalf("ready: %d %q", code, body)
	}
	st.version = failVersion(errSecretHost) // only the Verifier reads st
	if code, body := get(); code != 503 || body != "not ready: store unavailable\n" {
		t.Fatalf("store down: %d %q", code, body)
	}
}

// TestReadinessHandlerPanics: a nil check is refused when the handler is
// made, and a check's panic reaches the request's goroutine, as a
// handler's own would.
func TestReadinessHandlerPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func()
		want string
	}{
		{"a nil check", func() { ReadinessHandler(checkFunc(nil), nil) }, "check 1 is nil"},
		{"a check that panics", func() {
			h := ReadinessHandler(checkFunc(func(context.Context) error { panic("boom") }))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/readyz", nil))
		}, "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if r := recover(); !strings.Contains(fmt.Sprint(r), tt.want) {
					t.Fatalf("recovered %v, want a panic saying %q", r, tt.want)
				}
			}()
			tt.run()
		})
	}
}
