package sealedstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/sealedstore"
)

const issuer = "https://auth.example.com"

// base is the start of every test's clock; tests move now forward from it.
var base = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func newKey(t testing.TB) sealedstore.Key {
	t.Helper()
	k, err := sealedstore.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newStore(t testing.TB, keys sealedstore.Keys, iss string, state store.Store) *sealedstore.Store {
	t.Helper()
	s, err := sealedstore.New(sealedstore.Options{Keys: keys, Issuer: iss, State: state})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// modes are the two ways to run the store; state makes the state store
// for a hybrid one (nil: stateless).
var modes = []struct {
	name  string
	state func() store.Store
}{
	{"stateless", func() store.Store { return nil }},
	{"hybrid", func() store.Store { return memstore.New() }},
}

func newSecret() (s [32]byte) {
	rand.Read(s[:])
	return s
}

func hashOf(s [32]byte) [32]byte { return sha256.Sum256(s[:]) }

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// realisticClaims are the application claims of a busy SaaS user: about 600
// bytes of JSON.
var realisticClaims = []byte(`{"email":"alexandra.konstantinopoulou@engineering.example-corporation.com",` +
	`"name":"Alexandra Konstantinopoulou","tenant":"org_2fQ8xJkL9mNpR4sT6vW8yZ",` +
	`"roles":["admin","billing:manager","projects:owner","support:agent"],` +
	`"permissions":["projects:read","projects:write","projects:delete","billing:read","billing:write",` +
	`"members:invite","members:remove","audit:read","settings:write","api-keys:manage"],` +
	`"plan":"enterprise","locale":"el-GR","tz":"Europe/Athens","mfa":true,"amr":["pwd","otp"],` +
	`"groups":["eng-platform","eng-security","oncall-primary"]}`)

// realisticUA is a real browser's User-Agent with client hints folded in.
const realisticUA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) " +
	"Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86 (sec-ch-ua-platform=\"macOS\"; sec-ch-ua-mobile=?0)"

func sessionOf(subject string, at time.Time) store.Session {
	return store.Session{
		ID:            randomID(),
		Subject:       subject,
		Scope:         "openid profile email projects:read projects:write billing:read",
		Claims:        realisticClaims,
		Device:        store.Device{UserAgent: realisticUA, IP: "2001:db8:85a3:8d3:1319:8a2e:370:7348"},
		CreatedAt:     at,
		LastUsedAt:    at,
		IdleExpiresAt: at.Add(7 * 24 * time.Hour),
		ExpiresAt:     at.Add(30 * 24 * time.Hour),
		Generation:    1,
	}
}

// chain is a session and the refresh tokens issued for it.
type chain struct {
	s       store.Session
	handles []string
	secrets [][32]byte
}

func (c *chain) cur() (string, [32]byte) {
	return c.handles[len(c.handles)-1], c.secrets[len(c.secrets)-1]
}

func create(t testing.TB, s store.Store, subject string, at time.Time) *chain {
	t.Helper()
	sess := sessionOf(subject, at)
	sec := newSecret()
	got, err := s.Create(context.Background(), store.NewSession{Session: sess, Hash: hashOf(sec)})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return &chain{s: sess, handles: []string{got.Handle}, secrets: [][32]byte{sec}}
}

func rotation(h string, sec [32]byte, now time.Time) (store.Rotation, [32]byte) {
	next := newSecret()
	return store.Rotation{
		Handle:        h,
		Presented:     hashOf(sec),
		Next:          hashOf(next),
		Sealed:        []byte("caller-sealed-successor-" + randomID()),
		Now:           now,
		Grace:         10 * time.Second,
		IdleExpiresAt: now.Add(7 * 24 * time.Hour),
	}, next
}

func present(t testing.TB, s store.Store, h string, sec [32]byte, now time.Time) (store.RotateResult, [32]byte) {
	t.Helper()
	r, next := rotation(h, sec, now)
	res, err := s.Rotate(context.Background(), r)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	return res, next
}

func advance(t testing.TB, s store.Store, c *chain, now time.Time) store.RotateResult {
	t.Helper()
	h, sec := c.cur()
	res, next := present(t, s, h, sec, now)
	if res.Outcome != store.Rotated {
		t.Fatalf("the current token of a live session: got %v, want rotated", res.Outcome)
	}
	c.handles = append(c.handles, res.Handle)
	c.secrets = append(c.secrets, next)
	return res
}

// refused checks that h names nothing: ParseHandle and Lookup fail with
// ErrNotFound and Rotate answers Unknown.
func refused(t *testing.T, s store.Store, what, h string, sec [32]byte, now time.Time) {
	t.Helper()
	if info, err := s.ParseHandle(h); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s: ParseHandle = %+v, %v; want ErrNotFound", what, info, err)
	}
	unproven(t, s, what, h, sec, now)
}

