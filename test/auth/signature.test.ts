import t from 'tap'
import fc from 'fast-check'
import { X509Certificate, sign } from 'node:crypto'
import {
  SignatureDecodeError,
  SignatureVerifyError,
  decodeSignatureHeader,
  encodeSignatureHeader,
  signablePayload,
  verifyPayloadSignature,
} from '../../src/auth/signature.js'
import { TrustStore, verifyChain } from '../../src/auth/chain.js'
import { encodeBase64 } from '../../src/auth/base64.js'
import { readVectors } from './helpers/paths.js'
import { issue, keyPair } from './helpers/certs.js'

interface SigVector {
  id: string
  kind: 'signed' | 'negative'
  algorithm: string
  subject_info_header: string
  credentials_header: string
  payload: string
  signature_b64: string
  cert_pem: string
  verified: boolean
}

const vectors = readVectors<{ java_version: string; ca_cert_pem: string; vectors: SigVector[] }>('jdk-signatures.json')
const NOW = new Date('2027-01-01T00:00:00Z') // inside the vectors' validity (2026-11-28 .. 2051)

t.test('jdk-signatures.json', async (t) => {
  t.comment(`vectors produced by ${vectors.java_version}`)
  t.equal(vectors.vectors.length, 4)
  const trust = new TrustStore([vectors.ca_cert_pem])
  for (const v of vectors.vectors) {
    const cert = new X509Certificate(v.cert_pem)
    const payload = signablePayload(v.subject_info_header, v.credentials_header)
    t.equal(payload.toString('utf8'), v.payload, `${v.id}: signable payload`)
    const sig = Buffer.from(v.signature_b64, 'base64')
    t.equal(verifyPayloadSignature(cert, v.algorithm, payload, sig), v.verified, `${v.id}: verified=${v.verified}`)

    // the header a querying cluster would send for this signature, through our codec
    const header = encodeSignatureHeader({ transportVersion: 9191000, certificates: [cert.raw, trust.anchors[0]!.raw], algorithm: v.algorithm, signature: sig })
    const decoded = decodeSignatureHeader(header)
    t.equal(decoded.transportVersion, 9191000)
    t.equal(decoded.algorithm, v.algorithm)
    t.same(decoded.signature, sig)
    t.same(decoded.certificates[0], cert.raw)
    t.equal(decoded.x509[0]!.fingerprint256, cert.fingerprint256)
    const chain = verifyChain(decoded.x509, trust, NOW)
    t.ok(chain.ok, `${v.id}: chain to the vector CA verifies`)
    if (chain.ok) t.equal(chain.path.length, 2, 'leaf + anchor (the anchor copy in the chain is not duplicated)')
    t.equal(verifyPayloadSignature(decoded.x509[0]!, decoded.algorithm, payload, decoded.signature), v.verified)
  }
})

t.test('header codec', async (t) => {
  const leaf = issue({ subject: [['CN', 'codec']], key: keyPair('ec') })
  const fields = { transportVersion: 9191000, certificates: [leaf.der], algorithm: 'SHA256withECDSA', signature: Buffer.from([1, 2, 3]) }
  const header = encodeSignatureHeader(fields)
  const raw = Buffer.from(header, 'base64')
  t.same(raw.subarray(0, 5), Buffer.from([0xd8, 0xfc, 0xb0, 0x04, 0x01]), 'vInt 9191000 takes 4 bytes, then N=1')
  t.same(Buffer.from(encodeSignatureHeader({ ...fields, transportVersion: 8060099 }), 'base64').subarray(0, 4), Buffer.from('c3f9eb03', 'hex'), 'transport-protocol.md §2 vInt example')
  const d = decodeSignatureHeader(header)
  t.same({ ...d, x509: undefined, certificates: d.certificates.map((c) => c.toString('hex')) }, { ...fields, x509: undefined, certificates: [leaf.der.toString('hex')], signature: Buffer.from([1, 2, 3]) })
  // exotic but valid: negative version (5-byte vInt), non-ASCII algorithm name (2- and 3-byte units), empty signature
  const odd = decodeSignatureHeader(encodeSignatureHeader({ transportVersion: -1, certificates: [leaf.der], algorithm: 'é€😀', signature: Buffer.alloc(0) }))
  t.equal(odd.transportVersion, -1)
  t.equal(odd.algorithm, 'é€😀')
  t.equal(odd.signature.length, 0)
  t.same(Buffer.from(encodeSignatureHeader({ transportVersion: -1, certificates: [], algorithm: '', signature: Buffer.alloc(0) }), 'base64'), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0]))
})

