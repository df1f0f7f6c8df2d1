package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/boltstore"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

func init() {
	// go-redis logs failed dials on its own; the command reports the
	// error it gets, once.
	redis.SetLogger(quietRedis{})
}

// quietRedis discards go-redis's log.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// storeURLHelp is what -h says of -store.
const storeURLHelp = "the application's store `URL`: redis://[user:password@]host:port[/db], rediss://... (TLS), " +
	"redis+cluster://host:port,host:port or rediss+cluster://... (a Redis Cluster), or bolt:PATH (required)"

// storeFlags are the flags of the commands that work on an application's
// store as one of its Issuers.
type storeFlags struct {
	url         string
	issuer      string
	legacy      bool
	redisPrefix string
	lockTimeout time.Duration
	timeout     time.Duration
}

// register defines the flags on fs.
func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "store", "", storeURLHelp)
	fs.StringVar(&f.issuer, "issuer", "", "the application's Config.Issuer, exactly: the store's records are scoped to it (required)")
	fs.BoolVar(&f.legacy, "legacy-unscoped", false, "read the store as Config.LegacyUnscopedStore does (a store written before issuer scoping)")
	fs.StringVar(&f.redisPrefix, "redis-prefix", redisstore.DefaultPrefix, "the key prefix of the Redis store (redisstore.Options.Prefix)")
	fs.DurationVar(&f.lockTimeout, "lock-timeout", time.Second, "how long to wait for a bbolt file another process holds (0: do not wait)")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "give up on the store after this long")
}

// check reports a missing or malformed flag as a usage error.
func (f *storeFlags) check() error {
	switch {
	case f.url == "":
		return usagef("-store is required")
	case f.issuer == "":
		return usagef("-issuer is required")
	case f.lockTimeout < 0:
		return usagef("-lock-timeout must not be negative")
	case f.timeout <= 0:
		return usagef("-timeout must be positive")
	}
	if _, err := parseStoreURL(f.url); err != nil {
		return err
	}
	// The Issuer's own rules for its identifier, before any store is
	// opened: New checks them whatever the store.
	_, err := f.newIssuer(memstore.New())
	return err
}

// storeLocation is a parsed -store URL.
type storeLocation struct {
	boltPath string                // bolt:PATH
	redis    *redis.Options        // redis://, rediss://
	cluster  *redis.ClusterOptions // redis+cluster://, rediss+cluster://
}

// parseStoreURL parses a -store URL. Its errors are usage errors, and never
// contain the URL (which may hold a password).
func parseStoreURL(raw string) (*storeLocation, error) {
	bad := func(err error) error {
		// url.Error quotes the whole URL, password included: keep only
		// what is wrong with it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return usagef("-store: %v", err)
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok {
		scheme = ""
	}
	if strings.HasPrefix(scheme, "redis") && userinfoSpills(rest) {
		// A '/', '?' or '#' in the password moves its tail into the path
		// or query, which the parsers' errors quote: say what to fix and
		// show nothing of the URL.
		return nil, usagef("-store: the user or password in the URL does not parse; percent-encode any '/', '?', '#' or '@' in them (as in redis://app:p%%2Fss@host:6379/0)")
	}
	switch scheme {
	case "bolt":
		if rest == "" {
			return nil, usagef("-store bolt: needs a path, as in bolt:/var/lib/app/sessions.db")
		}
		return &storeLocation{boltPath: rest}, nil
	case "redis", "rediss":
		opts, err := redis.ParseURL(raw)
		if err != nil {
			return nil, bad(err)
		}
		return &storeLocation{redis: opts}, nil
	case "redis+cluster", "rediss+cluster":
		u, err := clusterURL(strings.TrimSuffix(scheme, "+cluster"), rest)
		if err != nil {
			return nil, bad(err)
		}
		opts, err := redis.ParseClusterURL(u)
		if err != nil {
			return nil, bad(err)
		}
		return &storeLocation{cluster: opts}, nil
	}
	return nil, usagef("-store: want redis://host:port, rediss://host:port, redis+cluster://host:port,host:port, rediss+cluster://... or bolt:PATH")
}

// userinfoSpills reports whether the rest of a redis URL (after the scheme's
// colon) has an '@' outside its authority: the userinfo then did not end
// where its writer meant, and parts of the password land in the path or
// the query.
func userinfoSpills(rest string) bool {
	after, ok := strings.CutPrefix(rest, "//")
	if !ok {
		return strings.Contains(rest, "@")
	}
	end := strings.IndexAny(after, "/?#")
	return end >= 0 && strings.Contains(after[end:], "@")
}

// clusterURL turns the rest of a redis+cluster URL ("//[userinfo@]host:port,
// host:port[/][?query]") into the form go-redis's ParseClusterURL reads:
// the first address as the host, the others as addr parameters.
func clusterURL(scheme, rest string) (string, error) {
	rest, ok := strings.CutPrefix(rest, "//")
	if !ok {
		return "", errors.New("a cluster URL is redis+cluster://host:port,host:port")
	}
	authority, query, _ := strings.Cut(rest, "?")
	if authority = strings.TrimSuffix(authority, "/"); strings.Contains(authority, "/") {
		return "", errors.New("a cluster has no database number: no path after the addresses")
	}
	userinfo, hosts := "", authority
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		userinfo, hosts = authority[:i+1], authority[i+1:]
	}
	addrs := strings.Split(hosts, ",")
	for _, a := range addrs {
		if a == "" {
			return "", errors.New("an empty address in the cluster's list")
		}
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", errors.New("malformed query")
	}
	for _, a := range addrs[1:] {
		q.Add("addr", a)
	}
	u := scheme + "://" + userinfo + addrs[0]
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u, nil
}

