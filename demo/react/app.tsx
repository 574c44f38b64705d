/**
 * The React demo page: the four examples as React components, on the Lit elements' keys in the
 * page's own relay's room `default`, so that this page and the Lit page stay in step. One
 * provider gives every example the same session.
 *
 * @example
 *   createRoot(document.getElementById('app')!).render(<App />)
 */
import { ServerStateProvider } from '../../react/index.js'
import { Counter } from './counter.js'
import { Slider } from './slider.js'
import { Chat } from './chat.js'
import { ChatRooms } from './chat-rooms.js'

/** The examples, in the Lit page's order, with its section ids. */
const EXAMPLES = [
  {
    id: 'counter',
    title: '<Counter />',
    Example: Counter,
    line: "A global counter: every click is a locked increment (the session's own lock), so none is lost."
  },
  { id: 'slider', title: '<Slider />', Example: Slider, line: 'One value from 0 to 100 that every session drags and sees.' },
  { id: 'chat', title: '<Chat />', Example: Chat, line: "A chat: each message is appended, and the nickname is this session's presence." },
  { id: 'chat-rooms', title: '<ChatRooms />', Example: ChatRooms, line: 'Chat rooms: create one, pick one, and talk in it.' }
]

export const App = () => (
  <ServerStateProvider room="default">
    <main>
      {EXAMPLES.map(({ id, title, line, Example }) => (
        <section key={id} id={id}>
          <h2>
            <code>{title}</code>
          </h2>
          <p>{line}</p>
          <Example />
        </section>
      ))}
    </main>
  </ServerStateProvider>
)
