/**
 * Two sessions of one room that also sync directly, as two tabs of one browser do over a
 * BroadcastChannel, except that the test forwards each doc update explicitly.
 *
 * It does what y-websocket's channel does (sessions are made with `broadcastChannel: false`, so
 * the real one is off): a session publishes every update of its doc whose origin is not its own
 * provider, that is its own writes, never what it got from the relay or from the channel; the
 * other session's provider handles it as a frame from its channel, so that it does not send it
 * on to the relay. An update that reached a tab only this way is therefore unknown to the relay until the
 * writing tab's own socket sends it.
 *
 * @example
 *   const bc = new ChannelPair(a, b)
 *   a.set('x', 100)          // A's socket may be down: the write waits in bc
 *   bc.pending(a)            // 1
 *   bc.forward(a)            // B now reads x === 100; the relay does not know it
 *   bc.close()
 */
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'
import { MESSAGE_SYNC } from '../../protocol/messages.js'
import type { ServerState } from '../../client/session.js'

/** y-websocket's handler of what arrives on its BroadcastChannel (private in y-websocket 3.1). */
type ChannelSubscriber = (data: ArrayBuffer | Uint8Array, origin: unknown) => void

interface End {
  session: ServerState<any>
  /** Updates this end published, waiting for the other end. */
  outbox: Uint8Array[]
  stop(): void
}

export class ChannelPair {
  private readonly ends: [End, End]

  constructor(a: ServerState<any>, b: ServerState<any>) {
    if (a.room !== b.room) throw new Error(`ChannelPair: ${a.room} and ${b.room} are different rooms`)
    this.ends = [this.listen(a), this.listen(b)]
  }

  /** Updates `from` published that the other end has not applied yet. */
  pending(from: ServerState<any>): number {
    return this.end(from).outbox.length
  }

  /** Applies up to `n` of `from`'s published updates to the other session, in order; returns how many. */
  forward(from: ServerState<any>, n = Infinity): number {
    const source = this.end(from)
    const target = this.ends[0] === source ? this.ends[1] : this.ends[0]
    const updates = source.outbox.splice(0, n)
    // Through the provider's own channel handler, as a frame from another tab would arrive.
    const subscriber = (target.session.provider as unknown as { _bcSubscriber: ChannelSubscriber })._bcSubscriber
    for (const update of updates) {
      const e = encoding.createEncoder()
      encoding.writeVarUint(e, MESSAGE_SYNC)
      syncProtocol.writeUpdate(e, update)
      subscriber(encoding.toUint8Array(e), this)
    }
    return updates.length
  }

  /** Stops listening; what was not forwarded is lost. */
  close(): void {
    for (const end of this.ends) {
      end.stop()
      end.outbox.length = 0
    }
  }

  private end(session: ServerState<any>): End {
    const end = this.ends.find((e) => e.session === session)
    if (!end) throw new Error("ChannelPair: not one of this pair's sessions")
    return end
  }

  private listen(session: ServerState<any>): End {
    const outbox: Uint8Array[] = []
    const onUpdate = (update: Uint8Array, origin: unknown) => {
      if (origin !== session.provider) outbox.push(update)
    }
    session.doc.on('update', onUpdate)
    return { session, outbox, stop: () => session.doc.off('update', onUpdate) }
  }
}
