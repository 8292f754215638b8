/**
 * Operator policy at the edge (issue #13), over real sockets: fast failure for a cluster without a healthy node,
 * clusters[].filters (source at TLS accept, API key id and verified signing DN at the request), per-identity
 * allowed_actions, and clusters[].max_connection_age.
 */
import t from 'tap'
import { sign } from 'node:crypto'
import { createServer as createNetServer, type Socket } from 'node:net'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startGateway } from '../helpers/gateway.js'
import { backend, client, until, CREDENTIALS, SUBJECT_INFO } from './fixtures.js'
import { TransportError } from '../emulator/client.js'
import { issueCa, issueLeaf, keyPair, type Issued } from '../auth/helpers/certs.js'
import { encodeSignatureHeader, signablePayload } from '../../src/auth/signature.js'
import { tempDir } from '../helpers/tmp.js'
import { ClusterFilters, ipOfPeer, normaliseIp } from '../../src/auth/filters.js'

const SEARCH = 'indices:data/read/search'
const QUERY = 'indices:data/read/search[phase/query]'
const OTHER_KEY_ID = 'AAAAAAAAAAAAAAAAAAAB'
const credentialsFor = (id: string) => 'ApiKey ' + Buffer.from(`${id}:ui2lp2axTNmsyakw9tvNnw`).toString('base64')

const signingCa = issueCa([['CN', 'Signing CA']])
const goodLeaf = issueLeaf([['C', 'US'], ['O', 'Example Corp'], ['CN', 'local-cluster.example.com']], signingCa, { key: keyPair('ec') })
const otherLeaf = issueLeaf([['CN', 'stranger']], signingCa, { key: keyPair('ec', 1) })

function signature(leaf: Issued, credentials = CREDENTIALS): string {
  const sig = sign('sha256', signablePayload(SUBJECT_INFO, credentials), leaf.key.privateKey)
  return encodeSignatureHeader({ transportVersion: 9250003, certificates: [leaf.der], algorithm: 'SHA256withECDSA', signature: sig })
}

async function refused(p: Promise<unknown>): Promise<TransportError | Error | null> {
  return p.then(
    () => null,
    (e: unknown) => e as Error,
  )
}

t.test('ClusterFilters: AND within a rule, first match wins, address-only decisions', async (t) => {
  const cidr = (text: string) => {
    const [address, prefix] = text.split('/') as [string, string]
    return { family: address.includes(':') ? ('ipv6' as const) : ('ipv4' as const), address, prefix: Number(prefix), text }
  }
  const f = new ClusterFilters([
    { action: 'deny', source: [cidr('10.1.0.0/16')], subject: null, apiKeyIds: null, allowedActions: null },
    { action: 'allow', source: [cidr('10.0.0.0/8')], subject: 'CN=a,O=x', apiKeyIds: ['k1'], allowedActions: null },
    { action: 'allow', source: [cidr('192.0.2.0/24')], subject: null, apiKeyIds: null, allowedActions: [SEARCH] },
  ])
  t.equal(f.needsRequest, true)
  t.equal((f.decideByAddress('10.1.2.3') as { index: number }).index, 0, 'deny rule decides at accept')
  t.equal(f.decideByAddress('10.2.0.1'), null, 'a rule with key/subject needs the request')
  t.equal((f.decideByAddress('::ffff:192.0.2.9') as { index: number }).index, 2, 'IPv4-mapped IPv6 is checked as IPv4')
  t.equal(f.decideByAddress('198.51.100.1'), 'none', 'no rule can match')
  t.equal(f.match('10.2.0.1', 'k1', 'CN=a,O=x')?.index, 1, 'all fields match')
  t.equal(f.match('10.2.0.1', 'k2', 'CN=a,O=x'), null, 'wrong key: that rule does not match')
  t.equal(f.match('10.2.0.1', 'k1', 'CN=a,O=xy'), null, 'subject is a FULL match')
  t.equal(f.match('10.2.0.1', 'k1', null), null, 'unsigned never matches a subject rule')
  t.equal(ipOfPeer('127.0.0.1:5000'), '127.0.0.1')
  t.equal(ipOfPeer('[::1]:5000'), '::1')
  t.equal(normaliseIp('nonsense'), null)
})

