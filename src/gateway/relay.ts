/**
 * One client connection relayed 1:1 to one backend connection (transport-protocol.md §9: keeping the mapping 1:1
 * keeps the TCP handshake, version negotiation and request ids end-to-end).
 *
 *   client → [FrameDecoder: full headers] → policy → backend    (header bytes + body slices, never whole bodies)
 *   backend → [FrameDecoder: fixed header only, observing] → client   (chunks forwarded untouched)
 *
 * The gateway only ever injects one kind of frame: an error response to a request it denied. Because backend
 * chunks are forwarded whole and may end mid-frame, an injected frame is queued until the backend stream is at a
 * frame boundary; while something is queued the backend stream is forwarded frame piece by frame piece.
 */
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { performance } from 'node:perf_hooks'
import { FrameDecoder, type DecodedHeader, type FrameHandler } from '../codec/decoder.js'
import { encodeErrorFrame, type JavaException } from '../codec/exception.js'
import type { FrameProtocolError } from '../codec/errors.js'
import type { ActionMetrics, ClusterMetrics, GatewayMetrics, LimitName } from '../admin/metrics.js'
import { CROSS_CLUSTER_ACCESS_CREDENTIALS_HEADER_KEY, parseCredentialsHeader } from '../auth/credentials.js'
import type { Logger } from '../log.js'
import type { BackendPool, NodeState } from '../upstream/pool.js'
import type { ConnectionInfo, Denial, PolicyDecision, RequestPolicy } from './policy.js'

const PAUSE_BACKPRESSURE = 1
const PAUSE_POLICY = 2
const PAUSE_CONNECTING = 4

/**
 * Back-pressure threshold per socket. A TLS socket's write() returns false for every chunk of 16 KiB or more (TLS
 * writes complete asynchronously), so pausing the peer on `false` alone paused it after every chunk and cost ~1.6×
 * W1 throughput (bench/FINDINGS.md). The reader is paused only once this much is queued; 'drain' still resumes it
 * (a write that leaves more than the 16 KiB high-water mark queued always returned false, so 'drain' will come).
 * Worst case per connection: 2 × 1 MiB.
 */
const WRITE_BUFFER_PAUSE = 1024 * 1024

const TCP_HANDSHAKE_LABEL = 'internal:tcp/handshake'

export interface RelayContext {
  readonly pool: BackendPool
  readonly policy: RequestPolicy
  readonly metrics: GatewayMetrics
  readonly clusterMetrics: ClusterMetrics
  readonly log: Logger
  readonly maxHeaderSize: number
  readonly maxInFlight: number
  /** Concurrent connections per API key id (`clusters[].max_connections_per_api_key`); absent = not counted. */
  readonly keyLimiter?: ConnectionLimiter
}

/** Counts connections per API key id; `tryAcquire` is false when the key is at its limit. */
export interface ConnectionLimiter {
  readonly limit: number | null
  tryAcquire(id: string): boolean
  release(id: string): void
}

interface InFlight {
  /** The action's pre-bound metric cells (resolved once per request, not per response). */
  readonly m: ActionMetrics
  readonly t0: number
}

export type CloseReason =
  | 'client_closed'
  | 'backend_closed'
  | 'backend_unavailable'
  | 'client_error'
  | 'backend_error'
  | 'shutdown'
  | `framing_error:${string}`
  | `backend_framing_error:${string}`
  | `denied:${string}`
  | `limit:${string}`

export class Relay {
  readonly info: ConnectionInfo
  private backend: Socket | null = null
  private node: NodeState | null = null
  private readonly clientDecoder: FrameDecoder
  private readonly backendDecoder: FrameDecoder
  private clientPause = PAUSE_CONNECTING
  private backendPause = 0
  private skipBody = false
  private readonly inFlight = new Map<bigint, InFlight>()
  private untracked = 0
  /** Error frames waiting for the backend→client stream to reach a frame boundary. */
  private readonly injectQueue: Buffer[] = []
  private closeAfterInject: CloseReason | null = null
  private sliceMode = false
  private backendInFrame = false
  private closed = false
  private draining = false
  private readonly openedAt = performance.now()
  private bytesIn = 0
  private bytesOut = 0
  private closeReason: CloseReason = 'client_closed'
  /** Set at the first allowed request: the one whose API key the connection is counted against (admitKey). */
  private keyLearned = false
  private keyId: string | null = null
  private readonly onClosed: (r: Relay) => void
  /** The client socket is corked until the end of this event-loop turn (see onBackendData). */
  private outCorked = false
  private readonly uncorkOut = (): void => {
    this.outCorked = false
    this.client.uncork()
  }

