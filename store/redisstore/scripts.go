package redisstore

import (
	"strconv"

	"github.com/redis/go-redis/v9"
)

// The Lua scripts. Each public method that reads and writes, or reads more
// than one key, is one of them: one EVALSHA, so one round trip (go-redis
// falls back to EVAL once when the server's script cache lacks it). Every
// key a script touches shares the subject's hash tag, so a script runs on one
// Cluster slot. Sessions and RevokeAll reach session keys through the
// subject's index, so those keys are not in KEYS; they are in the same slot
// as the index, which is what Redis Cluster requires of a script.
//
// Times are Unix milliseconds, passed in as decimal strings by Go and
// written back as such (numbers are formatted with itoa, never by Lua's
// tostring). Liveness is decided by the now passed in; PXAT and PEXPIREAT
// are clean-up only.
//
// The hash comparisons (want ~= presented) are Lua string equality, which is
// not constant-time. That is acceptable here and only here: both sides are
// SHA-256 hashes of 256-bit random secrets, so learning how many leading
// bytes of a hash match tells an attacker nothing about any secret, and the
// rotation must compare inside the script to stay one atomic round trip.
// Lookup, which only reads, compares in Go in constant time.

// prelude is shared by the scripts that read session records: the record
// codec of record.go and the helpers of the decision procedure.
var prelude = `
local NF, FORMAT = 14, '1'
local SUB, CLAIMS, USED, IDLE, EXP, GEN, CUR, RING, SEALED, ROTATED, REVOKED = 2, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14
local KEEP = ` + strconv.Itoa(spentKeep) + `

local function itoa(n) return string.format('%.0f', n) end

local function dec(s)
  local r, pos = {}, 1
  for i = 1, NF do
    local c = string.find(s, ':', pos, true)
    if not c then error('redisstore: corrupt session record') end
    local n = tonumber(string.sub(s, pos, c - 1))
    if not n or c + n > #s then error('redisstore: corrupt session record') end
    r[i] = string.sub(s, c + 1, c + n)
    pos = c + n + 1
  end
  if r[1] ~= FORMAT or pos ~= #s + 1 then error('redisstore: corrupt session record') end
  return r
end

local function enc(r)
  local t = {}
  for i = 1, NF do t[i] = #r[i] .. ':' .. r[i] end
  return table.concat(t)
end

local function live(r, now)
  return r[REVOKED] == '' and now < tonumber(r[IDLE]) and now < tonumber(r[EXP])
end

-- the hash generation g selects: current for G, a kept spent one below
local function expected(r, g)
  local G = tonumber(r[GEN])
  if g == G then return r[CUR] end
  if g < G then
    local n = #r[RING] / 32
    if G - g <= n then
      local off = (n - (G - g)) * 32
      return string.sub(r[RING], off + 1, off + 32)
    end
  end
  return nil
end

local function version(key, subject)
  return tonumber(redis.call('HGET', key, subject) or '0')
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
if old and now < tonumber(dec(old)[EXP]) + margin then return -1 end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', itoa(now - margin))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[7])
local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[2], itoa(tonumber(top[2]) + margin))
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

// rotateScript is store.Store.Rotate's decision procedure, step by step (the
// numbers are the contract's). It answers {outcome} or {outcome, record,
// version}: the record as it is after the step for Rotated, Replayed and
// Reused.
//
// KEYS: session, versions, index.
// ARGV: generation named by the handle, presented hash, next hash, sealed
// successor, now, grace (ms, <= 0 disables), requested idle expiry, "1" to
// replace the claims, the claims, session id.
var rotateScript = redis.NewScript(prelude + `
-- 1. a remembered session (the key carries the handle's subject tag)
local s = redis.call('GET', KEYS[1])
if not s then return {0} end
local r = dec(s)
-- 2. the handle's generation selects one expected hash
local g, G = tonumber(ARGV[1]), tonumber(r[GEN])
local want = expected(r, g)
if not want or want ~= ARGV[2] then return {0} end
local now, grace = tonumber(ARGV[5]), tonumber(ARGV[6])
local inGrace = g == G - 1 and grace > 0 and r[ROTATED] ~= '' and now < tonumber(r[ROTATED]) + grace
-- 3. revoked, then expired
if r[REVOKED] ~= '' then
  if g < G and not inGrace then return {3, s, 0} end
  return {5}
end
if not (now < tonumber(r[IDLE]) and now < tonumber(r[EXP])) then return {4} end
if g == G then
  -- 4. rotated
  local ring = r[RING] .. r[CUR]
  if #ring > KEEP * 32 then ring = string.sub(ring, 33) end
  r[RING], r[CUR], r[SEALED], r[ROTATED], r[USED] = ring, ARGV[3], ARGV[4], ARGV[5], ARGV[5]
  r[GEN] = itoa(G + 1)
  if tonumber(ARGV[7]) < tonumber(r[EXP]) then r[IDLE] = ARGV[7] else r[IDLE] = r[EXP] end
  if ARGV[8] == '1' then r[CLAIMS] = ARGV[9] end
  local b = enc(r)
  redis.call('SET', KEYS[1], b, 'KEEPTTL')
  return {1, b, version(KEYS[2], r[SUB])}
end
if inGrace then
  -- 5. replayed: nothing written
  return {2, s, version(KEYS[2], r[SUB])}
end
-- 6. reused: revoke the session
r[REVOKED] = '1'
local b = enc(r)
redis.call('SET', KEYS[1], b, 'KEEPTTL')
redis.call('ZREM', KEYS[3], ARGV[10])
return {3, b, 0}
`)

// revokeScript ends the live session a handle names under the proof of a
// presented hash, answering {1, record as it was} or {0}.
//
// KEYS: session, index. ARGV: generation, presented hash, now, session id.
var revokeScript = redis.NewScript(prelude + `
local s = redis.call('GET', KEYS[1])
if not s then return {0} end
local r = dec(s)
local want = expected(r, tonumber(ARGV[1]))
if not want or want ~= ARGV[2] or not live(r, tonumber(ARGV[3])) then return {0} end
r[REVOKED] = '1'
redis.call('SET', KEYS[1], enc(r), 'KEEPTTL')
redis.call('ZREM', KEYS[2], ARGV[4])
return {1, s}
`)

// revokeSessionScript ends subject's live session, answering 1, or 0 when
// there is none.
//
// KEYS: session, index. ARGV: subject, now, session id.
var revokeSessionScript = redis.NewScript(prelude + `
local s = redis.call('GET', KEYS[1])
if not s then return 0 end
local r = dec(s)
if r[SUB] ~= ARGV[1] or not live(r, tonumber(ARGV[2])) then return 0 end
r[REVOKED] = '1'
redis.call('SET', KEYS[1], enc(r), 'KEEPTTL')
redis.call('ZREM', KEYS[2], ARGV[3])
return 1
`)

// sessionsScript lists subject's live sessions as {id, record, ...}. It
// cleans the index as it goes: members past their absolute expiry plus the
// margin, members whose key is gone (native expiry) and revoked ones.
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
    local r = dec(s)
    if r[SUB] == ARGV[1] then
      if live(r, now) then
        out[#out + 1] = id
        out[#out + 1] = s
      elseif r[REVOKED] ~= '' then
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
// KEYS: index, versions. ARGV: subject, session key prefix, cut-off.
var revokeAllScript = redis.NewScript(prelude + `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local k = ARGV[2] .. id
  local s = redis.call('GET', k)
  if not s then
    redis.call('ZREM', KEYS[1], id)
  else
    local r = dec(s)
    if r[SUB] == ARGV[1] then
      if r[REVOKED] == '' then
        r[REVOKED] = '1'
        redis.call('SET', k, enc(r), 'KEEPTTL')
      end
      redis.call('ZREM', KEYS[1], id)
    end
  end
end
return redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
`)

// denyScript records subject's jti until a time, keeping the later time,
// and expires the entry with the margin after its latest time.
//
// KEYS: deny entry. ARGV: subject, until, margin.
var denyScript = redis.NewScript(`
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

// checkAccessScript reads the deny-list entry, the version and the session's
// liveness, answering {denied, version, live}.
//
// KEYS: deny entry, versions, and the session when the token has one.
// ARGV: subject, now.
var checkAccessScript = redis.NewScript(prelude + `
local now = tonumber(ARGV[2])
local denied, alive = 0, 0
local u = redis.call('HGET', KEYS[1], ARGV[1])
if u and now < tonumber(u) then denied = 1 end
if KEYS[3] then
  local s = redis.call('GET', KEYS[3])
  if s then
    local r = dec(s)
    if r[SUB] == ARGV[1] and live(r, now) then alive = 1 end
  end
end
return {denied, version(KEYS[2], ARGV[1]), alive}
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