t.test('fast failure: a cluster whose nodes all failed their health checks closes new connections at once', async (t) => {
  // A black hole: accepts TCP, never answers TLS. Health checks time out against it; a relay connect would wait
  // connect_timeout (60 s here, longer than the until() safety net below).
  const held: Socket[] = []
  const hole = createNetServer((s) => {
    held.push(s)
    s.on('error', () => {})
  })
  await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r))
  t.teardown(() => {
    for (const s of held) s.destroy()
    hole.close()
  })
  const port = (hole.address() as { port: number }).port
  const gw = await startGateway(t, {
    clusters: [{ name: 'a', nodes: [`127.0.0.1:${port}`], connect_timeout: '60s', health_check: { enabled: true, interval: '100ms', timeout: '100ms' } }],
  })
  await until(async () => (await gw.metricValue('rcgw_backend_up', { cluster: 'a' })) === 0, 10_000, 'node marked down')
  t.equal(await gw.metricValue('rcgw_backend_unavailable_total', { cluster: 'a', reason: 'no_healthy_node' }), 0, 'zero-initialised')
  const err = await refused(client(t, gw.port))
  t.ok(err, 'the client connection fails (well before connect_timeout)')
  t.equal(await gw.metricValue('rcgw_backend_unavailable_total', { cluster: 'a', reason: 'no_healthy_node' }), 1, 'counted with its reason')
  const line = gw.logs.find((l) => l.event === 'backend_unavailable')
  t.equal(line?.reason, 'no_healthy_node')
  t.match(line?.msg, /cluster a has no healthy backend node/)
})

