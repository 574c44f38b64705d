/**
 * The lines every React example shows, as the Lit elements do: the session's connection status,
 * the last error, and who is online by nickname.
 *
 * @example
 *   <StatusLine />
 *   <OnlineLine />
 *   <ErrorLine error={error} />
 */
import { onlineNicknames } from '../../components/chat-model.js'
import { usePresence, useServerStatus } from '../../react/index.js'

export const StatusLine = () => {
  const { status } = useServerStatus()
  return (
    <p className="status" data-status={status} role="status">
      {status}
    </p>
  )
}

export const ErrorLine = ({ error }: { error: string }) =>
  error ? (
    <p className="error" role="alert">
      {error}
    </p>
  ) : null

export const OnlineLine = () => {
  const online = onlineNicknames(usePresence())
  return (
    <p className="online">
      Online:{' '}
      {online.length === 0 ? (
        <span className="nobody">nobody with a nickname yet</span>
      ) : (
        online.map((p, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: an entry has no id and two sessions may share a nickname
          <span key={i}>
            {i > 0 ? ', ' : ''}
            <span className="who">
              {p.nickname}
              {p.self ? ' (you)' : ''}
            </span>
          </span>
        ))
      )}
    </p>
  )
}
