/**
 * A Buffer over the same bytes as a Uint8Array, without a copy. ws wraps a plain Uint8Array in a
 * Buffer on every send, and level wants Buffers: wrap a message once for all its uses.
 *
 * @example
 *   const buffer = asBuffer(frame)
 *   for (const peer of peers) peer.send(buffer)
 */
export const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength)