// unproven checks that sec proves nothing under h: Lookup fails with
// ErrNotFound and Rotate answers Unknown.
func unproven(t *testing.T, s store.Store, what, h string, sec [32]byte, now time.Time) {
	t.Helper()
	if got, err := s.Lookup(context.Background(), h, hashOf(sec), now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s: Lookup = session %q, %v; want ErrNotFound", what, got.ID, err)
	}
	r, _ := rotation(h, sec, now)
	if res, err := s.Rotate(context.Background(), r); err != nil || res.Outcome != store.Unknown {
		t.Fatalf("%s: Rotate = %v, %v; want unknown", what, res.Outcome, err)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	k1, k2 := newKey(t), newKey(t)
	state := memstore.New()
	tests := []struct {
		name     string
		opts     sealedstore.Options
		wantCaps store.Capabilities
		wantErr  string
	}{
		{"stateless", sealedstore.Options{Keys: sealedstore.Keys{Current: k1}, Issuer: issuer}, 0, ""},
		{"with a previous key", sealedstore.Options{Keys: sealedstore.Keys{Current: k1, Previous: []sealedstore.Key{k2}}, Issuer: issuer}, 0, ""},
		{"hybrid", sealedstore.Options{Keys: sealedstore.Keys{Current: k1}, Issuer: issuer, State: state}, store.All&^store.ListSessions | store.InProcess, ""}, // memstore's InProcess passes through
		{"hybrid over a store without use-once", sealedstore.Options{Keys: sealedstore.Keys{Current: k1}, Issuer: issuer, State: limited{state, store.All &^ store.UseOnce}},
			store.All &^ store.ListSessions &^ store.UseOnce, ""},
		{"no issuer", sealedstore.Options{Keys: sealedstore.Keys{Current: k1}}, 0, "Issuer is required"},
		{"no key", sealedstore.Options{Issuer: issuer}, 0, "key id"},
		{"empty key id", sealedstore.Options{Keys: sealedstore.Keys{Current: sealedstore.Key{Secret: k1.Secret}}, Issuer: issuer}, 0, "key id"},
		{"key id too long", sealedstore.Options{Keys: sealedstore.Keys{Current: sealedstore.Key{ID: strings.Repeat("k", 33), Secret: k1.Secret}}, Issuer: issuer}, 0, "key id"},
		{"key id with a dot", sealedstore.Options{Keys: sealedstore.Keys{Current: sealedstore.Key{ID: "k.1", Secret: k1.Secret}}, Issuer: issuer}, 0, "key id"},
		{"short secret", sealedstore.Options{Keys: sealedstore.Keys{Current: sealedstore.Key{ID: "k1", Secret: k1.Secret[:16]}}, Issuer: issuer}, 0, "32 bytes"},
		{"bad previous key", sealedstore.Options{Keys: sealedstore.Keys{Current: k1, Previous: []sealedstore.Key{{ID: "old"}}}, Issuer: issuer}, 0, "previous key 0"},
		{"duplicate key id", sealedstore.Options{Keys: sealedstore.Keys{Current: k1, Previous: []sealedstore.Key{{ID: k1.ID, Secret: k2.Secret}}}, Issuer: issuer}, 0, "twice"},
		{"state without reuse detection", sealedstore.Options{Keys: sealedstore.Keys{Current: k1}, Issuer: issuer, State: limited{state, store.All &^ store.ReuseDetection}}, 0, "ReuseDetection"},
		{"state without revocation", sealedstore.Options{Keys: sealedstore.Keys{Current: k1}, Issuer: issuer, State: limited{state, store.All &^ store.RevokeSessions}}, 0, "RevokeSessions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := sealedstore.New(tt.opts)
			// Validate judges the key ring as New does.
			_, kerr := sealedstore.New(sealedstore.Options{Keys: tt.opts.Keys, Issuer: issuer})
			if verr := tt.opts.Keys.Validate(); fmt.Sprint(verr) != fmt.Sprint(kerr) {
				t.Errorf("Keys.Validate = %v; New with these keys = %v", verr, kerr)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New: got %v, want an error mentioning %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), base64.RawURLEncoding.EncodeToString(k1.Secret)) {
					t.Fatalf("New's error contains a key secret")
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got := s.Capabilities(); got != tt.wantCaps {
				t.Fatalf("Capabilities = %#x, want %#x", got, tt.wantCaps)
			}
		})
	}
}

// limited is a store declaring only caps.
type limited struct {
	store.Store
	caps store.Capabilities
}

func (l limited) Capabilities() store.Capabilities { return l.caps }

