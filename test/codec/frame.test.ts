import t from 'tap'
import {
  CodecError,
  HANDSHAKE_LEGACY,
  HANDSHAKE_V8,
  HANDSHAKE_V9,
  Status,
  StreamWriter,
  TCP_HANDSHAKE_ACTION,
  encodeFrame,
  encodeFrameHeader,
  encodePing,
  encodeTcpHandshakeRequest,
  encodeTcpHandshakeResponse,
  parseTcpHandshakeRequestBody,
  parseTcpHandshakeResponseBody,
  parseVariableHeader,
  writeVariableHeader,
  PING_BYTES,
} from '../../src/codec/index.js'
import { hex, vector } from './vectors.js'
import { decodeAll } from './util.js'

function codecError(fn: () => unknown): CodecError {
  try {
    fn()
  } catch (e) {
    if (e instanceof CodecError) return e
    throw e
  }
  throw new Error('expected a CodecError')
}

t.test('handshake vectors: encode byte for byte', async (t) => {
  t.equal(
    encodeTcpHandshakeRequest({ requestId: 1n, handshakeVersion: HANDSHAKE_V8, transportVersion: 8060099 }).toString('hex'),
    vector('handshake', 'tcp-handshake-request-v7170099').hex,
  )
  t.equal(
    encodeTcpHandshakeResponse({ requestId: 1n, handshakeVersion: HANDSHAKE_V8, transportVersion: 8060099 }).toString('hex'),
    vector('handshake', 'tcp-handshake-response-v7170099').hex,
  )
  t.equal(
    encodeTcpHandshakeRequest({ requestId: 1n, handshakeVersion: HANDSHAKE_V9, transportVersion: 8833000, releaseVersion: '9.0.0' }).toString('hex'),
    vector('handshake', 'tcp-handshake-request-v8800000').hex,
  )
  t.equal(
    encodeTcpHandshakeResponse({ requestId: 1n, handshakeVersion: HANDSHAKE_V9, transportVersion: 8833000, releaseVersion: '9.0.0' }).toString('hex'),
    vector('handshake', 'tcp-handshake-response-v8800000').hex,
  )
  t.equal(
    encodeTcpHandshakeRequest({ requestId: 1n, handshakeVersion: HANDSHAKE_LEGACY, transportVersion: 7170699 }).toString('hex'),
    vector('handshake', 'tcp-handshake-request-v6080099-legacy').hex,
  )
  t.equal(
    encodeTcpHandshakeResponse({ requestId: 1n, handshakeVersion: HANDSHAKE_LEGACY, transportVersion: 8060099 }).toString('hex'),
    vector('handshake', 'tcp-handshake-response-v6080099-legacy').hex,
  )
})

t.test('handshake vectors: decode headers and bodies', async (t) => {
  const cases = [
    { name: 'tcp-handshake-request-v7170099', hv: HANDSHAKE_V8, request: true, varSize: 0x1a, tv: 8060099, release: null },
    { name: 'tcp-handshake-response-v7170099', hv: HANDSHAKE_V8, request: false, varSize: 2, tv: 8060099, release: null },
    { name: 'tcp-handshake-request-v8800000', hv: HANDSHAKE_V9, request: true, varSize: 0x19, tv: 8833000, release: '9.0.0' },
    { name: 'tcp-handshake-response-v8800000', hv: HANDSHAKE_V9, request: false, varSize: 2, tv: 8833000, release: '9.0.0' },
  ]
  for (const c of cases) {
    const bytes = hex(vector('handshake', c.name))
    const r = decodeAll([bytes])
    t.equal(r.error, null, c.name)
    t.equal(r.frames.length, 1)
    const f = r.frames[0]!
    t.equal(f.h.requestId, 1n)
    t.equal(f.h.version, c.hv)
    t.equal(f.h.isHandshake, true)
    t.equal(f.h.isRequest, c.request)
    t.equal(f.h.varHeaderSize, c.varSize)
    t.equal(f.h.messageLength, bytes.length - 6)
    t.equal(f.raw.length, 23 + c.varSize)
    t.equal(f.h.variable!.action, c.request ? TCP_HANDSHAKE_ACTION : null)
    t.same(f.h.variable!.features, c.request && c.hv === HANDSHAKE_V8 ? [] : null)
    t.equal(f.h.variable!.requestHeaders.size, 0)
    t.equal(f.h.variable!.responseHeaders.size, 0)
    const parsed = c.request ? parseTcpHandshakeRequestBody(f.body, c.hv) : parseTcpHandshakeResponseBody(f.body, c.hv)
    t.same(parsed, { transportVersion: c.tv, releaseVersion: c.release }, `${c.name} body`)
  }
})

