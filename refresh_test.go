package sessionkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

func refresh(t testing.TB, iss *Issuer, rt string) *Tokens {
	t.Helper()
	toks, err := iss.Refresh(context.Background(), rt)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	return toks
}

func TestRefreshRotates(t *testing.T) {
	t.Parallel()
	iss, clock := newTestIssuer(t, nil)
	t0 := login(t, iss, "u1")
	clock.Advance(time.Hour)
	t1 := refresh(t, iss, t0.RefreshToken)
	if t1.RefreshToken == t0.RefreshToken || t1.AccessToken == t0.AccessToken {
		t.Fatal("refresh did not issue new tokens")
	}
	if t1.SessionID != t0.SessionID {
		t.Fatal("refresh changed the session id")
	}
	if want := clock.Now().Add(DefaultRefreshTTL); !t1.RefreshExpiresAt.Equal(want) {
		t.Fatalf("idle expiry did not slide: %v, want %v", t1.RefreshExpiresAt, want)
	}
	c, err := iss.Verify(context.Background(), t1.AccessToken)
	if err != nil || c.SessionID != t0.SessionID || c.Scope != "read write" {
		t.Fatalf("new access token: %+v, %v", c, err)
	}
	// The new refresh token rotates again.
	clock.Advance(time.Hour)
	refresh(t, iss, t1.RefreshToken)
}

func TestRefreshNeverPastAbsoluteExpiry(t *testing.T) {
	t.Parallel()
	iss, clock := newTestIssuer(t, func(c *Config) {
		c.RefreshTTL = 7 * 24 * time.Hour
		c.SessionTTL = 10 * 24 * time.Hour
	})
	toks := login(t, iss, "u1")
	abs := clock.Now().Add(10 * 24 * time.Hour)
	for i := 0; i < 3; i++ { // refresh on days 6, 12 would pass abs: stop at 9
		clock.Advance(3 * 24 * time.Hour)
		toks = refresh(t, iss, toks.RefreshToken)
		if toks.RefreshExpiresAt.After(abs) {
			t.Fatalf("refresh expiry %v past the absolute expiry %v", toks.RefreshExpiresAt, abs)
		}
		if toks.AccessExpiresAt.After(abs) {
			t.Fatalf("access expiry %v past the absolute expiry %v", toks.AccessExpiresAt, abs)
		}
	}
	clock.Advance(2 * 24 * time.Hour) // day 11
	if _, err := iss.Refresh(context.Background(), toks.RefreshToken); !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("after the absolute expiry: %v, want ErrSessionExpired", err)
	}
}

func TestRefreshIdleExpiry(t *testing.T) {
	t.Parallel()
	iss, clock := newTestIssuer(t, nil)
	toks := login(t, iss, "u1")
	clock.Advance(DefaultRefreshTTL)
	if _, err := iss.Refresh(context.Background(), toks.RefreshToken); !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("idle session: %v, want ErrSessionExpired", err)
	}
}

func TestRefreshGraceReturnsSameSuccessor(t *testing.T) {
	t.Parallel()
	iss, clock := newTestIssuer(t, nil)
	t0 := login(t, iss, "u1")
	t1 := refresh(t, iss, t0.RefreshToken)
	clock.Advance(DefaultReuseGrace - time.Millisecond)
	again := refresh(t, iss, t0.RefreshToken)
	if again.RefreshToken != t1.RefreshToken {
		t.Fatal("replay within the grace window did not return the same successor")
	}
	if again.AccessToken == t1.AccessToken {
		t.Fatal("replay within the grace window did not mint a fresh access token")
	}
	// The successor still works, and the session is intact.
	t2 := refresh(t, iss, t1.RefreshToken)
	if _, err := iss.Verify(context.Background(), t2.AccessToken); err != nil {
		t.Fatal(err)
	}
}

