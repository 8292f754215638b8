/**
 * Property tests for the streaming decoder (fast-check). Run counts are kept small enough for the
 * whole folder to finish in seconds on a shared 2-core machine.
 */
import t from 'tap'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import {
  FrameDecoder,
  HANDSHAKE_V8,
  HANDSHAKE_V9,
  Status,
  V_8_0_0,
  encodeFrame,
  encodePing,
  type DecodedHeader,
  type FrameProtocolError,
  type FrameSpec,
} from '../../src/codec/index.js'

/** Any UTF-16 code unit sequence, lone surrogates included, plus real astral characters. */
const javaString = (maxLength: number) =>
  fc.oneof(
    fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ maxLength }),
  )

const frameSpec: fc.Arbitrary<FrameSpec> = fc
  .record({
    requestId: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    response: fc.boolean(),
    error: fc.boolean(),
    compress: fc.boolean(),
    handshake: fc.boolean(),
    version: fc.oneof(
      fc.constantFrom(7170099, 8000098, 8000099, 8840002, 9000009, 9250003),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    ),
    handshakeVersion: fc.constantFrom(HANDSHAKE_V8, HANDSHAKE_V9),
    requestHeaders: fc.uniqueArray(fc.tuple(javaString(20), javaString(40)), { selector: (e) => e[0], maxLength: 5 }),
    responseHeaders: fc.uniqueArray(fc.tuple(javaString(20), fc.array(javaString(20), { maxLength: 3 })), { selector: (e) => e[0], maxLength: 3 }),
    features: fc.array(javaString(10), { maxLength: 3 }),
    action: javaString(60),
    body: fc.uint8Array({ maxLength: 4096 }),
  })
  .map((r) => {
    const status =
      (r.response ? Status.RESPONSE : 0) | (r.error ? Status.ERROR : 0) | (r.compress ? Status.COMPRESS : 0) | (r.handshake ? Status.HANDSHAKE : 0)
    const version = r.handshake ? r.handshakeVersion : r.version
    const spec: FrameSpec = {
      requestId: r.requestId,
      status,
      version,
      requestHeaders: new Map(r.requestHeaders),
      responseHeaders: new Map(r.responseHeaders),
      body: Buffer.from(r.body),
    }
    if (!r.response) {
      spec.action = r.action
      if (version < V_8_0_0) spec.features = r.features
    }
    return spec
  })

type Item = { ping: true } | { frame: FrameSpec }
const items = fc.array(fc.oneof({ arbitrary: frameSpec.map((f): Item => ({ frame: f })), weight: 4 }, { arbitrary: fc.constant<Item>({ ping: true }), weight: 1 }), {
  minLength: 1,
  maxLength: 6,
})

/** Cuts `buf` into unpooled copies at random points (so `.buffer` identifies the chunk). */
function chunk(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b)
  const out: Buffer[] = []
  let prev = 0
  for (const p of [...points, buf.length]) {
    if (p > prev) {
      const c = Buffer.alloc(p - prev)
      buf.copy(c, 0, prev, p)
      out.push(c)
      prev = p
    }
  }
  return out
}

interface Rec {
  events: string[]
  headers: DecodedHeader[]
  bodies: Buffer[][]
  pings: string[]
  error: FrameProtocolError | null
  problems: string[]
}

/**
 * Decodes chunks with optional pausing (pauseEvery: pause on every n-th header, resume right after
 * the push). Checks structural invariants as it goes and records problems instead of throwing.
 */
