/**
 * A probe of where a locked increment's CPU goes, for profiling (not part of `npm run bench`): our
 * relay in its own process, one session in this process doing N locked increments one after
 * another, and P passive sessions, each in its own process, that only receive them. Prints the
 * rate and the CPU time per increment of the locker, of the relay, and of each passive session
 * (all its threads, from /proc).
 *
 * @example
 *   node --import tsx bench/probes/lock-probe.ts 5000 7     # N increments, P passive sessions
 *   PROBE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/p' node --import tsx bench/probes/lock-probe.ts 5000 1
 *   PROBE_PASSIVE=plain node --import tsx bench/probes/lock-probe.ts 5000 7  # stock y-websocket clients as the passive ones
 *   PROBE_PASSIVE=ours,plain,raw node --import tsx bench/probes/lock-probe.ts 5000 6  # alternating kinds in one run (raw: a bare socket)
 *   PROBE_PASSIVE=ours@/tmp/a,ours@/tmp/b node --import tsx bench/probes/lock-probe.ts 5000 4  # two builds of ours, A/B
 */
import WebSocket from 'ws'
import { fileURLToPath } from 'node:url'
import { launchRelay } from '../lib/relay.js'
import { procCpuUs, spawnChild } from '../lib/children.js'
import { compiledPackage, loadClient } from '../lib/compiled.js'

const n = Number(process.argv[2] ?? 5000)
const p = Number(process.argv[3] ?? 0)

// The locker's client and the relay from the same build (BENCH_SOURCES=1: both from the sources).
const compiled = process.env.PROBE_COMPILED ?? compiledPackage() ?? undefined
const { connect } = await loadClient(compiled)
const relay = await launchRelay({ system: 'ours', ...(compiled ? { compiledDir: compiled } : {}) })
const passive = await Promise.all(
  Array.from({ length: p }, () =>
    spawnChild(fileURLToPath(new URL('../children/lock-child.ts', import.meta.url)), [], {
      execArgv: (process.env.PROBE_ARGS ?? '').split(' ').filter(Boolean)
    })
  )
)
const kinds = (process.env.PROBE_PASSIVE ?? 'ours').split(',')
const kindOf = (i: number) => kinds[i % kinds.length]!
await Promise.all(
  passive.map((c, i) => {
    // `ours@DIR`: our client compiled into DIR (another commit's build), for an A/B in one run.
    const [system, dir] = kindOf(i).split('@') as [string, string | undefined]
    return c.request({ cmd: 'connect', system, url: relay.url, room: 'probe', compiledDir: dir ?? compiled })
  })
)
const s = connect<{ count: number }>({ url: relay.url, room: 'probe', WebSocketPolyfill: WebSocket, broadcastChannel: false })
await s.ready
const increment = () =>
  s.lock('count', (st) => {
    st.count = (st.count ?? 0) + 1
  })
for (let i = 0; i < 300; i++) await increment() // warm up
const k0 = passive.map((c) => procCpuUs(c.proc.pid!))
const r0 = await relay.cpu()
const c0 = process.cpuUsage()
const t0 = performance.now()
for (let i = 0; i < n; i++) await increment()
const ms = performance.now() - t0
const c = process.cpuUsage(c0)
const r1 = await relay.cpu()
const spent = passive.map((k, i) => procCpuUs(k.proc.pid!) - k0[i]!)
const us = (v: number) => `${v.toFixed(0)} µs`
/** The mean CPU per increment of the passive sessions of one kind. */
const perKind = (kind: string) => {
  const mine = spent.filter((_, i) => kindOf(i) === kind)
  return mine.reduce((a, v) => a + v, 0) / mine.length / n
}
const each = kinds.length === 1 ? us(perKind(kinds[0]!)) : kinds.map((k) => `${k} ${us(perKind(k))}`).join(', ')
console.log(
  `P=${p} passive: ${((n / ms) * 1000).toFixed(0)}/s; CPU per increment: locker ${us((c.user + c.system) / n)} (user ${us(c.user / n)}), ` +
    `relay ${us((r1.user - r0.user + r1.system - r0.system) / n)} (user ${us((r1.user - r0.user) / n)}), each passive session ${p > 0 ? each : '-'}`
)
s.close()
await Promise.all(passive.map((k) => k.stop()))
await relay.stop()
process.exit(0)
