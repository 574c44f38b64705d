/**
 * The relay's end of an in-process connection: a {@link Peer} that a real {@link Room} sends to
 * and fails, as it would a {@link RelayConnection}. What the room sends is queued on the link's
 * `down` direction; a failure (bad input, a failed room) queues the close after the frames sent
 * before it, leaves the room and releases it to the registry, as the relay's connection does.
 *
 * @example
 *   const room = await rooms.open(link.room)
 *   const peer = new HarnessPeer(link, room, rooms, log)
 *   room.join(peer)                        // its sync step 1 is queued on link.down
 *   room.receive(peer, frame)
 *   peer.detach()                          // the client's end went away
 */
import type { Peer, PeerGrant } from '../../relay/peer.js'
import type { Room } from '../../relay/room/room.js'
import type { RoomRegistry } from '../../relay/room/registry.js'
import type { Logger } from '../../relay/log.js'
import type { LimitName } from '../../relay/limits.js'
import type { Link } from './link.js'

let nextPeerId = 1

export class HarnessPeer implements Peer {
  readonly id = nextPeerId++
  closed = false
  private corks = 0
  /** Numbers the relay's writes: frames sent under one cork are one write, as on a socket. */
  private writes = 0

  /** `grant`: what the relay lets this connection do; absent, everything. */
  constructor(
    readonly link: Link,
    readonly room: Room,
    private readonly rooms: RoomRegistry,
    private readonly log: Logger,
    readonly grant?: PeerGrant
  ) {}

  send(frame: Uint8Array): void {
    if (this.closed) return
    // The room may hand the same buffer to every peer: each link keeps its own copy.
    if (this.corks === 0) this.writes++
    this.link.down.push({ kind: 'frame', frame: new Uint8Array(frame), write: this.writes })
  }

  cork(): void {
    if (this.corks++ === 0) this.writes++
  }

  uncork(): void {
    if (this.corks > 0) this.corks--
  }

  /** Frames wait in the link until the test delivers them: there is no socket buffer to bound. */
  reserve(_bytes: number): boolean {
    return !this.closed
  }

  overLimit(limit: LimitName, code: number, reason: string): void {
    this.fail(code, `${limit}: ${reason}`)
  }

  fail(code: number, reason: string): void {
    if (this.closed) return
    this.log.warn('connection closed', { room: this.room.name, conn: this.id, code, reason })
    this.link.up.length = 0
    this.link.down.push({ kind: 'close', code, reason })
    this.link.ended = { by: 'relay', code, reason }
    this.detach()
  }

  /** Leaves the room; the connection is gone. */
  detach(): void {
    if (this.closed) return
    this.closed = true
    this.room.leave(this)
    this.rooms.released(this.room)
  }
}
