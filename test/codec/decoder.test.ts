import t from 'tap'
import {
  FrameDecoder,
  FrameProtocolError,
  HANDSHAKE_V8,
  HANDSHAKE_V9,
  Status,
  encodeErrorFrame,
  encodeFrame,
  encodePing,
  encodeTcpHandshakeRequest,
  encodeTcpHandshakeResponse,
  formatByteSize,
  readMessageLength,
  type DecodedHeader,
  type FrameHandler,
} from '../../src/codec/index.js'
import { hex, transportVectors, vector } from './vectors.js'
import { bytewise, decodeAll, recorder, splitAt, summary } from './util.js'

const HTTP_REQ = 'This is not an HTTP port'
const HTTP_RESP =
  'received HTTP response on transport port, ensure that transport port (not HTTP port) of a remote node is specified in the configuration'

type Outcome = { need: true } | { ping: true } | { length: number } | { reason: FrameProtocolError['reason']; message: string }

const expected: Record<string, Outcome> = {
  'length-incomplete-header': { need: true },
  'length-ping': { ping: true },
  'length-ping-followed-by-start-of-next-frame': { ping: true },
  'length-2': { length: 2 },
  'length-minus-2': { reason: 'bad_length', message: 'invalid data length: -2' },
  'length-0': { reason: 'bad_length', message: 'invalid data length: 0' },
  'length-bad-marker-ec': { reason: 'bad_marker', message: 'invalid internal transport message format, got (45,43,a,ff)' },
  'length-http-get': { reason: 'http_request', message: HTTP_REQ },
  'length-http-post': { reason: 'http_request', message: HTTP_REQ },
  'length-http-put': { reason: 'http_request', message: HTTP_REQ },
  'length-http-head': { reason: 'http_request', message: HTTP_REQ },
  'length-http-delete': { reason: 'http_request', message: HTTP_REQ },
  'length-http-options': { reason: 'http_request', message: HTTP_REQ },
  'length-http-patch': { reason: 'http_request', message: HTTP_REQ },
  'length-http-trace': { reason: 'http_request', message: HTTP_REQ },
  'length-tls-record': { reason: 'tls_record', message: 'SSL/TLS request received but SSL/TLS is not enabled on this node, got (16,3,1,2)' },
  'length-http-response': { reason: 'http_response', message: HTTP_RESP },
}

t.test('message_length vectors: readMessageLength port', async (t) => {
  const vs = transportVectors().groups.message_length
  t.equal(vs.length, Object.keys(expected).length, 'every vector has an expectation')
  for (const v of vs) {
    const exp = expected[v.name]!
    const buf = hex(v)
    if ('need' in exp) t.equal(readMessageLength(buf), -1, v.name)
    else if ('ping' in exp) t.equal(readMessageLength(buf), 0, v.name)
    else if ('length' in exp) t.equal(readMessageLength(buf), exp.length, v.name)
    else {
      t.throws(() => readMessageLength(buf), { name: 'FrameProtocolError', reason: exp.reason, message: exp.message }, v.name)
    }
  }
})

t.test('message_length vectors: streaming decoder, whole and byte by byte', async (t) => {
  for (const v of transportVectors().groups.message_length) {
    const exp = expected[v.name]!
    const buf = hex(v)
    for (const [mode, chunks] of [['whole', [buf]], ['bytewise', bytewise(buf)]] as const) {
      const r = decodeAll([...chunks])
      const label = `${v.name} (${mode})`
      if ('need' in exp) {
        t.same(r.events, [], label)
        t.equal(r.decoder.bufferedBytes, buf.length, label)
      } else if ('ping' in exp) {
        t.same(r.events, ['ping'], label)
        t.equal(r.pings[0]!.toString('hex'), '4553ffffffff')
        t.equal(r.decoder.bufferedBytes, buf.length - 6, `${label}: next frame start kept`)
      } else if ('length' in exp) {
        t.same(r.events, [], `${label}: waits for the fixed header`)
        t.equal(r.decoder.bufferedBytes, buf.length)
        // 15 more bytes complete the fixed header; varHeaderSize 0 > room in a length-2 message.
        r.decoder.push(Buffer.alloc(15))
        t.equal(r.error?.reason, 'bad_var_header_size', label)
      } else {
        t.same(r.events, ['error'], label)
        t.equal(r.error?.reason, exp.reason, label)
        t.equal(r.error?.message, exp.message, label)
        t.equal(r.decoder.dead, true)
        t.equal(r.decoder.bufferedBytes, 0)
      }
    }
  }
})