func TestRefreshReuseRevokesFamily(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		grace time.Duration
		wait  time.Duration
		older bool
	}{
		{"previous token after the window", 0, DefaultReuseGrace, false},
		{"previous token with grace disabled", -1, 0, false},
		{"older token inside the window", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var events []Event
			var mu sync.Mutex
			var logs bytes.Buffer
			iss, clock := newTestIssuer(t, func(c *Config) {
				c.ReuseGrace = tt.grace
				c.Events = func(_ context.Context, e Event) { mu.Lock(); events = append(events, e); mu.Unlock() }
				c.Logger = newTestLogger(&logs)
			})
			t0 := login(t, iss, "u1")
			t1 := refresh(t, iss, t0.RefreshToken)
			stolen := t0.RefreshToken
			current := t1.RefreshToken
			if tt.older {
				t2 := refresh(t, iss, t1.RefreshToken)
				current = t2.RefreshToken
			}
			clock.Advance(tt.wait)
			if _, err := iss.Refresh(context.Background(), stolen); !errors.Is(err, ErrRefreshReused) {
				t.Fatalf("reuse: %v, want ErrRefreshReused", err)
			}
			if _, err := iss.Refresh(context.Background(), current); !errors.Is(err, ErrSessionRevoked) {
				t.Fatalf("current token after reuse: %v, want ErrSessionRevoked", err)
			}
			if _, err := iss.Verify(context.Background(), t1.AccessToken); !errors.Is(err, ErrTokenRevoked) {
				t.Fatalf("access token after reuse: %v, want ErrTokenRevoked", err)
			}
			mu.Lock()
			defer mu.Unlock()
			var saw bool
			for _, e := range events {
				saw = saw || e.Kind == EventReuseDetected && e.Subject == "u1" && e.SessionID == t0.SessionID
			}
			if !saw {
				t.Fatalf("no reuse event: %+v", events)
			}
			out := logs.String()
			if !strings.Contains(out, "reuse detected") {
				t.Fatalf("no reuse log record: %s", out)
			}
			for _, tok := range []string{t0.RefreshToken, t1.RefreshToken, secretPart(t0.RefreshToken), secretPart(t1.RefreshToken)} {
				if strings.Contains(out, tok) {
					t.Fatal("log contains token material")
				}
			}
		})
	}
}

func secretPart(rt string) string { return rt[strings.LastIndexByte(rt, '.')+1:] }

func TestRefreshForgedTokenChangesNothing(t *testing.T) {
	t.Parallel()
	iss, _ := newTestIssuer(t, nil)
	victim := login(t, iss, "victim")
	// Knowing the handle (every access token shows the sid) is not enough.
	handle := victim.RefreshToken[len("skr1."):strings.LastIndexByte(victim.RefreshToken, '.')]
	forged := "skr1." + handle + "." + b64.EncodeToString(bytes.Repeat([]byte{7}, 32))
	for i := 0; i < 3; i++ {
		if _, err := iss.Refresh(context.Background(), forged); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("forged refresh: %v, want ErrInvalidToken", err)
		}
		if err := iss.Logout(context.Background(), forged); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("forged logout: %v, want ErrInvalidToken", err)
		}
	}
	if _, err := iss.Verify(context.Background(), victim.AccessToken); err != nil {
		t.Fatalf("victim's access token after forgery: %v", err)
	}
	refresh(t, iss, victim.RefreshToken)
}

func TestRefreshRejectsGarbage(t *testing.T) {
	t.Parallel()
	iss, _ := newTestIssuer(t, nil)
	toks := login(t, iss, "u1")
	rt := toks.RefreshToken
	tests := []string{
		"",
		"skr1.",
		"skr1..",
		"skr2." + rt[5:],
		rt + "A",
		rt[:len(rt)-1],
		rt[:len(rt)-1] + "!",
		strings.Replace(rt, "~", ".", 1),
		"skr1." + strings.Repeat("A", 5000) + "." + secretPart(rt),
		"skr1.<script>." + secretPart(rt),
		toks.AccessToken,
	}
	for i, tok := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			_, err := iss.Refresh(context.Background(), tok)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("got %v, want ErrInvalidToken", err)
			}
			if len(tok) > 12 && strings.Contains(err.Error(), tok) {
				t.Fatal("error quotes the token")
			}
		})
	}
	refresh(t, iss, rt) // nothing changed
}

func TestRefreshConcurrentTabs(t *testing.T) {
	t.Parallel()
	for _, grace := range []time.Duration{-1, DefaultReuseGrace} {
		t.Run(fmt.Sprint("grace=", grace), func(t *testing.T) {
			t.Parallel()
			iss, _ := newTestIssuer(t, func(c *Config) { c.ReuseGrace = grace })
			toks := login(t, iss, "u1")
			const n = 32
			var wg sync.WaitGroup
			results := make([]*Tokens, n)
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i], errs[i] = iss.Refresh(context.Background(), toks.RefreshToken)
				}()
			}
			wg.Wait()
			var ok, reused int
			successors := map[string]bool{}
			for i := range n {
				switch {
				case errs[i] == nil:
					ok++
					successors[results[i].RefreshToken] = true
				case errors.Is(errs[i], ErrRefreshReused):
					reused++
				default:
					t.Fatalf("unexpected error: %v", errs[i])
				}
			}
			if grace > 0 && (ok != n || len(successors) != 1) {
				t.Fatalf("with grace: %d ok, %d distinct successors; want %d and 1", ok, len(successors), n)
			}
			if grace < 0 && (ok != 1 || reused != n-1) {
				t.Fatalf("without grace: %d ok, %d reused; want 1 and %d", ok, reused, n-1)
			}
		})
	}
}

