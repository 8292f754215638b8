/**
 * Backend nodes of one cluster: selection (least connections among healthy nodes), failover on connect failure,
 * and active health checks.
 *
 * Health check: TLS connect, then a TCP-level transport handshake (`internal:tcp/handshake`, the v7170099 form that
 * 8.x and 9.x nodes both accept — TransportHandshaker.ALLOWED_HANDSHAKE_VERSIONS), waiting for the handshake
 * response. The requester version we claim is 8.19.0 (8841064): ≥ MINIMUM_COMPATIBLE of every 9.x line, and a
 * newer responder answers with its own (or best-known) version, which we log. Then the socket is closed.
 */
import type { Socket } from 'node:net'
import type { ClusterConfig, BackendNodeConfig } from '../config/types.js'
import type { GatewayMetrics } from '../admin/metrics.js'
import type { Logger } from '../log.js'
import { connectBackend, BackendConnectError } from './connect.js'
import { encodeTcpHandshakeRequest, parseTcpHandshakeResponseBody } from '../codec/handshake.js'
import { FrameDecoder, type DecodedHeader } from '../codec/decoder.js'
import { HANDSHAKE_V8, releaseForTransportVersion } from '../codec/constants.js'

export const HEALTH_CHECK_TRANSPORT_VERSION = 8841064

export interface NodeState {
  readonly cfg: BackendNodeConfig
  /** Result of the last health check (or of the last connect attempt, whichever is newer). */
  up: boolean
  /** Client connections currently relayed to this node. */
  active: number
  lastError: string | null
  /** TransportVersion the node reported in its last handshake response. */
  transportVersion: number | null
}

export class BackendPool {
  readonly nodes: NodeState[]
  private timer: NodeJS.Timeout | null = null
  private checking = false
  private stopped = false
  private readonly inFlightChecks = new Set<Socket>()

