/**
 * `y-server-state/relay`: start the relay from code, or build on its parts.
 *
 * @example
 *   import { startRelay } from 'y-server-state/relay'
 *   const relay = await startRelay({ port: 0, dataDir: './data' })
 */
export { startRelay, type Relay, type RelayOptions } from './server.js'
export { LevelStore, MemoryStore, type RoomStore } from './store.js'
export { localBus, type Bus } from './bus.js'
export { LeaseTable, type LeaseRequest, type LeaseTableOptions } from './leases.js'
export { createLogger, type Logger, type LogLevel } from './log.js'
export { isRoomName, roomFromPath, roomPath, MAX_ROOM_BYTES } from '../protocol/room-names.js'
