/**
 * The client reads a token's claims (access and user, unverified) without a JWT library, which
 * only the relay carries: the same answers as jose's `decodeJwt`, which it replaced, for signed
 * tokens, and null where jose throws (no JWT, a payload that is no JSON object, an encrypted
 * five-part token).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeJwt } from 'jose'
import { claimsOf } from '../client/access.js'
import { signToken } from '../relay/access/tokens.js'

const SECRET = 'a-secret-of-at-least-thirty-two-bytes!'
const part = (json: string) => Buffer.from(json).toString('base64url')

test('claimsOf reads what jose decodes: access, default write, and the user, also in UTF-8', async () => {
  const tokens = [
    await signToken({ secret: SECRET, rooms: ['team/*'], access: 'read', sub: 'zoë 🐙' }),
    await signToken({ secret: SECRET, rooms: ['lobby'] }),
    `${part('{"alg":"none"}')}.${part('{"sub":7,"access":"admin"}')}.`
  ]
  for (const token of tokens) {
    const claims = decodeJwt(token)
    assert.deepEqual(claimsOf(token), {
      access: claims.access === 'read' ? 'read' : 'write',
      ...(typeof claims.sub === 'string' ? { user: claims.sub } : {})
    })
  }
  assert.deepEqual(claimsOf(tokens[0]!), { access: 'read', user: 'zoë 🐙' })
})

test('claimsOf is null where jose refuses the token', () => {
  const notJwts = [
    'opaque-token',
    'a.b',
    `${part('{}')}.${part('[1,2]')}.sig`,
    `${part('{}')}.${part('"text"')}.sig`,
    `${part('{}')}.${part('null')}.sig`,
    `${part('{}')}.not json!.sig`,
    `${part('{}')}.${part('{"sub":"x"}')}.sig.extra.parts`
  ]
  for (const token of notJwts) {
    assert.throws(() => decodeJwt(token), Error, token)
    assert.equal(claimsOf(token), null, token)
  }
})