function errorAfter(bytes: Buffer): { at: number; reason: string; message: string } | null {
  const rec = recorder()
  for (let i = 0; i < bytes.length; i++) {
    rec.decoder.push(bytes.subarray(i, i + 1))
    if (rec.error) return { at: i + 1, reason: rec.error.reason, message: rec.error.message }
  }
  return null
}

t.test('garbage is classified as soon as the bytes prove it', async (t) => {
  t.match(errorAfter(Buffer.from('4543aabb', 'hex')), { at: 4, reason: 'bad_marker', message: 'invalid internal transport message format, got (45,43,aa,bb)' })
  t.match(errorAfter(Buffer.from('00000000', 'hex')), { at: 4, reason: 'bad_marker', message: 'invalid internal transport message format, got (0,0,0,0)' })
  t.match(errorAfter(Buffer.from('160301ff', 'hex')), { at: 4, reason: 'tls_record', message: 'SSL/TLS request received but SSL/TLS is not enabled on this node, got (16,3,1,ff)' })
  t.match(errorAfter(Buffer.from('16040000', 'hex')), { at: 4, reason: 'bad_marker', message: 'invalid internal transport message format, got (16,4,0,0)' })
  t.match(errorAfter(Buffer.from('GET / HTTP/1.1\r\n')), { at: 3, reason: 'http_request' })
  t.match(errorAfter(Buffer.from('PUT /x')), { at: 3, reason: 'http_request' })
  t.match(errorAfter(Buffer.from('OPTIONS * HTTP/1.1')), { at: 6, reason: 'http_request' })
  t.match(errorAfter(Buffer.from('OPTIX000')), { at: 5, reason: 'bad_marker', message: 'invalid internal transport message format, got (4f,50,54,49)' })
  t.match(errorAfter(Buffer.from('HTTP/1.1 200 OK')), { at: 4, reason: 'http_response', message: HTTP_RESP })
  t.match(errorAfter(Buffer.from('HEAD / ')), { at: 4, reason: 'http_request' })
  t.match(errorAfter(Buffer.from('HEX!')), { at: 4, reason: 'bad_marker' })
  t.match(errorAfter(Buffer.from('DELETE')), { at: 6, reason: 'http_request' })
  t.match(errorAfter(Buffer.from('PATCH')), { at: 5, reason: 'http_request' })
  t.match(errorAfter(Buffer.from('TRACE')), { at: 5, reason: 'http_request' })
  t.match(errorAfter(Buffer.from('POST')), { at: 4, reason: 'http_request' })
  // Waiting cases: a lone 'E', 'G', 'OPTIO' decide nothing yet.
  for (const s of ['E', 'G', 'OPTIO', 'HTT', '\u0016']) {
    const r = decodeAll([Buffer.from(s, 'latin1')])
    t.same(r.events, [], `waits on ${JSON.stringify(s)}`)
  }
  // Garbage after a valid frame is detected at the next frame start.
  const r = decodeAll([Buffer.concat([encodePing(), Buffer.from('GET /')])])
  t.same(r.events, ['ping', 'error'])
  t.equal(r.error?.reason, 'http_request')
})

function frameWith(fields: { len?: number; status?: number; version?: number; varSize?: number }, tail: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(23)
  b.write('ES', 0, 'latin1')
  b.writeInt32BE(fields.len ?? 17 + (fields.varSize ?? 2) + Math.max(0, tail.length - (fields.varSize ?? 2)), 2)
  b.writeBigInt64BE(1n, 6)
  b[14] = fields.status ?? 0
  b.writeInt32BE(fields.version ?? 9000009, 15)
  b.writeInt32BE(fields.varSize ?? 2, 19)
  return Buffer.concat([b, tail])
}

