/** Updates and their reading back, for the tests of the stores under the relay. */
import * as Y from 'yjs'

/** An update that sets `state[key] = value` on top of `doc`. */
export const write = (doc: Y.Doc, key: string, value: unknown): Uint8Array => {
  const before = Y.encodeStateVector(doc)
  doc.getMap('state').set(key, value)
  return Y.encodeStateAsUpdate(doc, before)
}

/** The `state` map that `updates`, applied together, make. */
export const stateOf = (updates: Uint8Array[]): Record<string, unknown> => {
  const doc = new Y.Doc()
  for (const u of updates) Y.applyUpdate(doc, u)
  return doc.getMap('state').toJSON()
}
