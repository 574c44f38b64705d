/**
 * One in-process connection between a client's {@link FakeSocket} and the relay: two queues,
 * one a direction, that hold what is in flight until the test delivers it.
 *
 * - `up` (client → relay) holds the frames the client sent, then a `close` if it closed the socket.
 * - `down` (relay → client) starts with the `open` of the handshake, then holds the frames the
 *   room sent, then a `close` if the relay closed the connection.
 *
 * A direction that is held is skipped by `flushAll()` (but not by an explicit delivery). A link
 * that is dropped loses whatever is in flight both ways, as a broken TCP connection does. The
 * link only keeps the queues; {@link Network} moves events along them.
 *
 * @example
 *   const link = net.link('A')         // A's current connection
 *   link.pending('down')               // events waiting for A
 *   link.queued('down').filter((f) => updateOf(f) !== null).length  // sync updates among them
 */
import type { FakeSocket } from './fake-socket.js'
import type { Peer } from '../../relay/peer.js'
import type { Room } from '../../relay/room/room.js'

/** The relay's end of a link (a HarnessPeer), as the network drives it. */
export interface RelayEnd extends Peer {
  readonly room: Room
  detach(): void
}

export type Direction = 'up' | 'down'

export type WireEvent =
  | { kind: 'open' }
  /** `write`: frames the relay sent while its end was corked share one number (one TCP write). */
  | { kind: 'frame'; frame: Uint8Array; write?: number }
  | { kind: 'close'; code: number; reason: string }

let nextLinkId = 1

export class Link {
  readonly id = nextLinkId++
  /** `connecting` until its `open` is delivered; `closed` once either end closed or it was dropped. */
  state: 'connecting' | 'open' | 'closed' = 'connecting'
  /** The relay's end, once the `open` was delivered. */
  peer: RelayEnd | null = null
  readonly up: WireEvent[] = []
  readonly down: WireEvent[] = [{ kind: 'open' }]
  readonly held = { up: false, down: false }
  /** Every frame delivered so far, by direction. */
  readonly delivered: Record<Direction, Uint8Array[]> = { up: [], down: [] }
  /** How the connection ended: who closed it, and the code. */
  ended: { by: 'client' | 'relay' | 'drop'; code: number; reason: string } | null = null

  /** `client` is the session's harness name; `room`, the room its URL names. */
  constructor(
    readonly client: string,
    readonly room: string,
    readonly socket: FakeSocket
  ) {}

  /** How many events wait in `direction`. */
  pending(direction: Direction): number {
    return this[direction].length
  }

  /** The frames waiting in `direction`, oldest first (not the open or close events). */
  queued(direction: Direction): Uint8Array[] {
    const frames: Uint8Array[] = []
    for (const e of this[direction]) if (e.kind === 'frame') frames.push(e.frame)
    return frames
  }

  /** Whether `flushAll()` would deliver something in `direction` now. */
  deliverable(direction: Direction): boolean {
    return !this.held[direction] && this[direction].length > 0
  }

  /** Loses everything in flight, both ways. */
  clear(): void {
    this.up.length = 0
    this.down.length = 0
  }

  toString(): string {
    return `link ${this.id} (${this.client} in ${JSON.stringify(this.room)}, ${this.state})`
  }
}
