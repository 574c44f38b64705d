/**
 * The amplification table of issue 19: for each kind of message a client can send, the worst
 * input found, replayed against a relay in a child process at its default limits, one fresh
 * relay a row. Columns: bytes the attacker sent, the relay's CPU time (user + system, from
 * /proc, 10 ms ticks) while it ran, the longest round trip of a FLUSH in another room meanwhile
 * (a probe every 20 ms: how long other rooms stalled), the relay's resident memory afterwards
 * over what it held before the attack, and how the attacker ended.
 *
 *   npm run bench -- abuse                     # the table
 *   npm run bench -- abuse ACQUIRE "sync step 1"   # some rows (by the start of their name)
 *
 * Bounds (issue 19), at the default limits: no stall over 100 ms; CPU within 10 ms a KB sent;
 * memory held by all connections within `maxQueuedBytesTotal` (256 MiB); each attacker closed
 * with a fitting code. The machine's own load adds to the stall and CPU columns: run it on a
 * quiet machine for figures to compare.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { request, type IncomingMessage } from 'node:http'
import { connect } from 'node:net'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { ROOT, rawSocket, updateFrame, within, type RawSocket } from '../test/support/helpers.js'
import {
  awarenessFrame,
  childRelay,
  deleteBomb,
  flush,
  nonReader,
  queryAwareness,
  resume,
  roundTrip,
  syncStep1,
  type ChildRelay
} from '../test/support/limits-helpers.js'
import { HELLO_RETAINS, YSS_ACQUIRE, YSS_CANCEL, YSS_COMMIT, YSS_GRANT, YSS_HELLO, YSS_RETAINED, encodeYss } from '../protocol/messages.js'

const MiB = 1024 * 1024
const SECRET = 'an abuse bench secret of 32 bytes!!'

interface Outcome {
  bytes: number
  ended: string
}

interface Row {
  name: string
  /** Relay options beyond the defaults (only what the row needs to exist: a token for the refused upgrade). */
  options?: Record<string, unknown>
  /** Not measured: what the attack needs in place (a big room, many client ids). */
  setup?(relay: ChildRelay): Promise<unknown>
  attack(relay: ChildRelay, setup: unknown): Promise<Outcome>
}

const cpuMs = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/** A raw socket that joined `room`. */
const joined = async (relay: ChildRelay, room: string, query = ''): Promise<RawSocket> => {
  const raw = rawSocket(relay.url, room + query)
  await raw.frame(() => true, 60_000)
  return raw
}

/** How `raw` ended within `ms`: its close code, or 'open'. */
const ending = async (raw: RawSocket, ms = 5_000): Promise<string> =>
  within(raw.closed, ms, 'the close').then(
    (c) => String(c.code),
    () => 'open'
  )

/** Sends `frames`, returns their bytes. */
const sendAll = (raw: RawSocket, frames: Uint8Array[]): number => {
  let bytes = 0
  for (const f of frames) {
    raw.send(f)
    bytes += f.length + 6
  }
  return bytes
}

/** Waits until what `raw` sent was handled (a FLUSH round trip), or it closed. */
const settled = (raw: RawSocket, ms = 120_000): Promise<void> => roundTrip(raw, ms).catch(() => {})

const textRoom = async (relay: ChildRelay, room: string, chars: number): Promise<{ raw: RawSocket; client: number }> => {
  const raw = await joined(relay, room)
  const src = new Y.Doc()
  src.getText('t').insert(0, 'x'.repeat(chars))
  raw.send(updateFrame(Y.encodeStateAsUpdate(src)))
  await roundTrip(raw, 120_000)
  return { raw, client: src.clientID }
}

/** An update of `n` client entries of one map item each, under keys of their own: n client ids, 2n items. */
const manyClients = (n: number, first: number): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, n)
  for (let c = 0; c < n; c++) {
    encoding.writeVarUint(e, 1)
    encoding.writeVarUint(e, first + c)
    encoding.writeVarUint(e, 0)
    encoding.writeUint8(e, 8 | 0b100000) // an Any item, parent by name, under a key of its own (no concurrent inserts at one place)
    encoding.writeVarUint(e, 1)
    encoding.writeVarString(e, 'ids')
    encoding.writeVarString(e, `k${first + c}`)
    encoding.writeVarUint(e, 1)
    encoding.writeAny(e, 0)
  }
  encoding.writeVarUint(e, 0)
  return encoding.toUint8Array(e)
}

