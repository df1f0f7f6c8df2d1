package redisstore_test

import (
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// A resource server whose stateful checks come from pushed revocations:
// the View subscribes to every master of the Cluster and answers each
// check in memory while it is in step, reading the store otherwise.
func ExampleStore_Watch() {
	rdb := redis.NewClusterClient(redisstore.ClusterOptions("10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"))
	defer rdb.Close()
	st, err := redisstore.New(rdb, redisstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	view, err := st.Watch(redisstore.ViewOptions{MaxStaleness: time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer view.Close()
	verifier, err := sessionkit.NewVerifier(sessionkit.VerifierConfig{
		Issuer:   "https://auth.example.com",
		JWKSURL:  "https://auth.example.com/.well-known/jwks.json",
		Audience: []string{"api"},
		Store:    view,
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = verifier // verifier.Verify, or its middleware, on each request

	// For operators: how many servers the view follows, and why it last
	// left step (an ACL right missing, a failover, a cut link).
	if s := view.Status(); !s.InStep {
		log.Printf("revocation view not in step: %d servers, last error: %v", s.Servers, s.LastError)
	}
}
