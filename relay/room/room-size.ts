/**
 * A room's size, as the bytes of one update of the whole room (what a joining client downloads),
 * kept as an estimate so that no update has to encode the room: exact after each compaction (at
 * load, the stored updates' total bytes, at or above the real size), then raised by every update
 * the doc integrates, by its bytes plus {@link SPLIT_BYTES} a struct and deleted range it carries
 * (a delete inside an item splits it, and each piece is encoded on its own). So the estimate
 * stays at or above the real size.
 *
 * An update may be applied only if the room, grown by at most its bytes plus `SPLIT_BYTES` a struct
 * and deleted range, stays within `maxBytes`. When it would not, and the room grew by a sixteenth
 * of the limit since it was last measured, the room is measured again first (it may have shrunk:
 * deletes are counted as growth), so that an honest room is not refused on an estimate, and a room
 * filled on purpose is measured at most sixteen times on the way.
 *
 * @example
 *   const size = new RoomSize(32 * MiB, () => Y.encodeStateAsUpdate(doc).length)
 *   if (!size.admits(update.length, cost.items)) refuse()
 *   doc.on('update', (u) => size.grew(u))
 */
import { updateCost } from './update-cost.js'

/** What one struct or deleted range may add to the encoded room, beyond its own bytes. */
export const SPLIT_BYTES = 24

export class RoomSize {
  private estimate = 0
  private sinceMeasured = 0

  constructor(
    private readonly maxBytes: number,
    private readonly measure: () => number
  ) {}

  /** The estimate, at or above the encoded room. */
  get bytes(): number {
    return this.estimate
  }

  /** The room was encoded whole: `bytes` is its exact size. */
  measured(bytes: number): void {
    this.estimate = bytes
    this.sinceMeasured = 0
  }

  /** Whether an update of `bytes` bytes carrying `items` structs and deleted ranges fits. */
  admits(bytes: number, items: number): boolean {
    const growth = bytes + SPLIT_BYTES * items
    if (this.estimate + growth <= this.maxBytes) return true
    if (this.sinceMeasured * 16 < this.maxBytes) return false
    this.measured(this.measure())
    return this.estimate + growth <= this.maxBytes
  }

  /** The doc integrated `update` (its own 'update' event: only what was new). */
  grew(update: Uint8Array): void {
    const growth = update.length + SPLIT_BYTES * updateCost(update).items
    this.estimate += growth
    this.sinceMeasured += growth
  }
}