/** A room whose history has `ids` client ids, built in updates within the limits. */
const crowdedRoom = async (relay: ChildRelay, room: string, ids: number): Promise<RawSocket> => {
  const raw = await joined(relay, room)
  for (let done = 0; done < ids; done += 40_000) {
    raw.send(updateFrame(manyClients(Math.min(40_000, ids - done), 1_000_000 + done)))
    await roundTrip(raw, 120_000)
  }
  return raw
}

/** `count` HTTP GETs of `path(i)`, 8 at a time; returns the bytes sent and the statuses seen. */
const httpFlood = async (
  relay: ChildRelay,
  count: number,
  path: (i: number) => string,
  headers: Record<string, string> = {}
): Promise<Outcome> => {
  let bytes = 0
  const statuses = new Set<number>()
  let next = 0
  const worker = async () => {
    while (next < count) {
      const p = path(next++)
      bytes += p.length + 60
      await new Promise<void>((resolve) => {
        const req = request(new URL(p, relay.httpUrl), { headers }, (res) => {
          statuses.add(res.statusCode ?? 0)
          res.resume()
          res.on('end', resolve)
        })
        req.on('error', () => {
          statuses.add(0)
          resolve()
        })
        req.end()
      })
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker))
  return { bytes, ended: `HTTP ${[...statuses].sort().join('/')}` }
}

/** One request of the rooms API from `from` (a loopback address of its own: many clients), answered or not. */
interface ApiCall {
  status: Promise<number>
  /** Bytes of the answer's body read so far (none while `read` is false). */
  received: () => number
  /** Starts reading the answer (it was left unread: a client that does not read). */
  read(): void
  abort(): void
}

