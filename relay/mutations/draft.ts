/**
 * The state a server mutation runs on: its declared keys' values at the grant, as an object it
 * may read, assign, `delete` from and change in place. Reading or writing any other key throws,
 * so a mutation can never touch a key it holds no lease on. What it wrote is the keys whose
 * value at the end differs from the grant's ({@link Draft.writes}).
 *
 * @example
 *   const draft = new Draft('deposit', ['balance:ann'], { 'balance:ann': { value: 5, version: 0 } })
 *   draft.state['balance:ann'] = 7
 *   draft.state.other          // throws: "other" is not among the keys of mutation "deposit"
 *   draft.writes()             // { set: { 'balance:ann': 7 }, delete: [] }
 */
import type { KeyValue } from '../backend/shadow.js'
import type { BackendWrites } from '../backend/backend-writes.js'
import { jsonEqual, type Json } from '../../protocol/json.js'
import type { MutationState } from './mutation.js'

/** A mutation read or wrote a key it did not declare. */
export class UndeclaredKeyError extends Error {
  override name = 'UndeclaredKeyError'
}

/** A deep, mutable copy of a JSON value (the grant's values are frozen). */
const thaw = (value: Json | undefined): Json | undefined => (value === undefined ? undefined : (structuredClone(value) as Json))

export class Draft {
  readonly state: MutationState
  private readonly current = new Map<string, Json | undefined>()

  constructor(
    private readonly mutation: string,
    private readonly keys: readonly string[],
    private readonly granted: Readonly<Record<string, KeyValue>>
  ) {
    for (const key of keys) this.current.set(key, thaw(granted[key]?.value))
    const declared = (key: string | symbol, what: string): string => {
      if (typeof key === 'string' && this.current.has(key)) return key
      throw new UndeclaredKeyError(
        `mutation "${this.mutation}" ${what} ${JSON.stringify(String(key))}, which is not among its keys (${this.keys.map((k) => `"${k}"`).join(', ')})`
      )
    }
    this.state = new Proxy(Object.create(null) as MutationState, {
      get: (_, key) => (typeof key === 'symbol' ? undefined : this.current.get(declared(key, 'read'))),
      set: (_, key, value) => {
        this.current.set(declared(key, 'wrote'), value as Json)
        return true
      },
      deleteProperty: (_, key) => {
        this.current.set(declared(key, 'deleted'), undefined)
        return true
      },
      has: (_, key) => this.current.get(declared(key, 'asked for')) !== undefined,
      ownKeys: () => [...this.current].filter(([, v]) => v !== undefined).map(([k]) => k),
      getOwnPropertyDescriptor: (_, key) => {
        const value = typeof key === 'string' ? this.current.get(key) : undefined
        return value === undefined ? undefined : { value, writable: true, enumerable: true, configurable: true }
      },
      defineProperty: (_, key) => {
        throw new UndeclaredKeyError(`mutation "${this.mutation}": assign ${String(key)} instead of defining it`)
      }
    })
  }

  /** The keys whose value now differs from the grant's: set (checked as JSON when committed) or deleted. */
  writes(): BackendWrites & { set: Record<string, unknown>; delete: string[] } {
    const set: Record<string, unknown> = {}
    const deleted: string[] = []
    for (const [key, value] of this.current) {
      const before = this.granted[key]?.value
      if (value === undefined) {
        if (before !== undefined) deleted.push(key)
      } else if (!jsonEqual(value, before)) set[key] = value
    }
    return { set, delete: deleted }
  }
}
