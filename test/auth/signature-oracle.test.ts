/**
 * SHA256withRSA / SHA256withECDSA round trips with the JDK in ONE JVM run
 * (test/auth/java/SigOracle.java): Java signs with PKCS#8 keys we generated and we verify; we sign
 * with node:crypto and Java verifies (Signature.initVerify(certificate)). Malformed signatures
 * must be classified alike: Java's `false` is our `false`, Java's exception is our
 * SignatureVerifyError (Elasticsearch words the two outcomes differently, spec §3.2).
 */
import t from 'tap'
import { sign } from 'node:crypto'
import { SignatureVerifyError, signablePayload, verifyPayloadSignature } from '../../src/auth/signature.js'
import { issue, keyPair, pkcs8Der, type Issued, type KeyKind } from './helpers/certs.js'
import { preferredJdk, runSigOracle } from './helpers/java.js'

const jdk = preferredJdk()

type Outcome = 'true' | 'false' | 'error'

function ours(cert: Issued, alg: string, payload: Buffer, sig: Buffer): Outcome {
  try {
    return verifyPayloadSignature(cert.cert, alg, payload, sig) ? 'true' : 'false'
  } catch (err) {
    if (err instanceof SignatureVerifyError) return 'error'
    throw err
  }
}

t.test('signature round trip with the JDK', { skip: jdk === null ? 'no java found: JDK oracle skipped' : false }, async (t) => {
  const signers: { kind: KeyKind; alg: string; keyAlg: string; cert: Issued }[] = (
    [
      ['rsa', 'SHA256withRSA', 'RSA'],
      ['ec', 'SHA256withECDSA', 'EC'],
      ['ec-p384', 'SHA256withECDSA', 'EC'],
    ] as const
  ).map(([kind, alg, keyAlg]) => ({ kind, alg, keyAlg, cert: issue({ subject: [['CN', `signer-${kind}`]], key: keyPair(kind) }) }))
  const payloads = [
    signablePayload('c3ViamVjdC1pbmZv', 'ApiKey aWQ6c2VjcmV0'),
    signablePayload('', ''),
    signablePayload('ünïcödé 😀', 'apikey x'),
    Buffer.alloc(100_000, 0x61),
  ]

  const requests: string[][] = []
  const ourSigs = new Map<string, { signer: (typeof signers)[number]; payload: Buffer; sig: Buffer }>()
  signers.forEach((s, si) => {
    payloads.forEach((payload, pi) => {
      requests.push(['sign', `js-${si}-${pi}`, s.alg, pkcs8Der(s.cert.key).toString('base64'), s.keyAlg, payload.toString('base64')])
      const sig = sign('sha256', payload, s.cert.key.privateKey)
      ourSigs.set(`nv-${si}-${pi}`, { signer: s, payload, sig })
      const other = Buffer.concat([payload, Buffer.from('!')])
      ourSigs.set(`nx-${si}-${pi}`, { signer: s, payload: other, sig }) // wrong payload → false
    })
  })
  // malformed signatures and wrong keys: same classification on both sides
  const rsa = signers[0]!
  const ec = signers[1]!
  const p0 = payloads[0]!
  const rsaSig = sign('sha256', p0, rsa.cert.key.privateKey)
  const ecSig = sign('sha256', p0, ec.cert.key.privateKey)
  const malformed: [string, (typeof signers)[number], string, Buffer][] = [
    ['rsa-short', rsa, rsa.alg, rsaSig.subarray(1)],
    ['rsa-long', rsa, rsa.alg, Buffer.concat([rsaSig, Buffer.from([0])])],
    ['rsa-zero', rsa, rsa.alg, Buffer.alloc(rsaSig.length)],
    ['rsa-ff', rsa, rsa.alg, Buffer.alloc(rsaSig.length, 0xff)],
    ['rsa-empty', rsa, rsa.alg, Buffer.alloc(0)],
    ['ec-p1363', ec, ec.alg, Buffer.alloc(64, 1)],
    ['ec-trailing', ec, ec.alg, Buffer.concat([ecSig, Buffer.from([0])])],
    ['ec-zero-rs', ec, ec.alg, Buffer.from('3006020100020100', 'hex')],
    ['ec-padded-int', ec, ec.alg, Buffer.from('30080202000102020001', 'hex')],
    ['ec-negative-int', ec, ec.alg, Buffer.from('300602018102018f', 'hex')],
    ['ec-empty', ec, ec.alg, Buffer.alloc(0)],
    ['ec-three-ints', ec, ec.alg, Buffer.from('3009020101020101020101', 'hex')],
    ['ec-long-form-len', ec, ec.alg, Buffer.from('30810602010102010102', 'hex').subarray(0, 9)],
    ['ec-key-rsa-alg', ec, 'SHA256withRSA', rsaSig],
    ['rsa-key-ec-alg', rsa, 'SHA256withECDSA', ecSig],
  ]
  const noDs = issue({ subject: [['CN', 'no-digital-signature']], key: keyPair('rsa', 1), keyUsage: { bits: [2, 5], critical: true } })
  const noDsSig = sign('sha256', p0, noDs.key.privateKey)
  for (const [id, s, alg, sig] of malformed) requests.push(['verify', `m-${id}`, alg, s.cert.der.toString('base64'), p0.toString('base64'), sig.toString('base64')])
  requests.push(['verify', 'm-critical-ku', 'SHA256withRSA', noDs.der.toString('base64'), p0.toString('base64'), noDsSig.toString('base64')])
  for (const [id, { signer, payload, sig }] of ourSigs) {
    requests.push(['verify', id, signer.alg, signer.cert.der.toString('base64'), payload.toString('base64'), sig.toString('base64')])
  }

  const { version, answers } = runSigOracle(jdk!, requests)
  t.comment(`oracle: ${jdk!.label}, java.runtime.version ${version}`)

  // Java signs → we verify (and a different payload does not verify)
  signers.forEach((s, si) => {
    payloads.forEach((payload, pi) => {
      const a = answers.get(`js-${si}-${pi}`)
      t.ok(a?.ok, `Java signed with ${s.kind} payload ${pi}`)
      if (a === undefined || !a.ok) return
      const sig = Buffer.from(a.fields[0]!, 'base64')
      t.equal(verifyPayloadSignature(s.cert.cert, s.alg, payload, sig), true, `we verify Java's ${s.alg} (${s.kind}) over payload ${pi}`)
      t.equal(verifyPayloadSignature(s.cert.cert, s.alg, Buffer.concat([payload, Buffer.from('x')]), sig), false, `…not over another payload`)
    })
  })
  // we sign → Java verifies
  for (const [id, { signer, payload, sig }] of ourSigs) {
    const a = answers.get(id)
    const expected = id.startsWith('nv-') ? 'true' : 'false'
    t.same([a?.ok, a?.fields[0]], [true, expected], `Java verifies our ${signer.alg} (${signer.kind}) ${id}: ${expected}`)
    t.equal(ours(signer.cert, signer.alg, payload, sig), expected)
  }
  // classification of malformed input
  for (const [id, s, alg, sig] of [...malformed, ['critical-ku', { cert: noDs }, 'SHA256withRSA', noDsSig] as const]) {
    const a = answers.get(`m-${id}`)
    const java: Outcome | undefined = a === undefined ? undefined : a.ok ? (a.fields[0] as Outcome) : 'error'
    t.equal(ours(s.cert, alg, p0, sig), java, `${id}: Java says ${java ?? 'nothing'}${a !== undefined && !a.ok ? ` (${a.error.split(' | ')[0]})` : ''}`)
  }
})
