/**
 * The chat rooms in React, on the `<server-chat-rooms>`'s keys: the room list under
 * `chat-rooms`, each room's messages under `chat-room:<name>`, a room created under the list's
 * lock (empty and duplicate names refused visibly), and who is online.
 *
 * @example
 *   <ServerStateProvider><ChatRooms /></ServerStateProvider>
 */
import { useState, type FormEvent } from 'react'
import { MAX_ROOM_NAME, ROOMS_KEY, createChatRoom, roomKey, roomNames } from '../../components/chat-model.js'
import { useServerSession, useServerState } from '../../react/index.js'
import { Chat } from './chat.js'
import { ErrorLine, OnlineLine, StatusLine } from './lines.js'

export const ChatRooms = () => {
  const server = useServerSession()
  const rooms = roomNames(useServerState(ROOMS_KEY))
  const [selected, setSelected] = useState('')
  const [name, setName] = useState('')
  const [error, setError] = useState('')
  const current = rooms.includes(selected) ? selected : ''
  const select = (room: string) => {
    setSelected(room)
    setError('')
  }
  const create = async (e: FormEvent) => {
    e.preventDefault()
    const wanted = name.trim()
    const taken = `A room named "${wanted}" already exists.`
    if (!wanted) return setError('Enter a room name.')
    if (wanted.length > MAX_ROOM_NAME) return setError(`Use at most ${MAX_ROOM_NAME} characters.`)
    if (rooms.includes(wanted)) return setError(taken)
    try {
      if (!server) throw new Error('not connected yet')
      if (!(await createChatRoom(server, wanted))) return setError(taken)
      setName('')
      select(wanted)
    } catch (err) {
      setError(`Not created: ${(err as Error).message}`)
    }
  }
  return (
    <div className="yss">
      <StatusLine />
      <OnlineLine />
      {rooms.length === 0 ? (
        <p className="empty">No rooms yet: create one.</p>
      ) : (
        <ul className="rooms" aria-label="Rooms">
          {rooms.map((room) => (
            <li key={room}>
              <button type="button" aria-pressed={room === current} onClick={() => select(room)}>
                {room}
              </button>
            </li>
          ))}
        </ul>
      )}
      <form className="row" onSubmit={create}>
        <label>
          Room name{' '}
          <input
            type="text"
            name="room"
            autoComplete="off"
            maxLength={MAX_ROOM_NAME}
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
        </label>
        <button type="submit">Create room</button>
      </form>
      <ErrorLine error={error} />
      {current ? (
        <>
          <h3>Room {current}</h3>
          <Chat chatKey={roomKey(current)} hideOnline />
        </>
      ) : null}
    </div>
  )
}
