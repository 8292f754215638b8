/**
 * One REST request, client → cluster node, through http-proxy-3: headers cleaned, X-Forwarded-* set, bodies
 * streamed both ways (http-proxy pipes the request into the upstream request and the upstream response into the
 * client response, so backpressure holds and nothing is buffered), failures answered 502/504 or — once a response
 * has started — the client connection cut, never left hanging.
 *
 * Deliberate departures from http-proxy-3's defaults (each is a hostile-input or correctness issue for an edge
 * proxy):
 *   - its `deleteLength` pass is removed: for DELETE/OPTIONS without Content-Length it sets `content-length: 0` and
 *     deletes Transfer-Encoding, so a chunked DELETE body (Elasticsearch clients send them, e.g. clear scroll)
 *     would be written after a zero-length message — request smuggling on the shared upstream connection;
 *   - hop-by-hop headers (RFC 9110 §7.6.1: Connection and the fields it names, Keep-Alive, Proxy-Connection, TE,
 *     Upgrade) and Expect (Node's server already answered `100 Continue`) and Proxy-Authorization (a credential for
 *     a proxy, not for Elasticsearch) are not forwarded; the framing headers (Content-Length, Transfer-Encoding)
 *     and Host are never removed, whatever Connection names;
 *   - X-Forwarded-For is appended to (the client's own value stays in front, ours is last and the only trustworthy
 *     entry); X-Forwarded-Proto/-Host/-Port are the gateway's own: a client's values are dropped, and -Port is the
 *     listener's port rather than http-proxy's guess from the Host header;
 *   - responses: hop-by-hop headers from the node are dropped and `connection` reflects this client connection
 *     (close when the client asked for it or the gateway is draining);
 *   - an upstream response that breaks off mid-body ends the client connection (http-proxy would leave it open).
 */
import type { IncomingMessage, ServerResponse, IncomingHttpHeaders } from 'node:http'
import { createProxyServer, type ProxyServer } from 'http-proxy-3'
import type { BackendNodeConfig } from '../config/types.js'
import type { RestClusterMetrics } from '../admin/metrics.js'
import type { ClusterUpstream } from './upstream.js'
import { classifyUpstreamError, sendError, upstreamErrorReason, type UpstreamFailure } from './errors.js'

/** A cluster as the REST listener routes to it. */
export interface RestClusterRuntime {
  readonly cfg: import('../config/types.js').ClusterConfig
  readonly upstream: ClusterUpstream
  readonly metrics: RestClusterMetrics
}

/** One request in flight. */
export interface Exchange {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly cluster: RestClusterRuntime
  /** The client as logged (`ip:port`). */
  readonly client: string
  readonly servername: string | null
  node: BackendNodeConfig
  attempts: number
  /** The client's X-Forwarded-For, restored before each attempt (http-proxy appends to it every time). */
  readonly xff: string | string[] | undefined
  /**
   * The client address a PROXY header named (rest.proxy_protocol), or null: then it, not the load balancer the TCP
   * connection came from, is the entry appended to X-Forwarded-For, as HAProxy's `option forwardfor` does behind
   * `accept-proxy`.
   */
  readonly proxiedFor: string | null
  /** Set when an upstream failure cut a response that had already started. */
  cutByUpstream: boolean
}

export interface ProxyHooks {
  /** True while the gateway drains: responses carry `connection: close`. */
  draining(): boolean
  /** The listener's port (for X-Forwarded-Port). */
  localPort(): number
  /** One upstream failure (logged and counted by the caller); `retrying` when the request goes to another node. */
  upstreamError(x: Exchange, f: UpstreamFailure, err: Error, retrying: boolean): void
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade']
const NEVER_STRIPPED = new Set(['content-length', 'transfer-encoding', 'host'])

/** Removes hop-by-hop headers (and those `Connection` names, except framing and Host) in place. */
export function stripHopByHop(h: IncomingHttpHeaders | Record<string, unknown>): void {
  const conn = h['connection']
  const named = typeof conn === 'string' ? conn.split(',').map((t) => t.trim().toLowerCase()) : []
  for (const n of named) if (n !== '' && !NEVER_STRIPPED.has(n)) delete h[n]
  for (const n of HOP_BY_HOP) delete h[n]
}

/** Request headers that never leave the gateway besides the hop-by-hop ones. */
export function stripRequestOnly(h: IncomingHttpHeaders): void {
  delete h['expect']
  delete h['proxy-authorization']
}

/** Whether the request carries a body (then it is never retried: it has been streamed already). */
export function hasBody(req: IncomingMessage): boolean {
  const te = req.headers['transfer-encoding']
  if (te !== undefined) return true
  const cl = req.headers['content-length']
  return cl !== undefined && cl !== '0'
}

export class RestProxy {
  private readonly proxy: ProxyServer
  private readonly exchanges = new WeakMap<IncomingMessage, Exchange>()

