/**
 * The deterministic multi-session harness: real relay rooms and real client sessions in one
 * process, over fake sockets whose every frame the test delivers. See {@link Network}.
 *
 * @example
 *   import { Network, ChannelPair } from './harness/index.js'
 *   const net = new Network()
 *   const [a, b] = [await net.session('A', 'r'), await net.session('B', 'r')]
 *   a.set('x', 1); b.set('y', 2)
 *   await net.deliverBatch([net.link('A'), net.link('B')])   // one merged broadcast
 *   await net.flushAll()
 *   await net.close()
 */
export { Network, HARNESS_URL, type NetworkOptions } from './network.js'
export { Link, type Direction, type WireEvent } from './link.js'
export { FakeSocket, fakeWebSocket, type SocketHost, type CloseInfo } from './fake-socket.js'
export { HarnessPeer } from './relay-peer.js'
export { HarnessBus } from './harness-bus.js'
export { ChannelPair } from './channel-pair.js'
