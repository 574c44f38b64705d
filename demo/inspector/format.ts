/**
 * How the inspector page writes values, times and counts: a value folded to one line when it is
 * long (the whole of it pretty-printed beside), durations in the largest units that matter, and
 * a key's kind with its length.
 *
 * @example
 *   fold({ a: 1 })                 // { line: '{"a":1}', full: null }
 *   fold('x'.repeat(500)).full     // the whole string, JSON-quoted
 *   duration(65_000)               // '1 min 05 s'
 *   kindOf([1, 2, 3], true)        // 'list · 3 items'
 */
import type { Json } from '../../client/index.js'

/** Longest value shown as it is, in characters of its one-line JSON. */
export const FOLD_AT = 72

/** The value as one line of JSON, cut at `max` characters; `full` is the whole, indented, when it was cut or spans lines. */
export const fold = (value: Json | undefined, max = FOLD_AT): { line: string; full: string | null } => {
  const line = value === undefined ? 'undefined' : JSON.stringify(value)
  if (line.length <= max) return { line, full: null }
  return { line: `${line.slice(0, max - 1)}…`, full: JSON.stringify(value, null, 2) }
}

/** `ms` as `0.4 s`, `12 s`, `3 min 04 s`, `2 h 05 min`. */
export const duration = (ms: number): string => {
  const s = Math.max(0, ms) / 1000
  if (s < 10) return `${s.toFixed(1)} s`
  if (s < 60) return `${Math.floor(s)} s`
  const pad = (n: number) => String(n).padStart(2, '0')
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad(Math.floor(s % 60))} s`
  return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`
}

/** A time of day, `14:03:07`, in the reader's zone. */
export const clock = (at: number): string => new Date(at).toLocaleTimeString('en-GB', { hour12: false })

/** What a key holds: `list · 3 items` (a Y.Array, appended to), `array · 2 items`, `object · 4 fields`, `number`… */
export const kindOf = (value: Json | undefined, isList: boolean): string => {
  const items = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`
  if (Array.isArray(value)) return `${isList ? 'list' : 'array'} · ${items(value.length, 'item')}`
  if (value === null) return 'null'
  if (typeof value === 'object') return `object · ${items(Object.keys(value).length, 'field')}`
  if (typeof value === 'string') return `string · ${items(value.length, 'char')}`
  return typeof value
}

/** A count as `950`, `12.3k`, `4.5M`; with a unit, `950 B`, `12.3 kB`, `4.5 MB`. */
export const count = (n: number, unit = ''): string => {
  const [size, prefix] = n >= 1e9 ? [1e9, 'G'] : n >= 1e6 ? [1e6, 'M'] : n >= 1e3 ? [1e3, 'k'] : [1, '']
  const shown = size === 1 ? String(n) : (n / size).toFixed(n / size >= 100 ? 0 : 1)
  return unit ? `${shown} ${prefix}${unit}` : `${shown}${prefix}`
}
