/**
 * Edge authentication end to end: emulated local cluster → gateway → emulated backend. For every rejection the
 * client gets Elasticsearch's error and the backend sees nothing of the request.
 */
import t, { type Test } from 'tap'
import { sign } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { backend, client, CREDENTIALS, SUBJECT_INFO, KEY_ID, until } from './fixtures.js'
import { issueCa, issueLeaf, keyPair, DAY, type Issued } from '../auth/helpers/certs.js'
import { encodeSignatureHeader, signablePayload } from '../../src/auth/signature.js'
import type { Backend } from '../emulator/backend.js'
import type { TransportClient } from '../emulator/client.js'
import { testPki } from '../helpers/pki.js'
import { tempDir } from '../helpers/tmp.js'

const HANDSHAKE = 'cluster:internal/remote_cluster/handshake'
const SEARCH = 'indices:data/read/search'
const LEAF_DN = 'CN=local-cluster.example.com,O=Example Corp,C=US'

const signingCa = issueCa([['CN', 'Signing CA']])
const otherCa = issueCa([['CN', 'Signing CA']], { key: keyPair('rsa', 7) }) // same name, different key
const ecLeaf = issueLeaf([['C', 'US'], ['O', 'Example Corp'], ['CN', 'local-cluster.example.com']], signingCa, { key: keyPair('ec') })
const rsaLeaf = issueLeaf([['C', 'US'], ['O', 'Example Corp'], ['CN', 'local-cluster.example.com']], signingCa, { key: keyPair('rsa', 2) })
const strangerLeaf = issueLeaf([['CN', 'stranger']], signingCa, { key: keyPair('ec', 1) })
const untrustedLeaf = issueLeaf([['C', 'US'], ['O', 'Example Corp'], ['CN', 'local-cluster.example.com']], otherCa, { key: keyPair('ec', 2) })
const expiredLeaf = issueLeaf([['C', 'US'], ['O', 'Example Corp'], ['CN', 'local-cluster.example.com']], signingCa, {
  key: keyPair('ec', 3),
  notBefore: new Date(Date.now() - 30 * DAY),
  notAfter: new Date(Date.now() - DAY),
})

function signature(leaf: Issued, opts: { subject?: string; credentials?: string; algorithm?: string; chain?: Issued[] } = {}): string {
  const subject = opts.subject ?? SUBJECT_INFO
  const creds = opts.credentials ?? CREDENTIALS
  const sig = sign('sha256', signablePayload(subject, creds), leaf.key.privateKey)
  const algorithm = opts.algorithm ?? (leaf.key.privateKey.asymmetricKeyType === 'ec' ? 'SHA256withECDSA' : 'SHA256withRSA')
  return encodeSignatureHeader({ transportVersion: 9250003, certificates: (opts.chain ?? [leaf]).map((c) => c.der), algorithm, signature: sig })
}

interface Setup {
  gw: StartedGateway
  be: Backend
}

async function setup(t: Test, cluster: Record<string, unknown> = {}, withSigningCa = true): Promise<Setup> {
  const be = await backend(t, 'cluster-a')
  const caFile = join(tempDir(t), 'signing-ca.crt')
  writeFileSync(caFile, signingCa.pem)
  const gw = await startGateway(t, {
    clusters: [
      {
        name: 'a',
        nodes: [`127.0.0.1:${be.port}`],
        ...(withSigningCa ? { signing: { certificate_authorities: [caFile] } } : {}),
        ...JSON.parse(JSON.stringify(cluster).replaceAll('SIGNING_CA', caFile)),
      },
    ],
  })
  return { gw, be }
}

/** A client that only did the TCP handshake; the next request is the first one the policy sees. */
async function tcpOnly(t: Test, s: Setup, extra: Parameters<typeof client>[2] = {}): Promise<TransportClient> {
  return client(t, s.gw.port, { handshake: 'tcp', ...extra })
}

interface Rejection {
  message: string
  status: string | undefined
  closed: boolean
}

async function expectRejected(t: Test, s: Setup, c: TransportClient, action: string, headers: Record<string, string> | undefined, message: RegExp, close: boolean, reason: string): Promise<Rejection> {
  const before = s.be.requests.filter((r) => !r.isHandshake).length
  const err = (await c.request(action, Buffer.from([0]), headers ? { headers, accessHeaders: false } : {}).then(
    () => null,
    (e: unknown) => e,
  )) as { exception?: { message?: string | null; status?: string; cause?: unknown } } | null
  t.ok(err, `${reason}: rejected with an error frame`)
  const msg = JSON.stringify(err?.exception ?? {})
  t.match(msg, message, `${reason}: Elasticsearch's message`)
  if (close) {
    await c.closed
    t.pass(`${reason}: connection closed after the error`)
  } else {
    const ok = await c.request(SEARCH, Buffer.from('after'))
    t.equal(ok.body.toString(), 'after', `${reason}: connection stays open`)
  }
  const after = s.be.requests.filter((r) => !r.isHandshake).length
  t.equal(after - before, close ? 0 : 1, `${reason}: the backend saw nothing of the denied request`)
  await until(async () => (await s.gw.metricValue('rcgw_auth_failures_total', { reason })) >= 1, 5000, `${reason} metric`)
  const log = s.gw.logs.find((l) => l.event === 'denied' && l.reason === reason)
  t.ok(log, `${reason}: one audit line`)
  t.equal(log?.level, 'warn')
  return { message: msg, status: err?.exception?.status, closed: close }
}

