/**
 * Test helpers for the decoder: a recording FrameHandler and chunking utilities.
 * (tap runs every .ts under test/, so this file also carries one tiny self-test.)
 */
import { pathToFileURL } from 'node:url'
import { FrameDecoder, type DecodedHeader, type FrameHandler, type FrameProtocolError } from '../../src/codec/index.js'

export interface RecordedFrame {
  h: DecodedHeader
  raw: Buffer
  body: Buffer
  slices: Buffer[]
}

export interface Recording {
  /** 'ping' | 'header' | 'body' | 'end' | 'error' in order. */
  events: string[]
  frames: RecordedFrame[]
  pings: Buffer[]
  error: FrameProtocolError | null
  decoder: FrameDecoder
}

export interface RecordOptions {
  maxHeaderSize?: number
  parseVariableHeader?: boolean
  /** Return false from header() for these frame indexes (0-based). */
  pauseOn?: (frameIndex: number) => boolean
}

export function recorder(opts: RecordOptions = {}): Recording {
  const rec: Recording = { events: [], frames: [], pings: [], error: null, decoder: undefined as unknown as FrameDecoder }
  let cur: RecordedFrame | null = null
  const handler: FrameHandler = {
    ping(bytes) {
      rec.events.push('ping')
      rec.pings.push(Buffer.from(bytes))
    },
    header(h, raw) {
      rec.events.push('header')
      cur = { h, raw: Buffer.from(raw), body: Buffer.alloc(0), slices: [] }
      rec.frames.push(cur)
      if (opts.pauseOn?.(rec.frames.length - 1)) return false
      return true
    },
    body(slice) {
      rec.events.push('body')
      cur!.slices.push(slice)
    },
    frameEnd(h) {
      rec.events.push('end')
      if (cur === null || cur.h !== h) throw new Error('frameEnd for an unknown frame')
      cur.body = Buffer.concat(cur.slices)
      cur = null
    },
    error(e) {
      rec.events.push('error')
      if (rec.error !== null) throw new Error('error() called twice')
      rec.error = e
    },
  }
  rec.decoder = new FrameDecoder(handler, {
    maxHeaderSize: opts.maxHeaderSize ?? 1 << 20,
    parseVariableHeader: opts.parseVariableHeader ?? true,
  })
  return rec
}

/** Pushes all chunks (resuming immediately whenever the decoder pauses). */
export function decodeAll(chunks: Buffer[], opts: RecordOptions = {}): Recording {
  const rec = recorder(opts)
  for (const c of chunks) {
    rec.decoder.push(c)
    while (rec.decoder.paused) rec.decoder.resume()
  }
  return rec
}

export function bytewise(buf: Buffer): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; i < buf.length; i++) out.push(buf.subarray(i, i + 1))
  return out
}

/** Splits at the given cut points (sorted, deduplicated, clamped). */
export function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.max(0, Math.min(buf.length, c))))].sort((a, b) => a - b)
  const out: Buffer[] = []
  let prev = 0
  for (const p of points) {
    if (p > prev) out.push(buf.subarray(prev, p))
    prev = p
  }
  if (prev < buf.length) out.push(buf.subarray(prev))
  return out
}

/** Comparable summary of a recording: events without body boundaries + frame contents. */
export function summary(rec: Recording): unknown {
  const events: string[] = []
  for (const e of rec.events) if (e !== 'body') events.push(e)
  return {
    events,
    frames: rec.frames.map((f) => ({
      requestId: f.h.requestId,
      status: f.h.status,
      version: f.h.version,
      messageLength: f.h.messageLength,
      varHeaderSize: f.h.varHeaderSize,
      bodyLength: f.h.bodyLength,
      variable: f.h.variable,
      raw: f.raw.toString('hex'),
      body: f.body.toString('hex'),
    })),
    pings: rec.pings.map((p) => p.toString('hex')),
    error: rec.error === null ? null : { reason: rec.error.reason, message: rec.error.message },
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { default: t } = await import('tap')
  t.test('splitAt', async (t) => {
    t.same(splitAt(Buffer.from('abcdef'), [4, 2, 2, 9]).map(String), ['ab', 'cd', 'ef'])
    t.same(bytewise(Buffer.from('ab')).map(String), ['a', 'b'])
  })
}
