/**
 * Target `relay`: the whole src/gateway/relay.ts Relay between fake sockets, fed a mutated client stream and a
 * mutated backend response stream in chunks and an interleaving chosen by `aux`, with a deterministic policy that
 * allows, denies (open), denies and closes, or decides asynchronously, by action name.
 *
 * The input is a container: uint32 BE client length, the client bytes, then the backend bytes (fuzz/corpus/relay).
 *
 * Invariants per case:
 *  - no exception escapes and the relay reports no `internal_error` (its per-connection guard caught nothing);
 *  - backend → client: the bytes the client receives are a prefix of the backend stream with only whole error
 *    frames (status RESPONSE|ERROR, the request id of a request the client sent) inserted, and only at backend
 *    frame boundaries;
 *  - client → backend: what the backend receives is a subsequence of the client's frames, each byte-identical
 *    (a frame cut off by the end of the stream may be a prefix);
 *  - bounded: the relay's client decoder never holds more than max_header_size + one chunk (read tolerantly:
 *    the field is private and may be renamed by the relay's owner).
 *
 * Tolerance: only `new Relay(clientSocket, ctx, info, onClosed)`, `start()`, `close()` and the RelayContext fields
 * below are relied on; the fake sockets implement what net.Socket offers the relay (pause, resume, write → bool,
 * cork, uncork, end, destroy, writable, destroyed, writableLength, events).
 */
import { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import { Relay, type RelayContext } from '../../src/gateway/relay.js'
import type { PolicyDecision, RequestPolicy } from '../../src/gateway/policy.js'
import type { BackendPool, NodeState } from '../../src/upstream/pool.js'
import { GatewayMetrics } from '../../src/admin/metrics.js'
import { createLogger } from '../../src/log.js'
import { FrameDecoder } from '../../src/codec/decoder.js'
import { Status } from '../../src/codec/constants.js'
import { chunking, invariant, latin1, type Target } from '../lib/target.js'

export const RELAY_MAX_HEADER_SIZE = 8192

class FakeSocket extends EventEmitter {
  readonly written: Buffer[] = []
  writableLength = 0
  destroyed = false
  writable = true
  paused = false
  private readonly inbox: Buffer[] = []
  highWaterMark = 16 * 1024

  write(buf: Buffer | Uint8Array): boolean {
    if (this.destroyed || !this.writable) return false
    this.written.push(Buffer.from(buf))
    this.writableLength += buf.length
    return this.writableLength < this.highWaterMark
  }
  cork(): void {}
  uncork(): void {}
  pause(): this {
    this.paused = true
    return this
  }
  resume(): this {
    this.paused = false
    while (!this.paused && this.inbox.length > 0 && !this.destroyed) this.emit('data', this.inbox.shift()!)
    return this
  }
  /** The peer sends: delivered now unless paused (then it waits in the "kernel"). */
  feed(buf: Buffer): void {
    if (this.destroyed) return
    if (this.paused || this.inbox.length > 0) this.inbox.push(buf)
    else this.emit('data', buf)
  }
  /** The peer reads everything queued. */
  drain(): void {
    const had = this.writableLength
    this.writableLength = 0
    if (had > 0) this.emit('drain')
  }
  end(): this {
    if (!this.writable) return this
    this.writable = false
    // The peer reads what is queued, then the socket finishes.
    this.writableLength = 0
    queueMicrotask(() => this.emit('finish'))
    return this
  }
  destroy(): this {
    if (this.destroyed) return this
    this.destroyed = true
    this.writable = false
    queueMicrotask(() => this.emit('close'))
    return this
  }
  output(): Buffer {
    return Buffer.concat(this.written)
  }
}

const denial = (reason: string, close: boolean): PolicyDecision => ({
  reason,
  close,
  exception: { type: 'security', message: `fuzz policy: ${reason}`, status: 'FORBIDDEN', cause: null },
})

/** Allow, deny, deny-and-close or decide later, from the action name (deterministic). */
const fuzzPolicy: RequestPolicy = {
  check(h) {
    const a = h.variable?.action ?? ''
    if (a.includes('delete')) return denial('action_not_allowed', false)
    if (a.includes('close')) return denial('authentication_failed', true)
    if (a.includes('async')) return Promise.resolve(a.includes('deny') ? denial('async_denied', false) : null)
    return null
  },
}

let internalErrors = 0
let metrics: GatewayMetrics | null = null
let log: ReturnType<typeof createLogger> | null = null

function shared(): { metrics: GatewayMetrics; log: ReturnType<typeof createLogger> } {
  metrics ??= new GatewayMetrics({ collectDefault: false })
  log ??= createLogger('error', {
    write(s: string) {
      if (s.includes('internal_error')) internalErrors++
    },
  })
  return { metrics, log }
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r))

