import t from 'tap'
import fc from 'fast-check'
import {
  CodecError,
  StreamReader,
  StreamWriter,
  encodeString,
  releaseForTransportVersion,
  stringByteLength,
  vIntLength,
  V_8_0_0,
  V_7_17_0,
  HANDSHAKE_V9,
  HANDSHAKE_V8,
  HANDSHAKE_LEGACY,
  ADD_CROSS_CLUSTER_API_KEY_SIGNATURE,
  ALLOWED_HANDSHAKE_VERSIONS,
  PING_BYTES,
  PING_SIZE,
  HEADER_SIZE,
  Status,
  DEFLATE_MARKER,
  LZ4_MARKER,
  LZ4_BLOCK_MAGIC,
  compressionSchemeOf,
  encodeFrame,
} from '../../src/codec/index.js'
import { hex, transportVectors } from './vectors.js'

const groups = transportVectors().groups

function codecError(fn: () => unknown): CodecError {
  try {
    fn()
  } catch (e) {
    if (e instanceof CodecError) return e
    throw e
  }
  throw new Error('expected a CodecError')
}

t.test('constants', async (t) => {
  t.equal(HEADER_SIZE, 23)
  t.equal(PING_SIZE, 6)
  t.equal(PING_BYTES.toString('hex'), '4553ffffffff')
  t.same(Status, { RESPONSE: 1, ERROR: 2, COMPRESS: 4, HANDSHAKE: 8 })
  t.equal(V_7_17_0, 7170099)
  t.equal(V_8_0_0, 8000099)
  t.equal(HANDSHAKE_V8, 7170099)
  t.equal(HANDSHAKE_V9, 8800000)
  t.equal(HANDSHAKE_LEGACY, 6080099)
  t.equal(ADD_CROSS_CLUSTER_API_KEY_SIGNATURE, 9191000)
  t.same([...ALLOWED_HANDSHAKE_VERSIONS], [7170099, 8800000])
})

t.test('vInt vectors', async (t) => {
  for (const v of groups.vint) {
    const buf = hex(v)
    if (v.name === 'vint-invalid-fifth-byte') {
      const e = codecError(() => new StreamReader(buf).readVInt())
      t.equal(e.code, 'bad_vint')
      t.equal(e.message, 'Invalid vInt ((ffffff80 & 0x7f) << 28) | 0', v.name)
      continue
    }
    const m = /^vint-(minus-)?(\d+)$/.exec(v.name)
    t.ok(m, `parsable name ${v.name}`)
    const value = (m![1] ? -1 : 1) * Number(m![2])
    const r = new StreamReader(buf)
    t.equal(r.readVInt(), value, `${v.name} decodes`)
    t.equal(r.remaining, 0)
    const w = new StreamWriter(1)
    w.writeVInt(value)
    t.equal(w.toBuffer().toString('hex'), v.hex, `${v.name} encodes`)
    t.equal(vIntLength(value), buf.length, `${v.name} length`)
  }
})

t.test('vInt wraps like a Java int and rejects bad 5th bytes', async (t) => {
  // 5th byte bits beyond 32 are dropped: ff ff ff ff 7f → -1 in Java.
  t.equal(new StreamReader(Buffer.from('ffffffff7f', 'hex')).readVInt(), -1)
  t.equal(new StreamReader(Buffer.from('8080808008', 'hex')).readVInt(), -2147483648)
  const e = codecError(() => new StreamReader(Buffer.from('ffffffff8f', 'hex')).readVInt())
  t.equal(e.message, 'Invalid vInt ((ffffff8f & 0x7f) << 28) | fffffff')
  t.equal(codecError(() => new StreamReader(Buffer.from('8080', 'hex')).readVInt()).code, 'eof')
  t.equal(codecError(() => new StreamReader(Buffer.alloc(0)).readVInt()).code, 'eof')
  t.equal(codecError(() => new StreamReader(Buffer.from('80808080', 'hex')).readVInt()).code, 'eof')
  t.equal(codecError(() => new StreamWriter().writeVInt(2 ** 31)).code, 'bad_argument')
  t.equal(codecError(() => new StreamWriter().writeVInt(1.5)).code, 'bad_argument')
  fc.assert(
    fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (n) => {
      const w = new StreamWriter(1)
      w.writeVInt(n)
      const b = w.toBuffer()
      const r = new StreamReader(b)
      return r.readVInt() === n && r.remaining === 0 && b.length === vIntLength(n)
    }),
    { numRuns: 2000 },
  )
})

