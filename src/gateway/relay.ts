/**
 * One client connection relayed 1:1 to one backend connection (transport-protocol.md §9: keeping the mapping 1:1
 * keeps the TCP handshake, version negotiation and request ids end-to-end).
 *
 *   client → [FrameDecoder: full headers] → policy → backend    (header bytes + body slices, never whole bodies)
 *   backend → [FrameDecoder: fixed 23 bytes only, observing] → client   (chunks forwarded untouched)
 *
 * The gateway only ever injects one kind of frame: an error response to a request it refused. Backend chunks are
 * forwarded whole and may end mid-frame, so an injected frame waits until the backend stream reaches a frame
 * boundary; the chunk in which that boundary falls is then written in two pieces around the injected frames. The
 * boundary is found by counting: every byte of the backend stream is reported exactly once by the observing decoder
 * (23 header bytes, then body slices), so "bytes reported" is the stream offset of the decoder, and a frame end
 * inside the current chunk is at `reported - chunkStart`. Nothing is re-sent or skipped whatever the chunking
 * (test/gateway/relay-stream.test.ts checks every split point).
 *
 * Bounds per connection (issue #11; each has a test):
 *  - held client bytes: the decoder's header bound (limits.max_header_size) plus the rest of one socket chunk;
 *    whenever the decoder is held (async policy decision, queued error frames, output back-pressure, closing) the
 *    client socket is paused too, so nothing more is read;
 *  - queued output: WRITE_BUFFER_PAUSE per direction (+ one chunk, or one error frame);
 *  - backend bytes before authentication: one TCP handshake frame of at most MAX_HANDSHAKE_BODY body bytes, and no
 *    more than limits.first_request_timeout of waiting for the first authenticated request;
 *  - closing: at most closeTimeoutMs waiting for a peer to read what is queued, then the socket is destroyed;
 *  - API keys counted per connection: MAX_KEYS_PER_CONNECTION.
 * An unexpected exception in any callback closes this connection only (`event: internal_error`, counted).
 */
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { performance } from 'node:perf_hooks'
import { FrameDecoder, type DecodedHeader, type FrameHandler } from '../codec/decoder.js'
import { encodeErrorFrame, type JavaException } from '../codec/exception.js'
import type { FrameProtocolError } from '../codec/errors.js'
import { TCP_HANDSHAKE_ACTION } from '../codec/constants.js'
import type { ActionMetrics, ClusterMetrics, GatewayMetrics, LimitName } from '../admin/metrics.js'
import { CROSS_CLUSTER_ACCESS_CREDENTIALS_HEADER_KEY, parseCredentialsHeader } from '../auth/credentials.js'
import type { Logger } from '../log.js'
import type { BackendPool, NodeState } from '../upstream/pool.js'
import type { ConnectionInfo, Denial, PolicyDecision, RequestPolicy } from './policy.js'

// Why the client socket is paused (bits).
const PAUSE_BACKPRESSURE = 1
const PAUSE_HOLD = 2
const PAUSE_CONNECTING = 4

// Why the client decoder is held (bits); any of them also sets PAUSE_HOLD on the socket.
/** An async policy decision (key lookup) is pending for the held frame. */
const HOLD_POLICY = 1
/** Error frames wait for the backend stream to reach a frame boundary. */
const HOLD_INJECT = 2
/** The client is not reading what the gateway itself wrote (error frames): wait for 'drain'. */
const HOLD_OUTPUT = 4
/** A closing refusal: nothing more from this client is read. */
const HOLD_CLOSING = 8

/**
 * Back-pressure threshold per socket. A TLS socket's write() returns false for every chunk of 16 KiB or more (TLS
 * writes complete asynchronously), so pausing the peer on `false` alone paused it after every chunk and cost ~1.6×
 * W1 throughput (bench/FINDINGS.md). The reader is paused only once this much is queued; 'drain' still resumes it
 * (a write that leaves more than the 16 KiB high-water mark queued always returned false, so 'drain' will come).
 * Worst case per connection: 2 × 1 MiB (+ one chunk each way).
 */
export const WRITE_BUFFER_PAUSE = 1024 * 1024