  constructor(
    private readonly client: TLSSocket | Socket,
    private readonly ctx: RelayContext,
    info: ConnectionInfo,
    onClosed: (r: Relay) => void,
  ) {
    this.info = info
    this.onClosed = onClosed
    this.clientDecoder = new FrameDecoder(this.clientHandler(), { maxHeaderSize: ctx.maxHeaderSize })
    this.backendDecoder = new FrameDecoder(this.backendHandler(), { maxHeaderSize: ctx.maxHeaderSize, parseVariableHeader: false })
  }

  get inFlightCount(): number {
    return this.inFlight.size
  }

  get isClosed(): boolean {
    return this.closed
  }

  /** Connects upstream, then starts relaying. Client bytes that arrive meanwhile wait in the socket (paused). */
  async start(): Promise<void> {
    const client = this.client
    client.pause()
    client.on('data', (chunk: Buffer) => this.onClientData(chunk))
    client.on('end', () => this.close('client_closed'))
    client.on('close', () => this.close('client_closed'))
    client.on('error', (e) => {
      this.ctx.log.debug({ err: e.message, client: this.info.remoteAddress }, 'client socket error')
      this.close('client_error')
    })
    client.on('drain', () => this.unpauseBackend(PAUSE_BACKPRESSURE))
    let acquired: { socket: Socket; node: NodeState }
    try {
      acquired = await this.ctx.pool.acquire()
    } catch (e) {
      this.ctx.log.warn({ cluster: this.info.cluster, client: this.info.remoteAddress, err: (e as Error).message }, 'no backend node available; closing client connection')
      this.close('backend_unavailable')
      return
    }
    if (this.closed) {
      acquired.socket.destroy()
      this.ctx.pool.release(acquired.node)
      return
    }
    this.backend = acquired.socket
    this.node = acquired.node
    const backend = acquired.socket
    backend.on('data', (chunk: Buffer) => this.onBackendData(chunk))
    backend.on('end', () => this.close('backend_closed'))
    backend.on('close', () => this.close('backend_closed'))
    backend.on('error', (e) => {
      this.ctx.log.warn({ cluster: this.info.cluster, node: acquired.node.cfg.id, err: e.message }, 'backend socket error')
      this.close('backend_error')
    })
    backend.on('drain', () => this.unpauseClient(PAUSE_BACKPRESSURE))
    this.ctx.log.debug({ cluster: this.info.cluster, node: acquired.node.cfg.id, client: this.info.remoteAddress }, 'relay established')
    this.unpauseClient(PAUSE_CONNECTING)
  }

  // ---- client → backend --------------------------------------------------------------------------------------

  private onClientData(chunk: Buffer): void {
    if (this.closed) return
    this.bytesIn += chunk.length
    this.ctx.clusterMetrics.bytesIn.inc(chunk.length)
    const backend = this.backend!
    backend.cork()
    this.clientDecoder.push(chunk)
    backend.uncork()
  }

  private writeBackend(buf: Buffer): void {
    const b = this.backend!
    if (!b.write(buf) && b.writableLength > WRITE_BUFFER_PAUSE && (this.clientPause & PAUSE_BACKPRESSURE) === 0) this.pauseClient(PAUSE_BACKPRESSURE)
  }

  private clientHandler(): FrameHandler {
    return {
      ping: (bytes) => this.writeBackend(bytes),
      header: (h, raw) => this.onClientHeader(h, raw),
      body: (slice) => {
        if (!this.skipBody) this.writeBackend(slice)
      },
      frameEnd: () => {
        this.skipBody = false
        if (this.draining) this.maybeFinishDrain()
      },
      error: (e) => this.onFramingError(e, 'framing_error'),
    }
  }