/** Lets a few rounds of microtasks run (async policy decisions, the fake sockets' finish/close events). */
async function micro(rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve()
}

/** At most MAX_CHUNKS chunks per stream: the harness's own per-chunk cost must not dominate a case's time. */
const MAX_CHUNKS = 256

function capped(chunks: Buffer[], buf: Buffer): Buffer[] {
  if (chunks.length <= MAX_CHUNKS) return chunks
  const size = Math.ceil(buf.length / MAX_CHUNKS)
  const out: Buffer[] = []
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size))
  return out
}

interface Segment {
  readonly start: number
  readonly end: number
  readonly requestId: bigint | null
  readonly isRequest: boolean
}

/** Frame segments of a stream (fixed-header-only decoding), up to the first framing error / partial frame. */
function segments(buf: Buffer, headerIds?: Set<bigint>): Segment[] {
  const out: Segment[] = []
  let off = 0
  let cur: { start: number; requestId: bigint; isRequest: boolean } | null = null
  const d = new FrameDecoder(
    {
      ping: () => {
        out.push({ start: off, end: off + 6, requestId: null, isRequest: false })
        off += 6
      },
      header: (h, raw) => {
        cur = { start: off, requestId: h.requestId, isRequest: h.isRequest }
        if (h.isRequest) headerIds?.add(h.requestId)
        off += raw.length
      },
      body: (s) => void (off += s.length),
      frameEnd: () => {
        out.push({ ...cur!, end: off })
        cur = null
      },
      error: () => {},
    },
    { maxHeaderSize: Infinity, fixedHeaderOnly: true },
  )
  d.push(buf)
  return out
}

function splitInput(input: Buffer): [Buffer, Buffer] {
  if (input.length < 4) return [input, Buffer.alloc(0)]
  const n = Math.min(input.readUInt32BE(0), input.length - 4)
  return [input.subarray(4, 4 + n), input.subarray(4 + n)]
}

/** The client's view: backend bytes (a prefix) with whole error frames inserted at backend frame boundaries. */
function checkClientOutput(out: Buffer, backend: Buffer, clientRequestIds: ReadonlySet<bigint>): number {
  const segs = segments(backend)
  const boundaries = new Set<number>([0, ...segs.map((s) => s.end)])
  const segAt = new Map(segs.map((s) => [s.start, s]))
  let i = 0
  let j = 0
  let injected = 0
  while (i < out.length) {
    // The simplest reading first: everything left is the backend stream from j on (no more injected frames).
    const left = out.length - i
    if (j + left <= backend.length && out.compare(backend, j, j + left, i, out.length) === 0) break
    const seg = segAt.get(j)
    if (seg !== undefined && out.length - i >= seg.end - seg.start && out.compare(backend, seg.start, seg.end, i, i + seg.end - seg.start) === 0) {
      i += seg.end - seg.start
      j = seg.end
      continue
    }
    if (boundaries.has(j) && out.length - i >= 23 && out[i] === 0x45 && out[i + 1] === 0x53) {
      // An injected frame: whole, an error response to a request the client sent.
      const len = out.readInt32BE(i + 2)
      const status = out[i + 14]!
      const id = out.readBigInt64BE(i + 6)
      if (len > 0 && i + 6 + len <= out.length && (status & (Status.RESPONSE | Status.ERROR)) === (Status.RESPONSE | Status.ERROR) && clientRequestIds.has(id)) {
        // Prefer the backend reading when both fit (an identical error frame from the backend).
        i += 6 + len
        injected++
        continue
      }
    }
    // Otherwise the rest must be a prefix of the backend bytes from j (a frame cut off, or bytes after a framing error).
    const rest = out.length - i
    invariant(j + rest <= backend.length && out.compare(backend, j, j + rest, i, out.length) === 0, () => `client output diverges from the backend stream at output ${i} / backend ${j}`)
    i = out.length
  }
  return injected
}