t.test('vLong', async (t) => {
  const cases: Array<[bigint, string]> = [
    [0n, '00'],
    [127n, '7f'],
    [128n, '8001'],
    [2n ** 63n - 1n, 'ffffffffffffffff7f'],
  ]
  for (const [v, h] of cases) {
    const w = new StreamWriter(1)
    w.writeVLong(v)
    t.equal(w.toBuffer().toString('hex'), h)
    t.equal(new StreamReader(Buffer.from(h, 'hex')).readVLong(), v)
  }
  // A 10th byte of 01 sets bit 63 (the reader allows it; the writer never produces it).
  t.equal(new StreamReader(Buffer.from('80808080808080808001', 'hex')).readVLong(), -(2n ** 63n))
  const bad = codecError(() => new StreamReader(Buffer.from('80808080808080808002', 'hex')).readVLong())
  t.equal(bad.code, 'bad_vlong')
  t.equal(bad.message, 'Invalid vlong (2 << 63) | 0')
  const neg = codecError(() => new StreamWriter().writeVLong(-1n))
  t.equal(neg.code, 'negative_vlong')
  t.equal(neg.message, 'Negative longs unsupported, use writeLong or writeZLong for negative numbers [-1]')
  t.equal(codecError(() => new StreamWriter().writeVLong(2n ** 63n)).code, 'bad_argument')
  t.equal(codecError(() => new StreamReader(Buffer.from('8080808080', 'hex')).readVLong()).code, 'eof')
  t.equal(codecError(() => new StreamReader(Buffer.from('80', 'hex')).readVLong()).code, 'eof')
  t.equal(codecError(() => new StreamReader(Buffer.from('808080808080808080', 'hex')).readVLong()).code, 'eof')
  const w = new StreamWriter()
  w.writeVLong(300)
  t.equal(w.toBuffer().toString('hex'), 'ac02', 'accepts numbers')
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), (v) => {
      const w = new StreamWriter(1)
      w.writeVLong(v)
      const r = new StreamReader(w.toBuffer())
      return r.readVLong() === v && r.remaining === 0
    }),
    { numRuns: 1000 },
  )
})

t.test('string vectors', async (t) => {
  const expected: Record<string, string> = {
    'string-empty': '',
    'string-ascii-A': 'A',
    'string-ascii-release-9.0.0': '9.0.0',
    'string-ascii-tcp-handshake-action': 'internal:tcp/handshake',
    'string-ascii-UNAUTHORIZED': 'UNAUTHORIZED',
    'string-nul-U+0000': '\u0000',
    'string-U+007F': '\u007f',
    'string-U+0080': '\u0080',
    'string-e-acute-U+00E9': '\u00e9',
    'string-U+07FF': '\u07ff',
    'string-U+0800': '\u0800',
    'string-euro-U+20AC': '\u20ac',
    'string-U+FFFF': '\uffff',
    'string-emoji-U+1F600': '\u{1F600}',
    'string-mixed': 'a\u00e9\u20ac\u{1F600}',
  }
  const invalid: Record<string, string> = {
    'string-invalid-standard-utf8-4-byte': 'Invalid string; unexpected character: 240 hex: f0',
    'string-invalid-continuation-lead': 'Invalid string; unexpected character: 128 hex: 80',
  }
  let seen = 0
  for (const v of groups.strings) {
    const buf = hex(v)
    if (v.name in invalid) {
      const e = codecError(() => new StreamReader(buf).readString())
      t.equal(e.code, 'bad_string')
      t.equal(e.message, invalid[v.name], v.name)
      seen++
      continue
    }
    const s = expected[v.name]
    t.not(s, undefined, `known vector ${v.name}`)
    const r = new StreamReader(buf)
    t.equal(r.readString(), s, `${v.name} decodes`)
    t.equal(r.remaining, 0)
    t.equal(encodeString(s!).toString('hex'), v.hex, `${v.name} encodes`)
    seen++
  }
  t.equal(seen, groups.strings.length)
})