  private onClientHeader(h: DecodedHeader, raw: Buffer): boolean {
    // After a closing denial nothing else from this client is forwarded, even frames in the same chunk.
    if (this.closed || this.closeAfterInject !== null) return false
    if (!h.isRequest) {
      // Elasticsearch server channels refuse inbound responses (InboundDecoder [9.x]): a protocol violation.
      this.violation('unexpected_response', 'received a response frame from the client')
      return false
    }
    if (h.isHandshake) {
      this.forwardRequest(h, raw, TCP_HANDSHAKE_LABEL)
      return true
    }
    const decision = this.ctx.policy.check(h, this.info)
    if (decision === null) {
      if (!this.keyLearned && !this.admitKey(h)) return false
      this.forwardRequest(h, raw, this.ctx.metrics.actionLabel(h.variable?.action ?? null))
      return true
    }
    if (!(decision instanceof Promise)) {
      this.deny(h, decision)
      return this.closeAfterInject === null
    }
    // The decision needs I/O: hold this frame (the decoder keeps the rest of the chunk) and stop reading.
    this.pauseClient(PAUSE_POLICY)
    decision.then(
      (d) => this.resumeAfterPolicy(h, raw, d),
      (e: unknown) => {
        this.ctx.log.error({ err: String(e), cluster: this.info.cluster }, 'policy check failed unexpectedly')
        this.close('backend_error')
      },
    )
    return false
  }

  private resumeAfterPolicy(h: DecodedHeader, raw: Buffer, d: PolicyDecision): void {
    if (this.closed) return
    const backend = this.backend!
    backend.cork()
    if (d === null) {
      if (this.keyLearned || this.admitKey(h)) this.forwardRequest(h, raw, this.ctx.metrics.actionLabel(h.variable?.action ?? null))
    } else this.deny(h, d)
    if (!this.closed && this.closeAfterInject === null) {
      this.clientDecoder.resume()
      this.unpauseClient(PAUSE_POLICY)
    }
    backend.uncork()
  }

  private forwardRequest(h: DecodedHeader, raw: Buffer, label: string): void {
    this.skipBody = false
    this.writeBackend(raw)
    if (this.inFlight.size < this.ctx.maxInFlight) this.inFlight.set(h.requestId, { m: this.ctx.clusterMetrics.forAction(label), t0: performance.now() })
    else if (this.untracked++ === 0) {
      // Counted once per connection, like the log line: the excess is still forwarded, only not attributed.
      this.ctx.metrics.limitHits.labels('max_in_flight_requests').inc()
      this.ctx.log.warn({ cluster: this.info.cluster, limit: this.ctx.maxInFlight }, 'too many requests in flight on one connection; not tracking the excess')
    }
  }

  /**
   * The connection is counted against the API key id of its first allowed request (after the TCP handshake; for
   * a proxy-mode connection, the remote cluster handshake, which always carries the credentials). Looked at once
   * per connection, so the data path pays one boolean test per request. Returns false when the key already has
   * `max_connections_per_api_key` connections, after answering this request with a 429 error frame (closing).
   */
  private admitKey(h: DecodedHeader): boolean {
    this.keyLearned = true
    const limiter = this.ctx.keyLimiter
    const credentials = h.variable?.requestHeaders.get(CROSS_CLUSTER_ACCESS_CREDENTIALS_HEADER_KEY)
    // No credentials (certificate-model connection, or authentication off): nothing to count.
    if (limiter === undefined || credentials === undefined) return true
    const parsed = parseCredentialsHeader(credentials)
    // Unparseable credentials can only pass with authentication off: there is no key id to count.
    if (!parsed.ok) return true
    if (limiter.tryAcquire(parsed.id)) {
      this.keyId = parsed.id
      return true
    }
    const limit = limiter.limit
    this.refuseForLimit(
      h,
      'api_key_max_connections',
      {
        type: 'security',
        status: 'TOO_MANY_REQUESTS',
        message: `too many connections for API key [${parsed.id}] through the gateway: at most ${limit} at once (clusters[].max_connections_per_api_key)`,
      },
      { api_key_id: parsed.id, limit },
    )
    return false
  }