function run(chunks: Buffer[], maxHeaderSize: number, pauseMask = 0): { rec: Rec; maxBuffered: number; boundOk: boolean } {
  const rec: Rec = { events: [], headers: [], bodies: [], pings: [], error: null, problems: [] }
  const chunkBuffers = new Set(chunks.map((c) => c.buffer))
  let inFrame = false
  let got = 0
  let headerCount = 0
  const decoder = new FrameDecoder(
    {
      ping(b) {
        if (inFrame) rec.problems.push('ping inside a frame')
        if (rec.error) rec.problems.push('event after error')
        rec.events.push('ping')
        rec.pings.push(b.toString('hex'))
      },
      header(h, raw) {
        if (inFrame) rec.problems.push('header inside a frame')
        if (rec.error) rec.problems.push('event after error')
        if (raw.length !== 23 + h.varHeaderSize) rec.problems.push('raw length')
        if (h.bodyLength < 0) rec.problems.push('negative body length')
        if (raw.length > maxHeaderSize) rec.problems.push('raw larger than maxHeaderSize')
        inFrame = true
        got = 0
        rec.events.push('header')
        rec.headers.push(h)
        rec.bodies.push([])
        return ((pauseMask >> headerCount++ % 8) & 1) === 0
      },
      body(slice) {
        if (!inFrame) rec.problems.push('body outside a frame')
        if (!chunkBuffers.has(slice.buffer as ArrayBuffer)) rec.problems.push('body slice is not a view of a pushed chunk')
        if (slice.length === 0) rec.problems.push('empty body slice')
        got += slice.length
        rec.bodies.at(-1)!.push(slice)
      },
      frameEnd(h) {
        if (!inFrame || h !== rec.headers.at(-1)) rec.problems.push('frameEnd mismatch')
        if (got !== h.bodyLength) rec.problems.push(`body bytes ${got} != bodyLength ${h.bodyLength}`)
        inFrame = false
        rec.events.push('end')
      },
      error(e) {
        if (rec.error) rec.problems.push('error twice')
        rec.error = e
        rec.events.push('error')
      },
    },
    { maxHeaderSize },
  )
  let maxBuffered = 0
  let boundOk = true
  let pushed = 0
  for (const c of chunks) {
    decoder.push(c) // must not throw
    pushed += c.length
    const check = () => {
      maxBuffered = Math.max(maxBuffered, decoder.bufferedBytes)
      if (decoder.paused) {
        if (decoder.bufferedBytes > pushed) boundOk = false
      } else if (decoder.bufferedBytes > maxHeaderSize) {
        boundOk = false
      }
    }
    check()
    while (decoder.paused) {
      decoder.resume()
      check()
    }
  }
  if (decoder.dead !== (rec.error !== null)) rec.problems.push('dead flag mismatch')
  return { rec, maxBuffered, boundOk }
}

function same(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(a, b)
}

function summarize(rec: Rec): unknown {
  return {
    events: rec.events,
    headers: rec.headers.map((h) => ({ ...h })),
    bodies: rec.bodies.map((b) => Buffer.concat(b).toString('hex')),
    pings: rec.pings,
    error: rec.error && { reason: rec.error.reason, message: rec.error.message },
  }
}

t.test('property 1+3: encode → decode round trip under random chunking; body slices are views', async (t) => {
  fc.assert(
    fc.property(items, fc.array(fc.nat(), { maxLength: 30 }), fc.nat(255), (list, cuts, pauseMask) => {
      const wire = Buffer.concat(list.map((i) => ('ping' in i ? encodePing() : encodeFrame(i.frame))))
      const { rec, boundOk } = run(chunk(wire, cuts), 1 << 20, pauseMask)
      if (rec.problems.length > 0 || rec.error !== null || !boundOk) return false
      const frames = list.filter((i): i is { frame: FrameSpec } => 'frame' in i).map((i) => i.frame)
      const expectedEvents = list.flatMap((i) => ('ping' in i ? ['ping'] : ['header', 'end']))
      if (!same(rec.events, expectedEvents)) return false
      return frames.every((f, k) => {
        const h = rec.headers[k]!
        const isRequest = (f.status & Status.RESPONSE) === 0
        return (
          h.requestId === f.requestId &&
          h.status === f.status &&
          h.version === f.version &&
          h.isRequest === isRequest &&
          same(h.variable, {
            requestHeaders: f.requestHeaders,
            responseHeaders: f.responseHeaders,
            features: isRequest && f.version < V_8_0_0 ? (f.features ?? []) : null,
            action: isRequest ? f.action : null,
          }) &&
          Buffer.concat(rec.bodies[k]!).equals(f.body!)
        )
      })
    }),
    { numRuns: 300 },
  )
  t.pass('round trip holds')
})

