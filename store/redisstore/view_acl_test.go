package redisstore_test

import (
	"context"
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
