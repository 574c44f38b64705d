/**
 * The recent events of a room's feed, for a watcher that reconnects with the id of the last
 * event it got: bounded by a count and by the bytes of the events' JSON, the oldest dropped
 * first.
 *
 * @example
 *   const ring = new EventRing<{ seq: number; json: string }>(1024, 4 * 1024 * 1024)
 *   ring.push({ seq: 1, json: '{}' })
 *   ring.after(0)   // [{ seq: 1, … }]: every event after seq 0
 *   ring.after(-5)  // null: events before the oldest held were dropped
 */
export interface RingEvent {
  readonly seq: number
  readonly json: string
}

export class EventRing<E extends RingEvent> {
  private readonly events: E[] = []
  /** Index of the oldest event held in `events` (dropped ones are cut in bulk). */
  private head = 0
  private bytes = 0
  /** The sequence number of the last event dropped; 0 while none was. */
  private droppedUpTo = 0

  constructor(
    private readonly maxEvents: number,
    private readonly maxBytes: number
  ) {}

  push(event: E): void {
    this.events.push(event)
    this.bytes += event.json.length
    while (this.size > this.maxEvents || (this.bytes > this.maxBytes && this.size > 0)) {
      const oldest = this.events[this.head++]!
      this.bytes -= oldest.json.length
      this.droppedUpTo = oldest.seq
    }
    // Cut the dropped prefix once it is half the array: amortised O(1) a push.
    if (this.head > 64 && this.head * 2 > this.events.length) {
      this.events.splice(0, this.head)
      this.head = 0
    }
  }

  get size(): number {
    return this.events.length - this.head
  }

  /** The events after `seq`, in order; null when some of them were dropped already. */
  after(seq: number): E[] | null {
    if (seq < this.droppedUpTo) return null
    const out: E[] = []
    for (let i = this.head; i < this.events.length; i++) if (this.events[i]!.seq > seq) out.push(this.events[i]!)
    return out
  }
}