/**
 * Largest TCP handshake body relayed. Elasticsearch's handshake request body is the parent task id, then a bytes
 * reference holding a vInt TransportVersion and (v8800000) the release string: about 15 bytes
 * (TransportHandshaker.HandshakeRequest [9.x], transport-protocol.md §5.1). Elasticsearch reads handshakes outside
 * its circuit breaker, so the gateway, which relays them before any authentication, keeps them small.
 */
export const MAX_HANDSHAKE_BODY = 4096

/**
 * Distinct API key ids one connection may be counted against. A local cluster uses one key per remote alias on a
 * connection; the cap bounds what a connection can make the gateway remember.
 */
export const MAX_KEYS_PER_CONNECTION = 8

/** How long a closing socket may take to flush what is queued before it is destroyed. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 5000

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
  /**
   * Authenticated connections of the cluster (`clusters[].max_connections`): acquired at the first request the
   * policy allows, so unauthenticated sockets never take a slot. Absent = not counted.
   */
  readonly clusterLimiter?: SlotLimiter
  /** limits.first_request_timeout: from start() to the first allowed request; 0 = none. */
  readonly firstRequestTimeoutMs?: number
  /** Deadline for a closing socket to flush (default DEFAULT_CLOSE_TIMEOUT_MS). */
  readonly closeTimeoutMs?: number
  /** clusters[].max_connection_age: close at the first idle frame boundary after this (±AGE_JITTER); 0 = never. */
  readonly maxConnectionAgeMs?: number
}

/**
 * Spread of max_connection_age: ±10 %. A local node opens its proxy_socket_connections (18) sockets at about the
 * same moment; without jitter they would all age out, and reconnect, in the same instant.
 */
export const AGE_JITTER = 0.1

/** Counts connections per API key id; `tryAcquire` is false when the key is at its limit. */
export interface ConnectionLimiter {
  readonly limit: number | null
  tryAcquire(id: string): boolean
  release(id: string): void
}

