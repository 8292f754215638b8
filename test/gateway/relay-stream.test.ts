/**
 * The relayed streams stay byte-exact whatever the chunking (issue #11 findings 3, 4, 5, 7, 8, 11), proven on a
 * Relay between in-memory sockets so that every split point can be tried (pg-protocol style).
 *
 * Finding 4 was: after a non-closing denial the backend stream entered/left "slice mode" while the observing
 * decoder held a partial header, so those header bytes were sent twice or never.
 */
import t from 'tap'
import fc from 'fast-check'
import { encodeFrame, encodePing } from '../../src/codec/frame.js'
import { Status, HANDSHAKE_V9 } from '../../src/codec/constants.js'
import { FrameDecoder, type DecodedHeader } from '../../src/codec/decoder.js'
import type { PolicyDecision, RequestPolicy } from '../../src/gateway/policy.js'
import { WRITE_BUFFER_PAUSE, MAX_HANDSHAKE_BODY } from '../../src/gateway/relay.js'
import { startFakeRelay, settle, type FakeRelay } from './helpers/fake-relay.js'
import { KeyConnectionLimiter } from '../../src/gateway/server.js'

const V = 9250003
const ALLOW = 'indices:data/read/search'
const DENY = 'indices:admin/delete'

const denyOpen: RequestPolicy = {
  check: (h) =>
    h.variable?.action === DENY
      ? { reason: 'action_not_allowed', close: false, exception: { type: 'illegal_argument', message: `action [${DENY}] is not allowed`, cause: null } }
      : null,
}

function request(id: number, action: string, body: Buffer = Buffer.alloc(0), headers: Record<string, string> = {}): Buffer {
  return encodeFrame({ requestId: BigInt(id), status: 0, version: V, action, requestHeaders: headers, body })
}

function response(id: number, bodyLen: number, warnings = 0): Buffer {
  const responseHeaders = warnings > 0 ? new Map([['Warning', Array.from({ length: warnings }, (_, i) => `299 Elasticsearch "warning number ${i}"`)]]) : undefined
  return encodeFrame({ requestId: BigInt(id), status: Status.RESPONSE, version: V, ...(responseHeaders ? { responseHeaders } : {}), body: Buffer.alloc(bodyLen, id & 0xff) })
}

interface Decoded {
  h: DecodedHeader
  start: number
  end: number
}

/** Frames of a byte stream with their offsets (pings as requestId -1). */
function frames(buf: Buffer): Decoded[] {
  const out: Decoded[] = []
  let off = 0
  let cur: { h: DecodedHeader; start: number } | null = null
  const d = new FrameDecoder(
    {
      ping: () => {
        out.push({ h: { requestId: -1n } as DecodedHeader, start: off, end: off + 6 })
        off += 6
      },
      header: (h, raw) => {
        cur = { h, start: off }
        off += raw.length
      },
      body: (s) => void (off += s.length),
      frameEnd: () => {
        out.push({ ...cur!, end: off })
        cur = null
      },
      error: (e) => {
        throw e
      },
    },
    { maxHeaderSize: Infinity, fixedHeaderOnly: true },
  )
  d.push(buf)
  if (cur !== null || d.bufferedBytes > 0) throw new Error('stream ends mid-frame')
  return out
}

function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < buf.length))].sort((a, b) => a - b)
  const out: Buffer[] = []
  let prev = 0
  for (const p of points) {
    out.push(buf.subarray(prev, p))
    prev = p
  }
  out.push(buf.subarray(prev))
  return out
}

/**
 * Drives one scenario: the backend stream `be` is delivered in `chunks`; before chunk i (for each i in
 * `denyBefore`) the client sends a denied request. Checks that the client receives exactly the backend stream with
 * whole error frames inserted only at frame boundaries, each at or after the point its request was sent.
 */
