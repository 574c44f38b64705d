/**
 * The change feeds of a relay's rooms: one {@link RoomFeed} a loaded room, attached the first
 * time someone watches it (an event stream, a webhook) and dropped once it detaches (nobody
 * watched for its linger time, or the room unloaded). A room nobody watches pays nothing.
 *
 * @example
 *   const feeds = new Feeds({ lingerMs: 60_000, maxEvents: 1024, maxBytes: 4 * MiB, log })
 *   const stop = feeds.of(room).watch(watcher, { snapshot: true })
 */
import type { Room } from '../room/room.js'
import { RoomFeed, type FeedOptions } from './room-feed.js'

export const DEFAULT_FEED_OPTIONS: Omit<FeedOptions, 'log'> = {
  lingerMs: 60_000,
  maxEvents: 1_024,
  maxBytes: 4 * 1024 * 1024
}

export class Feeds {
  private readonly feeds = new Map<Room, RoomFeed>()

  constructor(private readonly options: FeedOptions) {}

  /** The feed of `room`, attached now if it has none. */
  of(room: Room): RoomFeed {
    let feed = this.feeds.get(room)
    if (!feed) {
      feed = new RoomFeed(room, this.options, (closed) => {
        if (this.feeds.get(room) === closed) this.feeds.delete(room)
      })
      this.feeds.set(room, feed)
    }
    return feed
  }

  /** Feeds attached now. */
  get size(): number {
    return this.feeds.size
  }

  /** Detaches every feed; their watchers are told. */
  close(): void {
    for (const feed of [...this.feeds.values()]) feed.close()
  }
}
