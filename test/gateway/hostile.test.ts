/**
 * Issue #11 regressions through real sockets (real TLS, real config, emulator backend): each test names the
 * finding it keeps fixed. The byte-exactness properties over every split point are in relay-stream.test.ts.
 */
import t from 'tap'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { connect as netConnect } from 'node:net'
import { startGateway } from '../helpers/gateway.js'
import { backend, client, until } from './fixtures.js'
import { testPki } from '../helpers/pki.js'
import { TransportError } from '../emulator/client.js'
import { encodeFrame } from '../../src/codec/frame.js'
import { Status, HANDSHAKE_V9 } from '../../src/codec/constants.js'

const SEARCH = 'indices:data/read/search'
const DENIED = 'indices:admin/delete'

function tlsOpen(port: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca: testPki().ca.certPem, servername: 'remote-a.example.com' }, () => resolve(s))
    s.on('error', reject)
  })
}

function closed(s: TLSSocket): Promise<void> {
  return new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())))
}

t.test('finding 4: a response dribbled byte by byte while a non-closing denial is injected arrives intact', async (t) => {
  const warnings = new Map([['Warning', Array.from({ length: 5 }, (_, i) => `299 Elasticsearch "deprecated thing ${i}"`)]])
  const be = await backend(t, 'cluster-a', {
    onRequest: (h, body) =>
      h.variable?.action === SEARCH && body.toString() === 'slow'
        ? {
            rawChunks: (req) => {
              const frame = encodeFrame({ requestId: req.requestId, status: Status.RESPONSE, version: req.version, responseHeaders: warnings, body: Buffer.from('the slow answer') })
              return Array.from(frame, (_, i) => frame.subarray(i, i + 1))
            },
          }
        : undefined,
  })
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }] })
  const c = await client(t, gw.port)
  const slow = c.request(SEARCH, Buffer.from('slow'))
  // Wait until the response has started (the backend stream is mid-frame), then get denied.
  await until(async () => (await gw.metricValue('rcgw_bytes_total', { cluster: 'a', direction: 'backend_to_client' })) > 200, 10_000, 'response to start')
  const denied = await c.request(DENIED, Buffer.from('x')).then(
    () => null,
    (e: unknown) => e,
  )
  t.ok(denied instanceof TransportError, 'the denied request is answered with an error frame')
  t.equal((denied as TransportError).javaException?.type, 'illegal_argument')
  const r = await slow
  t.equal(r.body.toString(), 'the slow answer', 'the dribbled response is intact')
  t.same(r.header.variable?.responseHeaders.get('Warning')?.length, 5, 'with its response headers')
  t.equal(c.protocolError, null, 'the client saw a clean stream')
  t.equal((await c.request(SEARCH, Buffer.from('after'))).body.toString(), 'after', 'the connection keeps working')
})

t.test('finding 7: a handshake frame with headers, another action or a large body is a framing violation', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }] })
  const bad = [
    { what: 'with request headers', frame: { action: 'internal:tcp/handshake', requestHeaders: { _xpack_security_authentication: 'forged' }, body: Buffer.from('00', 'hex') } },
    { what: 'for another action', frame: { action: 'indices:data/write/bulk', body: Buffer.from('00', 'hex') } },
    { what: 'with a 1 MiB body', frame: { action: 'internal:tcp/handshake', body: Buffer.alloc(1024 * 1024) } },
  ]
  for (const b of bad) {
    const s = await tlsOpen(gw.port)
    s.write(encodeFrame({ requestId: 1n, status: Status.HANDSHAKE, version: HANDSHAKE_V9, ...b.frame }))
    await closed(s)
    t.pass(`handshake ${b.what}: connection closed`)
  }
  t.equal(be.requests.length, 0, 'none of them reached the backend')
  t.equal(await gw.metricValue('rcgw_frame_errors_total', { reason: 'bad_handshake' }), 3, 'counted')
  const good = await client(t, gw.port)
  t.equal(good.clusterName, 'cluster-a', 'a real handshake still works')
})