async function scenario(r: FakeRelay, be: Buffer, chunks: Buffer[], denyBefore: number[]): Promise<string | null> {
  const boundaries = new Set(frames(be).map((f) => f.end))
  boundaries.add(0)
  const sentAt = new Map<bigint, number>()
  let delivered = 0
  let nextId = 1000
  for (let i = 0; i <= chunks.length; i++) {
    for (const _ of denyBefore.filter((x) => x === i)) {
      const id = nextId++
      sentAt.set(BigInt(id), delivered)
      r.client.feed(request(id, DENY, Buffer.from('body of a denied request')))
    }
    if (i < chunks.length) {
      r.backend.feed(chunks[i]!)
      delivered += chunks[i]!.length
    }
    r.client.drain()
  }
  await settle()
  const out = r.client.output()
  const parts = frames(out)
  const rebuilt: Buffer[] = []
  let beOffset = 0
  const injectedOrder: bigint[] = []
  for (const f of parts) {
    const bytes = out.subarray(f.start, f.end)
    if (sentAt.has(f.h.requestId) && f.h.isError) {
      if (!boundaries.has(beOffset)) return `error frame ${f.h.requestId} inserted mid-frame at backend offset ${beOffset}`
      if (beOffset < sentAt.get(f.h.requestId)!) return `error frame ${f.h.requestId} inserted before its request was sent`
      injectedOrder.push(f.h.requestId)
      continue
    }
    rebuilt.push(bytes)
    beOffset += bytes.length
  }
  if (!Buffer.concat(rebuilt).equals(be)) return 'backend stream not relayed byte-exact'
  if (injectedOrder.length !== sentAt.size) return `expected ${sentAt.size} error frames, got ${injectedOrder.length}`
  if (injectedOrder.some((id, i) => i > 0 && id < injectedOrder[i - 1]!)) return 'error frames out of order'
  return null
}

t.test('finding 4: every split point of a backend stream, with a denial injected before each chunk', async (t) => {
  // Two responses (one with a variable header) and a ping between them; small enough to try every single cut.
  const be = Buffer.concat([response(1, 40, 2), encodePing(), response(2, 3)])
  let checked = 0
  for (let cut = 1; cut < be.length; cut++) {
    for (const denyAt of [0, 1, 2]) {
      const r = await startFakeRelay(denyOpen)
      r.client.feed(request(1, ALLOW))
      r.client.feed(request(2, ALLOW))
      const err = await scenario(r, be, splitAt(be, [cut]), [denyAt])
      if (err !== null) t.fail(`cut ${cut}, denial before chunk ${denyAt}: ${err}`)
      checked++
    }
  }
  t.equal(checked, (be.length - 1) * 3, `${checked} (cut, denial) pairs checked`)
  // And one byte at a time, a denial before every byte.
  const r = await startFakeRelay(denyOpen)
  const bytewise = Array.from(be, (_, i) => be.subarray(i, i + 1))
  t.equal(await scenario(r, be, bytewise, bytewise.map((_, i) => i)), null, 'byte by byte with a denial before each byte')
})

t.test('finding 4 (property): random responses, random chunking, random denials', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ kind: fc.constantFrom('resp', 'ping'), len: fc.integer({ min: 0, max: 3000 }), warnings: fc.integer({ min: 0, max: 3 }) }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 30_000 }), { maxLength: 20 }),
      fc.array(fc.integer({ min: 0, max: 21 }), { maxLength: 6 }),
      async (spec, cuts, denials) => {
        const be = Buffer.concat(spec.map((s, i) => (s.kind === 'ping' ? encodePing() : response(i + 1, s.len, s.warnings))))
        const chunks = splitAt(be, cuts)
        const r = await startFakeRelay(denyOpen)
        const err = await scenario(
          r,
          be,
          chunks,
          denials.map((d) => d % (chunks.length + 1)),
        )
        return err === null
      },
    ),
    { numRuns: 300 },
  )
  t.pass('300 random streams relayed byte-exact with error frames at frame boundaries only')
})

