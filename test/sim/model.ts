/**
 * What the simulation did and what it expects: every write, force, append, lock and flush it
 * made, with the ids that let the invariants find them in any doc, and the violations found.
 *
 * @example
 *   const model = new Model()
 *   const w = model.write({ id: model.id(), session: 'A1', key: 'a', kind: 'set', quiet: false, client, clock, end })
 *   model.violate('loud-write-reruns-readers', 'B1 never re-ran for write 3')
 */
import type { Tracker } from '../../client/index.js'

/** The keys the simulation writes: plain keys, a list, and keys that only locks touch. */
export const PLAIN = ['a', 'b'] as const
export const LIST = 'list'
export const LOCKED = ['L0', 'L1', 'L2'] as const
export const WATCHED: readonly string[] = [...PLAIN, LIST, ...LOCKED]

/** A write that made items: a set, a plain append or a force, at clocks [clock, end) of `client`. */
export interface WriteRecord {
  id: number
  session: string
  key: string
  kind: 'set' | 'append' | 'force'
  quiet: boolean
  client: number
  clock: number
  end: number
  step: number
  /** The tracker that was running when it was written (a write during a render): it must not re-run for it. */
  writer?: Tracker
  /**
   * Set for a write made before the session knew its access, so held (no items yet: `clock` is
   * `end`; its items, if the access comes, start at `clock`): whether the writer's own tracker of
   * the key re-ran as it was made (client/session.ts `hold`). The items re-run that tracker no
   * more when they are written, as it saw the write already.
   */
  held?: { rerun: boolean }
}

export type Outcome = 'pending' | 'resolved' | 'rejected' | 'undecided'

/** One lock() call: its id is what its function appends to the list under each of its keys. */
export interface LockRecord {
  id: number
  session: string
  keys: string[]
  variant: string
  /** The outer lock of a nested one. */
  outer?: number
  outcome: Outcome
  error?: string
  step: number
  /** Whether its function threw, so nothing of it may apply. */
  threw: boolean
}

/** One flush(): every write of `client` below `clock` must be stored when it resolves. */
export interface FlushRecord {
  id: number
  session: string
  client: number
  clock: number
  outcome: Outcome
  step: number
}

/** One append(): the item `{ a: id }` appears in the list exactly once, or never if rejected. */
export interface AppendRecord {
  id: number
  session: string
  outcome: Outcome
  step: number
}

export interface Violation {
  invariant: string
  message: string
  step: number
}

export class Model {
  step = 0
  /** Invariants whose violations are not recorded (`--ignore`: to look past a known bug). */
  constructor(private readonly ignored: ReadonlySet<string> = new Set()) {}

  private nextId = 1
  readonly writes: WriteRecord[] = []
  readonly locks = new Map<number, LockRecord>()
  readonly flushes: FlushRecord[] = []
  readonly appends = new Map<number, AppendRecord>()
  /** Forces per key: made, and made by a session closed before the relay stored them (maybe lost). */
  readonly forces = new Map<string, { made: number; maybeLost: number }>()
  readonly violations: Violation[] = []
  /** The tracker running a write of the simulation now (a write during a render). */
  rendering: Tracker | null = null

  id(): number {
    return this.nextId++
  }

  write(w: Omit<WriteRecord, 'step'>): WriteRecord {
    const record = { ...w, step: this.step }
    this.writes.push(record)
    return record
  }

  /** The write whose items include `clock` of `client`, if the simulation made it. */
  writeAt(client: number, clock: number): WriteRecord | undefined {
    return this.writes.find((w) => w.client === client && w.clock <= clock && clock < w.end)
  }

  violate(invariant: string, message: string): void {
    if (this.ignored.has(invariant)) return
    this.violations.push({ invariant, message, step: this.step })
  }
}
