/**
 * `rcgw probe` against a real in-process gateway (test/helpers/gateway.ts) in front of the transport emulator, and
 * directly against the emulator: each step's outcome, the verdict line, the exit code and the remote error text.
 */
import t, { type Test } from 'tap'
import net from 'node:net'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { StreamWriter } from '../../src/codec/index.js'
import { PLACEHOLDER_SUBJECT_INFO, exceptionChain, parseAddress, parseHandshakeResponse, releaseOfVersionId } from '../../src/cli/probe.js'
import { UsageError } from '../../src/cli/args.js'
import { startGateway } from '../helpers/gateway.js'
import { backend, KEY_ID } from '../gateway/fixtures.js'
import { testPki } from '../helpers/pki.js'
import { tempDir } from '../helpers/tmp.js'
import { rcgw } from './helpers.js'

/** The fixtures' credential without the `ApiKey ` prefix: what cluster.remote.<alias>.credentials holds. */
const ENCODED = Buffer.from(`${KEY_ID}:ui2lp2axTNmsyakw9tvNnw`).toString('base64')

function caFile(t: Test): string {
  const f = join(tempDir(t), 'ca.crt')
  writeFileSync(f, testPki().ca.certPem)
  return f
}

async function gatewayFor(t: Test, clusterName = 'cluster-a', extra: Record<string, unknown> = {}) {
  const be = await backend(t, clusterName)
  const gw = await startGateway(t, { clusters: [{ name: 'a', server_names: ['remote-a.example.com'], nodes: [`127.0.0.1:${be.port}`], ...extra }] })
  return { be, gw }
}

/** A port nothing listens on: bound, then closed (127.0.0.1 only). */
async function closedPort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

