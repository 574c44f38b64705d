/**
 * `useServerStatus()`: the provider's session's connection status, `connecting`, `connected` or
 * `disconnected`, re-rendering the component when it changes.
 *
 * @example
 *   const status = useServerStatus()
 *   return <p className="status" data-status={status}>{status}</p>
 */
import { useCallback, useSyncExternalStore } from 'react'
import type { Status } from '../client/index.js'
import { useServerSession } from './provider.js'

export const useServerStatus = (): Status => {
  const server = useServerSession()
  const subscribe = useCallback((onChange: () => void) => server.onStatus(onChange), [server])
  const getSnapshot = () => server.status
  return useSyncExternalStore(subscribe, getSnapshot, getSnapshot)
}
