/**
 * What a room needs of a lease table, whoever keeps it: the in-process {@link LeaseTable}
 * (one relay) or a table shared by several relays (`relay/cluster/shared-leases.ts`, in Redis).
 *
 * Calls are synchronous and return values, never promises, so that the one-relay path awaits
 * nothing. A shared table answers what it can from its local view (`isGranted`, `release`'s
 * return) and reports the rest through the callbacks: `onGrant` (possibly long after `acquire`,
 * and always once the room holds every update stored before the grant), `onDeny` (the request
 * cannot be served, e.g. the shared store is unreachable). A shared table also has `commit`:
 * checking a lease and storing its commit must be one atomic step there, so the room hands it
 * the update instead of applying it.
 *
 * @example
 *   const table: Leases<Peer> = ctx.leaseTables?.(room, callbacks) ?? new LeaseTable(callbacks)
 *   table.acquire(peer, 1, ['a'])       // onGrant(request) now or later
 *   if (table.commit) await table.commit(peer, 1, update)   // shared: { ok: true } or { ok: false, reason }
 *   else table.release(peer, 1)
 */

export interface LeaseHolderRequest<H> {
  readonly holder: H
  readonly id: number
  readonly keys: readonly string[]
}

/** A request as a table's {@link Leases.snapshot} shows it. */
export interface LeaseView<H> extends LeaseHolderRequest<H> {
  /** When it was asked for (`Date.now()`). */
  readonly requestedAt: number
  /** When it came to hold all its keys, or undefined while it waits. */
  grantedAt: number | undefined
}

/** One key in {@link Leases.snapshot}: who holds it, and who waits for it, in order. */
export interface KeyLeases<H> {
  key: string
  holder: LeaseView<H> | null
  waiting: LeaseView<H>[]
}

/** What one holder has open, held or waiting. */
export interface HolderLoad {
  requests: number
  /** UTF-16 code units of the keys its open requests name. */
  keyChars: number
}

export interface LeaseCallbacks<H> {
  /** How long a granted lease lasts before it is taken back. */
  leaseMs: number
  onGrant(request: LeaseHolderRequest<H>): void
  /** A granted lease outlived `leaseMs` and was taken back (in-process tables only). */
  onExpire?(request: LeaseHolderRequest<H>): void
  /** The request was dropped without a grant; the holder is told why (shared tables only). */
  onDeny?(request: LeaseHolderRequest<H>, reason: string): void
  /**
   * Another request waits for a key of this retained lease (tables with `retain` only): ask the
   * holder to give it back. The lease ends at its answer (a release), or after `leaseMs`
   * (`onExpire`).
   */
  onRevoke?(request: LeaseHolderRequest<H>): void
}

/** The session and socket number a connection named in its HELLO (fencing). */
export interface SessionSocket {
  readonly session: string
  readonly socket: number
}

/** The outcome of a shared table's commit: stored (and read back by this relay), or refused with nothing stored. */
export type CommitOutcome = { ok: true } | { ok: false; reason: string }

export interface Leases<H> {
  /** Queues a request; `keys` sorted and unique, `id` new for this holder. */
  acquire(holder: H, id: number, keys: readonly string[]): void
  /**
   * Optional: whether `holder` has a request queued here and not granted, in O(1). The room holds
   * back the doc updates of such a holder (relay/room/outbox.ts). A table shared by several
   * relays leaves it out: its holders' updates are never held.
   */
  waits?(holder: H): boolean
  /** Whether the request holds all its keys, as far as this relay knows. */
  isGranted(holder: H, id: number): boolean
  /** Ends a request, held or waiting. Returns whether it held its lease. */
  release(holder: H, id: number): boolean
  /**
   * Optional (the in-process table has it; a table shared by several relays leaves it out and
   * never retains): called for a granted request at its commit, in place of `release`. If no
   * other request waits for any of its keys, and it was not revoked, the lease stays with the
   * holder (retained) and this returns true: the request stays open and granted under its id,
   * without a time limit, until the holder commits again (and this is asked again), releases it,
   * or goes away, or until another request waits for one of its keys: then `onRevoke` is called,
   * and the lease ends at the holder's release or after `leaseMs`. Returns false, changing
   * nothing, otherwise: the caller then releases it.
   */
  retain?(holder: H, id: number): boolean
  /** Optional (the in-process table has it): the keys of an open request. */
  keysOf?(holder: H, id: number): readonly string[] | undefined
  /** Ends every request of a holder that went away. */
  dropHolder(holder: H): void
  /** Requests open here (held or waiting). */
  readonly size: number
  /**
   * Shared tables only: checks that the request still holds its lease and stores `update` in
   * the same atomic step, then ends the request. Resolves once this relay has read the stored
   * update back (so it is applied and broadcast before the caller's reply). Rejects when it
   * cannot tell whether the update was stored (the store became unreachable mid-call).
   */
  commit?(holder: H, id: number, update: Uint8Array, from?: SessionSocket): Promise<CommitOutcome>
  /**
   * Shared tables only: from now on, on every relay, `commit` refuses the commits of the
   * session's sockets numbered below `socket`. Resolves once this relay has read every update
   * stored before, so the room's doc tells which of those commits were stored.
   */
  fenceSession?(session: string, socket: number): Promise<void>
  /** Ends every request; the table is not used again. */
  close?(): void
  /**
   * Who holds and who waits for each key, as this relay keeps it (for the inspector). The
   * in-process table has it; a shared table keeps its queues in Redis and leaves it out.
   */
  snapshot?(): KeyLeases<H>[]
  /** What one holder has open here, so that the room can cap it; absent, nothing is capped. */
  load?(holder: H): HolderLoad
  /**
   * Shared tables only: the fence of a granted request, a number no other request of the room
   * ever has, larger for each later request (so a key's holders get growing fences, FIFO). The
   * in-process table leaves it out: its callers number grants themselves.
   */
  fenceOf?(holder: H, id: number): number | undefined
}

/** Makes the lease table of a room; absent, rooms use the in-process {@link LeaseTable}. */
export type LeaseTableFactory<H> = (room: string, callbacks: LeaseCallbacks<H>) => Leases<H>
