/**
 * The steps a seed chooses from: what sessions do (writes, quiet writes, deletes, appends,
 * forced re-runs, locks of every kind, flushes, close and a new session) and what the network
 * and the relay do (deliver, hold, release, batch, drop, give a socket up with its bytes in
 * flight, take a tab offline, forward over the BroadcastChannel, let time pass, restart the
 * relay from its store). Each step returns the line the trace prints.
 *
 * Steps belong to groups, so that the ones that reach the known bugs of issue 18 can be left out
 * of CI until they are fixed (see ci.ts, README.md): `core` always, and `halfOpen`, `nested`,
 * `quiet`, `channel`, `earlyRead`, `backend` (a backend's writes and leases: backend-ops.ts).
 *
 * @example
 *   const step = chooseStep(rng, groups)
 *   const line = await step.run({ world, model, rng, groups })
 */
import * as Y from 'yjs'
import * as prng from 'lib0/prng'
import { mock } from 'node:test'
import { ReadOnlyError, RerunSuppressedError } from '../../client/index.js'
import type { Link } from '../harness/index.js'
import { LIST, LOCKED, PLAIN, type LockRecord } from './model.js'
import { READER, type SimSession, type World } from './world.js'
import { contains, storedLock } from './invariants.js'
import { chance, pick } from './draw.js'
import { BACKEND_STEPS } from './backend-ops.js'
import type { Ctx, Group, Step } from './step.js'

export { GROUPS, type Ctx, type Group, type Step } from './step.js'

/** The error a planned throw in a lock's function throws. */
class PlannedError extends Error {}

const writers = (ctx: Ctx): SimSession[] => ctx.world.live().filter((ss) => !ss.readOnly)
const quietNow = (ctx: Ctx): boolean => ctx.groups.has('quiet') && chance(ctx.rng, 0.4)
const inQuiet = <R>(ss: SimSession, quiet: boolean, fn: () => R): R => (quiet ? ss.s.noRerun(fn) : fn())
const ownClock = (ss: SimSession): number => Y.getState(ss.s.doc.store, ss.s.doc.clientID)
const notifications = (ss: SimSession, key: string): number => ss.watched.get(key)!.notifications
/** For a write that made no items (held until the access is known): whether its session's tracker of the key re-ran since `before`. */
const held = (ss: SimSession, key: string, clock: number, before: number): { held?: { rerun: boolean } } =>
  ownClock(ss) === clock ? { held: { rerun: notifications(ss, key) > before } } : {}

/** A set of `key` to a fresh value `{ w: id }`, recorded with the clocks of its items. */
const writeValue = (ctx: Ctx, ss: SimSession, key: string, quiet: boolean): string => {
  const id = ctx.model.id()
  const clock = ownClock(ss)
  const before = notifications(ss, key)
  inQuiet(ss, quiet, () => ss.s.set(key, { w: id }))
  const end = ownClock(ss)
  ctx.model.write({
    id,
    session: ss.name,
    key,
    kind: 'set',
    quiet,
    client: ss.s.doc.clientID,
    clock,
    end,
    ...held(ss, key, clock, before),
    ...(ctx.model.rendering ? { writer: ctx.model.rendering } : {})
  })
  return `${ss.name} ${quiet ? 'quietly ' : ''}sets ${key} = w${id}`
}

/** A rejection: undecided if the simulation closed the session (close() may leave it so), else rejected. */
const rejected = (ss: SimSession, err: unknown): 'rejected' | 'undecided' =>
  ss.closed && !(err instanceof PlannedError) ? 'undecided' : 'rejected'

