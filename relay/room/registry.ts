/**
 * The rooms a relay holds in memory: each loaded once, however many connections ask for it at
 * once; unloaded (compacted first) once it has had no connection for `idleUnloadMs`, or at once
 * when more than `maxIdleRooms` rooms wait so (the longest idle first: 2,000 connect-and-leave
 * cycles would otherwise keep 2,000 rooms for the idle window); dropped when it fails, so the
 * next connection loads it afresh from the store.
 *
 * @example
 *   const rooms = new RoomRegistry(context, 30_000)
 *   const room = await rooms.open('default')   // loads it, or waits for the load in progress
 *   rooms.released(room)                       // its last peer left: unload it later
 *   await rooms.close()
 */
import { Room, type RoomContext } from './room.js'

interface Entry {
  room: Promise<Room>
  loaded?: Room
  /** Holders other than connections (event streams) that keep the room loaded. */
  holds: number
  timer?: ReturnType<typeof setTimeout>
  unloading?: Promise<void>
}

export class RoomRegistry {
  private readonly rooms = new Map<string, Entry>()
  private readonly loadListeners = new Set<(room: Room) => void>()
  /** The rooms with no connection that wait to be unloaded, the longest idle first. */
  private readonly idleRooms = new Map<Entry, Room>()
  private readonly ctx: RoomContext

  constructor(
    ctx: Omit<RoomContext, 'onFailed'>,
    private readonly idleUnloadMs: number
  ) {
    this.ctx = { ...ctx, onFailed: (room) => this.drop(room.name) }
  }

  /** Names of the rooms in memory, loaded or loading. */
  names(): string[] {
    return [...this.rooms.keys()]
  }

  get size(): number {
    return this.rooms.size
  }

  /** The rooms loaded so far. */
  loaded(): Room[] {
    const rooms: Room[] = []
    for (const entry of this.rooms.values()) if (entry.loaded) rooms.push(entry.loaded)
    return rooms
  }

  /** The room, loaded if it is not in memory. Rejects, and serves nothing, if it fails to load. */
  async open(name: string): Promise<Room> {
    let entry = this.rooms.get(name)
    while (entry?.unloading) {
      await entry.unloading
      entry = this.rooms.get(name)
    }
    if (entry) {
      clearTimeout(entry.timer)
      entry.timer = undefined
      this.idleRooms.delete(entry)
      return entry.room
    }
    const room = Room.load(name, this.ctx)
    const created: Entry = { room, holds: 0 }
    this.rooms.set(name, created)
    room.then(
      (r) => {
        created.loaded = r
        this.ctx.metrics.inc('rooms_loaded_total')
        for (const listener of this.loadListeners) listener(r)
      },
      (err) => {
        if (this.rooms.get(name) === created) this.rooms.delete(name)
        this.ctx.metrics.inc('errors_total')
        this.ctx.log.error('room failed to load; not served', { room: name, error: String(err) })
      }
    )
    return room
  }

  /** Calls `listener` with each room as it loads, before anyone it was opened for gets it. */
  onLoad(listener: (room: Room) => void): void {
    this.loadListeners.add(listener)
  }

  /**
   * Keeps `room` (just opened) loaded, as a connection does, until the returned function is
   * called: for a holder that is no connection, an event stream.
   */
  hold(room: Room): () => void {
    const entry = this.rooms.get(room.name)
    if (entry?.loaded !== room) return () => {}
    entry.holds++
    let held = true
    return () => {
      if (!held) return
      held = false
      entry.holds--
      this.released(room)
    }
  }

  /** Unloads `room` after the idle time, unless a connection comes back first; at once if too many rooms are idle. */
  released(room: Room): void {
    const entry = this.rooms.get(room.name)
    // A room dropped (failed) may be released after the next of its name loaded: not that one.
    if (!entry || entry.loaded !== room || room.peers.size > 0 || entry.holds > 0 || entry.timer || entry.unloading) return
    entry.timer = setTimeout(() => this.unload(entry, room), this.idleUnloadMs)
    entry.timer.unref()
    this.idleRooms.set(entry, room)
    if (this.idleRooms.size <= this.ctx.limits.maxIdleRooms) return
    const [oldest, oldestRoom] = this.idleRooms.entries().next().value!
    clearTimeout(oldest.timer)
    this.ctx.metrics.limitHit('maxIdleRooms')
    this.unload(oldest, oldestRoom)
  }

  private unload(entry: Entry, room: Room): void {
    entry.timer = undefined
    this.idleRooms.delete(entry)
    if (room.peers.size > 0 || entry.holds > 0 || this.rooms.get(room.name) !== entry) return
    entry.unloading = (async () => {
      try {
        await room.compact()
      } catch (err) {
        this.ctx.log.error('compaction on unload failed', { room: room.name, error: String(err) })
      }
      this.rooms.delete(room.name)
      this.ctx.store.forget?.(room.name)
      room.destroy()
      this.ctx.metrics.inc('rooms_unloaded_total')
      this.ctx.log.debug('room unloaded', { room: room.name })
    })()
  }

  /** Waits until every loaded room has handled, stored and sent what it has queued. */
  async idle(): Promise<void> {
    const loaded = await Promise.allSettled([...this.rooms.values()].map((e) => e.room))
    for (const r of loaded) if (r.status === 'fulfilled') await r.value.idle()
  }

  /** Compacts and drops every room. */
  async close(): Promise<void> {
    const loaded = await Promise.allSettled([...this.rooms.values()].map((e) => e.room))
    for (const r of loaded) {
      if (r.status !== 'fulfilled') continue
      await r.value.compact().catch(() => {})
      r.value.destroy()
    }
    for (const entry of this.rooms.values()) clearTimeout(entry.timer)
    this.rooms.clear()
    this.idleRooms.clear()
  }

  private drop(name: string): void {
    const entry = this.rooms.get(name)
    if (!entry) return
    this.rooms.delete(name)
    clearTimeout(entry.timer)
    this.idleRooms.delete(entry)
    void entry.room.then(
      (r) => r.destroy(),
      () => {}
    )
  }
}
