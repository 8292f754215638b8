/**
 * Issue #11 campaign, fault 8 (gateway in a child process): the `api_key_lookup` endpoint (GET
 * /_security/api_key?id=…, src/auth/keymap.ts) answering 500, answering slower than its timeout, and down. A key
 * that needs the lookup gets a clean 401 error frame (ElasticsearchSecurityException, UNAUTHORIZED) and its
 * connection closes — fail closed —; the gateway stays up and a static key keeps working throughout.
 */
import t from 'tap'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { backend, client, KEY_ID, SUBJECT_INFO } from '../gateway/fixtures.js'
import { TransportError } from '../emulator/client.js'
import { baseDoc, spawnGateway } from './helpers.js'

const SEARCH = 'indices:data/read/search'
const cred = (id: string) => 'ApiKey ' + Buffer.from(`${id}:ui2lp2axTNmsyakw9tvNnw`).toString('base64')

t.test('8. API key lookup down / slow / 500: fail closed with a 401 error frame; static key unaffected', async (t) => {
  let mode: 'error500' | 'slow' = 'error500'
  const seen: string[] = []
  const held: ServerResponse[] = []
  const lookup = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${mode} ${req.url ?? ''} auth=${req.headers.authorization ? 'yes' : 'no'}`)
    if (mode === 'error500') {
      res.writeHead(500, { 'content-type': 'application/json' })
      res.end('{"error":"boom"}')
    } else held.push(res) // never answers
  })
  await new Promise<void>((r) => lookup.listen(0, '127.0.0.1', r))
  const lookupPort = (lookup.address() as AddressInfo).port
  t.teardown(() => {
    lookup.closeAllConnections()
    lookup.close()
  })

  const be = await backend(t, 'cluster-a')
  const gw = await spawnGateway(
    t,
    baseDoc([
      {
        name: 'a',
        nodes: [`127.0.0.1:${be.port}`],
        api_keys: [{ id: KEY_ID, certificate_identity: null }],
        api_key_lookup: { url: `http://127.0.0.1:${lookupPort}`, api_key: 'bG9va3VwOnNlY3JldA==', timeout: '300ms', max_stale: 0 },
      },
    ]),
  )
  const staticClient = await client(t, gw.port)

  async function lookedUpKey(id: string): Promise<{ type?: string; status?: string; message?: string | null; closed: boolean }> {
    const err = await client(t, gw.port, { credentials: cred(id), subjectInfo: SUBJECT_INFO }).then(
      () => null,
      (e: unknown) => e,
    )
    if (!(err instanceof TransportError)) return { message: `not a TransportError: ${String(err)}`, closed: false }
    const j = err.javaException
    return { type: j?.type, status: j && j.type === 'security' ? j.status : undefined, message: j?.message ?? null, closed: true }
  }
  const expectFailClosed = async (what: string, id: string) => {
    const r = await lookedUpKey(id)
    t.equal(r.type, 'security', `${what}: an ElasticsearchSecurityException error frame`)
    t.equal(r.status, 'UNAUTHORIZED', `${what}: status UNAUTHORIZED (401)`)
    t.comment(`${what}: "${r.message}"`)
    t.equal((await staticClient.request(SEARCH, Buffer.from(what))).body.toString(), what, `${what}: the static key's connection keeps working`)
    const s = await client(t, gw.port)
    t.equal((await s.request(SEARCH, Buffer.from('new'))).body.toString(), 'new', `${what}: a new static-key connection works`)
    await s.close()
  }

  await expectFailClosed('lookup answers 500', 'LookupKey500aaaaaaaaa')
  t.match(seen.at(-1) ?? '', /^error500 \/_security\/api_key\?id=LookupKey500aaaaaaaaa auth=yes$/, 'the lookup reached the endpoint')

  mode = 'slow'
  await expectFailClosed('lookup slower than its timeout', 'LookupKeySlowaaaaaaaa')
  t.ok(seen.some((s) => s.startsWith('slow ')), 'the slow endpoint was asked')

  lookup.closeAllConnections()
  await new Promise<void>((r) => lookup.close(() => r()))
  await expectFailClosed('lookup endpoint down', 'LookupKeyDownaaaaaaaa')

  const m = await gw.metrics()
  t.equal(m.sum('rcgw_auth_failures_total', { reason: 'key_lookup_failed' }), 3, 'three denials, reason key_lookup_failed')
  t.equal(m.sum('rcgw_auth_failures_total'), 3, 'and nothing else denied')
  t.ok(m.sum('rcgw_api_key_lookup_failures_total') >= 3, `lookup failures counted (${m.sum('rcgw_api_key_lookup_failures_total')})`)
  t.equal(m.sum('rcgw_internal_errors_total'), 0)
  const refused = ['LookupKey500aaaaaaaaa', 'LookupKeySlowaaaaaaaa', 'LookupKeyDownaaaaaaaa'].map(cred)
  t.equal(be.requests.filter((r) => refused.includes(r.requestHeaders._cross_cluster_access_credentials ?? '')).length, 0, 'no request with a refused key reached the backend')
  t.ok(gw.alive(), 'gateway up')
})
