/**
 * Name patterns, shared by the relay and the client: a token's `rooms` claim, and the relay's
 * mutation-only keys (`balance:*`). `*` matches any run of characters, none and slashes included;
 * every other character matches only itself (there is no escape, so a pattern cannot name a
 * literal `*` apart from matching it with `*`).
 *
 * Matching is linear-time in practice and never exponential (one back-track point, the last
 * star), so a long room name cannot make a pattern expensive.
 *
 * @example
 *   roomMatches('team/*', 'team/design')        // true
 *   roomMatches('team/*', 'teams')              // false
 *   roomsCover(['team/*', 'lobby'], 'lobby')     // true
 *   keyMatches(['balance:*'], 'balance:ann')     // true
 */

/** Whether `room` (a room name, a key) matches `pattern` as a whole. */
export const roomMatches = (pattern: string, room: string): boolean => {
  let p = 0
  let r = 0
  let star = -1
  let mark = 0
  while (r < room.length) {
    if (pattern[p] === '*') {
      star = p++
      mark = r
    } else if (p < pattern.length && pattern[p] === room[r]) {
      p++
      r++
    } else if (star >= 0) {
      // Let the last star take one more character, and match the rest again from there.
      p = star + 1
      r = ++mark
    } else {
      return false
    }
  }
  while (pattern[p] === '*') p++
  return p === pattern.length
}

/** Whether any of `patterns` matches `room`. */
export const roomsCover = (patterns: readonly string[], room: string): boolean => patterns.some((pattern) => roomMatches(pattern, room))

/** Whether `key` matches any of `patterns`: the same matching, named for keys. */
export const keyMatches: (patterns: readonly string[], key: string) => boolean = roomsCover
