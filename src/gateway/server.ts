/**
 * The transport listener: TCP on 9443 → [PROXY header] → TLS → SNI routing → limits → one Relay per connection.
 *
 * The port is a plain `net.Server`; every accepted socket is handed to a `tls.Server` that never listens itself
 * (`tlsServer.emit('connection', socket)`, which is exactly what a listening tls.Server does internally). That
 * keeps all of node:tls' server behaviour (SNI, client certificates, 'tlsClientError', `setSecureContext` for
 * reloads) while letting the gateway read a PROXY protocol header on the raw socket first: the header precedes the
 * ClientHello, and whatever followed it in the same segment is unshifted back, which TLSSocket feeds to OpenSSL
 * before anything else it reads.
 *
 * TLS failures are counted by reason. Node's `handshakeTimeout` only reports a slow handshake, so the deadline
 * (PROXY header + TLS handshake) is enforced here by destroying the raw socket. `max_connections` is Node's
 * `server.maxConnections` (excess connections are dropped by the runtime and counted through the 'drop' event).
 *
 * Reloads (prepareReload → commitReload) swap the TLS context, the per-cluster pools and policies and the router
 * for new connections; see reload.ts for what changes where.
 */
import { createServer as createTlsServer, createSecureContext, type Server as TlsServer, type TLSSocket } from 'node:tls'
import { createServer as createNetServer, type BlockList, type Server as NetServer, type Socket, type AddressInfo } from 'node:net'
import { createHash } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { GatewayConfig, ClusterConfig } from '../config/types.js'
import { serverTlsOptions } from '../tls/options.js'
import type { ClusterMetrics, ConnectionRejectReason, GatewayMetrics, TlsFailureReason } from '../admin/metrics.js'
import type { Logger } from '../log.js'
import { BackendPool } from '../upstream/pool.js'
import { tuneSocket } from '../upstream/connect.js'
import { Relay, type ConnectionLimiter, type SlotLimiter } from './relay.js'
import { SniRouter } from '../tls/sni-router.js'
import { allowAll, type ConnectionInfo, type PolicyDecision, type RequestPolicy } from './policy.js'
import { readProxyHeader, type ProxyReadOutcome } from '../tls/proxy-protocol.js'
import { AddressCounter, trustList } from '../tls/admission.js'
import { ReloadError } from './reload.js'
import type { DecodedHeader } from '../codec/decoder.js'
import { ClusterFilters } from '../auth/filters.js'

export interface ClusterRuntime {
  readonly cfg: ClusterConfig
  readonly pool: BackendPool
  readonly metrics: ClusterMetrics
  /** Delegates to the cluster's current policy (replaced by reloads, for established connections too). */
  readonly policy: RequestPolicy
}

export interface TransportServerOptions {
  /** Per-cluster policy factory (issue #3 plugs authentication in here). Default: allow everything. */
  readonly policyFor?: (cluster: ClusterConfig) => RequestPolicy
}

/** A policy whose implementation a reload can replace under the relays that hold it. */
class SwappablePolicy implements RequestPolicy {
  constructor(public current: RequestPolicy) {}

  check(h: DecodedHeader, conn: ConnectionInfo): PolicyDecision | Promise<PolicyDecision> {
    return this.current.check(h, conn)
  }
}

/** Concurrent connections per API key id within one cluster. The limit is read at each acquire (reloadable). */
export class KeyConnectionLimiter implements ConnectionLimiter {
  limit: number | null = null
  private readonly counts = new Map<string, number>()

  tryAcquire(id: string): boolean {
    const n = this.counts.get(id) ?? 0
    if (this.limit !== null && n >= this.limit) return false
    this.counts.set(id, n + 1)
    return true
  }

  release(id: string): void {
    const n = this.counts.get(id)
    if (n === undefined) return
    if (n <= 1) this.counts.delete(id)
    else this.counts.set(id, n - 1)
  }

  count(id: string): number {
    return this.counts.get(id) ?? 0
  }
}