/** One counted slot per connection (a cluster's max_connections). */
export interface SlotLimiter {
  readonly limit: number | null
  tryAcquire(): boolean
  release(): void
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
  | 'max_connection_age'
  | 'internal_error'
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
  private holds = 0
  private skipBody = false
  private readonly inFlight = new Map<bigint, InFlight>()
  private untracked = 0
  private handshakes = 0
  /** Error frames waiting for the backend→client stream to reach a frame boundary. */
  private readonly injectQueue: Buffer[] = []
  private closeAfterInject: CloseReason | null = null
  /** Backend stream offsets: bytes received, and bytes the observing decoder has reported (see the file comment). */
  private backendReceived = 0
  private backendReported = 0
  private backendInFrame = false
  /** While a chunk is split around injected frames: the chunk, its stream offset, and how much of it is written. */
  private splitChunk: Buffer | null = null
  private splitStart = 0
  private splitWritten = 0
  private closed = false
  private draining = false
  /** What a finished drain closes with: a graceful stop, or max_connection_age. */
  private drainReason: CloseReason = 'shutdown'
  private ageTimer: NodeJS.Timeout | null = null
  private readonly openedAt = performance.now()
  private bytesIn = 0
  private bytesOut = 0
  private closeReason: CloseReason = 'client_closed'
  /** Set at the first allowed request (the connection is authenticated from then on). */
  private authenticated = false
  private clusterSlot = false
  private firstRequestTimer: NodeJS.Timeout | null = null
  private closingTimer: NodeJS.Timeout | null = null
  /** API key ids this connection is counted against (first one first), and the credentials string last admitted. */
  private readonly keyIds: string[] = []
  private lastAdmittedCredentials: string | null = null
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
    // Responses come from the trusted cluster and are only observed: nothing beyond the 23 fixed bytes is held, so
    // no header bound applies to them (a response may carry many `Warning` headers).
    this.backendDecoder = new FrameDecoder(this.backendHandler(), { maxHeaderSize: Infinity, fixedHeaderOnly: true })
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
    // try/catch inline rather than guard(): no closure allocated per chunk on the data path.
    client.on('data', (chunk: Buffer) => {
      try {
        this.onClientData(chunk)
      } catch (e) {
        this.internalError(e)
      }
    })
    client.on('end', () => this.close('client_closed'))
    client.on('close', () => this.close('client_closed'))
    client.on('error', (e) => {
      this.ctx.log.debug({ err: e.message, client: this.info.remoteAddress }, 'client socket error')
      this.close('client_error')
    })
    client.on('drain', () =>
      this.guard(() => {
        this.unpauseBackend(PAUSE_BACKPRESSURE)
        this.release(HOLD_OUTPUT)
      }),
    )
    const deadline = this.ctx.firstRequestTimeoutMs ?? 0
    if (deadline > 0) this.firstRequestTimer = setTimeout(() => this.guard(() => this.onFirstRequestTimeout(deadline)), deadline)
    const age = this.ctx.maxConnectionAgeMs ?? 0
    if (age > 0) {
      this.ageTimer = setTimeout(() => this.guard(() => this.ageOut(age)), age * (1 - AGE_JITTER + Math.random() * 2 * AGE_JITTER))
      // Never what keeps a stopping process alive.
      this.ageTimer.unref()
    }
    // Fast failure for a black-holed cluster (issue #13): when the health checks have every node down, waiting in
    // acquire() for connect timeouts (connect_timeout per node, 10 s each by default) would outlast the client's own
    // connect timeout (Elasticsearch's transport.connect_timeout, 30 s), so the client would learn nothing but a
    // timeout. The connection is closed right after TLS instead, as a routed connection (opened/closed log lines,
    // duration) with a log line and a metric saying why.
    if (this.ctx.pool.blackHoled) {
      this.ctx.metrics.backendUnavailable.labels(this.info.cluster, 'no_healthy_node').inc()
      this.ctx.log.warn(
        {
          event: 'backend_unavailable',
          reason: 'no_healthy_node',
          cluster: this.info.cluster,
          client: this.info.remoteAddress,
          sni: this.info.servername,
          nodes: this.ctx.pool.nodes.map((n) => ({ node: n.cfg.id, err: n.lastError })),
        },
        `connection closed: cluster ${this.info.cluster} has no healthy backend node (every health check failed)`,
      )
      this.close('backend_unavailable')
      return
    }
    let acquired: { socket: Socket; node: NodeState }
    try {
      acquired = await this.ctx.pool.acquire()
    } catch (e) {
      this.ctx.metrics.backendUnavailable.labels(this.info.cluster, 'connect_failed').inc()
      this.ctx.log.warn(
        { event: 'backend_unavailable', reason: 'connect_failed', cluster: this.info.cluster, client: this.info.remoteAddress, err: (e as Error).message },
        'no backend node available; closing client connection',
      )
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
    backend.on('data', (chunk: Buffer) => {
      try {
        this.onBackendData(chunk)
      } catch (e) {
        this.internalError(e)
      }
    })
    backend.on('end', () => this.close('backend_closed'))
    backend.on('close', () => this.close('backend_closed'))
    backend.on('error', (e) => {
      this.ctx.log.warn({ cluster: this.info.cluster, node: acquired.node.cfg.id, err: e.message }, 'backend socket error')
      this.close('backend_error')
    })
    backend.on('drain', () => this.guard(() => this.unpauseClient(PAUSE_BACKPRESSURE)))
    this.ctx.log.debug({ cluster: this.info.cluster, node: acquired.node.cfg.id, client: this.info.remoteAddress }, 'relay established')
    this.unpauseClient(PAUSE_CONNECTING)
  }

  // ---- the per-connection guard ------------------------------------------------------------------------------

  /**
   * Runs a callback of this connection. Nothing a client sends may throw out of the relay (the parsers return
   * errors), but should anything still throw, only this connection pays: it is closed, logged once and counted.
   */
  private guard(fn: () => void): void {
    try {
      fn()
    } catch (e) {
      this.internalError(e)
    }
  }

