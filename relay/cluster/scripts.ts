/**
 * The Lua scripts that change a cluster's shared state in Redis. Each runs atomically, so the
 * order Redis runs them in is THE order of a room: of its updates (numbered 1, 2, … by the
 * append and commit scripts, which add them to the room's stream), and of its lock leases. Times
 * are Redis's own (TIME), never a relay's clock. Keys are laid out as `keys.ts` says.
 *
 * The lease scripts keep one FIFO queue a key and take a request's keys one at a time in sorted
 * order, as the in-process table does, so multi-key requests cannot deadlock. Each starts by
 * reaping: requests whose lease expired, and requests of relays whose liveness key expired,
 * end, and their keys go to the next live waiter. A grant records the room's update number at
 * that moment (the holder must read every update up to it before it runs), and is published to
 * the holder relay's channel (it also polls, so a lost message only delays it).
 *
 * @example
 *   const n = await APPEND.run(redis, [roomPrefix, globalPrefix, room, update, '60000', origin])
 */
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

export class Script {
  readonly sha: string
  constructor(
    readonly name: string,
    readonly lua: string
  ) {
    this.sha = createHash('sha1').update(lua).digest('hex')
  }

  /** Runs the script with string or binary arguments; string replies. */
  async run(redis: Redis, args: Array<string | Buffer | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, 0, ...args)
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err
      return redis.eval(this.lua, 0, ...args)
    }
  }

  /** As {@link run}, with binary replies. */
  async runBuffer(redis: Redis, args: Array<string | Buffer | number>): Promise<unknown> {
    try {
      return await redis.callBuffer('EVALSHA', this.sha, 0, ...args)
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err
      return redis.callBuffer('EVAL', this.lua, 0, ...args)
    }
  }
}

/** ARGV[1] the room's key prefix, ARGV[2] the global prefix, ARGV[3] the room. */
const PRELUDE = `
local P, G, ROOM = ARGV[1], ARGV[2], ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

/**
 * Appends one update: numbered, added to the stream, the room queued for compaction, and its news
 * published (`<n>\n<room>`). Returns its number and stream id: the relay that appended it needs
 * no read to know the entry (see `SharedRooms.offer`).
 */
const APPEND_BODY = `
local function append(update, origin, delay)
  local n = redis.call('INCR', P .. 'n')
  local id = redis.call('XADD', P .. 's', '*', 'u', update, 'n', n, 'o', origin)
  -- Due delay ms after the first update since the last compaction. A room queued later only to
  -- trim (FINISH_COMPACTION) is brought forward; one whose job runs (claimed) is left to the job.
  if redis.call('EXISTS', G .. 'compacting:' .. ROOM) == 1 then
    redis.call('ZADD', G .. 'compact', 'NX', now + tonumber(delay), ROOM)
  else
    redis.call('ZADD', G .. 'compact', 'LT', now + tonumber(delay), ROOM)
  end
  redis.call('PUBLISH', G .. 'news', n .. '\\n' .. ROOM)
  return n, id
end
`

/** ARGV[4] update, ARGV[5] compaction delay (ms), ARGV[6] origin tag. Returns { the update's number, its stream id }. */
export const APPEND = new Script(
  'append',
  PRELUDE +
    APPEND_BODY +
    `
local n, id = append(ARGV[4], ARGV[6], ARGV[5])
return { n, id }
`
)

/**
 * ARGV[4] an exclusive start id for XRANGE ('-' for all). Returns { last number, number held by
 * PostgreSQL, [id, fields]... } with the entries after the start.
 */
export const LOAD = new Script(
  'load',
  PRELUDE +
    `
local last = tonumber(redis.call('GET', P .. 'n') or '0')
local pg = tonumber(redis.call('GET', P .. 'pg') or '0')
local from = ARGV[4]
if from ~= '-' then from = '(' .. from end
return { last, pg, redis.call('XRANGE', P .. 's', from, '+') }
`
)

/**
 * Whether a reader that has read the room's stream up to update `n` (stream id `last`), with
 * updates after it stored, can read on: the entry after `last` is update n + 1. False once
 * compaction trimmed updates it had not read (a relay that stalled past the grace time).
 */
const FOLLOWS = `
local function follows(P, last, n)
  local after = redis.call('XRANGE', P .. 's', '(' .. last, '+', 'COUNT', 1)
  if #after == 0 then return false end
  local f = after[1][2]
  for j = 1, #f - 1, 2 do
    if f[j] == 'n' then return tonumber(f[j + 1]) == tonumber(n) + 1 end
  end
  return false
