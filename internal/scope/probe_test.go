package scope

import "testing"

// TestProbe: the readiness probe's subject is issuer-scoped in both
// layouts and equals no name an Issuer writes, of its own or another
// issuer, scoped or legacy.
func TestProbe(t *testing.T) {
	t.Parallel()
	a, b := New("https://a.example", false), New("https://b.example", false)
	legacy := New("https://a.example", true)
	tests := []struct {
		name string
		s    Scope
	}{{"scoped", a}, {"other issuer", b}, {"legacy", legacy}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := tt.s.Probe()
			if p == "" {
				t.Fatal("Probe is empty")
			}
			for _, other := range []Scope{a, b, legacy} {
				for _, name := range []string{
					other.User(""), other.User("alice"), other.Subject("svc", "svc"),
					other.Namespace(""), other.Namespace("sessionkit/assertion/svc"),
				} {
					if name == p {
						t.Errorf("Probe %q equals a name an Issuer writes", p)
					}
				}
				if sub, ok := other.Unscope(p); ok {
					t.Errorf("Unscope(Probe) = %q, true: the probe reads as a user", sub)
				}
			}
		})
	}
	if a.Probe() != "https://a.example\x1fr\x1f" || legacy.Probe() != a.Probe() {
		t.Fatalf("Probe = %q (legacy %q)", a.Probe(), legacy.Probe())
	}
}