/** Mutations of a valid stream: bit flips, truncation, lying lengths / sizes, garbage. */
const hostile = fc
  .record({
    list: items,
    flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { maxLength: 2 }),
    overwrite: fc.array(fc.tuple(fc.nat(), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })), { maxLength: 2 }),
    truncate: fc.option(fc.nat()),
    garbage: fc.uint8Array({ maxLength: 64 }),
    garbageFirst: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
  })
  .map((m) => {
    let wire = Buffer.concat(m.list.map((i) => ('ping' in i ? encodePing() : encodeFrame(i.frame))))
    if (m.garbageFirst) wire = Buffer.concat([Buffer.from(m.garbage), wire])
    for (const [pos, bit] of m.flips) {
      const p = pos % wire.length
      wire[p] = wire[p]! ^ (1 << bit)
    }
    for (const [pos, value] of m.overwrite) {
      // Aim at the length (2) or var-header-size (19) fields of some frame start.
      const p = Math.max(0, Math.min(wire.length - 4, (pos % 2 === 0 ? 2 : 19) + (pos % Math.max(1, wire.length - 23))))
      if (wire.length >= 4) wire.writeInt32BE(value, p)
    }
    if (m.truncate !== null) wire = wire.subarray(0, m.truncate % (wire.length + 1))
    if (!m.garbageFirst) wire = Buffer.concat([wire, Buffer.from(m.garbage)])
    return wire
  })

t.test('property 2: hostile input never throws, stays bounded, and is chunking-independent', async (t) => {
  const inputs = fc.oneof(hostile, fc.uint8Array({ maxLength: 512 }).map((u) => Buffer.from(u)))
  fc.assert(
    fc.property(inputs, fc.array(fc.nat(), { maxLength: 30 }), fc.integer({ min: 23, max: 600 }), fc.nat(255), (wire, cuts, maxHeaderSize, pauseMask) => {
      const whole = run(chunk(wire, []), maxHeaderSize)
      const split = run(chunk(wire, cuts), maxHeaderSize, pauseMask)
      const bytes = run(chunk(wire, Array.from({ length: wire.length }, (_, i) => i)), maxHeaderSize)
      for (const r of [whole, split, bytes]) {
        if (r.rec.problems.length > 0 || !r.boundOk) return false
        // error, if any, is the last event.
        const errAt = r.rec.events.indexOf('error')
        if (errAt !== -1 && errAt !== r.rec.events.length - 1) return false
      }
      return same(summarize(split.rec), summarize(whole.rec)) && same(summarize(bytes.rec), summarize(whole.rec))
    }),
    { numRuns: 400 },
  )
  t.pass('robust')
})

t.test('property: pause/resume never changes the event sequence', async (t) => {
  fc.assert(
    fc.property(items, fc.array(fc.nat(), { maxLength: 20 }), fc.integer({ min: 1, max: 255 }), (list, cuts, pauseMask) => {
      const wire = Buffer.concat(list.map((i) => ('ping' in i ? encodePing() : encodeFrame(i.frame))))
      const chunks = chunk(wire, cuts)
      const plain = run(chunks, 1 << 20)
      const paused = run(chunks, 1 << 20, pauseMask)
      // Identical including body-slice boundaries.
      return (
        same(plain.rec.events, paused.rec.events) &&
        same(
          plain.rec.bodies.map((b) => b.map((s) => s.length)),
          paused.rec.bodies.map((b) => b.map((s) => s.length)),
        )
      )
    }),
    { numRuns: 200 },
  )
  t.pass('pause-transparent')
})

t.test('the hostile generator reaches many decoder outcomes', async (t) => {
  const reasons = new Map<string, number>()
  let framesDecoded = 0
  for (const wire of fc.sample(hostile, { numRuns: 400, seed: 42 })) {
    const { rec } = run(chunk(wire, []), 256)
    framesDecoded += rec.headers.length
    const key = rec.error ? rec.error.reason : 'none'
    reasons.set(key, (reasons.get(key) ?? 0) + 1)
  }
  t.comment(`outcomes: ${JSON.stringify(Object.fromEntries(reasons))}, frames decoded: ${framesDecoded}`)
  t.ok(reasons.size >= 5, 'at least five distinct outcomes')
  t.ok(framesDecoded > 100, 'many frames still decode')
})
