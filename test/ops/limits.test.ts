/**
 * Connection and request limits: per cluster, per API key, header size, in-flight tracking, handshake deadline and
 * the global limit — each refused with a clear reason and counted in rcgw_limit_hits_total{limit}.
 */
import t from 'tap'
import { connect as netConnect } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { startGateway } from '../helpers/gateway.js'
import { backend, client, until, KEY_ID, SUBJECT_INFO } from '../gateway/fixtures.js'
import { testPki } from '../helpers/pki.js'
import { TransportError } from '../emulator/client.js'
import { loadConfigText, ConfigError } from '../../src/config/load.js'
import { LIMIT_NAMES } from '../../src/admin/metrics.js'
import { writePki } from '../helpers/pki.js'
import { tempDir } from '../helpers/tmp.js'
import { join } from 'node:path'

const SEARCH = 'indices:data/read/search'
const OTHER_KEY_ID = 'AAAAAAAAAAAAAAAAAAAB'
const credentialsFor = (id: string) => 'ApiKey ' + Buffer.from(`${id}:ui2lp2axTNmsyakw9tvNnw`).toString('base64')

t.test('every limit series exists at zero before anything happens', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }] })
  for (const limit of LIMIT_NAMES) t.equal(await gw.metricValue('rcgw_limit_hits_total', { limit }), 0, limit)
})

t.test('clusters[].max_connections: the excess is refused at its first request with a 429; other clusters are not affected', async (t) => {
  const a = await backend(t, 'cluster-a')
  const b = await backend(t, 'cluster-b')
  const gw = await startGateway(t, {
    clusters: [
      { name: 'a', server_names: ['remote-a.example.com'], nodes: [`127.0.0.1:${a.port}`], max_connections: 2 },
      { name: 'b', server_names: ['remote-b.example.com'], nodes: [`127.0.0.1:${b.port}`] },
    ],
  })
  const c1 = await client(t, gw.port)
  await client(t, gw.port)
  const remoteHandshakes = () => a.requests.filter((r) => r.action === 'cluster:internal/remote_cluster/handshake').length
  t.equal(remoteHandshakes(), 2)
  const refused = await client(t, gw.port).then(
    () => null,
    (e: unknown) => e,
  )
  t.ok(refused instanceof TransportError, 'the third connection to cluster a gets an error frame')
  const ex = (refused as TransportError).javaException
  t.same(ex && { type: ex.type, status: 'status' in ex ? ex.status : null }, { type: 'security', status: 'TOO_MANY_REQUESTS' }, '429')
  t.match(ex?.message, /too many connections to cluster \[a\].*at most 2/, 'the error names the cluster and the limit')
  t.equal(await gw.metricValue('rcgw_limit_hits_total', { limit: 'cluster_max_connections' }), 1, 'counted')
  const line = gw.logs.find((l) => l.event === 'limit_hit' && l.limit === 'cluster_max_connections')
  t.match(line?.msg, /cluster a has max_connections \(2\) open/, 'the log line says why')
  t.equal(line?.cluster, 'a')
  t.equal(remoteHandshakes(), 2, 'the refused request never reached the backend (only its TCP handshake did)')
  t.equal(gw.gateway.transport.clusterConnectionCount('a'), 2)

  const other = await client(t, gw.port, { servername: 'remote-b.example.com' })
  t.equal(other.clusterName, 'cluster-b', 'cluster b still accepts')

  await c1.close()
  await until(() => gw.gateway.transport.clusterConnectionCount('a') === 1, 5000, 'count to drop')
  const again = await client(t, gw.port)
  t.equal(again.clusterName, 'cluster-a', 'a closed connection frees its slot')
})

