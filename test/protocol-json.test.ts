/** JSON values on their own: what `toFrozenJson` accepts must reach every other session unchanged. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { jsonEqual, toFrozenJson } from '../protocol/json.js'

/** `value` as another session reads it: written into a doc's map, synced to a second doc. */
const roundTrip = (value: unknown): unknown => {
  const writer = new Y.Doc()
  const reader = new Y.Doc()
  writer.getMap('state').set('k', value)
  Y.applyUpdate(reader, Y.encodeStateAsUpdate(writer))
  return reader.getMap('state').get('k')
}

// JSON.parse, so that "__proto__" is an own key and not the prototype, as it is when it comes
// from a form, a file or the network.
const odd: Array<[string, string]> = [
  ['"__proto__" as a string value', '{"a": "__proto__"}'],
  ['a nested "constructor" key', '{"a": {"constructor": 1}}'],
  ['a key like "__proto__"', '{"__proto__x": 1, "x__proto__": 2}'],
  ['a "__proto__" key', '{"__proto__": 1}'],
  ['a nested "__proto__" key', '{"a": {"__proto__": {"y": 1}}}'],
  ['a "__proto__" key in a list item', '[1, {"__proto__": 2}]']
]

test('every value toFrozenJson accepts reaches another session equal to what the writer keeps', () => {
  for (const [what, text] of odd) {
    let kept: unknown
    try {
      kept = toFrozenJson('k', JSON.parse(text))
    } catch (err) {
      assert.ok(err instanceof TypeError, what)
      continue // refused: nothing to disagree about
    }
    assert.ok(jsonEqual(roundTrip(kept), kept), `${what}: the writer and the reader disagree`)
  }
})

test('a "__proto__" key anywhere in a value is refused with a TypeError naming the key and where', () => {
  const cases: Array<[string, string]> = [
    ['{"__proto__": 1}', 'the value'],
    ['{"a": {"b": {"__proto__": {"y": 1}}}}', 'a.b'],
    ['{"list": [0, {"__proto__": null}]}', 'list[1]'],
    ['[{"__proto__": 2}]', '[0]']
  ]
  for (const [text, where] of cases) {
    assert.throws(
      () => toFrozenJson('k', JSON.parse(text)),
      (e: unknown) =>
        e instanceof TypeError && e.message.includes('"k"') && e.message.includes(`${where} is`) && e.message.includes('"__proto__"'),
      text
    )
  }
})
