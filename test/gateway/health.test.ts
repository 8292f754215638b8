/**
 * Active health checks (TLS connect + transport TCP handshake) and readiness.
 */
import t from 'tap'
import { get } from 'node:http'
import { startGateway } from '../helpers/gateway.js'
import { backend, client, until } from './fixtures.js'

function fetchStatus(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    }).on('error', reject)
  })
}

t.test('health checks mark nodes up and down; readiness follows', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, {
    clusters: [
      { name: 'a', default: true, nodes: [`127.0.0.1:${be.port}`, '127.0.0.1:1'], health_check: { enabled: true, interval: '100ms', timeout: '2s' } },
      { name: 'b', server_names: ['remote-b.example.com'], nodes: ['127.0.0.1:1'], health_check: { enabled: true, interval: '100ms', timeout: '2s' } },
    ],
  })
  await until(async () => (await gw.metricValue('rcgw_backend_up', { cluster: 'a', node: '127.0.0.1:1' })) === 0, 10_000, 'dead node marked down')
  await until(() => be.handshakes.length > 0, 10_000, 'a health check handshake')
  t.equal(await gw.metricValue('rcgw_backend_up', { cluster: 'a', node: `127.0.0.1:${be.port}` }), 1, 'live node up')
  t.equal(be.handshakes[0]!.handshakeVersion, 7170099, 'health checks use the v7170099 TCP handshake (8.x and 9.x accept it)')
  t.equal(be.handshakes[0]!.requesterVersion, 8841064, 'claiming 8.19.0')
  const pool = gw.gateway.transport.clusters[0]!.pool
  await until(() => pool.nodes[0]!.transportVersion !== null, 10_000, 'the handshake response to be processed')
  // The responder answers with the best version it knows that is ≤ ours (TransportHandshaker [9.x]).
  t.equal(pool.nodes[0]!.transportVersion, Math.min(be.transportVersion, 8841064), 'learned the negotiated transport version')
  const ready = await fetchStatus(gw.adminPort!, '/readyz')
  t.equal(ready.status, 503, 'cluster b has no healthy node')
  t.same(JSON.parse(ready.body).clusters_without_healthy_nodes, ['b'])
  t.equal((await fetchStatus(gw.adminPort!, '/healthz')).status, 200)
  const c = await client(t, gw.port)
  t.equal(c.clusterName, 'cluster-a', 'traffic goes to the healthy node first')
  t.equal(await gw.metricValue('rcgw_backend_connect_failures_total', { cluster: 'a', node: '127.0.0.1:1' }) >= 1, true)
})

t.test('a node that accepts TLS but never answers the handshake is down', async (t) => {
  const be = await backend(t, 'cluster-a', { onRequest: () => 'no_reply' })
  // The emulator answers TCP handshakes itself; make it refuse by requiring a newer requester version.
  const strict = await backend(t, 'cluster-z', { minimumCompatibleVersion: 9_000_000 })
  const gw = await startGateway(t, {
    clusters: [{ name: 'a', nodes: [`127.0.0.1:${strict.port}`, `127.0.0.1:${be.port}`], health_check: { enabled: true, interval: '100ms', timeout: '1s' } }],
  })
  await until(async () => (await gw.metricValue('rcgw_backend_connect_failures_total', { node: `127.0.0.1:${strict.port}`, reason: 'handshake' })) >= 1, 10_000, 'handshake failure counted')
  t.equal(await gw.metricValue('rcgw_backend_up', { node: `127.0.0.1:${strict.port}` }), 0, 'a node that rejects the handshake is down')
  t.equal(await gw.metricValue('rcgw_backend_up', { node: `127.0.0.1:${be.port}` }), 1)
})