t.test('through the gateway: every step ok, exit 0', async (t) => {
  const { be, gw } = await gatewayFor(t)
  const r = await rcgw([
    'probe', '--address', `127.0.0.1:${gw.port}`, '--server-name', 'remote-a.example.com', '--ca', caFile(t),
    '--credentials', ENCODED, '--action', 'cluster:monitor/state',
  ])
  t.equal(r.code, 0, r.out + r.err)
  t.match(r.out, /^rcgw probe 127\.0\.0\.1:\d+ \(server_name remote-a\.example\.com\)$/m)
  t.match(r.out, /^✓ tcp connect +ok \(\d+ ms\)$/m)
  t.match(r.out, /^✓ tls handshake +ok \(\d+ ms\)$/m)
  t.match(r.out, /protocol TLSv1\.3, cipher TLS_/)
  t.match(r.out, /SNI: remote-a\.example\.com\n/)
  t.match(r.out, /\[0\] subject CN=gateway\.test\n\s+issuer  CN=rcgw test CA\n\s+valid .*\(\d+ days left\)/)
  t.match(r.out, /chain verification against --ca .*ca\.crt: ok/)
  t.match(r.out, /hostname verification of the address host 127\.0\.0\.1: ok/)
  t.match(r.out, /the certificate also matches the server_name remote-a\.example\.com/)
  t.match(r.out, /verification_mode full: accepted/)
  t.match(r.out, /^✓ tcp handshake \(v8800000\) +ok \(\d+ ms\)$/m)
  t.match(r.out, /remote transport version 9250003 \(9\.3\.0\), release "9\.3\.0"/)
  t.match(r.out, /negotiated transport version 9250003 \(9\.3\.0\)/)
  t.match(r.out, /^✓ remote cluster handshake +ok \(\d+ ms\)$/m)
  t.match(r.out, /subject info: a placeholder \(a real local cluster sends the serialized end-user identity/)
  t.match(r.out, /cluster name: cluster-a\n/)
  t.match(r.out, /node: backend-node/)
  t.match(r.out, /release 9\.3\.0, build emulator/)
  t.match(r.out, /^✓ request cluster:monitor\/state +ok \(\d+ ms\)$/m)
  t.match(r.out, /response: 1 bytes/, 'the emulator echoes the 1-byte body')
  t.match(r.out, /\nOK\n$/)
  t.notMatch(r.out, new RegExp(ENCODED), 'the credential is never printed')
  const handshake = be.requests.find((q) => q.action === 'cluster:internal/remote_cluster/handshake')
  t.ok(handshake, 'the backend saw the remote cluster handshake')
  t.equal(handshake!.requestHeaders._cross_cluster_access_credentials, `ApiKey ${ENCODED}`)
  t.equal(handshake!.requestHeaders._cross_cluster_access_subject_info, PLACEHOLDER_SUBJECT_INFO)
  t.same(be.handshakes.map((h) => [h.handshakeVersion, h.requesterVersion, h.requesterRelease]), [[8800000, 9250003, '9.3.0']])
})

t.test('8.x handshake version, credentials from the environment, the ApiKey prefix accepted', async (t) => {
  const { be, gw } = await gatewayFor(t)
  const r = await rcgw(['probe', '--address', `127.0.0.1:${gw.port}`, '--server-name', 'remote-a.example.com', '--ca', caFile(t), '--handshake-version', '7170099', '--transport-version', '8841064', '--credentials', `ApiKey ${ENCODED}`])
  t.equal(r.code, 0, r.out)
  t.match(r.out, /tcp handshake \(v7170099\) +ok/)
  t.match(r.out, /sent transport version 8841064 \(8\.19\.0\)/)
  t.match(r.out, /negotiated transport version 8841064 \(8\.19\.0\)/)
  t.equal(be.handshakes[0]?.handshakeVersion, 7170099)
  t.equal(be.requests.find((q) => q.action === 'cluster:internal/remote_cluster/handshake')?.requestHeaders._cross_cluster_access_credentials, `ApiKey ${ENCODED}`)

  let out = ''
  const { probeCommand } = await import('../../src/cli/probe.js')
  const code = await probeCommand(['--address', `127.0.0.1:${gw.port}`, '--server-name', 'remote-a.example.com', '--ca', caFile(t)], { out: (s) => void (out += s), err: (s) => void (out += s) }, { RCGW_PROBE_CREDENTIALS: ENCODED })
  t.equal(code, 0, out)
})

t.test('bad credentials: exit 1 with the error the gateway sent', async (t) => {
  const { be, gw } = await gatewayFor(t)
  const r = await rcgw(['probe', '--address', `127.0.0.1:${gw.port}`, '--server-name', 'remote-a.example.com', '--ca', caFile(t), '--credentials', Buffer.from('no-colon-here').toString('base64')])
  t.equal(r.code, 1)
  t.match(r.out, /^✓ tcp handshake/m, 'the TCP handshake passes (the gateway rejects at the first authenticated request)')
  t.match(r.out, /^✗ remote cluster handshake +FAILED \(\d+ ms\)$/m)
  t.match(r.out, /the remote side answered with an error:\n\s+ElasticsearchSecurityException \[UNAUTHORIZED\]: failed to extract credentials from headers\n\s+caused by: IllegalArgumentException: cross cluster access header \[_cross_cluster_access_credentials\] value must be a valid API key credential\n\s+caused by: IllegalArgumentException: invalid ApiKey value/)
  t.match(r.out, /^FAILED at remote cluster handshake: ElasticsearchSecurityException\[failed to extract credentials from headers\]; nested: /m)
  t.equal(be.requests.filter((q) => !q.isHandshake).length, 0, 'nothing reached the backend')
})

t.test('an action the gateway does not allow: FAILED at request, after the handshakes passed', async (t) => {
  const { gw } = await gatewayFor(t)
  const r = await rcgw(['probe', '--address', `127.0.0.1:${gw.port}`, '--server-name', 'remote-a.example.com', '--ca', caFile(t), '--credentials', ENCODED, '--action', 'indices:admin/create'])
  t.equal(r.code, 1)
  t.match(r.out, /^✓ remote cluster handshake/m)
  t.match(r.out, /IllegalArgumentException: action \[indices:admin\/create\] is not allowed as a cross cluster operation/)
  t.match(r.out, /^FAILED at request: IllegalArgumentException\[action \[indices:admin\/create\] is not allowed/m)
})

t.test('TLS: a wrong CA, a hostname outside the SANs, and the verification modes', async (t) => {
  const { gw } = await gatewayFor(t)
  const dir = tempDir(t)
  t.equal((await rcgw(['certs', 'ca', '--out', dir, '--key-type', 'ec', '--cn', 'Some Other CA'])).code, 0)
  const wrong = await rcgw(['probe', '--address', `127.0.0.1:${gw.port}`, '--server-name', 'remote-a.example.com', '--ca', join(dir, 'ca.crt'), '--credentials', ENCODED])
  t.equal(wrong.code, 1)
  t.match(wrong.out, /^✗ tls handshake +FAILED/m)
  t.match(wrong.out, /\[0\] subject CN=gateway\.test/, 'the chain is printed even though it does not verify')
  t.match(wrong.out, /^FAILED at tls: certificate verification failed: UNABLE_TO_VERIFY_LEAF_SIGNATURE: the issuer of the server certificate is not among the trusted CAs$/m)
  t.notMatch(wrong.out, /tcp handshake/, 'nothing after the failed step')

  const insecure = await rcgw(['probe', '--address', `127.0.0.1:${gw.port}`, '--server-name', 'remote-a.example.com', '--ca', join(dir, 'ca.crt'), '--insecure', '--credentials', ENCODED])
  t.equal(insecure.code, 0, insecure.out)
  t.match(insecure.out, /verification_mode none: accepted/)

  // Without --server-name the address host goes out as SNI (as the JDK does); this gateway routes only
  // remote-a.example.com and has no default cluster, so it closes the connection right after TLS.
  const host = await rcgw(['probe', '--address', `localhost:${gw.port}`, '--ca', caFile(t), '--credentials', ENCODED])
  t.equal(host.code, 1, host.out)
  t.match(host.out, /SNI: localhost \(the address host/)
  t.match(host.out, /hostname verification of the address host localhost: ok/)
  t.match(host.out, /A gateway also closes here when no cluster matches the SNI/)
  t.match(host.out, /^FAILED at tcp handshake: the remote side closed the connection$/m)
  const { cert, key } = await serverCertWithout127(t, dir)
  const be = await backend(t, 'direct', { tls: { cert, key } })
  const full = await rcgw(['probe', '--address', `127.0.0.1:${be.port}`, '--ca', join(dir, 'ca.crt'), '--credentials', ENCODED])
  t.equal(full.code, 1)
  t.match(full.out, /^FAILED at tls: hostname verification failed: .*IP: 127\.0\.0\.1 is not in the cert's list/m)
  const certOnly = await rcgw(['probe', '--address', `127.0.0.1:${be.port}`, '--ca', join(dir, 'ca.crt'), '--verification-mode', 'certificate', '--credentials', ENCODED])
  t.equal(certOnly.code, 0, certOnly.out)
  t.match(certOnly.out, /verification_mode certificate: accepted/)
  t.match(certOnly.out, /SNI: \(none\)/)
})

async function serverCertWithout127(t: Test, dir: string): Promise<{ cert: string; key: string }> {
  const r = await rcgw(['certs', 'server', '--ca', join(dir, 'ca.crt'), '--ca-key', join(dir, 'ca.key'), '--dns', 'only.example.com', '--key-type', 'ec', '--out', join(dir, 'srv')])
  t.equal(r.code, 0, r.err)
  const { readFileSync } = await import('node:fs')
  return { cert: readFileSync(join(dir, 'srv', 'gateway.crt'), 'utf8'), key: readFileSync(join(dir, 'srv', 'gateway.key'), 'utf8') }
}

t.test('connection refused: FAILED at tcp connect', async (t) => {
  const port = await closedPort()
  const r = await rcgw(['probe', '--address', `127.0.0.1:${port}`, '--credentials', ENCODED])
  t.equal(r.code, 1)
  t.match(r.out, /^✗ tcp connect +FAILED/m)
  t.match(r.out, /^FAILED at tcp connect: .*ECONNREFUSED/m)
})

t.test('directly against the emulated backend (no gateway)', async (t) => {
  const be = await backend(t, 'backend-cluster', { nodeName: 'es-node-7' })
  const r = await rcgw(['probe', '--address', `127.0.0.1:${be.port}`, '--server-name', 'node.internal', '--ca', caFile(t), '--credentials', ENCODED])
  t.equal(r.code, 0, r.out)
  t.match(r.out, /cluster name: backend-cluster\n/)
  t.match(r.out, /node: es-node-7\n/)
  t.match(r.out, /simplified handshake body of the test emulator/)
  t.equal(be.connectionInfo[0]?.servername, 'node.internal', 'SNI = --server-name')
})

t.test('a TCP handshake the remote side refuses (it closes, no error frame)', async (t) => {
  const be = await backend(t, 'new-only', { minimumCompatibleVersion: 9000009 })
  const r = await rcgw(['probe', '--address', `127.0.0.1:${be.port}`, '--server-name', 'node.internal', '--ca', caFile(t), '--credentials', ENCODED, '--handshake-version', '7170099', '--transport-version', '8841064'])
  t.equal(r.code, 1)
  t.match(r.out, /^✗ tcp handshake \(v7170099\) +FAILED/m)
  t.match(r.out, /Elasticsearch closes the connection without an answer when it refuses a TCP handshake/)
  t.match(r.out, /^FAILED at tcp handshake: the remote side closed the connection$/m)
})

t.test('no answer within --timeout', async (t) => {
  const be = await backend(t, 'silent', { onRequest: () => 'no_reply' })
  const r = await rcgw(['probe', '--address', `127.0.0.1:${be.port}`, '--server-name', 'node.internal', '--ca', caFile(t), '--credentials', ENCODED, '--timeout', '300ms'])
  t.equal(r.code, 1)
  t.match(r.out, /^FAILED at remote cluster handshake: no answer within 300ms/m)
})

t.test('signing: EC and RSA signing certificates accepted by a gateway with signing trust and certificate_identity', async (t) => {
  const dir = tempDir(t)
  t.equal((await rcgw(['certs', 'ca', '--out', join(dir, 'ca'), '--key-type', 'ec', '--cn', 'Signing CA'])).code, 0)
  const ca = ['--ca', join(dir, 'ca', 'ca.crt'), '--ca-key', join(dir, 'ca', 'ca.key')]
  const dn = 'CN=local-cluster.example.com,O=Example Corp,C=US'
  for (const kt of ['ec', 'rsa']) {
    t.equal((await rcgw(['certs', 'signing', ...ca, '--subject', dn, '--key-type', kt, '--out', join(dir, kt)])).code, 0)
  }
  t.equal((await rcgw(['certs', 'signing', ...ca, '--subject', 'CN=someone-else', '--key-type', 'ec', '--out', join(dir, 'other')])).code, 0)
  const { gw, be } = await gatewayFor(t, 'cluster-a', {
    signing: { certificate_authorities: [join(dir, 'ca', 'ca.crt')] },
    api_keys: [{ id: KEY_ID, certificate_identity: 'CN=local-cluster\\.example\\.com,O=Example Corp,C=US' }],
  })
  const base = ['probe', '--address', `127.0.0.1:${gw.port}`, '--server-name', 'remote-a.example.com', '--ca', caFile(t), '--credentials', ENCODED]
  for (const [kt, alg] of [['ec', 'SHA256withECDSA'], ['rsa', 'SHA256withRSA']] as const) {
    const r = await rcgw([...base, '--signing-cert', join(dir, kt, 'signing.crt'), '--signing-key', join(dir, kt, 'signing.key'), '--action', 'indices:data/read/search'])
    t.equal(r.code, 0, `${kt}: ${r.out}`)
    t.match(r.out, new RegExp(`signature: ${alg}, leaf CN=local-cluster\\.example\\.com,O=Example Corp,C=US \\(1 certificate\\)`))
    t.match(r.out, /\nOK\n$/)
  }
  t.equal(be.requests.filter((q) => q.requestHeaders._cross_cluster_access_signature !== undefined).length, 4, 'handshake + request, twice, carried the signature to the backend')

  const unsigned = await rcgw(base)
  t.equal(unsigned.code, 1)
  t.match(unsigned.out, /requires certificate identity matching \[CN=local-cluster\\\.example\\\.com,O=Example Corp,C=US\], but no certificate was provided/)

  const other = await rcgw([...base, '--signing-cert', join(dir, 'other', 'signing.crt'), '--signing-key', join(dir, 'other', 'signing.key')])
  t.equal(other.code, 1)
  t.match(other.out, /DN from provided certificate \[CN=someone-else\] does not match API Key certificate identity pattern/)

  const old = await rcgw([...base, '--signing-cert', join(dir, 'ec', 'signing.crt'), '--signing-key', join(dir, 'ec', 'signing.key'), '--transport-version', '9112003'])
  t.equal(old.code, 0, old.out)
  t.match(old.out, /note: a local cluster sends the signature only on connections at transport version ≥ 9191000; this one is 9112003/)
})

t.test('usage errors exit 2', async (t) => {
  const dir = tempDir(t)
  const help = await rcgw(['probe', '--help'])
  t.equal(help.code, 0)
  t.match(help.out, /usage: rcgw probe/)
  for (const [args, msg] of [
    [[], /--address is required/],
    [['--address', 'nohost'], /--address must be host:port/],
    [['--address', '127.0.0.1:1'], /--credentials \(or RCGW_PROBE_CREDENTIALS\) is required/],
    [['--address', '127.0.0.1:1', '--credentials', 'x', '--verification-mode', 'strict'], /--verification-mode must be/],
    [['--address', '127.0.0.1:1', '--credentials', 'x', '--handshake-version', '6080099'], /--handshake-version must be/],
    [['--address', '127.0.0.1:1', '--credentials', 'x', '--transport-version', 'abc'], /--transport-version must be/],
    [['--address', '127.0.0.1:1', '--credentials', 'x', '--timeout', 'soon'], /--timeout must be a duration/],
    [['--address', '127.0.0.1:1', '--credentials', 'x', '--ca', join(dir, 'missing.crt')], /cannot read CA file/],
    [['--address', '127.0.0.1:1', '--credentials', 'x', '--client-cert', 'a'], /--client-cert and --client-key go together/],
    [['--address', '127.0.0.1:1', '--credentials', 'x', '--signing-cert', 'a'], /--signing-cert and --signing-key go together/],
    [['--address', '127.0.0.1:1', '--credentials', 'x', '--bogus'], /unknown option --bogus/],
    [['--address', '127.0.0.1:1', '--credentials', 'x', 'extra'], /unexpected argument "extra"/],
  ] as const) {
    const r = await rcgw(['probe', ...args])
    t.equal(r.code, 2, args.join(' '))
    t.match(r.err, msg)
  }
  // A signing key that does not belong to the certificate.
  t.equal((await rcgw(['certs', 'ca', '--out', dir, '--key-type', 'ec'])).code, 0)
  t.equal((await rcgw(['certs', 'signing', '--ca', join(dir, 'ca.crt'), '--ca-key', join(dir, 'ca.key'), '--subject', 'CN=x', '--key-type', 'ec', '--out', dir])).code, 0)
  const mismatch = await rcgw(['probe', '--address', '127.0.0.1:1', '--credentials', 'x', '--signing-cert', join(dir, 'signing.crt'), '--signing-key', join(dir, 'ca.key')])
  t.equal(mismatch.code, 2)
  t.match(mismatch.err, /does not belong to the first certificate/)
  const noPem = await rcgw(['probe', '--address', '127.0.0.1:1', '--credentials', 'x', '--signing-cert', join(dir, 'ca.key'), '--signing-key', join(dir, 'ca.key')])
  t.match(noPem.err, /holds no PEM certificate/)
  t.same(parseAddress('[::1]:9443'), { host: '::1', port: 9443 })
  t.throws(() => parseAddress('h:70000'), UsageError)
})

t.test('the remote cluster handshake response: simplified, Elasticsearch layouts, unknown tails', async (t) => {
  const esBody = (tail: (w: StreamWriter) => void) => {
    const w = new StreamWriter(256)
    w.writeVInt(9030099) // Version 9.3.0
    w.writeString('0123abcd')
    // DiscoveryNode prefix
    w.writeString('es-node-1')
    w.writeString('nodeId123')
    w.writeString('ephemeral')
    w.writeString('10.0.0.5')
    w.writeString('10.0.0.5')
    w.writeByte(4)
    w.writeBytes(Buffer.from([10, 0, 0, 5]))
    w.writeString('10.0.0.5')
    w.writeInt(9300)
    w.writeStringMap(new Map([['xpack.installed', 'true']]))
    w.writeVInt(2)
    for (const [name, abbr, data] of [['data', 'd', true], ['master', 'm', false]] as const) {
      w.writeString(name)
      w.writeString(abbr)
      w.writeBoolean(data)
    }
    tail(w)
    return w.toBuffer()
  }
  const v811 = parseHandshakeResponse(esBody((w) => {
    w.writeVInt(9030099)
    w.writeVInt(9039000)
    w.writeVInt(9039000)
    w.writeString('es-node-1')
    w.writeString('prod-cluster')
  }))
  t.match(v811, { format: 'elasticsearch', release: '9.3.0', buildHash: '0123abcd', nodeName: 'es-node-1', nodeId: 'nodeId123', nodeAddress: '10.0.0.5:9300', clusterName: 'prod-cluster' })
  t.match(v811.note, /parsed exactly \(8\.11\+ layout\)/)
  const v88 = parseHandshakeResponse(esBody((w) => {
    w.writeVInt(8080099)
    w.writeVInt(8500003)
    w.writeVInt(8500003)
    w.writeString('c')
  }))
  t.match(v88, { clusterName: 'c', note: /8\.8–8\.10 layout/ })
  const future = parseHandshakeResponse(esBody((w) => {
    w.writeString('9.9.0') // an unknown future field
    w.writeBoolean(true)
    w.writeString('cluster-from-the-tail')
  }))
  t.match(future, { format: 'elasticsearch', nodeName: 'es-node-1', clusterName: 'cluster-from-the-tail', note: /read from the end of the body/ })
  const junk = parseHandshakeResponse(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))
  t.match(junk, { format: 'unknown', clusterName: null, note: 'cluster name not found', bodyLength: 6 })
  t.equal(releaseOfVersionId(8190099), '8.19.0')
  t.equal(releaseOfVersionId(9000001), '9.0.0 (pre-release build 1)')
  t.equal(releaseOfVersionId(12), null)
  t.same(exceptionChain({ kind: 6, className: 'java.lang.IllegalArgumentException', message: null, cause: null, stack: [], suppressed: [] }), ['IllegalArgumentException: (no message)'])
})
