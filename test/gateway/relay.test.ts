/**
 * The transport data path end to end: emulated local cluster → gateway (real TLS, real config) → emulated backend.
 */
import t from 'tap'
import { randomBytes, createHash } from 'node:crypto'
import { connect as netConnect } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { startGateway } from '../helpers/gateway.js'
import { backend, client, until, KEY_ID } from './fixtures.js'
import { testPki } from '../helpers/pki.js'

const SEARCH = 'indices:data/read/search'
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

t.test('18 proxy-mode sockets each reach the backend cluster', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', server_names: ['remote-a.example.com'], nodes: [`127.0.0.1:${be.port}`] }] })
  const clients = await Promise.all(Array.from({ length: 18 }, () => client(t, gw.port)))
  t.same(new Set(clients.map((c) => c.clusterName)), new Set(['cluster-a']), 'every socket reports the same cluster name')
  t.equal(be.connections, 18, 'one backend connection per client socket (1:1)')
  t.equal(gw.gateway.transport.connectionCount, 18)
  const replies = await Promise.all(clients.map((c, i) => c.request(SEARCH, Buffer.from(`hello ${i}`))))
  replies.forEach((r, i) => t.equal(r.body.toString(), `hello ${i}`))
  t.equal(await gw.metricValue('rcgw_client_connections_total', { cluster: 'a' }), 18)
  t.ok(be.requests.every((r) => r.isHandshake || r.requestHeaders._cross_cluster_access_credentials !== undefined), 'access headers forwarded untouched')
})

t.test('200 pipelined requests keep their ids; handshakes at both versions', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }] })
  for (const handshakeVersion of [7170099, 8800000] as const) {
    const c = await client(t, gw.port, { handshakeVersion })
    t.equal(c.negotiatedVersion, be.transportVersion, `v${handshakeVersion} handshake negotiated end to end`)
    const bodies = Array.from({ length: 200 }, (_, i) => randomBytes(1 + (i % 97)))
    const replies = await Promise.all(bodies.map((b) => c.request(SEARCH, b)))
    t.ok(replies.every((r, i) => r.body.equals(bodies[i]!)), 'every response matches its request (by id)')
  }
  await until(async () => (await gw.metricValue('rcgw_requests_total', { cluster: 'a', action: SEARCH, outcome: 'success' })) === 400, 5000, 'request metrics')
  t.equal(await gw.metricValue('rcgw_requests_total', { cluster: 'a', action: SEARCH, outcome: 'success' }), 400, 'responses attributed to their action')
})

t.test('8 MiB bodies both ways arrive intact', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }] })
  const c = await client(t, gw.port)
  const body = randomBytes(8 * 1024 * 1024)
  const reply = await c.request(SEARCH, body)
  t.equal(reply.body.length, body.length)
  t.equal(sha(reply.body), sha(body), 'echoed body hash matches')
  const rec = be.requests.find((r) => r.action === SEARCH)
  t.equal(rec?.bodyLength, body.length, 'backend received the whole body')
  t.ok((await gw.metricValue('rcgw_bytes_total', { cluster: 'a', direction: 'client_to_backend' })) > body.length)
  t.ok((await gw.metricValue('rcgw_bytes_total', { cluster: 'a', direction: 'backend_to_client' })) > body.length)
})

t.test('a conversation written one byte at a time', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }] })
  const c = await client(t, gw.port, { writeOneByteAtATime: true })
  t.equal(c.clusterName, 'cluster-a', 'handshakes byte by byte')
  await c.ping()
  const r = await c.request(SEARCH, Buffer.from('byte by byte'))
  t.equal(r.body.toString(), 'byte by byte')
})