t.test('fixed-header checks', async (t) => {
  const cases: Array<[string, Buffer, string, string | RegExp, number?]> = [
    ['negative var header size', frameWith({ len: 100, varSize: -1 }), 'bad_var_header_size', 'invalid negative variable header size: -1'],
    ['var header beyond the message', frameWith({ len: 20, varSize: 4 }), 'bad_var_header_size', 'invalid variable header size: 4 exceeds the message length 20 (at most 3)'],
    ['message shorter than a fixed header', frameWith({ len: 5, varSize: 0 }), 'bad_var_header_size', /exceeds the message length 5 \(at most 0\)/],
    ['header too large', frameWith({ len: 5000, varSize: 2000 }), 'header_too_large', 'header size [2023] exceeds limit of [1kb]', 1024],
    ['header too large, odd limit', frameWith({ len: 5000, varSize: 2000 }), 'header_too_large', 'header size [2023] exceeds limit of [1000b]', 1000],
    ['unknown handshake version', frameWith({ status: Status.HANDSHAKE, version: 9000009 }), 'bad_handshake_version', 'Received message from unsupported version: [9000009] allowed versions are: [7170099, 8800000]'],
    ['legacy handshake (fixed header only)', frameWith({ status: Status.HANDSHAKE | Status.RESPONSE, version: 6080099 }).subarray(0, 19), 'legacy_handshake', /\[6080099\]/],
    ['unparseable variable header', frameWith({ len: 17 + 3, varSize: 3 }, Buffer.from('050000', 'hex')), 'bad_var_header', /^tried to read/],
    ['variable header with trailing bytes', frameWith({ len: 17 + 3, varSize: 3, status: 1 }, Buffer.from('000000', 'hex')), 'bad_var_header', /trailing bytes/],
    ['variable header with a bad string', frameWith({ len: 17 + 4, varSize: 4 }, Buffer.from('000001f0', 'hex')), 'bad_var_header', 'Invalid string; unexpected character: 240 hex: f0'],
  ]
  for (const [name, bytes, reason, message, max] of cases) {
    for (const chunks of [[bytes], bytewise(bytes)]) {
      const r = decodeAll(chunks, { maxHeaderSize: max ?? 1 << 20 })
      t.same(r.events, ['error'], name)
      t.equal(r.error?.reason, reason, name)
      if (typeof message === 'string') t.equal(r.error?.message, message, name)
      else t.match(r.error?.message, message, name)
    }
  }
  // The header limit is decided from the fixed header, without waiting for the variable header.
  const r = decodeAll([frameWith({ len: 5000, varSize: 2000 })], { maxHeaderSize: 1024 })
  t.equal(r.error?.reason, 'header_too_large')
  const bad = decodeAll([frameWith({ len: 17 + 3, varSize: 3 }, Buffer.from('050000', 'hex'))])
  t.ok(bad.error?.cause, 'the CodecError is kept as cause')
})

t.test('not checked here: non-handshake versions, direction, body content', async (t) => {
  const frames = [
    encodeFrame({ requestId: 1n, status: 0, version: 1, action: 'a' }), // absurd version
    encodeFrame({ requestId: 2n, status: Status.RESPONSE | Status.ERROR | Status.COMPRESS, version: 123, body: Buffer.from('zz') }),
    encodeFrame({ requestId: 3n, status: 0xf0, version: 9000009, action: 'b' }), // unknown status bits
  ]
  const r = decodeAll([Buffer.concat(frames)])
  t.equal(r.error, null)
  t.same(r.frames.map((f) => f.h.requestId), [1n, 2n, 3n])
  t.equal(r.frames[1]!.h.isError && r.frames[1]!.h.isCompressed && !r.frames[1]!.h.isRequest, true)
  t.equal(r.frames[1]!.body.toString(), 'zz')
})

function sampleStream(): Buffer {
  return Buffer.concat([
    encodePing(),
    encodeTcpHandshakeRequest({ requestId: 1n, handshakeVersion: HANDSHAKE_V8, transportVersion: 8841064 }),
    encodeTcpHandshakeResponse({ requestId: 1n, handshakeVersion: HANDSHAKE_V9, transportVersion: 9000009, releaseVersion: '9.0.0' }),
    encodePing(),
    encodePing(),
    encodeFrame({
      requestId: 2n,
      status: 0,
      version: 9000009,
      requestHeaders: new Map([['_cross_cluster_access_credentials', 'ApiKey eHl6OmFiYw=='], ['X-Opaque-Id', 'ü😀']]),
      action: 'cluster:internal/remote_cluster/handshake',
      body: Buffer.from([0]),
    }),
    encodeFrame({ requestId: 2n, status: Status.RESPONSE, version: 9000009, responseHeaders: new Map([['Warning', ['w1']]]), body: Buffer.alloc(3000, 7) }),
    encodeErrorFrame(3n, 9000009, { type: 'illegal_state', message: 'no' }),
    encodeFrame({ requestId: 4n, status: Status.RESPONSE, version: 9000009 }), // empty body
    encodePing(),
  ])
}

