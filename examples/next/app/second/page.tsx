/**
 * The second page: the same counter, the same room, so a click on either page shows on both.
 *
 * @example
 *   GET /second
 */
import { Counter } from '../providers'

export default function SecondPage() {
  return (
    <main>
      <h1>Second page</h1>
      <Counter />
    </main>
  )
}