t.test('filters: a source-only deny closes at TLS accept, before any backend connection', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, {
    clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`], filters: [{ action: 'deny', source: ['127.0.0.0/8'] }, { source: ['0.0.0.0/0', '::/0'] }] }],
  })
  t.equal(await gw.metricValue('rcgw_auth_failures_total', { cluster: 'a', reason: 'filtered' }), 0, 'zero-initialised')
  t.ok(await refused(client(t, gw.port)), 'refused')
  t.equal(be.connections, 0, 'no backend connection was made for it')
  t.equal(await gw.metricValue('rcgw_auth_failures_total', { cluster: 'a', reason: 'filtered' }), 1)
  const line = gw.logs.find((l) => l.event === 'denied' && l.reason === 'filtered')
  t.equal(line?.stage, 'accept')
  t.equal(line?.filter_rule, 0)
})

t.test('filters: API key id and verified signing DN rules; no match → 403 and close; reload applies new rules', async (t) => {
  const be = await backend(t, 'cluster-a')
  const caFile = join(tempDir(t), 'signing-ca.crt')
  writeFileSync(caFile, signingCa.pem)
  const gw = await startGateway(t, {
    clusters: [
      {
        name: 'a',
        nodes: [`127.0.0.1:${be.port}`],
        signing: { certificate_authorities: [caFile] },
        filters: [
          { source: '127.0.0.1', subject: 'CN=local-cluster\\.example\\.com,O=Example Corp,C=US' },
          { api_key_id: OTHER_KEY_ID },
        ],
      },
    ],
  })
  const signed = await client(t, gw.port, { signature: signature(goodLeaf) })
  t.equal((await signed.request(SEARCH, Buffer.from('ok'))).body.toString(), 'ok', 'subject rule admits the verified DN')
  const byKey = await client(t, gw.port, { credentials: credentialsFor(OTHER_KEY_ID) })
  t.equal((await byKey.request(SEARCH, Buffer.from('k'))).body.toString(), 'k', 'api_key_id rule admits the key')

  const before = be.requests.filter((r) => !r.isHandshake).length
  for (const extra of [{}, { signature: signature(otherLeaf) }]) {
    const err = await refused(client(t, gw.port, extra))
    t.ok(err instanceof TransportError, 'an error frame')
    const ex = (err as TransportError).javaException
    t.same(ex && { type: ex.type, status: 'status' in ex ? ex.status : null }, { type: 'security', status: 'FORBIDDEN' }, '403')
    t.match(ex?.message, /matches no allow rule of clusters\[\]\.filters for cluster \[a\]/)
  }
  t.equal(be.requests.filter((r) => !r.isHandshake).length, before, 'the refused requests never reached the backend')
  t.equal(await gw.metricValue('rcgw_auth_failures_total', { cluster: 'a', reason: 'filtered' }), 2)

  // Reload: the key rule goes away; the established connection's next request is refused (new rules, new requests).
  const next = { ...gw.gateway.config, clusters: gw.gateway.config.clusters.map((c) => ({ ...c, auth: { ...c.auth, filters: c.auth.filters!.slice(0, 1) } })) }
  const r = gw.gateway.reload(next)
  t.equal(r.ok, true)
  const err = await refused(byKey.request(SEARCH, Buffer.from('k2')))
  t.ok(err instanceof TransportError, 'after the reload the key is filtered')
  await byKey.closed
  t.pass('and its connection closed')
  t.equal((await signed.request(SEARCH, Buffer.from('still'))).body.toString(), 'still', 'the DN rule still admits')
})

t.test('per-identity allowed_actions: key list and filter-rule list, on top of the cluster-wide list', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, {
    clusters: [
      {
        name: 'a',
        nodes: [`127.0.0.1:${be.port}`],
        api_keys: [{ id: OTHER_KEY_ID, allowed_actions: ['cluster:internal/remote_cluster/handshake', SEARCH] }],
        filters: [{ api_key_id: OTHER_KEY_ID }, { source: ['0.0.0.0/0', '::/0'], allowed_actions: ['cluster:internal/remote_cluster/handshake', QUERY] }],
      },
    ],
  })
  const limited = await client(t, gw.port, { credentials: credentialsFor(OTHER_KEY_ID) })
  t.equal((await limited.request(SEARCH, Buffer.from('s'))).body.toString(), 's', 'on the key list')
  let err = await refused(limited.request(QUERY, Buffer.from('q')))
  t.ok(err instanceof TransportError)
  t.equal((err as TransportError).javaException?.type, 'illegal_argument', 'IllegalArgumentException like the cluster-wide check')
  t.match((err as TransportError).javaException?.message, /not allowed through the gateway for API key \[AAAAAAAAAAAAAAAAAAAB\]/)
  t.equal((await limited.request(SEARCH, Buffer.from('again'))).body.toString(), 'again', 'the connection stays open')

  const byRule = await client(t, gw.port)
  t.equal((await byRule.request(QUERY, Buffer.from('q'))).body.toString(), 'q', 'on the rule list')
  err = await refused(byRule.request(SEARCH, Buffer.from('s')))
  t.match((err as TransportError).javaException?.message, /clusters\[\]\.filters\[1\]\.allowed_actions/)
  err = await refused(byRule.request('indices:admin/delete', Buffer.from('d')))
  t.match((err as TransportError).javaException?.message, /not allowed as a cross cluster operation/, 'the cluster-wide list still applies first')
  t.equal(await gw.metricValue('rcgw_auth_failures_total', { cluster: 'a', reason: 'identity_action_not_allowed' }), 2)
})

t.test('max_connection_age: closes at an idle frame boundary, never with a request in flight', async (t) => {
  let release: (() => void) | null = null
  const be = await backend(t, 'cluster-a', {
    onRequest: (h, body) => {
      if (h.variable?.action !== SEARCH || body.toString() !== 'slow') return undefined
      return new Promise((resolve) => {
        release = () => resolve(Buffer.from('slow-done'))
      })
    },
  })
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`], max_connection_age: '1s' }] })
  t.equal(await gw.metricValue('rcgw_connections_aged_out_total', { cluster: 'a' }), 0, 'zero-initialised')

  const idle = await client(t, gw.port)
  await idle.closed
  t.pass('an idle connection is closed once it reaches the age')
  await until(async () => (await gw.metricValue('rcgw_connections_aged_out_total', { cluster: 'a' })) === 1, 10_000, 'aged-out count')
  t.ok(gw.logs.some((l) => l.event === 'connection_closed' && l.close_reason === 'max_connection_age'), 'close reason logged')

  const busy = await client(t, gw.port)
  const pending = busy.request(SEARCH, Buffer.from('slow'))
  await until(() => gw.logs.filter((l) => /reached max_connection_age/.test(String(l.msg))).length >= 2, 10_000, 'second connection aged')
  t.equal(gw.gateway.transport.connectionCount, 1, 'still open while its request is in flight')
  release!()
  t.equal((await pending).body.toString(), 'slow-done', 'the response is delivered whole')
  await busy.closed
  t.pass('then the connection closes')
  await until(async () => (await gw.metricValue('rcgw_connections_aged_out_total', { cluster: 'a' })) === 2, 10_000, 'aged-out count 2')
})