end
`

/**
 * ARGV[4] the stream id, ARGV[5] the number, of the last update this relay read. Returns { the
 * number of the room's last update, 1 if this relay can read on to it or 0 if updates it had not
 * read were trimmed }.
 */
export const HEAD = new Script(
  'head',
  PRELUDE +
    FOLLOWS +
    `
local head = tonumber(redis.call('GET', P .. 'n') or '0')
return { head, (head <= tonumber(ARGV[5]) or follows(P, ARGV[4], ARGV[5])) and 1 or 0 }
`
)

/**
 * ARGV: triples of a room's key prefix, the stream id and the number of the last update this
 * relay read of it. Returns pairs for the rooms with updates this relay has not read: the room's
 * (1-based) position and its last number, or -1 if its stream was trimmed past what this relay
 * read. Rooms it is up to date with cost one GET.
 */
export const CHECK_STREAMS = new Script(
  'check',
  FOLLOWS +
    `
local out = {}
for i = 1, #ARGV, 3 do
  local P, n = ARGV[i], tonumber(ARGV[i + 2])
  local head = tonumber(redis.call('GET', P .. 'n') or '0')
  if head > n then
    out[#out + 1] = (i + 2) / 3
    out[#out + 1] = follows(P, ARGV[i + 1], n) and head or -1
  end
end
return out
`
)

/**
 * Updates up to this size ride in a grant message (the pub/sub connection's output buffer must
 * never fill); a larger one the holder's relay reads from the stream.
 */
export const CARRIED_MAX_BYTES = 65_536

const LEASES = `
local grants = {}
-- The update the COMMIT script stored: a grant made at its number carries it, so the next
-- holder's relay needs no read of the stream before its GRANT.
local carried = nil
local function alive(relay) return redis.call('EXISTS', G .. 'relay:' .. relay) == 1 end
local handOver
local function advance(f)
  local r = P .. 'r:' .. f
  local keys = cjson.decode(redis.call('HGET', r, 'k'))
  local x = tonumber(redis.call('HGET', r, 'x'))
  while x < #keys do
    local k = keys[x + 1]
    if redis.call('HEXISTS', P .. 'o', k) == 1 then
      redis.call('RPUSH', P .. 'w:' .. k, f)
      redis.call('HSET', r, 'x', x)
      return
    end
    redis.call('HSET', P .. 'o', k, f)
    x = x + 1
  end
  local n = tonumber(redis.call('GET', P .. 'n') or '0')
  local relay = redis.call('HGET', r, 'h')
  redis.call('HSET', r, 'x', x, 'g', n)
  redis.call('ZADD', P .. 'e', now + tonumber(redis.call('HGET', r, 'l')), f)
  grants[#grants + 1] = tonumber(f)
  grants[#grants + 1] = n
  local id, update = '', ''
  if carried and carried.n == n and #carried.u <= ${CARRIED_MAX_BYTES} then id, update = carried.id, carried.u end
  redis.call('PUBLISH', G .. 'grants:' .. relay, f .. '\\n' .. n .. '\\n' .. id .. '\\n' .. #ROOM .. '\\n' .. ROOM .. update)
end
local function finish(f)
  local r = P .. 'r:' .. f
  local k = redis.call('HGET', r, 'k')
  if not k then return false end
  local keys = cjson.decode(k)
  local x = tonumber(redis.call('HGET', r, 'x'))
  redis.call('DEL', r)
  redis.call('ZREM', P .. 'e', f)
  if x < #keys then redis.call('LREM', P .. 'w:' .. keys[x + 1], 1, f) end
  for i = 1, x do handOver(keys[i]) end
  return x == #keys
end
handOver = function(k)
  redis.call('HDEL', P .. 'o', k)
  while true do
    local f = redis.call('LPOP', P .. 'w:' .. k)
    if not f then return end
    local relay = redis.call('HGET', P .. 'r:' .. f, 'h')
    if relay and alive(relay) then
      advance(f)
      return
    end
    if relay then finish(f) end
  end
end
local function reap()
  for _, f in ipairs(redis.call('ZRANGEBYSCORE', P .. 'e', '-inf', now)) do finish(f) end
  local owners = redis.call('HGETALL', P .. 'o')
  local seen = {}
  for i = 1, #owners, 2 do
    local k, f = owners[i], owners[i + 1]
    if not seen[f] then
      local relay = redis.call('HGET', P .. 'r:' .. f, 'h')
      if not relay then
        if redis.call('HGET', P .. 'o', k) == f then handOver(k) end
      elseif not alive(relay) then
        seen[f] = true
        finish(f)
      else
        seen[f] = true
      end
    end
  end
end
`

/**
 * ARGV[4] relay, ARGV[5] lease ms, ARGV[6] keys (JSON array, sorted). Returns { fence, grants… }
 * (fence and number pairs), or { -1 } if this relay is presumed dead (its liveness key expired).
 */
export const ACQUIRE = new Script(
  'acquire',
  PRELUDE +
    LEASES +
    `
reap()
if not alive(ARGV[4]) then return { -1 } end
local f = redis.call('INCR', P .. 'f')
redis.call('HSET', P .. 'r:' .. f, 'k', ARGV[6], 'x', 0, 'h', ARGV[4], 'l', ARGV[5])
advance(f)
local out = { f }
for _, v in ipairs(grants) do out[#out + 1] = v end
return out
`
)

/** ARGV[4] fence. Returns { held (1 or 0), grants… }. */
export const RELEASE = new Script(
  'release',
  PRELUDE +
    LEASES +
    `
reap()
local held = finish(ARGV[4])
local out = { held and 1 or 0 }
for _, v in ipairs(grants) do out[#out + 1] = v end
return out
`
)

/**
 * ARGV[4] relay, ARGV[5] fence, ARGV[6] update, ARGV[7] compaction delay, ARGV[8] origin tag,
 * ARGV[9] the session ('' if its connection named none), ARGV[10] its socket number.
 * Checks that the request holds its lease now, and that no later socket of its session has
 * fenced it (SESSION_FENCE), then appends the update and ends the request, in one step. Returns
 * { 1, number, stream id, grants… } or { 0, reason }, { 0, reason, 1 } if this relay is presumed dead (its
 * liveness key expired).
 */
export const COMMIT = new Script(
  'commit',
  PRELUDE +
    APPEND_BODY +
    LEASES +
    `
reap()
local f = ARGV[5]
local r = P .. 'r:' .. f
local k = redis.call('HGET', r, 'k')
if not k then return { 0, 'the lease is not held: it expired, or its relay was presumed dead' } end
if redis.call('HGET', r, 'h') ~= ARGV[4] then return { 0, 'the lease belongs to another relay' } end
if tonumber(redis.call('HGET', r, 'x')) ~= #cjson.decode(k) then return { 0, 'the lease was never granted' } end
if not alive(ARGV[4]) then
  finish(f)
  return { 0, 'the relay was presumed dead: its lease ended', 1 }
end
if ARGV[9] ~= '' and tonumber(redis.call('GET', P .. 'ss:' .. ARGV[9]) or '0') > tonumber(ARGV[10]) then
  finish(f)
  return { 0, 'abandoned: a newer connection of the session fenced this one' }
end
local n, id = append(ARGV[6], ARGV[8], ARGV[7])
carried = { n = n, id = id, u = ARGV[6] }
finish(f)
local out = { 1, n, id }
for _, v in ipairs(grants) do out[#out + 1] = v end
return out
`
)

/**
 * ARGV[4] session, ARGV[5] socket number, ARGV[6] how long to keep it (ms). A session's HELLO on
 * a socket: from now on the COMMIT script refuses commits of the session's earlier sockets, on
 * any relay. Returns the room's update number now: every commit stored before is up to it.
 */
export const SESSION_FENCE = new Script(
  'session-fence',
  PRELUDE +
    `
local k = P .. 'ss:' .. ARGV[4]
if tonumber(ARGV[5]) > tonumber(redis.call('GET', k) or '0') then
  redis.call('SET', k, ARGV[5], 'PX', ARGV[6])
else
  redis.call('PEXPIRE', k, ARGV[6])
end
return tonumber(redis.call('GET', P .. 'n') or '0')
`
)

/** ARGV[4…] fences. Returns, for each: its grant number, -1 while it waits, -2 if it is gone. */
export const POLL = new Script(
  'poll',
  PRELUDE +
    LEASES +
    `
reap()
local out = {}
for i = 4, #ARGV do
  local r = P .. 'r:' .. ARGV[i]
  local k = redis.call('HGET', r, 'k')
  if not k then out[#out + 1] = -2
  elseif tonumber(redis.call('HGET', r, 'x')) == #cjson.decode(k) then out[#out + 1] = tonumber(redis.call('HGET', r, 'g'))
  else out[#out + 1] = -1 end
end
return out
`
)

/**
 * Takes the compaction job that is due first, for ARGV[4] relay, for ARGV[5] ms: the room's due
 * time moves past the job's time, so if this relay dies the job is due again and another takes
 * it. Returns the room, or false. (ARGV[1] and ARGV[3] unused.)
 */
export const CLAIM_COMPACTION = new Script(
  'claim',
  PRELUDE +
    `
local due = redis.call('ZRANGEBYSCORE', G .. 'compact', '-inf', now, 'LIMIT', 0, 1)
if #due == 0 then return false end
local room = due[1]
redis.call('ZADD', G .. 'compact', now + tonumber(ARGV[5]), room)
redis.call('SET', G .. 'compacting:' .. room, ARGV[4], 'PX', tonumber(ARGV[5]))
return room
`
)

/**
 * Ends a compaction job of ARGV[4] relay that stored updates up to number ARGV[5] (stream id
 * ARGV[6]) in PostgreSQL (0 if it stored nothing new): records that, and trims the stream up to
 * there, keeping entries younger than ARGV[7] ms (relays that lag read them before they go). The
 * room stays queued while its stream holds anything: ARGV[8] ms on if it has updates PostgreSQL
 * lacks, else until the oldest entry's grace ends (that job only trims). Returns the stream's length, or -1 if the job was taken over meanwhile.
 */
export const FINISH_COMPACTION = new Script(
  'finish',
  PRELUDE +
    `
if redis.call('GET', G .. 'compacting:' .. ROOM) ~= ARGV[4] then return -1 end
local n = tonumber(ARGV[5])
if n > 0 and n > tonumber(redis.call('GET', P .. 'pg') or '0') then
  redis.call('SET', P .. 'pg', n)
  redis.call('SET', P .. 'pgid', ARGV[6])
end
local pgid = redis.call('GET', P .. 'pgid')
if pgid then
  local ms, seq = string.match(pgid, '^(%d+)-(%d+)$')
  local graceMs = now - tonumber(ARGV[7])
  local cutMs, cutSeq = tonumber(ms), tonumber(seq) + 1
  if graceMs < cutMs or (graceMs == cutMs and 0 < cutSeq) then cutMs, cutSeq = graceMs, 0 end
  if cutMs > 0 then redis.call('XTRIM', P .. 's', 'MINID', string.format('%d-%d', cutMs, cutSeq)) end
end
redis.call('DEL', G .. 'compacting:' .. ROOM)
local left = redis.call('XLEN', P .. 's')
if left == 0 then
  redis.call('ZREM', G .. 'compact', ROOM)
elseif tonumber(redis.call('GET', P .. 'n') or '0') > tonumber(redis.call('GET', P .. 'pg') or '0') then
  redis.call('ZADD', G .. 'compact', now + tonumber(ARGV[8]), ROOM)
else
  -- PostgreSQL has every update: what is left is kept for the grace only. The next job, when
  -- the oldest entry's grace ends, just trims (an append before brings it forward).
  local first = redis.call('XRANGE', P .. 's', '-', '+', 'COUNT', 1)[1][1]
  local ms = tonumber(string.match(first, '^(%d+)-'))
  redis.call('ZADD', G .. 'compact', math.max(now, ms + tonumber(ARGV[7])) + 1, ROOM)
end
return left
`
)
