package redisstore

import (
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// The Lua scripts. Each public method that writes, or reads more than one
// key (but CheckAccess, a pipeline of reads), is one of them: one EVALSHA, so one round trip (go-redis
// falls back to EVAL once when the server's script cache lacks it). Every
// key a script touches shares the subject's hash tag, so a script runs on one
// Cluster slot. Sessions and RevokeAll reach session keys through the
// subject's index, so those keys are not in KEYS; they are in the same slot
// as the index, which is what Redis Cluster requires of a script.
//
// Times are Unix milliseconds. Go passes every number a script writes into
// a record already formatted for the header, so the scripts copy strings and
// never format a number there themselves; the few numbers they pass to
// commands are formatted with %.0f (Lua's own conversion could write 1e+12).
// Liveness is decided by the now passed in; PXAT and PEXPIREAT are clean-up
// only.
//
// The hash comparisons (want ~= presented) are Lua string equality, which is
// not constant-time. That is acceptable here and only here: both sides are
// SHA-256 hashes of 256-bit random secrets, so learning how many leading
// bytes of a hash match tells an attacker nothing about any secret, and the
// rotation must compare inside the script to stay one atomic round trip.
// Lookup, which only reads, compares in Go in constant time.

// prelude is shared by the scripts that read session records: the record
// layout of record.go (1-based offsets here) and the decision helpers.
var prelude = `
local KEEP, SLOTS = ` + strconv.Itoa(spentKeep) + `, '` + fmt.Sprintf("%02d", spentKeep) + `'

-- the header of record s: generation, length of the fixed part, length of
-- the claims, number of spent-hash slots (0 or KEEP), offset of the slots
local function hdr(s)
  if string.sub(s, 1, 1) ~= '2' then error('redisstore: corrupt session record') end
  local fl, cl = tonumber(string.sub(s, 115, 120)), tonumber(string.sub(s, 121, 126))
  return tonumber(string.sub(s, 3, 18)), fl, cl, tonumber(string.sub(s, 127, 128)), 135 + fl + cl
end

-- the hash generation g selects: the current one for G, the one in slot
-- g mod KEEP for the KEEP generations before G
local function expected(s, g, G, n, spentAt)
  if g == G then return string.sub(s, 83, 114) end
  if g < G and G - g <= KEEP and n == KEEP then
    local off = spentAt + (g % KEEP) * 32
    return string.sub(s, off, off + 31)
  end
  return nil
end

-- not revoked, and now before the idle and the absolute expiry
local function live(s, now)
  return string.sub(s, 2, 2) == '0' and now < tonumber(string.sub(s, 19, 34)) and now < tonumber(string.sub(s, 35, 50))
end

-- the fixed part starts with the subject's field
local function owned(s, subject)
  local f = #subject .. ':' .. subject
  return string.sub(s, 135, 134 + #f) == f
end

local function subjectOf(s)
  local c = string.find(s, ':', 135, true)
  return string.sub(s, c + 1, c + tonumber(string.sub(s, 135, c - 1)))
end

local function version(key, subject)
  return tonumber(redis.call('HGET', key, subject) or '0')
end
` + announce

// announce publishes a revocation on the store's channel (view.go reads
// it): a kind letter, the subject's length, ':', the subject, then the
// rest, whose shape the kind gives. A script that revokes calls it in the
// same run as the write and before it: Redis does not undo a script's
// writes when a later command fails, so a PUBLISH the server refuses (an
// ACL user without the channel) must fail the script before it writes.
// No revocation is written without its message; a message without its
// write (a failure after the PUBLISH) only errs towards refusal.
var announce = `
local function announce(channel, kind, subject, rest)
  redis.call('PUBLISH', channel, kind .. #subject .. ':' .. subject .. rest)
end
`

// createScript stores a new session unless its key holds one that may not
// be forgotten yet, indexes it, and answers the subject's version (-1 for a
// duplicate id).
//
// KEYS: session, index, versions.
// ARGV: record, ExpiresAt, PXAT of the record, now, margin, subject, id.
var createScript = redis.NewScript(prelude + `
local now, margin = tonumber(ARGV[4]), tonumber(ARGV[5])
local old = redis.call('GET', KEYS[1])
if old then
  hdr(old)
  if now < tonumber(string.sub(old, 35, 50)) + margin then return -1 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.0f', now - margin))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[7])
local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[2], string.format('%.0f', tonumber(top[2]) + margin))
return version(KEYS[3], ARGV[6])
`)

// The outcome codes of rotateScript, as store.Outcome numbers them.
const (
	codeUnknown  = 0
	codeRotated  = 1
	codeReplayed = 2
	codeReused   = 3
	codeExpired  = 4
	codeRevoked  = 5
)

// codeLate is rotateScript's answer when the server's clock is at or past
// the call's cut-off: nothing was written (see serverclock.go).
const codeLate = 6

// rotateScript is store.Store.Rotate's decision procedure, step by step (the
// numbers are the contract's), behind a check of the server's clock. It
// answers {outcome} or, for Rotated, Replayed and Reused, {outcome, record up
// to its claims after the step, version[, sealed successor for Replayed]},
// or {codeLate} when the server's TIME is at or past the cut-off, writing
// nothing. Every answer ends with the server's TIME (Unix µs), read before
// anything else (serverclock.go).
//
// KEYS: session, versions, index.
// ARGV: the numbers (rotateFields: the generation named by the handle, now,
// grace in ms (<= 0 disables), the requested idle expiry, the next
// generation, the claims' length, the sealed successor's length, the
// cut-off in the server's Unix µs (0: none), each zero-padded to its
// width, the header's numbers already as the header writes them), the
// presented hash, the next hash, the sealed successor, "1" to replace the
// claims, the claims, the session id, the revocations channel (Reused
// announces the session's end). One string carries the numbers so that a
// rotation boxes and formats few arguments.
var rotateScript = redis.NewScript(prelude + `
local t = redis.call('TIME')
local tnow = tonumber(t[1]) * 1000000 + tonumber(t[2])
local F = ARGV[1]
local NOW, IDLE, NEXTGEN = string.sub(F, 17, 32), string.sub(F, 49, 64), string.sub(F, 65, 80)
local CLEN, SLEN = string.sub(F, 81, 86), string.sub(F, 87, 92)
local function rotate()
local cutoff = tonumber(string.sub(F, 93, 108))
if cutoff > 0 and tnow >= cutoff then return {` + strconv.Itoa(codeLate) + `} end
-- 1. a remembered session (the key carries the handle's subject tag)
local s = redis.call('GET', KEYS[1])
if not s then return {0} end
local G, fl, cl, n, spentAt = hdr(s)
-- 2. the handle's generation selects one expected hash
local g = tonumber(string.sub(F, 1, 16))
local want = expected(s, g, G, n, spentAt)
if not want or want ~= ARGV[2] then return {0} end
local now, grace = tonumber(NOW), tonumber(string.sub(F, 33, 48))
local inGrace = g == G - 1 and grace > 0 and now < tonumber(string.sub(s, 67, 82)) + grace
local pub = spentAt - 1 -- the record up to its claims
-- 3. revoked, then expired
if string.sub(s, 2, 2) ~= '0' then
  if g < G and not inGrace then return {3, string.sub(s, 1, pub), 0} end
  return {5}
end
local exp = string.sub(s, 35, 50)
if not (now < tonumber(string.sub(s, 19, 34)) and now < tonumber(exp)) then return {4} end
if g == G then
  -- 4. rotated: the current hash goes to its spent-hash slot, the header
  -- takes the new generation, times and hash, the sealed successor is
  -- replaced; in place when the slots exist, the claims stay and the sealed
  -- successor keeps its length, else the record is written anew
  local idle = IDLE
  if tonumber(idle) >= tonumber(exp) then idle = exp end
  local head = '20' .. NEXTGEN .. idle .. exp .. NOW .. NOW .. ARGV[3] .. string.sub(s, 115, 120)
  local off = (G % KEEP) * 32
  if n == KEEP and ARGV[5] ~= '1' and SLEN == string.sub(s, 129, 134) then
    head = head .. string.sub(s, 121, 134)
    redis.call('SETRANGE', KEYS[1], 0, head)
    redis.call('SETRANGE', KEYS[1], pub + off, string.sub(s, 83, 114))
    redis.call('SETRANGE', KEYS[1], pub + KEEP * 32, ARGV[4])
    return {1, head .. string.sub(s, 135, pub), version(KEYS[2], subjectOf(s))}
  end
  local slots
  if n == KEEP then slots = string.sub(s, spentAt, pub + KEEP * 32) else slots = string.rep('\0', KEEP * 32) end
  local claims, clen = string.sub(s, 135 + fl, pub), string.sub(s, 121, 126)
  if ARGV[5] == '1' then claims, clen = ARGV[6], CLEN end
  local p = head .. clen .. SLOTS .. SLEN .. string.sub(s, 135, 134 + fl) .. claims
  redis.call('SET', KEYS[1], p .. string.sub(slots, 1, off) .. string.sub(s, 83, 114) .. string.sub(slots, off + 33) .. ARGV[4], 'KEEPTTL')
  return {1, p, version(KEYS[2], subjectOf(s))}
end
if inGrace then
  -- 5. replayed: nothing written
  return {2, string.sub(s, 1, pub), version(KEYS[2], subjectOf(s)), string.sub(s, spentAt + n * 32)}
end
-- 6. reused: revoke the session
announce(ARGV[8], 's', subjectOf(s), ARGV[7])
redis.call('SETRANGE', KEYS[1], 1, '1')
redis.call('ZREM', KEYS[3], ARGV[7])
return {3, '21' .. string.sub(s, 3, pub), 0}
end
local r = rotate()
r[#r + 1] = tnow
return r
`)

// timeScript answers the server's TIME in Unix µs. It names the session's
// key only so that a Cluster client sends it to the node that holds it,
// whose clock the rotation's cut-off is in.
//
// KEYS: session.
var timeScript = redis.NewScript(`
local t = redis.call('TIME')
return tonumber(t[1]) * 1000000 + tonumber(t[2])
`)

// revokeScript ends the live session a handle names under the proof of a
// presented hash, answering {1, record up to its claims, as it was} or {0}.
//
// KEYS: session, index. ARGV: generation, presented hash, now, session id,
// revocations channel.
var revokeScript = redis.NewScript(prelude + `
local s = redis.call('GET', KEYS[1])
if not s then return {0} end
local G, fl, cl, n, spentAt = hdr(s)
local want = expected(s, tonumber(ARGV[1]), G, n, spentAt)
if not want or want ~= ARGV[2] or not live(s, tonumber(ARGV[3])) then return {0} end
announce(ARGV[5], 's', subjectOf(s), ARGV[4])
redis.call('SETRANGE', KEYS[1], 1, '1')
redis.call('ZREM', KEYS[2], ARGV[4])
return {1, string.sub(s, 1, spentAt - 1)}
`)

// revokeSessionScript ends subject's live session, answering 1, or 0 when
// there is none.
//
// KEYS: session, index. ARGV: subject, now, session id, revocations
// channel.
var revokeSessionScript = redis.NewScript(prelude + `
local s = redis.call('GET', KEYS[1])
if not s then return 0 end
hdr(s)
if not owned(s, ARGV[1]) or not live(s, tonumber(ARGV[2])) then return 0 end
announce(ARGV[4], 's', ARGV[1], ARGV[3])
redis.call('SETRANGE', KEYS[1], 1, '1')
redis.call('ZREM', KEYS[2], ARGV[3])
return 1
`)

// sessionsScript lists subject's live sessions as {id, record up to its
// claims, ...}. It cleans the index as it goes: members past their absolute
// expiry plus the margin, members whose key is gone (native expiry) and
// revoked ones.
//
// KEYS: index. ARGV: subject, now, session key prefix, cut-off (now - margin).
var sessionsScript = redis.NewScript(prelude + `
local now = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local s = redis.call('GET', ARGV[3] .. id)
  if not s then
    redis.call('ZREM', KEYS[1], id)
  else
    local _, _, _, _, spentAt = hdr(s)
    if owned(s, ARGV[1]) then
      if live(s, now) then
        out[#out + 1] = id
        out[#out + 1] = string.sub(s, 1, spentAt - 1)
      elseif string.sub(s, 2, 2) ~= '0' then
        redis.call('ZREM', KEYS[1], id)
      end
    end
  end
end
return out
`)

// revokeAllScript revokes every session of subject and bumps its version,
// answering the new version.
//
// KEYS: index, versions. ARGV: subject, session key prefix, cut-off,
// revocations channel.
var revokeAllScript = redis.NewScript(prelude + `
local v = (tonumber(redis.call('HGET', KEYS[2], ARGV[1])) or 0) + 1
announce(ARGV[4], 'v', ARGV[1], string.format('%.0f', v))
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local k = ARGV[2] .. id
  local s = redis.call('GET', k)
  if not s then
    redis.call('ZREM', KEYS[1], id)
  else
    hdr(s)
    if owned(s, ARGV[1]) then
      redis.call('SETRANGE', k, 1, '1')
      redis.call('ZREM', KEYS[1], id)
    end
  end
end
return redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
`)

// denyScript records subject's jti until a time, keeping the later time,
// and expires the entry with the margin after its latest time.
//
// KEYS: deny entry. ARGV: subject, until, margin, jti, revocations
// channel.
var denyScript = redis.NewScript(announce + `
announce(ARGV[5], 'd', ARGV[1], ARGV[2] .. ':' .. ARGV[4])
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur or tonumber(ARGV[2]) > tonumber(cur) then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
local latest
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
  local n = tonumber(v)
  if not latest or n > latest then latest = n end
end
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', latest + tonumber(ARGV[3])))
return 1
`)

// useOnceScript records a key until a time and answers 1 only when no live
// record of it existed; a live record keeps the later time.
//
// KEYS: use-once key. ARGV: now, until, PXAT.
var useOnceScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
local first = not cur or tonumber(ARGV[1]) >= tonumber(cur)
if first or tonumber(ARGV[2]) > tonumber(cur) then
  redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
end
if first then return 1 end
return 0
`)

// swapKeysScript replaces a key ring if its version is still the one
// given, answering 1, else changes nothing and answers 0. Versions are
// compared and written as the decimal strings Go formats, never as Lua
// numbers. The ring is one hash (v: version, b: blob) under one key, so the
// script runs on one slot whatever the name holds.
//
// KEYS: ring key. ARGV: expected version, new version, blob.
var swapKeysScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v') or '0'
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'b', ARGV[3])
return 1
`)
