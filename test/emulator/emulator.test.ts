/**
 * Client ↔ backend directly (no gateway), over TLS on 127.0.0.1 with ephemeral ports.
 * Every socket is closed at the end (backend.idle() / close()).
 * Note: package.json's tap config excludes test/emulator/**; run with `npx tap test/emulator/`.
 */
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import {
  HANDSHAKE_LEGACY,
  HANDSHAKE_V8,
  HANDSHAKE_V9,
  REMOTE_CLUSTER_HANDSHAKE_ACTION,
  Status,
  TRANSPORT_HANDSHAKE_ACTION,
  encodeFrame,
  encodeTcpHandshakeRequest,
  type JavaException,
} from '../../src/codec/index.js'
import { startBackend, type Backend } from './backend.js'
import { makeCa, makeLeaf, makeServerCert, prewarmRsaKeys } from './certs.js'
import { TransportError, connectClient, type ClientOptions } from './client.js'

await prewarmRsaKeys(2)
const ca = makeCa('Emulator Test CA')
const server = makeServerCert(ca, { cn: 'localhost', dnsNames: ['localhost'], ips: ['127.0.0.1'] })
const CREDENTIALS = 'ApiKey ' + Buffer.from('key-id:secret').toString('base64')

async function withBackend(t: { teardown(fn: () => unknown): void }, extra: Partial<Parameters<typeof startBackend>[0]> = {}): Promise<Backend> {
  const backend = await startBackend({ tls: { key: server.key, cert: server.cert }, clusterName: 'remote-a', nodeName: 'node-1', ...extra })
  t.teardown(() => backend.close())
  return backend
}

function clientOpts(backend: Backend, extra: Partial<ClientOptions> = {}): ClientOptions {
  return { host: '127.0.0.1', port: backend.port, ca: ca.cert, credentials: CREDENTIALS, subjectInfo: 'c3ViamVjdA==', ...extra }
}

t.test('handshakes at both versions and the remote cluster handshake', async (t) => {
  const backend = await withBackend(t)
  for (const hv of [HANDSHAKE_V8, HANDSHAKE_V9] as const) {
    const client = await connectClient(clientOpts(backend, { handshakeVersion: hv, servername: 'remote-a.example' }))
    t.equal(client.handshakeVersion, hv)
    t.equal(client.remoteTransportVersion, 9250003)
    t.equal(client.remoteRelease, hv === HANDSHAKE_V9 ? '9.3.0' : null)
    t.equal(client.negotiatedVersion, 9250003)
    t.equal(client.clusterName, 'remote-a')
    t.match(client.remoteHandshake, { releaseVersionId: 9030099, nodeName: 'node-1', clusterName: 'remote-a' })
    await client.close()
  }
  await backend.idle()
  t.equal(backend.connections, 2)
  t.equal(backend.activeConnections, 0)
  t.same(
    backend.handshakes.map((h) => [h.handshakeVersion, h.requesterVersion, h.requesterRelease, h.answeredVersion]),
    [
      [HANDSHAKE_V8, 9250003, null, 9250003],
      [HANDSHAKE_V9, 9250003, '9.3.0', 9250003],
    ],
  )
  const remote = backend.requests.filter((r) => r.action === REMOTE_CLUSTER_HANDSHAKE_ACTION)
  t.equal(remote.length, 2)
  t.same(remote[0]!.requestHeaders, { _cross_cluster_access_credentials: CREDENTIALS, _cross_cluster_access_subject_info: 'c3ViamVjdA==' })
  t.equal(remote[0]!.version, 9250003, 'ordinary frames carry the negotiated version')
  t.same(backend.connectionInfo.map((c) => c.servername), ['remote-a.example', 'remote-a.example'], 'SNI reaches the backend')
  const tcp = backend.requests.filter((r) => r.isHandshake)
  t.same(tcp.map((r) => r.version), [HANDSHAKE_V8, HANDSHAKE_V9])
})

t.test('version negotiation with an older client; no credentials → internal:transport/handshake', async (t) => {
  const backend = await withBackend(t)
  const client = await connectClient(clientOpts(backend, { transportVersion: 8841064, credentials: undefined, subjectInfo: undefined }))
  t.equal(client.remoteTransportVersion, 8841064, 'the backend answers with the older version')
  t.equal(client.negotiatedVersion, 8841064)
  t.equal(client.clusterName, 'remote-a')
  const r = await client.request('indices:data/read/search', Buffer.from('00ab', 'hex'))
  t.equal(r.header.version, 8841064, 'responses echo the request header version')
  await client.close()
  t.same(backend.requests.map((x) => x.action), ['internal:tcp/handshake', TRANSPORT_HANDSHAKE_ACTION, 'indices:data/read/search'])
  t.same(backend.requests[1]!.requestHeaders, {})
})