t.test('decode errors', async (t) => {
  const leaf = issue({ subject: [['CN', 'errors']], key: keyPair('ec') })
  const b = (bytes: number[] | Buffer): string => encodeBase64(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes))
  const good = Buffer.from(encodeSignatureHeader({ transportVersion: 1, certificates: [leaf.der], algorithm: 'SHA256withECDSA', signature: Buffer.from([9]) }), 'base64')
  const cases: [string, string, string][] = [
    ['not base64!', 'bad_base64', 'bad base64'],
    [b(good) + '=', 'bad_base64', 'bad padding'],
    [b([]), 'truncated', 'empty'],
    [b([0x80]), 'truncated', 'vInt cut'],
    [b([0x80, 0x80, 0x80, 0x80, 0x80]), 'malformed', 'vInt 5th byte with high bit'],
    [b([1, 0xff, 0xff, 0xff, 0xff, 0x0f]), 'malformed', 'negative certificate count'],
    [b([1, 5]), 'truncated', 'count larger than the bytes left'],
    [b([1, 1, 0, 0, 0]), 'empty_certificate', 'zero-length certificate'],
    [b([1, 1, 2, 0x30, 0x00, 0, 0]), 'bad_certificate', 'not a certificate'],
    [b(Buffer.concat([Buffer.from([1, 1, 0xc8, 0x01]), Buffer.alloc(130)])), 'truncated', 'certificate cut'],
    [b(Buffer.concat([good.subarray(0, good.length - 2)])), 'truncated', 'signature cut'],
    [b(Buffer.concat([good, Buffer.from([0])])), 'trailing_bytes', 'bytes after the signature'],
    [b([1, 0, 1, 0xf0, 0]), 'malformed', 'string with a 4-byte UTF-8 lead'],
    [b([1, 0, 5, 0x41]), 'truncated', 'string longer than the input'],
    [b([1, 0, 0, 0]), 'no_certificates', 'zero certificates'],
  ]
  for (const [header, reason, label] of cases) {
    t.throws(() => decodeSignatureHeader(header), { name: 'SignatureDecodeError', reason }, label)
  }
  t.equal(decodeSignatureHeader(b(Buffer.concat([good, Buffer.from([0])])), { allowTrailingBytes: true }).signature.length, 1, 'Elasticsearch ignores trailing bytes')
  t.equal(decodeSignatureHeader(b([1, 0, 0, 0]), { allowEmptyChain: true }).certificates.length, 0)
  const withPemText = Buffer.concat([Buffer.from([1, 1]), Buffer.from([leaf.pem.length & 0x7f | 0x80, leaf.pem.length >> 7]), Buffer.from(leaf.pem), Buffer.from([0, 0])])
  t.throws(() => decodeSignatureHeader(b(withPemText)), { name: 'SignatureDecodeError', reason: 'bad_certificate' }, 'PEM text instead of DER')
})

t.test('fast-check: decodeSignatureHeader throws nothing but SignatureDecodeError', async (t) => {
  const leaf = issue({ subject: [['CN', 'fuzz']], key: keyPair('ec') })
  const good = Buffer.from(encodeSignatureHeader({ transportVersion: 9191000, certificates: [leaf.der], algorithm: 'SHA256withECDSA', signature: Buffer.alloc(70, 1) }), 'base64')
  const attempt = (header: string): boolean => {
    try {
      decodeSignatureHeader(header)
      return true
    } catch (err) {
      if (err instanceof SignatureDecodeError) return true
      throw err
    }
  }
  fc.assert(fc.property(fc.string({ maxLength: 80 }), attempt), { numRuns: 1000 })
  fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (a) => attempt(encodeBase64(a))), { numRuns: 1500 })
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }), fc.nat(good.length), (edits, cut) => {
      const m = Buffer.from(good)
      for (const [pos, byte] of edits) m[pos] = byte
      return attempt(encodeBase64(m)) && attempt(encodeBase64(m.subarray(0, cut)))
    }),
    { numRuns: 1000 },
  )
  t.pass('no foreign exception escaped')
})