func TestKeyText(t *testing.T) {
	t.Parallel()
	k := newKey(t)
	if len(k.Secret) != sealedstore.KeySize || len(k.ID) != 8 {
		t.Fatalf("GenerateKey: id %q, %d secret bytes", k.ID, len(k.Secret))
	}
	if other := newKey(t); other.ID == k.ID || bytes.Equal(other.Secret, k.Secret) {
		t.Fatalf("GenerateKey returned the same key twice")
	}
	got, err := sealedstore.ParseKey(" " + k.Encode() + "\n")
	if err != nil {
		t.Fatalf("ParseKey(Encode()): %v", err)
	}
	if got.ID != k.ID || !bytes.Equal(got.Secret, k.Secret) {
		t.Fatalf("ParseKey(Encode()) = %v, want %v", got, k)
	}

	enc := base64.RawURLEncoding.EncodeToString(k.Secret)
	for _, bad := range []struct{ name, text string }{
		{"empty", ""},
		{"no colon", k.ID + enc},
		{"padded", k.ID + ":" + enc + "="},
		{"standard base64", k.ID + ":" + strings.NewReplacer("-", "+", "_", "/").Replace(enc) + "+/"},
		{"short secret", k.ID + ":" + enc[:20]},
		{"empty id", ":" + enc},
		{"bad id", "a b:" + enc},
	} {
		t.Run(bad.name, func(t *testing.T) {
			t.Parallel()
			if _, err := sealedstore.ParseKey(bad.text); err == nil {
				t.Fatalf("ParseKey accepted %s", bad.name)
			} else if bad.text != "" && strings.Contains(err.Error(), bad.text) || strings.Contains(err.Error(), enc[:20]) {
				t.Fatalf("ParseKey's error quotes the text: %v", err)
			}
		})
	}

	// Printing or logging a key shows its id, never its secret.
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("loaded", "key", k)
	for _, out := range []string{
		fmt.Sprint(k), fmt.Sprintf("%v", k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k), fmt.Sprintf("%s", k),
		fmt.Sprint([]sealedstore.Key{k}), fmt.Sprintf("%+v", sealedstore.Keys{Current: k}), logged.String(),
	} {
		if !strings.Contains(out, k.ID) {
			t.Errorf("printed key %q does not show its id", out)
		}
		if strings.Contains(out, enc) || strings.Contains(out, string(k.Secret)) || strings.Contains(out, fmt.Sprint(k.Secret)) {
			t.Errorf("printed key shows its secret: %q", out)
		}
	}
}

// TestKeyRingIsCopied: New copies the ring, so changing the caller's key
// bytes afterwards changes nothing.
func TestKeyRingIsCopied(t *testing.T) {
	t.Parallel()
	k := newKey(t)
	saved := bytes.Clone(k.Secret)
	s := newStore(t, sealedstore.Keys{Current: k}, issuer, nil)
	c := create(t, s, "u1", base)
	clear(k.Secret)
	advance(t, s, c, base.Add(time.Minute))
	k.Secret = saved
	fresh := newStore(t, sealedstore.Keys{Current: k}, issuer, nil)
	advance(t, fresh, c, base.Add(2*time.Minute))
}

// TestTamperEveryBit: flipping any one bit of a handle, at every byte
// position, of the handle's text or of the sealed bytes it encodes, makes it
// unknown; the real handle still works afterwards.
func TestTamperEveryBit(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, sealedstore.Keys{Current: newKey(t)}, issuer, m.state())
			c := create(t, s, "user:"+randomID(), base)
			advance(t, s, c, base.Add(time.Minute))
			h, sec := c.cur()
			now := base.Add(2 * time.Minute)

			// Every bit of the handle's text.
			for i := range len(h) {
				for bit := range 8 {
					b := []byte(h)
					b[i] ^= 1 << bit
					refused(t, s, fmt.Sprintf("bit %d of byte %d of the handle flipped", bit, i), string(b), sec, now)
				}
			}
			// Every bit of the sealed bytes.
			blob, rest, _ := strings.Cut(h, "~")
			raw, err := base64.RawURLEncoding.DecodeString(blob)
			if err != nil {
				t.Fatal(err)
			}
			for i := range raw {
				for bit := range 8 {
					b := bytes.Clone(raw)
					b[i] ^= 1 << bit
					mod := base64.RawURLEncoding.EncodeToString(b)
					if rest != "" {
						mod += "~" + rest
					}
					refused(t, s, fmt.Sprintf("bit %d of sealed byte %d flipped", bit, i), mod, sec, now)
				}
			}
			advance(t, s, c, now)
		})
	}
}

// TestTruncation: every proper prefix of a handle, and the handle with bytes
// appended, is unknown.
func TestTruncation(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, sealedstore.Keys{Current: newKey(t)}, issuer, m.state())
			c := create(t, s, "user:"+randomID(), base)
			h, sec := c.cur()
			now := base.Add(time.Minute)
			for n := range len(h) {
				refused(t, s, fmt.Sprintf("the handle cut to %d of %d bytes", n, len(h)), h[:n], sec, now)
			}
			for _, tail := range []string{"A", "AA", "AAAA", "~", "\n", "~x~1"} {
				refused(t, s, fmt.Sprintf("the handle with %q appended", tail), h+tail, sec, now)
			}
			if blob, _, ok := strings.Cut(h, "~"); ok {
				refused(t, s, "the hybrid handle without its state part", blob, sec, now)
			}
			advance(t, s, c, now)
		})
	}
}