t.test('whole, byte-by-byte and random splits give the same events', async (t) => {
  const stream = sampleStream()
  const whole = decodeAll([stream])
  t.equal(whole.error, null)
  t.same(whole.events.filter((e) => e !== 'body'), [
    'ping', 'header', 'end', 'header', 'end', 'ping', 'ping', 'header', 'end', 'header', 'end', 'header', 'end', 'header', 'end', 'ping',
  ])
  t.equal(whole.frames[2]!.h.variable!.requestHeaders.get('X-Opaque-Id'), 'ü😀')
  t.equal(whole.frames[3]!.body.length, 3000)
  t.equal(whole.frames[5]!.h.bodyLength, 0)
  t.equal(whole.decoder.bufferedBytes, 0)
  const expectedSummary = summary(whole)
  t.same(summary(decodeAll(bytewise(stream))), expectedSummary, 'one byte at a time')
  let seed = 12345
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }
  for (let i = 0; i < 50; i++) {
    const cuts = Array.from({ length: 1 + rand(40) }, () => rand(stream.length))
    t.same(summary(decodeAll(splitAt(stream, cuts))), expectedSummary, `split ${i}`)
  }
  // Without variable-header parsing the same frames come out with variable === null.
  const noVar = decodeAll([stream], { parseVariableHeader: false })
  t.equal(noVar.frames.length, whole.frames.length)
  t.ok(noVar.frames.every((f) => f.h.variable === null))
})

function unpooledCopy(b: Buffer): Buffer {
  const out = Buffer.alloc(b.length) // never from the shared pool
  b.copy(out)
  return out
}

function overlaps(x: Buffer, y: Buffer): boolean {
  return x.buffer === y.buffer && x.byteOffset < y.byteOffset + y.length && y.byteOffset < x.byteOffset + x.length
}

t.test('views: raw, ping and body slices point into the pushed chunks', async (t) => {
  const stream = sampleStream()
  const seen: { raw: Buffer[]; pings: Buffer[]; bodies: Buffer[] } = { raw: [], pings: [], bodies: [] }
  const handler: FrameHandler = {
    ping: (b) => void seen.pings.push(b),
    header: (_h, raw) => void seen.raw.push(raw),
    body: (b) => void seen.bodies.push(b),
    frameEnd: () => {},
    error: (e) => {
      throw e
    },
  }
  const d = new FrameDecoder(handler, { maxHeaderSize: 4096 })
  d.push(stream)
  t.ok(seen.raw.length > 0 && seen.raw.every((b) => b.buffer === stream.buffer), 'raw headers are views')
  t.ok(seen.pings.every((b) => b.buffer === stream.buffer), 'pings are views')
  t.ok(seen.bodies.every((b) => b.buffer === stream.buffer), 'body slices are views')

  // Split header: raw is a private copy of exactly 23 + N bytes that later input cannot change.
  const frame = encodeFrame({ requestId: 5n, status: 0, version: 9000009, action: 'indices:data/read/search', body: Buffer.from('body') })
  const raws: Buffer[] = []
  const d2 = new FrameDecoder({ ...handler, header: (_h, raw) => void raws.push(raw) }, { maxHeaderSize: 4096 })
  const a = unpooledCopy(frame.subarray(0, 10))
  const b = unpooledCopy(frame.subarray(10))
  d2.push(a)
  d2.push(b)
  t.equal(raws.length, 1)
  t.equal(raws[0]!.toString('hex'), frame.subarray(0, 23 + frame.readInt32BE(19)).toString('hex'))
  t.notOk(overlaps(raws[0]!, a) || overlaps(raws[0]!, b), 'a copy, not a view')
  // 23-byte header (varHeaderSize 0) split across chunks: not the reused scratch buffer.
  const tiny = Buffer.alloc(23)
  tiny.write('ES', 0, 'latin1')
  tiny.writeInt32BE(17, 2)
  tiny[14] = Status.RESPONSE
  const raws2: Buffer[] = []
  const d3 = new FrameDecoder({ ...handler, header: (_h, raw) => void raws2.push(raw) }, { maxHeaderSize: 4096, parseVariableHeader: false })
  d3.push(tiny.subarray(0, 5))
  d3.push(tiny.subarray(5))
  d3.push(tiny.subarray(0, 5))
  d3.push(tiny.subarray(5))
  t.equal(raws2.length, 2)
  t.notOk(overlaps(raws2[0]!, raws2[1]!), 'two distinct buffers')
  t.equal(raws2[0]!.toString('hex'), tiny.toString('hex'))
  // A split ping is a private copy of the 6 bytes.
  const pings: Buffer[] = []
  const d4 = new FrameDecoder({ ...handler, ping: (p) => void pings.push(p) }, { maxHeaderSize: 4096 })
  const p = encodePing()
  d4.push(p.subarray(0, 3))
  d4.push(p.subarray(3))
  t.equal(pings[0]!.toString('hex'), '4553ffffffff')
})