/**
 * Authenticated connections of one cluster (`clusters[].max_connections`). A slot is taken at a connection's first
 * allowed request, not at TLS accept, so unauthenticated sockets (bounded by limits.first_request_timeout and
 * limits.max_connections_per_client_ip instead) can never lock a cluster out. The limit is reloadable.
 */
export class ClusterSlots implements SlotLimiter {
  limit: number | null = null
  count = 0

  tryAcquire(): boolean {
    if (this.limit !== null && this.count >= this.limit) return false
    this.count++
    return true
  }

  release(): void {
    if (this.count > 0) this.count--
  }
}

/**
 * What belongs to a cluster NAME rather than to one config generation: the connection counts (established
 * connections stay counted across reloads), the per-key limiter and the policy handle relays hold.
 */
interface ClusterState {
  /** All connections routed to the cluster (authenticated or not): the state lives while any is open. */
  active: number
  readonly slots: ClusterSlots
  readonly keys: KeyConnectionLimiter
  readonly policy: SwappablePolicy
  policyFingerprint: string
}

/** The pool of a runtime together with the fingerprint of the settings it was built from. */
interface Runtime extends ClusterRuntime {
  readonly poolFingerprint: string
  /** clusters[].filters for the decision at TLS accept (address-only rules); null = none. */
  readonly filters: ClusterFilters | null
}

/** A socket between accept and the end of its TLS handshake. */
interface PendingConnection {
  readonly t0: number
  readonly timer: NodeJS.Timeout
  /** Where the PROXY header is being read, or the TLS handshake running. */
  phase: 'proxy' | 'tls'
  /** The client as logged: the socket's peer, or the source of a PROXY header. */
  client: string
  /** The client IP alone (for clusters[].filters). */
  ip: string
  /** The load balancer's address when a PROXY header named the client. */
  proxiedBy: string | null
}

export interface PreparedReload {
  readonly cfg: GatewayConfig
  readonly changes: readonly string[]
  /** Options for `setSecureContext`, when the TLS material changed. */
  readonly tls: ReturnType<typeof serverTlsOptions> | null
  readonly trusted: BlockList
  readonly clusters: ReadonlyArray<{
    readonly cfg: ClusterConfig
    readonly poolFingerprint: string
    readonly policyFingerprint: string
    /** A pool to keep (settings unchanged) or null to build a new one at commit. */
    readonly pool: BackendPool | null
    /** The new policy, or null to keep the current one. */
    readonly policy: RequestPolicy | null
  }>
}

function fingerprint(v: unknown): string {
  return createHash('sha256').update(JSON.stringify(v)).digest('hex')
}

function poolFingerprint(c: ClusterConfig): string {
  return fingerprint({ nodes: c.nodes, connectTimeoutMs: c.connectTimeoutMs, healthCheck: c.healthCheck, backendTls: c.backendTls })
}

function tlsFingerprint(cfg: GatewayConfig): string {
  return fingerprint(cfg.tls)
}

function formatPeer(address: string | undefined, port: number | undefined): string {
  return `${address ?? '?'}:${port ?? '?'}`
}

function parentOf(s: TLSSocket): Socket | undefined {
  return (s as TLSSocket & { _parent?: Socket })._parent
}

export class TransportServer {
  private runtimes: Runtime[]
  private router: SniRouter<Runtime>
  private cfg: GatewayConfig
  private readonly listener: NetServer
  private readonly tlsServer: TlsServer
  private readonly relays = new Set<Relay>()
  private readonly pending = new Map<Socket, PendingConnection>()
  private readonly states = new Map<string, ClusterState>()
  private readonly perAddress = new AddressCounter()
  private readonly policyFor: (cluster: ClusterConfig) => RequestPolicy
  private trusted: BlockList
  private tlsFp: string
  private listening = false