// TestBlobMovedToAnotherSession: a blob is bound to its session, subject and
// issuer: spliced with another session's parts, carried to another issuer or
// mode, or presented with another session's secret, it is unknown.
func TestBlobMovedToAnotherSession(t *testing.T) {
	t.Parallel()
	keys := sealedstore.Keys{Current: newKey(t)}
	now := base.Add(time.Minute)

	t.Run("stateless", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, keys, issuer, nil)
		a := create(t, s, "alice", base)
		b := create(t, s, "bob", base)
		ha, sa := a.cur()
		hb, sb := b.cur()
		unproven(t, s, "alice's handle with bob's secret", ha, sb, now)
		unproven(t, s, "bob's handle with alice's secret", hb, sa, now)
		// Alice's clear header (key id, salt) on bob's ciphertext, and the
		// reverse.
		ra, _ := base64.RawURLEncoding.DecodeString(ha)
		rb, _ := base64.RawURLEncoding.DecodeString(hb)
		hdr := 3 + int(ra[2]) + 32
		spliced := append(bytes.Clone(ra[:hdr]), rb[hdr:]...)
		refused(t, s, "alice's header on bob's ciphertext", base64.RawURLEncoding.EncodeToString(spliced), sb, now)
		refused(t, s, "alice's header on bob's ciphertext", base64.RawURLEncoding.EncodeToString(spliced), sa, now)
		if got, err := s.Lookup(context.Background(), ha, hashOf(sa), now); err != nil || got.Subject != "alice" || got.ID != a.s.ID {
			t.Fatalf("alice's own handle: Lookup = %q of %q, %v", got.ID, got.Subject, err)
		}
	})

	t.Run("hybrid", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, keys, issuer, memstore.New())
		a := create(t, s, "alice", base)
		a2 := create(t, s, "alice", base) // another session of the same subject
		b := create(t, s, "bob", base)
		advance(t, s, a, base.Add(time.Second)) // a is at generation 2
		ha, sa := a.cur()
		blobA, stA, _ := strings.Cut(ha, "~")
		blobA1, stA1, _ := strings.Cut(a.handles[0], "~")
		_, stA2, _ := strings.Cut(a2.handles[0], "~")
		_, stB, _ := strings.Cut(b.handles[0], "~")
		info, err := s.ParseHandle(ha)
		if err != nil || info.Tag != store.SubjectTag("alice") {
			t.Fatalf("ParseHandle = %+v, %v; want alice's subject tag", info, err)
		}
		for _, p := range []struct{ what, h string }{
			{"alice's blob with bob's state handle", blobA + "~" + stB},
			{"alice's blob with the state handle of alice's other session", blobA + "~" + stA2},
			{"alice's blob with the state handle of its previous generation", blobA + "~" + stA1},
			{"alice's previous blob with the state handle of the current generation", blobA1 + "~" + stA},
			{"alice's blob with bob's subject tag in its state handle", blobA + "~" + strings.Replace(stA, store.SubjectTag("alice"), store.SubjectTag("bob"), 1)},
			{"alice's blob with a state handle naming a later generation", blobA + "~" + strings.TrimSuffix(stA, "2") + "3"},
			{"alice's blob alone", blobA},
		} {
			refused(t, s, p.what, p.h, sa, now)
		}
		unproven(t, s, "alice's handle with bob's secret", ha, b.secrets[0], now)
		unproven(t, s, "alice's handle with the secret of her other session", ha, a2.secrets[0], now)
		advance(t, s, a, now)
		advance(t, s, b, now)
	})

	t.Run("other issuer or mode", func(t *testing.T) {
		t.Parallel()
		stateless := newStore(t, keys, issuer, nil)
		otherIssuer := newStore(t, keys, "https://other.example.com", nil)
		hybrid := newStore(t, keys, issuer, memstore.New())
		x := create(t, stateless, "alice", base)
		h, sec := x.cur()
		refused(t, otherIssuer, "a handle sealed for another issuer under the same keys", h, sec, now)
		y := create(t, hybrid, "alice", base)
		hy, secy := y.cur()
		blob, st, _ := strings.Cut(hy, "~")
		refused(t, stateless, "a hybrid blob presented to a stateless store", blob, secy, now)
		refused(t, hybrid, "a stateless blob presented to a hybrid store", h+"~"+st, sec, now)
		advance(t, stateless, x, now)
		advance(t, hybrid, y, now)
	})
}

// TestKeyRotation: a handle sealed under the old key opens while the key is
// in the ring as a previous key, and its rotation reseals under the current
// key; once the old key is removed, its handles are unknown.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			old, next := newKey(t), newKey(t)
			state := m.state()
			before := newStore(t, sealedstore.Keys{Current: old}, issuer, state)
			during := newStore(t, sealedstore.Keys{Current: next, Previous: []sealedstore.Key{old}}, issuer, state)
			after := newStore(t, sealedstore.Keys{Current: next}, issuer, state)

			stale := create(t, before, "u-stale", base) // never refreshed
			c := create(t, before, "u1", base)
			h1, s1 := c.cur()
			if _, err := during.ParseHandle(h1); err != nil {
				t.Fatalf("a handle sealed under a previous key: ParseHandle: %v", err)
			}
			if _, err := during.Lookup(context.Background(), h1, hashOf(s1), base.Add(time.Minute)); err != nil {
				t.Fatalf("a handle sealed under a previous key: Lookup: %v", err)
			}
			advance(t, during, c, base.Add(time.Minute))
			h2, _ := c.cur()
			if _, err := after.ParseHandle(h2); err != nil {
				t.Fatalf("the rotation under the new ring reseals under the current key: a ring without the old key cannot open it: %v", err)
			}
			if _, err := before.ParseHandle(h2); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("the rotated handle is sealed under the new key, unknown to the old ring: ParseHandle got %v", err)
			}
			advance(t, after, c, base.Add(2*time.Minute))

			sh, ss := stale.cur()
			_, err := after.ParseHandle(sh)
			if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "not in the key ring") {
				t.Fatalf("a handle under a removed key: ParseHandle got %v, want ErrNotFound naming the missing key", err)
			}
			refused(t, after, "a handle under a removed key", sh, ss, base.Add(3*time.Minute))
		})
	}
}

