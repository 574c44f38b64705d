/**
 * Summarises a V8 CPU profile (from `node --cpu-prof`, or a relay run with BENCH_PROFILE=DIR):
 * the functions with the most self time, and the share of each package, to say where the time goes.
 *
 * @example
 *   node --import tsx bench/lib/cpu-top.ts /tmp/prof/CPU.20260101.cpuprofile [count]
 */
import { readFileSync } from 'node:fs'

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}

interface Profile {
  nodes: Node[]
  samples: number[]
  timeDeltas: number[]
}

const packageOf = (url: string): string => {
  if (!url) return '(native/gc/idle)'
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (m) return m[1]!
  if (url.startsWith('node:')) return 'node:internal'
  const mine = /\/(relay|client|bench)\//.exec(url)
  return mine ? mine[1]! : url
}

export const summarise = (profile: Profile, count = 25): string => {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const fns = new Map<string, number>()
  const pkgs = new Map<string, number>()
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame
    const file = f.url.replace(/^.*\/(node_modules\/)?/, '')
    const key = `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`
    fns.set(key, (fns.get(key) ?? 0) + us)
    const pkg = packageOf(f.url)
    pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + us)
  }
  // Inclusive time: each function counted once per sample, however deep it recurses.
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const keyOf = (n: Node): string =>
    `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(node_modules\/)?/, '')}:${n.callFrame.lineNumber + 1}`
  const inclusive = new Map<string, number>()
  for (const [id, us] of self) {
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const key = keyOf(byId.get(at)!)
      if (seen.has(key)) continue
      seen.add(key)
      inclusive.set(key, (inclusive.get(key) ?? 0) + us)
    }
  }
  const busy = total - [...self].filter(([id]) => byId.get(id)!.callFrame.functionName === '(idle)').reduce((a, [, us]) => a + us, 0)
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`
  const top = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `${pct(us)}  ${k}`)
  return [
    `total ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s not idle`,
    '',
    'by package:',
    ...top(pkgs, 12),
    '',
    'by function (self time):',
    ...top(fns, count),
    '',
    'by function (inclusive time):',
    ...top(inclusive, count)
  ].join('\n')
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const file = process.argv[2]
  if (!file) {
    console.error('usage: node --import tsx bench/lib/cpu-top.ts FILE.cpuprofile [count]')
    process.exit(2)
  }
  console.log(summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(process.argv[3] ?? 25)))
}