  constructor(
    readonly cluster: ClusterConfig,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {
    // Nodes start "up": until the first health check says otherwise, a connect attempt is the best test.
    this.nodes = cluster.nodes.map((cfg) => ({ cfg, up: true, active: 0, lastError: null, transportVersion: null }))
    for (const n of this.nodes) this.setUp(n, true, null)
  }

  get healthyCount(): number {
    let c = 0
    for (const n of this.nodes) if (n.up) c++
    return c
  }

  /**
   * True when health checks are on and have every node down: acquire() would only wait for connect timeouts, so a
   * client is better told at once (issue #13). Without health checks a connect attempt is the only test, so never.
   */
  get blackHoled(): boolean {
    return this.cluster.healthCheck.enabled && this.healthyCount === 0
  }

  /** Candidate order: healthy before unhealthy, then fewest active connections, then config order. */
  private candidates(): NodeState[] {
    return this.nodes
      .map((n, i) => ({ n, i }))
      .sort((a, b) => Number(b.n.up) - Number(a.n.up) || a.n.active - b.n.active || a.i - b.i)
      .map((x) => x.n)
  }

  /**
   * Connects to the best node; a refused or timed-out node is marked down and the next one is tried. Rejects with
   * the last error only when every node failed.
   */
  async acquire(): Promise<{ socket: Socket; node: NodeState }> {
    let last: BackendConnectError | null = null
    for (const node of this.candidates()) {
      const started = process.hrtime.bigint()
      node.active++
      try {
        const socket = await connectBackend(node.cfg, this.cluster.backendTls, this.cluster.connectTimeoutMs)
        this.metrics.backendConnectDuration.observe(Number(process.hrtime.bigint() - started) / 1e9)
        if (!node.up) this.setUp(node, true, null)
        return { socket, node }
      } catch (e) {
        node.active--
        const err = e instanceof BackendConnectError ? e : new BackendConnectError(node.cfg.id, 'other', String(e))
        last = err
        this.metrics.backendConnectFailures.labels(this.cluster.name, node.cfg.id, err.reason).inc()
        this.setUp(node, false, err.message)
        this.log.warn({ cluster: this.cluster.name, node: node.cfg.id, reason: err.reason, err: err.message }, 'backend connect failed')
      }
    }
    throw last ?? new BackendConnectError('-', 'other', 'cluster has no nodes')
  }

  release(node: NodeState): void {
    if (node.active > 0) node.active--
  }

  private setUp(node: NodeState, up: boolean, error: string | null): void {
    if (node.up !== up) this.log.info({ cluster: this.cluster.name, node: node.cfg.id, up, err: error ?? undefined }, up ? 'backend node up' : 'backend node down')
    node.up = up
    node.lastError = error
    this.metrics.backendUp.labels(this.cluster.name, node.cfg.id).set(up ? 1 : 0)
  }

  start(): void {
    if (!this.cluster.healthCheck.enabled || this.timer !== null) return
    void this.checkAll()
    this.timer = setInterval(() => void this.checkAll(), this.cluster.healthCheck.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    this.stopped = true
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    for (const s of this.inFlightChecks) s.destroy()
    this.inFlightChecks.clear()
  }

  /** Runs one round of health checks (all nodes in parallel). Overlapping rounds are skipped. */
  async checkAll(): Promise<void> {
    if (this.checking || this.stopped) return
    this.checking = true
    try {
      await Promise.all(this.nodes.map((n) => this.checkNode(n)))
    } finally {
      this.checking = false
    }
  }

  async checkNode(node: NodeState): Promise<boolean> {
    const timeoutMs = this.cluster.healthCheck.timeoutMs
    let socket: Socket
    try {
      socket = await connectBackend(node.cfg, this.cluster.backendTls, timeoutMs)
    } catch (e) {
      const err = e as BackendConnectError
      if (!this.stopped) {
        this.metrics.backendConnectFailures.labels(this.cluster.name, node.cfg.id, err.reason ?? 'other').inc()
        this.setUp(node, false, err.message)
      }
      return false
    }
    if (this.stopped) {
      socket.destroy()
      return false
    }
    this.inFlightChecks.add(socket)
    const result = await transportHandshake(socket, timeoutMs)
    this.inFlightChecks.delete(socket)
    socket.destroy()
    if (this.stopped) return false
    if (result.ok) {
      node.transportVersion = result.transportVersion
      this.setUp(node, true, null)
      this.log.debug({ cluster: this.cluster.name, node: node.cfg.id, transport_version: result.transportVersion, release: releaseForTransportVersion(result.transportVersion) }, 'health check passed')
    } else {
      this.metrics.backendConnectFailures.labels(this.cluster.name, node.cfg.id, 'handshake').inc()
      this.setUp(node, false, result.error)
    }
    return result.ok
  }
}

type HandshakeResult = { ok: true; transportVersion: number } | { ok: false; error: string }

/** Sends a v7170099 TCP handshake and waits for its response frame. */
export function transportHandshake(socket: Socket, timeoutMs: number): Promise<HandshakeResult> {
  return new Promise((resolve) => {
    let done = false
    const requestId = 1n
    const finish = (r: HandshakeResult) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.removeAllListeners('data')
      resolve(r)
    }
    const timer = setTimeout(() => finish({ ok: false, error: `no handshake response within ${timeoutMs}ms` }), timeoutMs)
    let bodyParts: Buffer[] = []
    let header: DecodedHeader | null = null
    const decoder = new FrameDecoder(
      {
        ping: () => {},
        header: (h) => {
          header = h
          bodyParts = []
        },
        body: (b) => {
          bodyParts.push(b)
        },
        frameEnd: (h) => {
          if (!(h.isHandshake && !h.isRequest && h.requestId === requestId)) return
          if (h.isError) return finish({ ok: false, error: 'backend answered the handshake with an error' })
          try {
            const parsed = parseTcpHandshakeResponseBody(Buffer.concat(bodyParts), h.version)
            finish({ ok: true, transportVersion: parsed.transportVersion })
          } catch (e) {
            finish({ ok: false, error: `unparseable handshake response: ${(e as Error).message}` })
          }
        },
        error: (e) => finish({ ok: false, error: `framing error from backend: ${e.message}` }),
      },
      { maxHeaderSize: 65536 },
    )
    void header
    socket.on('data', (chunk: Buffer) => decoder.push(chunk))
    socket.once('close', () => finish({ ok: false, error: 'backend closed the connection during the handshake' }))
    socket.once('error', (e) => finish({ ok: false, error: e.message }))
    socket.write(
      encodeTcpHandshakeRequest({ requestId, handshakeVersion: HANDSHAKE_V8, transportVersion: HEALTH_CHECK_TRANSPORT_VERSION }),
    )
  })
}