const apiCall = (relay: ChildRelay, method: string, path: string, body?: string, opts: { from?: string; read?: boolean } = {}): ApiCall => {
  let received = 0
  let response: IncomingMessage | undefined
  const req = request(new URL(path, relay.httpUrl), {
    method,
    agent: false,
    ...(opts.from ? { localAddress: opts.from } : {}),
    headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
  })
  const status = new Promise<number>((resolve) => {
    req.on('response', (res) => {
      response = res
      res.on('data', (chunk: Buffer) => {
        received += chunk.length
      })
      res.on('error', () => {})
      if (opts.read === false) res.pause()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', () => resolve(0))
  })
  req.end(body)
  return {
    status,
    received: () => received,
    read: () => response?.resume(),
    abort: () => req.destroy()
  }
}

/** Client addresses for the calls of many clients: 127.0.0.2, 127.0.0.3, … */
const address = (i: number): string => `127.0.${Math.floor(i / 250)}.${(i % 250) + 2}`

/** The statuses of `statuses`, counted: `200×40, 413×24`. */
const statusCounts = (statuses: number[]): string => summarise(statuses.map((s) => `HTTP ${s}`))

/** `/metrics`' counts of hits of `limits` (snake_case labels), where not 0. */
const hits = async (relay: ChildRelay, limits: string[]): Promise<string> => {
  const counts = await Promise.all(limits.map(async (l) => [l, await relay.limitHits(l)] as const))
  const hit = counts.filter(([, n]) => n > 0).map(([l, n]) => `${l} ${n}`)
  return hit.length > 0 ? `; limit hits: ${hit.join(', ')}` : '; no limit hit'
}

/** Runs `calls` thunks `width` at a time; their statuses. */
const inWaves = async (count: number, width: number, call: (i: number) => Promise<number>): Promise<number[]> => {
  const statuses: number[] = []
  let next = 0
  const worker = async () => {
    while (next < count) statuses.push(await call(next++))
  }
  await Promise.all(Array.from({ length: width }, worker))
  return statuses
}

/** A room of `mb` MB of state: `mb` keys of one 1 MB string each, written over HTTP. */
const bigStateRoom = async (relay: ChildRelay, room: string, mb: number): Promise<void> => {
  const value = JSON.stringify('v'.repeat(MiB - 100))
  for (let i = 0; i < mb; i++) {
    const status = await apiCall(relay, 'PUT', `/rooms/${room}/state/big${i}`, value).status
    if (status !== 200) throw new Error(`setting up ${room}: PUT ${i} answered ${status}`)
  }
}

/** A JSON object `{ "k0": 0, … }` of keys from `prefix` that fills `bytes`; and how many keys. */
const manyKeys = (prefix: string, bytes: number): { json: string; keys: number } => {
  const parts: string[] = []
  let size = 2
  for (let i = 0; ; i++) {
    const part = `"${prefix}${i}":0`
    if (size + part.length + 1 > bytes) break
    parts.push(part)
    size += part.length + 1
  }
  return { json: `{${parts.join(',')}}`, keys: parts.length }
}

const HTTP_LIMITS = [
  'http_body_bytes',
  'http_requests',
  'http_leases',
  'lock_requests',
  'lock_key_chars',
  'update_items',
  'update_work',
  'room_bytes'
]

const lockFrames = (type: number, n: number, extra: (i: number) => Record<string, unknown> = () => ({})): Uint8Array[] =>
  Array.from({ length: n }, (_, i) => encodeYss({ type, id: i + 1, ...extra(i) } as never))

const ROWS: Row[] = [
  {
    name: 'sync step 1 (16 non-readers × 7 asks, 8 MB room)',
    setup: (relay) => textRoom(relay, 'big', 8 * MiB),
    attack: async (relay, setup) => {
      const seed = (setup as { raw: RawSocket }).raw
      const attackers = await Promise.all(Array.from({ length: 16 }, () => nonReader(relay.url, 'big')))
      let bytes = 0
      for (let round = 0; round < 7; round++) {
        for (const a of attackers)
          if (a.ws.readyState === a.ws.OPEN) {
            a.send(syncStep1())
            bytes += 10
          }
        await settled(seed)
      }
      const held = relay.rssMb()
      for (const a of attackers) resume(a)
      const ends = await Promise.all(attackers.map((a) => ending(a, 2_000)))
      return { bytes, ended: `${summarise(ends)} (RSS ${held.toFixed(0)} MB while held)` }
    }
  },
  {
    name: 'sync step 2 (one 18 MB frame of empty client entries)',
    setup: async () => {
      const e = encoding.createEncoder()
      encoding.writeVarUint(e, 3_400_000)
      for (let c = 0; c < 3_400_000; c++) {
        encoding.writeVarUint(e, 0)
        encoding.writeVarUint(e, 1_000_000 + c)
        encoding.writeVarUint(e, 0)
      }
      encoding.writeVarUint(e, 0)
      const update = encoding.toUint8Array(e)
      const f = encoding.createEncoder()
      encoding.writeVarUint(f, 0)
      encoding.writeVarUint(f, 1) // step 2
      encoding.writeVarUint8Array(f, update)
      return encoding.toUint8Array(f)
    },
    attack: async (relay, setup) => {
      const step2 = setup as Uint8Array
      const raw = await joined(relay, 'entries')
      raw.send(step2)
      await settled(raw)
      return { bytes: step2.length, ended: await ending(raw, 1_000) }
    }
  },
  {
    name: 'update (99,998-range delete set on a 2 MB insert)',
    setup: (relay) => textRoom(relay, 'bomb', 2_000_000),
    attack: async (_relay, setup) => {
      const { raw, client } = setup as { raw: RawSocket; client: number }
      const bomb = updateFrame(deleteBomb(client, 99_998))
      raw.send(bomb)
      await settled(raw)
      return { bytes: bomb.length, ended: await ending(raw, 1_000) }
    }
  },
  {
    name: 'update (62 KB pending, then 12,500 gap fills)',
    setup: async () => {
      const src = new Y.Doc()
      const updates: Uint8Array[] = []
      src.on('update', (u: Uint8Array) => updates.push(u))
      for (let i = 0; i < 25_000; i++) src.getArray('a').push([i])
      return [updateFrame(Y.mergeUpdates(updates.filter((_, i) => i % 2 === 1))), ...updates.filter((_, i) => i % 2 === 0).map(updateFrame)]
    },
    attack: async (relay, setup) => {
      const raw = await joined(relay, 'gaps')
      const bytes = sendAll(raw, setup as Uint8Array[])
      await settled(raw)
      return { bytes, ended: await ending(raw, 1_000) }
    }
  },
  {
    name: 'update (10,000 concurrent inserts at one place)',
    setup: async () =>
      updateFrame(
        Y.mergeUpdates(
          Array.from({ length: 10_000 }, (_, i) => {
            const d = new Y.Doc()
            d.clientID = 1_000_000 + i
            d.getArray('a').insert(0, [i])
            return Y.encodeStateAsUpdate(d)
          })
        )
      ),
    attack: async (relay, setup) => {
      const raw = await joined(relay, 'concurrent')
      raw.send(setup as Uint8Array)
      await settled(raw)
      return { bytes: (setup as Uint8Array).length, ended: await ending(raw, 1_000) }
    }
  },
  {
    name: 'awareness (one frame of 200,000 states)',
    setup: async () => awarenessFrame(Array.from({ length: 200_000 }, (_, i) => [i + 1, { n: i }])),
    attack: async (relay, setup) => {
      const raw = await joined(relay, 'aware')
      const frame = setup as Uint8Array
      raw.send(frame)
      await settled(raw)
      return { bytes: frame.length, ended: await ending(raw, 1_000) }
    }
  },
  {
    name: 'awareness query (non-reader × 40, 15 MB of presence)',
    setup: async (relay) => {
      const publishers: RawSocket[] = []
      for (let p = 0; p < 64; p++) {
        const raw = await joined(relay, 'query')
        raw.send(awarenessFrame([0, 1, 2, 3].map((i) => [1_000 + p * 4 + i, { name: 'y'.repeat(60_000) }])))
        publishers.push(raw)
      }
      await roundTrip(publishers[0]!, 60_000)
      return publishers
    },
    attack: async (relay, setup) => {
      const pacer = (setup as RawSocket[])[0]!
      const attacker = await nonReader(relay.url, 'query')
      let bytes = 0
      for (let i = 0; i < 40 && attacker.ws.readyState === attacker.ws.OPEN; i++) {
        attacker.send(queryAwareness())
        bytes += 7
        await settled(pacer)
      }
      resume(attacker)
      return { bytes, ended: await ending(attacker, 2_000) }
    }
  },
  {
    name: 'ACQUIRE (256, room of 100,000 client ids)',
    setup: (relay) => crowdedRoom(relay, 'crowd', 100_000),
    attack: async (relay) => {
      const raw = await joined(relay, 'crowd')
      const bytes = sendAll(
        raw,
        lockFrames(YSS_ACQUIRE, 256, (i) => ({ keys: [`k${i}`] }))
      )
      await settled(raw)
      const grants = raw.frames.filter((f) => f[0] === 100 && f[1] === YSS_GRANT).length
      return { bytes, ended: `${await ending(raw, 500)}, ${grants} GRANTs` }
    }
  },
  {
    name: 'COMMIT (1,024 on one retained lease, room of 100,000 client ids)',
    setup: (relay) => crowdedRoom(relay, 'crowd', 100_000),
    attack: async (relay) => {
      const raw = await joined(relay, 'crowd')
      raw.send(encodeYss({ type: YSS_HELLO, id: HELLO_RETAINS }))
      raw.send(encodeYss({ type: YSS_ACQUIRE, id: 1, keys: ['k'] }))
      await raw.frame((f) => f[0] === 100 && f[1] === YSS_GRANT, 60_000)
      const bytes = sendAll(
        raw,
        Array.from({ length: 1_024 }, () => encodeYss({ type: YSS_COMMIT, id: 1, update: new Uint8Array(0) }))
      )
      await settled(raw)
      const retained = raw.frames.filter((f) => f[0] === 100 && f[1] === YSS_RETAINED).length
      return { bytes, ended: `${await ending(raw, 500)}, ${retained} RETAINED` }
    }
  },
  {
    name: 'CANCEL (100,000)',
    attack: async (relay) => {
      const raw = await joined(relay, 'cancel')
      const bytes = sendAll(raw, lockFrames(YSS_CANCEL, 100_000))
      await settled(raw)
      return { bytes, ended: await ending(raw, 500) }
    }
  },
  {
    name: 'FLUSH (100,000 from a non-reader)',
    attack: async (relay) => {
      const raw = await nonReader(relay.url, 'flush')
      const frames = Array.from({ length: 100_000 }, (_, i) => flush(i + 1))
      const bytes = sendAll(raw, frames)
      const probe = await joined(relay, 'flush')
      await settled(probe)
      resume(raw)
      probe.ws.close()
      return { bytes, ended: await ending(raw, 2_000) }
    }
  },
  {
    name: 'HELLO (100,000)',
    attack: async (relay) => {
      const raw = await joined(relay, 'hello')
      const bytes = sendAll(raw, lockFrames(YSS_HELLO, 100_000))
      await settled(raw)
      return { bytes, ended: await ending(raw, 500) }
    }
  },
  {
    name: 'HTTP PUT /state/:key (48 × a 1 MB body, 16 clients, to 48 keys)',
    attack: async (relay) => {
      const value = JSON.stringify('v'.repeat(MiB - 100))
      const statuses = await inWaves(48, 16, (i) => apiCall(relay, 'PUT', `/rooms/put/state/k${i}`, value, { from: address(i) }).status)
      // One byte over the body limit: refused unread.
      const over = await apiCall(relay, 'PUT', '/rooms/put/state/over', JSON.stringify('v'.repeat(MiB))).status
      return { bytes: 49 * MiB, ended: `${statusCounts([...statuses, over])}${await hits(relay, HTTP_LIMITS)}` }
    }
  },
  {
    name: 'HTTP PATCH /state (1 MB body: set of 104,000 keys, × 4)',
    attack: async (relay) => {
      const statuses: number[] = []
      let bytes = 0
      let keys = 0
      for (let i = 0; i < 4; i++) {
        const { json, keys: n } = manyKeys(`p${i}k`, MiB - 20)
        const body = `{"set":${json}}`
        bytes += body.length
        keys = n
        statuses.push(await apiCall(relay, 'PATCH', '/rooms/patch/state', body).status)
      }
      return { bytes, ended: `${keys} keys a body: ${statusCounts(statuses)}${await hits(relay, HTTP_LIMITS)}` }
    }
  },
  {
    name: 'HTTP PATCH /state (set of 60,000 keys, × 8 clients)',
    attack: async (relay) => {
      const bodies = Array.from({ length: 8 }, (_, i) => `{"set":${manyKeys(`c${i}k`, 600_000).json}}`)
      const statuses = await Promise.all(
        bodies.map((b, i) => apiCall(relay, 'PATCH', '/rooms/patch8/state', b, { from: address(i) }).status)
      )
      return { bytes: bodies.reduce((n, b) => n + b.length, 0), ended: `${statusCounts(statuses)}${await hits(relay, HTTP_LIMITS)}` }
    }
  },
  {
    name: 'HTTP PUT refused on a full room (200 × 2 KB, each over maxRoomBytes)',
    setup: (relay) => bigStateRoom(relay, 'full', 31),
    attack: async (relay) => {
      // Just over what the room has left: refused by the room's check, after it was built.
      const value = JSON.stringify('w'.repeat(1_500_000))
      const small = JSON.stringify('s'.repeat(2_000))
      let bytes = 0
      const statuses: number[] = []
      for (let i = 0; i < 200; i++) {
        const body = i === 0 ? value : small
        bytes += body.length
        statuses.push(await apiCall(relay, 'PUT', `/rooms/full/state/over${i % 2}`, body).status)
      }
      return { bytes, ended: `${statusCounts(statuses)}${await hits(relay, HTTP_LIMITS)}` }
    }
  },
  {
    name: 'HTTP POST /leases (64 keys each, 1,100 waiting from 1,100 addresses, 20 rooms)',
    attack: async (relay) => {
      const keys = Array.from({ length: 64 }, (_, i) => `lease-key-${i}-${'k'.repeat(40)}`)
      const body = JSON.stringify({ keys, timeoutMs: 60_000 })
      // The keys held in each room, so that every later request waits.
      const holders = await Promise.all(
        Array.from({ length: 20 }, (_, r) => apiCall(relay, 'POST', `/rooms/lease${r}/leases`, JSON.stringify({ keys })).status)
      )
      const waiting = Array.from({ length: 1_100 }, (_, i) =>
        apiCall(relay, 'POST', `/rooms/lease${i % 20}/leases`, body, { from: address(i) })
      )
      const refused = await Promise.all(
        waiting.map((w) => Promise.race([w.status, new Promise<number>((resolve) => setTimeout(() => resolve(-1), 3_000))]))
      )
      const held = relay.rssMb()
      for (const w of waiting) w.abort()
      const now = refused.filter((s) => s !== -1)
      return {
        bytes: 1_100 * (body.length + 150),
        ended: `holders ${statusCounts(holders)}; ${refused.length - now.length} waiting, ${statusCounts(now)} (RSS ${held.toFixed(0)} MB while waiting)${await hits(relay, HTTP_LIMITS)}`
      }
    }
  },
  {
    name: 'HTTP POST /leases (5,000 granted, never committed, 20 rooms × 250 keys)',
    // Leases of a minute, so that none ends on its own while the row runs (it takes longer than 10 s on a busy machine).
    options: { leaseMs: 60_000 },
    attack: async (relay) => {
      const statuses = await inWaves(
        5_000,
        64,
        (i) => apiCall(relay, 'POST', `/rooms/held${i % 20}/leases`, JSON.stringify({ keys: [`k${i}`] }), { from: address(i % 500) }).status
      )
      return { bytes: 5_000 * 200, ended: `${statusCounts(statuses)}${await hits(relay, HTTP_LIMITS)}` }
    }
  },
  {
    name: 'HTTP GET /state (8 MB room, 64 clients that do not read)',
    setup: (relay) => bigStateRoom(relay, 'read', 8),
    attack: async (relay) => {
      const calls = Array.from({ length: 64 }, (_, i) =>
        apiCall(relay, 'GET', '/rooms/read/state', undefined, { from: address(i), read: false })
      )
      const statuses = await Promise.all(calls.map((c) => c.status))
      await new Promise((resolve) => setTimeout(resolve, 2_000))
      const held = relay.rssMb()
      for (const c of calls) c.read()
      await new Promise((resolve) => setTimeout(resolve, 3_000))
      const out = calls.reduce((n, c) => n + c.received(), 0)
      for (const c of calls) c.abort()
      const bytes = 64 * 120
      return {
        bytes,
        ended: `${statusCounts(statuses)}; ${(out / MiB).toFixed(0)} MB out, ${Math.round(out / bytes)} bytes out a byte in (RSS ${held.toFixed(0)} MB while unread)${await hits(relay, HTTP_LIMITS)}`
      }
    }
  },
  { name: 'HTTP GET /healthz (2,000)', attack: (relay) => httpFlood(relay, 2_000, () => '/healthz') },
  { name: 'HTTP GET /metrics (2,000)', attack: (relay) => httpFlood(relay, 2_000, () => '/metrics') },
  {
    name: 'HTTP GET /api/rooms (2,000, Host: rebind.evil.example)',
    attack: (relay) => httpFlood(relay, 2_000, () => '/api/rooms', { host: 'rebind.evil.example' })
  },
  {
    name: 'HTTP GET static (2,000 distinct missing paths)',
    attack: (relay) => httpFlood(relay, 2_000, (i) => `/${i}-${'p'.repeat(200)}.js`)
  },
  {
    name: 'refused upgrade (6 token-less sockets × one 90 MB frame)',
    options: { authSecret: SECRET },
    attack: async (relay) => {
      const sockets = Array.from({ length: 6 }, () => rawSocket(relay.url, 'team/a'))
      await Promise.all(sockets.map((s) => s.opened))
      const frame = new Uint8Array(90 * MiB)
      for (const s of sockets) s.ws.send(frame)
      const held = relay.rssMb()
      const ends = await Promise.all(sockets.map((s) => ending(s, 10_000)))
      return { bytes: 6 * frame.length, ended: `${summarise(ends)} (RSS ${held.toFixed(0)} MB during the hold)` }
    }
  },
  {
    name: 'upgrade (2,000 distinct invalid room paths)',
    attack: async (relay) => {
      const before = relay.output.length
      let bytes = 0
      for (let i = 0; i < 2_000; i += 50) {
        const batch = Array.from({ length: 50 }, (_, j) => rawUpgrade(relay, `/${i + j}-${'x'.repeat(2_100)}`))
        bytes += (await Promise.all(batch)).reduce((a, b) => a + b, 0)
      }
      return { bytes, ended: `refused, ${relay.output.length - before} log lines` }
    }
  }
]

/** An upgrade request for `path`, closed once answered; returns the bytes sent. */
const rawUpgrade = (relay: ChildRelay, path: string): Promise<number> =>
  new Promise((resolve) => {
    const { port, hostname } = new URL(relay.httpUrl)
    const req = `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`
    const socket = connect(Number(port), hostname, () => socket.write(req))
    socket.once('data', () => socket.destroy())
    socket.on('error', () => {})
    socket.once('close', () => resolve(req.length))
  })

const summarise = (ends: string[]): string => {
  const counts = new Map<string, number>()
  for (const e of ends) counts.set(e, (counts.get(e) ?? 0) + 1)
  return [...counts].map(([e, n]) => `${n}× ${e}`).join(', ')
}

/** The probe of bench/children/abuse-probe.ts, in a process of its own: the longest round trip in another room, in ms. */
const stallProbe = async (relay: ChildRelay) => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/children/abuse-probe.ts'), relay.url], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit']
  })
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  await lines.next() // ready
  return {
    stop: async (): Promise<number> => {
      child.stdin!.write('stop\n')
      const { value } = await lines.next()
      return Number(value)
    }
  }
}

