/**
 * The cluster tests need only PostgreSQL's binaries, not a server already running: their
 * databases live on a throwaway cluster of the test process's own (initdb / pg_ctl), as their
 * Redis does, never on the machine's server at 127.0.0.1:5432.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { pgDatabase } from './support/cluster-services.js'

test("a test's databases are on a PostgreSQL of its process's own, one for all of them", async () => {
  const [a, b] = await Promise.all([pgDatabase(), pgDatabase()])
  try {
    const port = new URL(a.url).port
    assert.notEqual(port, '5432', "not the machine's server")
    assert.equal(new URL(b.url).port, port, 'one cluster for the process')
    assert.notEqual(a.name, b.name)
    const [row] = await a.query<{ port: string }>("select current_setting('port') as port")
    assert.equal(row!.port, port)
    await a.query('create table t (v int)')
    assert.deepEqual(await b.query("select to_regclass('t') as t"), [{ t: null }], 'each database its own')
  } finally {
    await Promise.all([a.drop(), b.drop()])
  }
})
