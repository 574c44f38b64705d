/**
 * The root layout, a server component: it reads the relay's URL from the server's environment at
 * request time (`RELAY_URL`, default `ws://127.0.0.1:1234`) and hands it to the client provider.
 *
 * @example
 *   RELAY_URL=ws://127.0.0.1:1234 npx next start
 */
import Link from 'next/link'
import type { ReactNode } from 'react'
import { Providers } from './providers'

export const dynamic = 'force-dynamic'

export const metadata = { title: 'y-server-state on Next.js' }

export default function RootLayout({ children }: { children: ReactNode }) {
  const url = process.env.RELAY_URL ?? 'ws://127.0.0.1:1234'
  return (
    <html lang="en">
      <body>
        <nav>
          <Link href="/">First page</Link> · <Link href="/second">Second page</Link>
        </nav>
        <Providers url={url}>{children}</Providers>
      </body>
    </html>
  )
}