t.test('legacy handshake is rejected by the decoder', async (t) => {
  for (const name of ['tcp-handshake-request-v6080099-legacy', 'tcp-handshake-response-v6080099-legacy']) {
    const bytes = hex(vector('handshake', name))
    for (const chunks of [[bytes], [...bytes].map((b) => Buffer.from([b]))]) {
      const r = decodeAll(chunks)
      t.equal(r.error?.reason, 'legacy_handshake', name)
      t.equal(r.error?.message, 'Received message from unsupported version: [6080099] allowed versions are: [7170099, 8800000]')
      t.equal(r.events.filter((e) => e === 'error').length, 1)
      t.equal(r.frames.length, 0)
    }
  }
  // Legacy body parsing still works (version only, no release string).
  t.same(parseTcpHandshakeRequestBody(Buffer.from('00048bd5b503', 'hex'), HANDSHAKE_LEGACY), { transportVersion: 7170699, releaseVersion: null })
  t.same(parseTcpHandshakeResponseBody(Buffer.from('c3f9eb03', 'hex'), HANDSHAKE_LEGACY), { transportVersion: 8060099, releaseVersion: null })
})

t.test('handshake body parsing edge cases', async (t) => {
  // Extra bytes inside the bytes reference are ignored (forward compatibility, HandshakeRequest).
  t.same(parseTcpHandshakeRequestBody(Buffer.from('0005c3f9eb03ff', 'hex'), HANDSHAKE_V8), { transportVersion: 8060099, releaseVersion: null })
  // ... but not after it.
  t.equal(codecError(() => parseTcpHandshakeRequestBody(Buffer.from('0004c3f9eb03ff', 'hex'), HANDSHAKE_V8)).code, 'trailing_bytes')
  t.equal(codecError(() => parseTcpHandshakeResponseBody(Buffer.from('c3f9eb0300', 'hex'), HANDSHAKE_V8)).code, 'trailing_bytes')
  t.equal(codecError(() => parseTcpHandshakeRequestBody(Buffer.from('00', 'hex'), HANDSHAKE_V8)).code, 'bad_handshake')
  t.equal(codecError(() => parseTcpHandshakeRequestBody(Buffer.from('0004c3f9eb03', 'hex'), HANDSHAKE_V9)).code, 'eof')
  // A parent task id is skipped.
  const w = new StreamWriter()
  w.writeTaskId({ nodeId: 'n1', id: 5n })
  w.writeByteArray(Buffer.from('c3f9eb03', 'hex'))
  t.same(parseTcpHandshakeRequestBody(w.toBuffer(), HANDSHAKE_V8), { transportVersion: 8060099, releaseVersion: null })
  // Default release string comes from the version table.
  const req = encodeTcpHandshakeRequest({ requestId: 9n, handshakeVersion: HANDSHAKE_V9, transportVersion: 9000009 })
  const f = decodeAll([req]).frames[0]!
  t.same(parseTcpHandshakeRequestBody(f.body, HANDSHAKE_V9), { transportVersion: 9000009, releaseVersion: '9.0.0' })
  const resp = encodeTcpHandshakeResponse({ requestId: 9n, handshakeVersion: HANDSHAKE_V9, transportVersion: 1 })
  t.same(parseTcpHandshakeResponseBody(decodeAll([resp]).frames[0]!.body, HANDSHAKE_V9), { transportVersion: 1, releaseVersion: 'unknown' })
})