  constructor(
    cfg: GatewayConfig,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
    opts: TransportServerOptions = {},
  ) {
    this.cfg = cfg
    this.policyFor = opts.policyFor ?? (() => allowAll)
    this.runtimes = cfg.clusters.map((c) => {
      const policy = this.policyFor(c)
      const state = this.stateFor(c, policy)
      state.policyFingerprint = fingerprint(c.auth)
      return this.runtime(c, new BackendPool(c, metrics, log), state)
    })
    this.router = new SniRouter(this.runtimes)
    this.trusted = trustList(cfg.proxyProtocol)
    this.tlsFp = tlsFingerprint(cfg)
    this.tlsServer = createTlsServer(serverTlsOptions(cfg))
    this.tlsServer.on('secureConnection', (s: TLSSocket) => this.onSecureConnection(s))
    this.tlsServer.on('tlsClientError', (err: NodeJS.ErrnoException, s: TLSSocket) => this.onTlsClientError(err, s))
    this.listener = createNetServer((raw) => this.onAccept(raw))
    this.listener.maxConnections = cfg.limits.maxConnections
    this.listener.on('drop', () => {
      this.metrics.connectionsRejected.labels('max_connections').inc()
      this.metrics.limitHits.labels('max_connections').inc()
      this.log.warn({ limit: this.cfg.limits.maxConnections }, 'connection refused: max_connections reached')
    })
  }

  /** The clusters of the running config (new connections are routed among these). */
  get clusters(): readonly ClusterRuntime[] {
    return this.runtimes
  }

  get config(): GatewayConfig {
    return this.cfg
  }

  get connectionCount(): number {
    return this.relays.size
  }

  /** Authenticated connections of one cluster, as max_connections counts them (by name; across reloads). */
  clusterConnectionCount(name: string): number {
    return this.states.get(name)?.slots.count ?? 0
  }

  /** Established connections counted against one API key id of a cluster. */
  apiKeyConnectionCount(cluster: string, keyId: string): number {
    return this.states.get(cluster)?.keys.count(keyId) ?? 0
  }

  address(): AddressInfo {
    return this.listener.address() as AddressInfo
  }