t.test('clusters[].max_connections counts authenticated connections only: idle TLS sockets cannot lock a cluster out', async (t) => {
  const a = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${a.port}`], max_connections: 2 }] })
  const { ca } = testPki()
  // Five TLS connections that never send a byte.
  const idle = await Promise.all(
    Array.from(
      { length: 5 },
      () =>
        new Promise<import('node:tls').TLSSocket>((resolve, reject) => {
          const s = tlsConnect({ host: '127.0.0.1', port: gw.port, ca: ca.certPem, servername: 'remote-a.example.com' }, () => resolve(s))
          s.on('error', reject)
        }),
    ),
  )
  t.teardown(() => idle.forEach((s) => s.destroy()))
  await until(() => gw.gateway.transport.connectionCount === 5, 5000, 'idle sockets routed')
  t.equal(gw.gateway.transport.clusterConnectionCount('a'), 0, 'none of them holds a slot')
  const c = await client(t, gw.port)
  t.equal((await c.request(SEARCH, Buffer.from('still in'))).body.toString(), 'still in', 'an authenticated client gets in')
  t.equal(gw.gateway.transport.clusterConnectionCount('a'), 1)
})

t.test('clusters[].max_connections_per_api_key: the first request of the excess connection gets a 429 error frame', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`], max_connections_per_api_key: 2 }] })
  const first = await client(t, gw.port)
  await client(t, gw.port)
  t.equal(gw.gateway.transport.apiKeyConnectionCount('a', KEY_ID), 2, 'both connections counted against the key')
  const handshakesBefore = be.requests.filter((r) => r.action === 'cluster:internal/remote_cluster/handshake').length

  const err = await client(t, gw.port).then(
    () => null,
    (e: unknown) => e,
  )
  t.ok(err instanceof TransportError, 'the remote cluster handshake is answered with an error frame')
  const ex = (err as TransportError).javaException
  t.same(ex && { type: ex.type, status: 'status' in ex ? ex.status : null }, { type: 'security', status: 'TOO_MANY_REQUESTS' }, 'ElasticsearchSecurityException, 429')
  t.match(ex?.message, new RegExp(`too many connections for API key \\[${KEY_ID}\\].*at most 2`), 'names the key and the limit')
  t.equal(be.requests.filter((r) => r.action === 'cluster:internal/remote_cluster/handshake').length, handshakesBefore, 'the refused request never reached the backend')
  await until(() => gw.logs.some((l) => l.event === 'connection_closed' && l.close_reason === 'limit:api_key_max_connections'), 5000, 'close line')
  t.equal(await gw.metricValue('rcgw_limit_hits_total', { limit: 'api_key_max_connections' }), 1)
  const hit = gw.logs.find((l) => l.event === 'limit_hit')
  t.equal(hit?.api_key_id, KEY_ID, 'the log names the key id')
  t.notOk(JSON.stringify(gw.logs).includes('ui2lp2axTNmsyakw9tvNnw'), 'never the secret')
  t.equal(await gw.metricValue('rcgw_auth_failures_total'), 0, 'a limit is not an authentication failure')

  const other = await client(t, gw.port, { credentials: credentialsFor(OTHER_KEY_ID), subjectInfo: SUBJECT_INFO })
  t.equal(other.clusterName, 'cluster-a', 'another key is counted separately')
  t.equal(gw.gateway.transport.apiKeyConnectionCount('a', OTHER_KEY_ID), 1)

  await first.close()
  await until(() => gw.gateway.transport.apiKeyConnectionCount('a', KEY_ID) === 1, 5000, 'key count to drop')
  const again = await client(t, gw.port)
  t.equal((await again.request(SEARCH, Buffer.from('ok'))).body.toString(), 'ok', 'a closed connection frees the key slot')
  const closed = gw.logs.find((l) => l.event === 'connection_closed' && l.close_reason === 'client_closed')
  t.equal(closed?.api_key_id, KEY_ID, 'the close line names the key the connection counted against')
})