  /** Answers a request refused by a limit with an error frame and closes the connection afterwards. */
  private refuseForLimit(h: DecodedHeader, limit: LimitName, exception: JavaException, audit: Record<string, string | number | null>): void {
    this.skipBody = true
    const action = h.variable?.action ?? null
    this.ctx.metrics.limitHits.labels(limit).inc()
    this.ctx.clusterMetrics.request(this.ctx.metrics.actionLabel(action), 'denied').inc()
    this.ctx.log.warn({ event: 'limit_hit', limit, cluster: this.info.cluster, client: this.info.remoteAddress, action, ...audit }, `request refused: ${limit} reached; closing the connection`)
    this.inject(encodeErrorFrame(h.requestId, h.version, exception), `limit:${limit}`)
  }

  private deny(h: DecodedHeader, d: Denial): void {
    this.skipBody = true
    const action = h.variable?.action ?? null
    this.ctx.metrics.authFailures.labels(this.info.cluster, d.reason).inc()
    this.ctx.clusterMetrics.request(this.ctx.metrics.actionLabel(action), 'denied').inc()
    this.ctx.log.warn(
      { event: 'denied', cluster: this.info.cluster, client: this.info.remoteAddress, action, reason: d.reason, close: d.close, ...d.audit },
      'request denied',
    )
    this.inject(encodeErrorFrame(h.requestId, h.version, d.exception), d.close ? `denied:${d.reason}` : null)
  }

  private violation(reason: string, message: string): void {
    this.ctx.metrics.frameErrors.labels(reason).inc()
    this.ctx.log.warn({ cluster: this.info.cluster, client: this.info.remoteAddress, reason }, message)
    this.close(`framing_error:${reason}`)
  }

  private onFramingError(e: FrameProtocolError, prefix: 'framing_error' | 'backend_framing_error'): void {
    const reason = prefix === 'framing_error' ? e.reason : `backend_${e.reason}`
    this.ctx.metrics.frameErrors.labels(reason).inc()
    if (e.reason === 'header_too_large') this.ctx.metrics.limitHits.labels('max_header_size').inc()
    this.ctx.log.warn({ cluster: this.info.cluster, client: this.info.remoteAddress, reason: e.reason, err: e.message }, prefix === 'framing_error' ? 'framing violation from client; closing' : 'framing violation from backend; closing')
    this.close(`${prefix}:${e.reason}`)
  }

  // ---- backend → client --------------------------------------------------------------------------------------

  private onBackendData(chunk: Buffer): void {
    if (this.closed) return
    this.bytesOut += chunk.length
    this.ctx.clusterMetrics.bytesOut.inc(chunk.length)
    if (!this.sliceMode) {
      // One write per event-loop turn: a TLS read yields 16 KiB chunks, and the ones read in one turn leave
      // together (one writev → one SSL_write → one syscall, FINDINGS.md §2: W2 1.43×, syscalls per MB 110 → 23).
      if (!this.outCorked) {
        this.outCorked = true
        this.client.cork()
        setImmediate(this.uncorkOut)
      }
      // Forward first, then observe: whatever the observation triggers (a drain finishing, a framing error)
      // must not drop bytes the client is owed.
      this.writeClient(chunk)
      this.backendDecoder.push(chunk)
      return
    }
    this.client.cork()
    this.backendDecoder.push(chunk)
    if (this.injectQueue.length === 0) this.sliceMode = false
    this.client.uncork()
  }

  private writeClient(buf: Buffer): void {
    const c = this.client
    if (!c.write(buf) && c.writableLength > WRITE_BUFFER_PAUSE && (this.backendPause & PAUSE_BACKPRESSURE) === 0) this.pauseBackend(PAUSE_BACKPRESSURE)
  }

  private backendHandler(): FrameHandler {
    return {
      ping: (bytes) => {
        if (this.sliceMode) this.writeClient(bytes)
      },
      header: (h, raw) => {
        this.backendInFrame = true
        if (this.sliceMode) this.writeClient(raw)
        if (!h.isRequest) this.onResponse(h)
      },
      body: (slice) => {
        if (this.sliceMode) this.writeClient(slice)
      },
      frameEnd: () => {
        this.backendInFrame = false
        if (this.sliceMode) this.flushInjected()
        if (this.draining) this.maybeFinishDrain()
      },
      error: (e) => this.onFramingError(e, 'backend_framing_error'),
    }
  }