t.test('200 pipelined requests come back matched by request id', async (t) => {
  const backend = await withBackend(t)
  const client = await connectClient(clientOpts(backend))
  const bodies = Array.from({ length: 200 }, (_, i) => Buffer.concat([Buffer.from([0]), randomBytes(i * 7)]))
  const responses = await Promise.all(bodies.map((b, i) => client.request(`indices:data/read/search[${i}]`, b, { headers: { 'X-Opaque-Id': `op-${i}` } })))
  t.equal(responses.length, 200)
  const ids = new Set<bigint>()
  responses.forEach((r, i) => {
    t.ok(r.body.equals(bodies[i]!), `body ${i}`)
    t.equal(r.header.isRequest, false)
    ids.add(r.header.requestId)
  })
  t.equal(ids.size, 200, 'distinct request ids')
  const recorded = backend.requests.filter((r) => r.action?.startsWith('indices:'))
  t.equal(recorded.length, 200)
  t.same(
    recorded.map((r) => r.requestId),
    responses.map((r) => r.header.requestId),
    'the backend saw the same ids in order',
  )
  t.equal(recorded[5]!.requestHeaders['X-Opaque-Id'], 'op-5')
  t.equal(recorded[5]!.requestHeaders._cross_cluster_access_credentials, CREDENTIALS, 'access headers on every request')
  t.equal(client.pendingRequests, 0)
  await client.close()
})

t.test('an 8 MiB body is echoed intact (streamed by the backend)', async (t) => {
  const backend = await withBackend(t)
  const client = await connectClient(clientOpts(backend))
  const body = randomBytes(8 * 1024 * 1024)
  const sha = createHash('sha256').update(body).digest('hex')
  const r = await client.request('internal:data/big', body)
  t.equal(r.body.length, body.length)
  t.equal(createHash('sha256').update(r.body).digest('hex'), sha)
  const rec = backend.requests.find((x) => x.action === 'internal:data/big')!
  t.equal(rec.bodyLength, body.length)
  t.equal(rec.bodySha256, sha)
  await client.close()
})

t.test('ping echo and the compress flag', async (t) => {
  const backend = await withBackend(t)
  const client = await connectClient(clientOpts(backend))
  await client.ping()
  await Promise.all([client.ping(), client.ping()])
  t.equal(backend.pingsAnswered, 3)
  const r = await client.request('indices:data/read/search', Buffer.from('4c5a340000', 'hex'), { compress: true })
  t.equal(r.header.isCompressed, true)
  t.equal(r.header.status, Status.RESPONSE | Status.COMPRESS)
  t.equal(r.body.toString('hex'), '4c5a340000')
  await client.close()
})

t.test('onRequest: error frames, custom bodies, async answers, close', async (t) => {
  const denied: JavaException = { type: 'security', message: 'action [indices:admin/delete] is not allowed', status: 'FORBIDDEN' }
  const backend = await withBackend(t, {
    onRequest(h, body) {
      switch (h.variable?.action) {
        case 'indices:admin/delete':
          return denied
        case 'wrapped':
          return { type: 'remote_transport', message: '[node-1][wrapped]', cause: { type: 'illegal_argument', message: 'bad' } }
        case 'custom':
          return Buffer.from('custom:' + body.toString('hex'))
        case 'slow':
          return new Promise((resolve) => setImmediate(() => resolve(Buffer.from('later'))))
        case 'hangup':
          return 'close'
        default:
          return undefined
      }
    },
  })
  const client = await connectClient(clientOpts(backend))
  t.equal(client.clusterName, 'remote-a', 'undefined → default handshake answer')
  const err = await client.request('indices:admin/delete', Buffer.from([0])).then(
    () => null,
    (e: unknown) => e,
  )
  t.type(err, TransportError)
  const te = err as TransportError
  t.same(te.javaException, { ...denied, cause: null })
  t.equal(te.header.status, 0x03)
  t.equal(te.message, 'ElasticsearchSecurityException[action [indices:admin/delete] is not allowed]')
  await t.rejects(client.request('wrapped', Buffer.alloc(0)), {
    name: 'TransportError',
    javaException: { type: 'remote_transport', message: '[node-1][wrapped]', cause: { type: 'illegal_argument', message: 'bad', cause: null } },
  })
  t.equal((await client.request('custom', Buffer.from('ff', 'hex'))).body.toString(), 'custom:ff')
  t.equal((await client.request('echo', Buffer.from('e'))).body.toString(), 'e')
  t.equal((await client.request('slow', Buffer.alloc(0))).body.toString(), 'later')
  await t.rejects(client.request('hangup', Buffer.alloc(0)), /connection closed/)
  t.same(await client.closed, { hadError: false })
})

