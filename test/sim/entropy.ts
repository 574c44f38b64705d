/**
 * Makes the process's randomness replayable: `crypto.getRandomValues` (which Yjs's client ids and
 * the lock's commit client ids come from, through lib0/random) and `Math.random` (y-websocket's
 * and the connection's back-off jitter) draw from one seeded generator, reseeded per run. Import
 * it before anything that imports lib0: lib0 binds `getRandomValues` when it loads.
 *
 * @example
 *   import './entropy.js'            // first import of the entry module
 *   reseedEntropy(42)                // every run of seed 42 gets the same client ids
 */
import { webcrypto } from 'node:crypto'

let state = 1

/** mulberry32: small and fast; this is the entropy of the system under test, not the schedule. */
const next = (): number => {
  state = (state + 0x6d2b79f5) | 0
  let t = Math.imul(state ^ (state >>> 15), 1 | state)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return (t ^ (t >>> 14)) >>> 0
}

/** Restarts the generator: the same seed gives the same client ids and jitter. */
export const reseedEntropy = (seed: number): void => {
  state = (seed * 0x9e3779b1) | 0
}

const fill = <T extends ArrayBufferView | null>(array: T): T => {
  if (!array) return array
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength)
  for (let i = 0; i < bytes.length; i += 4) {
    const n = next()
    for (let j = 0; j < 4 && i + j < bytes.length; j++) bytes[i + j] = (n >>> (8 * j)) & 0xff
  }
  return array
}

;(webcrypto as { getRandomValues: unknown }).getRandomValues = fill
Math.random = () => next() / 4294967296
