import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { updateCost } from '../relay/room/update-cost.js'

/** A doc with every kind of struct content, some of it deleted. */
const everything = (): Uint8Array => {
  const doc = new Y.Doc()
  const text = doc.getText('t')
  text.insert(0, 'hello world')
  text.format(0, 5, { bold: true })
  text.insertEmbed(3, { img: 'x' })
  const map = doc.getMap('m')
  map.set('a', 1)
  map.set('json', { x: [1, 2, { y: 'z' }] })
  map.set('bin', new Uint8Array([1, 2, 3]))
  map.set('sub', new Y.Map())
  map.set('doc', new Y.Doc())
  const xml = doc.getXmlFragment('x')
  const el = new Y.XmlElement('p')
  xml.insert(0, [el, new Y.XmlText('txt')])
  el.setAttribute('k', 'v')
  const array = doc.getArray('a')
  array.insert(0, [1, 'two', null, true, 2.5, [3]])
  array.delete(1, 2)
  map.delete('a')
  text.delete(2, 3)
  return Y.encodeStateAsUpdate(doc)
}

test('updateCost counts structs and deleted ranges as Yjs decodes them, for every kind of content', () => {
  const update = everything()
  const { structs, ds } = Y.decodeUpdate(update)
  let ranges = 0
  for (const r of ds.clients.values()) ranges += r.length
  const entries = new Set(structs.map((s) => s.id.client)).size + ds.clients.size
  assert.deepEqual(updateCost(update), { structs: structs.length, deletes: ranges, entries, items: structs.length + ranges + entries })
  assert.equal(ranges > 0 && structs.length > 10, true)
})

test('updateCost stops once past max, and throws on a truncated update', () => {
  const update = everything()
  const all = updateCost(update).items
  assert.ok(updateCost(update, 3).items > 3)
  assert.equal(updateCost(update, all).items, all)
  assert.throws(() => updateCost(update.subarray(0, update.length - 3)))
  assert.throws(() => updateCost(new Uint8Array([1, 1, 5, 0, 0b10011111, 1, 1])), /unknown struct content/)
})

test('updateCost counts client entries with no structs or ranges as items, and stops reading past max', () => {
  // 1,000,000 struct entries of no structs, then as many delete-set entries of no ranges: 0 structs, 0 deletes.
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 1_000_000)
  for (let c = 0; c < 1_000_000; c++) {
    encoding.writeVarUint(e, 0)
    encoding.writeVarUint(e, c)
    encoding.writeVarUint(e, 0)
  }
  encoding.writeVarUint(e, 1_000_000)
  for (let c = 0; c < 1_000_000; c++) {
    encoding.writeVarUint(e, c)
    encoding.writeVarUint(e, 0)
  }
  const update = encoding.toUint8Array(e)
  assert.equal(updateCost(update).items, 2_000_000)
  assert.equal(updateCost(update).structs + updateCost(update).deletes, 0)
  assert.ok(updateCost(update, 100_000).items > 100_000)
})

test('updateCost tells a visitor where each struct starts, as Yjs counts clocks (UTF-16, emoji counting 2)', () => {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, 'a😀é')
  doc.getText('t').insert(1, 'b')
  doc.getArray('a').push([1, 'x', { y: 2 }])
  doc.getMap('m').set('k', new Uint8Array([1]))
  const update = Y.encodeStateAsUpdate(doc)
  const starts: string[] = []
  updateCost(update, Infinity, { struct: (client, clock) => starts.push(`${client}:${clock}`), item: () => {}, deleted: () => {} })
  assert.deepEqual(
    starts,
    Y.decodeUpdate(update).structs.map((s) => `${s.id.client}:${s.id.clock}`)
  )
})
