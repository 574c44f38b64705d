/**
 * Serves files for `GET` requests from a list of folders, first match wins. Paths are resolved
 * inside each folder and never outside it.
 *
 * @example
 *   http.createServer((req, res) => serveStatic(['./demo'], req, res))
 */
import { createReadStream, existsSync, statSync } from 'node:fs'
import { dirname, extname, join, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { IncomingMessage, ServerResponse } from 'node:http'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon'
}

/** The package's root: the nearest folder above this file with a package.json. */
export const packageRoot = (): string => {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir)
  return dir
}

/** The demo page's source folder and its built bundle. */
export const defaultStaticDirs = (): string[] => {
  const root = packageRoot()
  return [join(root, 'demo'), join(root, 'dist', 'demo')]
}

export const serveStatic = (dirs: string[], req: IncomingMessage, res: ServerResponse): void => {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end()
    return
  }
  let path: string
  try {
    path = decodeURIComponent((req.url ?? '/').split('?')[0]!)
  } catch {
    res.writeHead(400).end()
    return
  }
  if (path.endsWith('/')) path += 'index.html'
  for (const dir of dirs) {
    const base = resolve(dir)
    const file = resolve(base, '.' + path)
    if (file !== base && !file.startsWith(base + sep)) continue
    let isFile = false
    try {
      isFile = statSync(file).isFile()
    } catch {}
    if (!isFile) continue
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' })
    if (req.method === 'HEAD') res.end()
    else createReadStream(file).pipe(res)
    return
  }
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
}