t.test('plain RCS 2.0 (no identity, no signature) is allowed; signed requests too', async (t) => {
  const s = await setup(t)
  const c = await client(t, s.gw.port)
  t.equal(c.clusterName, 'cluster-a')
  t.equal((await c.request(SEARCH, Buffer.from('plain'))).body.toString(), 'plain')
  for (const leaf of [ecLeaf, rsaLeaf]) {
    const signed = await client(t, s.gw.port, { signature: signature(leaf) })
    t.equal(signed.clusterName, 'cluster-a', `${leaf.key.kind} signature accepted`)
    const rec = s.be.requests.filter((r) => r.action === HANDSHAKE).pop()
    t.ok(rec?.requestHeaders._cross_cluster_access_signature, 'signature header forwarded untouched')
  }
})

t.test('credential and header rejections', async (t) => {
  const s = await setup(t)
  await expectRejected(t, s, await tcpOnly(t, s), HANDSHAKE, { _cross_cluster_access_subject_info: SUBJECT_INFO }, /failed to extract credentials from headers.*require transport header \[_cross_cluster_access_credentials\]/, true, 'missing_credentials')
  const shortSecret = 'ApiKey ' + Buffer.from(`${KEY_ID}:tooshort`).toString('base64')
  await expectRejected(t, s, await tcpOnly(t, s), HANDSHAKE, { _cross_cluster_access_credentials: shortSecret, _cross_cluster_access_subject_info: SUBJECT_INFO }, /value must be a valid API key credential.*invalid cross-cluster API key value/, true, 'invalid_credentials')
  await expectRejected(t, s, await client(t, s.gw.port), 'indices:admin/delete', undefined, /action \[indices:admin\/delete\] is not allowed as a cross cluster operation/, false, 'action_not_allowed')
  await expectRejected(t, s, await client(t, s.gw.port), SEARCH, { _cross_cluster_access_credentials: CREDENTIALS, _cross_cluster_access_subject_info: SUBJECT_INFO, _xpack_security_authentication: 'x' }, /Transport request header \[_xpack_security_authentication\] is not allowed/, false, 'header_not_allowed')
  await expectRejected(t, s, await client(t, s.gw.port), SEARCH, { _cross_cluster_access_credentials: CREDENTIALS }, /require transport header \[_cross_cluster_access_subject_info\]/, false, 'missing_subject_info')
})

t.test('signature rejections, key without certificate_identity (authenticate-stage 401s keep the connection, issue #11 finding 12)', async (t) => {
  const s = await setup(t)
  const h = (sig: string, subject = SUBJECT_INFO) => ({ _cross_cluster_access_credentials: CREDENTIALS, _cross_cluster_access_subject_info: subject, _cross_cluster_access_signature: sig })
  await expectRejected(t, s, await tcpOnly(t, s), HANDSHAKE, h(signature(ecLeaf), 'dGFtcGVyZWQ='), /Invalid cross cluster api key signature from \[\(CN=local-cluster.example.com, O=Example Corp, C=US;X\.509;SHA1:[0-9a-f]{40}\)\]/, false, 'bad_signature')
  await expectRejected(t, s, await tcpOnly(t, s), HANDSHAKE, h(signature(untrustedLeaf)), /Failed to verify cross cluster api key signature certificate from/, false, 'untrusted_chain')
  await expectRejected(t, s, await tcpOnly(t, s), HANDSHAKE, h(signature(expiredLeaf)), /Failed to verify cross cluster api key signature certificate from/, false, 'expired_certificate')
  await expectRejected(t, s, await tcpOnly(t, s), HANDSHAKE, h(signature(rsaLeaf, { algorithm: 'SHA1withRSA' })), /Failed to verify cross cluster api key signature certificate/, false, 'unsupported_algorithm')
  await expectRejected(t, s, await tcpOnly(t, s), HANDSHAKE, h('bm90IGEgc2lnbmF0dXJl'), /failed to extract credentials from headers/, true, 'malformed_signature')
  const none = encodeSignatureHeader({ transportVersion: 9250003, certificates: [], algorithm: 'SHA256withRSA', signature: Buffer.alloc(0) })
  await expectRejected(t, s, await tcpOnly(t, s), HANDSHAKE, h(none), /Provided signature does not contain any certificates/, true, 'no_certificates')
})