func TestOnRefreshHook(t *testing.T) {
	t.Parallel()
	banned := errors.New("user banned")
	var mu sync.Mutex
	ban := false
	iss, _ := newTestIssuer(t, func(c *Config) {
		c.OnRefresh = func(_ context.Context, s Session) (map[string]any, error) {
			mu.Lock()
			defer mu.Unlock()
			if ban {
				return nil, banned
			}
			if s.Subject != "u1" || s.Device.UserAgent != "test-agent/1.0" {
				return nil, fmt.Errorf("hook saw the wrong session: %+v", s)
			}
			n, _ := s.Claims["n"].(float64)
			return map[string]any{"n": n + 1}, nil
		}
	})
	toks := login(t, iss, "u1")
	for want := 1.0; want <= 2; want++ {
		toks = refresh(t, iss, toks.RefreshToken)
		c, err := iss.Verify(context.Background(), toks.AccessToken)
		if err != nil || c.Extra["n"] != want {
			t.Fatalf("claims after hook: %v, %v; want n=%v", c, err, want)
		}
	}
	list, err := iss.Sessions(context.Background(), "u1")
	if err != nil || len(list) != 1 || list[0].Claims["n"] != 2.0 {
		t.Fatalf("stored claims not updated: %+v %v", list, err)
	}
	mu.Lock()
	ban = true
	mu.Unlock()
	_, err = iss.Refresh(context.Background(), toks.RefreshToken)
	if !errors.Is(err, ErrSessionRevoked) || !errors.Is(err, banned) {
		t.Fatalf("refused refresh: %v", err)
	}
	if _, err := iss.Verify(context.Background(), toks.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("session survived a refused refresh: %v", err)
	}
}

// recordingStore remembers every byte handed to the store.
type recordingStore struct {
	store.Store
	mu  sync.Mutex
	log bytes.Buffer
}

func (r *recordingStore) rec(v ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range v {
		fmt.Fprintf(&r.log, "%#v\n%s\n%v\n", x, x, x)
		if b, ok := x.([]byte); ok {
			r.log.Write(b)
		}
	}
}

func (r *recordingStore) Create(ctx context.Context, s store.NewSession) (store.Created, error) {
	r.rec(s, s.Session.Claims, s.Hash[:])
	return r.Store.Create(ctx, s)
}

func (r *recordingStore) Rotate(ctx context.Context, q store.Rotation) (store.RotateResult, error) {
	r.rec(q, q.Handle, q.Sealed, q.Presented[:], q.Next[:])
	return r.Store.Rotate(ctx, q)
}

func (r *recordingStore) Revoke(ctx context.Context, h string, p [32]byte, now time.Time) (store.Session, error) {
	r.rec(h, p[:])
	return r.Store.Revoke(ctx, h, p, now)
}

func TestStoreSeesNoTokenMaterial(t *testing.T) {
	t.Parallel()
	rec := &recordingStore{}
	iss, clock := newTestIssuer(t, func(c *Config) { rec.Store = c.Store; c.Store = rec })
	var issued []string
	toks := login(t, iss, "u1")
	issued = append(issued, toks.RefreshToken)
	for i := 0; i < 5; i++ {
		toks = refresh(t, iss, toks.RefreshToken)
		issued = append(issued, toks.RefreshToken)
	}
	refresh(t, iss, issued[len(issued)-2]) // a grace replay reads the sealed successor
	clock.Advance(time.Minute)
	if _, err := iss.Refresh(context.Background(), issued[1]); !errors.Is(err, ErrRefreshReused) {
		t.Fatal(err)
	}
	dump := rec.log.Bytes()
	for _, rt := range issued {
		secret, err := b64.DecodeString(secretPart(rt))
		if err != nil {
			t.Fatal(err)
		}
		for _, needle := range [][]byte{[]byte(rt), []byte(secretPart(rt)), secret,
			[]byte(fmt.Sprintf("%#v", secret)), []byte(fmt.Sprint(secret))} {
			if bytes.Contains(dump, needle) {
				t.Fatalf("the store saw token material of %s", "a refresh token")
			}
		}
	}
}

func TestOnRefreshFailuresChangeNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		hook func(context.Context, Session) (map[string]any, error)
		down bool
		want error
	}{
		{"hook returns a registered claim", func(context.Context, Session) (map[string]any, error) {
			return map[string]any{"sub": "admin"}, nil
		}, false, ErrInvalidConfig},
		{"hook returns claims too large for a token", func(context.Context, Session) (map[string]any, error) {
			return map[string]any{"a": strings.Repeat("x", 2000), "b": strings.Repeat("y", 2000)}, nil
		}, false, ErrInvalidConfig},
		{"store down during the lookup", func(context.Context, Session) (map[string]any, error) {
			return map[string]any{"n": 1}, nil
		}, true, ErrStoreUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := &failingStore{}
			var broken atomic.Bool
			iss, clock := newTestIssuer(t, func(c *Config) {
				fs.Store = c.Store
				c.Store = fs
				c.OnRefresh = func(ctx context.Context, s Session) (map[string]any, error) {
					if broken.Load() {
						return tt.hook(ctx, s)
					}
					return nil, nil
				}
				c.MaxTokenSize = 4096
			})
			toks := login(t, iss, "u1")
			broken.Store(true)
			fs.down.Store(tt.down)
			if _, err := iss.Refresh(context.Background(), toks.RefreshToken); !errors.Is(err, tt.want) {
				t.Fatalf("Refresh: %v, want %v", err, tt.want)
			}
			broken.Store(false)
			fs.down.Store(false)
			// Long after the grace window the same token still rotates:
			// the failed attempt spent nothing.
			clock.Advance(time.Hour)
			refresh(t, iss, toks.RefreshToken)
		})
	}
}

func TestSuccessorSealing(t *testing.T) {
	t.Parallel()
	prevSecret := bytes.Repeat([]byte{1}, 32)
	next := bytes.Repeat([]byte{2}, 32)
	prev, err := successorAEAD(prevSecret)
	if err != nil {
		t.Fatal(err)
	}
	other, err := successorAEAD(next)
	if err != nil {
		t.Fatal(err)
	}
	a, err := sealSuccessor(prev, "sid-1", 2, next)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sealSuccessor(prev, "sid-1", 2, next)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) || bytes.Equal(a[:successorNonceLen], b[:successorNonceLen]) {
		t.Fatal("two seals of the same successor share a nonce")
	}
	if bytes.Contains(a, next) || bytes.Contains(a, prevSecret) {
		t.Fatal("the sealed successor contains the secret")
	}
	if got, err := openSuccessor(prev, "sid-1", 2, a); err != nil || !bytes.Equal(got, next) {
		t.Fatalf("open: %x %v", got, err)
	}
	for name, open := range map[string]func() ([]byte, error){
		"another session":    func() ([]byte, error) { return openSuccessor(prev, "sid-2", 2, a) },
		"another generation": func() ([]byte, error) { return openSuccessor(prev, "sid-1", 3, a) },
		"another secret":     func() ([]byte, error) { return openSuccessor(other, "sid-1", 2, a) },
		"truncated":          func() ([]byte, error) { return openSuccessor(prev, "sid-1", 2, a[:len(a)-1]) },
		"bit flipped":        func() ([]byte, error) { c := bytes.Clone(a); c[20] ^= 1; return openSuccessor(prev, "sid-1", 2, c) },
	} {
		if _, err := open(); err == nil {
			t.Errorf("%s: the sealed successor opened", name)
		}
	}
}

func TestAccessTokenNeverOutlivesSession(t *testing.T) {
	t.Parallel()
	iss, clock := newTestIssuer(t, func(c *Config) { c.SessionTTL = time.Hour; c.RefreshTTL = time.Hour })
	toks := login(t, iss, "u1")
	end := clock.Now().Add(time.Hour)
	clock.Advance(50 * time.Minute)
	toks = refresh(t, iss, toks.RefreshToken)
	if !toks.AccessExpiresAt.Equal(end) {
		t.Fatalf("access token expires %v, after the session's end %v", toks.AccessExpiresAt, end)
	}
	c, err := iss.Verify(context.Background(), toks.AccessToken)
	if err != nil || !c.ExpiresAt.Equal(end) {
		t.Fatalf("exp claim %v, want %v (%v)", c.ExpiresAt, end, err)
	}
}

func TestLogoutWithSpentTokenSignalsReuse(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var kinds []EventKind
	iss, _ := newTestIssuer(t, func(c *Config) {
		c.Events = func(_ context.Context, e Event) { mu.Lock(); kinds = append(kinds, e.Kind); mu.Unlock() }
	})
	t0 := login(t, iss, "u1")
	t1 := refresh(t, iss, t0.RefreshToken)
	refresh(t, iss, t1.RefreshToken)
	if err := iss.Logout(context.Background(), t0.RefreshToken); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := fmt.Sprint(kinds); got != "[login refresh refresh reuse_detected logout]" {
		t.Fatalf("events %s", got)
	}
}
