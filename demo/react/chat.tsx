/**
 * The chat in React, on the `<server-chat>`'s key and message shape: messages appended to a list
 * (`server.append`, one message on the wire), a nickname that is this session's presence, and
 * who is online.
 *
 * @example
 *   <ServerStateProvider><Chat /></ServerStateProvider>
 *   <Chat chatKey="chat-room:lobby" hideOnline />
 */
import { useEffect, useRef, useState, type FormEvent } from 'react'
import { chatMessages, type ChatMessage } from '../../components/chat-model.js'
import { useSelf, useServerSession, useServerState, useUpdatePresence } from '../../react/index.js'
import { ErrorLine, OnlineLine, StatusLine } from './lines.js'

const time = (at: number): string => new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })

export const Chat = ({ chatKey = 'chat', hideOnline = false }: { chatKey?: string; hideOnline?: boolean }) => {
  const server = useServerSession()
  const messages = chatMessages(useServerState(chatKey))
  // The session's nickname, which a chat beside this one may have set already.
  const self = useSelf()
  const nickname = typeof self?.nickname === 'string' ? self.nickname : ''
  const updatePresence = useUpdatePresence()
  const [text, setText] = useState('')
  const [error, setError] = useState('')
  const list = useRef<HTMLOListElement>(null)
  // biome-ignore lint/correctness/useExhaustiveDependencies: deliberate: scroll to the bottom each time a message arrives, which the body does not read
  useEffect(() => {
    if (list.current) list.current.scrollTop = list.current.scrollHeight
  }, [messages.length])
  const send = (e: FormEvent) => {
    e.preventDefault()
    if (!nickname.trim()) {
      setError('Enter a nickname first.')
      return
    }
    if (!text.trim()) {
      setError('Enter a message to send.')
      return
    }
    const sent: ChatMessage = { nickname: nickname.trim(), text: text.trim(), at: Date.now() }
    updatePresence({ nickname: sent.nickname })
    setError('')
    setText('')
    let sending: Promise<void>
    try {
      if (!server) throw new Error('not connected yet')
      sending = server.append(chatKey, sent)
    } catch (err) {
      sending = Promise.reject(err)
    }
    sending.catch((err: Error) => {
      setError(`Not sent: ${err.message}`)
      setText((t) => t || sent.text)
    })
  }
  return (
    <div className="yss">
      <StatusLine />
      {hideOnline ? null : <OnlineLine />}
      <ol className="messages" aria-label="Messages" aria-live="polite" ref={list}>
        {messages.length === 0 ? <li className="empty">No messages yet.</li> : null}
        {messages.map((m, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: a message has no id, and the list only grows at its end, so the index names it
          <li key={i}>
            <time>{time(m.at)}</time>
            <span className="nick">{m.nickname}:</span>
            {m.text}
          </li>
        ))}
      </ol>
      <form className="row" onSubmit={send}>
        <label>
          Nickname{' '}
          <input
            type="text"
            name="nickname"
            autoComplete="nickname"
            size={10}
            value={nickname}
            onChange={(e) => updatePresence({ nickname: e.target.value })}
          />
        </label>
        <label className="grow">
          Message <input type="text" name="message" autoComplete="off" value={text} onChange={(e) => setText(e.target.value)} />
        </label>
        <button type="submit">Send</button>
      </form>
      <ErrorLine error={error} />
    </div>
  )
}
