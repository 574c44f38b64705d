/**
 * Calls of the relay's server mutations: `server.call(name, args)` sends a CALL on the session's
 * socket and resolves with the mutation's result, from the relay's RESULT. The relay sends RESULT
 * only once the mutation's writes are stored and broadcast, and the broadcast comes first on the
 * same socket: when `call` resolves, the session's doc already holds those writes.
 *
 * A call needs the relay: offline it rejects at once (`unavailable`), as a lock does; while
 * connecting it waits for the connection up to the session's lock timeout. If the socket drops
 * after the CALL went out, the call rejects with `unavailable`, and the mutation may or may not
 * have been applied: a mutation meant to be called again after that should be idempotent.
 *
 * @example
 *   const calls = new Calls(connection, 10_000)
 *   const { balance } = await calls.call<{ balance: number }>('deposit', { amount: 5 })
 */
import { YSS_CALL, YSS_RESULT, MAX_MUTATION_NAME } from '../protocol/messages.js'
import { toFrozenJson, type Json } from '../protocol/json.js'
import { MutationError, ReadOnlyError, SessionClosedError } from './errors.js'
import type { Connection } from './connection.js'

export class Calls {
  constructor(
    private readonly conn: Connection,
    private readonly connectTimeout: number
  ) {}

  /** Runs the relay's mutation `name` with `args` (JSON); see the module comment. */
  async call<R = Json>(name: string, args?: Json): Promise<R> {
    if (typeof name !== 'string' || name === '' || name.length > MAX_MUTATION_NAME)
      throw new TypeError(`call(name): a mutation name of 1 to ${MAX_MUTATION_NAME} characters`)
    const text = JSON.stringify(toFrozenJson(`call("${name}") arguments`, args === undefined ? null : args))
    const conn = this.conn
    if (conn.isClosed) throw new SessionClosedError(`call("${name}") after close()`)
    if (conn.status === 'disconnected') throw new MutationError('unavailable', name, 'the session is offline')
    if (conn.status !== 'connected')
      await conn.untilConnected(
        this.connectTimeout,
        () => new MutationError('unavailable', name, `not connected within ${this.connectTimeout} ms`)
      )
    if (conn.access === 'read') throw new ReadOnlyError(`call("${name}")`, conn.room)
    const id = conn.newRequestId()
    return new Promise<R>((resolve, reject) => {
      const done = () => {
        off()
        conn.lost.delete(onLost)
        conn.closed.delete(onClosed)
      }
      const fail = (err: Error) => {
        done()
        reject(err)
      }
      const onLost = () =>
        fail(
          new MutationError(
            'unavailable',
            name,
            'the connection dropped before the result came; the mutation may or may not have been applied'
          )
        )
      const onClosed = (err: Error) => fail(err)
      const off = conn.onReply(id, (m) => {
        if (m.type !== YSS_RESULT) return
        if (m.ok) {
          done()
          resolve(JSON.parse(m.result) as R)
        } else if (m.code === 'read_only') fail(new ReadOnlyError(`call("${name}")`, conn.room))
        else fail(new MutationError(m.code, name, m.message))
      })
      conn.lost.add(onLost)
      conn.closed.add(onClosed)
      if (!conn.send({ type: YSS_CALL, id, name, args: text }))
        fail(new MutationError('unavailable', name, 'the connection dropped; nothing was sent'))
    })
  }
}
