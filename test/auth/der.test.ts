import t from 'tap'
import fc from 'fast-check'
import {
  DerError,
  bitIsSet,
  children,
  decodeBitString,
  decodeBoolean,
  decodeInteger,
  decodeOid,
  decodeTime,
  encodeOid,
  parseCertificate,
  readSingle,
  readTlv,
  sequenceItems,
  setItems,
} from '../../src/auth/der.js'
import { integer, seq, set, tlv, oid } from './helpers/asn1.js'
import { issue, keyPair } from './helpers/certs.js'
import { readVectors } from './helpers/paths.js'
import { X509Certificate } from 'node:crypto'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s/g, ''), 'hex')

t.test('readTlv: header fields and views', async (t) => {
  const buf = hex('30 06 02 01 05 a3 01 00 ff')
  const outer = readTlv(buf, 0)
  t.match(outer, { tag: 0x10, constructed: true, tagClass: 'universal', identifier: 0x30, headerLength: 2, length: 6, end: 8, start: 0 })
  t.same(outer.raw, buf.subarray(0, 8))
  const [int, ctx] = children(outer)
  t.match(int, { tag: 2, constructed: false, length: 1 })
  t.same(int!.value, Buffer.from([5]))
  t.match(ctx, { tag: 3, tagClass: 'context', constructed: true, identifier: 0xa3 })
  t.match(readTlv(hex('40 00')), { tagClass: 'application' })
  t.match(readTlv(hex('c1 00')), { tagClass: 'private', tag: 1 })
  const long = Buffer.concat([hex('04 81 80'), Buffer.alloc(128, 7)])
  t.match(readTlv(long), { headerLength: 3, length: 128 })
  const longer = Buffer.concat([hex('04 82 01 00'), Buffer.alloc(256)])
  t.match(readSingle(longer), { headerLength: 4, length: 256 })
})

t.test('readTlv rejects non-DER and truncation with DerError', async (t) => {
  const cases: [string, string, string][] = [
    ['', 'truncated', 'empty input'],
    ['30', 'truncated', 'missing length'],
    ['30 80 00 00', 'indefinite_length', 'indefinite length'],
    ['04 81 05 0102030405', 'non_minimal_length', 'long form for a short length'],
    ['04 82 00 80', 'non_minimal_length', 'leading zero length octet'],
    ['04 85 01 00 00 00 00', 'length_too_large', 'five length octets'],
    ['04 82 01', 'truncated', 'truncated length octets'],
    ['04 05 0102', 'truncated', 'truncated contents'],
    ['1f 01 00', 'high_tag_number', 'multi-octet tag'],
  ]
  for (const [input, reason, label] of cases) {
    t.throws(() => readTlv(hex(input)), { name: 'DerError', reason }, label)
  }
  t.throws(() => readTlv(hex('0500'), 2), { name: 'DerError', reason: 'truncated' }, 'offset past the end')
  t.throws(() => readSingle(hex('0500 00')), { name: 'DerError', reason: 'trailing_bytes' })
  t.throws(() => children(readSingle(hex('0400'))), { name: 'DerError', reason: 'unexpected_tag' }, 'primitive has no children')
  t.throws(() => sequenceItems(readSingle(set())), { name: 'DerError', reason: 'unexpected_tag' })
  t.throws(() => setItems(readSingle(seq())), { name: 'DerError', reason: 'unexpected_tag' })
  t.throws(() => children(readSingle(hex('30 03 02 05 00'))), { name: 'DerError', reason: 'truncated' }, 'child overruns its parent')
})

t.test('OIDs', async (t) => {
  const known: [string, string][] = [
    ['550403', '2.5.4.3'],
    ['2a864886f70d010901', '1.2.840.113549.1.9.1'],
    ['0992268993f22c640119', '0.9.2342.19200300.100.1.25'],
    ['8837', '2.999'],
    ['00', '0.0'],
    ['28', '1.0'],
  ]
  for (const [h, dotted] of known) {
    t.equal(decodeOid(hex(h)), dotted)
    t.equal(encodeOid(dotted).toString('hex'), h)
  }
  for (const [bad, label] of [['', 'empty'], ['55 04 83', 'unterminated'], ['80 01', 'leading 0x80'], ['55 80 03', 'leading 0x80 inside']] as const) {
    t.throws(() => decodeOid(hex(bad)), { name: 'DerError', reason: 'bad_oid' }, label)
  }
  t.throws(() => decodeOid(Buffer.alloc(4097, 1)), { name: 'DerError', reason: 'bad_oid' }, 'too long')
  t.throws(() => encodeOid('1'), { name: 'DerError', reason: 'bad_oid' })
  t.throws(() => encodeOid('1.40'), { name: 'DerError', reason: 'bad_oid' })
  t.throws(() => encodeOid('3.1'), { name: 'DerError', reason: 'bad_oid' })
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 39 }), fc.array(fc.bigInt({ min: 0n, max: 1n << 70n }), { maxLength: 6 }), (a, b, rest) => {
      const dotted = [a, b, ...rest].join('.')
      return decodeOid(encodeOid(dotted)) === dotted
    }),
    { numRuns: 300 },
  )
})