t.test('a signature with no signing trust configured is refused', async (t) => {
  const s = await setup(t, {}, false)
  await expectRejected(t, s, await tcpOnly(t, s), HANDSHAKE, { _cross_cluster_access_credentials: CREDENTIALS, _cross_cluster_access_subject_info: SUBJECT_INFO, _cross_cluster_access_signature: signature(ecLeaf) }, /has not trust configuration/, false, 'no_signing_trust')
})

t.test('certificate_identity from the config', async (t) => {
  const s = await setup(t, { api_keys: [{ id: KEY_ID, certificate_identity: 'CN=local-cluster\\.example\\.com,O=Example Corp,C=US' }] })
  const ok = await client(t, s.gw.port, { signature: signature(ecLeaf) })
  t.equal(ok.clusterName, 'cluster-a', 'matching, signed: allowed')
  await expectRejected(t, s, await tcpOnly(t, s), HANDSHAKE, { _cross_cluster_access_credentials: CREDENTIALS, _cross_cluster_access_subject_info: SUBJECT_INFO }, /requires certificate identity matching \[CN=local-cluster.{1,6}example.{1,6}com,O=Example Corp,C=US\], but no certificate was provided/, true, 'signature_required')
  await expectRejected(t, s, await tcpOnly(t, s), HANDSHAKE, { _cross_cluster_access_credentials: CREDENTIALS, _cross_cluster_access_subject_info: SUBJECT_INFO, _cross_cluster_access_signature: signature(strangerLeaf) }, /DN from provided certificate \[CN=stranger\] does not match API Key certificate identity pattern/, true, 'identity_mismatch')
  const denial = s.gw.logs.find((l) => l.reason === 'identity_mismatch')
  t.equal(denial?.leaf_dn, 'CN=stranger', 'audit line has the leaf DN')
  t.equal(denial?.api_key_id, KEY_ID, 'audit line has the key id')
  t.notOk(JSON.stringify(s.gw.logs).includes('ui2lp2axTNmsyakw9tvNnw'), 'never the secret')
  void LEAF_DN
})

t.test('signing.required', async (t) => {
  const s = await setup(t, { signing: { certificate_authorities: ['SIGNING_CA'], required: true } })
  t.equal((await client(t, s.gw.port, { signature: signature(rsaLeaf) })).clusterName, 'cluster-a')
  await expectRejected(t, s, await tcpOnly(t, s), HANDSHAKE, { _cross_cluster_access_credentials: CREDENTIALS, _cross_cluster_access_subject_info: SUBJECT_INFO }, /Expected signature for cross cluster API key/, true, 'signature_required')
})