t.test('SNI routes to two clusters; unknown names go to the default one', async (t) => {
  const a = await backend(t, 'cluster-a')
  const b = await backend(t, 'cluster-b')
  const gw = await startGateway(t, {
    clusters: [
      { name: 'a', server_names: ['remote-a.example.com'], default: true, nodes: [`127.0.0.1:${a.port}`] },
      { name: 'b', server_names: ['remote-b.example.com'], nodes: [`127.0.0.1:${b.port}`] },
    ],
  })
  t.equal((await client(t, gw.port, { servername: 'remote-a.example.com' })).clusterName, 'cluster-a')
  t.equal((await client(t, gw.port, { servername: 'REMOTE-B.example.com' })).clusterName, 'cluster-b', 'case-insensitive')
  t.equal((await client(t, gw.port, { servername: 'gateway.test' })).clusterName, 'cluster-a', 'unknown SNI → default')
  const sniSeen = gw.logs.filter((l) => l.event === 'connection_opened').map((l) => l.sni)
  t.same(sniSeen, ['remote-a.example.com', 'REMOTE-B.example.com', 'gateway.test'], 'logged as sent')
})

t.test('unknown SNI without a default cluster is refused and counted', async (t) => {
  const a = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', server_names: ['remote-a.example.com'], nodes: [`127.0.0.1:${a.port}`] }] })
  const s = tlsConnect({ host: '127.0.0.1', port: gw.port, servername: 'elsewhere.example.com', ca: testPki().ca.certPem, checkServerIdentity: () => undefined })
  s.on('error', () => {})
  await new Promise((r) => s.once('close', r))
  t.equal(await gw.metricValue('rcgw_tls_handshake_failures_total', { reason: 'unknown_sni' }), 1)
  t.equal(a.connections, 0, 'nothing reached the backend')
})

t.test('failover: a refused node is skipped for the next one', async (t) => {
  const be = await backend(t, 'cluster-a')
  // Port 1 on loopback refuses connections.
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: ['127.0.0.1:1', `127.0.0.1:${be.port}`] }] })
  const c = await client(t, gw.port)
  t.equal(c.clusterName, 'cluster-a')
  t.equal(await gw.metricValue('rcgw_backend_connect_failures_total', { node: '127.0.0.1:1', reason: 'refused' }), 1)
  t.equal(await gw.metricValue('rcgw_backend_up', { node: '127.0.0.1:1' }), 0, 'refused node marked down')
  const c2 = await client(t, gw.port)
  t.equal(c2.clusterName, 'cluster-a')
  t.equal(await gw.metricValue('rcgw_backend_connect_failures_total', { node: '127.0.0.1:1', reason: 'refused' }), 1, 'the down node is tried last, not first')
})

t.test('no backend node available: the client connection is closed, not hung', async (t) => {
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: ['127.0.0.1:1'] }] })
  const closed = await client(t, gw.port, { handshake: 'none' }).then((c) => c.closed)
  t.ok(closed, 'closed')
  await until(() => gw.logs.some((l) => l.msg === 'no backend node available; closing client connection'), 5000, 'log line')
  t.pass('logged')
})

t.test('a framing violation closes that socket only', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }] })
  const good = await client(t, gw.port)
  const bad = await client(t, gw.port)
  await bad.writeRaw(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
  await bad.closed
  t.equal(await gw.metricValue('rcgw_frame_errors_total', { reason: 'http_request' }), 1)
  const r = await good.request(SEARCH, Buffer.from('still here'))
  t.equal(r.body.toString(), 'still here', 'the other connection keeps working')
  t.notOk(be.requests.some((q) => q.action === null && !q.isHandshake), 'the garbage never reached the backend')
  const closeLog = gw.logs.find((l) => l.event === 'connection_closed' && String(l.close_reason).startsWith('framing_error'))
  t.equal(closeLog?.close_reason, 'framing_error:http_request')
})

t.test('a response frame from the client is a protocol violation', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }] })
  const c = await client(t, gw.port)
  const { encodeFrame } = await import('../../src/codec/frame.js')
  await c.writeRaw(encodeFrame({ requestId: 99n, status: 0x01, version: 9250003, body: Buffer.from([0]) }))
  await c.closed
  t.equal(await gw.metricValue('rcgw_frame_errors_total', { reason: 'unexpected_response' }), 1)
})

t.test('pings pass through both ways', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }] })
  const c = await client(t, gw.port)
  await c.ping()
  await c.ping()
  t.equal(be.pingsAnswered, 2, 'the backend answered both pings')
})

