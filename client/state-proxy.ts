/**
 * The state as an object: property reads and writes, `in`, `delete` and `Object.keys` are a
 * session's `get`, `set`, `has`, `delete` and `keys`, so reads bind like `get` and writes are
 * checked like `set`.
 *
 * @example
 *   const state = stateProxy<{ count: number }>(server)
 *   state.count = 1; 'count' in state; delete state.count
 */
export interface KeyAccess {
  get(key: string): unknown
  set(key: string, value: unknown): void
  has(key: string): boolean
  delete(key: string): boolean
  keys(): string[]
  /** Whether `key` is set, without binding the running tracker. */
  hasUntracked(key: string): boolean
}

const keyName = (p: string | symbol): string => {
  if (typeof p !== 'string') throw new TypeError('server state keys are strings')
  return p
}

export const stateProxy = <S extends object>(access: KeyAccess): S =>
  new Proxy({} as S, {
    get: (_, p) => (typeof p === 'string' ? access.get(p) : undefined),
    set: (_, p, value) => {
      access.set(keyName(p), value)
      return true
    },
    has: (_, p) => typeof p === 'string' && access.has(p),
    deleteProperty: (_, p) => {
      access.delete(keyName(p))
      return true
    },
    ownKeys: () => access.keys(),
    getOwnPropertyDescriptor: (_, p) =>
      typeof p === 'string' && access.hasUntracked(p)
        ? { value: access.get(p), writable: true, enumerable: true, configurable: true }
        : undefined
  })