// TestPreRotationReplay: stateless, a pre-rotation token presented again
// rotates again (the documented limit: it cannot tell). Hybrid, within the
// grace window it gets the very successor the rotation issued, and after it
// it is reuse and revokes the session.
func TestPreRotationReplay(t *testing.T) {
	t.Parallel()
	t.Run("stateless accepts it", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, sealedstore.Keys{Current: newKey(t)}, issuer, nil)
		c := create(t, s, "u1", base)
		advance(t, s, c, base.Add(time.Minute))
		for _, at := range []time.Duration{time.Minute + time.Second, time.Hour} {
			res, _ := present(t, s, c.handles[0], c.secrets[0], base.Add(at))
			if res.Outcome != store.Rotated || res.Session.Generation != 2 {
				t.Fatalf("stateless: the pre-rotation token %v later: got %v generation %d; want rotated generation 2 (a fork it cannot detect)", at, res.Outcome, res.Session.Generation)
			}
		}
		advance(t, s, c, base.Add(2*time.Hour)) // the successor still works too
	})
	t.Run("hybrid detects it", func(t *testing.T) {
		t.Parallel()
		state := memstore.New()
		s := newStore(t, sealedstore.Keys{Current: newKey(t)}, issuer, state)
		c := create(t, s, "u1", base)
		rotatedAt := base.Add(time.Minute)
		r, next := rotation(c.handles[0], c.secrets[0], rotatedAt)
		r.Claims = []byte(`{"plan":"pro"}`)
		won, err := s.Rotate(context.Background(), r)
		if err != nil || won.Outcome != store.Rotated {
			t.Fatalf("Rotate: %v, %v", won.Outcome, err)
		}
		c.handles, c.secrets = append(c.handles, won.Handle), append(c.secrets, next)

		replay, _ := present(t, s, c.handles[0], c.secrets[0], rotatedAt.Add(5*time.Second))
		if replay.Outcome != store.Replayed || replay.Handle != won.Handle || !bytes.Equal(replay.Sealed, r.Sealed) {
			t.Fatalf("within the grace window: got %v, same handle %v, same sealed %v; want replayed with the rotation's handle and sealed successor",
				replay.Outcome, replay.Handle == won.Handle, bytes.Equal(replay.Sealed, r.Sealed))
		}
		if string(replay.Session.Claims) != `{"plan":"pro"}` || replay.Session.Generation != 2 {
			t.Fatalf("Replayed returns the successor's session: claims %s generation %d", replay.Session.Claims, replay.Session.Generation)
		}

		reused, _ := present(t, s, c.handles[0], c.secrets[0], rotatedAt.Add(time.Minute))
		if reused.Outcome != store.Reused || reused.Session.ID != c.s.ID {
			t.Fatalf("after the grace window: got %v for session %q, want reused", reused.Outcome, reused.Session.ID)
		}
		cur, _ := present(t, s, c.handles[1], c.secrets[1], rotatedAt.Add(time.Minute))
		if cur.Outcome != store.Revoked {
			t.Fatalf("reuse revoked the session: its current token got %v, want revoked", cur.Outcome)
		}
		if st, err := s.CheckAccess(context.Background(), store.AccessCheck{Subject: "u1", SessionID: c.s.ID, JTI: "j", Now: rotatedAt.Add(time.Minute)}); err != nil || st.SessionLive {
			t.Fatalf("CheckAccess after reuse: live %v, %v", st.SessionLive, err)
		}
	})
}

// TestHandleSize: with realistic claims, scope and device data, a handle and
// the refresh token carrying it stay within their limits, in both modes and
// after many rotations; a session too large for a handle is refused with
// ErrTooLarge before anything is written.
func TestHandleSize(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, sealedstore.Keys{Current: sealedstore.Key{ID: strings.Repeat("k", sealedstore.MaxKeyIDLen), Secret: newKey(t).Secret}}, issuer, m.state())
			subject := "auth0|" + strings.Repeat("6571f0a2b3c4d5e6f7a8b9c0", 2)
			c := create(t, s, subject, base)
			for i := range 200 {
				advance(t, s, c, base.Add(time.Duration(i+1)*time.Minute))
			}
			for _, h := range []string{c.handles[0], c.handles[len(c.handles)-1]} {
				token := "skr1." + h + "." + strings.Repeat("A", 43)
				if len(h) > store.MaxHandleLen || len(token) > 2048 {
					t.Fatalf("handle %d bytes, refresh token %d bytes: want at most %d and 2048 with realistic claims", len(h), len(token), store.MaxHandleLen)
				}
				t.Logf("handle %d bytes, refresh token %d bytes", len(h), len(token))
			}

			big := sessionOf(subject, base)
			big.Claims = []byte(`{"blob":"` + strings.Repeat("x", store.MaxHandleLen) + `"}`)
			if _, err := s.Create(context.Background(), store.NewSession{Session: big, Hash: hashOf(newSecret())}); !errors.Is(err, sealedstore.ErrTooLarge) {
				t.Fatalf("Create of a session too large for a handle: got %v, want ErrTooLarge", err)
			}
			h, sec := c.cur()
			r, _ := rotation(h, sec, base.Add(4*time.Hour))
			r.Claims = big.Claims
			if res, err := s.Rotate(context.Background(), r); !errors.Is(err, sealedstore.ErrTooLarge) {
				t.Fatalf("Rotate to claims too large for a handle: got %v, %v; want ErrTooLarge", res.Outcome, err)
			}
			// Nothing was written: the current token still rotates.
			advance(t, s, c, base.Add(4*time.Hour))
		})
	}
	t.Run("hybrid creates no shadow for a refused session", func(t *testing.T) {
		t.Parallel()
		state := &recorder{Store: memstore.New()}
		s := newStore(t, sealedstore.Keys{Current: newKey(t)}, issuer, state)
		big := sessionOf("u1", base)
		big.Device.UserAgent = strings.Repeat("u", store.MaxHandleLen)
		if _, err := s.Create(context.Background(), store.NewSession{Session: big, Hash: hashOf(newSecret())}); !errors.Is(err, sealedstore.ErrTooLarge) {
			t.Fatalf("Create: got %v, want ErrTooLarge", err)
		}
		if len(state.created) != 0 {
			t.Fatalf("the state store got a shadow for a session that was refused")
		}
	})
}