t.test('TLS handshake deadline destroys silent sockets', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }], extra: { limits: { handshake_timeout: '200ms' } } })
  const s = netConnect({ host: '127.0.0.1', port: gw.port })
  s.on('error', () => {})
  await new Promise((r) => s.once('close', r))
  t.equal(await gw.metricValue('rcgw_tls_handshake_failures_total', { reason: 'timeout' }), 1)
})

t.test('plain-text bytes on the TLS port are counted as not_tls', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }] })
  const s = netConnect({ host: '127.0.0.1', port: gw.port }, () => s.write('GET / HTTP/1.1\r\n\r\n'))
  s.on('error', () => {})
  s.resume()
  await new Promise((r) => s.once('close', r))
  t.equal(await gw.metricValue('rcgw_tls_handshake_failures_total', { reason: 'not_tls' }), 1)
})

t.test('max_connections refuses the excess', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }], extra: { limits: { max_connections: 2 } } })
  const c1 = await client(t, gw.port)
  const c2 = await client(t, gw.port)
  const s = netConnect({ host: '127.0.0.1', port: gw.port })
  s.on('error', () => {})
  await new Promise((r) => s.once('close', r))
  t.equal(await gw.metricValue('rcgw_connections_rejected_total', { reason: 'max_connections' }), 1)
  t.equal((await c1.request(SEARCH, Buffer.from('1'))).body.toString(), '1')
  t.equal((await c2.request(SEARCH, Buffer.from('2'))).body.toString(), '2')
})

t.test('client certificates: required mode', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, {
    clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }],
    extra: { tls: { certificate: 'certs/server.crt', key: 'certs/server.key', client_authentication: 'required', certificate_authorities: ['certs/ca.crt'] } },
  })
  const noCert = await client(t, gw.port, { handshake: 'none' })
  await noCert.closed
  t.equal(await gw.metricValue('rcgw_tls_handshake_failures_total', { reason: 'no_cert' }), 1)
  const { server } = testPki()
  const withCert = await client(t, gw.port, { cert: server.certPem, key: server.keyPem })
  t.equal(withCert.clusterName, 'cluster-a', 'a certificate from the configured CA is accepted')
})

t.test('denied requests never reach the backend; allowed ones on the same socket do', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }] })
  const c = await client(t, gw.port)
  const before = be.requests.length
  const err = await c.request('indices:admin/create', Buffer.from('x')).catch((e: Error & { exception?: { message?: string; className?: string } }) => e)
  t.ok(err instanceof Error, 'error frame')
  t.match((err as { exception?: { message?: string } }).exception?.message ?? '', /action \[indices:admin\/create\] is not allowed as a cross cluster operation/)
  t.equal(be.requests.length, before, 'backend saw nothing')
  t.equal((await c.request(SEARCH, Buffer.from('next'))).body.toString(), 'next', 'connection stays open after an action denial')
  const denial = gw.logs.find((l) => l.event === 'denied')
  t.equal(denial?.reason, 'action_not_allowed')
  t.equal(denial?.api_key_id, KEY_ID, 'audit names the API key id')
  t.notOk(JSON.stringify(gw.logs).includes('ui2lp2axTNmsyakw9tvNnw'), 'the secret never appears in logs')
})

t.test('graceful stop: in-flight requests finish, then connections close', async (t) => {
  let release: (() => void) | null = null
  const be = await backend(t, 'cluster-a', {
    onRequest: (h, body) =>
      h.variable?.action === 'indices:data/read/search[phase/query]'
        ? new Promise((r) => {
            release = () => r(body)
          })
        : undefined,
  })
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }] })
  const c = await client(t, gw.port)
  const slow = c.request('indices:data/read/search[phase/query]', Buffer.from('slow'))
  await until(() => release !== null, 5000, 'backend to receive the slow request')
  const stopped = gw.gateway.stop(10_000)
  await until(() => !gw.gateway.transport.isListening, 5000, 'listener closed')
  release!()
  t.equal((await slow).body.toString(), 'slow', 'in-flight request completed during the drain')
  await stopped
  await c.closed
  t.equal(gw.gateway.transport.connectionCount, 0)
})
