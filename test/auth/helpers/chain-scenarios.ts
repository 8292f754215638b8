/**
 * Certificate chains for src/auth/chain.ts, shared by the unit test (expected reasons) and the
 * JDK oracle test (same accept/reject decision as X509TrustManager.checkClientTrusted +
 * leaf.checkValidity). Certificates are minted relative to the current time with margins of
 * days, so the outcome does not depend on when the suite runs.
 */
import { X509Certificate } from 'node:crypto'
import type { ChainFailureReason } from '../../../src/auth/chain.js'
import { name, octets, seq, stringValue, tlv } from './asn1.js'
import { DAY, issue, issueCa, issueLeaf, keyPair, namedBitString, tamperSignature, type Issued } from './certs.js'

export interface Scenario {
  name: string
  /** Trust anchors. */
  cas: Issued[]
  /** Presented chain, leaf first (DER). */
  chain: Buffer[]
  expect: { ok: true; pathLength?: number } | { ok: false; reason: ChainFailureReason; certIndex: number }
  /** A documented divergence from the JDK: skipped by the oracle comparison. */
  divergesFromJdk?: string
}

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1'
const ANY_EKU = '2.5.29.37.0'

export function buildScenarios(): Scenario[] {
  const now = Date.now()
  const rootRsa = issueCa([['O', 'Test'], ['CN', 'Root RSA']], { key: keyPair('rsa', 0) })
  const rootEc = issueCa([['O', 'Test'], ['CN', 'Root EC']], { key: keyPair('ec', 0) })
  const otherRoot = issueCa([['CN', 'Untrusted Root']], { key: keyPair('rsa', 1) })
  const interA = issueCa([['CN', 'Intermediate A']], { issuer: rootRsa, key: keyPair('ec', 1) })
  const interB = issueCa([['CN', 'Intermediate B']], { issuer: interA, key: keyPair('rsa', 2) })
  const d = (x: Issued): Buffer => x.der
  const s: Scenario[] = []
  const add = (sc: Scenario): void => {
    s.push(sc)
  }

  const rsaLeaf = issueLeaf([['CN', 'rsa-leaf']], rootRsa, { key: keyPair('rsa', 3) })
  add({ name: 'RSA leaf under the root', cas: [rootRsa], chain: [d(rsaLeaf)], expect: { ok: true, pathLength: 2 } })
  add({ name: 'RSA leaf plus the anchor itself', cas: [rootRsa], chain: [d(rsaLeaf), d(rootRsa)], expect: { ok: true, pathLength: 2 } })
  const ecLeaf = issueLeaf([['CN', 'ec-leaf']], rootEc, { key: keyPair('ec', 2) })
  add({ name: 'EC leaf under the EC root', cas: [rootEc, rootRsa], chain: [d(ecLeaf)], expect: { ok: true, pathLength: 2 } })
  const p384Leaf = issueLeaf([['CN', 'p384-leaf']], rootRsa, { key: keyPair('ec-p384', 0) })
  add({ name: 'P-384 leaf under the RSA root', cas: [rootRsa], chain: [d(p384Leaf)], expect: { ok: true } })

  const deepLeaf = issueLeaf([['CN', 'deep-leaf']], interB, { key: keyPair('ec', 3) })
  add({ name: 'two intermediates, presented out of order', cas: [rootRsa], chain: [d(deepLeaf), d(interA), d(interB)], expect: { ok: true, pathLength: 4 } })
  add({ name: 'two intermediates in order, root included', cas: [rootRsa], chain: [d(deepLeaf), d(interB), d(interA), d(rootRsa)], expect: { ok: true, pathLength: 4 } })
  add({ name: 'duplicate intermediate', cas: [rootRsa], chain: [d(deepLeaf), d(interB), d(interB), d(interA)], expect: { ok: true } })
  add({ name: 'missing intermediate', cas: [rootRsa], chain: [d(deepLeaf), d(interB)], expect: { ok: false, reason: 'untrusted', certIndex: 1 } })
  add({ name: 'intermediate as anchor', cas: [interB], chain: [d(deepLeaf)], expect: { ok: true, pathLength: 2 } })

  add({ name: 'expired leaf', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'expired']], rootRsa, { notBefore: new Date(now - 30 * DAY), notAfter: new Date(now - DAY) }))], expect: { ok: false, reason: 'expired', certIndex: 0 } })
  add({ name: 'not yet valid leaf', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'future']], rootRsa, { notBefore: new Date(now + DAY), notAfter: new Date(now + 30 * DAY) }))], expect: { ok: false, reason: 'not_yet_valid', certIndex: 0 } })
  const expiredInter = issueCa([['CN', 'Expired Intermediate']], { issuer: rootRsa, key: keyPair('ec', 4), notBefore: new Date(now - 30 * DAY), notAfter: new Date(now - DAY) })
  add({ name: 'expired intermediate', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'under-expired']], expiredInter)), d(expiredInter)], expect: { ok: false, reason: 'expired', certIndex: 1 } })
  const expiredRoot = issueCa([['CN', 'Expired Root']], { key: keyPair('rsa', 4), notBefore: new Date(now - 30 * DAY), notAfter: new Date(now - DAY) })
  add({ name: 'expired trust anchor is not checked', cas: [expiredRoot], chain: [d(issueLeaf([['CN', 'under-expired-root']], expiredRoot))], expect: { ok: true } })

  add({ name: 'untrusted CA', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'foreign']], otherRoot)), d(otherRoot)], expect: { ok: false, reason: 'untrusted', certIndex: 1 } })
  const selfSigned = issue({ subject: [['CN', 'self-signed']], key: keyPair('ec', 5), keyUsage: { bits: [0] } })
  add({ name: 'self-signed leaf, not trusted', cas: [rootRsa], chain: [d(selfSigned)], expect: { ok: false, reason: 'untrusted', certIndex: 0 } })
  add({ name: 'self-signed leaf that is itself trusted', cas: [rootRsa, selfSigned], chain: [d(selfSigned)], expect: { ok: true, pathLength: 1 } })

  const notCa = issue({ subject: [['CN', 'Not A CA']], issuer: rootRsa, key: keyPair('ec', 6), ca: { ca: false }, keyUsage: { bits: [0, 5] } })
  add({ name: 'issuer with cA=false', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'under-not-ca']], notCa)), d(notCa)], expect: { ok: false, reason: 'not_ca', certIndex: 1 } })
  const noBc = issue({ subject: [['CN', 'No Basic Constraints']], issuer: rootRsa, key: keyPair('ec', 7) })
  add({ name: 'issuer without basicConstraints', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'under-no-bc']], noBc)), d(noBc)], expect: { ok: false, reason: 'not_ca', certIndex: 1 } })
  const v1Inter = issue({ subject: [['CN', 'V1 Intermediate']], issuer: rootRsa, key: keyPair('ec', 8), version: 0 })
  add({ name: 'v1 intermediate', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'under-v1']], v1Inter)), d(v1Inter)], expect: { ok: false, reason: 'not_ca', certIndex: 1 } })
  const noCertSign = issueCa([['CN', 'No keyCertSign']], { issuer: rootRsa, key: keyPair('ec', 9), keyUsage: { bits: [0, 6] } })
  add({ name: 'issuer keyUsage without keyCertSign', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'under-no-certsign']], noCertSign)), d(noCertSign)], expect: { ok: false, reason: 'key_usage', certIndex: 1 } })
  const nonCaRoot = issue({ subject: [['CN', 'Non-CA Anchor']], key: keyPair('rsa', 5), ca: { ca: false } })
  add({ name: 'v3 anchor without the CA flag', cas: [nonCaRoot], chain: [d(issueLeaf([['CN', 'under-non-ca-anchor']], nonCaRoot))], expect: { ok: false, reason: 'not_ca', certIndex: -1 } })
  const noCertSignRoot = issueCa([['CN', 'Anchor without keyCertSign']], { key: keyPair('rsa', 8), keyUsage: { bits: [0, 6] } })
  add({ name: 'anchor keyUsage without keyCertSign', cas: [noCertSignRoot], chain: [d(issueLeaf([['CN', 'under-no-certsign-anchor']], noCertSignRoot))], expect: { ok: false, reason: 'key_usage', certIndex: -1 } })
  const v1Root = issue({ subject: [['CN', 'V1 Root']], key: keyPair('rsa', 9), version: 0 })
  add({ name: 'v1 anchor (exempt from the CA check)', cas: [v1Root], chain: [d(issueLeaf([['CN', 'under-v1-root']], v1Root))], expect: { ok: true } })
  const sameKeyAsAnchor = issueLeaf([['CN', 'Root RSA'], ['O', 'Test']], rootRsa, { key: rootRsa.key })
  add({ name: 'leaf with the anchor key but another certificate', cas: [rootRsa], chain: [d(sameKeyAsAnchor)], expect: { ok: true, pathLength: 2 } })

  const pathLen0 = issueCa([['CN', 'PathLen 0']], { issuer: rootRsa, key: keyPair('ec', 10), ca: { ca: true, pathLen: 0 } })
  add({ name: 'pathLen 0 CA issuing a leaf', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'under-pathlen0']], pathLen0)), d(pathLen0)], expect: { ok: true } })
  const belowPathLen0 = issueCa([['CN', 'Below PathLen 0']], { issuer: pathLen0, key: keyPair('ec', 11) })
  add({ name: 'pathLen 0 CA issuing a CA', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'too-deep']], belowPathLen0)), d(belowPathLen0), d(pathLen0)], expect: { ok: false, reason: 'path_too_long', certIndex: 1 } })

  add({ name: 'tampered leaf signature', cas: [rootRsa], chain: [tamperSignature(rsaLeaf)], expect: { ok: false, reason: 'bad_signature', certIndex: 0 } })
  const impostor = issueCa([['O', 'Test'], ['CN', 'Root RSA']], { key: keyPair('rsa', 6) }) // same name, other key
  add({ name: 'issuer name matches but another key signed', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'forged']], impostor))], expect: { ok: false, reason: 'bad_signature', certIndex: 0 } })

  add({ name: 'EKU serverAuth only', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'server-only']], rootRsa, { eku: { oids: [SERVER_AUTH] } }))], expect: { ok: false, reason: 'key_usage', certIndex: 0 } })
  add({ name: 'EKU serverAuth + clientAuth', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'both']], rootRsa, { eku: { oids: [SERVER_AUTH, CLIENT_AUTH] } }))], expect: { ok: true } })
  add({ name: 'EKU anyExtendedKeyUsage', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'any-eku']], rootRsa, { eku: { oids: [ANY_EKU] } }))], expect: { ok: true } })
  add({ name: 'critical EKU clientAuth', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'critical-eku']], rootRsa, { eku: { oids: [CLIENT_AUTH], critical: true } }))], expect: { ok: true } })
  add({ name: 'leaf without KU and EKU', cas: [rootRsa], chain: [d(issue({ subject: [['CN', 'bare']], issuer: rootRsa, key: keyPair('ec', 12) }))], expect: { ok: true } })
  add({ name: 'leaf keyUsage without digitalSignature', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'no-ds']], rootRsa, { keyUsage: { bits: [2], critical: false } }))], expect: { ok: false, reason: 'key_usage', certIndex: 0 } })
  const nsSslServer = { oid: '2.16.840.1.113730.1.1', value: namedBitString([1]) }
  add({ name: 'Netscape cert type without SSL client', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'ns-server']], rootRsa, { extensions: [nsSslServer] }))], expect: { ok: false, reason: 'key_usage', certIndex: 0 } })
  add({ name: 'Netscape cert type SSL client', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'ns-client']], rootRsa, { extensions: [{ oid: '2.16.840.1.113730.1.1', value: namedBitString([0]) }] }))], expect: { ok: true } })

  const unknownExt = { oid: '1.3.6.1.4.1.99999.1', value: octets(Buffer.from('x')) }
  add({ name: 'unknown critical extension in the leaf', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'crit-ext']], rootRsa, { extensions: [{ ...unknownExt, critical: true }] }))], expect: { ok: false, reason: 'critical_extension', certIndex: 0 } })
  add({ name: 'unknown non-critical extension', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'noncrit-ext']], rootRsa, { extensions: [unknownExt] }))], expect: { ok: true } })
  const critInter = issueCa([['CN', 'Critical Ext Intermediate']], { issuer: rootRsa, key: keyPair('ec', 13), extensions: [{ ...unknownExt, critical: true }] })
  add({ name: 'unknown critical extension in an intermediate', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'under-crit']], critInter)), d(critInter)], expect: { ok: false, reason: 'critical_extension', certIndex: 1 } })
  const critSkid = { oid: '2.5.29.14', critical: true, value: octets(Buffer.alloc(20, 3)) }
  add({ name: 'critical subjectKeyIdentifier', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'crit-skid']], rootRsa, { extensions: [critSkid] }))], expect: { ok: false, reason: 'critical_extension', certIndex: 0 } })

  add({ name: 'md5WithRSAEncryption signature', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'md5']], rootRsa, { signatureAlgorithmOid: '1.2.840.113549.1.1.4' }))], expect: { ok: false, reason: 'bad_signature', certIndex: 0 } })
  add({ name: 'RSA 1024 leaf key', cas: [rootRsa], chain: [d(issueLeaf([['CN', 'rsa1024']], rootRsa, { key: keyPair('rsa1024') }))], expect: { ok: true } })

  // issuer name spelled differently (PrintableString, other case, extra spaces) but X500Principal-equal
  const spelledRoot = issueCa(name([[{ oid: '2.5.4.3', value: stringValue('utf8', 'Spelled  Root') }]]), { key: keyPair('rsa', 7) })
  const respelled: Issued = { ...spelledRoot, subjectDer: name([[{ oid: '2.5.4.3', value: stringValue('printable', 'SPELLED ROOT') }]]) }
  add({ name: 'issuer name canonically equal, not byte-equal', cas: [spelledRoot], chain: [d(issueLeaf([['CN', 'respelled']], respelled))], expect: { ok: true } })

  // long chains: 7 intermediates (path length 8)
  const ladder: Issued[] = []
  let top = rootRsa
  for (let i = 0; i < 7; i++) {
    top = issueCa([['CN', `Ladder ${i}`]], { issuer: top, key: keyPair('ec', 20 + i) })
    ladder.push(top)
  }
  const ladderLeaf = issueLeaf([['CN', 'ladder-leaf']], top, { key: keyPair('ec', 30) })
  add({ name: 'seven intermediates in order', cas: [rootRsa], chain: [d(ladderLeaf), ...ladder.slice().reverse().map(d)], expect: { ok: true, pathLength: 9 } })

  // name constraints: enforced by the JDK, refused by the gateway
  const nc = { oid: '2.5.29.30', critical: true, value: seq(tlv(0xa0, seq(tlv(0xa4, name([[{ oid: '2.5.4.10', value: stringValue('utf8', 'Allowed') }]]))))) }
  const ncInter = issueCa([['CN', 'Constrained']], { issuer: rootRsa, key: keyPair('ec', 14), extensions: [nc] })
  add({
    name: 'nameConstraints on an intermediate',
    cas: [rootRsa],
    chain: [d(issueLeaf([['O', 'Allowed'], ['CN', 'inside']], ncInter)), d(ncInter)],
    expect: { ok: false, reason: 'untrusted', certIndex: 1 },
    divergesFromJdk: 'the JDK enforces name constraints (this leaf is inside them); the gateway refuses any',
  })
  return s
}

export function toX509(chain: Buffer[]): X509Certificate[] {
  return chain.map((der) => new X509Certificate(der))
}
