package sessionkit

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultVerifyCacheSize is the number of verified access tokens an Issuer
// or a Verifier remembers when Config.VerifyCacheSize (or
// VerifierConfig.VerifyCacheSize) is zero. An entry holds the token and its
// claims: about 1.5 KB for a typical token, so a full cache of the default
// size takes about 25 MB, and at most about 16 KB for the largest token
// remembered (MaxCachedTokenSize, with its decoded claims), so never more
// than about 260 MB. Beyond its fixed part (about 300 bytes per entry,
// 5 MB at the default size, allocated when the Issuer or Verifier is
// made) it fills only as distinct tokens arrive.
const DefaultVerifyCacheSize = 16384

// MaxVerifyCacheSize caps Config.VerifyCacheSize and
// VerifierConfig.VerifyCacheSize.
const MaxVerifyCacheSize = 1 << 20

// MaxCachedTokenSize is the largest token the verified-token cache
// remembers, in bytes; larger ones (identity providers that put long group
// lists in their tokens) are verified in full at every presentation, so
// that the cache's memory stays bounded by its entry count.
const MaxCachedTokenSize = 4096

// verifyCacheShards is the number of independently locked parts of a
// cache (a power of two), so that verifications on many cores rarely wait
// for one another.
const verifyCacheShards = 32

// verifiedCache remembers access tokens whose signature and claims were
// verified, so that the same token presented again skips the signature
// check: a resource server sees each token many times in its short life.
//
// Entries are keyed by a seeded hash of the whole token and match only the
// very token (compared whole) verified with the very key set (the same
// immutable snapshot of the Issuer's KeySet or of a Verifier's keys): any
// change of the key set, a retired key among others, makes every entry
// stale at once. A hit gives back the claims, which the caller checks
// against the clock again (exp, nbf, iat, with the leeway) and then runs
// the stateful check on: the cache saves the signature and the parsing,
// nothing else. Only verifications that succeeded are put in.
//
// Eviction is CLOCK (second chance) per shard: an entry that was hit since
// the hand last passed it survives one more turn, so tokens seen once (a
// flood of distinct tokens) leave before the ones presented again and
// again, and a hit writes one flag rather than moving an entry in a list.
type verifiedCache struct {
	seed   maphash.Seed
	shards [verifyCacheShards]cacheShard
}

type cacheShard struct {
	mu    sync.Mutex
	index map[uint64]int32 // token hash -> slot
	slots []cacheEntry
	hand  int
	_     [40]byte // keeps shards on separate cache lines
}

type cacheEntry struct {
	hash  uint64
	token string
	keys  any // the key set snapshot the token verified with
	// claims are what Verify returns, shared with its callers; checked
	// is the cache's own copy of what the checks read, so that a caller
	// that changes its claims (against their documentation) changes no
	// later presentation's checks.
	claims  *Claims
	checked Claims
	used    bool // CLOCK's reference bit
	live    bool
}

// newVerifiedCache returns a cache of about size entries, or nil (no
// cache) for a negative size. Zero means DefaultVerifyCacheSize.
func newVerifiedCache(size int) *verifiedCache {
	switch {
	case size < 0:
		return nil
	case size == 0:
		size = DefaultVerifyCacheSize
	}
	size = min(size, MaxVerifyCacheSize)
	per := max(1, (size+verifyCacheShards-1)/verifyCacheShards)
	c := &verifiedCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].index = make(map[uint64]int32)
		c.shards[i].slots = make([]cacheEntry, per)
	}
	return c
}

func (c *verifiedCache) shard(h uint64) *cacheShard {
	return &c.shards[h>>59&(verifyCacheShards-1)]
}

// get returns the claims of token if it was verified with keys, or nil,
// and into checked the cache's own copy of them. A nil cache has nothing.
func (c *verifiedCache) get(token string, keys any, checked *Claims) *Claims {
	if c == nil || len(token) > MaxCachedTokenSize {
		return nil
	}
	h := maphash.String(c.seed, token)
	s := c.shard(h)
	s.mu.Lock()
	var claims *Claims
	if i, ok := s.index[h]; ok {
		if e := &s.slots[i]; e.token == token && e.keys == keys {
			e.used = true
			claims = e.claims
			*checked = e.checked
		}
	}
	s.mu.Unlock()
	return claims
}

// put remembers that token verified with keys to claims, evicting an
// entry if the shard is full. The token is copied, so that the cache
// keeps no larger buffer alive.
func (c *verifiedCache) put(token string, keys any, claims *Claims) {
	if c == nil || len(token) > MaxCachedTokenSize {
		return
	}
	checked := *claims
	checked.Audience = slices.Clone(claims.Audience)
	checked.Extra = nil // no check reads it
	h := maphash.String(c.seed, token)
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.index[h]
	if !ok {
		i = int32(s.victim())
		if old := &s.slots[i]; old.live {
			delete(s.index, old.hash)
		}
		s.index[h] = i
	}
	s.slots[i] = cacheEntry{hash: h, token: strings.Clone(token), keys: keys, claims: claims, checked: checked, live: true}
}

// check is the verification of a remembered token: its claims, if token
// verified with keys before, the cache's copy of them (into checked)
// checked against rules at now again (the clock moves: exp, nbf, iat). The
// caller runs the stateful check on checked too. A remembered token that
// now fails the rules is dropped and returned with its error, as
// verifyAccess would. A token not remembered gives nil claims and no
// error: verify it.
func (c *verifiedCache) check(token string, keys any, rules *claimRules, now time.Time, checked *Claims) (*Claims, error) {
	claims := c.get(token, keys, checked)
	if claims == nil {
		return nil, nil
	}
	if err := rules.check(checked, now); err != nil {
		c.drop(token)
		return claims, err
	}
	return claims, nil
}

// drop forgets token, if the cache holds it.
func (c *verifiedCache) drop(token string) {
	if c == nil {
		return
	}
	h := maphash.String(c.seed, token)
	s := c.shard(h)
	s.mu.Lock()
	if i, ok := s.index[h]; ok && s.slots[i].token == token {
		delete(s.index, h)
		s.slots[i] = cacheEntry{}
	}
	s.mu.Unlock()
}

// victim moves the hand to the slot to fill: the first free one, or the
// first whose reference bit is clear, clearing the bits it passes.
func (s *cacheShard) victim() int {
	for {
		i := s.hand
		s.hand++
		if s.hand == len(s.slots) {
			s.hand = 0
		}
		e := &s.slots[i]
		if !e.live || !e.used {
			return i
		}
		e.used = false
	}
}
