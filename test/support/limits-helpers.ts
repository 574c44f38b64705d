/**
 * What the abuse-limit tests share: a relay in a child process whose memory can be read (and
 * its peak reset), a socket that never reads, a healthy pair of stock clients that must keep
 * syncing through an attack, and the frames attackers send.
 *
 * @example
 *   const relay = await childRelay({ maxQueuedBytes: 4 * MiB })
 *   const pair = await healthyPair(relay.url)
 *   relay.resetPeak()
 *   // … attack …
 *   assert.ok(relay.growthMb() < 100)
 *   await pair.check('after the attack')
 */
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import assert from 'node:assert/strict'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import type WebSocket from 'ws'
import { ROOT, rawSocket, stockClient, untilKey, within, type RawSocket } from './helpers.js'

export const MiB = 1024 * 1024

export interface ChildRelay {
  url: string
  httpUrl: string
  pid: number
  /** Lines the relay printed (its warn and error log lines). */
  output: string[]
  /** Resident memory now, in MB. */
  rssMb(): number
  /** Makes the current resident memory the peak that `growthMb` measures from. */
  resetPeak(): void
  /** Peak resident memory since `resetPeak`, minus the resident memory then, in MB. */
  growthMb(): number
  /** The value of `yss_limit_hits_total{limit="<label>"}`. */
  limitHits(label: string): Promise<number>
  healthy(): Promise<boolean>
  /** With `gated`: lets the rooms named `slow…` finish loading. */
  openGate(): void
  close(): Promise<void>
}

const statusKb = (pid: number, field: string): number => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m![1])
}

/**
 * `startRelay(options)` in a child process (test/fixtures/limits-relay.ts), in memory; `gated`
 * holds the rooms named `slow…` loading until `openGate()`.
 */
export const childRelay = async (options: Record<string, unknown> = {}, gated = false): Promise<ChildRelay> => {
  const fixture = join(ROOT, 'test/fixtures/limits-relay.ts')
  const proc = spawn(process.execPath, ['--import', 'tsx', fixture, JSON.stringify(options), ...(gated ? ['gated'] : [])], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe']
  })
  const output: string[] = []
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  createInterface({ input: proc.stderr! }).on('line', (l) => output.push(l))
  const url = await within(
    new Promise<string>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).on('line', (l) => {
        output.push(l)
        const m = /listening on (ws:\/\/\S+)/.exec(l)
        if (m) resolve(m[1]!)
      })
      void exited.then(() => reject(new Error(`relay exited: ${output.join('\n')}`)))
    }),
    20_000,
    'the child relay to listen'
  )
  const pid = proc.pid!
  const httpUrl = `${url.replace('ws://', 'http://')}/`
  let base = 0
  const relay: ChildRelay = {
    url,
    httpUrl,
    pid,
    output,
    rssMb: () => statusKb(pid, 'VmRSS') / 1024,
    resetPeak: () => {
      writeFileSync(`/proc/${pid}/clear_refs`, '5')
      base = statusKb(pid, 'VmRSS')
    },
    growthMb: () => (statusKb(pid, 'VmHWM') - base) / 1024,
    limitHits: async (label) => {
      const text = await (await fetch(`${httpUrl}metrics`)).text()
      const m = new RegExp(`^yss_limit_hits_total\\{limit="${label}"\\} (\\d+)$`, 'm').exec(text)
      return m ? Number(m[1]) : 0
    },
    healthy: async () => (await fetch(`${httpUrl}healthz`)).status === 200,
    openGate: () => {
      proc.stdin!.write('open\n')
    },
    close: async () => {
      proc.kill('SIGKILL')
      await exited
    }
  }
  return relay
}

export interface HealthyPair {
  /** Writes `label` from one client and waits until the other holds it, over the same sockets. */
  check(label: string, timeout?: number): Promise<void>
  close(): void
}

/** Two stock y-websocket clients in a room of their own, synced. */
export const healthyPair = async (url: string, room = 'healthy'): Promise<HealthyPair> => {
  const a = stockClient(url, room)
  const b = stockClient(url, room)
  await Promise.all([a.synced, b.synced])
  const sockets = [a.provider.ws, b.provider.ws]
  let n = 0
  return {
    check: async (label, timeout = 10_000) => {
      a.state.set('check', `${label} ${++n}`)
      await untilKey(b.state, 'check', `${label} ${n}`, timeout)
      assert.deepEqual([a.provider.ws, b.provider.ws], sockets, `${label}: the healthy pair kept its sockets`)
    },
    close: () => {
      a.destroy()
      b.destroy()
    }
  }
}