t.test('finding 9: limits.first_request_timeout closes a connection that never authenticates', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }], extra: { limits: { first_request_timeout: '300ms' } } })
  const tcpOnly = await client(t, gw.port, { handshake: 'tcp' })
  const idle = await tlsOpen(gw.port)
  t.teardown(() => idle.destroy())
  const good = await client(t, gw.port)
  await tcpOnly.closed
  await closed(idle)
  t.pass('the TCP-handshake-only and the silent connection are both closed')
  t.equal(await gw.metricValue('rcgw_limit_hits_total', { limit: 'first_request_timeout' }), 2, 'counted')
  t.ok(gw.logs.some((l) => l.event === 'connection_closed' && l.close_reason === 'limit:first_request_timeout'), 'logged with the reason')
  await until(() => be.activeConnections === 1, 5000, 'backend sockets released')
  t.equal((await good.request(SEARCH, Buffer.from('still here'))).body.toString(), 'still here', 'the authenticated connection is untouched')
})

t.test('finding 9: limits.max_connections_per_client_ip closes the excess before TLS', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }], extra: { limits: { max_connections_per_client_ip: 2 } } })
  const a = await client(t, gw.port)
  await tlsOpen(gw.port).then((s) => t.teardown(() => s.destroy()))
  const refused = await new Promise<string>((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port: gw.port })
    s.on('error', () => resolve('error'))
    s.on('close', () => resolve('closed'))
  })
  t.ok(refused === 'closed' || refused === 'error', 'the third connection from 127.0.0.1 is closed')
  t.equal(await gw.metricValue('rcgw_connections_rejected_total', { reason: 'client_ip_max_connections' }), 1, 'counted as a rejection')
  t.equal(await gw.metricValue('rcgw_limit_hits_total', { limit: 'max_connections_per_client_ip' }), 1, 'and as a limit hit')
  await a.close()
  await until(async () => {
    const c = await client(t, gw.port).catch(() => null)
    return c !== null
  }, 5000, 'a slot to free up')
  t.pass('a closed connection frees its slot')
})

t.test('finding 11: a response with 90 KB of Warning headers passes a 1kb max_header_size', async (t) => {
  const many = new Map([['Warning', Array.from({ length: 2000 }, (_, i) => `299 Elasticsearch "warning ${i}"`)]])
  const be = await backend(t, 'cluster-a', {
    onRequest: (h) =>
      h.variable?.action === SEARCH
        ? { rawChunks: (req) => [encodeFrame({ requestId: req.requestId, status: Status.RESPONSE, version: req.version, responseHeaders: many, body: Buffer.from('ok') })] }
        : undefined,
  })
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }], extra: { limits: { max_header_size: '1kb' } } })
  const c = await client(t, gw.port, { maxHeaderSize: 1024 * 1024 })
  const r = await c.request(SEARCH, Buffer.from('q'))
  t.equal(r.body.toString(), 'ok')
  t.equal(r.header.variable?.responseHeaders.get('Warning')?.length, 2000, 'every header relayed')
  t.equal(await gw.metricValue('rcgw_frame_errors_total'), 0, 'no framing error')
})

t.test('finding 8: a closing refusal to a client that stopped reading ends within the close deadline', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await startGateway(t, { clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }], extra: { limits: { close_timeout: '200ms' } } })
  const c = await client(t, gw.port)
  // An 8 MiB echo the client never reads: the backend→client stream stalls mid-frame.
  void c.request(SEARCH, Buffer.alloc(8 * 1024 * 1024)).catch(() => {})
  c.socket.pause()
  await until(async () => (await gw.metricValue('rcgw_bytes_total', { cluster: 'a', direction: 'backend_to_client' })) > 1024 * 1024, 10_000, 'echo to back up')
  // Then a request without credentials: a 401 that closes the connection, whose error frame can never be delivered.
  void c.request(SEARCH, Buffer.from('x'), { accessHeaders: false }).catch(() => {})
  await until(() => gw.gateway.transport.connectionCount === 0, 10_000, 'the connection to be gone')
  t.ok(gw.logs.some((l) => l.event === 'connection_closed' && l.close_reason === 'denied:missing_credentials'), 'closed for the refusal')
  t.ok((await gw.metricValue('rcgw_limit_hits_total', { limit: 'close_timeout' })) >= 1, 'the deadline did it, and it is counted')
  await until(() => be.activeConnections === 0, 5000, 'backend socket released')
})
