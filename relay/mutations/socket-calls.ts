/**
 * The CALLs of socket sessions: each run by the {@link MutationRunner}, and answered with RESULT on
 * the caller's socket through the room, so that the RESULT follows the broadcast of the
 * mutation's writes (the caller's doc holds them when its `call` resolves). A connection may have
 * `maxLockRequests` calls open; more are answered `over_limit` at once. A call runs to its end
 * even if its connection closes meanwhile (as a request the relay has read does): its RESULT then
 * goes nowhere.
 *
 * @example
 *   const onCall = socketCalls(runner, limits)   // RoomContext.onCall
 *   onCall(room, peer, { type: YSS_CALL, id: 1, name: 'transfer', args: '{"amount":5}' })
 */
import { YSS_RESULT } from '../../protocol/messages.js'
import type { Limits } from '../limits.js'
import type { Peer } from '../peer.js'
import type { Call, Room } from '../room/room.js'
import { MutationFailure, type MutationRunner } from './runner.js'

export const socketCalls = (runner: MutationRunner, limits: Pick<Limits, 'maxLockRequests'>) => {
  const open = new WeakMap<Peer, number>()
  return (room: Room, peer: Peer, call: Call): void => {
    const fail = (err: unknown) => {
      const f = err instanceof MutationFailure ? err : new MutationFailure('mutation_failed', String(err))
      room.send(peer, { type: YSS_RESULT, id: call.id, ok: false, code: f.code, message: f.message })
    }
    const n = open.get(peer) ?? 0
    if (n >= limits.maxLockRequests)
      return void fail(new MutationFailure('over_limit', `${n} calls open on this connection (maxLockRequests)`))
    let args: unknown
    try {
      args = JSON.parse(call.args)
    } catch {
      return void fail(new MutationFailure('invalid_args', 'the arguments are not JSON'))
    }
    open.set(peer, n + 1)
    const user = peer.grant?.user
    runner
      .run(room.name, call.name, args, { ...(user ? { user } : {}), via: 'socket' })
      .then((result) => room.send(peer, { type: YSS_RESULT, id: call.id, ok: true, result: JSON.stringify(result) }), fail)
      .finally(() => {
        open.set(peer, (open.get(peer) ?? 1) - 1)
      })
  }
}