  private onResponse(h: DecodedHeader): void {
    const f = this.inFlight.get(h.requestId)
    if (f === undefined) return
    this.inFlight.delete(h.requestId)
    ;(h.isError ? f.m.error : f.m.success).inc()
    f.m.duration.observe((performance.now() - f.t0) / 1000)
  }

  private atBackendFrameBoundary(): boolean {
    return !this.backendInFrame && this.backendDecoder.bufferedBytes === 0
  }

  private inject(frame: Buffer, closeReason: CloseReason | null): void {
    this.injectQueue.push(frame)
    if (closeReason !== null && this.closeAfterInject === null) {
      this.closeAfterInject = closeReason
      // Nothing more from this client is read or forwarded.
      this.pauseClient(PAUSE_POLICY)
    }
    if (this.atBackendFrameBoundary()) this.flushInjected()
    else this.sliceMode = true
  }

  private flushInjected(): void {
    for (const f of this.injectQueue) this.client.write(f)
    this.injectQueue.length = 0
    if (this.closeAfterInject !== null) this.close(this.closeAfterInject)
  }

  // ---- flow control ------------------------------------------------------------------------------------------

  private pauseClient(bit: number): void {
    if (this.clientPause === 0) this.client.pause()
    this.clientPause |= bit
  }

  private unpauseClient(bit: number): void {
    if ((this.clientPause & bit) === 0) return
    this.clientPause &= ~bit
    if (this.clientPause === 0 && !this.closed) this.client.resume()
  }

  private pauseBackend(bit: number): void {
    if (this.backendPause === 0) this.backend?.pause()
    this.backendPause |= bit
  }

  private unpauseBackend(bit: number): void {
    if ((this.backendPause & bit) === 0) return
    this.backendPause &= ~bit
    if (this.backendPause === 0 && !this.closed) this.backend?.resume()
  }

  // ---- shutdown ----------------------------------------------------------------------------------------------

  /** Graceful stop: close as soon as no request is in flight and both streams are at a frame boundary. */
  drain(): void {
    this.draining = true
    this.ctx.log.debug({ cluster: this.info.cluster, client: this.info.remoteAddress, in_flight: this.inFlight.size }, 'draining connection')
    this.maybeFinishDrain()
  }

  private maybeFinishDrain(): void {
    if (this.closed || this.inFlight.size > 0) return
    if (!this.atBackendFrameBoundary() || this.clientDecoder.bufferedBytes > 0 || this.skipBody) return
    this.close('shutdown')
  }

  close(reason: CloseReason): void {
    if (this.closed) return
    this.closed = true
    this.closeReason = reason
    endThenDestroy(this.client)
    if (this.backend !== null) endThenDestroy(this.backend)
    if (this.node !== null) this.ctx.pool.release(this.node)
    if (this.keyId !== null) this.ctx.keyLimiter?.release(this.keyId)
    for (const f of this.inFlight.values()) f.m.dropped.inc()
    this.inFlight.clear()
    const seconds = (performance.now() - this.openedAt) / 1000
    this.ctx.metrics.connectionDuration.observe(seconds)
    this.ctx.log.info(
      {
        event: 'connection_closed',
        cluster: this.info.cluster,
        sni: this.info.servername,
        client: this.info.remoteAddress,
        node: this.node?.cfg.id ?? null,
        ...(this.keyId !== null ? { api_key_id: this.keyId } : {}),
        bytes_in: this.bytesIn,
        bytes_out: this.bytesOut,
        duration_s: Math.round(seconds * 1000) / 1000,
        close_reason: this.closeReason,
      },
      'connection closed',
    )
    this.onClosed(this)
  }
}

/** Flush what is queued, send FIN, and release the socket once written (or at once if it is already broken). */
function endThenDestroy(s: Socket): void {
  if (s.destroyed) return
  if (!s.writable) {
    s.destroy()
    return
  }
  s.once('finish', () => s.destroy())
  s.once('error', () => s.destroy())
  s.end()
}