t.test('strings: surrogates, long strings, truncation', async (t) => {
  // Lone surrogates survive (Java strings are UTF-16 code unit sequences).
  for (const s of ['\ud800', '\udfff', 'x\ud83dy', '\ude00\ud83d']) {
    t.equal(new StreamReader(encodeString(s)).readString(), s)
  }
  const long = 'é'.repeat(10000) + 'a'.repeat(5000) + '😀'.repeat(3000)
  t.equal(new StreamReader(encodeString(long)).readString(), long, 'longer than one fromCharCode chunk')
  const ascii = 'a'.repeat(70000)
  t.equal(new StreamReader(encodeString(ascii)).readString(), ascii)
  t.equal(stringByteLength('aé€'), 6)
  // Count larger than the bytes left → eof before decoding (readArraySize sanity check).
  t.equal(codecError(() => new StreamReader(Buffer.from('0541', 'hex')).readString()).code, 'eof')
  // Multi-byte sequences cut short.
  t.equal(codecError(() => new StreamReader(Buffer.from('02c3a9c3', 'hex')).readString()).code, 'eof')
  t.equal(codecError(() => new StreamReader(Buffer.from('02e282ace2', 'hex')).readString()).code, 'eof')
  t.equal(codecError(() => new StreamReader(Buffer.from('02e282ace282', 'hex')).readString()).code, 'eof')
  const neg = codecError(() => new StreamReader(Buffer.from('ffffffff0f', 'hex')).readString())
  t.equal(neg.code, 'negative_array_size')
  t.equal(neg.message, 'array size must be positive but was: -1')
  // Continuation bytes are not validated, exactly like StreamInput (c3 41 → (0x03<<6)|0x01).
  t.equal(new StreamReader(Buffer.from('01c341', 'hex')).readString(), String.fromCharCode(0xc1))
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 50 }), (a, b) => {
      for (const s of [a, b, a + b]) {
        const enc = encodeString(s)
        const r = new StreamReader(enc)
        if (r.readString() !== s || r.remaining !== 0) return false
      }
      return true
    }),
    { numRuns: 1000 },
  )
})

t.test('booleans, ints, longs, optional strings, arrays, byte arrays, skip', async (t) => {
  const w = new StreamWriter(2)
  w.writeBoolean(true)
  w.writeBoolean(false)
  w.writeByte(0x1ff)
  w.writeShort(-2)
  w.writeInt(-5)
  w.writeLong(-1n)
  w.writeLong(2n ** 64n - 2n) // unsigned input: low 64 bits
  w.writeOptionalString(null)
  w.writeOptionalString(undefined)
  w.writeOptionalString('x')
  w.writeStringArray(['a', 'é'])
  w.writeByteArray(Buffer.from('abc'))
  w.writeBytes(Buffer.from([9, 9]))
  w.writeTaskId(null)
  w.writeTaskId({ nodeId: 'node', id: 42n })
  w.writeStringMap({ a: 'b' })
  w.writeStringMap(new Map([['c', 'd']]))
  w.writeMapOfLists(new Map([['k', ['v1', 'v2']]]))
  const buf = w.toBuffer()
  t.equal(w.length, buf.length)
  const r = new StreamReader(buf)
  t.equal(r.readBoolean(), true)
  t.equal(r.readBoolean(), false)
  t.equal(r.readByte(), 0xff)
  t.equal(r.readShort(), -2)
  t.equal(r.readInt(), -5)
  t.equal(r.readLong(), -1n)
  t.equal(r.readLong(), -2n)
  t.equal(r.readOptionalString(), null)
  t.equal(r.readOptionalString(), null)
  t.equal(r.readOptionalString(), 'x')
  t.same(r.readStringArray(), ['a', 'é'])
  const ba = r.readByteArray()
  t.equal(ba.toString(), 'abc')
  t.equal(ba.buffer, buf.buffer, 'readByteArray returns a view')
  r.skip(2)
  t.equal(r.readTaskId(), null)
  t.same(r.readTaskId(), { nodeId: 'node', id: 42n })
  t.same([...r.readStringMap()], [['a', 'b']])
  t.same([...r.readStringMap()], [['c', 'd']])
  t.same([...r.readMapOfLists()], [['k', ['v1', 'v2']]])
  t.equal(r.remaining, 0)
  const eofs: Array<() => unknown> = [
    () => r.readByte(),
    () => r.readBoolean(),
    () => r.readShort(),
    () => r.readInt(),
    () => r.readLong(),
    () => r.skip(1),
    () => r.readString(),
  ]
  for (const f of eofs) {
    const e = codecError(f)
    t.equal(e.code, 'eof')
    t.match(e.message, /^tried to read: \d+ bytes but only 0 remaining$/)
  }
  const b = codecError(() => new StreamReader(Buffer.from([2])).readBoolean())
  t.equal(b.code, 'bad_boolean')
  t.equal(b.message, 'unexpected byte [0x02]')
  t.equal(codecError(() => new StreamReader(Buffer.from([0xff])).readBoolean()).message, 'unexpected byte [0xff]')
  t.equal(codecError(() => new StreamReader(Buffer.alloc(2), 1, 3)).code, 'bad_argument')
  t.equal(codecError(() => new StreamReader(Buffer.alloc(2)).skip(-1)).code, 'bad_argument')
  t.equal(codecError(() => new StreamWriter().writeInt(2 ** 31)).code, 'bad_argument')
  // Reader over a sub-range.
  const sub = new StreamReader(Buffer.from('ff0141ff', 'hex'), 1, 3)
  t.equal(sub.readString(), 'A')
  t.equal(sub.remaining, 0)
})

