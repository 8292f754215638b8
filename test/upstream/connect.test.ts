/**
 * Backend connects share one SecureContext per cluster TLS config and resume the node's last TLS session; a new
 * config object (a reload) never resumes a session made under the old one, and verification still applies to
 * every full handshake.
 */
import t, { type Test } from 'tap'
import { createServer, type TLSSocket } from 'node:tls'
import { X509Certificate } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { connectBackend, BackendConnectError } from '../../src/upstream/connect.js'
import type { BackendNodeConfig, BackendTlsConfig } from '../../src/config/types.js'
import { createCa } from '../../src/tls/devcerts.js'
import { testPki } from '../helpers/pki.js'

async function tlsServer(t: Test): Promise<{ node: BackendNodeConfig; resumed: boolean[] }> {
  const { server } = testPki()
  const resumed: boolean[] = []
  const srv = createServer({ key: server.keyPem, cert: server.certPem, minVersion: 'TLSv1.2' }, (s: TLSSocket) => {
    resumed.push(s.isSessionReused())
    // A TLS 1.3 server sends its session tickets with its first write: answer one byte, then close.
    s.end('x')
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => srv.close(() => r())))
  const port = (srv.address() as AddressInfo).port
  return { node: { host: '127.0.0.1', port, id: `127.0.0.1:${port}` }, resumed }
}

function tlsConfig(caPem: string, serverName = 'node.internal'): BackendTlsConfig {
  return {
    enabled: true,
    verificationMode: 'full',
    serverName,
    ca: [{ path: 'ca.crt', pem: caPem, certificates: [new X509Certificate(caPem)] }],
    cert: undefined,
    key: undefined,
  }
}

/** Connects, waits for the session ticket (TLS 1.3 sends it after the handshake) and the close. */
async function connectOnce(node: BackendNodeConfig, tls: BackendTlsConfig): Promise<boolean> {
  const s = (await connectBackend(node, tls, 5_000)) as TLSSocket
  const reused = s.isSessionReused()
  await new Promise<void>((resolve) => {
    s.on('close', () => resolve())
    s.resume()
  })
  return reused
}

t.test('reconnects to the same node resume the TLS session under the same config', async (t) => {
  const { node, resumed } = await tlsServer(t)
  const cfg = tlsConfig(testPki().ca.certPem)
  t.equal(await connectOnce(node, cfg), false, 'the first connect is a full handshake')
  t.equal(await connectOnce(node, cfg), true, 'the second resumes')
  t.equal(await connectOnce(node, cfg), true, 'and the third')
  t.same(resumed, [false, true, true], 'the server saw the same')
})

t.test('a new config object (a reload) starts with a full handshake', async (t) => {
  const { node } = await tlsServer(t)
  const a = tlsConfig(testPki().ca.certPem)
  await connectOnce(node, a)
  t.equal(await connectOnce(node, a), true, 'resumed under config a')
  const b = tlsConfig(testPki().ca.certPem)
  t.equal(await connectOnce(node, b), false, 'config b does not use a session made under a')
})

t.test('a config that does not trust the server fails even when another config holds a session for the node', async (t) => {
  const { node } = await tlsServer(t)
  const good = tlsConfig(testPki().ca.certPem)
  await connectOnce(node, good)
  t.equal(await connectOnce(node, good), true, 'a session exists for this node')
  const other = createCa('some other CA')
  const err = await connectBackend(node, tlsConfig(other.certPem), 5_000).then(
    () => null,
    (e: unknown) => e,
  )
  t.ok(err instanceof BackendConnectError, 'refused')
  t.equal((err as BackendConnectError).reason, 'tls', 'as a TLS failure')
})

t.test('the wrong server name fails on a full handshake', async (t) => {
  const { node } = await tlsServer(t)
  const err = await connectBackend(node, tlsConfig(testPki().ca.certPem, 'not-in-the-certificate.example'), 5_000).then(
    () => null,
    (e: unknown) => e,
  )
  t.ok(err instanceof BackendConnectError, 'refused')
  t.match((err as Error).message, /not-in-the-certificate\.example/, 'names the expected host')
})