t.test('finding 3: error frames count against the write bound; a client that never reads is not read from', async (t) => {
  const r = await startFakeRelay(denyOpen)
  r.client.highWaterMark = 16 * 1024
  // 20,000 pipelined denied requests (a few MB of error frames if all were answered), never reading the answers.
  const one = request(7, DENY)
  const batch = Buffer.concat(Array.from({ length: 500 }, () => one))
  for (let i = 0; i < 40; i++) r.client.feed(batch)
  await settle()
  const queued = r.client.writableLength
  t.ok(queued <= WRITE_BUFFER_PAUSE + 64 * 1024, `queued output ${queued} B stays near the ${WRITE_BUFFER_PAUSE} B bound`)
  t.ok(r.client.paused, 'the client socket is paused')
  t.ok(r.client.inboxBytes > 0, 'the rest waits in the peer (the kernel), not in the gateway')
  t.equal(r.relay.isClosed, false, 'the connection stays open (the denial does not close)')
  const answeredBefore = r.client.writtenBytes
  r.client.drain()
  await settle()
  t.ok(r.client.writtenBytes > answeredBefore, 'after a drain it reads and answers again')
  // Drain until everything is answered: all 20,000 denials get their error frame, none is lost.
  for (let i = 0; i < 200 && r.client.inboxBytes > 0; i++) {
    r.client.drain()
    await settle()
  }
  r.client.drain()
  await settle()
  const errors = frames(r.client.output()).filter((f) => f.h.isError)
  t.equal(errors.length, 20_000, 'every denied request answered once')
})

t.test('finding 5: pipelined async decisions in one chunk never leave the socket flowing into a paused decoder', async (t) => {
  const pending: Array<() => void> = []
  const asyncPolicy: RequestPolicy = {
    check: () => new Promise<PolicyDecision>((resolve) => pending.push(() => resolve(null))),
  }
  const r = await startFakeRelay(asyncPolicy)
  r.client.feed(Buffer.concat([request(1, ALLOW), request(2, ALLOW), request(3, ALLOW)]))
  t.equal(pending.length, 1, 'one decision pending')
  t.ok(r.client.paused, 'socket paused while deciding')
  pending.shift()!()
  await settle()
  t.equal(pending.length, 1, 'second frame of the same chunk now pending')
  t.ok(r.client.paused, 'the socket is still paused: the decoder is held again')
  // More client data arrives: it must wait in the peer, not in the decoder's queue.
  for (let i = 0; i < 100; i++) r.client.feed(Buffer.alloc(10_000, 0x45))
  t.equal(r.client.inboxBytes, 1_000_000, 'all of it waits outside the gateway')
  t.ok(r.relay['clientDecoder'].bufferedBytes < 100, 'the decoder holds only the rest of the first chunk')
  pending.shift()!()
  await settle()
  pending.shift()!()
  await settle()
  const seen = frames(r.backend.output()).map((f) => Number(f.h.requestId))
  t.same(seen, [1, 2, 3], 'all three forwarded in order')
})

t.test('finding 7: handshake frames are held to what Elasticsearch sends', async (t) => {
  const hs = (opts: { action?: string; headers?: Record<string, string>; body?: Buffer; id?: number } = {}) =>
    encodeFrame({
      requestId: BigInt(opts.id ?? 1),
      status: Status.HANDSHAKE,
      version: HANDSHAKE_V9,
      action: opts.action ?? 'internal:tcp/handshake',
      requestHeaders: opts.headers ?? {},
      body: opts.body ?? Buffer.from('0004abcdef', 'hex'),
    })
  const good = await startFakeRelay(denyOpen)
  good.client.feed(hs())
  await settle()
  t.equal(good.backend.output().length, hs().length, 'a real handshake is relayed')
  const cases: Array<[string, Buffer[]]> = [
    ['another action', [hs({ action: 'indices:data/write/bulk' })]],
    ['request headers', [hs({ headers: { _cross_cluster_access_credentials: 'x' } })]],
    ['a large body', [hs({ body: Buffer.alloc(MAX_HANDSHAKE_BODY + 1) })]],
    ['a second handshake', [hs(), hs({ id: 2 })]],
  ]
  for (const [what, bytes] of cases) {
    const r = await startFakeRelay(denyOpen)
    for (const b of bytes) r.client.feed(b)
    await settle()
    t.ok(r.relay.isClosed, `${what}: connection closed`)
    const relayed = bytes.length === 2 ? bytes[0]!.length : 0
    t.equal(r.backend.writtenBytes, relayed, `${what}: nothing of it reached the backend`)
    t.equal(await r.metrics.registry.getSingleMetric('rcgw_frame_errors_total')!.get().then((m) => m.values.find((v) => v.labels.reason === 'bad_handshake')?.value), 1, `${what}: counted as bad_handshake`)
  }
})