// recorder is a state store that records what it is given.
type recorder struct {
	store.Store
	created   []store.NewSession
	rotations []store.Rotation
	// handle, when set, replaces the handle Create returns.
	handle func(string) string
	// sealed, when set, replaces what Rotate stores as the sealed successor.
	sealed func([]byte) []byte
}

func (r *recorder) Create(ctx context.Context, n store.NewSession) (store.Created, error) {
	r.created = append(r.created, n)
	c, err := r.Store.Create(ctx, n)
	if err == nil && r.handle != nil {
		c.Handle = r.handle(c.Handle)
	}
	return c, err
}

func (r *recorder) Rotate(ctx context.Context, q store.Rotation) (store.RotateResult, error) {
	r.rotations = append(r.rotations, q)
	if r.sealed != nil {
		q.Sealed = r.sealed(q.Sealed)
	}
	return r.Store.Rotate(ctx, q)
}

// TestHybridStateHoldsNoSessionData: the state store gets the shadow only:
// no scope, claims or device data, in the session or in the sealed
// successor; the secrets' hashes and the caller's sealed bytes are all it
// keeps of the tokens.
func TestHybridStateHoldsNoSessionData(t *testing.T) {
	t.Parallel()
	state := &recorder{Store: memstore.New()}
	s := newStore(t, sealedstore.Keys{Current: newKey(t)}, issuer, state)
	c := create(t, s, "u1", base)
	advance(t, s, c, base.Add(time.Minute))
	if len(state.created) != 1 || len(state.rotations) != 1 {
		t.Fatalf("state store calls: %d creates, %d rotations; want 1 and 1", len(state.created), len(state.rotations))
	}
	sh := state.created[0]
	if sh.Session.Scope != "" || sh.Session.Claims != nil || sh.Session.Device != (store.Device{}) || sh.Session.ClientID != "" {
		t.Fatalf("the shadow carries session data: %+v", sh.Session)
	}
	if sh.Session.ID != c.s.ID || sh.Session.Subject != "u1" || sh.Hash != hashOf(c.secrets[0]) || !sh.Session.ExpiresAt.Equal(c.s.ExpiresAt) {
		t.Fatalf("the shadow does not name the session, its subject, hash and expiry: %+v", sh)
	}
	sealed := state.rotations[0].Sealed
	for _, secret := range []string{"alexandra", "projects:write", "Macintosh", "2001:db8"} {
		if bytes.Contains(sealed, []byte(secret)) {
			t.Fatalf("the sealed successor kept in the state store shows %q in clear", secret)
		}
	}
	for _, sec := range c.secrets {
		if bytes.Contains(sealed, sec[:]) || bytes.Contains(sealed, []byte(base64.RawURLEncoding.EncodeToString(sec[:]))) {
			t.Fatalf("the state store got a refresh secret")
		}
	}
}

// TestHybridStateFaults: a state store that hands back a handle the sealed
// store cannot carry, or a sealed successor that does not open, is an outage
// (ErrUnavailable), never a token; a refused Create leaves no live shadow.
func TestHybridStateFaults(t *testing.T) {
	t.Parallel()
	t.Run("state handle too long", func(t *testing.T) {
		t.Parallel()
		state := &recorder{Store: memstore.New(), handle: func(h string) string { return h + strings.Repeat("x", sealedstore.MaxStateHandleLen) }}
		s := newStore(t, sealedstore.Keys{Current: newKey(t)}, issuer, state)
		sess := sessionOf("u1", base)
		if _, err := s.Create(context.Background(), store.NewSession{Session: sess, Hash: hashOf(newSecret())}); !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Create: got %v, want ErrUnavailable", err)
		}
		if st, _ := state.CheckAccess(context.Background(), store.AccessCheck{Subject: "u1", SessionID: sess.ID, JTI: "j", Now: base}); st.SessionLive {
			t.Fatalf("the refused session's shadow is live")
		}
	})
	t.Run("sealed successor altered", func(t *testing.T) {
		t.Parallel()
		state := &recorder{Store: memstore.New(), sealed: func(b []byte) []byte {
			b = bytes.Clone(b)
			b[len(b)-1] ^= 1
			return b
		}}
		s := newStore(t, sealedstore.Keys{Current: newKey(t)}, issuer, state)
		c := create(t, s, "u1", base)
		advance(t, s, c, base.Add(time.Minute))
		r, _ := rotation(c.handles[0], c.secrets[0], base.Add(time.Minute+time.Second))
		if res, err := s.Rotate(context.Background(), r); !errors.Is(err, store.ErrUnavailable) || res.Handle != "" {
			t.Fatalf("a replay whose stored successor was altered: got %v (handle %d bytes), %v; want ErrUnavailable", res.Outcome, len(res.Handle), err)
		}
	})
}