  constructor(private readonly hooks: ProxyHooks) {
    this.proxy = createProxyServer({ xfwd: true, ws: false })
    const passes = (this.proxy as unknown as { webPasses?: Array<{ name: string }> }).webPasses
    const i = passes?.findIndex((p) => p.name === 'deleteLength') ?? -1
    if (passes === undefined || i < 0) throw new Error('http-proxy-3: the deleteLength pass was not found; check the REST proxy against this version')
    passes.splice(i, 1)
    const x = passes.findIndex((p) => p.name === 'XHeaders')
    if (x < 0) throw new Error('http-proxy-3: the XHeaders pass was not found; check the REST proxy against this version')
    // Runs right after XHeaders appended the TCP peer: replaces that last entry by the PROXY source, if any.
    const proxiedFor = (req: IncomingMessage): void => {
      const ex = this.exchanges.get(req)
      const h = req.headers['x-forwarded-for']
      if (ex === undefined || ex.proxiedFor === null || typeof h !== 'string') return
      const cut = h.lastIndexOf(',')
      req.headers['x-forwarded-for'] = (cut < 0 ? '' : h.slice(0, cut + 1)) + ex.proxiedFor
    }
    passes.splice(x + 1, 0, proxiedFor as unknown as { name: string })
    this.proxy.on('proxyRes', (proxyRes, req, res) => this.onProxyRes(proxyRes, req, res))
    // Errors of requests are handled by the per-request callback; anything else must not crash the process.
    this.proxy.on('error', () => {})
    this.proxy.on('econnreset', () => {})
  }

  /** Sends `x` to `x.node` (called again for the one retry). */
  forward(x: Exchange): void {
    this.exchanges.set(x.req, x)
    const h = x.req.headers
    if (x.xff === undefined) delete h['x-forwarded-for']
    else h['x-forwarded-for'] = x.xff
    delete h['x-forwarded-proto']
    delete h['x-forwarded-host']
    delete h['x-forwarded-port']
    const up = x.cluster.upstream
    this.proxy.web(
      x.req,
      x.res,
      {
        target: { protocol: up.protocol, host: x.node.host, port: x.node.port },
        agent: up.agent,
        headers: { 'x-forwarded-port': String(this.hooks.localPort()) },
      },
      (err) => this.onError(err, x),
    )
  }

  private onError(err: Error, x: Exchange): void {
    // The client went away first: nothing to answer, nothing the node did wrong (counted as aborted on close).
    if (x.res.destroyed || x.req.socket.destroyed) return
    const f = classifyUpstreamError(err)
    const retry = f.beforeConnect && f.reason !== 'timeout' && x.attempts === 1 && !hasBody(x.req) && x.cluster.upstream.nodes.length > 1 && !x.res.headersSent
    this.hooks.upstreamError(x, f, err, retry)
    if (retry) {
      x.attempts++
      x.node = x.cluster.upstream.pick(x.node)
      this.forward(x)
      return
    }
    if (x.res.headersSent) x.cutByUpstream = true
    sendError(x.res, f.status, f.status === 504 ? 'gateway_timeout_exception' : 'bad_gateway_exception', upstreamErrorReason(x.cluster.cfg.name, f), this.hooks.draining())
  }

  private onProxyRes(proxyRes: IncomingMessage, req: IncomingMessage, res: ServerResponse): void {
    const x = this.exchanges.get(req)
    const h = proxyRes.headers
    stripHopByHop(h)
    const keepAlive = (res as ServerResponse & { shouldKeepAlive?: boolean }).shouldKeepAlive !== false
    h['connection'] = keepAlive && !this.hooks.draining() ? 'keep-alive' : 'close'
    proxyRes.on('error', () => {})
    proxyRes.once('close', () => {
      if (proxyRes.complete || res.destroyed || x === undefined) return
      // The node's response broke off mid-body: the client must not wait for the rest, nor take it as complete.
      const err = Object.assign(new Error('the upstream response ended before it was complete'), { code: 'ECONNRESET' })
      this.hooks.upstreamError(x, classifyUpstreamError(err), err, false)
      x.cutByUpstream = true
      res.destroy()
    })
  }
}
