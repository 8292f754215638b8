/**
 * The REST listener: TCP → TLS (the transport listener's certificate and key, `tls:`) → HTTP/1.1 → router (SNI,
 * then Host, then the default cluster; router.ts) → proxy (http-proxy-3 to one of the cluster's `rest.nodes`;
 * proxy.ts). HTTP/1.1 only (ALPN `http/1.1`); no WebSocket; no client certificates (REST clients authenticate to
 * Elasticsearch itself with their Authorization header, which is forwarded untouched and never logged).
 *
 * Admission, as on the transport listener (issue #13), before TLS: the server counts an accepted connection against
 * `limits.max_connections` (this listener's own count; Node's maxConnections), then onAccept reads the PROXY header
 * within `limits.handshake_timeout` when `rest.proxy_protocol` is on, counts the connection against
 * `limits.max_connections_per_client_ip` (this listener's own count, by the client address — the PROXY source when
 * there is one), and only then lets Node's TLS layer start the handshake.
 * `clusters[].max_connections` bounds the REST connections routed to a cluster (counted at a connection's first
 * request to it, until it closes; the excess request is answered 503 and the connection closed).
 *
 * Slow clients are bounded by Node's `headersTimeout` (the whole header block) and `requestTimeout` (the whole
 * request, body included) — `rest.headers_timeout` / `rest.request_timeout` — and the TLS handshake by
 * `limits.handshake_timeout`. Nothing bounds how long a node takes to answer: Elasticsearch searches can run for
 * minutes, and the client decides how long it waits.
 *
 * Graceful stop: stop accepting, drop connections still in their TLS handshake, close idle keep-alive connections,
 * answer the requests in flight with `connection: close`, and after `shutdown.drain_timeout` destroy what is left.
 */
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TLSSocket, TlsOptions } from 'node:tls'
import type { AddressInfo, BlockList, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { createHash } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { GatewayConfig, ProxyProtocolConfig, RestListenerConfig } from '../config/types.js'
import { serverTlsOptions } from '../tls/options.js'
import { REST_UNROUTED, type GatewayMetrics, type RestClusterMetrics, type RestRejectReason } from '../admin/metrics.js'
import type { Logger } from '../log.js'
import { RestRouter } from './router.js'
import { ClusterUpstream, DEFAULT_DOWN_MS } from './upstream.js'
import { RestProxy, stripHopByHop, stripRequestOnly, type Exchange, type RestClusterRuntime } from './proxy.js'
import { rawErrorResponse, sendError, type RestErrorType, type UpstreamFailure } from './errors.js'
import { AddressCounter, trustList } from '../tls/admission.js'
import { readProxyHeader, type ProxyReadOutcome } from '../tls/proxy-protocol.js'

export interface RestServerOptions {
  /** How long a node whose connect failed is skipped (default 5 s). */
  readonly downMs?: number
}

interface Runtime extends RestClusterRuntime {
  readonly fingerprint: string
}

const MAX_LOGGED = 256

function fingerprint(v: unknown): string {
  return createHash('sha256').update(JSON.stringify(v)).digest('hex')
}

function formatPeer(address: string | undefined, port: number | undefined): string {
  return `${address ?? '?'}:${port ?? '?'}`
}

/** The path of a request target for logs: no query string (it can carry anything), bounded length. */
function loggedPath(url: string | undefined): string {
  const u = url ?? ''
  const q = u.indexOf('?')
  return (q < 0 ? u : u.slice(0, q)).slice(0, 1024)
}

function bounded(v: string | undefined): string | null {
  return v === undefined ? null : v.slice(0, MAX_LOGGED)
}

/** The gateway's server TLS settings without client certificates, for HTTP/1.1. */
export function restTlsOptions(cfg: GatewayConfig): TlsOptions {
  const { ca: _clientCas, ...base } = serverTlsOptions(cfg)
  void _clientCas
  return { ...base, requestCert: false, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }
}

/** The client of a raw socket as the REST listener reports it: the socket's peer, or a PROXY header's source. */
interface Peer {
  address: string
  port: number | undefined
  /** The load balancer's address when a PROXY header named the client. */
  proxiedBy: string | null
}

export class RestServer {
  private readonly server: HttpsServer
  /** rest.proxy_protocol* (reloadable, like listen.proxy_protocol*): applies to connections accepted afterwards. */
  private proxyProtocol: ProxyProtocolConfig
  private trusted: BlockList
  private readonly perAddress = new AddressCounter()
  /** REST connections per cluster name (clusters[].max_connections); names outlive reloads. */
  private readonly perCluster = new Map<string, number>()
  /** Raw sockets → the client they carry. */
  private readonly peers = new WeakMap<Socket, Peer>()
  /** TLS sockets → the clusters they are counted against. */
  private readonly counted = new WeakMap<TLSSocket, Set<string>>()
  private readonly proxy: RestProxy
  private readonly listenCfg: RestListenerConfig
  /** limits.* as of the last load (reloadable: the per-address cap applies to connections accepted afterwards). */
  private limits: GatewayConfig['limits']
  private runtimes = new Map<string, Runtime>()
  private router: RestRouter<Runtime>
  private readonly unrouted: RestClusterMetrics
  /** Raw TCP sockets → whether their TLS handshake completed. */
  private readonly sockets = new Map<Socket, boolean>()
  private tlsFp: string
  private draining = false
  private listening = false
  private port = 0

  constructor(
    cfg: GatewayConfig,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
    private readonly opts: RestServerOptions = {},
  ) {
    if (cfg.rest === undefined) throw new Error('RestServer needs a rest section')
    this.listenCfg = cfg.rest
    this.limits = cfg.limits
    this.proxyProtocol = cfg.rest.proxyProtocol
    this.trusted = trustList(cfg.rest.proxyProtocol)
    metrics.initRestRejectReasons()
    this.unrouted = metrics.forRestCluster(REST_UNROUTED)
    this.buildRuntimes(cfg, true)
    this.router = new RestRouter(cfg.clusters, [...this.runtimes.values()])
    this.tlsFp = fingerprint(cfg.tls)
    this.proxy = new RestProxy({
      draining: () => this.draining,
      localPort: () => this.port,
      upstreamError: (x, f, err, retrying) => this.onUpstreamError(x, f, err, retrying),
    })
    const l = cfg.rest
    this.server = createHttpsServer(
      {
        ...restTlsOptions(cfg),
        handshakeTimeout: cfg.limits.handshakeTimeoutMs,
        headersTimeout: l.headersTimeoutMs,
        requestTimeout: l.requestTimeoutMs,
        keepAliveTimeout: l.keepAliveTimeoutMs,
        // How often Node checks headersTimeout/requestTimeout (default 30 s would stretch them by up to that much).
        connectionsCheckingInterval: Math.max(100, Math.min(2_000, Math.floor(l.headersTimeoutMs / 2))),
      },
      (req, res) => this.onRequest(req, res),
    )
    // limits.max_connections bounds this listener on its own (the transport listener has its own count): the
    // runtime closes an excess connection at accept, before TLS, and reports it as 'drop'.
    this.server.maxConnections = cfg.limits.maxConnections
    this.server.on('drop', (d?: { remoteAddress?: string; remotePort?: number }) => {
      this.metrics.limitHits.labels('max_connections').inc()
      this.reject('max_connections', formatPeer(d?.remoteAddress, d?.remotePort), 'REST listener: connection refused: max_connections reached', { limit: cfg.limits.maxConnections })
    })
    // Admission before TLS: the TLS layer's own 'connection' listener (Node's tlsConnectionListener, which wraps the
    // socket and starts the handshake) runs only for a socket onAccept admits. The server itself still listens, so
    // Node's connection tracking (headers/request timeouts, close()) is unchanged.
    const tlsAccept = this.server.listeners('connection') as ((raw: Socket) => void)[]
    if (tlsAccept.length === 0) throw new Error('node:https: no TLS connection listener found; check the REST listener against this Node version')
    this.server.removeAllListeners('connection')
    this.server.on('connection', (raw: Socket) =>
      this.onAccept(raw, () => {
        for (const l of tlsAccept) l.call(this.server, raw)
      }),
    )
    this.server.on('secureConnection', (s: TLSSocket) => {
      const raw = (s as TLSSocket & { _parent?: Socket })._parent ?? s
      if (this.sockets.has(raw)) this.sockets.set(raw, true)
      this.metrics.restConnections.inc()
      s.once('close', () => this.metrics.restConnections.dec())
    })
    this.server.on('tlsClientError', (err: NodeJS.ErrnoException, s: TLSSocket) => {
      // Already counted by onClientError (a handshake timeout arrives there first, then as ECONNRESET here).
      if (this.tlsCounted.has(s)) return s.destroy()
      this.reject('tls', formatPeer(s.remoteAddress, s.remotePort), 'REST listener: TLS handshake failed', { err: err.code ?? err.message })
      s.destroy()
    })
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.onClientError(err, socket as Socket))
  }

  private buildRuntimes(cfg: GatewayConfig, initial: boolean): string[] {
    const changes: string[] = []
    const next = new Map<string, Runtime>()
    for (const c of cfg.clusters) {
      if (c.rest === undefined || c.rest === null) continue
      const fp = fingerprint(c.rest)
      const old = this.runtimes.get(c.name)
      if (old !== undefined && old.fingerprint === fp) {
        next.set(c.name, { ...old, cfg: c })
        continue
      }
      const upstream = new ClusterUpstream(c, c.rest, this.opts.downMs ?? DEFAULT_DOWN_MS)
      next.set(c.name, { cfg: c, upstream, metrics: this.metrics.forRestCluster(c.name), fingerprint: fp })
      if (old !== undefined) changes.push(`clusters.${c.name}: rest`)
      else if (!initial) changes.push(`clusters.${c.name}: rest added`)
    }
    for (const [name, old] of this.runtimes) {
      if (next.get(name)?.upstream !== old.upstream) old.upstream.retire()
      if (!next.has(name)) changes.push(`clusters.${name}: rest removed`)
    }
    this.runtimes = next
    return changes
  }

  get isListening(): boolean {
    return this.listening
  }

  /** Client connections with a completed TLS handshake. */
  get connectionCount(): number {
    let n = 0
    for (const secured of this.sockets.values()) if (secured) n++
    return n
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo
  }

  // ---- accept: limits, PROXY header --------------------------------------------------------------------------

  private onAccept(raw: Socket, toTls: () => void): void {
    // Never an uncaught 'error' before the TLS layer attaches its own handler.
    raw.on('error', () => {})
    this.sockets.set(raw, false)
    raw.once('close', () => this.sockets.delete(raw))
    const peer: Peer = { address: raw.remoteAddress ?? '?', port: raw.remotePort, proxiedBy: null }
    const from = formatPeer(raw.remoteAddress, raw.remotePort)
    this.peers.set(raw, peer)
    if (!this.proxyProtocol.enabled) {
      if (this.admitAddress(raw, peer)) toTls()
      return
    }
    const family = raw.remoteFamily === 'IPv6' ? 'ipv6' : 'ipv4'
    if (raw.remoteAddress === undefined || !this.trusted.check(raw.remoteAddress, family)) {
      this.reject('proxy_untrusted', from, 'REST listener: connection refused: this peer is not in rest.proxy_protocol_trusted')
      raw.destroy()
      return
    }
    // The PROXY header has handshake_timeout from accept; the TLS handshake then has its own (Node's handshakeTimeout).
    const timer = setTimeout(() => {
      this.metrics.limitHits.labels('handshake_timeout').inc()
      this.reject('proxy_missing', from, 'REST listener: connection refused: no complete PROXY header within handshake_timeout')
      raw.destroy()
    }, this.limits.handshakeTimeoutMs)
    raw.once('close', () => clearTimeout(timer))
    readProxyHeader(raw, (o) => {
      clearTimeout(timer)
      this.onProxyHeader(raw, peer, from, o, toTls)
    })
  }

  private onProxyHeader(raw: Socket, peer: Peer, from: string, o: ProxyReadOutcome, toTls: () => void): void {
    if (raw.destroyed) return // the deadline or shutdown got there first
    switch (o.status) {
      case 'ok': {
        const src = o.header.source
        if (src !== null) {
          peer.address = src.address
          peer.port = src.port
          peer.proxiedBy = from
        }
        if (this.admitAddress(raw, peer)) toTls()
        return
      }
      case 'closed':
        // received === 0: a TCP probe (load balancer health check) that connects and leaves; nothing was refused.
        if (o.received > 0) this.reject('proxy_missing', from, 'REST listener: connection closed before a complete PROXY header')
        break
      case 'missing':
        this.reject('proxy_missing', from, `REST listener: connection refused: ${o.message} (rest.proxy_protocol is on)`)
        break
      case 'malformed':
        this.reject('proxy_malformed', from, `REST listener: connection refused: ${o.message}`)
        break
    }
    raw.destroy()
  }

  /** limits.max_connections_per_client_ip on this listener: counted from admission until the socket closes. */
  private admitAddress(raw: Socket, peer: Peer): boolean {
    const limit = this.limits.maxConnectionsPerClientIp ?? Infinity
    if (!this.perAddress.tryAcquire(peer.address, limit)) {
      this.metrics.limitHits.labels('max_connections_per_client_ip').inc()
      this.reject('client_ip_max_connections', formatPeer(peer.address, peer.port), `REST listener: connection refused: ${peer.address} has limits.max_connections_per_client_ip (${limit}) open`, {
        proxied_by: peer.proxiedBy,
      })
      raw.destroy()
      return false
    }
    raw.once('close', () => this.perAddress.release(peer.address))
    return true
  }

  /** The client of a request's connection as admitted (the PROXY source when there was one). */
  private peerOf(s: TLSSocket): Peer | undefined {
    const raw = (s as TLSSocket & { _parent?: Socket })._parent
    return raw !== undefined ? this.peers.get(raw) : undefined
  }

  /**
   * clusters[].max_connections on this listener: a connection is counted against a cluster at its first request
   * routed there, until it closes. False (and counted) when the cluster is full; the limit is read per request, so a
   * reload applies to the next connection.
   */
  private admitToCluster(s: TLSSocket, cluster: RestClusterRuntime, client: string): boolean {
    const name = cluster.cfg.name
    let set = this.counted.get(s)
    if (set?.has(name) === true) return true
    const limit = cluster.cfg.maxConnections ?? Infinity
    const n = this.perCluster.get(name) ?? 0
    if (n >= limit) {
      this.metrics.limitHits.labels('cluster_max_connections').inc()
      this.reject('cluster_max_connections', client, `REST request refused: cluster ${name} has clusters[].max_connections (${limit}) REST connections open`, { cluster: name })
      return false
    }
    this.perCluster.set(name, n + 1)
    if (set === undefined) {
      set = new Set()
      this.counted.set(s, set)
      s.once('close', () => {
        for (const c of set!) {
          const left = (this.perCluster.get(c) ?? 1) - 1
          if (left <= 0) this.perCluster.delete(c)
          else this.perCluster.set(c, left)
        }
      })
    }
    set.add(name)
    return true
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen({ host: this.listenCfg.host, port: this.listenCfg.port }, () => {
        this.server.removeListener('error', reject)
        resolve()
      })
    })
    this.listening = true
    this.port = this.address().port
    return this.address()
  }

  /**
   * Applies a reloaded config (already validated; the top-level `rest` section is unchanged, reload.ts refuses
   * otherwise): server certificate/key for new handshakes, clusters' REST nodes and TLS, routing. Returns what
   * changed, in the `clusters.<name>: …` form of the transport side.
   */
  reload(next: GatewayConfig): string[] {
    const tlsFp = fingerprint(next.tls)
    if (tlsFp !== this.tlsFp) {
      // The transport side built the same context first (prepareReload), so this cannot fail here.
      this.server.setSecureContext(restTlsOptions(next))
      this.tlsFp = tlsFp
    }
    const changes = this.buildRuntimes(next, false)
    this.limits = next.limits
    const pp = next.rest?.proxyProtocol
    if (pp !== undefined && fingerprint(pp) !== fingerprint(this.proxyProtocol)) {
      this.proxyProtocol = pp
      this.trusted = trustList(pp)
      changes.push('rest.proxy_protocol')
    }
    this.router = new RestRouter(next.clusters, [...this.runtimes.values()])
    return changes
  }

  // ---- requests ----------------------------------------------------------------------------------------------

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const t0 = performance.now()
    const socket = req.socket as TLSSocket
    const servername = typeof socket.servername === 'string' ? socket.servername : null
    const peer = this.peerOf(socket)
    const client = peer !== undefined ? formatPeer(peer.address, peer.port) : formatPeer(socket.remoteAddress, socket.remotePort)
    const route = this.router.route(servername, req.headers.host)
    if (!route.ok) {
      res.once('close', () => {
        this.unrouted.request(res.writableFinished ? res.statusCode : 'aborted')
        this.unrouted.duration.observe((performance.now() - t0) / 1000)
      })
      this.reject('misdirected', client, `REST request refused: ${route.reason}`, {
        sni: servername,
        host_header: bounded(req.headers.host),
        http: { request: { method: req.method } },
        url: { path: loggedPath(req.url) },
      })
      sendError(res, 421, 'misdirected_request_exception', route.reason, this.draining)
      return
    }
    const cluster = route.target
    if (!this.admitToCluster(socket, cluster, client)) {
      res.once('close', () => {
        cluster.metrics.request(res.writableFinished ? res.statusCode : 'aborted')
        cluster.metrics.duration.observe((performance.now() - t0) / 1000)
      })
      sendError(res, 503, 'too_many_connections_exception', `cluster [${cluster.cfg.name}] has reached clusters[].max_connections REST connections at the gateway`, true)
      return
    }
    const x: Exchange = {
      req,
      res,
      cluster,
      client,
      servername,
      node: cluster.upstream.pick(),
      attempts: 1,
      xff: req.headers['x-forwarded-for'],
      proxiedFor: peer !== undefined && peer.proxiedBy !== null ? peer.address : null,
      cutByUpstream: false,
    }
    res.once('close', () => {
      cluster.metrics.request(x.cutByUpstream ? 502 : res.writableFinished ? res.statusCode : 'aborted')
      cluster.metrics.duration.observe((performance.now() - t0) / 1000)
    })
    stripHopByHop(req.headers)
    stripRequestOnly(req.headers)
    this.proxy.forward(x)
  }

  private onUpstreamError(x: Exchange, f: UpstreamFailure, err: Error, retrying: boolean): void {
    const cluster = x.cluster.cfg.name
    this.metrics.restUpstreamErrors.labels(cluster, x.node.id, f.reason).inc()
    this.log.warn(
      {
        event: 'rest_upstream_error',
        cluster,
        node: x.node.id,
        reason: f.reason,
        status: x.res.headersSent ? null : retrying ? null : f.status,
        retrying,
        client: x.client,
        sni: x.servername,
        http: { request: { method: x.req.method } },
        url: { path: loggedPath(x.req.url) },
        err: (err as NodeJS.ErrnoException).code !== undefined ? `${(err as NodeJS.ErrnoException).code}: ${err.message}` : err.message,
      },
      retrying
        ? `REST request to ${x.node.id} failed (${f.reason}); retrying on another node`
        : `REST request to ${x.node.id} failed (${f.reason})`,
    )
  }

  private reject(reason: RestRejectReason, client: string, message: string, extra: Record<string, unknown> = {}): void {
    this.metrics.restRejected.labels(reason).inc()
    this.log.warn({ event: 'rest_request_rejected', reason, client, ...extra }, message)
  }

  /** Sockets whose TLS failure is already counted (see onClientError). */
  private readonly tlsCounted = new WeakSet<object>()

  private onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    // The client left (or the socket is already gone): nothing to refuse.
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy()
      return
    }
    // A TLS handshake that did not finish in time reaches 'clientError' (and then 'tlsClientError' as ECONNRESET):
    // it is one TLS failure, counted once, and no HTTP answer can be written into a socket without TLS.
    if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') {
      this.tlsCounted.add(socket)
      this.reject('tls', formatPeer(socket.remoteAddress, socket.remotePort), 'REST listener: TLS handshake timed out', { err: err.code })
      socket.destroy()
      return
    }
    let status = 400
    let text = 'Bad Request'
    let type: RestErrorType = 'bad_request_exception'
    let reason: RestRejectReason = 'bad_request'
    let what = 'malformed HTTP request'
    if (err.code === 'HPE_HEADER_OVERFLOW') {
      ;[status, text, type, reason, what] = [431, 'Request Header Fields Too Large', 'request_header_fields_too_large_exception', 'headers_too_large', 'the request headers are too large']
    } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      ;[status, text, type, reason, what] = [408, 'Request Timeout', 'request_timeout_exception', 'request_timeout', 'the request did not arrive within the request timeout']
    }
    this.reject(reason, formatPeer(socket.remoteAddress, socket.remotePort), `REST request refused: ${what}`, { err: err.code ?? err.message })
    const current = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage
    if (current === undefined || current === null || current.headersSent !== true) socket.write(rawErrorResponse(status, text, type, what))
    socket.destroySoon()
  }

  // ---- shutdown ----------------------------------------------------------------------------------------------

  async close(drainTimeoutMs: number): Promise<void> {
    this.draining = true
    if (!this.listening) {
      for (const r of this.runtimes.values()) r.upstream.destroy()
      return
    }
    this.listening = false
    // server.close() also closes idle keep-alive connections (Node >= 19); busy ones end after their response,
    // which carries `connection: close` from now on.
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    for (const [raw, secured] of this.sockets) if (!secured) raw.destroy()
    const deadline = setTimeout(() => {
      this.server.closeAllConnections()
      for (const raw of this.sockets.keys()) raw.destroy()
    }, drainTimeoutMs)
    await closed
    clearTimeout(deadline)
    // Every connection is gone (the server's 'close' came after the last one); their own 'close' events may still
    // be queued.
    this.sockets.clear()
    for (const r of this.runtimes.values()) r.upstream.destroy()
  }
}
