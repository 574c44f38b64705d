/**
 * Presence across relays: each relay publishes the awareness changes of its own sessions on the
 * room's Redis channel, and applies the others' to the room's awareness (the room then sends them
 * to its sessions as usual). A relay that loads a room asks the others for their sessions'
 * states. Every remote state is remembered with the relay it came from; a relay whose liveness
 * key expired (it died) has its sessions' states removed within `checkMs` of that, so a dead
 * relay's presence is gone within its liveness TTL plus `checkMs`. (States also time out after
 * y-protocols' 30 s without renewal, as on one relay.)
 *
 * Message: varString relay id, varUint kind (0 update, 1 query), varUint8Array awareness update.
 *
 * @example
 *   const presence = new Presence(redis, subscriber, keys, () => live.id, metrics, 1_000)
 *   const detach = presence.attach('default', room.awareness)
 */
import type { Redis } from 'ioredis'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as awarenessProtocol from 'y-protocols/awareness'
import type { ClusterKeys } from './keys.js'
import type { ClusterMetrics } from './cluster-metrics.js'

const REMOTE = Symbol('another relay')
const UPDATE = 0
const QUERY = 1

interface Attached {
  awareness: awarenessProtocol.Awareness
  /** Client id → the relay whose session it is. */
  remote: Map<number, string>
}

/** The client ids an awareness update names, and whether each is removed (null state). */
const clientsOf = (update: Uint8Array): Array<{ id: number; removed: boolean }> => {
  const d = decoding.createDecoder(update)
  const n = decoding.readVarUint(d)
  const out: Array<{ id: number; removed: boolean }> = []
  for (let i = 0; i < n; i++) {
    const id = decoding.readVarUint(d)
    decoding.readVarUint(d) // clock
    out.push({ id, removed: decoding.readVarString(d) === 'null' })
  }
  return out
}

export class Presence {
  private readonly rooms = new Map<string, Attached>()
  private readonly byChannel = new Map<string, string>()
  private readonly timer: ReturnType<typeof setInterval>

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly keys: ClusterKeys,
    private readonly relayId: () => string,
    private readonly metrics: ClusterMetrics,
    checkMs: number
  ) {
    subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      const room = this.byChannel.get(channel.toString())
      if (room !== undefined) this.receive(room, new Uint8Array(message.buffer, message.byteOffset, message.byteLength))
    })
    this.timer = setInterval(() => void this.sweep(), checkMs)
    this.timer.unref()
  }

  attach(room: string, awareness: awarenessProtocol.Awareness): () => void {
    const attached: Attached = { awareness, remote: new Map() }
    const channel = this.keys.presence(room)
    this.rooms.set(room, attached)
    this.byChannel.set(channel, room)
    const onUpdate = ({ added, updated, removed }: Record<string, number[]>, origin: unknown) => {
      if (origin === REMOTE || origin === 'timeout' || origin === 'local') return
      const mine = [...added!, ...updated!, ...removed!].filter((id) => !attached.remote.has(id) && id !== awareness.clientID)
      if (mine.length > 0) this.publish(room, UPDATE, awarenessProtocol.encodeAwarenessUpdate(awareness, mine))
    }
    awareness.on('update', onUpdate)
    this.subscriber.subscribe(channel).then(
      () => this.publish(room, QUERY, new Uint8Array(0)),
      () => {}
    )
    return () => {
      awareness.off('update', onUpdate)
      if (this.rooms.get(room) === attached) {
        this.rooms.delete(room)
        this.byChannel.delete(channel)
        this.subscriber.unsubscribe(channel).catch(() => {})
      }
    }
  }

  close(): void {
    clearInterval(this.timer)
  }

  private publish(room: string, kind: number, update: Uint8Array): void {
    const e = encoding.createEncoder()
    encoding.writeVarString(e, this.relayId())
    encoding.writeVarUint(e, kind)
    encoding.writeVarUint8Array(e, update)
    this.redis.publish(this.keys.presence(room), Buffer.from(encoding.toUint8Array(e))).catch(() => {})
  }

  private receive(room: string, message: Uint8Array): void {
    const attached = this.rooms.get(room)
    if (!attached) return
    try {
      const d = decoding.createDecoder(message)
      const relay = decoding.readVarString(d)
      if (relay === this.relayId()) return
      const kind = decoding.readVarUint(d)
      const update = decoding.readVarUint8Array(d)
      this.metrics.inc('presence_messages_total')
      const { awareness, remote } = attached
      if (kind === QUERY) {
        const mine = [...awareness.getStates().keys()].filter((id) => !remote.has(id) && id !== awareness.clientID)
        if (mine.length > 0) this.publish(room, UPDATE, awarenessProtocol.encodeAwarenessUpdate(awareness, mine))
        return
      }
      for (const { id, removed } of clientsOf(update)) {
        if (removed) remote.delete(id)
        else remote.set(id, relay)
      }
      awarenessProtocol.applyAwarenessUpdate(awareness, update, REMOTE)
    } catch {
      // a malformed message from another relay: ignored
    }
  }

  /** Removes the states of sessions whose relay is gone. */
  private async sweep(): Promise<void> {
    const relays = new Set<string>()
    for (const { remote } of this.rooms.values()) for (const r of remote.values()) relays.add(r)
    if (relays.size === 0 || this.redis.status !== 'ready') return
    const list = [...relays]
    let alive: number[]
    try {
      alive = await Promise.all(list.map((r) => this.redis.exists(this.keys.relay(r))))
    } catch {
      return
    }
    const dead = new Set(list.filter((_, i) => alive[i] === 0))
    if (dead.size === 0) return
    for (const { awareness, remote } of this.rooms.values()) {
      const gone = [...remote].filter(([, r]) => dead.has(r)).map(([id]) => id)
      for (const id of gone) remote.delete(id)
      if (gone.length > 0) awarenessProtocol.removeAwarenessStates(awareness, gone, REMOTE)
    }
  }
}
