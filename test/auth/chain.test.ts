import t from 'tap'
import { X509Certificate, createHash } from 'node:crypto'
import {
  MAX_PATH_LENGTH,
  TrustStore,
  TrustStoreError,
  basicConstraints,
  certDescription,
  certificateExtensions,
  extendedKeyUsage,
  keyUsage,
  sha1Fingerprint,
  verifyChain,
} from '../../src/auth/chain.js'
import { parseCertificate, bitIsSet } from '../../src/auth/der.js'
import { buildScenarios, toX509 } from './helpers/chain-scenarios.js'
import { issue, issueCa, issueLeaf, keyPair } from './helpers/certs.js'
import { readVectors } from './helpers/paths.js'
import { name, stringValue, OIDS } from './helpers/asn1.js'

t.test('chain scenarios', async (t) => {
  const now = new Date()
  for (const sc of buildScenarios()) {
    const trust = new TrustStore(sc.cas.map((c) => c.pem))
    const r = verifyChain(toX509(sc.chain), trust, now)
    if (sc.expect.ok) {
      t.ok(r.ok, `${sc.name}: accepted`, r.ok ? {} : { result: r })
      if (r.ok && sc.expect.pathLength !== undefined) t.equal(r.path.length, sc.expect.pathLength, `${sc.name}: path length`)
      if (r.ok) t.same(r.path[0]!.raw, sc.chain[0], `${sc.name}: the path starts with the leaf`)
    } else {
      t.match(r, { ok: false, reason: sc.expect.reason, certIndex: sc.expect.certIndex }, `${sc.name}: ${sc.expect.reason} at ${sc.expect.certIndex}`)
      if (!r.ok) t.match(r.message, /\(.*;X\.509;SHA1:[0-9a-f]{40}\)/, `${sc.name}: message names the certificate`)
    }
  }
})

t.test('validity boundaries are inclusive, anchors are not checked', async (t) => {
  const ca = issueCa([['CN', 'Boundary CA']], { key: keyPair('rsa', 0) })
  const notBefore = new Date('2030-01-01T00:00:00Z')
  const notAfter = new Date('2030-06-01T00:00:00Z')
  const leaf = issueLeaf([['CN', 'boundary']], ca, { notBefore, notAfter })
  const trust = new TrustStore([ca.pem])
  t.ok(verifyChain([leaf.cert], trust, notBefore).ok, 'valid at notBefore')
  t.ok(verifyChain([leaf.cert], trust, notAfter).ok, 'valid at notAfter')
  t.match(verifyChain([leaf.cert], trust, new Date(notAfter.getTime() + 1000)), { ok: false, reason: 'expired' })
  t.match(verifyChain([leaf.cert], trust, new Date(notBefore.getTime() - 1000)), { ok: false, reason: 'not_yet_valid' })
  t.ok(verifyChain([leaf.cert], trust, new Date('2030-03-01T00:00:00Z')).ok, 'the CA (valid until next year) is not consulted for dates')
})

t.test('jdk-signatures.json certificates chain to their CA', async (t) => {
  const v = readVectors<{ ca_cert_pem: string; vectors: { id: string; cert_pem: string }[] }>('jdk-signatures.json')
  const trust = new TrustStore([v.ca_cert_pem])
  for (const vec of v.vectors) {
    const r = verifyChain([new X509Certificate(vec.cert_pem)], trust, new Date('2030-01-01T00:00:00Z'))
    t.ok(r.ok, vec.id)
  }
  t.match(verifyChain([new X509Certificate(v.vectors[0]!.cert_pem)], trust, new Date('2026-01-01T00:00:00Z')), { ok: false, reason: 'not_yet_valid', certIndex: 0 })
  t.match(verifyChain([new X509Certificate(v.vectors[0]!.cert_pem)], new TrustStore([]), new Date('2030-01-01T00:00:00Z')), { ok: false, reason: 'untrusted' })
})

t.test('certDescription: X509CertificateSignature.certificateToString', async (t) => {
  const v = readVectors<{ vectors: { id: string; cert_pem: string; to_string: string }[] }>('jdk-dn.json')
  for (const vec of v.vectors.slice(0, 5)) {
    const cert = new X509Certificate(vec.cert_pem)
    const sha1 = createHash('sha1').update(cert.raw).digest('hex')
    t.equal(certDescription(cert), `(${vec.to_string};X.509;SHA1:${sha1})`, vec.id)
    t.equal(sha1Fingerprint(cert), cert.fingerprint.replace(/:/g, '').toLowerCase())
  }
})