/** Follows a lock's promise; checks in the tick it resolves that the store holds its writes. */
const track = (ctx: Ctx, ss: SimSession, lock: LockRecord, p: Promise<unknown>, reads: () => Y.Snapshot | null): void => {
  const { model, world } = ctx
  p.then(
    () => {
      if (lock.outcome !== 'pending') return model.violate('lock-settles-once', `lock ${lock.id} resolved after it was ${lock.outcome}`)
      lock.outcome = 'resolved'
      if (lock.threw) model.violate('throwing-lock-rejects', `lock ${lock.id} (${lock.variant}) resolved though its function threw`)
      if (!storedLock(world, lock.id, lock.keys)) {
        model.violate(
          'lock-resolves-after-stored',
          `lock ${lock.id} (${lock.variant}, ${lock.session}, step ${lock.step}) resolved before the store held its writes`
        )
      }
      const snapshot = reads()
      const missing = snapshot && contains(world.store.doc, snapshot)
      if (missing)
        model.violate(
          'lock-commit-carries-its-reads',
          `lock ${lock.id} (${lock.variant}, ${lock.session}) resolved, but the store lacks ${missing} that its function read`
        )
    },
    (err: unknown) => {
      if (lock.outcome === 'resolved') return model.violate('lock-settles-once', `lock ${lock.id} rejected after it resolved`)
      if (lock.outcome !== 'pending') return
      lock.outcome = rejected(ss, err)
      lock.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
    }
  )
}

/** Appends `id` to the list under each of `keys`: what every lock's function writes. */
const appendId = (state: Record<string, unknown>, keys: readonly string[], id: number): void => {
  for (const k of keys) state[k] = [...((state[k] as number[] | undefined) ?? []), id]
}

const LOCK_VARIANTS = ['ok', 'ok', 'ok', 'throw'] as const
const NESTED_VARIANTS = ['nested-ok', 'nested-throw-caught', 'nested-throw'] as const

const lockStep = (ctx: Ctx, ss: SimSession): string => {
  const { model, rng } = ctx
  const keys = LOCKED.filter(() => chance(rng, 0.5))
  if (keys.length === 0) keys.push(pick(rng, LOCKED)!)
  const variants: string[] = [...LOCK_VARIANTS, ...(ctx.groups.has('nested') ? NESTED_VARIANTS : [])]
  const variant = pick(rng, variants)!
  const quiet = quietNow(ctx)
  const timeout = prng.int32(rng, 200, 20_000)
  const lock: LockRecord = { id: model.id(), session: ss.name, keys, variant, outcome: 'pending', step: model.step, threw: false }
  model.locks.set(lock.id, lock)
  let reads: Y.Snapshot | null = null
  let innerLine = ''
  const innerKeys = keys.filter(() => chance(rng, 0.6))
  if (innerKeys.length === 0) innerKeys.push(keys[0]!)
  const fn = (state: Record<string, unknown>) => {
    reads = Y.snapshot(ss.s.doc)
    appendId(state, keys, lock.id)
    if (variant === 'throw') {
      lock.threw = true
      throw new PlannedError(`lock ${lock.id} throws`)
    }
    if (!variant.startsWith('nested')) return
    const inner: LockRecord = {
      id: model.id(),
      session: ss.name,
      keys: innerKeys,
      variant: `inner of ${lock.id}`,
      outer: lock.id,
      outcome: 'pending',
      step: model.step,
      threw: false
    }
    model.locks.set(inner.id, inner)
    innerLine = `, inner lock ${inner.id} on ${innerKeys.join('+')}`
    const innerFn = (s: Record<string, unknown>) => {
      appendId(s, innerKeys, inner.id)
      if (variant === 'nested-ok') return
      inner.threw = true
      throw new PlannedError(`inner lock ${inner.id} throws`)
    }
    try {
      track(ctx, ss, inner, ss.s.lock(innerKeys, innerFn), () => reads)
    } catch (err) {
      if (inner.outcome === 'pending') {
        inner.outcome = 'rejected'
        inner.error = String(err)
      }
      if (variant === 'nested-throw') {
        lock.threw = true
        throw err
      }
    }
  }
  track(
    ctx,
    ss,
    lock,
    inQuiet(ss, quiet, () => ss.s.lock(keys, fn, { timeout })),
    () => reads
  )
  return `${ss.name} ${quiet ? 'quietly ' : ''}locks ${keys.join('+')} (lock ${lock.id}, ${variant}${innerLine}, timeout ${timeout} ms)`
}

