/**
 * Several relays on one Redis and one PostgreSQL (SEMANTICS.md §2.5): sessions of one room on
 * different relays see each other's writes, forced re-runs and presence; stock clients on
 * different relays receive the room's updates in one order; what is acknowledged survives every
 * relay; compaction moves rooms into PostgreSQL and trims the streams; a token is checked by
 * whichever relay a session reaches. Each test has its own redis-server and database.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { Redis } from 'ioredis'
import { CLAIM_COMPACTION } from '../relay/cluster/scripts.js'
import { signToken } from '../relay/access/tokens.js'
import { barrier, counter, eventually, session, socketHistory, stockClient, within } from './support/helpers.js'
import { clusterFixture, metric } from './support/cluster-services.js'

const fixture = clusterFixture({ livenessMs: 1_500, compaction: { intervalMs: 100, delayMs: 0, graceMs: 3_000, lockMs: 2_000 } })
const relay = fixture.relay

test("sessions on two relays see each other's writes, forced re-runs and presence", async () => {
  const [a, b] = await Promise.all([relay(), relay()])
  const sa = await session(a.url, 'shared')
  const sb = await session(b.url, 'shared')
  try {
    sa.set('x', 1)
    await eventually(() => sb.get('x') === 1, "B to see A's write")
    sb.set('y', 'from b')
    await eventually(() => sa.get('y') === 'from b', "A to see B's write")
    const before = sb.version('x')
    sa.forceRerunBoundSessions('x')
    await eventually(() => sb.version('x') === before + 1, "B to see A's forced re-run")
    sa.presence.set({ name: 'alice' })
    await eventually(() => sb.presence.list().some((p) => !p.self && p.state.name === 'alice'), "B to see A's presence")
    // A session's own update is acknowledged (appended to the room's Redis stream) before its flush resolves.
    sa.set('z', [1, 2, 3])
    await sa.flush()
    const direct = new Redis(fixture.redis.url)
    const appended = Number(await direct.get('yss:{shared}:n'))
    direct.disconnect()
    assert.ok(appended >= 3, `the room's stream numbered the writes (${appended} appended)`)
    // A session that leaves takes its presence with it, on the other relay too.
    sa.close()
    await eventually(() => !sb.presence.list().some((p) => p.state.name === 'alice'), "A's presence to leave B")
  } finally {
    sa.close()
    sb.close()
  }
})

test('a relay that loads a room while another writes to it misses nothing (subscribed before it loads)', async () => {
  const [a, b] = await Promise.all([relay(), relay()])
  const writer = await session(a.url, 'loading')
  let stop = false
  let written = 0
  const writing = (async () => {
    while (!stop) {
      writer.set(`k${written}`, written)
      written++
      if (written % 20 === 0) await writer.flush()
    }
  })()
  try {
    await eventually(() => written >= 40, 'the writes to be under way')
    const late = await Promise.all([1, 2, 3].map(() => session(b.url, 'loading')))
    stop = true
    await writing
    await writer.flush()
    const n = written
    for (const s of late) {
      await eventually(() => s.get(`k${n - 1}`) === n - 1, 'the last write to reach a late session')
      const missing = Array.from({ length: n }, (_, i) => i).filter((i) => s.get(`k${i}`) !== i)
      assert.deepEqual(missing, [])
      s.close()
    }
  } finally {
    stop = true
    writer.close()
  }
})

test("noRerun across relays: the other relay's session is not re-run, a loud write re-runs it", async () => {
  const [a, b] = await Promise.all([relay(), relay()])
  const writer = await session(a.url, 'quiet')
  const reader = await session(b.url, 'quiet')
  try {
    const theirs = counter(reader, () => reader.get('foo'))
    writer.noRerun(() => {
      writer.state.foo = 1
    })
    await barrier(writer, [reader])
    assert.equal(reader.get('foo'), 1)
    assert.equal(theirs.count, 0)
    writer.state.foo = 2
    await eventually(() => theirs.count === 1, 'the loud write to re-run the reader')
  } finally {
    writer.close()
    reader.close()
  }
})

test('stock clients on three relays receive concurrent writes in one order', async () => {
  const rs = await Promise.all([relay(), relay(), relay()])
  const clients = rs.map((r) => stockClient(r.url, 'order'))
  const frames: Array<Array<Set<string>>> = clients.map(() => [])
  clients.forEach((c, i) => {
    c.doc.on('update', (u: Uint8Array) => {
      const ids = new Set<string>()
      for (const s of Y.decodeUpdate(u).structs) for (let k = 0; k < s.length; k++) ids.add(`${s.id.client}:${s.id.clock + k}`)
      frames[i]!.push(ids)
    })
  })
  try {
    await Promise.all(clients.map((c) => c.synced))
    const writers = await Promise.all(rs.map((r) => session(r.url, 'order')))
    for (let i = 0; i < 40; i++) {
      for (const [j, w] of writers.entries()) w.set(`k${j}`, i)
    }
    await Promise.all(writers.map((w) => w.flush()))
    await eventually(
      () => clients.every((c) => [0, 1, 2].every((j) => c.doc.getMap('state').get(`k${j}`) === 39)),
      'every client to see every last write',
      10_000
    )
    // Where each item first arrived, per client: an item that arrived in an earlier frame than
    // another at one client never arrives in a later frame than it at another.
    const at = frames.map((fs) => {
      const m = new Map<string, number>()
      fs.forEach((ids, f) => {
        for (const id of ids) if (!m.has(id)) m.set(id, f)
      })
      return m
    })
    const ids = [...at[0]!.keys()]
    assert.ok(ids.length >= 120)
    for (let x = 1; x < at.length; x++) {
      for (const p of ids)
        for (const q of ids) {
          if (at[0]!.get(p)! < at[0]!.get(q)!) assert.ok(at[x]!.get(p)! <= at[x]!.get(q)!, `client ${x} received ${q} before ${p}`)
          if (at[x]!.get(p)! < at[x]!.get(q)!) assert.ok(at[0]!.get(p)! <= at[0]!.get(q)!, `client 0 received ${q} before ${p}`)
        }
    }
    for (const w of writers) w.close()
  } finally {
    for (const c of clients) c.destroy()
  }
})

test('everything acknowledged survives every relay, and compaction moves it into PostgreSQL', async () => {
  const a = await relay()
  const s = await session(a.url, 'durable')
  for (let i = 0; i < 20; i++) s.set(`k${i}`, i)
  await s.flush()
  s.close()
  await a.close()
  // Another relay, which never held the room, takes its compaction job.
  const b = await relay()
  await eventually(
    async () => (await fixture.db.query(`SELECT upto_n FROM yss_rooms WHERE room = 'durable'`)).length === 1,
    'the room to be compacted into PostgreSQL',
    10_000
  )
  const direct = new Redis(fixture.redis.url)
  await eventually(async () => (await direct.xlen('yss:{durable}:s')) === 0, 'the stream to be trimmed', 10_000)
  direct.disconnect()
  const again = await session(b.url, 'durable')
  assert.deepEqual(
    Array.from({ length: 20 }, (_, i) => again.get(`k${i}`)),
    Array.from({ length: 20 }, (_, i) => i)
  )
  again.set('after', true)
  await again.flush()
  again.close()
  const c = await relay()
  const third = await session(c.url, 'durable')
  assert.equal(third.get('after'), true)
  assert.equal(third.get('k19'), 19)
  third.close()
})

test('a room is written to PostgreSQL once: what the grace keeps is trimmed when it ends, without compacting the room again', async () => {
  const a = await relay({ cluster: { compaction: { delayMs: 100, graceMs: 3_000 } } })
  const s = await session(a.url, 'once')
  s.set('x', 1)
  await s.flush()
  s.close()
  const direct = new Redis(fixture.redis.url)
  try {
    await eventually(async () => (await direct.xlen('yss:{once}:s')) === 0, 'the stream to be trimmed after the grace', 15_000)
    // Before, a job due every 100 ms read the room and wrote its row again until the grace ended (about 30 times).
    assert.equal(await metric(a, 'yss_cluster_compactions_total'), 1)
    assert.ok((await metric(a, 'yss_cluster_compaction_trims_total')) >= 1)
    assert.deepEqual(await fixture.db.query(`SELECT upto_n FROM yss_rooms WHERE room = 'once'`), [{ upto_n: '1' }])
  } finally {
    direct.disconnect()
  }
})

test('/healthz and /metrics of a relay in a cluster', async () => {
  const a = await relay()
  const health = await fetch(`${a.url.replace('ws://', 'http://')}/healthz`)
  assert.equal(health.status, 200)
  const metrics = await (await fetch(`${a.url.replace('ws://', 'http://')}/metrics`)).text()
  assert.match(metrics, /^yss_cluster_redis_up 1$/m)
})

test('a token is checked by whichever relay a session reaches: read-only on one, writes from another', async () => {
  const secret = 'a-secret-of-at-least-thirty-two-bytes!!'
  const [a, b] = await Promise.all([relay({ authSecret: secret }), relay({ authSecret: secret })])
  const writer = await session(a.url, 'team/doc', { token: await signToken({ secret, rooms: ['team/*'], access: 'write', ttl: '1h' }) })
  const reader = await session(b.url, 'team/doc', { token: await signToken({ secret, rooms: ['team/*'], access: 'read', ttl: '1h' }) })
  try {
    assert.equal(reader.access, 'read')
    writer.set('note', 'hello')
    await eventually(() => reader.get('note') === 'hello', "the read-only session on B to see A's write")
    assert.throws(() => reader.set('note', 'no'))
    const stranger = stockClient(b.url, 'team/doc')
    const { code } = await within(stranger.refused, 5_000, 'the refusal')
    stranger.destroy()
    assert.equal(code, 4401)
  } finally {
    writer.close()
    reader.close()
  }
})

test('a compaction job whose relay died is taken over by another relay', async () => {
  // Relays of a prefix of their own: the other tests' relays take no job of theirs.
  const prefix = 'yss-takeover'
  const a = await relay({ cluster: { prefix, compaction: { intervalMs: 600_000 } } }) // never looks for jobs
  const s = await session(a.url, 'takeover')
  s.set('kept', 'yes')
  await s.flush()
  s.close()
  // A relay that takes the job and dies: its claim, and nothing after it.
  const direct = new Redis(fixture.redis.url)
  try {
    await eventually(
      async () => (await CLAIM_COMPACTION.run(direct, ['', `${prefix}:`, '', 'r-dead', 1_000])) === 'takeover',
      'the dead relay to take the job'
    )
    const claimedAt = Date.now()
    assert.equal(await direct.get(`${prefix}:compacting:takeover`), 'r-dead')
    await relay({ cluster: { prefix } }) // looks for jobs every 100 ms; the dead relay's is due again after its 1,000 ms
    await eventually(
      async () => (await fixture.db.query(`SELECT upto_n FROM yss_rooms WHERE room = 'takeover'`)).length === 1,
      'another relay to take the job over',
      10_000
    )
    // Not before the dead relay's job time ran out: the job was its until then.
    assert.ok(Date.now() - claimedAt >= 900, `taken over after ${Date.now() - claimedAt} ms`)
    // The dead relay's claim is gone (the room may be queued again: its stream keeps the grace time's entries).
    assert.notEqual(await direct.get(`${prefix}:compacting:takeover`), 'r-dead')
  } finally {
    direct.disconnect()
  }
})

test('a room that Redis lost but PostgreSQL holds is refused, not served empty', async () => {
  const a = await relay()
  const s = await session(a.url, 'lost')
  s.set('kept', 'in postgres')
  await s.flush()
  s.close()
  await eventually(
    async () => (await fixture.db.query(`SELECT upto_n FROM yss_rooms WHERE room = 'lost'`)).length === 1,
    'the room to be compacted',
    10_000
  )
  await a.close()
  const direct = new Redis(fixture.redis.url)
  await direct.flushall() // Redis loses its data (an append-only file switched off, say)
  direct.disconnect()
  const b = await relay()
  const stock = stockClient(b.url, 'lost')
  const history = socketHistory(stock.provider)
  try {
    await within(
      history.until(() => history.closes.some((c) => c.code === 1011)),
      10_000,
      'the room to be refused'
    )
    assert.equal(stock.state.get('kept'), undefined)
  } finally {
    stock.destroy()
  }
})

test('a relay reads only the rooms with news: quiet rooms cost Redis no reads, and news that pub/sub lost is found by the sweep', async () => {
  const [a, b] = await Promise.all([relay(), relay()])
  const quiet = Array.from({ length: 30 }, (_, i) => stockClient(a.url, `quiet-${i}`))
  const direct = new Redis(fixture.redis.url)
  const xreads = async () => Number(/cmdstat_xread:calls=(\d+)/.exec(await direct.info('commandstats'))?.[1] ?? 0)
  try {
    await Promise.all(quiet.map((c) => c.synced))
    const before = await xreads()
    await new Promise((resolve) => setTimeout(resolve, 2_000)) // a window to observe, not a synchronisation
    assert.equal(await xreads(), before, 'no stream read while every room is quiet')
    // News: a write through the other relay reaches the quiet room's client.
    const writer = await session(b.url, 'quiet-7')
    writer.set('news', 1)
    await eventually(() => quiet[7]!.state.get('news') === 1, 'the write to reach the room on the other relay')
    writer.close()
    // An update stored without its news (as if pub/sub dropped it): the sweep finds it.
    const doc = new Y.Doc()
    doc.getMap('state').set('unannounced', 1)
    const P = 'yss:{quiet-3}:'
    const n = await direct.incr(`${P}n`)
    await direct.xadd(`${P}s`, '*', 'u', Buffer.from(Y.encodeStateAsUpdate(doc)), 'n', String(n), 'o', 'elsewhere')
    await eventually(() => quiet[3]!.state.get('unannounced') === 1, 'the sweep to find the unannounced update', 15_000)
  } finally {
    direct.disconnect()
    for (const c of quiet) c.destroy()
  }
})