/** A raw socket that has stopped reading: what the relay sends it piles up in the relay. */
export const nonReader = async (url: string, room: string): Promise<RawSocket> => {
  const raw = rawSocket(url, room)
  await raw.opened
  // ws reads from its net.Socket; pausing that stops TCP reads, so the relay's writes back up.
  socketOf(raw).pause()
  return raw
}

const socketOf = (raw: RawSocket) => (raw.ws as WebSocket & { _socket: { pause(): void; resume(): void } })._socket

/** Lets a {@link nonReader} read again. */
export const resume = (raw: RawSocket): void => {
  socketOf(raw).resume()
}

const message = (write: (e: encoding.Encoder) => void): Uint8Array => {
  const e = encoding.createEncoder()
  write(e)
  return encoding.toUint8Array(e)
}

/** Sync step 1 with an empty state vector: "send me the whole room". */
export const syncStep1 = (): Uint8Array =>
  message((e) => {
    encoding.writeVarUint(e, 0)
    encoding.writeVarUint(e, 0)
    encoding.writeVarUint8Array(e, new Uint8Array([0]))
  })

/** Query awareness: "send me every presence state". */
export const queryAwareness = (): Uint8Array => new Uint8Array([3])

/** A flush (message 100, FLUSH) with `id`: the relay answers FLUSHED once what came before is handled. */
export const flush = (id: number): Uint8Array =>
  message((e) => {
    encoding.writeVarUint(e, 100)
    encoding.writeVarUint(e, 7)
    encoding.writeVarUint(e, id)
  })

let flushes = 0
/**
 * Sends a flush on `raw` and resolves on its FLUSHED: everything `raw` sent before is handled.
 * Rejects if the socket closes first, or after `timeout` ms.
 */
export const roundTrip = (raw: RawSocket, timeout = 10_000): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    if (raw.ws.readyState !== raw.ws.OPEN) return reject(new Error('the socket is not open'))
    const id = ++flushes
    const done = (err?: Error) => {
      clearTimeout(timer)
      raw.ws.off('message', onMessage)
      raw.ws.off('close', onClose)
      if (err) reject(err)
      else resolve()
    }
    const onMessage = (data: Buffer) => {
      if (data[0] !== 100) return
      const d = decoding.createDecoder(new Uint8Array(data.subarray(1)))
      if (decoding.readVarUint(d) === 8 && decoding.readVarUint(d) === id) done()
    }
    const onClose = () => done(new Error('the socket closed before the round trip'))
    const timer = setTimeout(() => done(new Error(`no FLUSHED within ${timeout} ms`)), timeout)
    raw.ws.on('message', onMessage)
    raw.ws.on('close', onClose)
    raw.send(flush(id))
  })

/** An awareness frame publishing `states` (client id → state). */
export const awarenessFrame = (states: Array<[number, unknown]>, clock = 1): Uint8Array =>
  message((e) => {
    encoding.writeVarUint(e, 1)
    const inner = encoding.createEncoder()
    encoding.writeVarUint(inner, states.length)
    for (const [id, state] of states) {
      encoding.writeVarUint(inner, id)
      encoding.writeVarUint(inner, clock)
      encoding.writeVarString(inner, JSON.stringify(state))
    }
    encoding.writeVarUint8Array(e, encoding.toUint8Array(inner))
  })

/** An update of nothing but a delete set: `ranges` one-character ranges of `client`, every other clock. */
export const deleteBomb = (client: number, ranges: number): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0)
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint(e, client)
  encoding.writeVarUint(e, ranges)
  for (let i = 0; i < ranges; i++) {
    encoding.writeVarUint(e, 2 * i)
    encoding.writeVarUint(e, 1)
  }
  return encoding.toUint8Array(e)
}

/**
 * Runs `attack` against a child relay (`childRelay(options, gated)`) while a healthy pair syncs in
 * a room of its own; afterwards the pair must still sync over its first sockets and the relay
 * answer `/healthz`. Closes both whatever happens.
 */
export const underAttack = async (
  options: Record<string, unknown>,
  attack: (relay: ChildRelay, pair: HealthyPair) => Promise<void>,
  gated = false
): Promise<void> => {
  const relay = await childRelay(options, gated)
  let pair: HealthyPair | undefined
  try {
    pair = await healthyPair(relay.url)
    await attack(relay, pair)
    await pair.check('after the attack')
    assert.ok(await relay.healthy(), 'the relay answers /healthz')
  } finally {
    pair?.close()
    await relay.close()
  }
}