t.test('bufferedBytes is bounded while a header is split', async (t) => {
  const frame = encodeFrame({ requestId: 5n, status: 0, version: 9000009, action: 'x'.repeat(500), body: Buffer.alloc(10000) })
  const rec = recorder({ maxHeaderSize: 600 })
  let max = 0
  for (const c of bytewise(frame)) {
    rec.decoder.push(c)
    max = Math.max(max, rec.decoder.bufferedBytes)
  }
  t.equal(rec.error, null)
  t.ok(max <= 600, `max buffered ${max}`)
  t.equal(rec.decoder.bufferedBytes, 0)
  t.equal(rec.frames[0]!.body.length, 10000)
})

t.test('pause and resume', async (t) => {
  const stream = sampleStream()
  const reference = decodeAll([stream])
  const paused = recorder({ pauseOn: () => true })
  paused.decoder.push(stream)
  let resumes = 0
  while (paused.decoder.paused) {
    t.ok(paused.decoder.bufferedBytes > 0 || paused.frames.at(-1)!.h.bodyLength === 0, 'remainder retained')
    paused.decoder.resume()
    resumes++
  }
  t.equal(resumes, reference.frames.length)
  t.same(paused.events, reference.events, 'identical event sequence (including body slice boundaries)')
  t.same(summary(paused), summary(reference))

  // Pushing while paused queues views; nothing is emitted until resume().
  const frames = [
    encodeFrame({ requestId: 1n, status: 0, version: 9000009, action: 'a', body: Buffer.from('one') }),
    encodeFrame({ requestId: 2n, status: 0, version: 9000009, action: 'b', body: Buffer.from('two') }),
  ]
  const rec = recorder({ pauseOn: (i) => i === 0 })
  rec.decoder.push(frames[0]!.subarray(0, frames[0]!.length - 1))
  t.equal(rec.decoder.paused, true)
  t.same(rec.events, ['header'])
  t.equal(rec.decoder.bufferedBytes, 2, 'the retained remainder: two body bytes')
  rec.decoder.push(frames[0]!.subarray(frames[0]!.length - 1))
  rec.decoder.push(frames[1]!)
  t.same(rec.events, ['header'])
  t.equal(rec.decoder.bufferedBytes, 3 + frames[1]!.length)
  rec.decoder.resume()
  t.equal(rec.decoder.paused, false)
  t.same(rec.events.filter((e) => e !== 'body'), ['header', 'end', 'header', 'end'])
  t.same(rec.frames.map((f) => f.body.toString()), ['one', 'two'])
  t.equal(rec.decoder.bufferedBytes, 0)
  rec.decoder.resume() // no-op when not paused
  t.same(rec.events.filter((e) => e !== 'body').length, 4)

  // Empty body + pause: frameEnd is delivered on resume.
  const empty = recorder({ pauseOn: () => true })
  empty.decoder.push(encodeFrame({ requestId: 9n, status: 1, version: 9000009 }))
  t.same(empty.events, ['header'])
  empty.decoder.resume()
  t.same(empty.events, ['header', 'end'])
})