// TestStatelessUnsupported: stateless, every method needing server state
// fails with ErrUnsupported, whatever the arguments; Capabilities is empty.
func TestStatelessUnsupported(t *testing.T) {
	t.Parallel()
	s := newStore(t, sealedstore.Keys{Current: newKey(t)}, issuer, nil)
	c := create(t, s, "u1", base)
	h, sec := c.cur()
	ctx := context.Background()
	if caps := s.Capabilities(); caps != 0 {
		t.Fatalf("Capabilities = %#x, want none", caps)
	}
	for _, call := range []struct {
		name string
		err  func() error
	}{
		{"Revoke", func() error { _, err := s.Revoke(ctx, h, hashOf(sec), base); return err }},
		{"RevokeSession", func() error { return s.RevokeSession(ctx, "u1", c.s.ID, base) }},
		{"RevokeAll", func() error { _, err := s.RevokeAll(ctx, "u1", base); return err }},
		{"Sessions", func() error { _, err := s.Sessions(ctx, "u1", base); return err }},
		{"Deny", func() error { return s.Deny(ctx, "u1", "jti", base.Add(time.Hour)) }},
		{"Version", func() error { _, err := s.Version(ctx, "u1"); return err }},
		{"CheckAccess", func() error {
			_, err := s.CheckAccess(ctx, store.AccessCheck{Subject: "u1", SessionID: c.s.ID, JTI: "j", Now: base})
			return err
		}},
		{"UseOnce", func() error { _, err := s.UseOnce(ctx, "ns", "k", base.Add(time.Minute), base); return err }},
	} {
		if err := call.err(); !errors.Is(err, store.ErrUnsupported) || !strings.Contains(err.Error(), call.name) {
			t.Errorf("%s: got %v, want ErrUnsupported naming the method", call.name, err)
		}
	}
	// The session is unaffected.
	advance(t, s, c, base.Add(time.Minute))
}

// TestStatelessRotation: a stateless rotation carries everything into the
// successor (the claims replaced when asked), slides the idle expiry up to
// the absolute one, and answers Expired, without writing anything, once the
// session has ended.
func TestStatelessRotation(t *testing.T) {
	t.Parallel()
	s := newStore(t, sealedstore.Keys{Current: newKey(t)}, issuer, nil)
	c := create(t, s, "u1", base)
	now := base.Add(6 * 24 * time.Hour)
	h, sec := c.cur()
	r, next := rotation(h, sec, now)
	r.Claims = []byte(`{"role": "owner"}`)
	r.IdleExpiresAt = base.Add(90 * 24 * time.Hour)
	res, err := s.Rotate(context.Background(), r)
	if err != nil || res.Outcome != store.Rotated {
		t.Fatalf("Rotate: %v, %v", res.Outcome, err)
	}
	want := c.s
	want.Generation, want.LastUsedAt, want.IdleExpiresAt, want.Claims = 2, now, c.s.ExpiresAt, r.Claims
	got, err := s.Lookup(context.Background(), res.Handle, hashOf(next), now)
	if err != nil {
		t.Fatalf("Lookup of the successor: %v", err)
	}
	for _, s := range []store.Session{res.Session, got} {
		if s.ID != want.ID || s.Subject != want.Subject || s.Scope != want.Scope || string(s.Claims) != string(want.Claims) ||
			s.Device != want.Device || s.Generation != 2 || !s.LastUsedAt.Equal(now) || !s.IdleExpiresAt.Equal(want.IdleExpiresAt) ||
			!s.CreatedAt.Equal(want.CreatedAt) || !s.ExpiresAt.Equal(want.ExpiresAt) {
			t.Fatalf("the successor carries %+v, want %+v", s, want)
		}
	}
	if res.Version != 0 {
		t.Fatalf("Rotated version = %d, want 0 (no versions)", res.Version)
	}
	end := c.s.ExpiresAt
	for _, at := range []time.Time{end, end.Add(time.Hour)} {
		x, _ := present(t, s, res.Handle, next, at)
		if x.Outcome != store.Expired {
			t.Fatalf("at %v: got %v, want expired", at, x.Outcome)
		}
	}
	x, _ := present(t, s, res.Handle, newSecret(), end)
	if x.Outcome != store.Unknown {
		t.Fatalf("a forged secret on an expired session: got %v, want unknown", x.Outcome)
	}
}

