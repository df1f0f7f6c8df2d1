package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

func contextCases() []testCase {
	return []testCase{
		{name: "Canceled", run: func(t *testing.T, f *fixture) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			testDeadContext(t, f, ctx, context.Canceled)
		}},
		{name: "DeadlineExceeded", run: func(t *testing.T, f *fixture) {
			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			defer cancel()
			testDeadContext(t, f, ctx, context.DeadlineExceeded)
		}},
	}
}

// deadCall is one method called with a dead context: run makes the call
// (after any setup with f.ctx) and checks that nothing changed.
type deadCall struct {
	name  string
	needs store.Capabilities
	anyOf store.Capabilities
	run   func(f *fixture, dead context.Context, check func(error))
}

// testDeadContext calls every method the store supports with a dead
// context: each fails with an error wrapping both ctx.Err() and
// ErrUnavailable, and changes nothing.
func testDeadContext(t *testing.T, f *fixture, dead context.Context, cause error) {
	for i, m := range deadCalls() {
		t.Run(m.name, func(t *testing.T) {
			if missing := m.needs &^ f.caps; missing != 0 {
				t.Skipf("store lacks %s", capPhrase(missing))
			}
			if m.anyOf != 0 && f.caps&m.anyOf == 0 {
				t.Skipf("store lacks every one of the capabilities %s", capString(m.anyOf))
			}
			g := f.with(t)
			g.base = f.base.Add(time.Duration(i) * 2 * time.Minute) // now only moves forward
			called := false
			m.run(g, dead, func(err error) {
				t.Helper()
				called = true
				if !errors.Is(err, cause) {
					t.Errorf("rule: a method called with a dead context fails with an error wrapping ctx.Err() (%v): %s got %v", cause, m.name, err)
				}
				if !errors.Is(err, store.ErrUnavailable) {
					t.Errorf("rule: a method called with a dead context fails with an error wrapping ErrUnavailable: %s got %v", m.name, err)
				}
			})
			if !called {
				t.Fatalf("storetest: %s made no call", m.name)
			}
		})
	}
}

func deadCalls() []deadCall {
	return []deadCall{
		{name: "Create", run: func(f *fixture, dead context.Context, check func(error)) {
			subject := f.newSubject()
			s := f.template(subject, f.base)
			secret := newSecret()
			_, err := f.s.Create(dead, store.NewSession{Session: s, Hash: hashOf(secret)})
			check(err)
			if f.has(store.ListSessions) {
				if list := f.sessions(subject, f.base); len(list) != 0 {
					f.t.Errorf("rule: a failed Create creates nothing: Sessions lists %q", ids(list))
				}
			}
			// The id is still free.
			if _, err := f.s.Create(f.ctx, store.NewSession{Session: s, Hash: hashOf(secret)}); err != nil {
				f.t.Errorf("rule: a failed Create creates nothing: creating the same session afterwards got error %v", err)
			}
		}},
		{name: "Rotate", run: func(f *fixture, dead context.Context, check func(error)) {
			c := f.create(f.newSubject(), f.base)
			h, s := c.current()
			r, _ := rotation(h, s, f.at(time.Minute), grace)
			r.Claims = []byte(`{"role":"owner"}`)
			_, err := f.s.Rotate(dead, r)
			check(err)
			a := f.advance(c, f.at(time.Minute), 0)
			if a.res.Session.Generation != 2 {
				f.t.Errorf("rule: a failed Rotate changes nothing: the next rotation gives generation %d, want 2", a.res.Session.Generation)
			}
			f.sameSession("a failed Rotate changes nothing, the claims it carried included", a.res.Session, after(c.sess, a.r))
		}},
		{name: "Sessions", needs: store.ListSessions, run: func(f *fixture, dead context.Context, check func(error)) {
			c := f.create(f.newSubject(), f.base)
			_, err := f.s.Sessions(dead, c.subject(), f.base)
			check(err)
		}},
		{name: "Lookup", run: func(f *fixture, dead context.Context, check func(error)) {
			c := f.create(f.newSubject(), f.base)
			h, s := c.current()
			_, err := f.s.Lookup(dead, h, hashOf(s), f.base)
			check(err)
			f.checkAlive("a failed Lookup changes nothing", c, f.base)
			a := f.advance(c, f.at(time.Minute), grace)
			f.sameSession("a failed Lookup changes nothing: the next rotation starts from the session as created", a.res.Session, after(c.sess, a.r))
		}},
		{name: "Revoke", needs: store.RevokeSessions, run: func(f *fixture, dead context.Context, check func(error)) {
			c := f.create(f.newSubject(), f.base)
			h, s := c.current()
			_, err := f.s.Revoke(dead, h, hashOf(s), f.base)
			check(err)
			f.checkAlive("a failed Revoke changes nothing", c, f.base)
			f.advance(c, f.at(time.Minute), grace)
		}},
		{name: "RevokeSession", needs: store.RevokeSessions, run: func(f *fixture, dead context.Context, check func(error)) {
			c := f.create(f.newSubject(), f.base)
			check(f.s.RevokeSession(dead, c.subject(), c.id(), f.base))
			f.checkAlive("a failed RevokeSession changes nothing", c, f.base)
			f.advance(c, f.at(time.Minute), grace)
		}},
		{name: "RevokeAll", needs: store.Versions, run: func(f *fixture, dead context.Context, check func(error)) {
			c := f.create(f.newSubject(), f.base)
			_, err := f.s.RevokeAll(dead, c.subject(), f.base)
			check(err)
			if v := f.version(c.subject()); v != 0 {
				f.t.Errorf("rule: a failed RevokeAll changes nothing: Version got %d, want 0", v)
			}
			f.checkAlive("a failed RevokeAll changes nothing", c, f.base)
			f.advance(c, f.at(time.Minute), grace)
		}},
		{name: "Deny", needs: store.DenyList, run: func(f *fixture, dead context.Context, check func(error)) {
			subject, jti := f.newSubject(), randomID()
			check(f.s.Deny(dead, subject, jti, f.at(time.Hour)))
			if f.access(store.AccessCheck{Subject: subject, JTI: jti, Now: f.base}).Denied {
				f.t.Errorf("rule: a failed Deny changes nothing: the jti is denied")
			}
		}},
		{name: "Version", needs: store.Versions, run: func(f *fixture, dead context.Context, check func(error)) {
			_, err := f.s.Version(dead, f.newSubject())
			check(err)
		}},
		{name: "CheckAccess", anyOf: store.Versions | store.DenyList | liveCheck, run: func(f *fixture, dead context.Context, check func(error)) {
			c := f.create(f.newSubject(), f.base)
			_, err := f.s.CheckAccess(dead, store.AccessCheck{Subject: c.subject(), SessionID: c.id(), JTI: randomID(), Now: f.base})
			check(err)
		}},
		{name: "UseOnce", needs: store.UseOnce, run: func(f *fixture, dead context.Context, check func(error)) {
			ns, key := "storetest-ctx-"+randomID(), randomID()
			_, err := f.s.UseOnce(dead, ns, key, f.at(time.Minute), f.base)
			check(err)
			if !f.use(ns, key, f.base) {
				f.t.Errorf("rule: a failed UseOnce records nothing: the key's first real use got false")
			}
		}},
	}
}