t.test('finding 11: responses are not held to max_header_size', async (t) => {
  const r = await startFakeRelay(denyOpen, { maxHeaderSize: 1024 })
  r.client.feed(request(1, ALLOW))
  const big = response(1, 10, 2000) // ~90 KB of Warning headers
  t.ok(big.length > 64 * 1024)
  for (const c of splitAt(big, [100, 5000, 40_000])) r.backend.feed(c)
  await settle()
  t.equal(r.relay.isClosed, false, 'the connection stays open')
  t.ok(r.client.output().equals(big), 'the response arrives intact')
})

t.test('finding 8: a closing connection whose peer never reads is destroyed after close_timeout', async (t) => {
  const r = await startFakeRelay(denyOpen, { closeTimeoutMs: 50 })
  r.client.feed(request(1, ALLOW))
  r.backend.feed(response(1, 2 * 1024 * 1024)) // queued at the client, never read
  r.relay.close('shutdown')
  t.notOk(r.client.destroyed, 'not destroyed at once: it may still flush')
  // The deadline timer is unref'd (it must not keep a stopping gateway alive): keep this test's loop alive meanwhile.
  const keepAlive = setInterval(() => {}, 10)
  await new Promise<void>((resolve) => r.client.once('close', () => resolve()))
  clearInterval(keepAlive)
  t.ok(r.client.destroyed, 'destroyed once the deadline passed')
  const hits = (await r.metrics.registry.getSingleMetric('rcgw_limit_hits_total')!.get()).values.find((v) => v.labels.limit === 'close_timeout')?.value
  t.ok((hits ?? 0) >= 1, 'counted as a close_timeout limit hit')
})

t.test('finding 9: every request is counted against its own API key; keys per connection are bounded', async (t) => {
  const keys = new KeyConnectionLimiter()
  keys.limit = 1
  const cred = (id: string) => ({ _cross_cluster_access_credentials: 'ApiKey ' + Buffer.from(`${id}:ui2lp2axTNmsyakw9tvNnw`).toString('base64') })
  const r = await startFakeRelay(denyOpen, { keyLimiter: keys })
  r.client.feed(request(1, ALLOW, Buffer.alloc(0), cred('AAAAAAAAAAAAAAAAAAA1')))
  r.client.feed(request(2, ALLOW, Buffer.alloc(0), cred('AAAAAAAAAAAAAAAAAAA2')))
  await settle()
  t.equal(keys.count('AAAAAAAAAAAAAAAAAAA1'), 1)
  t.equal(keys.count('AAAAAAAAAAAAAAAAAAA2'), 1, 'the second key is counted too')
  // Another connection using key 2 on its second request is refused: key 2 is at its limit of 1.
  const r2 = await startFakeRelay(denyOpen, { keyLimiter: keys })
  r2.client.feed(request(1, ALLOW, Buffer.alloc(0), cred('AAAAAAAAAAAAAAAAAAA3')))
  r2.client.feed(request(2, ALLOW, Buffer.alloc(0), cred('AAAAAAAAAAAAAAAAAAA2')))
  await settle()
  t.ok(r2.relay.isClosed, 'refused and closed')
  t.equal(frames(r2.backend.output()).length, 1, 'only the first request reached the backend')
  t.match(frames(r2.client.output()).filter((f) => f.h.isError).length, 1, 'one 429 error frame')
  r.relay.close('shutdown')
  await settle()
  t.equal(keys.count('AAAAAAAAAAAAAAAAAAA2'), 0, 'released at close')
})

t.test('an unexpected exception closes that one connection only, logged and counted', async (t) => {
  const boom: RequestPolicy = {
    check: () => {
      throw new Error('policy bug')
    },
  }
  const r = await startFakeRelay(boom)
  const other = await startFakeRelay(denyOpen)
  r.client.feed(request(1, ALLOW))
  await settle()
  t.ok(r.relay.isClosed, 'the connection is closed')
  t.ok(r.logs.some((l) => l['event.action'] === 'internal_error' && String(l.message).includes('closing that connection')), 'logged as internal_error')
  const v = (await r.metrics.registry.getSingleMetric('rcgw_internal_errors_total')!.get()).values[0]?.value
  t.equal(v, 1, 'counted')
  other.client.feed(request(5, ALLOW))
  await settle()
  t.equal(frames(other.backend.output()).length, 1, 'another connection keeps working')
})
