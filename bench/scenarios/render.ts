/**
 * Scenario 6, render fan-out in the browser: 1,000 bound elements in headless Chromium, each
 * reading its own key; one key changes at a time. Exactly one element must re-render, within one
 * frame of the update's arrival.
 */
import { int } from '../lib/config.js'
import { launchRelay } from '../lib/relay.js'
import { session } from '../../test/support/helpers.js'
import { bundlePage, launchChromium } from '../lib/browser.js'
import { median, percentile } from '../lib/stats.js'
import { num, type Scenario, type Target } from '../lib/report.js'
import type { ServerState } from '../../client/index.js'

interface Render {
  key: string
  arrival: number
  rendered: number
  painted: number
}
type Bench = { ready: boolean; renders: number; log: Render[] }
declare const window: { __bench?: Bench }

export const render: Scenario = {
  name: 'render',
  title: '6. Render fan-out in the browser',
  method:
    'A page (bench/browser/page.ts, bundled with esbuild, served by our relay) binds N elements, each through its own ' +
    'tracker (`ServerState.watch`) to its own key. A Node session changes one key at a time; the page counts every re-render ' +
    'and times it from the arrival of the WebSocket message that carried the change (stamped before the client handles it) ' +
    "to the element's update, and to the start of the next animation frame. Headless Chromium; the page is the only tab.",
  async run() {
    const elements = int('BENCH_RENDER_ELEMENTS', 1000)
    const changes = int('BENCH_RENDER_CHANGES', 30, 10)
    const page = await bundlePage('page.ts')
    const relay = await launchRelay({ system: 'ours', staticDirs: [page.dir] })
    let writer: ServerState | null = null
    const browser = await launchChromium()
    try {
      const tab = await browser.newPage()
      const errors: string[] = []
      tab.on('pageerror', (e) => errors.push(String(e)))
      const t0 = performance.now()
      await tab.goto(`${relay.httpUrl}index.html?n=${elements}&room=render`)
      await tab.waitForFunction(() => window.__bench?.ready === true, undefined, { timeout: 30_000 })
      const mountMs = performance.now() - t0
      writer = await session(relay.url, 'render')
      const keyOf = (j: number) => `k${(j * 389) % elements}`
      // One more change than measured: the page handles the changes in order, so once the last
      // one has rendered, any render a measured change caused has happened and is counted.
      for (let j = 0; j <= changes; j++) {
        writer.set(keyOf(j), `v${j}`)
        await tab.waitForFunction((n) => (window.__bench?.renders ?? 0) >= n, j + 1, { timeout: 10_000, polling: 5 })
      }
      await tab.waitForFunction(() => window.__bench!.log.every((r) => r.painted > 0), undefined, { timeout: 5_000 })
      const all = await tab.evaluate(() => window.__bench!.log)
      const extra = all.length - (changes + 1)
      const log = all.slice(0, changes)
      const wrongKeys = log.filter((r, j) => r.key !== keyOf(j)).length
      if (errors.length > 0) throw new Error(`page errors: ${errors.join('; ')}`)
      const toRender = log.map((r) => r.rendered - r.arrival)
      const toPaint = log.map((r) => r.painted - r.arrival)
      const rendersPerChange = (all.length - 1) / changes
      const targets: Target[] = [
        {
          what: `Renders per changed key among ${elements}`,
          goal: 'exactly 1',
          value: `${num(rendersPerChange, 2)} (${all.length - 1} renders for ${changes} changes, ${wrongKeys} of the wrong element)`,
          met: extra === 0 && wrongKeys === 0
        },
        {
          what: 'Update arrival → render',
          goal: '< 16 ms (one frame)',
          value: `p50 ${num(median(toRender), 2)} ms, max ${num(Math.max(...toRender), 2)} ms`,
          met: Math.max(...toRender) < 16
        }
      ]
      return {
        tables: [
          {
            title: `${elements} bound elements, ${changes} single-key changes`,
            columns: ['measure', 'p50', 'p95', 'max'],
            rows: [
              ['arrival → element updated, ms', num(median(toRender), 2), num(percentile(toRender, 95), 2), num(Math.max(...toRender), 2)],
              [
                'arrival → next animation frame, ms',
                num(median(toPaint), 2),
                num(percentile(toPaint, 95), 2),
                num(Math.max(...toPaint), 2)
              ],
              ['renders per change', num(rendersPerChange, 2), '', ''],
              [`page load and first render of ${elements} elements, ms`, num(mountMs, 0), '', '']
            ]
          }
        ],
        targets,
        notes: [],
        headlines: [
          {
            figure: `Browser, ${elements} bound elements, one key changed: renders; arrival → render p50`,
            ours: `${num(rendersPerChange, 2)}; ${num(median(toRender), 2)} ms`
          }
        ]
      }
    } finally {
      writer?.close()
      await browser.close().catch(() => {})
      await relay.stop()
      page.remove()
    }
  }
}
