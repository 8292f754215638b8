/**
 * The transport listener: TLS on 9443 → SNI routing → one Relay per connection.
 *
 * TLS failures are counted by reason. Node's `handshakeTimeout` only reports a slow handshake, so the deadline is
 * enforced here by destroying the raw socket. `max_connections` is Node's `server.maxConnections` (excess
 * connections are dropped by the runtime and counted through the 'drop' event).
 */
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls'
import type { Socket, AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { GatewayConfig, ClusterConfig } from '../config/types.js'
import { serverTlsOptions } from '../tls/options.js'
import type { ClusterMetrics, GatewayMetrics, TlsFailureReason } from '../admin/metrics.js'
import type { Logger } from '../log.js'
import { BackendPool } from '../upstream/pool.js'
import { tuneSocket } from '../upstream/connect.js'
import { Relay } from './relay.js'
import { SniRouter } from './router.js'
import { allowAll, type RequestPolicy } from './policy.js'

export interface ClusterRuntime {
  readonly cfg: ClusterConfig
  readonly pool: BackendPool
  readonly metrics: ClusterMetrics
  readonly policy: RequestPolicy
}

export interface TransportServerOptions {
  /** Per-cluster policy factory (issue #3 plugs authentication in here). Default: allow everything. */
  readonly policyFor?: (cluster: ClusterConfig) => RequestPolicy
}

export class TransportServer {
  readonly clusters: ClusterRuntime[]
  private readonly router: SniRouter<ClusterRuntime>
  private readonly server: TlsServer
  private readonly relays = new Set<Relay>()
  private readonly pending = new Map<Socket, NodeJS.Timeout>()
  private listening = false

  constructor(
    private readonly cfg: GatewayConfig,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
    opts: TransportServerOptions = {},
  ) {
    this.clusters = cfg.clusters.map((c) => ({
      cfg: c,
      pool: new BackendPool(c, metrics, log),
      metrics: metrics.forCluster(c.name),
      policy: opts.policyFor?.(c) ?? allowAll,
    }))
    this.router = new SniRouter(this.clusters)
    this.server = createTlsServer(serverTlsOptions(cfg))
    this.server.maxConnections = cfg.limits.maxConnections
    this.server.on('connection', (raw: Socket) => this.onRawConnection(raw))
    this.server.on('secureConnection', (s: TLSSocket) => this.onSecureConnection(s))
    this.server.on('tlsClientError', (err: NodeJS.ErrnoException, s: TLSSocket) => this.onTlsClientError(err, s))
    this.server.on('drop', () => {
      this.metrics.connectionsRejected.labels('max_connections').inc()
      this.log.warn({ limit: cfg.limits.maxConnections }, 'connection refused: max_connections reached')
    })
  }

  get connectionCount(): number {
    return this.relays.size
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo
  }

  get isListening(): boolean {
    return this.listening
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen({ host: this.cfg.listen.host, port: this.cfg.listen.port }, () => {
        this.server.removeListener('error', reject)
        resolve()
      })
    })
    this.listening = true
    for (const c of this.clusters) c.pool.start()
    return this.address()
  }

  private onRawConnection(raw: Socket): void {
    const t0 = performance.now()
    ;(raw as Socket & { rcgwT0?: number }).rcgwT0 = t0
    const timer = setTimeout(() => {
      this.pending.delete(raw)
      this.tlsFailure('timeout', raw.remoteAddress, 'TLS handshake deadline exceeded')
      raw.destroy()
    }, this.cfg.limits.handshakeTimeoutMs)
    this.pending.set(raw, timer)
    raw.once('close', () => this.clearPending(raw))
  }

  private clearPending(raw: Socket): void {
    const t = this.pending.get(raw)
    if (t !== undefined) {
      clearTimeout(t)
      this.pending.delete(raw)
    }
  }

  private tlsFailure(reason: TlsFailureReason, remote: string | undefined, message: string, extra: Record<string, unknown> = {}): void {
    this.metrics.tlsHandshakeFailures.labels(reason).inc()
    this.log.warn({ event: 'tls_failure', reason, client: remote ?? null, ...extra }, message)
  }

  private onTlsClientError(err: NodeJS.ErrnoException, s: TLSSocket): void {
    const raw = (s as TLSSocket & { _parent?: Socket })._parent ?? s
    if (!this.pending.has(raw) && !this.pending.has(s)) return // already counted (e.g. timeout)
    this.clearPending(raw)
    this.clearPending(s)
    const code = err.code ?? ''
    const notTls = /WRONG_VERSION_NUMBER|HTTP_REQUEST|HTTPS_PROXY_REQUEST|UNKNOWN_PROTOCOL|PACKET_LENGTH_TOO_LONG|RECORD_LAYER_FAILURE/.test(code + ' ' + err.message)
    if (code === 'ECONNRESET' && err.message.includes('before secure TLS connection')) {
      this.tlsFailure('protocol', s.remoteAddress, 'client disconnected during the TLS handshake')
    } else {
      this.tlsFailure(notTls ? 'not_tls' : 'protocol', s.remoteAddress, 'TLS handshake failed', { err: err.message })
    }
    s.destroy()
  }

  private onSecureConnection(s: TLSSocket): void {
    const raw = (s as TLSSocket & { _parent?: Socket })._parent
    const t0 = (raw as (Socket & { rcgwT0?: number }) | undefined)?.rcgwT0
    if (raw !== undefined) this.clearPending(raw)
    this.clearPending(s)
    if (t0 !== undefined) this.metrics.tlsHandshakeDuration.observe((performance.now() - t0) / 1000)
    const remote = `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`

    const mode = this.cfg.tls.clientAuthentication
    if (mode !== 'none') {
      const peer = s.getPeerCertificate()
      const hasCert = peer !== null && Object.keys(peer).length > 0
      if (!hasCert && mode === 'required') {
        this.tlsFailure('no_cert', remote, 'client certificate required but none presented')
        s.destroy()
        return
      }
      if (hasCert && !s.authorized) {
        const code = String(s.authorizationError ?? '')
        const reason: TlsFailureReason = /EXPIRED|NOT_YET_VALID/.test(code) ? 'expired' : 'untrusted'
        this.tlsFailure(reason, remote, 'client certificate rejected', { err: code })
        s.destroy()
        return
      }
    }

    const servername = typeof s.servername === 'string' ? s.servername : null
    const cluster = this.router.route(servername)
    if (cluster === null) {
      this.tlsFailure('unknown_sni', remote, 'no cluster for this server name and no default cluster', { sni: servername })
      s.destroy()
      return
    }
    tuneSocket(s)
    cluster.metrics.connectionsTotal.inc()
    this.metrics.clientConnectionsActive.inc()
    const relay = new Relay(
      s,
      {
        pool: cluster.pool,
        policy: cluster.policy,
        metrics: this.metrics,
        clusterMetrics: cluster.metrics,
        log: this.log,
        maxHeaderSize: this.cfg.limits.maxHeaderSize,
        maxInFlight: this.cfg.limits.maxInFlightRequests,
      },
      { cluster: cluster.cfg.name, remoteAddress: remote, servername },
      (r) => {
        this.relays.delete(r)
        this.metrics.clientConnectionsActive.dec()
      },
    )
    this.relays.add(relay)
    this.log.info({ event: 'connection_opened', cluster: cluster.cfg.name, sni: servername, client: remote, tls: s.getProtocol() }, 'connection opened')
    void relay.start()
  }

  /** Readiness: listening, and every cluster has at least one healthy node. */
  unhealthyClusters(): string[] {
    return this.clusters.filter((c) => c.pool.healthyCount === 0).map((c) => c.cfg.name)
  }

  /**
   * Graceful stop: stop accepting, let in-flight requests finish (each connection closes at its next idle frame
   * boundary), and destroy whatever is left after `drainTimeoutMs`.
   */
  async close(drainTimeoutMs: number): Promise<void> {
    for (const c of this.clusters) c.pool.stop()
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    this.listening = false
    for (const [raw, t] of this.pending) {
      clearTimeout(t)
      raw.destroy()
    }
    this.pending.clear()
    for (const r of this.relays) r.drain()
    if (this.relays.size > 0) {
      await new Promise<void>((resolve) => {
        const deadline = setTimeout(() => {
          clearInterval(poll)
          for (const r of [...this.relays]) r.close('shutdown')
          resolve()
        }, drainTimeoutMs)
        const poll = setInterval(() => {
          if (this.relays.size === 0) {
            clearTimeout(deadline)
            clearInterval(poll)
            resolve()
          }
        }, 20)
      })
    }
    await closed
  }
}