export const runTable = async (filters: string[]): Promise<void> => {
  const rows = filters.length === 0 ? ROWS : ROWS.filter((r) => filters.some((f) => r.name.startsWith(f)))
  const header = ['message kind (worst input found)', 'bytes sent', 'relay CPU ms', 'ms/KB', 'longest stall ms', 'RSS held MB', 'ended']
  process.stdout.write(`| ${header.join(' | ')} |\n|${header.map(() => ' --- ').join('|')}|\n`)
  for (const row of rows) {
    const relay = await childRelay({ ...row.options })
    try {
      const setup = await row.setup?.(relay)
      await new Promise((resolve) => setTimeout(resolve, 500))
      const rssBefore = relay.rssMb()
      const probe = await stallProbe(relay)
      const cpuBefore = cpuMs(relay.pid)
      const outcome = await row.attack(relay, setup)
      const cpu = cpuMs(relay.pid) - cpuBefore
      const stall = await probe.stop()
      const held = relay.rssMb() - rssBefore
      const kb = outcome.bytes / 1024
      const cells = [
        row.name,
        `${kb < 1024 ? `${kb.toFixed(1)} KB` : `${(kb / 1024).toFixed(1)} MB`}`,
        String(cpu),
        (cpu / Math.max(kb, 1)).toFixed(2),
        stall.toFixed(0),
        held.toFixed(0),
        outcome.ended
      ]
      process.stdout.write(`| ${cells.join(' | ')} |\n`)
    } catch (err) {
      process.stdout.write(
        `| ${row.name} | failed: ${(err as Error).message.slice(0, 200)}; relay alive: ${await relay.healthy().catch(() => false)} |\n`
      )
    } finally {
      await relay.close()
    }
  }
}