t.test('one byte at a time', async (t) => {
  const backend = await withBackend(t)
  const client = await connectClient(clientOpts(backend, { writeOneByteAtATime: true, handshakeVersion: HANDSHAKE_V8 }))
  t.equal(client.clusterName, 'remote-a')
  const [a, b] = await Promise.all([client.request('x', Buffer.from('first')), client.request('y', Buffer.from('second'))])
  t.equal(a.body.toString(), 'first')
  t.equal(b.body.toString(), 'second')
  await client.ping()
  await client.close()
  t.same(backend.requests.map((r) => r.action), ['internal:tcp/handshake', REMOTE_CLUSTER_HANDSHAKE_ACTION, 'x', 'y'])
})

t.test('hostile input: the backend closes like Elasticsearch', async (t) => {
  const backend = await withBackend(t, { minimumCompatibleVersion: 8841000 })

  const http = await connectClient(clientOpts(backend, { handshake: 'none' }))
  const text: Buffer[] = []
  http.socket.on('data', (d: Buffer) => text.push(d))
  void http.writeRaw(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
  await http.closed
  t.equal(Buffer.concat(text).toString(), 'This is not an HTTP port', 'plain-text answer, then close')
  t.equal(http.protocolError?.reason, 'bad_marker', 'the client decoder saw a non-transport reply')

  const legacy = await connectClient(clientOpts(backend, { handshake: 'none' }))
  void legacy.writeRaw(encodeTcpHandshakeRequest({ requestId: 1n, handshakeVersion: HANDSHAKE_LEGACY, transportVersion: 7170699 }))
  await legacy.closed

  const response = await connectClient(clientOpts(backend, { handshake: 'none' }))
  void response.writeRaw(encodeFrame({ requestId: 1n, status: Status.RESPONSE, version: 9000009 }))
  await response.closed

  const badVersion = await connectClient(clientOpts(backend, { handshake: 'none' }))
  void badVersion.writeRaw(encodeTcpHandshakeRequest({ requestId: 1n, handshakeVersion: 9000009, transportVersion: 9000009 }))
  await badVersion.closed

  await t.rejects(connectClient(clientOpts(backend, { transportVersion: 8840002 })), /connection closed/, 'too old for this backend')

  await backend.idle()
  t.same(
    backend.protocolErrors.map((e) => ('reason' in e.error ? e.error.reason : e.error.message)),
    ['http_request', 'legacy_handshake', 'server channels do not accept inbound responses, only requests, closing channel', 'bad_handshake_version'],
  )
  t.match(backend.handshakes.at(-1), { requesterVersion: 8840002, answeredVersion: null })
  t.equal(backend.activeConnections, 0)
})

t.test('mutual TLS with an EC client certificate', async (t) => {
  const clientCert = makeLeaf(ca, { subject: [['O', 'Local Cluster'], ['CN', 'local-node-1']], keyType: 'ec' })
  const backend = await startBackend({
    tls: { key: server.key, cert: server.cert, ca: ca.cert, requestCert: true },
    clusterName: 'remote-mtls',
  })
  t.teardown(() => backend.close())
  const client = await connectClient(clientOpts(backend, { cert: clientCert.cert, key: clientCert.key }))
  t.equal(client.clusterName, 'remote-mtls')
  t.match(backend.connectionInfo[0], { authorized: true, peerSubject: 'O=Local Cluster, CN=local-node-1', servername: null })
  await client.close()
  // Without a client certificate the TLS handshake is refused.
  await t.rejects(connectClient(clientOpts(backend)))
  await backend.idle()
})

t.test('TLS verification: wrong CA is refused by the client', async (t) => {
  const backend = await withBackend(t)
  const other = makeCa('Emulator Test CA') // same name, different key
  await t.rejects(connectClient(clientOpts(backend, { ca: other.cert })), /signature|self.signed|unable to verify|certificate/i)
  await backend.idle()
  t.equal(backend.requests.length, 0)
})