t.test('a connection without credentials is not counted against any key', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`], max_connections_per_api_key: 1, authentication: false }] })
  const certModel = await client(t, gw.port, { credentials: undefined, subjectInfo: undefined })
  const certModel2 = await client(t, gw.port, { credentials: undefined, subjectInfo: undefined })
  t.equal(certModel.clusterName, 'cluster-a')
  t.equal(certModel2.clusterName, 'cluster-a', 'two certificate-model connections with a per-key limit of 1')
  t.equal(await gw.metricValue('rcgw_limit_hits_total', { limit: 'api_key_max_connections' }), 0)
})

t.test('max_header_size: an oversized header closes that connection and is counted', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }], extra: { limits: { max_header_size: '1kb' } } })
  const good = await client(t, gw.port)
  const bad = await client(t, gw.port)
  void bad.request(SEARCH, Buffer.from('x'), { headers: { big: 'a'.repeat(2000) } }).catch(() => {})
  await bad.closed
  t.equal(await gw.metricValue('rcgw_limit_hits_total', { limit: 'max_header_size' }), 1)
  t.equal(await gw.metricValue('rcgw_frame_errors_total', { reason: 'header_too_large' }), 1, 'and as the framing error it is')
  t.equal((await good.request(SEARCH, Buffer.from('fine'))).body.toString(), 'fine', 'other connections keep working')
})

t.test('max_in_flight_requests: the excess is relayed but counted once per connection', async (t) => {
  const held: Array<() => void> = []
  const be = await backend(t, 'cluster-a', {
    onRequest: (h, body) => (h.variable?.action === SEARCH ? new Promise((r) => held.push(() => r(body))) : undefined),
  })
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }], extra: { limits: { max_in_flight_requests: 1 } } })
  const c = await client(t, gw.port)
  const replies = [1, 2, 3].map((i) => c.request(SEARCH, Buffer.from(`r${i}`)))
  await until(() => held.length === 3, 5000, 'backend to hold three requests')
  for (const release of held) release()
  t.same((await Promise.all(replies)).map((r) => r.body.toString()), ['r1', 'r2', 'r3'], 'all relayed')
  t.equal(await gw.metricValue('rcgw_limit_hits_total', { limit: 'max_in_flight_requests' }), 1)
})

t.test('handshake deadline and the global max_connections are counted as limit hits too', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }], extra: { limits: { handshake_timeout: '200ms', max_connections: 1 } } })
  const silent = netConnect({ host: '127.0.0.1', port: gw.port })
  silent.on('error', () => {})
  await new Promise((r) => silent.once('close', r))
  t.equal(await gw.metricValue('rcgw_limit_hits_total', { limit: 'handshake_timeout' }), 1)
  t.equal(await gw.metricValue('rcgw_tls_handshake_failures_total', { reason: 'timeout' }), 1)

  const c = await client(t, gw.port)
  const excess = tlsConnect({ host: '127.0.0.1', port: gw.port, ca: testPki().ca.certPem, servername: 'remote-a.example.com' })
  excess.on('error', () => {})
  await new Promise((r) => excess.once('close', r))
  t.equal(await gw.metricValue('rcgw_limit_hits_total', { limit: 'max_connections' }), 1)
  t.equal(await gw.metricValue('rcgw_connections_rejected_total', { reason: 'max_connections' }), 1)
  t.equal((await c.request(SEARCH, Buffer.from('1'))).body.toString(), '1')
})

t.test('config: limits must be positive integers', async (t) => {
  const dir = tempDir(t)
  writePki(dir)
  const load = (cluster: string) =>
    loadConfigText(`tls: { certificate: server.crt, key: server.key }\nclusters: [{ name: a, nodes: ["127.0.0.1:1"]${cluster} }]\n`, join(dir, 'g.yml'), { env: {} })
  const problem = (cluster: string) => {
    try {
      load(cluster)
      return null
    } catch (e) {
      return e instanceof ConfigError ? e.message : String(e)
    }
  }
  t.match(problem(', max_connections: 0'), /^clusters\[0\]\.max_connections: /)
  t.match(problem(', max_connections_per_api_key: 1.5'), /^clusters\[0\]\.max_connections_per_api_key: /)
  const c = load(', max_connections: 18, max_connections_per_api_key: 4').clusters[0]!
  t.equal(c.maxConnections, 18)
  t.equal(c.maxConnectionsPerApiKey, 4)
  const d = load('').clusters[0]!
  t.equal(d.maxConnections, null, 'unlimited by default')
  t.equal(d.maxConnectionsPerApiKey, null)
})