t.test('INTEGER, BOOLEAN, BIT STRING, time', async (t) => {
  t.equal(decodeInteger(hex('00')), 0n)
  t.equal(decodeInteger(hex('7f')), 127n)
  t.equal(decodeInteger(hex('0080')), 128n)
  t.equal(decodeInteger(hex('ff')), -1n)
  t.equal(decodeInteger(hex('ff7f')), -129n)
  t.throws(() => decodeInteger(Buffer.alloc(0)), { name: 'DerError', reason: 'bad_integer' })
  t.throws(() => decodeInteger(hex('0001')), { name: 'DerError', reason: 'bad_integer' })
  t.throws(() => decodeInteger(hex('ff80')), { name: 'DerError', reason: 'bad_integer' })
  t.equal(decodeInteger(integer(123456789n).subarray(2)), 123456789n)
  t.equal(decodeBoolean(hex('ff')), true)
  t.equal(decodeBoolean(hex('00')), false)
  t.throws(() => decodeBoolean(hex('01')), { name: 'DerError', reason: 'bad_boolean' })
  t.throws(() => decodeBoolean(hex('0000')), { name: 'DerError', reason: 'bad_boolean' })
  const ku = decodeBitString(hex('05 a0'))
  t.ok(bitIsSet(ku, 0))
  t.notOk(bitIsSet(ku, 1))
  t.ok(bitIsSet(ku, 2))
  t.notOk(bitIsSet(ku, 3), 'unused bits are never set')
  t.notOk(bitIsSet(ku, 40))
  t.notOk(bitIsSet(ku, -1))
  t.same(decodeBitString(hex('00')).bytes.length, 0)
  t.throws(() => decodeBitString(Buffer.alloc(0)), { name: 'DerError', reason: 'bad_bit_string' })
  t.throws(() => decodeBitString(hex('08 00')), { name: 'DerError', reason: 'bad_bit_string' })
  t.throws(() => decodeBitString(hex('01')), { name: 'DerError', reason: 'bad_bit_string' })
  t.throws(() => decodeBitString(hex('01 01')), { name: 'DerError', reason: 'bad_bit_string' }, 'non-zero unused bits')
  const utc = (s: string): Buffer => tlv(0x17, Buffer.from(s))
  const gen = (s: string): Buffer => tlv(0x18, Buffer.from(s))
  t.equal(decodeTime(readSingle(utc('491231235959Z'))).toISOString(), '2049-12-31T23:59:59.000Z')
  t.equal(decodeTime(readSingle(utc('500101000000Z'))).toISOString(), '1950-01-01T00:00:00.000Z')
  t.equal(decodeTime(readSingle(gen('20540415043545Z'))).toISOString(), '2054-04-15T04:35:45.000Z')
  for (const bad of [utc('4912312359Z'), utc('491331000000Z'), utc('490230000000Z'), gen('2054041504354Z'), utc('490101000000+0100'), tlv(0x04, Buffer.from('x'))]) {
    t.throws(() => decodeTime(readSingle(bad)), DerError)
  }
})

t.test('parseCertificate', async (t) => {
  const vectors = readVectors<{ ca_cert_pem: string }>('jdk-dn.json')
  const ca = new X509Certificate(vectors.ca_cert_pem)
  const cs = parseCertificate(ca.raw)
  t.equal(cs.version, 2)
  t.equal(cs.notBefore.toISOString(), new Date(ca.validFrom).toISOString())
  t.equal(cs.notAfter.toISOString(), new Date(ca.validTo).toISOString())
  t.equal(cs.notAfter.getUTCFullYear(), 2054, 'GeneralizedTime after 2049')
  t.ok(cs.extensions !== null)
  t.same(cs.subjectPublicKeyInfo.raw, ca.publicKey.export({ type: 'spki', format: 'der' }))
  const v1 = issue({ subject: [['CN', 'v1']], version: 0, key: keyPair('ec') })
  const p1 = parseCertificate(v1.der)
  t.equal(p1.version, 0)
  t.equal(p1.extensions, null)
  t.throws(() => parseCertificate(seq(seq(), seq())), { name: 'DerError' })
  t.throws(() => parseCertificate(seq(seq(integer(1)), seq(oid('1.2.3')), tlv(0x03, Buffer.from([0])))), { name: 'DerError', reason: 'truncated' })
  t.throws(() => parseCertificate(Buffer.concat([v1.der, Buffer.from([0])])), { name: 'DerError', reason: 'trailing_bytes' })
})

t.test('fast-check: the reader throws nothing but DerError', async (t) => {
  const exercise = (buf: Buffer): void => {
    try {
      const walk = (tlvBuf: Buffer): void => {
        const top = readSingle(tlvBuf)
        if (top.constructed) for (const c of children(top)) walk(c.raw)
        else if (top.identifier === 0x06) decodeOid(top.value)
        else if (top.identifier === 0x02) decodeInteger(top.value)
        else if (top.identifier === 0x01) decodeBoolean(top.value)
        else if (top.identifier === 0x03) decodeBitString(top.value)
        else if (top.identifier === 0x17 || top.identifier === 0x18) decodeTime(top)
      }
      walk(buf)
      parseCertificate(buf)
    } catch (err) {
      if (!(err instanceof DerError)) throw err
    }
  }
  const sample = issue({ subject: [['CN', 'fuzz']], key: keyPair('ec') }).der
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (a) => exercise(Buffer.from(a))), { numRuns: 2000 })
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(sample.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(sample.length), (edits, cut) => {
      const mutated = Buffer.from(sample)
      for (const [pos, byte] of edits) mutated[pos] = byte
      exercise(mutated)
      exercise(mutated.subarray(0, cut))
    }),
    { numRuns: 1500 },
  )
  t.pass('no foreign exception escaped')
})