t.test('verifyPayloadSignature: what Java rejects with an exception', async (t) => {
  const rsa = issue({ subject: [['CN', 'rsa']], key: keyPair('rsa') })
  const ec = issue({ subject: [['CN', 'ec']], key: keyPair('ec') })
  const payload = signablePayload('c3ViamVjdA==', 'ApiKey eA==')
  const rsaSig = sign('sha256', payload, rsa.key.privateKey)
  const ecSig = sign('sha256', payload, ec.key.privateKey)
  t.equal(verifyPayloadSignature(rsa.cert, 'SHA256withRSA', payload, rsaSig), true)
  t.equal(verifyPayloadSignature(ec.cert, 'SHA256withECDSA', payload, ecSig), true)
  t.equal(verifyPayloadSignature(rsa.cert, 'SHA256withRSA', Buffer.concat([payload, Buffer.from('x')]), rsaSig), false)
  const flipped = Buffer.from(rsaSig)
  flipped[10]! ^= 1
  t.equal(verifyPayloadSignature(rsa.cert, 'SHA256withRSA', payload, flipped), false)
  const verr = (reason: string): { name: string; reason: string } => ({ name: 'SignatureVerifyError', reason })
  t.throws(() => verifyPayloadSignature(rsa.cert, 'SHA512withRSA', payload, rsaSig), verr('unsupported_algorithm'))
  t.throws(() => verifyPayloadSignature(rsa.cert, 'sha256withrsa', payload, rsaSig), verr('unsupported_algorithm'))
  t.throws(() => verifyPayloadSignature(ec.cert, 'SHA256withRSA', payload, rsaSig), verr('key_mismatch'))
  t.throws(() => verifyPayloadSignature(rsa.cert, 'SHA256withECDSA', payload, ecSig), verr('key_mismatch'))
  t.throws(() => verifyPayloadSignature(rsa.cert, 'SHA256withRSA', payload, rsaSig.subarray(1)), verr('malformed_signature'))
  t.throws(() => verifyPayloadSignature(ec.cert, 'SHA256withECDSA', payload, Buffer.alloc(64, 1)), verr('malformed_signature'), 'raw r||s is not DER')
  t.throws(() => verifyPayloadSignature(ec.cert, 'SHA256withECDSA', payload, Buffer.concat([ecSig, Buffer.from([0])])), verr('malformed_signature'))
  t.throws(() => verifyPayloadSignature(ec.cert, 'SHA256withECDSA', payload, Buffer.from('3006020100020100', 'hex').subarray(0, 7)), verr('malformed_signature'))
  t.throws(() => verifyPayloadSignature(ec.cert, 'SHA256withECDSA', payload, Buffer.from('30070202000102010', 'hex')), verr('malformed_signature'))
  t.equal(verifyPayloadSignature(ec.cert, 'SHA256withECDSA', payload, Buffer.from('3006020100020100', 'hex')), false, 'r = s = 0 is well-formed and false')
  const noSign = issue({ subject: [['CN', 'no-ds']], key: keyPair('rsa'), keyUsage: { bits: [2], critical: true } })
  t.throws(() => verifyPayloadSignature(noSign.cert, 'SHA256withRSA', payload, sign('sha256', payload, noSign.key.privateKey)), verr('key_usage'))
  const nonCritical = issue({ subject: [['CN', 'no-ds-nc']], key: keyPair('rsa'), keyUsage: { bits: [2], critical: false } })
  t.equal(verifyPayloadSignature(nonCritical.cert, 'SHA256withRSA', payload, sign('sha256', payload, nonCritical.key.privateKey)), true, 'only a critical keyUsage matters to initVerify')
  const dupExt = issue({ subject: [['CN', 'dup-ext']], key: keyPair('rsa'), extensions: [{ oid: '1.2.3', value: Buffer.from([5, 0]) }, { oid: '1.2.3', value: Buffer.from([5, 0]) }] })
  t.throws(() => verifyPayloadSignature(dupExt.cert, 'SHA256withRSA', payload, rsaSig), verr('bad_certificate'), 'duplicate extensions: the JDK would not load it')
  t.type(new SignatureVerifyError('key_usage', 'x'), Error)
})
