/**
 * `y-server-state/vue`: Vue 3 bindings. Vue is an optional peer dependency of the package: only
 * this entry point imports it.
 *
 * - `<ServerStateProvider url room>` (or `provideServerState({ url, room })` in a component's
 *   `setup`) gives its descendants the page's shared session of that url and room, the one the
 *   Lit elements and React use too; `session` gives one of your own (yours to close). It connects
 *   once mounted, never while rendering, so a server render opens no socket; it releases the
 *   session on unmount (it closes a task later, once its locks and flushes have settled).
 * - `useServerState(key)` is a ref of the key's value: it changes when the key changes in any
 *   session (or is forced), and assigning `.value` sets the key (a deep-equal value sends
 *   nothing). The key may be a ref or a getter. Undefined until the session has a value.
 * - `useServerSession()` is a ref of the session (null until the provider has connected);
 *   `useServerStatus()` a ref of `{ status, synced }`.
 *
 * @example
 *   import { defineComponent, h } from 'vue'
 *   import { ServerStateProvider, useServerSession, useServerState } from 'y-server-state/vue'
 *
 *   const Counter = defineComponent(() => {
 *     const count = useServerState<number>('count')
 *     const server = useServerSession()
 *     const increment = () => server.value?.lock('count', (s) => { s.count = (s.count ?? 0) + 1 })
 *     return () => h('button', { onClick: increment }, `Count = ${count.value ?? 0}`)
 *   })
 *   // <ServerStateProvider room="default"><Counter /></ServerStateProvider>
 */
import {
  computed,
  defineComponent,
  inject,
  onBeforeUnmount,
  onMounted,
  provide,
  shallowRef,
  toValue,
  triggerRef,
  watch,
  watchEffect,
  type InjectionKey,
  type MaybeRefOrGetter,
  type PropType,
  type ShallowRef,
  type WritableComputedRef
} from 'vue'
import { untracked, type Json, type ServerState, type Status } from '../client/index.js'
import { acquireSession, type SessionLease } from '../components/session-registry.js'

/** What a provider hands its descendants: a ref of its session, null until it has connected. */
const SESSION: InjectionKey<ShallowRef<ServerState | null>> = Symbol('y-server-state session')

export interface ServerStateSource {
  /** The relay, `ws://host:port`; default the page's own. Ignored when `session` is given. */
  url?: string
  /** The room; default `default`. Ignored when `session` is given. */
  room?: string
  /** A session of your own to provide, instead of the shared one of `url` and `room`. */
  session?: ServerState
}

/**
 * Provides a session to the calling component's descendants: `source`'s own, or the shared one
 * of its url and room, taken once mounted and again when they change. Call it in `setup`.
 */
export const provideServerState = (source: MaybeRefOrGetter<ServerStateSource>): ShallowRef<ServerState | null> => {
  const current = shallowRef<ServerState | null>(toValue(source).session ?? null)
  let lease: SessionLease | null = null
  let mounted = false
  const take = () => {
    const { url, room, session } = toValue(source)
    const next = session ? null : acquireSession(url || undefined, room || undefined)
    lease?.release()
    lease = next
    current.value = session ?? next!.session
  }
  onMounted(() => {
    mounted = true
    take()
  })
  watch(
    () => {
      const { url, room, session } = toValue(source)
      return [url, room, session]
    },
    () => {
      if (mounted) take()
    }
  )
  onBeforeUnmount(() => {
    mounted = false
    lease?.release()
    lease = null
  })
  provide(SESSION, current)
  return current
}

/** The provider component: `<ServerStateProvider url room>` or `<ServerStateProvider :session>`. */
export const ServerStateProvider = defineComponent({
  name: 'ServerStateProvider',
  props: {
    url: { type: String, required: false },
    room: { type: String, required: false },
    session: { type: Object as PropType<ServerState>, required: false }
  },
  setup(props, { slots }) {
    provideServerState(() => ({ url: props.url, room: props.room, session: props.session }))
    return () => slots.default?.()
  }
})

/** A ref of the nearest provider's session, null until it has connected. Throws without a provider. */
// biome-ignore lint/suspicious/noExplicitAny: the public default, as `ServerState`'s, lets untyped users write `session.value.state.count`
export const useServerSession = <S extends object = Record<string, any>>(): ShallowRef<ServerState<S> | null> => {
  const session = inject(SESSION, null)
  if (!session) throw new Error('useServerSession(): no <ServerStateProvider> (or provideServerState) above this component')
  return session as ShallowRef<ServerState<S> | null>
}

/** A ref of `key`'s value in the provider's session; assigning `.value` sets the key. */
export const useServerState = <T = Json>(key: MaybeRefOrGetter<string>): WritableComputedRef<T | undefined> => {
  const session = useServerSession()
  const value = shallowRef<T | undefined>()
  watchEffect((onCleanup) => {
    const server = session.value
    const k = toValue(key)
    if (!server) {
      value.value = undefined
      return
    }
    value.value = untracked(server, () => server.get(k)) as T | undefined
    onCleanup(
      server.subscribe(k, (next) => {
        value.value = next as T | undefined
        // A forced re-run keeps the value: show it again anyway.
        triggerRef(value)
      })
    )
  })
  return computed({
    get: () => value.value,
    set: (next) => {
      const server = session.value
      if (!server) throw new Error(`useServerState("${toValue(key)}"): no session yet (the provider connects once mounted)`)
      server.set(toValue(key), next as Json)
    }
  })
}

/** A ref of the provider's session's status, and whether it has synced with the relay (the room is loaded). */
export const useServerStatus = (): Readonly<ShallowRef<{ status: Status; synced: boolean }>> => {
  const session = useServerSession()
  const status = shallowRef<{ status: Status; synced: boolean }>({ status: 'connecting', synced: false })
  watchEffect((onCleanup) => {
    const server = session.value
    if (!server) {
      status.value = { status: 'connecting', synced: false }
      return
    }
    let synced = false
    let stopped = false
    const update = () => {
      if (stopped) return
      synced ||= server.status === 'connected'
      status.value = { status: server.status, synced }
    }
    update()
    server.ready.then(
      () => {
        synced = true
        update()
      },
      () => {}
    )
    const stop = server.onStatus(update)
    onCleanup(() => {
      stopped = true
      stop()
    })
  })
  return status
}