  get isListening(): boolean {
    return this.listening
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.listener.once('error', reject)
      this.listener.listen({ host: this.cfg.listen.host, port: this.cfg.listen.port }, () => {
        this.listener.removeListener('error', reject)
        resolve()
      })
    })
    this.listening = true
    for (const c of this.runtimes) c.pool.start()
    return this.address()
  }

  private stateFor(c: ClusterConfig, policy: RequestPolicy): ClusterState {
    let s = this.states.get(c.name)
    if (s === undefined) {
      s = { active: 0, slots: new ClusterSlots(), keys: new KeyConnectionLimiter(), policy: new SwappablePolicy(policy), policyFingerprint: '' }
      this.states.set(c.name, s)
    }
    s.slots.limit = c.maxConnections ?? null
    s.keys.limit = c.maxConnectionsPerApiKey ?? null
    return s
  }

  private runtime(c: ClusterConfig, pool: BackendPool, state: ClusterState): Runtime {
    const rules = c.auth.filters ?? []
    // load.ts has compiled every subject already, so this cannot throw for a loaded config.
    const filters = rules.length > 0 ? new ClusterFilters(rules, c.auth.jdk) : null
    // With authentication off no policy initialises the series; filtered connections are still counted there.
    if (filters !== null) this.metrics.initAuthFailureReasons(c.name, ['filtered'])
    return { cfg: c, pool, metrics: this.metrics.forCluster(c.name), policy: state.policy, poolFingerprint: poolFingerprint(c), filters }
  }

  /**
   * clusters[].filters at TLS accept: when the address alone decides (every rule before the first one the address
   * matches, and that one, look at the source only), a refused connection is closed here, before a backend
   * connection is made for it. There is no request to answer yet, so no error frame: the client sees the TLS
   * connection close. Otherwise the policy decides at the first request (403 error frame).
   */
  private refusedByFilters(s: TLSSocket, cluster: Runtime, remote: string, ip: string, servername: string | null): boolean {
    const f = cluster.filters
    if (f === null) return false
    const d = f.decideByAddress(ip)
    if (d === null || (d !== 'none' && d.action === 'allow')) return false
    this.metrics.authFailures.labels(cluster.cfg.name, 'filtered').inc()
    this.log.warn(
      { event: 'denied', reason: 'filtered', stage: 'accept', cluster: cluster.cfg.name, client: remote, sni: servername, filter_rule: d === 'none' ? null : d.index, close: true },
      d === 'none' ? 'connection refused: the client address matches no allow rule of clusters[].filters' : `connection refused by clusters[].filters[${d.index}]`,
    )
    s.destroy()
    return true
  }

  // ---- accept, PROXY header, deadline ------------------------------------------------------------------------

  private onAccept(raw: Socket): void {
    const peer = formatPeer(raw.remoteAddress, raw.remotePort)
    const proxy = this.cfg.proxyProtocol?.enabled === true
    const timer = setTimeout(() => this.onDeadline(raw), this.cfg.limits.handshakeTimeoutMs)
    this.pending.set(raw, { t0: performance.now(), timer, phase: proxy ? 'proxy' : 'tls', client: peer, ip: raw.remoteAddress ?? '?', proxiedBy: null })
    raw.once('close', () => this.clearPending(raw))
    if (!proxy) {
      if (!this.admitAddress(raw, raw.remoteAddress ?? '?')) return
      this.tlsServer.emit('connection', raw)
      return
    }
    const family = raw.remoteFamily === 'IPv6' ? 'ipv6' : 'ipv4'
    if (raw.remoteAddress === undefined || !this.trusted.check(raw.remoteAddress, family)) {
      raw.on('error', () => {})
      this.reject(raw, 'proxy_untrusted', peer, 'connection refused: this peer is not in listen.proxy_protocol_trusted')
      return
    }
    readProxyHeader(raw, (o) => this.onProxyHeader(raw, peer, o))
  }

  private onProxyHeader(raw: Socket, peer: string, o: ProxyReadOutcome): void {
    const p = this.pending.get(raw)
    if (p === undefined) return // the deadline (or shutdown) got there first
    switch (o.status) {
      case 'ok': {
        const src = o.header.source
        if (src !== null) {
          p.client = formatPeer(src.address, src.port)
          p.ip = src.address
          p.proxiedBy = peer
        }
        p.phase = 'tls'
        if (!this.admitAddress(raw, src?.address ?? raw.remoteAddress ?? '?')) return
        this.log.debug({ client: p.client, proxied_by: peer, proxy_version: o.header.version, proxy_command: o.header.command, proxy_family: o.header.family }, 'PROXY header accepted')
        this.tlsServer.emit('connection', raw)
        return
      }
      case 'closed':
        if (o.received === 0) {
          // A TCP probe (load balancer health check) that connects and leaves: nothing was refused.
          this.clearPending(raw)
          this.log.debug({ client: peer }, 'connection closed before sending anything')
          raw.destroy()
          return
        }
        this.reject(raw, 'proxy_missing', peer, 'connection closed before a complete PROXY header')
        return
      case 'missing':
        this.reject(raw, 'proxy_missing', peer, `connection refused: ${o.message} (listen.proxy_protocol is on)`)
        return
      case 'malformed':
        this.reject(raw, 'proxy_malformed', peer, `connection refused: ${o.message}`)
        return
    }
  }

  /**
   * limits.max_connections_per_client_ip: counted from accept (or from the PROXY header naming the client) until
   * the socket closes; the excess is closed before TLS. One address can then hold at most this share of
   * limits.max_connections, whatever it does with the sockets.
   */
  private admitAddress(raw: Socket, address: string): boolean {
    const limit = this.cfg.limits.maxConnectionsPerClientIp ?? Infinity
    if (!this.perAddress.tryAcquire(address, limit)) {
      this.metrics.limitHits.labels('max_connections_per_client_ip').inc()
      this.reject(raw, 'client_ip_max_connections', address, `connection refused: ${address} has limits.max_connections_per_client_ip (${limit}) open`)
      return false
    }
    raw.once('close', () => this.perAddress.release(address))
    return true
  }

  private onDeadline(raw: Socket): void {
    const p = this.pending.get(raw)
    if (p === undefined) return
    this.pending.delete(raw)
    this.metrics.limitHits.labels('handshake_timeout').inc()
    if (p.phase === 'proxy') {
      this.metrics.connectionsRejected.labels('proxy_missing').inc()
      this.log.warn({ event: 'connection_rejected', reason: 'proxy_missing', client: p.client }, 'connection refused: no complete PROXY header within handshake_timeout')
    } else {
      this.tlsFailure('timeout', p.client, 'TLS handshake deadline exceeded', p.proxiedBy)
    }
    raw.destroy()
  }

  private reject(raw: Socket, reason: ConnectionRejectReason, client: string, message: string): void {
    this.clearPending(raw)
    this.metrics.connectionsRejected.labels(reason).inc()
    this.log.warn({ event: 'connection_rejected', reason, client }, message)
    raw.destroy()
  }

  private clearPending(raw: Socket): PendingConnection | undefined {
    const p = this.pending.get(raw)
    if (p !== undefined) {
      clearTimeout(p.timer)
      this.pending.delete(raw)
    }
    return p
  }

  private tlsFailure(reason: TlsFailureReason, client: string, message: string, proxiedBy: string | null, extra: Record<string, unknown> = {}): void {
    this.metrics.tlsHandshakeFailures.labels(reason).inc()
    this.log.warn({ event: 'tls_failure', reason, client, ...(proxiedBy !== null ? { proxied_by: proxiedBy } : {}), ...extra }, message)
  }

  // ---- TLS ---------------------------------------------------------------------------------------------------

  private onTlsClientError(err: NodeJS.ErrnoException, s: TLSSocket): void {
    const p = this.clearPending(parentOf(s) ?? s)
    if (p === undefined) return // already counted (e.g. timeout)
    const code = err.code ?? ''
    const notTls = /WRONG_VERSION_NUMBER|HTTP_REQUEST|HTTPS_PROXY_REQUEST|UNKNOWN_PROTOCOL|PACKET_LENGTH_TOO_LONG|RECORD_LAYER_FAILURE/.test(code + ' ' + err.message)
    if (code === 'ECONNRESET' && err.message.includes('before secure TLS connection')) {
      this.tlsFailure('protocol', p.client, 'client disconnected during the TLS handshake', p.proxiedBy)
    } else {
      this.tlsFailure(notTls ? 'not_tls' : 'protocol', p.client, 'TLS handshake failed', p.proxiedBy, { err: err.message })
    }
    s.destroy()
  }

  private onSecureConnection(s: TLSSocket): void {
    const p = this.clearPending(parentOf(s) ?? s)
    if (p !== undefined) this.metrics.tlsHandshakeDuration.observe((performance.now() - p.t0) / 1000)
    const remote = p?.client ?? formatPeer(s.remoteAddress, s.remotePort)
    const proxiedBy = p?.proxiedBy ?? null

    const mode = this.cfg.tls.clientAuthentication
    if (mode !== 'none') {
      const peer = s.getPeerCertificate()
      const hasCert = peer !== null && Object.keys(peer).length > 0
      if (!hasCert && mode === 'required') {
        this.tlsFailure('no_cert', remote, 'client certificate required but none presented', proxiedBy)
        s.destroy()
        return
      }
      if (hasCert && !s.authorized) {
        const code = String(s.authorizationError ?? '')
        const reason: TlsFailureReason = /EXPIRED|NOT_YET_VALID/.test(code) ? 'expired' : 'untrusted'
        this.tlsFailure(reason, remote, 'client certificate rejected', proxiedBy, { err: code })
        s.destroy()
        return
      }
    }

    const servername = typeof s.servername === 'string' ? s.servername : null
    const cluster = this.router.route(servername)
    if (cluster === null) {
      this.tlsFailure('unknown_sni', remote, 'no cluster for this server name and no default cluster', proxiedBy, { sni: servername })
      s.destroy()
      return
    }
    const ip = p?.ip ?? s.remoteAddress ?? '?'
    if (this.refusedByFilters(s, cluster, remote, ip, servername)) return
    const state = this.states.get(cluster.cfg.name)!
    // clusters[].max_connections is applied by the relay at the first allowed request (ClusterSlots).
    tuneSocket(s)
    state.active++
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
        keyLimiter: state.keys,
        clusterLimiter: state.slots,
        firstRequestTimeoutMs: this.cfg.limits.firstRequestTimeoutMs ?? 0,
        ...(this.cfg.limits.closeTimeoutMs !== undefined ? { closeTimeoutMs: this.cfg.limits.closeTimeoutMs } : {}),
        maxConnectionAgeMs: cluster.cfg.maxConnectionAgeMs ?? 0,
      },
      { cluster: cluster.cfg.name, remoteAddress: remote, servername, clientIp: ip },
      (r) => {
        this.relays.delete(r)
        state.active--
        this.metrics.clientConnectionsActive.dec()
      },
    )
    this.relays.add(relay)
    this.log.info(
      { event: 'connection_opened', cluster: cluster.cfg.name, sni: servername, client: remote, ...(proxiedBy !== null ? { proxied_by: proxiedBy } : {}), tls: s.getProtocol() },
      'connection opened',
    )
    void relay.start()
  }

  /** Readiness: listening, and every cluster has at least one healthy node. */
  unhealthyClusters(): string[] {
    return this.runtimes.filter((c) => c.pool.healthyCount === 0).map((c) => c.cfg.name)
  }

  // ---- reload ------------------------------------------------------------------------------------------------

  /**
   * Checks and builds everything a new config needs without touching the running state. Throws ReloadError naming
   * the key at fault; then nothing has changed.
   */
  prepareReload(next: GatewayConfig): PreparedReload {
    const changes: string[] = []
    let tls: PreparedReload['tls'] = null
    if (tlsFingerprint(next) !== this.tlsFp) {
      tls = serverTlsOptions(next)
      try {
        // setSecureContext would throw the same error, but only after the listener had started using parts of it.
        createSecureContext(tls)
      } catch (e) {
        const msg = (e as Error).message
        if (/KEY_VALUES_MISMATCH|key values mismatch/i.test(`${(e as NodeJS.ErrnoException).code ?? ''} ${msg}`))
          throw new ReloadError('tls.key', `does not belong to the certificate in ${next.tls.certificatePath}`)
        throw new ReloadError('tls', `cannot build the TLS context: ${msg.split('\n')[0]}`)
      }
      changes.push('tls')
    }
    const current = new Map(this.runtimes.map((r) => [r.cfg.name, r]))
    const clusters = next.clusters.map((c, i) => {
      const old = current.get(c.name)
      const state = this.states.get(c.name)
      const poolFp = poolFingerprint(c)
      const policyFp = fingerprint(c.auth)
      let policy: RequestPolicy | null = null
      if (state === undefined || state.policyFingerprint !== policyFp) {
        try {
          policy = this.policyFor(c)
        } catch (e) {
          throw new ReloadError(`clusters[${i}]`, `cannot build the request policy: ${(e as Error).message}`)
        }
      }
      if (old === undefined) changes.push(`clusters.${c.name}: added`)
      else {
        const what: string[] = []
        if (old.poolFingerprint !== poolFp) what.push('nodes/backend')
        if (policy !== null) what.push('auth')
        if (fingerprint([old.cfg.serverNames, old.cfg.isDefault]) !== fingerprint([c.serverNames, c.isDefault])) what.push('routing')
        if (old.cfg.maxConnections !== c.maxConnections || old.cfg.maxConnectionsPerApiKey !== c.maxConnectionsPerApiKey) what.push('limits')
        if ((old.cfg.maxConnectionAgeMs ?? 0) !== (c.maxConnectionAgeMs ?? 0)) what.push('max_connection_age')
        if (what.length > 0) changes.push(`clusters.${c.name}: ${what.join(', ')}`)
      }
      return { cfg: c, poolFingerprint: poolFp, policyFingerprint: policyFp, pool: old !== undefined && old.poolFingerprint === poolFp ? old.pool : null, policy }
    })
    const names = new Set(next.clusters.map((c) => c.name))
    for (const r of this.runtimes) if (!names.has(r.cfg.name)) changes.push(`clusters.${r.cfg.name}: removed`)
    if (fingerprint(this.cfg.limits) !== fingerprint(next.limits)) changes.push('limits')
    if (fingerprint(this.cfg.proxyProtocol ?? null) !== fingerprint(next.proxyProtocol ?? null)) changes.push('proxy_protocol')
    if (this.cfg.logging.level !== next.logging.level) changes.push('logging')
    if (this.cfg.shutdown.drainTimeoutMs !== next.shutdown.drainTimeoutMs) changes.push('shutdown')
    if (fingerprint(this.cfg.reload ?? null) !== fingerprint(next.reload ?? null)) changes.push('reload')
    return { cfg: next, changes, tls, clusters, trusted: trustList(next.proxyProtocol) }
  }

  /** Applies a prepared reload. Cannot fail. Established connections keep their TLS session and backend node. */
  commitReload(p: PreparedReload): void {
    if (p.tls !== null) {
      this.tlsServer.setSecureContext(p.tls)
      // setSecureContext replaces certificate, key and CAs only; whether a client certificate is requested is read
      // from the server object by node:tls' connection listener (the constructor sets it), so a changed
      // client_authentication is applied there. rejectUnauthorized stays false (see src/tls/options.ts).
      ;(this.tlsServer as TlsServer & { requestCert: boolean }).requestCert = p.tls.requestCert === true
      this.tlsFp = tlsFingerprint(p.cfg)
    }
    const old = new Map(this.runtimes.map((r) => [r.cfg.name, r]))
    const runtimes: Runtime[] = []
    for (const c of p.clusters) {
      const state = this.stateFor(c.cfg, c.policy ?? allowAll)
      if (c.policy !== null) {
        state.policy.current = c.policy
        state.policyFingerprint = c.policyFingerprint
      }
      const prev = old.get(c.cfg.name)
      let pool = c.pool
      if (pool === null) {
        pool = new BackendPool(c.cfg, this.metrics, this.log)
        if (prev !== undefined) this.handOver(prev.pool, pool)
        if (this.listening) pool.start()
      }
      runtimes.push(this.runtime(c.cfg, pool, state))
    }
    for (const [name, prev] of old) {
      const now = runtimes.find((r) => r.cfg.name === name)
      if (now?.pool === prev.pool) continue
      prev.pool.stop()
      // Health series of nodes that are gone would otherwise stay at their last value forever.
      for (const n of prev.pool.nodes) if (!now?.pool.nodes.some((m) => m.cfg.id === n.cfg.id)) this.metrics.backendUp.remove(name, n.cfg.id)
    }
    for (const name of [...this.states.keys()]) {
      // A removed cluster's state lives on while its connections drain (they hold the limiter and policy).
      if (!runtimes.some((r) => r.cfg.name === name) && this.states.get(name)!.active === 0) this.states.delete(name)
    }
    this.runtimes = runtimes
    this.router = new SniRouter(runtimes)
    this.trusted = p.trusted
    this.listener.maxConnections = p.cfg.limits.maxConnections
    this.cfg = p.cfg
  }

  /**
   * Nodes present in both pools keep their state object: connections relayed by the old pool release their node
   * into the same counter the new pool balances on, and a node known to be down stays down until checked.
   */
  private handOver(from: BackendPool, to: BackendPool): void {
    const known = new Map(from.nodes.map((n) => [n.cfg.id, n]))
    to.nodes.forEach((n, i) => {
      const prev = known.get(n.cfg.id)
      if (prev === undefined) return
      to.nodes[i] = prev
      this.metrics.backendUp.labels(to.cluster.name, prev.cfg.id).set(prev.up ? 1 : 0)
    })
  }

  // ---- shutdown ----------------------------------------------------------------------------------------------

  /**
   * Graceful stop: stop accepting, let in-flight requests finish (each connection closes at its next idle frame
   * boundary), and destroy whatever is left after `drainTimeoutMs`.
   */
  async close(drainTimeoutMs: number): Promise<void> {
    for (const c of this.runtimes) c.pool.stop()
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()))
    this.listening = false
    for (const [raw, p] of this.pending) {
      clearTimeout(p.timer)
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
