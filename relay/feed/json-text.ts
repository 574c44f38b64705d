/**
 * The JSON text of what a room's doc holds, for everything the relay sends out of it (events,
 * webhook bodies, HTTP answers). Our client stores JSON values only, but a stock Yjs client may
 * store what JSON.stringify cannot write: a BigInt (a TypeError; written here as its decimal
 * string), or a value nested deeper than JSON.stringify's recursion reaches (a RangeError, at
 * about 2,000 to 4,000 levels, while Yjs encodes and decodes deeper). Such a throw inside the
 * room's pipeline or a timer would take the relay down: callers get null instead and decide.
 *
 * @example
 *   jsonText({ n: 10n })      // '{"n":"10"}'
 *   jsonText(deeplyNested)    // null: no text for it
 */

const bigintAsString = (_: string, v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : v)

/** `value` as JSON text, a BigInt as its decimal string; null when it cannot be written (nested too deeply). */
export const jsonText = (value: unknown): string | null => {
  try {
    return JSON.stringify(value)
  } catch (err) {
    // Only a BigInt is worth the replacer, which costs time and stack on every value.
    if (!(err instanceof TypeError)) return null
  }
  try {
    return JSON.stringify(value, bigintAsString)
  } catch {
    return null
  }
}
