/**
 * How many sockets each client address holds open: past `max`, another upgrade from it is
 * answered 429 before any WebSocket is made. Loopback addresses are not counted unless asked
 * (`capLoopback`): behind a reverse proxy on the same host every client has one of them.
 *
 * @example
 *   const perAddress = new PerAddress(256, false)
 *   if (!perAddress.admit(socket.remoteAddress)) return refuse429(socket)
 *   socket.once('close', () => perAddress.release(socket.remoteAddress))
 */
import { isLoopbackHost } from './access-control.js'

export class PerAddress {
  private readonly open = new Map<string, number>()

  /** `max` 0: no cap. */
  constructor(
    private readonly max: number,
    private readonly capLoopback: boolean
  ) {}

  /** Counts one more socket of `address`, unless it holds `max` already: then false, and nothing counted. */
  admit(address: string | undefined): boolean {
    if (this.max === 0 || address === undefined || (!this.capLoopback && isLoopbackHost(address))) return true
    const n = this.open.get(address) ?? 0
    if (n >= this.max) return false
    this.open.set(address, n + 1)
    return true
  }

  /** A socket that {@link admit} counted has closed. */
  release(address: string | undefined): void {
    if (address === undefined) return
    const n = this.open.get(address)
    if (n === undefined) return
    if (n <= 1) this.open.delete(address)
    else this.open.set(address, n - 1)
  }
}
