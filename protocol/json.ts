/**
 * JSON values: the only values a key may hold. `toFrozenJson` checks a value, copies it and freezes
 * the copy, so what is stored can never change behind the shared doc's back; `jsonEqual` compares
 * two of them by content.
 *
 * @example
 *   toFrozenJson('pos', { x: 1, y: [2, 3] }) // a frozen copy
 *   toFrozenJson('pos', { x: NaN })          // TypeError: server state "pos": x is NaN, not a JSON value
 *   jsonEqual({ a: [1] }, { a: [1] })        // true
 */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json }

const describe = (v: unknown): string => {
  if (typeof v === 'number') return String(v)
  if (typeof v === 'function') return 'a function'
  if (v === undefined) return 'undefined'
  if (typeof v === 'symbol') return 'a symbol'
  if (typeof v === 'bigint') return 'a BigInt'
  const name = (v as object).constructor?.name
  return name ? `an instance of ${name}` : 'an object without a plain prototype'
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

const isPlainObject = (v: object): boolean => {
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

/** Checks that `value` is JSON, and returns a deep, frozen copy. Throws a TypeError naming `key`. */
export const toFrozenJson = (key: string, value: unknown): Json => {
  const seen = new Set<object>()
  const copy = (v: unknown, path: string): Json => {
    const fail = (what: string): never => {
      throw new TypeError(`server state "${key}": ${path || 'the value'} is ${what}, not a JSON value`)
    }
    switch (typeof v) {
      case 'string':
        // lib0 writes strings as UTF-8: a lone surrogate would reach the others as U+FFFD.
        return LONE_SURROGATE.test(v) ? fail('a string with a lone surrogate') : v
      case 'boolean':
        return v
      case 'number':
        return Number.isFinite(v) ? v : fail(describe(v))
      case 'object': {
        if (v === null) return null
        if (seen.has(v)) fail('a cycle')
        seen.add(v)
        let out: Json
        if (Array.isArray(v)) {
          const arr: Json[] = []
          for (let i = 0; i < v.length; i++) arr.push(copy(v[i], `${path}[${i}]`))
          out = Object.freeze(arr)
        } else {
          if (!isPlainObject(v)) fail(describe(v))
          if (Object.getOwnPropertySymbols(v).length > 0) fail('an object with symbol keys')
          // Y.Map.set and Y.Array.insert pick the content type by value.constructor: an own
          // "constructor" key on a value or a list item makes Yjs throw "Unexpected content type".
          if (/^(\[\d+\])?$/.test(path) && Object.hasOwn(v, 'constructor'))
            fail('an object with a "constructor" key, which Yjs cannot store here')
          // lib0 decodes an object by assignment, so every other session drops an own "__proto__"
          // key (or takes it for the prototype) while the writer keeps it.
          if (Object.hasOwn(v, '__proto__')) fail('an object with a "__proto__" key, which other sessions would drop')
          const obj: Record<string, Json> = {}
          for (const [k, item] of Object.entries(v)) {
            // defineProperty, so that a "__proto__" key stays a key and does not set the prototype.
            if (LONE_SURROGATE.test(k)) fail('an object with a lone surrogate in a key')
            Object.defineProperty(obj, k, {
              value: copy(item, path ? `${path}.${k}` : k),
              enumerable: true,
              writable: true,
              configurable: true
            })
          }
          out = Object.freeze(obj)
        }
        seen.delete(v)
        return out
      }
      default:
        return fail(describe(v))
    }
  }
  return copy(value, '')
}

/** Freezes a JSON value in place (values decoded from the doc are fresh objects of ours). */
export const deepFreeze = <T>(value: T): T => {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

/** Deep equality of two JSON values. */
export const jsonEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false
    return true
  }
  if (Array.isArray(b)) return false
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(b).length) return false
  for (const k of ka) {
    if (!Object.hasOwn(b, k) || !jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false
  }
  return true
}
