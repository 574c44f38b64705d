/**
 * A type test of `createServerStateHooks<Shape>()`, checked by `tsc --noEmit` (never run): every
 * line under `// @ts-expect-error` must fail to compile, so a hook that accepted a wrong key or a
 * wrong value type would make tsc report an unused directive.
 */
import { createServerStateHooks } from '../react/index.js'

type Shape = { count: number; chat: { nickname: string; text: string }[] }
type Presence = { nickname?: string }

const { ServerStateProvider, useServerState, useServerStateSuspense, useServerSession, useLock, useUpdatePresence, useOthers, useSelf } =
  createServerStateHooks<Shape, Presence>()

export const Typed = () => {
  const count: number | undefined = useServerState('count')
  const chat = useServerStateSuspense('chat')
  const first: string | undefined = chat?.[0]?.nickname
  // @ts-expect-error: a key that is not in the shape
  useServerState('cuont')
  // @ts-expect-error: the value of "count" is a number
  const wrong: string | undefined = useServerState('count')
  const server = useServerSession()
  server?.set('count', 1)
  // @ts-expect-error: a value of the wrong type
  server?.set('count', 'one')
  // @ts-expect-error: a key that is not in the shape
  server?.set('cuont', 1)
  const lock = useLock()
  void lock('count', (s) => {
    s.count = (s.count ?? 0) + 1
  })
  void lock('count', (s) => {
    // @ts-expect-error: a value of the wrong type, inside a lock
    s.count = 'one'
  })
  // @ts-expect-error: a key that is not in the shape
  void lock(['count', 'cuont'], () => {})
  const update = useUpdatePresence()
  update({ nickname: 'ada' })
  // @ts-expect-error: a presence field of the wrong type
  update({ nickname: 1 })
  const names: (string | undefined)[] = useOthers().map((p) => p.state.nickname)
  const mine: string | undefined = useSelf()?.nickname
  void [count, first, wrong, names, mine]
  return null
}

export const App = () => (
  <>
    <ServerStateProvider room="default" initialState={{ count: 0 }}>
      <Typed />
    </ServerStateProvider>
    {/* @ts-expect-error: an initial state of the wrong type */}
    <ServerStateProvider room="default" initialState={{ count: 'zero' }}>
      <Typed />
    </ServerStateProvider>
  </>
)
