/**
 * Issue #11 ("Hostile peers"), pure auth code: certificates node:crypto cannot fully load (finding 1), chains built
 * to burn CPU in path building (finding 2), verification results that must not outlive the time they were computed
 * at (finding 6), and which signature failures keep the connection (finding 12). The real-socket counterparts are
 * in test/gateway/auth-hostile.test.ts.
 */
import t from 'tap'
import { sign, X509Certificate } from 'node:crypto'
import type { DecodedHeader } from '../../src/codec/decoder.js'
import {
  MAX_DISTINCT_CERTIFICATES,
  MAX_PRESENTED_CERTIFICATES,
  MAX_SIGNATURE_VERIFICATIONS,
  TrustStore,
  certDescription,
  safePublicKey,
  verifyChain,
} from '../../src/auth/chain.js'
import { SignatureVerifier, validityInterval } from '../../src/auth/verify.js'
import { AuthPolicy, DENIAL_REASONS } from '../../src/auth/policy.js'
import { KeyPatternMap } from '../../src/auth/keymap.js'
import { decodeSignatureHeader, encodeSignatureHeader, signablePayload, verifyPayloadSignature, SignatureVerifyError } from '../../src/auth/signature.js'
import type { Denial } from '../../src/gateway/policy.js'
import { issueCa, issueLeaf, keyPair, DAY, type Issued } from './helpers/certs.js'
import { bitString, explicit, integer, nul, oid, seq, simpleName, tlv } from './helpers/asn1.js'

const KEY_ID = 'VuaCfGcBCdbkQm-e5aOx'
const CREDS = 'ApiKey ' + Buffer.from(`${KEY_ID}:ui2lp2axTNmsyakw9tvNnw`).toString('base64')
const SUBJECT = Buffer.from('subject info blob').toString('base64')
const SEARCH = 'indices:data/read/search'
const conn = { cluster: 'a', remoteAddress: '127.0.0.1:1', servername: null }

