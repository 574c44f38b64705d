/**
 * Scenario 5, chat append cost: the bytes on the wire for one message appended to a room that
 * already holds 10,000, ours (`append` onto a Y.Array) against the original's approach of
 * re-assigning the whole list under the lock.
 */
import { int } from '../lib/config.js'
import { launchRelay } from '../lib/relay.js'
import { eventually, session } from '../../test/support/helpers.js'
import { CountingWebSocket, bytesOf } from '../lib/counting-socket.js'
import { median } from '../lib/stats.js'
import { num, ratio, type Scenario, type Target } from '../lib/report.js'
import type { ServerState } from '../../client/index.js'

type Message = { nickname: string; text: string }
const message = (i: number): Message => ({ nickname: `user-${i % 97}`, text: `Hello from message ${i}, how is everyone doing today?` })

interface Way {
  label: string
  /** Sets the room up with `existing` messages, in the form this way needs. */
  seed(writer: ServerState, existing: Message[]): Promise<void>
  /** Sends one message. */
  send(writer: ServerState, m: Message): Promise<void>
}

const SEED_CHUNK = 1000

const WAYS: Way[] = [
  {
    label: 'ours: append() onto a Y.Array',
    seed: async (w, existing) => {
      for (let i = 0; i < existing.length; i += SEED_CHUNK) await w.append('messages', ...existing.slice(i, i + SEED_CHUNK))
    },
    send: (w, m) => w.append('messages', m)
  },
  {
    label: 'ours: append() inside lock()',
    seed: async (w, existing) => {
      for (let i = 0; i < existing.length; i += SEED_CHUNK) await w.append('messages', ...existing.slice(i, i + SEED_CHUNK))
    },
    // A lock's function is synchronous: inside it, append() only queues the items in the lock's writes.
    send: async (w, m) => {
      await w.lock('messages', () => {
        void w.append('messages', m)
      })
    }
  },
  {
    label: 'original: re-assign the list inside lock()',
    seed: async (w, existing) => {
      w.set('messages', existing)
    },
    send: (w, m) =>
      w.lock('messages', (s: Record<string, any>) => {
        s.messages = [...(s.messages as Message[]), m]
      })
  },
  {
    label: 'original: re-assign the list, unlocked',
    seed: async (w, existing) => {
      w.set('messages', existing)
    },
    send: async (w, m) => {
      w.set('messages', [...(w.get('messages') as Message[]), m])
    }
  }
]

const lengthOf = (s: ServerState): number => (s.get('messages') as unknown[] | undefined)?.length ?? 0

/** Bytes sent by the writer and received by one other session, per message (medians). */
const measure = async (way: Way, existing: number, samples: number): Promise<{ up: number; down: number }> => {
  const relay = await launchRelay({ system: 'ours' })
  const open: ServerState[] = []
  try {
    const writer = await session(relay.url, 'chat', { WebSocketPolyfill: CountingWebSocket })
    open.push(writer)
    const reader = await session(relay.url, 'chat', { WebSocketPolyfill: CountingWebSocket })
    open.push(reader)
    await way.seed(
      writer,
      Array.from({ length: existing }, (_, i) => message(i))
    )
    await writer.flush()
    await eventually(() => lengthOf(reader) === existing, `the reader to hold ${existing} messages`, 30_000)
    const up: number[] = []
    const down: number[] = []
    for (let k = 1; k <= samples; k++) {
      const w0 = bytesOf(writer)
      const r0 = bytesOf(reader)
      await way.send(writer, message(existing + k))
      // Bytes are counted as a frame is sent or received, before it is applied: once both hold
      // the message, the exchange is counted. No flush, whose own request would be counted.
      await eventually(() => lengthOf(reader) === existing + k && lengthOf(writer) === existing + k, 'the message to arrive', 30_000)
      up.push(bytesOf(writer).sent - w0.sent)
      down.push(bytesOf(reader).received - r0.received)
    }
    return { up: median(up), down: median(down) }
  } finally {
    for (const s of open) s.close()
    await relay.stop()
  }
}

export const chat: Scenario = {
  name: 'chat',
  title: '5. Chat append cost',
  method:
    'A room already holding M chat messages ({ nickname, text }, ~80 bytes of JSON each); one session sends one more, ' +
    "another session reads. Bytes are WebSocket payload bytes counted by the sessions' own sockets (framing excluded): " +
    '"up" is everything the writer sent for the message (lock requests included), "down" everything the reader received. ' +
    'Median of 5 messages per way.',
  async run() {
    const existing = int('BENCH_CHAT_MESSAGES', 10_000, 2_000)
    const samples = 5
    const results = new Map<Way, { up: number; down: number }>()
    for (const way of WAYS) {
      results.set(way, await measure(way, existing, samples))
      process.stderr.write(`  chat: ${way.label}\n`)
    }
    const ours = results.get(WAYS[0]!)!
    const original = results.get(WAYS[2]!)!
    const targets: Target[] = [
      {
        what: `Chat append at ${existing} messages`,
        goal: '< 1 KB on the wire',
        value: `${num(ours.up, 0)} B up, ${num(ours.down, 0)} B down`,
        met: ours.up < 1024 && ours.down < 1024
      }
    ]
    return {
      tables: [
        {
          title: `One chat message appended to ${existing} (payload bytes per message)`,
          columns: ['way', 'bytes up (writer)', 'bytes down (per reader)', 'original (locked) ÷ this, up'],
          rows: WAYS.map((w) => {
            const r = results.get(w)!
            return [w.label, num(r.up, 0), num(r.down, 0), ratio(r.up, original.up, true)]
          })
        }
      ],
      targets,
      headlines: [
        {
          figure: `Chat message appended to ${existing}: bytes up (the original's re-assignment: ${num(original.up, 0)} B)`,
          ours: `${num(ours.up, 0)} B`
        }
      ],
      notes: [`Ours sends ${ratio(ours.up, original.up, true)} fewer bytes up than the original's locked re-assignment.`]
    }
  }
}
