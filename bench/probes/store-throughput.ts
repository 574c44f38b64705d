/**
 * Appends per second of the embedded store when many rooms write at once, as the relay writes:
 * every room loaded first, then each room appends its updates one after the other (the relay
 * stores a room's next batch once the last one is stored) while all rooms do so concurrently.
 * With `--baseline REF`, the LevelStore of that git ref runs too, alternating with this one in
 * each repeat, so the figures of one run compare.
 *
 * `--fsync=always|never|both` (default both) picks this tree's `--fsync` setting.
 *
 * Not part of `npm run bench`:
 *   node --import tsx bench/probes/store-throughput.ts --rooms=1000 --appends=10 --reps=3 --baseline=main
 *
 * Prints, per store: appends/s (median over repeats), and how many batches (writes counted in
 * the store's head) the appends took.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { LeveldbPersistence } from 'y-leveldb'
import type { RoomStore } from '../../relay/store/room-store.js'
import { FSYNC_MODES, LevelStore } from '../../relay/store/level-store.js'
import { median } from '../lib/stats.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const flag = (name: string, fallback: string): string =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback
const rooms = Number(flag('rooms', '1000'))
const appends = Number(flag('appends', '10'))
const reps = Number(flag('reps', '3'))
const baseline = flag('baseline', '')
/** `always`, `never` or `both`: the this-tree store's --fsync (both: one row each). */
const fsync = flag('fsync', 'both')

type MakeStore = (dir: string) => RoomStore

/**
 * The LevelStore of git ref `ref`, as modules in a temporary directory: level-store.ts and the
 * modules beside it at that ref (relay/store/ since the relay was grouped, relay/ before); their
 * other relative imports point back at this tree, their packages at this tree's node_modules.
 */
const storeAt = async (ref: string, scratch: string): Promise<MakeStore> => {
  const dir = join(scratch, 'baseline')
  mkdirSync(dir)
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'))
  const ls = (folder: string): string[] =>
    execFileSync('git', ['ls-tree', '--name-only', ref, folder], { cwd: root, encoding: 'utf8' }).split('\n')
  const folder = ls('relay/store/').includes('relay/store/level-store.ts') ? 'relay/store' : 'relay'
  const copied = new Set(
    ls(`${folder}/`)
      .filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))
      .map((f) => f.slice(folder.length + 1, -'.ts'.length))
  )
  for (const name of copied) {
    const source = execFileSync('git', ['show', `${ref}:${folder}/${name}.ts`], { cwd: root, encoding: 'utf8' })
    writeFileSync(
      join(dir, `${name}.ts`),
      source.replace(
        /from '(\.\.?\/[\w/-]+)\.js'/g,
        (_, dep: string) =>
          `from '${pathToFileURL(dep.startsWith('./') && copied.has(dep.slice(2)) ? join(dir, `${dep.slice(2)}.ts`) : join(root, folder, `${dep}.ts`)).href}'`
      )
    )
  }
  const module = (await import(pathToFileURL(join(dir, 'level-store.ts')).href)) as { LevelStore: new (dir: string) => RoomStore }
  return (d) => new module.LevelStore(d)
}

/** Each room's small updates: one key set a time, as a chat or a counter writes. */
const updates: Uint8Array[][] = Array.from({ length: rooms }, (_, r) => {
  const doc = new Y.Doc()
  return Array.from({ length: appends }, (_, i) => {
    const before = Y.encodeStateVector(doc)
    doc.getMap('state').set(`k${i % 4}`, `room ${r} update ${i}`)
    return Y.encodeStateAsUpdate(doc, before)
  })
})

/** The store's count of writes, as it stored it. */
const headOf = async (dir: string): Promise<number> => {
  const db = new LeveldbPersistence(dir)
  const head = await db._transact((level) => level.get(['y-server-state', 'head']).catch(() => null))
  await db.destroy()
  return head === null ? 0 : decoding.readVarUint(decoding.createDecoder(head))
}

const once = async (make: MakeStore, dir: string): Promise<{ perSecond: number; batches: number }> => {
  const store = make(dir)
  await store.open?.()
  const names = Array.from({ length: rooms }, (_, r) => `room-${r}`)
  await Promise.all(names.map((name) => store.load(name)))
  const start = performance.now()
  await Promise.all(
    names.map(async (name, r) => {
      for (const update of updates[r]!) await store.append(name, update)
    })
  )
  const seconds = (performance.now() - start) / 1000
  await store.close()
  return { perSecond: (rooms * appends) / seconds, batches: await headOf(dir) }
}

const scratch = mkdtempSync(join(tmpdir(), 'yss-store-bench-'))
try {
  const modes = fsync === 'both' ? FSYNC_MODES : FSYNC_MODES.filter((m) => m === fsync)
  const systems: Array<[string, MakeStore]> = modes.map((m) => [
    `this tree, fsync ${m}`,
    (d: string) => new LevelStore(d, undefined, { fsync: m })
  ])
  if (baseline) systems.push([`LevelStore of ${baseline}`, await storeAt(baseline, scratch)])
  const results = new Map<string, Array<{ perSecond: number; batches: number }>>(systems.map(([name]) => [name, []]))
  for (let rep = 0; rep < reps; rep++) {
    // Alternate which one goes first, so neither always runs on a warmer machine.
    const order = rep % 2 === 0 ? systems : [...systems].reverse()
    for (const [name, make] of order) {
      const dir = join(scratch, `${rep}-${name.replace(/\W+/g, '-')}`)
      const result = await once(make, dir)
      rmSync(dir, { recursive: true, force: true })
      results.get(name)!.push(result)
      console.log(`rep ${rep + 1}: ${name}: ${Math.round(result.perSecond)} appends/s in ${result.batches} batches`)
    }
  }
  console.log(`\n${rooms} rooms × ${appends} appends, each room's appends one after the other, rooms concurrent; median of ${reps}:`)
  const medians = new Map([...results].map(([name, runs]) => [name, median(runs.map((r) => r.perSecond))]))
  for (const [name, runs] of results) {
    console.log(`  ${name}: ${Math.round(medians.get(name)!)} appends/s (batches: ${runs.map((r) => r.batches).join(', ')})`)
  }
  if (baseline) {
    const [ours, theirs] = [...medians.values()]
    console.log(`  ratio: ${(ours! / theirs!).toFixed(1)}×`)
  }
} finally {
  rmSync(scratch, { recursive: true, force: true })
}
