package redisstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// TestRevocationRefusedPublishWritesNothing: a user the server lets write
// the keys but not publish on the channel (Redis 7's default for a new ACL
// user is no channel) gets an error from every revocation, and the
// revocation is not written: a View would never hear of it, so it must not
// exist. The session stays live, the version unchanged, no deny entry.
func TestRevocationRefusedPublishWritesNothing(t *testing.T) {
	admin := singleClient(t)
	ctx := context.Background()
	user, pass := "sk-nopub-"+randomName(), randomName()
	if err := admin.Do(ctx, "ACL", "SETUSER", user, "on", ">"+pass, "~*", "resetchannels", "+@all").Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	t.Cleanup(func() { admin.Do(context.Background(), "ACL", "DELUSER", user) })
	opts := *admin.Options()
	opts.Username, opts.Password = user, pass
	limited := redis.NewClient(&opts)
	t.Cleanup(func() { limited.Close() })

	full, prefix := newStore(t, admin)
	st, err := redisstore.New(limited, redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	subject := "user-" + randomName()
	id := randomName()
	mustCreate(t, full, newSession(id, subject))
	jti := "jti-" + randomName()

	if err := st.RevokeSession(ctx, subject, id, now); err == nil {
		t.Fatal("RevokeSession without the right to publish succeeded")
	}
	if _, err := st.RevokeAll(ctx, subject, now); err == nil {
		t.Fatal("RevokeAll without the right to publish succeeded")
	}
	if err := st.Deny(ctx, subject, jti, now.Add(time.Minute)); err == nil {
		t.Fatal("Deny without the right to publish succeeded")
	}
	got, err := full.CheckAccess(ctx, store.AccessCheck{Subject: subject, SessionID: id, JTI: jti, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !got.SessionLive || got.Version != 0 || got.Denied {
		t.Fatalf("after refused revocations: %+v, want the session live, version 0, not denied (nothing written)", got)
	}
	if err := full.RevokeSession(ctx, subject, id, now); err != nil {
		t.Fatalf("the session can still be revoked by a user that may publish: %v", err)
	}
}

// TestViewACL: a View's Redis user with the documented rights (read the
// keys, "&<prefix>revoked*", INFO, PUBSUB NUMSUB) gets in step; one with the issuers'
// channel only ("&<prefix>revoked") cannot subscribe to its probes'
// channel, never answers on its own, and says why in LastError.
func TestViewACL(t *testing.T) {
	admin := singleClient(t)
	ctx := context.Background()
	_, prefix := newStore(t, admin)
	viewAs := func(t *testing.T, channels string) *redisstore.View {
		t.Helper()
		user, pass := "sk-view-"+randomName(), randomName()
		rules := []any{"ACL", "SETUSER", user, "on", ">" + pass, "~" + prefix + "*", "resetchannels", channels,
			"+@read", "+ping", "+subscribe", "+unsubscribe", "+publish", "+pubsub|numsub", "+info", "+evalsha", "+eval", "+script|load", "+hello", "+client"}
		if err := admin.Do(ctx, rules...).Err(); err != nil {
			t.Fatalf("ACL SETUSER: %v", err)
		}
		t.Cleanup(func() { admin.Do(context.Background(), "ACL", "DELUSER", user) })
		opts := *admin.Options()
		opts.Username, opts.Password = user, pass
		c := redis.NewClient(&opts)
		t.Cleanup(func() { c.Close() })
		st, err := redisstore.New(c, redisstore.Options{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		v, err := st.Watch(redisstore.ViewOptions{MaxStaleness: viewStaleness})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { v.Close() })
		return v
	}
	t.Run("documented rights", func(t *testing.T) {
		v := viewAs(t, "&"+prefix+"revoked*")
		wctx, cancel := context.WithTimeout(ctx, viewWait)
		defer cancel()
		if err := v.WaitInStep(wctx); err != nil {
			t.Fatalf("%v (last error: %v)", err, v.Status().LastError)
		}
	})
	t.Run("the issuers' channel only", func(t *testing.T) {
		v := viewAs(t, "&"+prefix+"revoked")
		waitFor(t, "the view to say why it is not in step", func() bool {
			err := v.Status().LastError
			return err != nil && strings.Contains(err.Error(), "NOPERM")
		})
		if v.Status().InStep {
			t.Fatal("a view that cannot subscribe to its probes' channel is in step")
		}
		t.Logf("last error: %v", v.Status().LastError)
	})
}