t.test('writer growth keeps earlier views valid', async (t) => {
  const w = new StreamWriter(1)
  w.writeString('hello')
  const view = w.toBuffer()
  for (let i = 0; i < 1000; i++) w.writeInt(i)
  t.equal(view.toString('latin1'), '\u0005hello')
  t.equal(w.length, 6 + 4000)
})

t.test('transport version vectors', async (t) => {
  for (const v of groups.transport_versions) {
    const id = Number(/^transport-version-(\d+)$/.exec(v.name)![1])
    const b = Buffer.alloc(4)
    b.writeInt32BE(id)
    t.equal(b.toString('hex'), v.hex, v.name)
    t.equal(hex(v).readInt32BE(0), id)
  }
})

t.test('releaseForTransportVersion', async (t) => {
  const cases: Array<[number, string | null]> = [
    [9000009, '9.0.0'],
    [9000012, '9.0.x'],
    [9000016, '9.0.x'],
    [7170099, '7.17.0'],
    [7170699, '7.17.6'],
    [6080099, '6.8.0'],
    [8000099, '8.0.0'],
    [8636001, '8.14.0'],
    [8702002, '8.15.0'],
    [8702003, '8.15.x'],
    [8772001, '8.16.0'],
    [8797002, '8.17.0'],
    [8840002, '8.18.0'],
    [8840009, '8.18.x'],
    [8841000, '8.19.x'],
    [8841064, '8.19.0'],
    [8841068, '8.19.x'],
    [9112003, '9.1.0'],
    [9112007, '9.1.x'],
    [9185000, '9.2.x'],
    [9185020, '9.2.x'],
    [9191000, null],
    [9250003, '9.3.0'],
    [9250005, '9.3.x'],
    [8800000, null],
    [8500061, null],
    [7170098, null],
    [1000099, null],
    [0, null],
    [-1, null],
    [1.5, null],
  ]
  for (const [id, label] of cases) t.equal(releaseForTransportVersion(id), label, String(id))
})

t.test('marker vectors', async (t) => {
  const m = Object.fromEntries(groups.markers.map((v) => [v.name, v.hex]))
  t.equal(Object.keys(m).length, 4)
  t.equal(encodeFrame({ requestId: 1n, status: 1, version: 1 }).subarray(0, 2).toString('hex'), m['marker-es'])
  t.equal(PING_BYTES.subarray(0, 2).toString('hex'), m['marker-es'])
  t.equal(DEFLATE_MARKER.toString('hex'), m['marker-compression-deflate'])
  t.equal(LZ4_MARKER.toString('hex'), m['marker-compression-lz4'])
  t.equal(LZ4_BLOCK_MAGIC.toString('hex'), m['marker-lz4-block-magic'])
  t.equal(compressionSchemeOf(Buffer.from(m['marker-compression-deflate']! + '00ff', 'hex')), 'deflate')
  t.equal(compressionSchemeOf(Buffer.from(m['marker-compression-lz4']! + m['marker-lz4-block-magic']!, 'hex')), 'lz4')
  t.equal(compressionSchemeOf(Buffer.from('4c5a3401', 'hex')), 'unknown')
  t.equal(compressionSchemeOf(Buffer.from('4c5a34', 'hex')), null)
})
