/**
 * Issue #11 ("Hostile peers") through real sockets: emulated local cluster → gateway → emulated backend.
 *  - finding 1: a signature chain with a certificate whose public key node:crypto cannot decode used to throw out of
 *    the policy into the socket 'data' listener and kill the process; now a 401, and the gateway keeps serving;
 *  - finding 2: hostile same-name chains re-ordered per request share one chain validation, capped verifications;
 *  - finding 6: a "not yet valid" answer does not stick once the certificate becomes valid (injected clock);
 *  - finding 12: signature failures are authenticate-stage 401s on a live connection (the same connection answers
 *    the next valid request), except for keys with certificate_identity, whose connection is closed.
 */
import t, { type Test } from 'tap'
import { sign, X509Certificate } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { backend, client, CREDENTIALS, SUBJECT_INFO, KEY_ID, until } from './fixtures.js'
import { issueCa, issueLeaf, keyPair, DAY, type Issued } from '../auth/helpers/certs.js'
import { bitString, explicit, integer, nul, oid, seq, simpleName, tlv } from '../auth/helpers/asn1.js'
import { encodeSignatureHeader, signablePayload } from '../../src/auth/signature.js'
import { createClusterPolicy } from '../../src/auth/factory.js'
import { AuthPolicy } from '../../src/auth/policy.js'
import { KeyPatternMap } from '../../src/auth/keymap.js'
import { SignatureVerifier } from '../../src/auth/verify.js'
import { MAX_SIGNATURE_VERIFICATIONS, TrustStore } from '../../src/auth/chain.js'
import { GatewayMetrics } from '../../src/admin/metrics.js'
import type { GatewayOptions } from '../../src/gateway/gateway.js'
import type { Backend } from '../emulator/backend.js'
import type { TransportClient } from '../emulator/client.js'
import { tempDir } from '../helpers/tmp.js'

const SEARCH = 'indices:data/read/search'

const signingCa = issueCa([['CN', 'Hostile Signing CA']])
const goodLeaf = issueLeaf([['CN', 'local-cluster']], signingCa, { key: keyPair('ec', 120) })