function utc(d: Date): Buffer {
  return tlv(0x17, Buffer.from(d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z', 'latin1'))
}

/**
 * A certificate whose SubjectPublicKeyInfo names an algorithm OpenSSL does not know (1.3.6.1.4.1.99999.1), signed
 * by `issuer` with SHA-256: node:crypto loads it, but `X509Certificate.publicKey` throws ERR_OSSL_EVP_DECODE_ERROR.
 */
function undecodableKeyCert(subject: [string, string][], issuer: Issued, extra: { ca?: boolean } = {}): X509Certificate {
  const alg = issuer.key.privateKey.asymmetricKeyType === 'ec' ? seq(oid('1.2.840.10045.4.3.2')) : seq(oid('1.2.840.113549.1.1.11'), nul())
  const spki = seq(seq(oid('1.3.6.1.4.1.99999.1'), nul()), bitString(Buffer.from('not a key anyone knows')))
  const exts = extra.ca === true ? [explicit(3, seq(seq(oid('2.5.29.19'), tlv(0x01, Buffer.from([0xff])), tlv(0x04, seq(tlv(0x01, Buffer.from([0xff])))))))] : []
  const now = Date.now()
  const tbs = seq(explicit(0, integer(2)), integer(now), alg, issuer.subjectDer, seq(utc(new Date(now - DAY)), utc(new Date(now + 30 * DAY))), simpleName(subject), spki, ...exts)
  return new X509Certificate(seq(tbs, alg, bitString(sign('sha256', tbs, issuer.key.privateKey))))
}

function header(headers: Record<string, string>, action = SEARCH): DecodedHeader {
  return {
    requestId: 1n, status: 0, version: 9250003, messageLength: 100, varHeaderSize: 50, bodyLength: 10,
    isRequest: true, isError: false, isHandshake: false, isCompressed: false,
    variable: { requestHeaders: new Map(Object.entries(headers)), responseHeaders: new Map(), features: null, action },
  }
}

function signatureHeader(signer: Issued | null, certs: readonly Buffer[], opts: { subject?: string; algorithm?: string } = {}): string {
  const key = signer?.key.privateKey ?? keyPair('ec', 90).privateKey
  const sig = sign('sha256', signablePayload(opts.subject ?? SUBJECT, CREDS), key)
  const algorithm = opts.algorithm ?? (key.asymmetricKeyType === 'ec' ? 'SHA256withECDSA' : 'SHA256withRSA')
  return encodeSignatureHeader({ transportVersion: 9250003, certificates: certs, algorithm, signature: sig })
}

function policy(trust: TrustStore | null, keys: Array<{ id: string; certificateIdentity: string | null }> = [], now?: () => number, verifier?: SignatureVerifier): AuthPolicy {
  return new AuthPolicy({
    keys: new KeyPatternMap(keys, null, 25),
    verifier: verifier ?? new SignatureVerifier(trust),
    signingRequired: false,
    allowedActions: 'default',
    ...(now ? { now } : {}),
  })
}

const ca = issueCa([['CN', 'Hostile test CA']])
const trust = new TrustStore([ca.pem])

// ---------------------------------------------------------------------------------------------
// Finding 1: keys node:crypto cannot decode

t.test('finding 1: a certificate whose public key cannot be decoded fails closed everywhere', async (t) => {
  const weirdLeaf = undecodableKeyCert([['CN', 'weird-leaf']], ca)
  t.throws(() => weirdLeaf.publicKey, /decode/, 'precondition: node:crypto throws on .publicKey')
  t.equal(safePublicKey(weirdLeaf), null)
  t.match(certDescription(weirdLeaf), /^\(CN=weird-leaf;X\.509;SHA1:[0-9a-f]{40}\)$/)

  // as the leaf: chain validation refuses the key (checkAlgorithmConstraints used to call .publicKey unguarded)
  const asLeaf = verifyChain([weirdLeaf], trust, new Date())
  t.match(asLeaf, { ok: false, reason: 'bad_signature', message: /undecodable public key/ })

  // as an issuer: path building used to call parent.cert.publicKey unguarded
  const weirdCa = undecodableKeyCert([['CN', 'Weird CA']], ca, { ca: true })
  const weirdIssuer: Issued = { cert: weirdCa, der: Buffer.from(weirdCa.raw), pem: weirdCa.toString(), key: keyPair('ec', 91), subjectDer: simpleName([['CN', 'Weird CA']]) }
  const underWeird = issueLeaf([['CN', 'under-weird']], weirdIssuer, { key: keyPair('ec', 92) })
  const asIssuer = verifyChain([underWeird.cert, weirdCa], trust, new Date())
  t.match(asIssuer, { ok: false, reason: 'bad_signature' }, 'a name match whose key cannot verify anything')
  t.match(verifyChain([underWeird.cert, weirdCa], new TrustStore([weirdCa.toString()]), new Date()), { ok: false }, 'also as a trust anchor')

  // the payload signature check throws its own typed error, never the OpenSSL one
  t.throws(() => verifyPayloadSignature(weirdLeaf, 'SHA256withECDSA', Buffer.from('x'), Buffer.alloc(8)), SignatureVerifyError)

  // header decoding accepts it (as Elasticsearch's CertificateFactory does); verification refuses it
  const hdr = signatureHeader(null, [Buffer.from(weirdLeaf.raw)])
  t.equal(decodeSignatureHeader(hdr).x509.length, 1)
  for (const [what, certs] of [['leaf', [Buffer.from(weirdLeaf.raw)]], ['issuer', [underWeird.der, Buffer.from(weirdCa.raw)]]] as const) {
    const signer = what === 'issuer' ? underWeird : null
    const v = new SignatureVerifier(trust).verify(signatureHeader(signer, certs), SUBJECT, CREDS)
    t.match(v, { ok: false, reason: 'untrusted_chain', message: /^Failed to verify cross cluster api key signature certificate from \[\(CN=/ }, `${what}: 401 "Failed to verify"`)
    let d: unknown
    t.doesNotThrow(() => {
      d = policy(trust).check(header({ _cross_cluster_access_credentials: CREDS, _cross_cluster_access_subject_info: SUBJECT, _cross_cluster_access_signature: signatureHeader(signer, certs) }), conn)
    }, `${what}: AuthPolicy.check does not throw`)
    t.match(d, { reason: 'untrusted_chain', close: false, exception: { type: 'security', status: 'UNAUTHORIZED' } }, `${what}: authenticate-stage 401`)
  }
})

t.test('finding 1: last resorts turn unexpected exceptions into denials', async (t) => {
  // a trust store that throws while validating: verifyChain's own last resort
  const throwing = Object.assign(Object.create(TrustStore.prototype) as TrustStore, {
    anchorInfos(): never {
      throw new Error('boom')
    },
  })
  const leaf = issueLeaf([['CN', 'ok']], ca, { key: keyPair('ec', 93) })
  t.match(verifyChain([leaf.cert], throwing, new Date()), { ok: false, reason: 'malformed', message: /boom/ })

  // a verifier that throws: AuthPolicy.check's last resort (synchronous)
  const exploding = { decode: () => { throw new Error('decoder exploded') }, verify: () => { throw new Error('verifier exploded') } } as unknown as SignatureVerifier
  const p = policy(trust, [], undefined, exploding)
  const h = header({ _cross_cluster_access_credentials: CREDS, _cross_cluster_access_subject_info: SUBJECT, _cross_cluster_access_signature: 'AAAA' })
  let d: unknown
  t.doesNotThrow(() => { d = p.check(h, conn) })
  t.match(d, { reason: 'authentication_error', close: true, exception: { type: 'security', status: 'UNAUTHORIZED', message: 'failed to authenticate cross cluster credentials' }, audit: { error: 'decoder exploded' } })
  t.ok(DENIAL_REASONS.includes('authentication_error'), 'the metrics label set knows the reason')

  // a key lookup that rejects: the asynchronous path resolves to a denial instead of rejecting
  const rejecting = new AuthPolicy({
    keys: { get: () => Promise.reject(new Error('lookup exploded')) } as unknown as KeyPatternMap,
    verifier: new SignatureVerifier(trust),
    signingRequired: false,
    allowedActions: 'default',
  })
  const pending = rejecting.check(header({ _cross_cluster_access_credentials: CREDS, _cross_cluster_access_subject_info: SUBJECT }), conn)
  t.ok(pending instanceof Promise)
  t.match(await pending, { reason: 'authentication_error', close: true, audit: { error: 'lookup exploded' } })
})

// ---------------------------------------------------------------------------------------------
// Finding 2: bounded path building

/** `n` CA certificates sharing one name and one key: every one verifies under every other. */
function clones(n: number): Issued[] {
  const shared = keyPair('ec', 94)
  return Array.from({ length: n }, () => issueCa([['CN', 'Clone']], { key: shared }))
}

t.test('finding 2: a hostile 32-certificate chain costs at most MAX_SIGNATURE_VERIFICATIONS verifications', async (t) => {
  t.equal(MAX_SIGNATURE_VERIFICATIONS, 16)
  t.equal(MAX_DISTINCT_CERTIFICATES, 10)
  t.equal(MAX_PRESENTED_CERTIFICATES, 32)
  const c = clones(MAX_DISTINCT_CERTIFICATES - 1)
  const leaf = issueLeaf([['CN', 'clone-leaf']], c[0]!, { key: keyPair('ec', 95) })
  // 32 certificates: the leaf and the 9 distinct clones, repeated and shuffled to fill the chain
  const hostile: X509Certificate[] = [leaf.cert]
  for (let i = 0; hostile.length < MAX_PRESENTED_CERTIFICATES; i++) hostile.push(c[(i * 7) % c.length]!.cert)
  t.equal(hostile.length, 32)
  let count = 0
  const r = verifyChain(hostile, trust, new Date(), { onSignatureVerification: () => count++ })
  t.match(r, { ok: false, reason: 'untrusted', message: /gave up after 16 signature verifications/ })
  t.ok(count <= MAX_SIGNATURE_VERIFICATIONS, `${count} signature verifications (cap ${MAX_SIGNATURE_VERIFICATIONS})`)
  t.comment(`hostile 32-certificate chain: ${count} certificate signature verifications`)

  // 32 distinct certificates: refused before any signature is verified
  const many = clones(31)
  let count2 = 0
  const r2 = verifyChain([leaf.cert, ...many.map((x) => x.cert)], trust, new Date(), { onSignatureVerification: () => count2++ })
  t.match(r2, { ok: false, reason: 'malformed', message: /32 distinct certificates exceeds the limit of 10/ })
  t.equal(count2, 0)

  // still finds the path when one of the clones is trusted, and cheaply
  let count3 = 0
  t.ok(verifyChain(hostile, new TrustStore([c[5]!.pem]), new Date(), { onSignatureVerification: () => count3++ }).ok)
  t.ok(count3 <= 2, `${count3} verifications when the anchor shares the name and key`)
})

t.test('finding 2: duplicates and order do not change the decision; the verifier caches failures canonically', async (t) => {
  const root = issueCa([['CN', 'Root']], { key: keyPair('ec', 96) })
  const mid = issueCa([['CN', 'Mid']], { issuer: root, key: keyPair('ec', 97) })
  const leaf = issueLeaf([['CN', 'leaf']], mid, { key: keyPair('ec', 98) })
  const rootTrust = new TrustStore([root.pem])
  t.ok(verifyChain([leaf.cert, mid.cert], rootTrust, new Date()).ok)
  t.ok(verifyChain([leaf.cert, root.cert, mid.cert, mid.cert, leaf.cert], rootTrust, new Date()).ok, 'duplicates and any order')

  const c = clones(MAX_DISTINCT_CERTIFICATES - 1)
  const hostileLeaf = issueLeaf([['CN', 'clone-leaf']], c[0]!, { key: keyPair('ec', 95) })
  const v = new SignatureVerifier(trust)
  const now = Date.now()
  for (let i = 0; i < 20; i++) {
    // rotated, reversed and padded with repeats on every request, as an attacker defeating an order-sensitive
    // cache would do; always the same *set* of certificates
    const rotated = [...c.slice(i % c.length), ...c.slice(0, i % c.length)].map((x) => x.der)
    const certs = [hostileLeaf.der, ...(i % 2 === 0 ? rotated : rotated.reverse()), ...rotated.slice(0, i % 5)]
    t.match(v.verify(signatureHeader(hostileLeaf, certs), SUBJECT, CREDS, now), { ok: false, reason: 'untrusted_chain' })
  }
  t.equal(v.counters.chainValidations, 1, 'one chain validation for 20 orderings of the hostile set')
  t.ok(v.counters.certificateSignatureChecks <= MAX_SIGNATURE_VERIFICATIONS, `${v.counters.certificateSignatureChecks} certificate signature checks in total`)

  // the simplest re-ordering: [leaf, a, b] and [leaf, b, a] share the cache entry
  const w = new SignatureVerifier(trust)
  const a = c[1]!.der
  const b = c[2]!.der
  w.verify(signatureHeader(hostileLeaf, [hostileLeaf.der, a, b]), SUBJECT, CREDS, now)
  w.verify(signatureHeader(hostileLeaf, [hostileLeaf.der, b, a]), SUBJECT, CREDS, now)
  w.verify(signatureHeader(hostileLeaf, [hostileLeaf.der, b, a, b, a]), SUBJECT, CREDS, now)
  t.equal(w.counters.chainValidations, 1, 'one validation for three orderings of one set')
})

// ---------------------------------------------------------------------------------------------
// Finding 6: results must not outlive the time they were computed at

t.test('finding 6: a result computed before notBefore does not stick once the certificate is valid', async (t) => {
  const t0 = Date.UTC(2030, 0, 1)
  const notBefore = new Date(t0 + 3600_000)
  const notAfter = new Date(t0 + 10 * DAY)
  const leaf = issueLeaf([['CN', 'future']], ca, { key: keyPair('ec', 99), notBefore, notAfter })
  const longCa = issueCa([['CN', 'Hostile test CA']], { key: ca.key, notBefore: new Date(t0 - DAY), notAfter: new Date(t0 + 365 * DAY) })
  const tr = new TrustStore([longCa.pem])
  const hdr = signatureHeader(leaf, [leaf.der])
  for (const cacheSize of [10_000, 0]) {
    const v = new SignatureVerifier(tr, { cacheSize })
    t.match(v.verify(hdr, SUBJECT, CREDS, t0), { ok: false, reason: 'expired_certificate' }, `cache ${cacheSize}: not yet valid`)
    t.match(v.verify(hdr, SUBJECT, CREDS, notBefore.getTime()), { ok: true }, `cache ${cacheSize}: valid at notBefore`)
    t.match(v.verify(hdr, SUBJECT, CREDS, t0 + 2 * DAY), { ok: true }, `cache ${cacheSize}: valid later`)
    t.match(v.verify(hdr, SUBJECT, CREDS, notAfter.getTime()), { ok: true }, `cache ${cacheSize}: valid at notAfter`)
    t.match(v.verify(hdr, SUBJECT, CREDS, notAfter.getTime() + 1), { ok: false, reason: 'expired_certificate' }, `cache ${cacheSize}: expired 1 ms after notAfter`)
    t.match(v.verify(hdr, SUBJECT, CREDS, t0 + 2 * DAY), { ok: true }, `cache ${cacheSize}: a clock stepping back is answered for its own time`)
  }
  // through the policy, with an injected clock
  let now = t0
  const p = policy(tr, [], () => now)
  const h = header({ _cross_cluster_access_credentials: CREDS, _cross_cluster_access_subject_info: SUBJECT, _cross_cluster_access_signature: hdr })
  t.match(p.check(h, conn), { reason: 'expired_certificate', close: false })
  now = t0 + 2 * 3600_000
  t.equal(p.check(h, conn), null, 'allowed once the certificate is valid')

  t.equal(validityInterval([], 5), 0)
  t.equal(validityInterval([1, 3], 0), 0)
  t.equal(validityInterval([1, 3], 1), 1)
  t.equal(validityInterval([1, 3], 2), 1)
  t.equal(validityInterval([1, 3], 3), 2)
})

// ---------------------------------------------------------------------------------------------
// Finding 12: close behaviour

t.test('finding 12: signature failures keep the connection unless the key has certificate_identity', async (t) => {
  const other = issueCa([['CN', 'Someone else']], { key: keyPair('ec', 100) })
  const stranger = issueLeaf([['CN', 'local']], other, { key: keyPair('ec', 101) })
  const good = issueLeaf([['CN', 'local']], ca, { key: keyPair('ec', 102) })
  const bad = (k: Issued) => header({ _cross_cluster_access_credentials: CREDS, _cross_cluster_access_subject_info: SUBJECT, _cross_cluster_access_signature: signatureHeader(k, [k.der]) })
  const plain = policy(trust)
  t.match(plain.check(bad(stranger), conn), { reason: 'untrusted_chain', close: false })
  t.equal(plain.check(bad(good), conn), null)
  const identity = policy(trust, [{ id: KEY_ID, certificateIdentity: 'CN=local' }])
  t.match(identity.check(bad(stranger), conn), { reason: 'untrusted_chain', close: true }, 'identity key: verified before the DN, closes')
  t.equal(identity.check(bad(good), conn), null)
  const malformed = header({ _cross_cluster_access_credentials: CREDS, _cross_cluster_access_subject_info: SUBJECT, _cross_cluster_access_signature: 'AAAA' })
  t.match(plain.check(malformed, conn) as Denial, { reason: 'malformed_signature', close: true }, 'decoding is header stage: closes')
})

t.test('finding 2: a header announcing more than MAX_PRESENTED_CERTIFICATES is refused before parsing them', async (t) => {
  const leaf = issueLeaf([['CN', 'many']], ca, { key: keyPair('ec', 103) })
  const many = signatureHeader(leaf, Array.from({ length: MAX_PRESENTED_CERTIFICATES + 1 }, () => leaf.der))
  t.throws(() => decodeSignatureHeader(many, { maxCertificates: MAX_PRESENTED_CERTIFICATES }), { reason: 'malformed', message: /33 certificates exceed/ })
  t.equal(decodeSignatureHeader(many).x509.length, 33, 'no limit unless asked for (Elasticsearch has none)')
  const v = new SignatureVerifier(trust)
  t.match(v.verify(many, SUBJECT, CREDS), { ok: false, reason: 'malformed_signature', cause: /33 certificates exceed/ })
  t.equal(v.counters.chainValidations, 0)
})
