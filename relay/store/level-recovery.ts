/**
 * What the embedded store finds when it opens: whether LevelDB, replaying its log, skipped
 * anything, and whether the store holds every write its witness file saw stored. And what it
 * leaves for an operator when it did: DAMAGED, which keeps the store closed until deleted, and
 * the logs LevelDB recovered from.
 *
 * @example
 *   const kept = keepLogs(dir)                       // before LevelDB opens and replays its logs
 *   const damage = [...recoveryDamage(dir), ...witnessDamage(dir, head)]
 *   if (damage.length > 0) markDamaged(dir, kept, damage)
 *   else dropLogs(dir)
 */
import { linkSync, readFileSync, readdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Files of ours in the data directory, beside LevelDB's, which it leaves alone. The witness
 * holds the store's count of writes, rewritten soon after they are stored: a log that ends
 * before it lost stored writes. DAMAGED, once written, keeps the store closed until an operator
 * deletes it; DAMAGED-<n>.log keep the logs LevelDB recovered from (RECOVERING-<n>.log while
 * it does).
 */
export const WITNESS = 'y-server-state-head'
export const DAMAGED = 'DAMAGED'
export const RECOVERING_LOG = /^RECOVERING-\d+\.log$/

/** Hard-links each LevelDB log as RECOVERING-<n>.log; returns their names. */
export const keepLogs = (dir: string): string[] => {
  const kept: string[] = []
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return kept // a new directory
  }
  for (const name of names) {
    if (!/^\d+\.log$/.test(name)) continue
    try {
      linkSync(join(dir, name), join(dir, `RECOVERING-${name}`))
      kept.push(name)
    } catch {
      // no hard links here: the damage is still found, its log just not kept
    }
  }
  return kept
}

/** Removes the RECOVERING-<n>.log links, those of an open that died too. */
export const dropLogs = (dir: string): void => {
  try {
    for (const name of readdirSync(dir)) if (RECOVERING_LOG.test(name)) unlinkSync(join(dir, name))
  } catch {
    // no directory: nothing was kept
  }
}

/** What LevelDB's info log says it skipped while it replayed its logs at this open. */
export const recoveryDamage = (dir: string): string[] => {
  let log: string
  try {
    log = readFileSync(join(dir, 'LOG'), 'utf8')
  } catch (err) {
    return [`LevelDB's LOG, which tells what its recovery skipped, cannot be read (${(err as Error).message})`]
  }
  // Without paranoid checks, which classic-level does not expose, LevelDB logs a damaged log
  // record as "(ignoring error) <file>: dropping <n> bytes; Corruption: ..." and goes on.
  const damage: string[] = []
  for (const line of log.split('\n')) {
    const dropped = /([^\s/]+): dropping (\d+) bytes; (.*)$/.exec(line)
    if (dropped) damage.push(`LevelDB dropped ${dropped[2]} bytes of its log ${dropped[1]} while recovering (${dropped[3]})`)
    else if (/ignoring error/i.test(line)) damage.push(`LevelDB ignored an error while recovering (${line.replace(/^\S+ \S+ /, '')})`)
  }
  return damage
}

/** Whether the store holds fewer writes than the witness saw stored. */
export const witnessDamage = (dir: string, head: number): string[] => {
  let text: string
  try {
    text = readFileSync(join(dir, WITNESS), 'utf8')
  } catch (err) {
    return (err as { code?: string }).code === 'ENOENT' ? [] : [`the witness file ${WITNESS} cannot be read (${(err as Error).message})`]
  }
  const seen = /^\d+\n$/.test(text) ? Number(text) : NaN
  if (Number.isNaN(seen)) return [`the witness file ${WITNESS} is damaged`]
  return seen > head
    ? [`it holds ${head} writes, but ${seen} had been stored: the last ${seen - head} are lost (a truncated or damaged log)`]
    : []
}

/** Writes DAMAGED, which keeps the store closed, and keeps the logs LevelDB recovered from. */
export const markDamaged = (dir: string, kept: string[], damage: string[]): void => {
  for (const name of kept) renameSync(join(dir, `RECOVERING-${name}`), join(dir, `DAMAGED-${name}`))
  writeFileSync(
    join(dir, DAMAGED),
    [
      `y-server-state found this store damaged when it opened it, at ${new Date().toISOString()}:`,
      ...damage.map((d) => `- ${d}`),
      '',
      'Stored updates are missing, in rooms it cannot name, so the relay serves none of this store.',
      kept.length > 0 ? `The logs LevelDB recovered from are kept as ${kept.map((n) => `DAMAGED-${n}`).join(', ')}.` : '',
      'Restore this directory from a backup. Or, to serve what is left, delete this file: a room',
      'whose history shows a gap is still refused, but a room that lost its latest updates is then',
      'served without them.',
      ''
    ].join('\n')
  )
  // Told in DAMAGED; once an operator deletes it, the store starts again from what is left.
  rmSync(join(dir, WITNESS), { force: true })
}