t.test('ping', async (t) => {
  const p = encodePing()
  t.equal(p.toString('hex'), vector('ping', 'ping').hex)
  t.not(p, PING_BYTES, 'a fresh copy')
  const r = decodeAll([p])
  t.same(r.events, ['ping'])
  t.equal(r.pings[0]!.toString('hex'), '4553ffffffff')
})

t.test('variable header: parse and write', async (t) => {
  const w = new StreamWriter()
  const vh = {
    requestHeaders: new Map([['_cross_cluster_access_credentials', 'ApiKey abc'], ['X-Opaque-Id', 'é😀']]),
    responseHeaders: new Map([['Warning', ['a', 'b', 'a']]]),
    features: ['x-pack'],
    action: 'indices:data/read/search',
  }
  writeVariableHeader(w, vh, true, 7170099)
  t.same(parseVariableHeader(w.toBuffer(), true, 7170099), vh, 'features for < 8.0.0 requests; duplicate set values kept')
  const w2 = new StreamWriter()
  writeVariableHeader(w2, vh, true, 8000099)
  t.same(parseVariableHeader(w2.toBuffer(), true, 8000099), { ...vh, features: null }, 'no features from 8.0.0 on')
  const w3 = new StreamWriter()
  writeVariableHeader(w3, vh, false, 7170099)
  t.same(parseVariableHeader(w3.toBuffer(), false, 7170099), { ...vh, features: null, action: null }, 'responses: maps only')
  const w4 = new StreamWriter()
  writeVariableHeader(w4, { action: 'a' }, true, 7170099)
  t.equal(w4.toBuffer().toString('hex'), '0000000161', 'defaults: empty maps, empty features')
  t.equal(codecError(() => writeVariableHeader(new StreamWriter(), {}, true, 9000009)).code, 'missing_action')
  t.equal(codecError(() => parseVariableHeader(Buffer.from('000000', 'hex'), false, 9000009)).code, 'trailing_bytes')
  t.equal(codecError(() => parseVariableHeader(Buffer.from('00', 'hex'), false, 9000009)).code, 'eof')
  t.equal(codecError(() => parseVariableHeader(Buffer.from('0000', 'hex'), true, 9000009)).code, 'eof')
})

t.test('encodeFrame', async (t) => {
  const body = Buffer.from('00deadbeef', 'hex')
  const frame = encodeFrame({
    requestId: -2n,
    status: Status.COMPRESS,
    version: 9000009,
    requestHeaders: { a: 'b' },
    action: 'x',
    body,
  })
  t.equal(frame.readInt32BE(2), frame.length - 6)
  t.equal(frame.readBigInt64BE(6), -2n)
  t.equal(frame[14], 4)
  t.equal(frame.readInt32BE(15), 9000009)
  const varSize = frame.readInt32BE(19)
  t.equal(varSize, 1 + 4 + 1 + 2)
  t.equal(frame.subarray(23 + varSize).toString('hex'), body.toString('hex'))
  const r = decodeAll([frame])
  t.equal(r.frames[0]!.h.isCompressed, true)
  t.equal(r.frames[0]!.h.requestId, -2n)
  t.same([...r.frames[0]!.h.variable!.requestHeaders], [['a', 'b']])
  // Unsigned request ids are written as their two's complement.
  t.equal(encodeFrame({ requestId: 2n ** 64n - 1n, status: 1, version: 1 }).readBigInt64BE(6), -1n)
  // Response without body: var header 00 00, message length 19.
  const resp = encodeFrame({ requestId: 3n, status: Status.RESPONSE, version: 9000009 })
  t.equal(resp.toString('hex'), '4553000000130000000000000003010089544900000002' + '0000')
  t.equal(encodeFrameHeader({ requestId: 1n, status: 1, version: 1 }, 1000).toBuffer().readInt32BE(2), 17 + 2 + 1000)
  t.equal(codecError(() => encodeFrameHeader({ requestId: 1n, status: 1, version: 1 }, -1)).code, 'bad_argument')
  t.equal(codecError(() => encodeFrameHeader({ requestId: 1n, status: 1, version: 1 }, 2 ** 31)).code, 'bad_argument')
  t.equal(codecError(() => encodeFrame({ requestId: 1n, status: 0, version: 1 })).code, 'missing_action')
})