/** The backend's view: a subsequence of the client's frames, byte-identical, the last possibly cut off. */
function checkBackendOutput(out: Buffer, client: Buffer): void {
  const segs = segments(client)
  let pos = 0
  for (const s of segs) {
    if (pos >= out.length) break
    const len = s.end - s.start
    const rem = out.length - pos
    if (rem >= len && out.compare(client, s.start, s.end, pos, pos + len) === 0) {
      pos += len
      continue
    }
    if (rem < len && out.compare(client, s.start, s.start + rem, pos, out.length) === 0) {
      pos = out.length
      break
    }
  }
  if (pos < out.length) {
    // A frame the client stream ends inside of (not a whole segment): its forwarded part is a prefix.
    const tailStart = segs.length === 0 ? 0 : segs[segs.length - 1]!.end
    const rem = out.length - pos
    invariant(tailStart + rem <= client.length && out.compare(client, tailStart, tailStart + rem, pos, out.length) === 0, () => `backend received bytes that are not client frames (at ${pos} of ${out.length})`)
  }
}

export const relayTarget: Target = {
  name: 'relay',
  description: 'src/gateway/relay.ts Relay through fake sockets: mutated client and backend streams, chunked and interleaved',
  maxLen: 32 * 1024,
  dict: [latin1('ES'), Buffer.from([0x45, 0x53, 0xff, 0xff, 0xff, 0xff]), latin1('delete'), latin1('close'), latin1('async'), latin1('deny'), Buffer.from([0x08]), Buffer.from([0x01]), Buffer.from([0x03]), latin1('\x16internal:tcp/handshake')],
  async exec(input, aux) {
    const [clientBytes, backendBytes] = splitInput(input)
    const { metrics: m, log: l } = shared()
    const before = internalErrors
    const client = new FakeSocket()
    const backend = new FakeSocket()
    const node = { cfg: { id: 'fuzz' } } as unknown as NodeState
    const pool = { acquire: () => Promise.resolve({ socket: backend as unknown as Socket, node }), release: () => {} } as unknown as BackendPool
    const ctx: RelayContext = {
      pool,
      policy: fuzzPolicy,
      metrics: m,
      clusterMetrics: m.forCluster('fuzz'),
      log: l,
      maxHeaderSize: RELAY_MAX_HEADER_SIZE,
      maxInFlight: 64,
      firstRequestTimeoutMs: 0,
      closeTimeoutMs: 60_000,
    }
    let closed = false
    const relay = new Relay(client as unknown as Socket, ctx, { cluster: 'fuzz', remoteAddress: '127.0.0.1:1', servername: null }, () => {
      closed = true
    })
    await relay.start()
    const cChunks = capped(chunking(clientBytes, aux.slice(0, 6)), clientBytes)
    const bChunks = capped(chunking(backendBytes, aux.slice(6, 12)), backendBytes)
    let schedule = aux[12] ?? 0x5555_5555
    let ci = 0
    let bi = 0
    let maxChunk = 0
    const decoderBound = (): void => {
      const held = (relay as unknown as { clientDecoder?: { bufferedBytes?: unknown } }).clientDecoder?.bufferedBytes
      if (typeof held === 'number') invariant(held <= RELAY_MAX_HEADER_SIZE + maxChunk, () => `relay client decoder holds ${held} bytes`)
    }
    let step = 0
    while ((ci < cChunks.length || bi < bChunks.length) && !closed) {
      const bit = schedule & 1
      schedule = (schedule >>> 1) | (bit << 31)
      if ((bit === 0 && ci < cChunks.length) || bi >= bChunks.length) {
        const c = cChunks[ci++]!
        maxChunk = Math.max(maxChunk, c.length)
        client.feed(c)
      } else {
        backend.feed(bChunks[bi++]!)
      }
      decoderBound()
      // Sometimes let async policy decisions, uncork immediates and drains run between steps.
      if (((aux[13] ?? 3) >>> (step++ % 31)) & 1) await micro(3)
      if (((aux[14] ?? 0) >>> (step % 31)) & 1) {
        client.drain()
        backend.drain()
      }
    }
    await settle()
    decoderBound()
    // Requests whose header the client sent (a denial is answered at the header, the body may never come).
    const clientIds = new Set<bigint>()
    segments(clientBytes, clientIds)
    const injected = checkClientOutput(client.output(), backendBytes, clientIds)
    checkBackendOutput(backend.output(), clientBytes)
    if (!closed) relay.close('shutdown')
    await micro(4)
    invariant(internalErrors === before, 'the relay caught an internal error (an exception escaped a parser or handler)')
    invariant(closed, 'onClosed was not called after close()')
    return `${injected > 0 ? 'inj' : 'noinj'}:${backend.written.length > 0 ? 'fwd' : 'nofwd'}:${client.destroyed ? 'd' : ''}`
  },
}

/** Debug aid (not used by the checks): the streams of a relay input. */
export function relayStreams(input: Buffer): { client: Buffer; backend: Buffer } {
  const [client, backend] = splitInput(input)
  return { client, backend }
}
