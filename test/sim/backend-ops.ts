/**
 * The `backend` steps: what a backend does in the room through the relay's {@link RoomAccess}
 * (the calls behind the HTTP API's keys and leases), among the sessions' steps, and the promises
 * of SEMANTICS.md §2.7 checked as each call settles:
 *
 * - **write**: a plain key set to a fresh value `{ w: id }` (loud or quiet), deleted (loud or
 *   quiet), forced, or set and the other key forced, in one call. Its items are recorded like a
 *   session's (backend.ts), so the re-run invariants hold for it. `backend-write-resolves-after-stored`:
 *   when the call resolves, the store holds every item of its sets and forces.
 * - **read**: `backend-read-sees-stored`: a read shows no value the store had already overwritten
 *   when it was asked (so a backend reads its own answered writes), no key unset that the store
 *   held then and still holds, no value the store does not hold, no version below the store's.
 * - **lease**: a locked increment: acquire one to three of `L0..L2`, take the grant's values,
 *   commit them with the lease's id appended (as a session's lock appends its own), so that the
 *   lock invariants (at most once, never if rejected, exactly once if resolved, stored before it
 *   resolves) count backends' increments with the sessions'. Variants: commit at once; pause
 *   (virtual time) before committing, often past the lease (`backend-late-commit-refused`: a
 *   commit asked at or after `expiresAt` never resolves); release without committing (must not
 *   throw while the lease is open); abandon the wait (an abort signal); a short timeout.
 *   `backend-fences-grow`: each grant's fence is above every earlier grant's of the relay.
 * - **time**: 50 ms to 12 s pass in slices, the world turning between them (see {@link timeStep}).
 *
 * A call that fails with `BackendClosedError` (the relay restarted under it) may or may not have
 * been stored: undecided, as a closed session's writes. Any other failure than the expected ones
 * (a timeout, an abort, an ended or unknown lease) is `backend-call-fails`.
 *
 * @example
 *   const steps = [...STEPS, ...BACKEND_STEPS]   // ops.ts: chosen by weight when `backend` is on
 */
import * as Y from 'yjs'
import * as prng from 'lib0/prng'
import { mock } from 'node:test'
import type { BackendWrites } from '../../relay/backend/backend-writes.js'
import { BackendClosedError, LeaseEndedError, LeaseNotFoundError, LockTimeoutError } from '../../relay/backend/errors.js'
import type { GrantedLease } from '../../relay/backend/room-backend.js'
import { FORCES, STATE } from '../../protocol/doc-names.js'
import { forceCount } from '../../protocol/doc-writes.js'
import type { Json } from '../../protocol/json.js'
import { BACKEND, BACKEND_LEASE_MS, type ExpectedWrite, type SimBackend } from './backend.js'
import { chance, pick } from './draw.js'
import { storedLock } from './invariants.js'
import { LOCKED, PLAIN, type LockRecord, type Model, type Outcome } from './model.js'
import type { Ctx, Step } from './step.js'
import { ROOM, type World } from './world.js'