t.test('callbacks: re-entrant push, throwing handler, dead decoder', async (t) => {
  const f1 = encodeFrame({ requestId: 1n, status: 0, version: 9000009, action: 'a', body: Buffer.from('x') })
  const f2 = encodeFrame({ requestId: 2n, status: 0, version: 9000009, action: 'b', body: Buffer.from('y') })
  const order: string[] = []
  let d!: FrameDecoder
  d = new FrameDecoder(
    {
      ping: () => {},
      header: (h: DecodedHeader) => {
        order.push(`header ${h.requestId}`)
        if (h.requestId === 1n) d.push(f2) // queued, processed after the current chunk
      },
      body: (b) => void order.push(`body ${b.toString()}`),
      frameEnd: (h) => void order.push(`end ${h.requestId}`),
      error: () => void order.push('error'),
    },
    { maxHeaderSize: 1024 },
  )
  d.push(f1)
  t.same(order, ['header 1', 'body x', 'end 1', 'header 2', 'body y', 'end 2'])

  const boom = new FrameDecoder(
    {
      ping: () => {
        throw new Error('handler bug')
      },
      header: () => {},
      body: () => {},
      frameEnd: () => {},
      error: () => {},
    },
    { maxHeaderSize: 1024 },
  )
  t.throws(() => boom.push(encodePing()), /handler bug/)
  t.equal(boom.dead, true)
  boom.push(encodePing()) // ignored, no throw
  t.equal(boom.bufferedBytes, 0)

  const r = decodeAll([Buffer.from('GET /'), encodePing(), Buffer.alloc(0)])
  t.same(r.events, ['error'], 'input after an error is ignored')
  r.decoder.resume()
  t.same(r.events, ['error'])

  t.throws(() => new FrameDecoder(recorder().decoder as unknown as FrameHandler, { maxHeaderSize: 22 }), RangeError)
  t.throws(() => new FrameDecoder(recorder().decoder as unknown as FrameHandler, { maxHeaderSize: NaN }), RangeError)
  const unbounded = decodeAll([encodePing()], { maxHeaderSize: Infinity })
  t.same(unbounded.events, ['ping'])
  const zero = recorder()
  zero.decoder.push(Buffer.alloc(0))
  t.same(zero.events, [])
})

t.test('formatByteSize', async (t) => {
  t.equal(formatByteSize(2 * 1024 ** 3), '2gb')
  t.equal(formatByteSize(16 * 1024 ** 2), '16mb')
  t.equal(formatByteSize(8192), '8kb')
  t.equal(formatByteSize(1000), '1000b')
  t.equal(formatByteSize(1024 ** 4), '1tb')
})

t.test('handshake request vector: header fields through the decoder', async (t) => {
  const r = decodeAll(bytewise(hex(vector('handshake', 'tcp-handshake-request-v8800000'))))
  t.equal(r.frames[0]!.h.isHandshake, true)
  t.equal(r.frames[0]!.h.bodyLength, 12)
})

t.test('a byte-identical variable header decodes to the same read-only object; any difference decodes afresh', async (t) => {
  const V = 9250003
  const req = (id: bigint, headers: Record<string, string>, action: string, version = V) =>
    encodeFrame({ requestId: id, status: 0, version, requestHeaders: new Map(Object.entries(headers)), action, body: Buffer.from('body') })
  const a = { _cross_cluster_access_credentials: 'ApiKey abc', _cross_cluster_access_subject_info: 'xyz' }
  const stream = [
    req(1n, a, 'indices:data/read/search'),
    req(2n, a, 'indices:data/read/search'),
    req(3n, { ...a, _cross_cluster_access_subject_info: 'xyZ' }, 'indices:data/read/search'),
    req(4n, a, 'indices:data/read/search'),
    req(5n, a, 'indices:data/read/search', 8841064),
    encodeFrame({ requestId: 6n, status: Status.RESPONSE, version: V, body: Buffer.alloc(0) }),
  ]
  const out = decodeAll([Buffer.concat(stream)])
  t.equal(out.error, null)
  const v = out.frames.map((f) => f.h.variable!)
  t.equal(v[1], v[0], 'same bytes: the same object')
  t.not(v[2], v[1], 'one changed byte: decoded afresh')
  t.equal(v[2]!.requestHeaders.get('_cross_cluster_access_subject_info'), 'xyZ')
  t.not(v[3], v[2], 'back to the first headers')
  t.same(v[3], v[0], 'with the same content')
  t.not(v[4], v[3], 'another version is decoded afresh')
  t.equal(v[5]!.action, null, 'a response is never taken for the request with the same bytes')
  t.same(out.frames.map((f) => f.h.requestId), [1n, 2n, 3n, 4n, 5n, 6n], 'request ids come from each frame')
  // Byte by byte: the memo works on reassembled headers too.
  const split = decodeAll(bytewise(Buffer.concat(stream)))
  t.same(summary(split), summary(out))
  t.equal(split.frames[1]!.h.variable, split.frames[0]!.h.variable)
})
