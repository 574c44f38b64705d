/**
 * `y-server-state-relay`: start the relay from code, or build on its parts.
 *
 * @example
 *   import { startRelay } from 'y-server-state-relay'
 *   const relay = await startRelay({ port: 0, dataDir: './data' })
 *   const secured = await startRelay({ host: '0.0.0.0', authSecret: process.env.AUTH_SECRET })
 *   const token = await signToken({ secret: process.env.AUTH_SECRET!, rooms: ['team/*'], access: 'read', ttl: '1h' })
 */
export { startRelay, type Relay, type RelayOptions } from './server.js'
export { AuthError, type Access, type Authenticate, type AuthResult } from './access/auth.js'
export { jwtAuthenticator, signToken, type SignTokenOptions, type TokenKey } from './access/tokens.js'
export { roomMatches, roomsCover } from '../protocol/patterns.js'
export { isLoopbackHost } from './access/access-control.js'
export type { Mutation, Mutations, MutationState, Caller } from './mutations/mutation.js'
export { keyMatches } from '../protocol/patterns.js'
export type { RoomStore } from './store/room-store.js'
export { LevelStore } from './store/level-store.js'
export { MemoryStore } from './store/memory-store.js'
export { localBus, type Bus } from './room/bus.js'
export { LeaseTable, type LeaseRequest, type LeaseTableOptions } from './locks/lease-table.js'
export type { CommitOutcome, LeaseCallbacks, LeaseHolderRequest, LeaseTableFactory, Leases } from './locks/leases.js'
export { UnavailableError } from './store/unavailable.js'
export { createLogger, type Logger, type LogLevel } from './log.js'
export { isRoomName, roomFromPath, roomPath, MAX_ROOM_BYTES } from '../protocol/room-names.js'
export type {
  InspectorOverview,
  RoomSummary,
  InspectedRoom,
  InspectedConnection,
  InspectedLock,
  InspectedRequest
} from '../protocol/inspector.js'