const errorText = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}` : String(err))

/** What a failed call leaves: undecided if the relay dropped the backend under it, else nothing applied. */
const failed = (err: unknown): Exclude<Outcome, 'pending' | 'resolved'> => (err instanceof BackendClosedError ? 'undecided' : 'rejected')

/** Whether the store holds the item at `clock` of `client` (integrated). */
const stored = (world: World, client: number, clock: number): boolean => Y.getState(world.store.doc.store, client) > clock

/** Whether the store holds that item and has deleted it (overwritten or deleted). */
const storedDeleted = (
  world: World,
  deleted: ReturnType<typeof Y.createDeleteSetFromStructStore>,
  client: number,
  clock: number
): boolean => stored(world, client, clock) && Y.isDeleted(deleted, Y.createID(client, clock))

const writeStep = async (ctx: Ctx, backend: SimBackend): Promise<string> => {
  const { model, rng, world } = ctx
  const key = pick(rng, PLAIN)!
  const other = PLAIN.find((k) => k !== key)!
  const r = prng.real53(rng)
  const kind = r < 0.55 ? 'set' : r < 0.7 ? 'delete' : r < 0.85 ? 'force' : 'set+force'
  const quiet = (kind === 'set' || kind === 'delete') && chance(rng, 0.4)
  const expected: ExpectedWrite[] = []
  let set: Record<string, Json> | undefined
  let force: string[] | undefined
  let line: string
  if (kind === 'set' || kind === 'set+force') {
    const id = model.id()
    expected.push({ id, key, kind: 'set', quiet })
    set = { [key]: { w: id } }
    line = `${quiet ? 'quietly ' : ''}sets ${key} = w${id}`
    if (kind === 'set+force') {
      const f = model.id()
      expected.push({ id: f, key: other, kind: 'force', quiet: false })
      force = [other]
      line += ` and forces ${other} (f${f})`
    }
  } else if (kind === 'force') {
    const id = model.id()
    expected.push({ id, key, kind: 'force', quiet: false })
    force = [key]
    line = `forces ${key} (f${id})`
  } else {
    line = `${quiet ? 'quietly ' : ''}deletes ${key}`
  }
  for (const w of expected) {
    backend.expect(w)
    if (w.kind !== 'force') continue
    const count = model.forces.get(w.key) ?? { made: 0, maybeLost: 0 }
    count.made++
    model.forces.set(w.key, count)
  }
  const writes: BackendWrites = {
    ...(set ? { set } : {}),
    ...(force ? { force } : {}),
    ...(kind === 'delete' ? { delete: [key] } : {}),
    quiet
  }
  const access = await backend.access()
  const step = model.step
  access.write(writes).then(
    () => {
      for (const w of expected) {
        const record = backend.recorded(w.id)
        if (!record)
          model.violate(
            'backend-write-resolves-after-stored',
            `${BACKEND} write ${w.id} (step ${step}) resolved, yet it sent no item of it`
          )
        else if (!stored(world, record.client, record.end - 1))
          model.violate(
            'backend-write-resolves-after-stored',
            `${BACKEND} write ${w.id} (${w.kind} of ${w.key}, step ${step}) resolved before the store held it`
          )
      }
    },
    (err: unknown) => {
      if (!(err instanceof BackendClosedError)) model.violate('backend-call-fails', `${BACKEND} write (step ${step}): ${errorText(err)}`)
      for (const w of expected) {
        backend.forget(w)
        if (w.kind === 'force') model.forces.get(w.key)!.maybeLost++
      }
    }
  )
  return `${BACKEND} ${line}`
}

const readStep = async (ctx: Ctx, backend: SimBackend): Promise<string> => {
  const { model, world } = ctx
  const step = model.step
  const store = world.store.doc
  // What the store holds as the read is asked: the read shows this or later.
  const deletedThen = Y.createDeleteSetFromStructStore(store.store)
  const state = store.getMap(STATE)
  const then = new Map(PLAIN.map((k) => [k, { value: state.get(k) as Json | undefined, version: forceCount(store.getMap(FORCES), k) }]))
  const overwritten = new Set<number>()
  // A held write's clocks are where its items would start, not where they are: left out.
  const placed = (id: number | undefined) => model.writes.find((w) => w.id === id && w.kind === 'set' && !w.held)
  for (const w of model.writes) if (placed(w.id) && storedDeleted(world, deletedThen, w.client, w.clock)) overwritten.add(w.id)
  const access = await backend.access()
  access.read(chance(ctx.rng, 0.5) ? [...PLAIN] : undefined).then(
    (values) => {
      const deletedNow = Y.createDeleteSetFromStructStore(store.store)
      for (const key of PLAIN) {
        const got = values[key]
        const before = then.get(key)!
        const id = (got?.value as { w?: number } | undefined)?.w
        const what = `${BACKEND} read (step ${step}) of "${key}" got ${JSON.stringify(got?.value)}`
        if (id !== undefined && overwritten.has(id))
          model.violate('backend-read-sees-stored', `${what}, overwritten in the store before the read`)
        const record = placed(id)
        if (record && !stored(world, record.client, record.clock))
          model.violate('backend-read-sees-stored', `${what}, which the store does not hold`)
        const was = (before.value as { w?: number } | undefined)?.w
        const wasRecord = placed(was)
        if (got?.value === undefined && wasRecord && !storedDeleted(world, deletedNow, wasRecord.client, wasRecord.clock))
          model.violate('backend-read-sees-stored', `${what}, but the store held w${was} then and still does`)
        // A read of every key leaves out the keys not set, versions and all.
        if (got && got.version < before.version)
          model.violate('backend-read-sees-stored', `${what} at version ${got?.version}, below the store's ${before.version} when asked`)
      }
    },
    (err: unknown) => {
      if (!(err instanceof BackendClosedError)) model.violate('backend-call-fails', `${BACKEND} read (step ${step}): ${errorText(err)}`)
    }
  )
  return `${BACKEND} reads`
}

