/**
 * The global slider in React: one value from 0 to 100 under the key `slider` (the
 * `<server-slider>`'s key), started at 50 under its lock. Each input writes the value; an equal
 * value sends nothing.
 *
 * @example
 *   <ServerStateProvider><Slider /></ServerStateProvider>
 */
import { useEffect, useState } from 'react'
import { useLock, useServerSession, useServerState } from '../../react/index.js'
import { ErrorLine, StatusLine } from './lines.js'

const KEY = 'slider'
const INITIAL = 50

export const Slider = () => {
  const server = useServerSession()
  const lock = useLock()
  const shared = useServerState(KEY)
  const [error, setError] = useState('')
  useEffect(() => {
    lock(KEY, (s) => {
      if (!(KEY in s)) s[KEY] = INITIAL
    }).catch((err: Error) => setError(err.message))
  }, [lock])
  // Any client may write the key: show it within the slider's range.
  const value = typeof shared === 'number' ? Math.min(100, Math.max(0, Math.round(shared))) : INITIAL
  const write = (next: number) => {
    try {
      // While the key is unset, another session's start at 50 may be on its way: take the lock.
      if (server?.has(KEY)) server.set(KEY, next)
      else
        lock(KEY, (s) => {
          s[KEY] = next
        }).catch((err: Error) => setError(`Not saved: ${err.message}`))
      setError('')
    } catch (err) {
      setError(`Not saved: ${(err as Error).message}`)
    }
  }
  return (
    <div className="yss">
      <StatusLine />
      <label className="block">
        Value <output aria-live="polite">{value}</output>
        <input type="range" min="0" max="100" step="1" value={value} onChange={(e) => write(Number(e.target.value))} />
      </label>
      <ErrorLine error={error} />
    </div>
  )
}