t.test('api_key_lookup against a fake Elasticsearch security API over HTTPS', async (t) => {
  const keys: Record<string, unknown> = {
    [KEY_ID]: { id: KEY_ID, type: 'cross_cluster', certificate_identity: 'CN=local-cluster\\.example\\.com,.*' },
    'rest-key': { id: 'rest-key', type: 'rest' },
    'odd-key': { id: 'odd-key', type: 'cross_cluster', certificate_identity: 'CN=\\X+' },
  }
  let lookups = 0
  let down = false
  const { server: pem } = testPki()
  const es = createHttpsServer({ key: pem.keyPem, cert: pem.certPem }, (req, res) => {
    lookups++
    const url = new URL(req.url ?? '/', 'https://x')
    t.equal(req.headers.authorization, 'ApiKey bG9va3VwOnNlY3JldA==', 'the gateway authenticates with its own key')
    if (down) return res.writeHead(503).end('{}')
    const k = keys[url.searchParams.get('id') ?? '']
    if (k === undefined) return res.writeHead(404, { 'content-type': 'application/json' }).end('{"api_keys":[]}')
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ api_keys: [k] }))
  })
  await new Promise<void>((r) => es.listen(0, '127.0.0.1', r))
  t.teardown(() => es.close())
  const port = (es.address() as AddressInfo).port
  const s = await setup(t, {
    api_key_lookup: { url: `https://127.0.0.1:${port}`, api_key: 'bG9va3VwOnNlY3JldA==', certificate_authorities: ['certs/ca.crt'], ttl: '1m', negative_ttl: '1m' },
  })
  const ok = await client(t, s.gw.port, { signature: signature(ecLeaf) })
  t.equal(ok.clusterName, 'cluster-a', 'looked-up identity matches')
  t.equal((await ok.request(SEARCH, Buffer.from('cached'))).body.toString(), 'cached')
  t.equal(lookups, 1, 'second request answered from the cache')
  await expectRejected(t, s, await tcpOnly(t, s), HANDSHAKE, { _cross_cluster_access_credentials: CREDENTIALS, _cross_cluster_access_subject_info: SUBJECT_INFO }, /requires certificate identity matching/, true, 'signature_required')
  const cred = (id: string) => 'ApiKey ' + Buffer.from(`${id}:ui2lp2axTNmsyakw9tvNnw`).toString('base64')
  await expectRejected(t, s, await tcpOnly(t, s), HANDSHAKE, { _cross_cluster_access_credentials: cred('nobody'), _cross_cluster_access_subject_info: SUBJECT_INFO }, /unable to find apikey with id \[nobody\]/, true, 'unknown_api_key')
  await expectRejected(t, s, await tcpOnly(t, s), HANDSHAKE, { _cross_cluster_access_credentials: cred('rest-key'), _cross_cluster_access_subject_info: SUBJECT_INFO }, /expected API key type of \[cross_cluster\]/, true, 'wrong_key_type')
  await expectRejected(t, s, await tcpOnly(t, s), HANDSHAKE, { _cross_cluster_access_credentials: cred('odd-key'), _cross_cluster_access_subject_info: SUBJECT_INFO, _cross_cluster_access_signature: signature(ecLeaf, { credentials: cred('odd-key') }) }, /cannot evaluate exactly as Java does/, true, 'unsupported_pattern')
  down = true
  await expectRejected(t, s, await tcpOnly(t, s), HANDSHAKE, { _cross_cluster_access_credentials: cred('new-key'), _cross_cluster_access_subject_info: SUBJECT_INFO }, /failed to authenticate cross cluster credentials/, true, 'key_lookup_failed')
  t.ok((await s.gw.metricValue('rcgw_api_key_lookup_failures_total')) >= 1)
  t.ok((await s.gw.metricValue('rcgw_api_key_cache_hits_total')) >= 1)
})

t.test('an untranslatable static certificate_identity is a config error', async (t) => {
  const { loadConfigText, ConfigError } = await import('../../src/config/load.js')
  const { mkdtempSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const dir = mkdtempSync(join(tmpdir(), 'rcgw-ci-'))
  const { writePki } = await import('../helpers/pki.js')
  writePki(dir)
  writeFileSync(join(dir, 'signing.crt'), signingCa.pem)
  const yaml = (pattern: string) =>
    `tls: { certificate: server.crt, key: server.key }\nclusters:\n  - name: a\n    nodes: ["127.0.0.1:1"]\n    signing: { certificate_authorities: [signing.crt] }\n    api_keys: [{ id: k, certificate_identity: ${JSON.stringify(pattern)} }]\n`
  t.throws(() => loadConfigText(yaml('CN=(unclosed'), join(dir, 'g.yml')), ConfigError)
  try {
    loadConfigText(yaml('CN=(unclosed'), join(dir, 'g.yml'))
  } catch (e) {
    t.equal((e as InstanceType<typeof ConfigError>).key, 'clusters[0].api_keys[0].certificate_identity')
    t.match((e as Error).message, /is not a valid Java regex/)
  }
  t.ok(loadConfigText(yaml('CN=instance'), join(dir, 'g.yml')))
  const noTrust = `tls: { certificate: server.crt, key: server.key }\nclusters:\n  - name: a\n    nodes: ["127.0.0.1:1"]\n    api_keys: [{ id: k, certificate_identity: "CN=x" }]\n`
  t.throws(() => loadConfigText(noTrust, join(dir, 'g.yml')), /signing\.certificate_authorities: required/)
})

t.test('after a closing denial, later frames in the same chunk are not forwarded', async (t) => {
  const s = await setup(t)
  const c = await tcpOnly(t, s)
  const { encodeFrame } = await import('../../src/codec/frame.js')
  const bad = encodeFrame({ requestId: 50n, status: 0, version: 9250003, requestHeaders: { _cross_cluster_access_subject_info: SUBJECT_INFO }, action: HANDSHAKE, body: Buffer.from([0]) })
  const good = encodeFrame({ requestId: 51n, status: 0, version: 9250003, requestHeaders: { _cross_cluster_access_credentials: CREDENTIALS, _cross_cluster_access_subject_info: SUBJECT_INFO }, action: SEARCH, body: Buffer.from([0]) })
  const before = s.be.requests.filter((r) => !r.isHandshake).length
  await c.writeRaw(Buffer.concat([bad, good]))
  await c.closed
  t.equal(s.be.requests.filter((r) => !r.isHandshake).length, before, 'the valid frame after the denied one never reached the backend')
  t.equal(await s.gw.metricValue('rcgw_auth_failures_total', { reason: 'missing_credentials' }), 1)
})
