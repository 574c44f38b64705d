/**
 * Binding: which code read which keys, so that a change notifies exactly the code that showed it.
 *
 * A {@link Tracker} runs a function and is bound to exactly the keys read during that run; its
 * next run replaces the bindings, and `dispose` removes them. When keys change, every tracker
 * bound to one of them is notified once, with the keys it is bound to among them. A tracker that
 * is running when the change happens (it wrote during its own run) is not notified, so a write
 * made while rendering cannot loop.
 *
 * @example
 *   const t = server.tracker((keys) => console.log('changed:', [...keys]))
 *   t.run(() => server.get('count'))  // bound to "count"
 *   t.run(() => server.get('other'))  // now bound to "other" only
 *   t.dispose()
 */
export type ChangeListener = (keys: ReadonlySet<string>) => void

/**
 * Reports a listener's error the way the platform reports an event listener's: in a browser
 * `reportError` (the console, and `window.onerror`); in Node an uncaught exception on its own
 * turn, so it can neither be lost nor break the code that notified.
 */
const reportError = (err: unknown): void => {
  const report = (globalThis as { reportError?: (e: unknown) => void }).reportError
  if (report) report(err)
  else
    setTimeout(() => {
      throw err
    })
}

export class Bindings {
  private readonly byKey = new Map<string, Set<Tracker>>()
  private readonly running: Tracker[] = []

  /** Records a read of `key` by the tracker running now, if any. */
  read(key: string): void {
    this.running[this.running.length - 1]?.reading.add(key)
  }

  /** The trackers running now, innermost last: a write made now must not re-notify them. */
  runningNow(): readonly Tracker[] {
    return [...this.running]
  }

  /**
   * Notifies each bound tracker once, with its own keys among `keys`. Skips the trackers that are
   * running, and for each key the trackers `spared(key)` names: the ones that were running when
   * that key's change was written, whose transaction Yjs may finish only after their run
   * returned. A listener that throws does not stop the others; its error is reported afterwards.
   */
  notify(keys: Iterable<string>, spared: (key: string) => readonly Tracker[] = () => []): void {
    const hits = new Map<Tracker, Set<string>>()
    for (const key of keys) {
      const skip = spared(key)
      for (const t of this.byKey.get(key) ?? []) {
        if (this.running.includes(t) || skip.includes(t)) continue
        let mine = hits.get(t)
        if (!mine) {
          mine = new Set()
          hits.set(t, mine)
        }
        mine.add(key)
      }
    }
    const errors: unknown[] = []
    for (const [t, mine] of hits) {
      if (t.disposed) continue
      try {
        t.onChange(mine)
      } catch (err) {
        errors.push(err)
      }
    }
    for (const err of errors) reportError(err)
  }

  /** How many trackers are bound to `key`. */
  count(key: string): number {
    return this.byKey.get(key)?.size ?? 0
  }

  /** @internal */
  begin(t: Tracker): void {
    this.running.push(t)
  }

  /** @internal */
  end(t: Tracker, keys: Set<string>): void {
    this.running.splice(this.running.lastIndexOf(t), 1)
    this.rebind(t, keys)
  }

  /** @internal */
  rebind(t: Tracker, keys: Set<string>): void {
    for (const k of t.keys) if (!keys.has(k)) this.unbind(t, k)
    for (const k of keys) {
      if (t.keys.has(k)) continue
      let set = this.byKey.get(k)
      if (!set) {
        set = new Set()
        this.byKey.set(k, set)
      }
      set.add(t)
    }
    t.keys = keys
  }

  private unbind(t: Tracker, key: string): void {
    const set = this.byKey.get(key)
    set?.delete(t)
    if (set?.size === 0) this.byKey.delete(key)
  }
}

export class Tracker {
  /** The keys read during the last run. */
  keys: ReadonlySet<string> = new Set()
  disposed = false
  /** @internal keys read by the run in progress */
  reading = new Set<string>()

  constructor(
    private readonly bindings: Bindings,
    readonly onChange: ChangeListener
  ) {}

  /**
   * Runs `fn` and binds this tracker to exactly the keys it read, replacing the previous
   * bindings. If `fn` throws, the tracker is bound to what it read before the throw.
   */
  run<R>(fn: () => R): R {
    if (this.disposed) throw new Error('tracker.run() after dispose()')
    const outer = this.reading
    this.reading = new Set()
    this.bindings.begin(this)
    try {
      return fn()
    } finally {
      const read = this.reading
      this.reading = outer
      this.bindings.end(this, read as Set<string>)
    }
  }

  /** Removes every binding; the tracker is never notified again. */
  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    this.bindings.rebind(this, new Set())
  }
}
