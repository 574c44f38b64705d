'use client'
/**
 * The client side of the app: the room's provider, typed hooks for its state, and the counter
 * both pages show. Rendered on the server first (no socket there: the count shows `…` and the
 * status `connecting`), then connected in the browser.
 *
 * @example
 *   <Providers url="ws://127.0.0.1:1234"><Counter /></Providers>
 */
import type { ReactNode } from 'react'
import { createServerStateHooks } from 'y-server-state/react'

type Shape = { count: number }

const { ServerStateProvider, useServerState, useServerStatus, useLock } = createServerStateHooks<Shape>()

export function Providers({ url, children }: { url: string; children: ReactNode }) {
  return (
    <ServerStateProvider url={url} room="next-example">
      {children}
    </ServerStateProvider>
  )
}

export function Counter() {
  const count = useServerState('count')
  const { status, synced } = useServerStatus()
  const lock = useLock()
  const step = (by: number) =>
    lock('count', (s) => {
      s.count = (s.count ?? 0) + by
    })
  return (
    <section>
      <p className="status" data-status={status}>
        {status}
      </p>
      <p className="value" aria-live="polite">
        Count = {synced ? (count ?? 0) : '…'}
      </p>
      <button type="button" disabled={!synced} onClick={() => step(1)}>
        Increment
      </button>
      <button type="button" disabled={!synced} onClick={() => step(-1)}>
        Decrement
      </button>
    </section>
  )
}
