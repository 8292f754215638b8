/**
 * Admin HTTP listener:
 *
 *   GET /healthz   200 while the process runs (liveness: restart me only if this fails)
 *   GET /readyz    200 when the transport listener is up and every cluster has a healthy backend node,
 *                  else 503; the JSON body names the clusters without one (load balancers / k8s readiness)
 *   GET /metrics   Prometheus text format
 *
 * HEAD is answered like GET without a body; other methods get 405 with `Allow`. The listener is meant for a
 * private interface (default 127.0.0.1), but it still bounds slow clients, since a scraper stuck on a half-open
 * connection must not pin sockets forever.
 */
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { GatewayMetrics } from './metrics.js'

export interface ReadinessSource {
  readonly isListening: boolean
  unhealthyClusters(): string[]
}

/**
 * What /metrics reads: a `GatewayMetrics`, or any registry-like source such as the primary's cluster-wide
 * aggregation with `workers` > 1 (src/cli/workers.ts).
 */
export interface MetricsSource {
  readonly registry: { metrics(): Promise<string>; readonly contentType: string }
}

export interface ReadinessBody {
  readonly status: 'ready' | 'not_ready'
  readonly listening: boolean
  readonly clusters_without_healthy_nodes: string[]
}

const ALLOW = 'GET, HEAD'
const JSON_TYPE = 'application/json; charset=utf-8'
const TEXT_TYPE = 'text/plain; charset=utf-8'
const INDEX = 'rcgw admin: /healthz /readyz /metrics\n'

export class AdminServer {
  private readonly server: Server

  constructor(
    private readonly metrics: GatewayMetrics | MetricsSource,
    private readonly readiness: ReadinessSource,
  ) {
    this.server = createServer((req, res) => void this.handle(req, res))
    // Longer than Prometheus' default 15 s scrape interval, so consecutive scrapes reuse one connection.
    this.server.keepAliveTimeout = 20_000
    this.server.headersTimeout = 10_000
    this.server.requestTimeout = 30_000
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req.url)
    if (path === null) return send(res, 400, TEXT_TYPE, 'bad request\n')
    const route = ROUTES[path]
    if (route === undefined) return send(res, 404, TEXT_TYPE, 'not found\n')
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, TEXT_TYPE, 'method not allowed\n', { allow: ALLOW })
    switch (route) {
      case 'index':
        return send(res, 200, TEXT_TYPE, INDEX)
      case 'healthz':
        return send(res, 200, JSON_TYPE, '{"status":"ok"}\n')
      case 'readyz': {
        const body = this.readinessBody()
        return send(res, body.status === 'ready' ? 200 : 503, JSON_TYPE, JSON.stringify(body) + '\n')
      }
      case 'metrics': {
        let text: string
        try {
          text = await this.metrics.registry.metrics()
        } catch (e) {
          // A failing collector must not take the other metrics down silently: answer 500 so the scrape shows up
          // as failed (`up == 0`) instead of as missing series.
          return send(res, 500, TEXT_TYPE, `metrics collection failed: ${(e as Error).message}\n`)
        }
        return send(res, 200, this.metrics.registry.contentType, text)
      }
    }
  }

  readinessBody(): ReadinessBody {
    const listening = this.readiness.isListening
    const unhealthy = this.readiness.unhealthyClusters()
    return { status: listening && unhealthy.length === 0 ? 'ready' : 'not_ready', listening, clusters_without_healthy_nodes: unhealthy }
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen({ host, port }, () => {
        this.server.removeListener('error', reject)
        resolve(this.server.address() as AddressInfo)
      })
    })
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve()
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
  }
}

type Route = 'index' | 'healthz' | 'readyz' | 'metrics'

const ROUTES: Readonly<Record<string, Route>> = Object.assign(Object.create(null) as Record<string, Route>, {
  '/': 'index',
  '/healthz': 'healthz',
  '/readyz': 'readyz',
  '/metrics': 'metrics',
})

/** Path of an origin-form or absolute-form request target, without the query; null when unparseable. */
function pathOf(url: string | undefined): string | null {
  if (url === undefined || url === '') return '/'
  try {
    return new URL(url, 'http://admin.invalid').pathname
  } catch {
    return null
  }
}

function send(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  const bytes = Buffer.from(body, 'utf8')
  res.writeHead(status, {
    'content-type': type,
    'content-length': String(bytes.length),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...extra,
  })
  res.end(res.req.method === 'HEAD' ? undefined : bytes)
}