// openedStore is a store the command opened, with what closes it.
type openedStore struct {
	store.Store
	close func() error
}

// open opens the store of f.url. The caller closes it.
func (f *storeFlags) open(ctx context.Context) (*openedStore, error) {
	loc, err := parseStoreURL(f.url)
	if err != nil {
		return nil, err
	}
	switch {
	case loc.boltPath != "":
		return f.openBolt(loc.boltPath)
	case loc.redis != nil:
		loc.redis.ContextTimeoutEnabled = true
		return f.openRedis(ctx, redis.NewClient(loc.redis), loc.redis.Addr)
	default:
		loc.cluster.ContextTimeoutEnabled = true
		return f.openRedis(ctx, redis.NewClusterClient(loc.cluster), strings.Join(loc.cluster.Addrs, ","))
	}
}

// openBolt opens an existing bbolt file, waiting f.lockTimeout for its
// lock.
func (f *storeFlags) openBolt(path string) (*openedStore, error) {
	// boltstore.Open creates a missing file; a command that reads an
	// application's store must not make an empty one out of a typo.
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("bolt file %s does not exist (this command opens an application's store; it never creates one)", path)
	case err != nil:
		return nil, err
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("bolt file %s is not a regular file", path)
	}
	wait := f.lockTimeout
	if wait == 0 {
		wait = -1 // boltstore: one attempt
	}
	s, err := boltstore.Open(path, boltstore.Options{LockTimeout: wait})
	if errors.Is(err, boltstore.ErrLocked) {
		return nil, fmt.Errorf("%s is locked by another process, most likely the running application (waited %v): "+
			"bbolt lets one process at a time open the file. Stop the application and retry, or raise -lock-timeout "+
			"if it is about to stop, or end sessions through the application itself", path, f.lockTimeout)
	}
	if err != nil {
		return nil, err
	}
	return &openedStore{Store: s, close: s.Close}, nil
}

// openRedis checks that the server answers and returns the Redis store on
// client.
func (f *storeFlags) openRedis(ctx context.Context, client redis.UniversalClient, addr string) (*openedStore, error) {
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("cannot reach Redis at %s: %w", addr, err)
	}
	s, err := redisstore.New(client, redisstore.Options{Prefix: f.redisPrefix})
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	return &openedStore{Store: s, close: client.Close}, nil
}

// cliAudience is the audience of the Issuer the store commands build: it
// mints nothing, but New requires one.
const cliAudience = "sessionkit-cli"

// newIssuer returns an Issuer for f.issuer on st, so that every store call
// goes through the Issuer's methods and is scoped as the application's
// own. Its signing key is a throwaway: these commands mint no token.
func (f *storeFlags) newIssuer(st store.Store) (*sessionkit.Issuer, error) {
	key, err := sessionkit.GenerateSigningKey(sessionkit.EdDSA)
	if err != nil {
		return nil, err
	}
	iss, err := sessionkit.New(sessionkit.Config{
		Issuer:              f.issuer,
		Audience:            []string{cliAudience},
		Keys:                sessionkit.NewKeySet(key),
		Store:               st,
		LegacyUnscopedStore: f.legacy,
	})
	if errors.Is(err, sessionkit.ErrInvalidConfig) {
		return nil, usagef("-issuer: %v", err)
	}
	return iss, err
}

// withIssuer opens the store, builds the Issuer and runs fn with a context
// bounded by -timeout, then closes the store.
func (f *storeFlags) withIssuer(fn func(ctx context.Context, iss *sessionkit.Issuer) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	st, err := f.open(ctx)
	if err != nil {
		return err
	}
	iss, err := f.newIssuer(st)
	if err == nil {
		err = fn(ctx, iss)
	}
	if cerr := st.close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing the store: %w", cerr)
	}
	return err
}