const LEASE_VARIANTS = ['commit', 'commit', 'pause', 'release', 'abort', 'timeout'] as const
type LeaseVariant = (typeof LEASE_VARIANTS)[number]

/** The fences granted so far, by relay incarnation: each must be above the last. */
const lastFences = new WeakMap<Model, { incarnation: number; fence: number }>()

const leaseStep = async (ctx: Ctx, backend: SimBackend): Promise<string> => {
  const { model, rng, world } = ctx
  const keys = LOCKED.filter(() => chance(rng, 0.5))
  if (keys.length === 0) keys.push(pick(rng, LOCKED)!)
  const variant: LeaseVariant = pick(rng, LEASE_VARIANTS)!
  const timeoutMs = variant === 'timeout' ? prng.int32(rng, 1, 3_000) : prng.int32(rng, 200, 20_000)
  // Mostly past the lease: a backend that paused too long.
  const pauseMs = variant === 'pause' ? (chance(rng, 0.6) ? prng.int32(rng, BACKEND_LEASE_MS, 15_000) : prng.int32(rng, 1, 3_000)) : 0
  const abortMs = variant === 'abort' ? prng.int32(rng, 0, 3_000) : 0
  const lock: LockRecord = {
    id: model.id(),
    session: BACKEND,
    keys,
    variant: `backend-${variant}`,
    outcome: 'pending',
    step: model.step,
    threw: false
  }
  model.locks.set(lock.id, lock)
  const settle = (outcome: Exclude<Outcome, 'pending'>, error?: string) => {
    if (lock.outcome !== 'pending') return model.violate('lock-settles-once', `lease ${lock.id} ${outcome} after it was ${lock.outcome}`)
    lock.outcome = outcome
    if (error) lock.error = error
  }
  const abort = new AbortController()
  if (variant === 'abort') setTimeout(() => abort.abort(new Error(`lease ${lock.id}'s request abandoned`)), abortMs)
  const incarnation = backend.incarnation
  const access = await backend.access()
  const commit = (grant: GrantedLease) => {
    const askedAt = Date.now()
    const set: Record<string, Json> = {}
    for (const k of keys) set[k] = [...((grant.values[k]?.value as number[] | undefined) ?? []), lock.id]
    access.commit(grant.id, { set }).then(
      () => {
        settle('resolved')
        if (!storedLock(world, lock.id, keys))
          model.violate(
            'lock-resolves-after-stored',
            `lease ${lock.id} (${lock.variant}, step ${lock.step}) resolved before the store held its writes`
          )
        if (askedAt >= grant.expiresAt)
          model.violate(
            'backend-late-commit-refused',
            `lease ${lock.id}'s commit was asked ${askedAt - grant.expiresAt} ms after its lease ended, and resolved`
          )
      },
      (err: unknown) => {
        const expected = err instanceof LeaseEndedError || err instanceof LeaseNotFoundError || err instanceof BackendClosedError
        if (!expected) model.violate('backend-call-fails', `lease ${lock.id}'s commit: ${errorText(err)}`)
        settle(failed(err), errorText(err))
      }
    )
  }
  access.acquire(keys, { timeoutMs, signal: abort.signal }).then(
    (grant) => {
      const last = lastFences.get(model)
      if (last && last.incarnation === backend.incarnation && grant.fence <= last.fence)
        model.violate('backend-fences-grow', `lease ${lock.id} was granted fence ${grant.fence}, not above the last grant's ${last.fence}`)
      lastFences.set(model, { incarnation: backend.incarnation, fence: grant.fence })
      if (variant === 'release') {
        try {
          access.release(grant.id)
        } catch (err) {
          if (backend.incarnation === incarnation && Date.now() < grant.expiresAt)
            model.violate('backend-call-fails', `lease ${lock.id}'s release, while it was open: ${errorText(err)}`)
        }
        settle('rejected', 'released')
      } else if (variant === 'pause') setTimeout(() => commit(grant), pauseMs)
      else commit(grant)
    },
    (err: unknown) => {
      const expected =
        err instanceof LockTimeoutError ||
        err instanceof BackendClosedError ||
        (variant === 'abort' && abort.signal.aborted && err === abort.signal.reason)
      if (!expected) model.violate('backend-call-fails', `lease ${lock.id}'s request: ${errorText(err)}`)
      // No commit was asked: nothing of it may apply, whatever the error.
      settle('rejected', errorText(err))
    }
  )
  const how =
    variant === 'pause'
      ? `, pauses ${pauseMs} ms before its commit`
      : variant === 'abort'
        ? `, abandoned after ${abortMs} ms`
        : variant === 'release'
          ? ', released unused'
          : ''
  return `${BACKEND} leases ${keys.join('+')} (lease ${lock.id}, ${variant}, timeout ${timeoutMs} ms${how})`
}

