import t from 'tap'
import {
  CodecError,
  StreamReader,
  StreamWriter,
  encodeErrorFrame,
  formatException,
  readException,
  toJavaException,
  writeException,
  type DecodedException,
  type JavaException,
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

const security: JavaException = { type: 'security', message: 'gateway: authentication failed', status: 'UNAUTHORIZED' }

function decodeErrorFrame(bytes: Buffer): { requestId: bigint; version: number; status: number; exception: DecodedException | null } {
  const r = decodeAll([bytes])
  if (r.error) throw r.error
  const f = r.frames[0]!
  const reader = new StreamReader(f.body)
  const exception = readException(reader)
  if (reader.remaining !== 0) throw new Error('not fully read')
  return { requestId: f.h.requestId, version: f.h.version, status: f.h.status, exception }
}

t.test('error-frame-a: security exception', async (t) => {
  const v = vector('error_frames', 'error-frame-a-security-exception')
  t.equal(encodeErrorFrame(1n, 9000009, security).toString('hex'), v.hex)
  const d = decodeErrorFrame(hex(v))
  t.equal(d.requestId, 1n)
  t.equal(d.version, 9000009)
  t.equal(d.status, 0x03)
  t.match(d.exception, {
    kind: 0,
    esId: 4,
    className: 'org.elasticsearch.ElasticsearchSecurityException',
    message: 'gateway: authentication failed',
    cause: null,
    status: 'UNAUTHORIZED',
    stack: [],
    suppressed: [],
  })
  t.same(toJavaException(d.exception), { ...security, cause: null })
  t.equal(formatException(d.exception!), 'ElasticsearchSecurityException[gateway: authentication failed]')
})

t.test('error-frame-b: remote transport exception wrapping the security exception', async (t) => {
  const v = vector('error_frames', 'error-frame-b-remote-transport-exception')
  const e: JavaException = { type: 'remote_transport', message: '[gateway][indices:data/read/search]', cause: security }
  t.equal(encodeErrorFrame(1n, 9000009, e).toString('hex'), v.hex)
  const d = decodeErrorFrame(hex(v))
  t.match(d.exception, {
    kind: 0,
    esId: 103,
    className: 'org.elasticsearch.transport.RemoteTransportException',
    message: '[gateway][indices:data/read/search]',
    cause: { kind: 0, esId: 4, status: 'UNAUTHORIZED', message: 'gateway: authentication failed' },
  })
  t.equal(d.exception!.status, undefined)
  t.same(toJavaException(d.exception), { ...e, cause: { ...security, cause: null } })
  t.equal(
    formatException(d.exception!),
    'RemoteTransportException[[gateway][indices:data/read/search]]; nested: ElasticsearchSecurityException[gateway: authentication failed]',
  )
  // The 124-byte draft with the ActionTransportException tail leaves 2 bytes unread.
  const draft = Buffer.concat([hex(v).subarray(0, hex(v).length), Buffer.from('0000', 'hex')])
  draft.writeInt32BE(0x76, 2)
  t.throws(() => decodeErrorFrame(draft), /not fully read/)
})

t.test('error-frame-c: illegal state exception', async (t) => {
  const v = vector('error_frames', 'error-frame-c-illegal-state-exception')
  const e: JavaException = { type: 'illegal_state', message: 'blocked by gateway' }
  t.equal(encodeErrorFrame(7n, 8636001, e).toString('hex'), v.hex)
  const d = decodeErrorFrame(hex(v))
  t.equal(d.requestId, 7n)
  t.equal(d.version, 8636001)
  t.match(d.exception, { kind: 14, className: 'java.lang.IllegalStateException', message: 'blocked by gateway', cause: null })
  t.same(toJavaException(d.exception), { ...e, cause: null })
})

t.test('round trips of every JavaException shape', async (t) => {
  const shapes: JavaException[] = [
    { type: 'illegal_argument', message: null },
    { type: 'illegal_argument', message: 'bad', cause: { type: 'illegal_state', message: 'inner' } },
    { type: 'security', message: 'denied 😀', status: 'FORBIDDEN', cause: { type: 'illegal_argument', message: 'x' } },
    { type: 'remote_transport', message: '[n][a]', cause: null },
  ]
  for (const e of shapes) {
    const w = new StreamWriter()
    writeException(w, e)
    const r = new StreamReader(w.toBuffer())
    const d = readException(r)
    t.equal(r.remaining, 0)
    const back = toJavaException(d)
    const norm = (x: JavaException | null | undefined): unknown =>
      x == null ? null : { ...x, cause: norm((x as { cause?: JavaException | null }).cause) }
    t.same(norm(back), norm(e))
  }
  const w = new StreamWriter()
  writeException(w, null)
  t.equal(w.toBuffer().toString('hex'), '00')
  t.equal(readException(new StreamReader(Buffer.from('00', 'hex'))), null)
})

t.test('generic kinds with stack traces and suppressed exceptions', async (t) => {
  // Hand-built: kind 17 IOException("io") with cause NullPointerException(null), 1 frame, 1 suppressed EOF.
  const w = new StreamWriter()
  w.writeBoolean(true)
  w.writeVInt(17)
  w.writeOptionalString('io')
  w.writeBoolean(true) // cause
  w.writeVInt(4)
  w.writeOptionalString(null)
  w.writeVInt(0)
  w.writeVInt(0)
  w.writeVInt(1) // stack frames
  w.writeString('org.Foo')
  w.writeOptionalString('Foo.java')
  w.writeString('bar')
  w.writeVInt(42)
  w.writeVInt(1) // suppressed
  w.writeBoolean(true)
  w.writeVInt(8)
  w.writeOptionalString('eof')
  w.writeVInt(0)
  w.writeVInt(0)
  const d = readException(new StreamReader(w.toBuffer()))!
  t.match(d, {
    kind: 17,
    className: 'java.io.IOException',
    message: 'io',
    cause: { kind: 4, className: 'java.lang.NullPointerException', message: null },
    stack: [{ className: 'org.Foo', fileName: 'Foo.java', methodName: 'bar', lineNumber: 42 }],
    suppressed: [{ kind: 8, className: 'java.io.EOFException', message: 'eof' }],
  })
  t.equal(toJavaException(d), null, 'not a shape we send')
  t.equal(formatException(d), 'IOException[io]; nested: NullPointerException[null]')

  const simple = (kind: number, fill: (w: StreamWriter) => void): DecodedException => {
    const w = new StreamWriter()
    w.writeBoolean(true)
    w.writeVInt(kind)
    fill(w)
    w.writeVInt(0)
    w.writeVInt(0)
    const r = new StreamReader(w.toBuffer())
    const d = readException(r)!
    t.equal(r.remaining, 0, `kind ${kind} fully read`)
    return d
  }
  for (const k of [4, 5, 8, 10, 11, 12, 16]) {
    t.equal(simple(k, (w) => w.writeOptionalString(`m${k}`)).message, `m${k}`)
  }
  for (const k of [6, 7, 9, 14, 15, 17]) {
    const d = simple(k, (w) => {
      w.writeOptionalString(`m${k}`)
      w.writeBoolean(false)
    })
    t.equal(d.message, `m${k}`)
    t.equal(d.cause, null)
  }
  t.match(
    simple(1, (w) => {
      w.writeOptionalString('corrupt')
      w.writeOptionalString('res')
      w.writeBoolean(false)
    }),
    { className: 'org.apache.lucene.index.CorruptIndexException', message: 'corrupt', extra: { resource: 'res' } },
  )
  t.match(
    simple(2, (w) => {
      w.writeOptionalString('r')
      w.writeInt(1)
      w.writeInt(2)
      w.writeInt(3)
    }),
    { extra: { resource: 'r', version: 1, minVersion: 2, maxVersion: 3 } },
  )
  t.match(
    simple(3, (w) => {
      w.writeOptionalString('r')
      w.writeBoolean(true)
      w.writeInt(1)
      w.writeInt(2)
      w.writeInt(3)
    }),
    { extra: { version: 1, minVersion: 2, maxVersion: 3 } },
  )
  t.match(
    simple(3, (w) => {
      w.writeOptionalString('r')
      w.writeBoolean(false)
      w.writeOptionalString('6.0')
    }),
    { extra: { resource: 'r', version: '6.0' } },
  )
  t.match(
    simple(13, (w) => {
      w.writeVInt(5)
      w.writeOptionalString('/f')
      w.writeOptionalString(null)
      w.writeOptionalString('no')
      w.writeOptionalString('/f: no')
    }),
    { className: 'java.nio.file.AccessDeniedException', message: '/f: no', extra: { file: '/f', other: null, reason: 'no' } },
  )
  t.match(
    simple(18, (w) => {
      w.writeBoolean(true)
      w.writeOptionalString('rejected')
    }),
    { className: 'org.elasticsearch.common.util.concurrent.EsRejectedExecutionException', message: 'rejected', extra: { isExecutorShutdown: true } },
  )
  // Registered ids 34 and 68 (no tail), with headers and metadata.
  for (const id of [34, 68]) {
    const w = new StreamWriter()
    w.writeBoolean(true)
    w.writeVInt(0)
    w.writeVInt(id)
    w.writeOptionalString('m')
    w.writeBoolean(false)
    w.writeVInt(0)
    w.writeVInt(0)
    w.writeMapOfLists(new Map([['h', ['1']]]))
    w.writeMapOfLists(new Map([['es.x', ['2']]]))
    const r = new StreamReader(w.toBuffer())
    const d = readException(r)!
    t.equal(r.remaining, 0)
    t.equal(d.esId, id)
    t.same([...d.headers!], [['h', ['1']]])
    t.same([...d.metadata!], [['es.x', ['2']]])
  }
})

t.test('unsupported and malformed exceptions', async (t) => {
  t.equal(codecError(() => readException(new StreamReader(Buffer.from('010005', 'hex')))).code, 'unsupported_exception')
  t.match(codecError(() => readException(new StreamReader(Buffer.from('0113', 'hex')))).message, 'no such exception for id: 19')
  t.equal(codecError(() => readException(new StreamReader(Buffer.from('010d08', 'hex')))).code, 'unsupported_exception')
  t.equal(codecError(() => readException(new StreamReader(Buffer.from('02', 'hex')))).code, 'bad_boolean')
  t.equal(codecError(() => readException(new StreamReader(Buffer.from('010e01', 'hex')))).code, 'eof')
  // Nesting is bounded on both sides.
  let deep: JavaException = { type: 'illegal_state', message: 'leaf' }
  for (let i = 0; i < 101; i++) deep = { type: 'illegal_argument', message: null, cause: deep }
  t.equal(codecError(() => writeException(new StreamWriter(), deep)).code, 'too_many_nested')
  const w = new StreamWriter()
  for (let i = 0; i < 102; i++) {
    w.writeBoolean(true)
    w.writeVInt(6)
    w.writeOptionalString(null)
  }
  t.equal(codecError(() => readException(new StreamReader(w.toBuffer()))).code, 'too_many_nested')
  t.equal(codecError(() => writeException(new StreamWriter(), { type: 'bogus' } as unknown as JavaException)).code, 'unsupported_exception')
  t.equal(toJavaException(null), null)
  // A cause we cannot represent makes the whole chain unrepresentable.
  t.equal(
    toJavaException({ kind: 6, className: 'x', message: null, cause: { kind: 4, className: 'y', message: null, cause: null, stack: [], suppressed: [] }, stack: [], suppressed: [] }),
    null,
  )
})