// TestCreateValidates: sessions the store cannot hold are refused.
func TestCreateValidates(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, sealedstore.Keys{Current: newKey(t)}, issuer, m.state())
			for _, tt := range []struct {
				name string
				edit func(*store.Session)
			}{
				{"empty id", func(s *store.Session) { s.ID = "" }},
				{"id with a tilde", func(s *store.Session) { s.ID = "a~b" }},
				{"id with non-ASCII", func(s *store.Session) { s.ID = "ü" }},
				{"id too long", func(s *store.Session) { s.ID = strings.Repeat("a", 65) }},
				{"empty subject", func(s *store.Session) { s.Subject = "" }},
				{"generation 2", func(s *store.Session) { s.Generation = 2 }},
				{"expires at creation", func(s *store.Session) { s.ExpiresAt = s.CreatedAt }},
			} {
				sess := sessionOf("u1", base)
				tt.edit(&sess)
				if got, err := s.Create(context.Background(), store.NewSession{Session: sess, Hash: hashOf(newSecret())}); err == nil {
					t.Errorf("%s: Create returned handle of %d bytes and no error", tt.name, len(got.Handle))
				}
			}
		})
	}
}

// Golden handles, sealed once under goldenKey for issuer: session
// "golden-session-0001" of "u1" at generation 1 (scope "read", claims
// {"role":"member"}, device ua/1 at 192.0.2.1, created 2030-01-02T03:04:05Z,
// idle expiry an hour later, absolute a day later), proved by the secret
// {1, 0, ..., 0}. They pin the format: tokens issued before an upgrade must
// still open after it.
const (
	goldenStateless = "AQEGZ29sZGVu3vzvbyhl5WwQSuTimQEnn_NNO7ZqIbEvGyVndAXN1WRAR7yTXRQr3xkfgvWuXNZyJZatsDcZn5yT5shAUD9axW5iLcO7C3efx9ctEjunbMCr3pEMZuazsY-lYb2qXMFmJK3uMbC7cwVi0m5QTwxw0BQGBPUSig6lTiIXka-8T1zWZqaH493ILbiiSYQ0gTQt_A_XO_h7pXtMjmLQICAgNuC3Y8KneUQ"
	goldenHybrid    = "AQIGZ29sZGVuXklV0Z7oOmRfS-DY-GXSa1z_XesddT8_NWvoLzrfuP6wnNcZ_6EiOYhWVQahgrXRiVbVccwQZp6T7hAdnk9Spm_EpfjkD62zhYxfAgG1KpjRhwE5Qvf_gMFwLmJOB31XDWRDhq6rYKmgdcdBNf_1Hf7OxTil8tDck1jxURSOu3zqosMnHS8o2aOMUrcBVcmj3H5oWAVqiW_Nq9enaZnA8FnRgH4_aZ8~u4IDDbwryroy~golden-session-0001~1"
)

var goldenKey = sealedstore.Key{ID: "golden", Secret: bytes.Repeat([]byte{7}, sealedstore.KeySize)}

// TestGoldenHandles: handles sealed by an earlier build open, and carry the
// session they were sealed with.
func TestGoldenHandles(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	s := newStore(t, sealedstore.Keys{Current: newKey(t), Previous: []sealedstore.Key{goldenKey}}, issuer, nil)
	got, err := s.Lookup(context.Background(), goldenStateless, hashOf([32]byte{1}), at.Add(time.Minute))
	if err != nil {
		t.Fatalf("Lookup of the golden stateless handle: %v", err)
	}
	if got.ID != "golden-session-0001" || got.Subject != "u1" || got.Scope != "read" || string(got.Claims) != `{"role":"member"}` ||
		got.Device != (store.Device{UserAgent: "ua/1", IP: "192.0.2.1"}) || !got.CreatedAt.Equal(at) || !got.LastUsedAt.Equal(at) ||
		!got.IdleExpiresAt.Equal(at.Add(time.Hour)) || !got.ExpiresAt.Equal(at.Add(24*time.Hour)) || got.Generation != 1 || got.ClientID != "" {
		t.Fatalf("the golden stateless handle carries %+v", got)
	}
	h := newStore(t, sealedstore.Keys{Current: goldenKey}, issuer, memstore.New())
	info, err := h.ParseHandle(goldenHybrid)
	if err != nil || info != (store.HandleInfo{Tag: store.SubjectTag("u1"), SessionID: "golden-session-0001", Generation: 1}) {
		t.Fatalf("ParseHandle of the golden hybrid handle: %+v, %v", info, err)
	}
}

// FuzzParseHandle: nothing but a handle the store made parses, errors wrap
// ErrNotFound, and nothing panics.
func FuzzParseHandle(f *testing.F) {
	stateless := newStore(f, sealedstore.Keys{Current: goldenKey}, issuer, nil)
	hybrid := newStore(f, sealedstore.Keys{Current: goldenKey}, issuer, memstore.New())
	for _, h := range []string{goldenStateless, goldenHybrid, "", "~", "AQE", "AQEGZ29sZGVu", goldenStateless + "~" + "u4IDDbwryroy~golden-session-0001~1"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		for i, s := range []*sealedstore.Store{stateless, hybrid} {
			golden := []string{goldenStateless, goldenHybrid}[i]
			if info, err := s.ParseHandle(h); err == nil && h != golden {
				t.Fatalf("ParseHandle accepted a handle the store did not make: %+v", info)
			} else if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("ParseHandle error does not wrap ErrNotFound: %v", err)
			}
		}
	})
}