t.test('extension parsing', async (t) => {
  const leaf = issueLeaf([['CN', 'ext']], issueCa([['CN', 'Ext CA']]), { ca: { ca: true, pathLen: 3, critical: true }, keyUsage: { bits: [0, 8] }, eku: { oids: ['1.3.6.1.5.5.7.3.2', '1.2.3.4'] } })
  const exts = certificateExtensions(parseCertificate(leaf.der))
  t.same(basicConstraints(exts), { ca: true, pathLen: 3 })
  const ku = keyUsage(exts)!
  t.ok(bitIsSet(ku, 0) && bitIsSet(ku, 8) && !bitIsSet(ku, 5), 'digitalSignature and decipherOnly')
  t.same(extendedKeyUsage(exts), ['1.3.6.1.5.5.7.3.2', '1.2.3.4'])
  t.same(certificateExtensions(parseCertificate(issue({ subject: [['CN', 'v1']], version: 0 }).der)), [])
  const dup = issue({ subject: [['CN', 'dup']], extensions: [{ oid: '1.2.3', value: Buffer.from([5, 0]) }, { oid: '1.2.3', value: Buffer.from([5, 0]) }] })
  t.throws(() => certificateExtensions(parseCertificate(dup.der)), { name: 'DerError' }, 'duplicate extensions')
  const ca = issueCa([['CN', 'Dup CA']])
  const dupLeaf = issue({ subject: [['CN', 'dup-leaf']], issuer: ca, extensions: [{ oid: '1.2.3', value: Buffer.from([5, 0]) }, { oid: '1.2.3', value: Buffer.from([5, 0]) }] })
  t.match(verifyChain([dupLeaf.cert], new TrustStore([ca.pem]), new Date()), { ok: false, reason: 'malformed', certIndex: 0 })
  // (a BMPString holding a surrogate pair, refused by JDK 25's X500Name, is refused by OpenSSL too:
  // node:crypto cannot even load such a certificate, so decodeSignatureHeader reports bad_certificate)
  t.throws(() => issue({ subject: name([[{ oid: OIDS.CN!, value: stringValue('bmp', '😀') }]]), issuer: ca }), /illegal characters|no start line/)
})

t.test('trust store and input limits', async (t) => {
  const a = issueCa([['CN', 'A']])
  const b = issueCa([['CN', 'B']], { key: keyPair('ec') })
  const bundle = new TrustStore([`${a.pem}\n${b.pem}`, a.pem])
  t.equal(bundle.size, 3, 'PEM bundles hold several anchors')
  t.throws(() => new TrustStore(['not a pem']), TrustStoreError)
  t.throws(() => new TrustStore(['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----']), { name: 'TrustStoreError', reason: 'bad_pem' })
  t.match(verifyChain([], bundle, new Date()), { ok: false, reason: 'malformed', certIndex: -1 })
  const leaf = issueLeaf([['CN', 'many']], a)
  t.match(verifyChain(Array.from({ length: 33 }, () => leaf.cert), bundle, new Date()), { ok: false, reason: 'malformed' })
  t.equal(MAX_PATH_LENGTH, 10)
  // a ladder longer than MAX_PATH_LENGTH
  let top = a
  const ladder = []
  for (let i = 0; i < MAX_PATH_LENGTH; i++) {
    top = issueCa([['CN', `Tall ${i}`]], { issuer: top, key: keyPair('ec', 40 + i) })
    ladder.push(top.cert)
  }
  const tallLeaf = issueLeaf([['CN', 'tall-leaf']], top, { key: keyPair('ec', 60) })
  // leaf + 10 intermediates: more distinct certificates than MAX_DISTINCT_CERTIFICATES, refused before path building
  t.match(verifyChain([tallLeaf.cert, ...ladder], new TrustStore([a.pem]), new Date()), { ok: false, reason: 'malformed', message: /11 distinct certificates/ })
  // leaf + the top 9: the search reaches MAX_PATH_LENGTH before any anchor
  t.match(verifyChain([tallLeaf.cert, ...ladder.slice(1)], new TrustStore([a.pem]), new Date()), { ok: false, reason: 'path_too_long' })
})

t.test('path building is bounded: many certificates sharing one name and one key', async (t) => {
  const shared = keyPair('ec', 70)
  // 9 clones + the leaf = MAX_DISTINCT_CERTIFICATES; more distinct certificates are refused outright
  // (test/auth/auth-hostile.test.ts)
  const clones = Array.from({ length: 9 }, () => issueCa([['CN', 'Clone']], { key: shared }))
  const leaf = issueLeaf([['CN', 'clone-leaf']], clones[0]!, { key: keyPair('ec', 71) })
  const r = verifyChain([leaf.cert, ...clones.map((c) => c.cert)], new TrustStore([a().pem]), new Date())
  t.match(r, { ok: false, reason: 'untrusted', message: /gave up after 16 signature verifications/ }, 'gives up instead of trying every permutation')
  const trusted = verifyChain([leaf.cert, ...clones.map((c) => c.cert)], new TrustStore([clones[5]!.pem]), new Date())
  t.ok(trusted.ok, 'and still finds a path when one of them is trusted')
})

function a(): { pem: string } {
  return issueCa([['CN', 'Unrelated']])
}