/**
 * Time passes while the world turns: in slices of 50 ms, each followed by every microtask and
 * zero-delay timer, so that what a timer started (a paused backend's commit) reaches the relay
 * before later timers fire (its lease's end), as in real time. The core `time` step lets a span
 * pass in one tick: a commit due in it is handled after every timer of the span.
 */
const timeStep = async ({ world, rng }: Ctx): Promise<string> => {
  const ms = prng.int32(rng, 50, 12_000)
  for (let t = 0; t < ms; t += 50) {
    mock.timers.tick(Math.min(50, ms - t))
    await world.settle()
  }
  return `${ms} ms pass, in 50 ms slices`
}

const withBackend =
  (run: (ctx: Ctx, backend: SimBackend) => Promise<string>) =>
  (ctx: Ctx): Promise<string> | string =>
    ctx.world.backend ? run(ctx, ctx.world.backend) : 'no backend'

export const BACKEND_STEPS: Step[] = [
  { name: 'backend-write', group: 'backend', weight: 6, run: withBackend(writeStep) },
  { name: 'backend-read', group: 'backend', weight: 3, run: withBackend(readStep) },
  { name: 'backend-lease', group: 'backend', weight: 8, run: withBackend(leaseStep) },
  { name: 'backend-time', group: 'backend', weight: 2, run: timeStep }
]

/**
 * At quiescence: every backend lease ended (the backends' count and the room's lease table), and
 * `backend-leases-fifo`: of two committed leases, the earlier asked for comes first in the list of
 * the earlier one's first key, if the later one names it too (a request queues for its first key
 * as it is asked; FIFO with every holder's locks on it, so with the sessions' too).
 */
export const checkBackendFinal = (world: World): void => {
  const backend = world.backend
  if (!backend) return
  const model = world.model
  if (backend.openLeases > 0) model.violate('backend-leases-end', `${backend.openLeases} backend leases are still open at quiescence`)
  const room = world.net.rooms.loaded().find((r) => r.name === ROOM)
  for (const k of room?.leases.snapshot?.() ?? []) {
    const views = [k.holder, ...k.waiting].filter((v) => v !== null && backend.owns(v.holder))
    if (views.length > 0)
      model.violate('backend-leases-end', `the room's lease table still has ${views.length} backend requests on "${k.key}"`)
  }
  const relay = world.relayDoc()
  if (!relay) return
  const committed = [...model.locks.values()].filter((l) => l.session === BACKEND && l.outcome === 'resolved').sort((a, b) => a.id - b.id)
  for (let i = 0; i < committed.length; i++) {
    const first = committed[i]!
    const key = first.keys[0]!
    const list = relay.getMap(STATE).get(key) as number[] | undefined
    for (const later of committed.slice(i + 1)) {
      if (!later.keys.includes(key) || !list) continue
      if (list.indexOf(later.id) < list.indexOf(first.id))
        model.violate('backend-leases-fifo', `lease ${later.id} committed before lease ${first.id} in "${key}", though asked for after it`)
    }
  }
}
