/**
 * The first page: the shared counter.
 *
 * @example
 *   GET /
 */
import { Counter } from './providers'

export default function FirstPage() {
  return (
    <main>
      <h1>First page</h1>
      <Counter />
    </main>
  )
}