  private internalError(e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e))
    try {
      this.ctx.metrics.internalErrors.inc()
      this.ctx.log.error(
        { event: 'internal_error', cluster: this.info.cluster, client: this.info.remoteAddress, err: err.message, stack: err.stack ?? null },
        'unexpected error on one connection; closing that connection',
      )
    } finally {
      if (!this.closed) {
        try {
          this.close('internal_error')
        } catch {
          // close() itself failed half-way: make sure both sockets go away.
          this.client.destroy()
          this.backend?.destroy()
        }
      } else {
        this.client.destroy()
        this.backend?.destroy()
      }
    }
  }

  // ---- client → backend --------------------------------------------------------------------------------------

  private onClientData(chunk: Buffer): void {
    if (this.closed) return
    this.bytesIn += chunk.length
    this.ctx.clusterMetrics.bytesIn.inc(chunk.length)
    const backend = this.backend!
    backend.cork()
    try {
      this.clientDecoder.push(chunk)
    } finally {
      backend.uncork()
    }
  }

  private writeBackend(buf: Buffer): void {
    const b = this.backend!
    if (!b.write(buf) && b.writableLength > WRITE_BUFFER_PAUSE && (this.clientPause & PAUSE_BACKPRESSURE) === 0) this.pauseClient(PAUSE_BACKPRESSURE)
  }

  private clientHandler(): FrameHandler {
    return {
      // Pings before the first authenticated request are keep-alives nobody needs yet; they are not relayed.
      ping: (bytes) => {
        if (this.authenticated) this.writeBackend(bytes)
      },
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

  /** Returns false (the decoder pauses after this header) whenever the decoder is held. */
  private onClientHeader(h: DecodedHeader, raw: Buffer): boolean {
    // After a closing refusal nothing else from this client is forwarded, even frames in the same chunk.
    if (this.closed || this.closeAfterInject !== null) return false
    if (!h.isRequest) {
      // Elasticsearch server channels refuse inbound responses (InboundDecoder [9.x]): a protocol violation.
      this.violation('unexpected_response', 'received a response frame from the client')
      return false
    }
    if (h.isHandshake) return this.onHandshake(h, raw)
    const decision = this.ctx.policy.check(h, this.info)
    if (decision instanceof Promise) {
      // The decision needs I/O: hold this frame (the decoder keeps the rest of the chunk, the socket stops).
      this.hold(HOLD_POLICY)
      decision.then(
        (d) => this.guard(() => this.resumeAfterPolicy(h, raw, d)),
        (e: unknown) => this.internalError(e),
      )
      return false
    }
    this.decide(h, raw, decision)
    return this.holds === 0
  }

  /**
   * The TCP handshake (status bit 0x08) is relayed before any authentication, so it is held to exactly what
   * Elasticsearch sends (TransportHandshaker [9.x], transport-protocol.md §5.1): one per connection, action
   * `internal:tcp/handshake`, empty thread context, no features, a small body. Anything else is a framing
   * violation (Elasticsearch itself closes the channel on a bad handshake, without an error frame).
   */
  private onHandshake(h: DecodedHeader, raw: Buffer): boolean {
    const v = h.variable
    let problem: string | null = null
    if (this.handshakes > 0 || this.authenticated) problem = 'a second TCP handshake on one connection'
    else if (v === null || v.action !== TCP_HANDSHAKE_ACTION) problem = `a handshake frame for action [${v?.action ?? ''}]`
    else if (v.requestHeaders.size > 0 || v.responseHeaders.size > 0) problem = 'a TCP handshake carrying thread-context headers'
    else if (v.features !== null && v.features.length > 0) problem = 'a TCP handshake carrying features'
    else if (h.bodyLength > MAX_HANDSHAKE_BODY) problem = `a TCP handshake body of ${h.bodyLength} bytes (at most ${MAX_HANDSHAKE_BODY})`
    if (problem !== null) {
      this.violation('bad_handshake', `received ${problem}`)
      return false
    }
    this.handshakes++
    this.forwardRequest(h, raw, TCP_HANDSHAKE_ACTION)
    return true
  }

  private resumeAfterPolicy(h: DecodedHeader, raw: Buffer, d: PolicyDecision): void {
    if (this.closed) return
    const backend = this.backend!
    backend.cork()
    try {
      this.decide(h, raw, d)
      this.release(HOLD_POLICY)
    } finally {
      backend.uncork()
    }
  }

  private decide(h: DecodedHeader, raw: Buffer, d: PolicyDecision): void {
    if (d !== null) {
      this.deny(h, d)
      return
    }
    if (!this.authenticated && !this.authenticate(h)) return
    if (!this.admitKey(h)) return
    this.forwardRequest(h, raw, this.ctx.metrics.actionLabel(h.variable?.action ?? null))
  }

  /** The first allowed request: the deadline is met, and the connection takes its cluster slot (max_connections). */
  private authenticate(h: DecodedHeader): boolean {
    this.authenticated = true
    if (this.firstRequestTimer !== null) {
      clearTimeout(this.firstRequestTimer)
      this.firstRequestTimer = null
    }
    const slots = this.ctx.clusterLimiter
    if (slots === undefined) return true
    if (slots.tryAcquire()) {
      this.clusterSlot = true
      return true
    }
    this.refuseForLimit(
      h,
      'cluster_max_connections',
      {
        type: 'security',
        status: 'TOO_MANY_REQUESTS',
        message: `too many connections to cluster [${this.info.cluster}] through the gateway: at most ${slots.limit} at once (clusters[].max_connections)`,
      },
      { max: slots.limit },
      `connection refused: cluster ${this.info.cluster} has max_connections (${slots.limit}) open`,
    )
    return false
  }

  private onFirstRequestTimeout(ms: number): void {
    this.firstRequestTimer = null
    if (this.closed || this.authenticated) return
    this.ctx.metrics.limitHits.labels('first_request_timeout').inc()
    this.ctx.log.warn(
      { event: 'limit_hit', limit: 'first_request_timeout', cluster: this.info.cluster, client: this.info.remoteAddress, timeout_ms: ms },
      'no authenticated request within limits.first_request_timeout; closing the connection',
    )
    this.close('limit:first_request_timeout')
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
   * Counts the connection against the API key id of every allowed request (not only the first: a later request
   * with another key must not slip past that key's `max_connections_per_api_key`). The data path pays one string
   * comparison per request; the credentials are parsed only when they differ from the last ones admitted. Returns
   * false after answering the request with a 429 error frame (closing) when a key is at its limit.
   */
  private admitKey(h: DecodedHeader): boolean {
    const limiter = this.ctx.keyLimiter
    if (limiter === undefined) return true
    const credentials = h.variable?.requestHeaders.get(CROSS_CLUSTER_ACCESS_CREDENTIALS_HEADER_KEY)
    // No credentials (certificate-model connection, or authentication off): nothing to count.
    if (credentials === undefined || credentials === this.lastAdmittedCredentials) return true
    const parsed = parseCredentialsHeader(credentials)
    // Unparseable credentials can only pass with authentication off: there is no key id to count.
    if (!parsed.ok) return true
    if (!this.keyIds.includes(parsed.id)) {
      if (this.keyIds.length >= MAX_KEYS_PER_CONNECTION) {
        this.refuseForLimit(
          h,
          'api_keys_per_connection',
          { type: 'security', status: 'TOO_MANY_REQUESTS', message: `too many distinct API keys on one connection through the gateway: at most ${MAX_KEYS_PER_CONNECTION}` },
          { api_key_id: parsed.id, max: MAX_KEYS_PER_CONNECTION },
        )
        return false
      }
      if (!limiter.tryAcquire(parsed.id)) {
        const limit = limiter.limit
        this.refuseForLimit(
          h,
          'api_key_max_connections',
          {
            type: 'security',
            status: 'TOO_MANY_REQUESTS',
            message: `too many connections for API key [${parsed.id}] through the gateway: at most ${limit} at once (clusters[].max_connections_per_api_key)`,
          },
          { api_key_id: parsed.id, max: limit },
        )
        return false
      }
      this.keyIds.push(parsed.id)
    }
    this.lastAdmittedCredentials = credentials
    return true
  }

  /** Answers a request refused by a limit with an error frame and closes the connection afterwards. */
  private refuseForLimit(h: DecodedHeader, limit: LimitName, exception: JavaException, audit: Record<string, string | number | null>, message?: string): void {
    this.skipBody = true
    const action = h.variable?.action ?? null
    this.ctx.metrics.limitHits.labels(limit).inc()
    this.ctx.clusterMetrics.request(this.ctx.metrics.actionLabel(action), 'denied').inc()
    this.ctx.log.warn(
      { event: 'limit_hit', limit, cluster: this.info.cluster, client: this.info.remoteAddress, action, ...audit },
      message ?? `request refused: ${limit} reached; closing the connection`,
    )
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
    // One write per event-loop turn: a TLS read yields 16 KiB chunks, and the ones read in one turn leave
    // together (one writev → one SSL_write → one syscall, FINDINGS.md §2: W2 1.43×, syscalls per MB 110 → 23).
    if (!this.outCorked) {
      this.outCorked = true
      this.client.cork()
      setImmediate(this.uncorkOut)
    }
    const start = this.backendReceived
    this.backendReceived += chunk.length
    if (this.injectQueue.length === 0) {
      // Forward first, then observe: whatever the observation triggers (a drain finishing, a framing error)
      // must not drop bytes the client is owed.
      this.writeClient(chunk)
      this.backendDecoder.push(chunk)
      return
    }
    // Error frames are waiting for a frame boundary: the frameEnd/ping callbacks write this chunk up to it.
    this.splitChunk = chunk
    this.splitStart = start
    this.splitWritten = 0
    try {
      this.backendDecoder.push(chunk)
      if (!this.closed && this.splitWritten < chunk.length) this.writeClient(this.splitWritten === 0 ? chunk : chunk.subarray(this.splitWritten))
    } finally {
      this.splitChunk = null
    }
  }

  private writeClient(buf: Buffer): void {
    const c = this.client
    if (!c.write(buf) && c.writableLength > WRITE_BUFFER_PAUSE && (this.backendPause & PAUSE_BACKPRESSURE) === 0) this.pauseBackend(PAUSE_BACKPRESSURE)
  }

  private backendHandler(): FrameHandler {
    return {
      ping: () => {
        this.backendReported += 6
        this.atBoundary()
      },
      header: (h, raw) => {
        this.backendReported += raw.length
        this.backendInFrame = true
        if (!h.isRequest) this.onResponse(h)
      },
      body: (slice) => {
        this.backendReported += slice.length
      },
      frameEnd: () => {
        this.backendInFrame = false
        this.atBoundary()
        if (this.draining) this.maybeFinishDrain()
      },
      error: (e) => this.onFramingError(e, 'backend_framing_error'),
    }
  }

  /** The backend stream is at a frame boundary: flush what waits for one, splitting the current chunk there. */
  private atBoundary(): void {
    const chunk = this.splitChunk
    if (chunk === null || this.injectQueue.length === 0) return
    const end = this.backendReported - this.splitStart
    if (end > this.splitWritten) {
      this.writeClient(chunk.subarray(this.splitWritten, end))
      this.splitWritten = end
    }
    this.flushInjected()
  }

  private onResponse(h: DecodedHeader): void {
    const f = this.inFlight.get(h.requestId)
    if (f === undefined) return
    this.inFlight.delete(h.requestId)
    ;(h.isError ? f.m.error : f.m.success).inc()
    f.m.duration.observe((performance.now() - f.t0) / 1000)
  }

  private atBackendFrameBoundary(): boolean {
    return !this.backendInFrame && this.backendReported === this.backendReceived
  }

  private inject(frame: Buffer, closeReason: CloseReason | null): void {
    this.injectQueue.push(frame)
    if (closeReason !== null && this.closeAfterInject === null) {
      this.closeAfterInject = closeReason
      // Nothing more from this client is read or forwarded.
      this.hold(HOLD_CLOSING)
    }
    if (this.atBackendFrameBoundary()) {
      this.flushInjected()
      return
    }
    this.hold(HOLD_INJECT)
    if (closeReason !== null && this.closingTimer === null) {
      // The boundary may never come (a backend response stalled by a client that does not read it): the refusal
      // closes the connection within the close deadline anyway, without its error frame.
      this.closingTimer = setTimeout(() => {
        if (!this.closed && this.closeAfterInject !== null) {
          this.ctx.metrics.limitHits.labels('close_timeout').inc()
          this.close(this.closeAfterInject)
        }
      }, this.ctx.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS)
    }
  }

  private flushInjected(): void {
    const c = this.client
    for (const f of this.injectQueue) c.write(f)
    this.injectQueue.length = 0
    if (this.closeAfterInject !== null) {
      this.close(this.closeAfterInject)
      return
    }
    // Frames the gateway writes count against the same bound as relayed ones: a client that does not read its
    // error responses is not read from either, until it drains.
    if (c.writableLength > WRITE_BUFFER_PAUSE) this.hold(HOLD_OUTPUT)
    this.release(HOLD_INJECT)
  }

  // ---- flow control ------------------------------------------------------------------------------------------

  private hold(bit: number): void {
    this.holds |= bit
    this.pauseClient(PAUSE_HOLD)
  }

  /**
   * Drops one reason to hold the client decoder; with none left the decoder resumes (synchronously, so frames it
   * still holds are decided now) and, if it did not stop again, the socket is read again.
   */
  private release(bit: number): void {
    if ((this.holds & bit) === 0) return
    this.holds &= ~bit
    if (this.holds !== 0 || this.closed) return
    const backend = this.backend
    backend?.cork()
    try {
      this.clientDecoder.resume()
    } finally {
      backend?.uncork()
    }
    if (this.holds === 0 && !this.closed) this.unpauseClient(PAUSE_HOLD)
  }

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
    this.drainReason = 'shutdown'
    this.ctx.log.debug({ cluster: this.info.cluster, client: this.info.remoteAddress, in_flight: this.inFlight.size }, 'draining connection')
    this.maybeFinishDrain()
  }

  private maybeFinishDrain(): void {
    if (this.closed || this.inFlight.size > 0) return
    if (!this.atBackendFrameBoundary() || this.clientDecoder.bufferedBytes > 0 || this.skipBody) return
    this.close(this.drainReason)
  }

  /**
   * max_connection_age reached: close the way a graceful stop does (drain(): no request in flight, both streams at
   * a frame boundary), so no request is cut. Elasticsearch reopens a closed proxy-mode socket
   * (ProxyConnectionStrategy keeps proxy_socket_connections open), and the new one is balanced over the nodes as
   * they are now. A connection that is never idle is not cut.
   */
  private ageOut(ms: number): void {
    this.ageTimer = null
    if (this.closed || this.draining) return
    this.draining = true
    this.drainReason = 'max_connection_age'
    this.ctx.log.debug({ cluster: this.info.cluster, client: this.info.remoteAddress, in_flight: this.inFlight.size, max_connection_age_ms: ms }, 'connection reached max_connection_age; closing at the next idle frame boundary')
    this.maybeFinishDrain()
  }

  close(reason: CloseReason): void {
    if (this.closed) return
    this.closed = true
    this.closeReason = reason
    if (this.firstRequestTimer !== null) clearTimeout(this.firstRequestTimer)
    if (this.closingTimer !== null) clearTimeout(this.closingTimer)
    if (this.ageTimer !== null) clearTimeout(this.ageTimer)
    if (reason === 'max_connection_age') this.ctx.metrics.connectionsAgedOut.labels(this.info.cluster).inc()
    const timeout = this.ctx.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS
    const onTimeout = (): void => {
      this.ctx.metrics.limitHits.labels('close_timeout').inc()
    }
    endThenDestroy(this.client, timeout, onTimeout)
    if (this.backend !== null) endThenDestroy(this.backend, timeout, onTimeout)
    if (this.node !== null) this.ctx.pool.release(this.node)
    for (const id of this.keyIds) this.ctx.keyLimiter?.release(id)
    if (this.clusterSlot) this.ctx.clusterLimiter?.release()
    for (const f of this.inFlight.values()) f.m.dropped.inc()
    this.inFlight.clear()
    this.injectQueue.length = 0
    const seconds = (performance.now() - this.openedAt) / 1000
    this.ctx.metrics.connectionDuration.observe(seconds)
    const keyId = this.keyIds[0]
    this.ctx.log.info(
      {
        event: 'connection_closed',
        cluster: this.info.cluster,
        sni: this.info.servername,
        client: this.info.remoteAddress,
        node: this.node?.cfg.id ?? null,
        ...(keyId !== undefined ? { api_key_id: keyId } : {}),
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

/**
 * Flush what is queued, send FIN, and release the socket once written (or at once if it is already broken). A peer
 * that stops reading cannot hold the socket: after `timeoutMs` it is destroyed whatever is still queued.
 */
export function endThenDestroy(s: Socket, timeoutMs: number, onTimeout?: () => void): void {
  if (s.destroyed) return
  if (!s.writable) {
    s.destroy()
    return
  }
  const timer = setTimeout(() => {
    if (s.destroyed) return
    onTimeout?.()
    s.destroy()
  }, timeoutMs)
  timer.unref()
  s.once('close', () => clearTimeout(timer))
  s.once('finish', () => s.destroy())
  s.once('error', () => s.destroy())
  s.end()
}
