/**
 * Serves files for `GET` requests from a list of folders, first match wins; an entry that is a
 * file is served at `/<its name>` alone. A path is resolved inside its folder, and the file it
 * names must be there too once symlinks are followed (a symlink out of the folder is not
 * served), with no segment starting with a dot. By default the relay package's own pages are
 * served (`dist/pages/`: the inspector and a landing page, built when the package is packed),
 * and in this repository, where the relay is the workspace `relay/`, the built demo page before
 * them: `dist/demo/` (the bundle `npm run build` writes) and `demo/index.html`, never its sources,
 * nor source maps (which carry them) unless `maps` is true.
 *
 * @example
 *   http.createServer((req, res) => serveStatic(['./dist/demo', './demo/index.html'], req, res))
 */
import { createReadStream, existsSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { basename, dirname, extname, join, resolve, sep } from 'node:path'
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

/** Whether `dir` is this repository's root: the package `y-server-state` with the relay as a workspace. */
const isRepository = (dir: string): boolean => {
  try {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; workspaces?: unknown }
    return manifest.name === 'y-server-state' && Array.isArray(manifest.workspaces) && manifest.workspaces.includes('relay')
  } catch {
    return false
  }
}

/** The package's pages; in the repository, the demo page first: its HTML and built bundle, not its sources. */
export const defaultStaticDirs = (): string[] => {
  const root = packageRoot()
  const own = join(root, 'dist', 'pages')
  const repository = dirname(root)
  return isRepository(repository) ? [join(repository, 'demo', 'index.html'), join(repository, 'dist', 'demo'), own] : [own]
}

/** The real path of `path`, or null if it does not exist. */
const real = (path: string): string | null => {
  try {
    return realpathSync(path)
  } catch {
    return null
  }
}

/** The file `path` names in `entry` (a folder, or a file served under its own name), or null. */
const fileIn = (entry: string, path: string): string | null => {
  const base = real(resolve(entry))
  if (base === null) return null
  let isDir = false
  try {
    isDir = statSync(base).isDirectory()
  } catch {}
  if (!isDir) return path === `/${basename(entry)}` ? base : null
  const file = real(resolve(base, `.${path}`))
  if (file === null || !file.startsWith(base + sep)) return null
  try {
    return statSync(file).isFile() ? file : null
  } catch {
    return null
  }
}

export const serveStatic = (dirs: string[], req: IncomingMessage, res: ServerResponse, maps = false): void => {
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
  const hidden = path.split('/').some((segment) => segment.startsWith('.')) || (!maps && path.endsWith('.map'))
  for (const dir of hidden ? [] : dirs) {
    const file = fileIn(dir, path)
    if (file === null) continue
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' })
    if (req.method === 'HEAD') res.end()
    else createReadStream(file).pipe(res)
    return
  }
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
}