/** A flush; checks in the tick it resolves that the store holds every write of the session before it. */
const flushStep = (ctx: Ctx, ss: SimSession): string => {
  const { model, world } = ctx
  const f = {
    id: model.id(),
    session: ss.name,
    client: ss.s.doc.clientID,
    clock: ownClock(ss),
    outcome: 'pending' as 'pending' | 'resolved' | 'rejected' | 'undecided',
    step: model.step
  }
  model.flushes.push(f)
  ss.s.flush().then(
    () => {
      f.outcome = 'resolved'
      const stored = Y.getState(world.store.doc.store, f.client)
      if (stored < f.clock)
        model.violate(
          'flush-resolves-after-stored',
          `flush ${f.id} of ${f.session} (step ${f.step}) resolved with the store at clock ${stored} of its client, not ${f.clock}`
        )
    },
    (err: unknown) => {
      f.outcome = rejected(ss, err)
    }
  )
  return `${ss.name} flushes (flush ${f.id}, up to clock ${f.clock})`
}

const openLinks = (world: World): Link[] => world.net.links.filter((l) => l.state === 'open' && l.peer && !l.peer.closed)

export const STEPS: Step[] = [
  {
    name: 'write',
    group: 'core',
    weight: 10,
    run: (ctx) => {
      const ss = pick(ctx.rng, writers(ctx))
      return ss ? writeValue(ctx, ss, pick(ctx.rng, PLAIN)!, quietNow(ctx)) : 'no writer'
    }
  },
  {
    name: 'render-write',
    group: 'core',
    weight: 2,
    run: (ctx) => {
      const ss = pick(ctx.rng, writers(ctx))
      if (!ss) return 'no writer'
      const key = pick(ctx.rng, PLAIN)!
      const watched = ss.watched.get(key)!
      const quiet = quietNow(ctx)
      ctx.model.rendering = watched.tracker
      try {
        return watched.tracker.run(() => {
          ss.s.get(key)
          return `${writeValue(ctx, ss, key, quiet)} in its render of ${key}`
        })
      } finally {
        ctx.model.rendering = null
      }
    }
  },
  {
    name: 'delete',
    group: 'core',
    weight: 3,
    run: (ctx) => {
      const ss = pick(ctx.rng, writers(ctx))
      if (!ss) return 'no writer'
      const key = pick(ctx.rng, PLAIN)!
      const quiet = quietNow(ctx)
      const did = inQuiet(ss, quiet, () => ss.s.delete(key))
      return `${ss.name} ${quiet ? 'quietly ' : ''}deletes ${key}${did ? '' : ' (not set)'}`
    }
  },
  {
    name: 'append',
    group: 'core',
    weight: 4,
    run: (ctx) => {
      const ss = pick(ctx.rng, writers(ctx))
      if (!ss) return 'no writer'
      const { model } = ctx
      const id = model.id()
      const quiet = quietNow(ctx)
      const record = {
        id,
        session: ss.name,
        outcome: 'pending' as const as 'pending' | 'resolved' | 'rejected' | 'undecided',
        step: model.step
      }
      model.appends.set(id, record)
      const clock = ownClock(ss)
      const before = notifications(ss, LIST)
      // Plain where the list exists (as client/session.ts decides), even if held and so without items yet.
      const plain = ss.s.doc.getMap('state').get(LIST) instanceof Y.Array
      const p = inQuiet(ss, quiet, () => ss.s.append(LIST, { a: id }))
      const end = ownClock(ss)
      if (plain)
        model.write({
          id,
          session: ss.name,
          key: LIST,
          kind: 'append',
          quiet,
          client: ss.s.doc.clientID,
          clock,
          end,
          ...held(ss, LIST, clock, before)
        })
      p.then(
        () => {
          record.outcome = 'resolved'
          if (!plain && !ctx.world.store.doc.getMap('state').has(LIST))
            model.violate('append-resolves-after-stored', `append ${id} (under its lock) resolved before the store held the list`)
        },
        (err: unknown) => {
          record.outcome = rejected(ss, err)
        }
      )
      return `${ss.name} ${quiet ? 'quietly ' : ''}appends a${id}${plain ? '' : " under the list's lock"}`
    }
  },
  {
    name: 'force',
    group: 'core',
    weight: 3,
    run: (ctx) => {
      const ss = pick(ctx.rng, writers(ctx))
      if (!ss) return 'no writer'
      const key = pick(ctx.rng, PLAIN)!
      if (quietNow(ctx)) {
        try {
          ss.s.noRerun(() => ss.s.forceRerunBoundSessions(key))
          ctx.model.violate('force-in-noRerun-throws', `${ss.name}: forceRerunBoundSessions inside noRerun did not throw`)
        } catch (err) {
          if (!(err instanceof RerunSuppressedError)) throw err
        }
        return `${ss.name} forces ${key} inside noRerun (refused)`
      }
      const id = ctx.model.id()
      const clock = ownClock(ss)
      const before = notifications(ss, key)
      ss.s.forceRerunBoundSessions(key)
      ctx.model.write({
        id,
        session: ss.name,
        key,
        kind: 'force',
        quiet: false,
        client: ss.s.doc.clientID,
        clock,
        end: ownClock(ss),
        ...held(ss, key, clock, before)
      })
      const count = ctx.model.forces.get(key) ?? { made: 0, maybeLost: 0 }
      count.made++
      ctx.model.forces.set(key, count)
      return `${ss.name} forces ${key} (f${id})`
    }
  },
  {
    name: 'lock',
    group: 'core',
    weight: 12,
    run: (ctx) => {
      const ss = pick(ctx.rng, writers(ctx))
      return ss ? lockStep(ctx, ss) : 'no writer'
    }
  },
  {
    name: 'flush',
    group: 'core',
    weight: 4,
    run: (ctx) => {
      const ss = pick(ctx.rng, writers(ctx))
      return ss ? flushStep(ctx, ss) : 'no writer'
    }
  },
  {
    name: 'close',
    group: 'core',
    weight: 1,
    run: (ctx) => {
      const { world, model } = ctx
      const ss = pick(ctx.rng, writers(ctx))
      if (!ss) return 'no writer'
      ss.closed = true
      ss.s.close()
      // What the relay has not stored may be lost with the session (or still arrive, if in flight).
      // A held write (made before the access was known) has no clocks of its own: its items, if
      // the access came, start at its `clock`, and close() drops it if not.
      const stored = Y.getState(world.store.doc.store, ss.s.doc.clientID)
      for (const w of model.writes) {
        if (w.session !== ss.name || (w.held ? w.clock + 1 : w.end) <= stored) continue
        if (w.kind === 'force') model.forces.get(w.key)!.maybeLost++
        const a = model.appends.get(w.id)
        if (a) a.outcome = 'undecided'
      }
      const next = world.incarnate(ss.slot)
      // A closed tab's channel closes with it; the new tab joins the other one's.
      if (ss.slot === 'A' || ss.slot === 'B') world.pairTabs()
      return `${ss.name} closes; ${next.name} connects`
    }
  },
  {
    name: 'read-only',
    group: 'core',
    weight: 1,
    run: (ctx) => {
      const ss = ctx.world.sessions.get(READER)!
      if (ss.s.access !== 'read') return `${ss.name} does not know it is read-only yet`
      try {
        ss.s.set('a', { w: -1 })
        ctx.model.violate('read-only-refuses-writes', `${ss.name}: set() on a read-only session did not throw`)
      } catch (err) {
        if (!(err instanceof ReadOnlyError)) throw err
      }
      ss.s
        .lock('L0', (s: Record<string, unknown>) => {
          s.L0 = [-1]
        })
        .then(
          () => ctx.model.violate('read-only-refuses-writes', `${ss.name}: lock() on a read-only session resolved`),
          (err: unknown) => {
            if (!(err instanceof ReadOnlyError))
              ctx.model.violate('read-only-refuses-writes', `${ss.name}: lock() rejected with ${String(err)}, not ReadOnlyError`)
          }
        )
      return `${ss.name} tries to write and lock (refused)`
    }
  },
  // A page opens a new read-only session and writes at once, before the relay said its access.
  {
    name: 'reader-writes-early',
    group: 'earlyRead',
    weight: 1,
    run: ({ world, model }) => {
      const old = world.sessions.get(READER)!
      old.closed = true
      old.s.close()
      const ss = world.incarnate(READER)
      const id = model.id()
      try {
        ss.s.set('a', { w: id })
      } catch (err) {
        if (!(err instanceof ReadOnlyError)) throw err
        return `${old.name} closes; ${ss.name} connects and writes a = w${id} at once (refused)`
      }
      return `${old.name} closes; ${ss.name} connects and writes a = w${id} before it knows its access`
    }
  },
  {
    name: 'deliver',
    group: 'core',
    weight: 20,
    run: async ({ world, rng }) => {
      const links = world.links().filter((l) => l.up.length > 0 || l.down.length > 0)
      const link = pick(rng, links)
      if (!link) return 'nothing to deliver'
      const dir = link.up.length === 0 ? 'down' : link.down.length === 0 ? 'up' : prng.bool(rng) ? 'up' : 'down'
      const n = prng.int32(rng, 1, 4)
      const moved = await world.net.deliver(link, dir, n)
      return `deliver ${moved} ${dir} on ${link}`
    }
  },
  {
    name: 'hold',
    group: 'core',
    weight: 4,
    run: ({ world, rng }) => {
      const link = pick(
        rng,
        world.net.links.filter((l) => l.state !== 'closed')
      )
      if (!link) return 'no link to hold'
      const dir = prng.bool(rng) ? 'up' : 'down'
      world.net.hold(link, dir)
      return `hold ${dir} of ${link}`
    }
  },
  {
    name: 'release',
    group: 'core',
    weight: 4,
    run: ({ world, rng }) => {
      const link = pick(
        rng,
        world.net.links.filter((l) => l.held.up || l.held.down)
      )
      if (!link) return 'nothing held'
      world.net.release(link)
      return `release ${link}`
    }
  },
  {
    name: 'batch',
    group: 'core',
    weight: 4,
    run: async ({ world, rng }) => {
      const links = openLinks(world).filter((l) => l.up.length > 0)
      if (links.length < 2) return 'no batch'
      const chosen = links.filter(() => prng.bool(rng))
      if (chosen.length < 2) return 'no batch'
      await world.net.deliverBatch(chosen)
      return `batch ${chosen.map((l) => l.client).join('+')}`
    }
  },
  {
    name: 'drop',
    group: 'core',
    weight: 2,
    run: ({ world, rng }) => {
      const link = pick(
        rng,
        world.net.links.filter((l) => l.state !== 'closed')
      )
      if (!link) return 'no link to drop'
      world.net.drop(link)
      return `drop ${link}`
    }
  },
  {
    name: 'give-up',
    group: 'halfOpen',
    weight: 3,
    run: ({ world, rng }) => {
      const links = openLinks(world).filter((l) => world.live().some((ss) => ss.name === l.client))
      const link =
        pick(
          rng,
          links.filter((l) => l.up.length > 0)
        ) ?? pick(rng, links)
      if (!link) return 'no socket to give up'
      const inFlight = link.up.length
      world.net.giveUp(link)
      return `${link.client} gives its socket up with ${inFlight} frames in flight (held on ${link})`
    }
  },
  {
    name: 'offline',
    group: 'core',
    weight: 2,
    run: ({ world, rng }) => {
      const ss = pick(rng, world.live())
      if (!ss) return 'nobody'
      world.net.offline(ss.name)
      return `${ss.name} goes offline`
    }
  },
  {
    name: 'online',
    group: 'core',
    weight: 3,
    run: ({ world, rng }) => {
      const ss = pick(rng, world.live())
      if (!ss) return 'nobody'
      world.net.online(ss.name)
      return `${ss.name} may connect`
    }
  },
  {
    name: 'time',
    group: 'core',
    weight: 4,
    run: ({ rng }) => {
      const ms = chance(rng, 0.1) ? prng.int32(rng, 2_000, 12_000) : prng.int32(rng, 1, 30)
      mock.timers.tick(ms)
      return `${ms} ms pass`
    }
  },
  {
    name: 'restart',
    group: 'core',
    weight: 0.5,
    run: async ({ world }) => {
      await world.restartRelay()
      return 'the relay restarts from its store'
    }
  },
  {
    name: 'deliver-all',
    group: 'core',
    weight: 6,
    run: async ({ world }) => {
      await world.deliverAll()
      return 'deliver everything not held'
    }
  },
  // Two tabs of one browser: one goes offline, the other writes over what came over the channel.
  {
    name: 'tab-offline',
    group: 'channel',
    weight: 3,
    run: ({ world, rng }) => {
      const ss = world.sessions.get(prng.bool(rng) ? 'A' : 'B')!
      world.net.offline(ss.name)
      return `tab ${ss.name} goes offline`
    }
  },
  {
    name: 'tab-write',
    group: 'channel',
    weight: 6,
    run: (ctx) => {
      const ss = ctx.world.sessions.get(prng.bool(ctx.rng) ? 'A' : 'B')!
      const key = pick(ctx.rng, PLAIN)!
      if (chance(ctx.rng, 0.3)) {
        const did = ss.s.delete(key)
        return `tab ${ss.name} deletes ${key}${did ? '' : ' (not set)'}`
      }
      return `tab ${writeValue(ctx, ss, key, quietNow(ctx))}`
    }
  },
  // A tab's socket drops and its next one opens: the relay's sync step 1 arrives and the tab
  // answers, but the relay's sync step 2 is still on its way (the handshake is half done).
  {
    name: 'tab-reconnects',
    group: 'channel',
    weight: 2,
    run: async ({ world, rng }) => {
      const ss = world.sessions.get(prng.bool(rng) ? 'A' : 'B')!
      for (const link of world.net.links) if (link.client === ss.name && link.state !== 'closed') world.net.drop(link)
      world.net.online(ss.name)
      await world.settle()
      const link = world.net.links.filter((l) => l.client === ss.name && l.state === 'connecting').at(-1)
      if (!link) return `tab ${ss.name}'s socket drops`
      const moved = await world.net.deliver(link, 'down')
      return `tab ${ss.name}'s socket drops; the next opens and gets ${moved - 1} frames of the relay's (${link})`
    }
  },
  { name: 'tab-flush', group: 'channel', weight: 3, run: (ctx) => flushStep(ctx, ctx.world.sessions.get(prng.bool(ctx.rng) ? 'A' : 'B')!) },
  {
    name: 'channel',
    group: 'channel',
    weight: 6,
    run: ({ world, rng }) => {
      const pair = world.pair
      if (!pair) return 'no channel'
      const from = world.sessions.get(prng.bool(rng) ? 'A' : 'B')!
      const n = pair.forward(from.s, prng.int32(rng, 1, 2))
      return `${n} updates of ${from.name} over the BroadcastChannel`
    }
  },
  ...BACKEND_STEPS
]

/**
 * After each step: a BroadcastChannel is fast, faster than any socket, so what the tabs published
 * usually reaches the other tab at once; now and then it lags a step or more.
 */
export const afterStep = ({ world, rng }: Ctx): string | null => {
  const pair = world.pair
  if (!pair || !chance(rng, 0.7)) return null
  const [a, b] = [world.sessions.get('A')!, world.sessions.get('B')!]
  const n = pair.forward(a.s) + pair.forward(b.s)
  return n > 0 ? `  (${n} updates cross the BroadcastChannel)` : null
}

/** The steps of the groups in `groups`, for {@link chooseStep}. */
export const stepsOf = (groups: ReadonlySet<Group>): Step[] => STEPS.filter((s) => groups.has(s.group))

/** One step, chosen by weight. */
export const chooseStep = (rng: prng.PRNG, steps: readonly Step[]): Step => {
  const total = steps.reduce((n, s) => n + s.weight, 0)
  let r = prng.real53(rng) * total
  for (const s of steps) {
    r -= s.weight
    if (r < 0) return s
  }
  return steps[steps.length - 1]!
}
