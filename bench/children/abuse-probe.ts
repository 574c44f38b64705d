/**
 * Child process of the abuse table (abuse-table.ts): a socket in a room of its own that sends a
 * FLUSH every 20 ms and keeps the longest round trip, in a process apart from the attacker's so
 * that building and sending an attack does not delay it. A line `stop` on stdin prints the
 * longest round trip in ms and exits.
 *
 *   node --import tsx bench/abuse-probe.ts ws://127.0.0.1:1234
 */
import { createInterface } from 'node:readline'
import { rawSocket } from '../../test/support/helpers.js'
import { flush } from '../../test/support/limits-helpers.js'

const raw = rawSocket(process.argv[2]!, 'probe')
await raw.opened
let longest = 0
let running = true
createInterface({ input: process.stdin }).on('line', (l) => {
  if (l === 'stop') running = false
})
process.stdout.write('ready\n')
let id = 1
while (running) {
  const started = performance.now()
  const ok = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 120_000)
    const look = (data: Buffer) => {
      if (data[0] === 100 && data[1] === 8) {
        raw.ws.off('message', look)
        clearTimeout(timer)
        resolve(true)
      }
    }
    raw.ws.on('message', look)
    raw.send(flush(id++))
  })
  if (!ok) break
  longest = Math.max(longest, performance.now() - started)
  await new Promise((resolve) => setTimeout(resolve, 20))
}
process.stdout.write(`${longest}\n`)
process.exit(0)
