/**
 * The global counter in React: `Count = N`, with Increment and Decrement as locked increments of
 * the key `count` (the `<server-counter>`'s key), initialised to 0 under the lock.
 *
 * @example
 *   <ServerStateProvider><Counter /></ServerStateProvider>
 */
import { useEffect, useState } from 'react'
import { useLock, useServerState } from '../../react/index.js'
import { ErrorLine, StatusLine } from './lines.js'

const KEY = 'count'

export const Counter = () => {
  const lock = useLock()
  const count = useServerState(KEY)
  const [error, setError] = useState('')
  const report = (done: Promise<unknown>) =>
    done.then(
      () => setError(''),
      (err: Error) => setError(err.message)
    )
  // biome-ignore lint/correctness/useExhaustiveDependencies: `report` only calls the stable `setError`; the key is set up once per lock function
  useEffect(() => {
    report(
      lock(KEY, (s) => {
        if (!(KEY in s)) s[KEY] = 0
      })
    )
  }, [lock])
  const step = (by: number) =>
    report(
      lock(KEY, (s) => {
        s[KEY] = (typeof s[KEY] === 'number' ? s[KEY] : 0) + by
      })
    )
  return (
    <div className="yss">
      <StatusLine />
      <p className="value" aria-live="polite">
        Count = {typeof count === 'number' ? count : '…'}
      </p>
      <div className="row">
        <button type="button" onClick={() => step(1)}>
          Increment
        </button>
        <button type="button" className="secondary" onClick={() => step(-1)}>
          Decrement
        </button>
      </div>
      <ErrorLine error={error} />
    </div>
  )
}