function utc(d: Date): Buffer {
  return tlv(0x17, Buffer.from(d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z', 'latin1'))
}

/** Signed by `issuer`, but its SubjectPublicKeyInfo names an unknown algorithm: `.publicKey` throws in node:crypto. */
function undecodableKeyCert(subject: [string, string][], issuer: Issued): X509Certificate {
  const alg = issuer.key.privateKey.asymmetricKeyType === 'ec' ? seq(oid('1.2.840.10045.4.3.2')) : seq(oid('1.2.840.113549.1.1.11'), nul())
  const spki = seq(seq(oid('1.3.6.1.4.1.99999.1'), nul()), bitString(Buffer.from('not a key anyone knows')))
  const now = Date.now()
  const tbs = seq(explicit(0, integer(2)), integer(now), alg, issuer.subjectDer, seq(utc(new Date(now - DAY)), utc(new Date(now + 30 * DAY))), simpleName(subject), spki)
  return new X509Certificate(seq(tbs, alg, bitString(sign('sha256', tbs, issuer.key.privateKey))))
}

function sigHeader(signer: Issued | null, certs: readonly Buffer[]): string {
  const key = signer?.key.privateKey ?? keyPair('ec', 121).privateKey
  const sig = sign('sha256', signablePayload(SUBJECT_INFO, CREDENTIALS), key)
  return encodeSignatureHeader({ transportVersion: 9250003, certificates: certs, algorithm: key.asymmetricKeyType === 'ec' ? 'SHA256withECDSA' : 'SHA256withRSA', signature: sig })
}

const headers = (signature: string) => ({ _cross_cluster_access_credentials: CREDENTIALS, _cross_cluster_access_subject_info: SUBJECT_INFO, _cross_cluster_access_signature: signature })

interface Setup {
  gw: StartedGateway
  be: Backend
}

async function setup(t: Test, cluster: Record<string, unknown> = {}, options?: Partial<GatewayOptions>): Promise<Setup> {
  const be = await backend(t, 'cluster-a')
  const caFile = join(tempDir(t), 'signing-ca.crt')
  writeFileSync(caFile, signingCa.pem)
  const gw = await startGateway(t, {
    clusters: [{ name: 'a', nodes: [`127.0.0.1:${be.port}`], signing: { certificate_authorities: [caFile] }, ...cluster }],
    ...(options ? { options } : {}),
  })
  return { gw, be }
}

const forwarded = (s: Setup) => s.be.requests.filter((r) => !r.isHandshake).length

async function rejected(c: TransportClient, hdrs: Record<string, string>): Promise<{ message?: string | null; status?: string }> {
  const err = (await c.request(SEARCH, Buffer.from('denied'), { headers: hdrs, accessHeaders: false }).then(
    () => null,
    (e: unknown) => e,
  )) as { exception?: { message?: string | null; status?: string } } | null
  return err?.exception ?? {}
}

/** A valid signed request on the same connection: proves it is still open and served. */
async function stillServes(t: Test, s: Setup, c: TransportClient, what: string): Promise<void> {
  const before = forwarded(s)
  const ok = await c.request(SEARCH, Buffer.from(`after ${what}`), { headers: headers(sigHeader(goodLeaf, [goodLeaf.der])), accessHeaders: false })
  t.equal(ok.body.toString(), `after ${what}`, `${what}: the same connection answers the next valid request`)
  t.equal(forwarded(s) - before, 1, `${what}: and forwards it`)
}

t.test('finding 1: an undecodable public key is a 401, and the gateway keeps serving', async (t) => {
  const s = await setup(t)
  const weirdLeaf = undecodableKeyCert([['CN', 'weird-leaf']], signingCa)
  const weirdCa = undecodableKeyCert([['CN', 'Weird CA']], signingCa)
  const weirdIssuer: Issued = { cert: weirdCa, der: Buffer.from(weirdCa.raw), pem: weirdCa.toString(), key: keyPair('ec', 122), subjectDer: simpleName([['CN', 'Weird CA']]) }
  const underWeird = issueLeaf([['CN', 'under-weird']], weirdIssuer, { key: keyPair('ec', 123) })
  const c = await client(t, s.gw.port, { handshake: 'tcp' })
  const before = forwarded(s)
  for (const [what, hdr] of [
    ['undecodable leaf key', sigHeader(null, [Buffer.from(weirdLeaf.raw)])],
    ['undecodable issuer key', sigHeader(underWeird, [underWeird.der, Buffer.from(weirdCa.raw)])],
  ] as const) {
    const ex = await rejected(c, headers(hdr))
    t.match(ex.message, /Failed to verify cross cluster api key signature certificate from \[\(CN=/, `${what}: Elasticsearch's 401 message`)
    t.equal(ex.status, 'UNAUTHORIZED')
  }
  t.equal(forwarded(s), before, 'nothing of the denied requests reached the backend')
  await stillServes(t, s, c, 'undecodable keys')
  const fresh = await client(t, s.gw.port)
  t.equal((await fresh.request(SEARCH, Buffer.from('fresh'))).body.toString(), 'fresh', 'a new connection is served too')
  await until(async () => (await s.gw.metricValue('rcgw_auth_failures_total', { reason: 'untrusted_chain' })) >= 2, 5000, 'metric')
  t.ok(s.gw.logs.some((l) => l.event === 'denied' && l.reason === 'untrusted_chain'), 'audited')
})

t.test('finding 1 + 12: with certificate_identity the connection is closed, and the gateway keeps serving', async (t) => {
  const s = await setup(t, { api_keys: [{ id: KEY_ID, certificate_identity: 'CN=.*' }] })
  const weirdLeaf = undecodableKeyCert([['CN', 'weird-leaf']], signingCa)
  const c = await client(t, s.gw.port, { handshake: 'tcp' })
  const ex = await rejected(c, headers(sigHeader(null, [Buffer.from(weirdLeaf.raw)])))
  t.match(ex.message, /Failed to verify cross cluster api key signature certificate from/)
  await c.closed
  t.pass('identity key: verified before the DN is matched, so the connection is closed')
  const fresh = await client(t, s.gw.port, { signature: sigHeader(goodLeaf, [goodLeaf.der]) })
  t.equal(fresh.clusterName, 'cluster-a', 'a new connection is served')
})

t.test('finding 12: authenticate-stage 401s keep the connection (no certificate_identity)', async (t) => {
  const s = await setup(t)
  const other = issueCa([['CN', 'Hostile Signing CA']], { key: keyPair('ec', 124) }) // same name, other key
  const stranger = issueLeaf([['CN', 'local-cluster']], other, { key: keyPair('ec', 125) })
  const expired = issueLeaf([['CN', 'local-cluster']], signingCa, { key: keyPair('ec', 126), notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) })
  const c = await client(t, s.gw.port, { handshake: 'tcp' })
  const tampered = encodeSignatureHeader({
    transportVersion: 9250003,
    certificates: [goodLeaf.der],
    algorithm: 'SHA256withECDSA',
    signature: sign('sha256', signablePayload('other subject', CREDENTIALS), goodLeaf.key.privateKey),
  })
  for (const [what, hdr, message] of [
    ['untrusted chain', sigHeader(stranger, [stranger.der]), /Failed to verify cross cluster api key signature certificate/],
    ['expired leaf', sigHeader(expired, [expired.der]), /Failed to verify cross cluster api key signature certificate/],
    ['bad signature', tampered, /Invalid cross cluster api key signature from/],
  ] as const) {
    const ex = await rejected(c, headers(hdr))
    t.match(ex.message, message, `${what}: 401`)
    t.equal(ex.status, 'UNAUTHORIZED')
    await stillServes(t, s, c, what)
  }
  // header-stage failures still close (decoding the signature header is part of credential extraction)
  const ex = await rejected(c, headers('AAAA'))
  t.match(ex.message, /failed to extract credentials from headers/)
  await c.closed
  t.pass('malformed signature header: connection closed')
})

t.test('finding 2: re-ordered hostile chains share one validation and the verification cap', async (t) => {
  const shared = keyPair('ec', 127)
  const clones = Array.from({ length: 9 }, () => issueCa([['CN', 'Clone']], { key: shared }))
  const hostileLeaf = issueLeaf([['CN', 'clone-leaf']], clones[0]!, { key: keyPair('ec', 128) })
  const verifier = new SignatureVerifier(new TrustStore([signingCa.pem]))
  const metrics = new GatewayMetrics()
  const s = await setup(t, {}, {
    metrics,
    policyFor: () => new AuthPolicy({ keys: new KeyPatternMap([], null, 25), verifier, signingRequired: false, allowedActions: 'default' }),
  })
  const c = await client(t, s.gw.port, { handshake: 'tcp' })
  for (let i = 0; i < 6; i++) {
    const rotated = [...clones.slice(i), ...clones.slice(0, i)].map((x) => x.der)
    const certs = [hostileLeaf.der, ...(i % 2 === 0 ? rotated : rotated.reverse())]
    while (certs.length < 32) certs.push(rotated[certs.length % rotated.length]!) // repeats fill the chain
    t.equal(certs.length, 32)
    const ex = await rejected(c, headers(sigHeader(hostileLeaf, certs)))
    t.match(ex.message, /Failed to verify cross cluster api key signature certificate/, `hostile chain ${i}: 401`)
  }
  t.equal(verifier.counters.chainValidations, 1, 'six orderings of one hostile set: one chain validation')
  t.ok(verifier.counters.certificateSignatureChecks <= MAX_SIGNATURE_VERIFICATIONS, `${verifier.counters.certificateSignatureChecks} certificate signature verifications in total`)
  t.comment(`6 hostile 32-certificate requests: ${verifier.counters.chainValidations} chain validation, ${verifier.counters.certificateSignatureChecks} certificate signature verifications`)
  await stillServes(t, s, c, 'hostile chains')
})

t.test('finding 6: "not yet valid" does not stick once the certificate is valid (injected clock)', async (t) => {
  const t0 = Date.now()
  const future = issueLeaf([['CN', 'local-cluster']], signingCa, { key: keyPair('ec', 129), notBefore: new Date(t0 + 3600_000), notAfter: new Date(t0 + 30 * DAY) })
  let now = t0
  const metrics = new GatewayMetrics()
  const s = await setup(t, {}, { metrics, policyFor: (cfg) => createClusterPolicy(cfg, { metrics, now: () => now }) })
  const c = await client(t, s.gw.port, { handshake: 'tcp' })
  const hdr = headers(sigHeader(future, [future.der]))
  const ex = await rejected(c, hdr)
  t.match(ex.message, /Failed to verify cross cluster api key signature certificate/, 'before notBefore: 401')
  now = t0 + 2 * 3600_000
  const ok = await c.request(SEARCH, Buffer.from('now valid'), { headers: hdr, accessHeaders: false })
  t.equal(ok.body.toString(), 'now valid', 'the same header on the same connection is accepted once the certificate is valid')
  now = t0 + 31 * DAY
  const ex2 = await rejected(c, hdr)
  t.match(ex2.message, /Failed to verify/, 'and refused again after notAfter')
})
