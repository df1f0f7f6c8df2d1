package scope

import (
	"crypto/sha256"
	"strings"
	"testing"
)

func TestNamesAreDistinct(t *testing.T) {
	t.Parallel()
	a, b, legacy := New("https://auth.example.com/a", false), New("https://auth.example.com/b", false), New("https://auth.example.com/a", true)
	// Every subject name each scope gives, for a user and a client of the
	// same id, must differ from all others; so must every namespace (a
	// keyspace of its own in every store).
	subjects, namespaces := map[string]string{}, map[string]string{}
	add := func(names map[string]string, what, name string) {
		t.Helper()
		if prev, dup := names[name]; dup {
			t.Fatalf("%s and %s share the name %q", prev, what, name)
		}
		names[name] = what
	}
	for _, sc := range []struct {
		name string
		s    Scope
	}{{"a", a}, {"b", b}, {"legacy", legacy}} {
		add(subjects, sc.name+" user alice", sc.s.User("alice"))
		add(subjects, sc.name+" client alice", sc.s.Subject("alice", "alice"))
		if sc.s.Subject("alice", "svc") != sc.s.User("alice") {
			t.Fatalf("%s: a client acting for alice is not alice", sc.name)
		}
		add(namespaces, sc.name+" namespace", sc.s.Namespace("sessionkit/assertion/svc"))
	}
	// Key-ring names are a keyspace of their own too; a stateful store may
	// keep them beside subjects, so they differ from every subject name.
	for _, iss := range []string{"https://auth.example.com/a", "https://auth.example.com/b"} {
		add(subjects, "key ring of "+iss, KeyRing(iss))
	}
	if got, want := KeyRing("https://auth.example.com/a"), "https://auth.example.com/a\x1fk\x1fsigning"; got != want {
		t.Fatalf("KeyRing = %q, want %q", got, want)
	}
	if got, want := a.User("alice"), "https://auth.example.com/a\x1fu\x1falice"; got != want {
		t.Fatalf("User = %q, want %q", got, want)
	}
	if got, want := legacy.User("alice"), "alice"; got != want {
		t.Fatalf("legacy User = %q, want %q", got, want)
	}
	if got, want := legacy.Subject("svc", "svc"), "\x00client\x00svc"; got != want {
		t.Fatalf("legacy client Subject = %q, want %q", got, want)
	}
}

func TestUnscope(t *testing.T) {
	t.Parallel()
	a, b, legacy := New("https://a.example", false), New("https://b.example", false), New("https://a.example", true)
	tests := []struct {
		name   string
		s      Scope
		stored string
		want   string
		ok     bool
	}{
		{"own user", a, a.User("alice"), "alice", true},
		{"other issuer's user", a, b.User("alice"), "", false},
		{"own client namespace", a, a.Subject("svc", "svc"), "", false},
		{"legacy name at a scoped scope", a, "alice", "", false},
		{"scoped name at the legacy scope", legacy, a.User("alice"), "", false},
		{"legacy client namespace at the legacy scope", legacy, legacy.Subject("svc", "svc"), "", false},
		{"legacy user", legacy, "alice", "alice", true},
		{"issuer prefix without separator", a, "https://a.examplealice", "", false},
		{"user name hiding a second separator", a, a.User("x\x1fu\x1falice"), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := tt.s.Unscope(tt.stored)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("Unscope(%q) = %q, %v; want %q, %v", tt.stored, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestSecretHash(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef")
	a, b, legacy := New("https://a.example", false), New("https://b.example", false), New("https://a.example", true)
	hashes := map[[32]byte]string{}
	for _, h := range []struct {
		name string
		sum  [32]byte
	}{
		{"a user", a.SecretHash(secret, "")},
		{"a client", a.SecretHash(secret, "svc")},
		{"b user", b.SecretHash(secret, "")},
		{"b client", b.SecretHash(secret, "svc")},
		{"legacy user", legacy.SecretHash(secret, "")},
		{"legacy client", legacy.SecretHash(secret, "svc")},
	} {
		if prev, dup := hashes[h.sum]; dup {
			t.Fatalf("%s and %s hash the same secret alike", prev, h.name)
		}
		hashes[h.sum] = h.name
	}
	// The legacy hashes are the ones stores written before scoping hold.
	if legacy.SecretHash(secret, "") != sha256.Sum256(secret) {
		t.Fatal("the legacy user hash is not SHA-256 of the secret")
	}
	want := sha256.Sum256(append([]byte("sessionkit/client-session/v1\x00svc\x00"), secret...))
	if legacy.SecretHash(secret, "svc") != want {
		t.Fatal("the legacy client hash changed")
	}
	// A long issuer identifier does not fit the stack buffer: same hash
	// as computed by hand.
	long := "https://" + strings.Repeat("a", 1000)
	l := New(long, false)
	manual := sha256.Sum256(append([]byte(secretLabel+long+"\x00svc\x00"), secret...))
	if l.SecretHash(secret, "svc") != manual {
		t.Fatal("SecretHash of a long issuer differs from its definition")
	}
}

func BenchmarkSecretHash(b *testing.B) {
	s := New("https://auth.example.com", false)
	secret := make([]byte, 32)
	b.ReportAllocs()
	for b.Loop() {
		s.SecretHash(secret, "")
	}
}
