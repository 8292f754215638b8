/**
 * Admin HTTP listener: `/healthz` (the process is alive), `/readyz` (listening, and every cluster has a healthy
 * backend node), `/metrics` (Prometheus text format).
 */
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { GatewayMetrics } from './metrics.js'

export interface ReadinessSource {
  readonly isListening: boolean
  unhealthyClusters(): string[]
}

export class AdminServer {
  private readonly server: Server

  constructor(
    private readonly metrics: GatewayMetrics,
    private readonly readiness: ReadinessSource,
  ) {
    this.server = createServer((req, res) => void this.handle(req, res))
    this.server.keepAliveTimeout = 5000
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n')
    switch (path) {
      case '/healthz':
        return send(res, 200, 'application/json', '{"status":"ok"}\n')
      case '/readyz': {
        const unhealthy = this.readiness.unhealthyClusters()
        const ready = this.readiness.isListening && unhealthy.length === 0
        const body = JSON.stringify({ status: ready ? 'ready' : 'not_ready', listening: this.readiness.isListening, clusters_without_healthy_nodes: unhealthy })
        return send(res, ready ? 200 : 503, 'application/json', body + '\n')
      }
      case '/metrics': {
        try {
          const text = await this.metrics.registry.metrics()
          return send(res, 200, this.metrics.registry.contentType, text)
        } catch (e) {
          return send(res, 500, 'text/plain', `metrics collection failed: ${(e as Error).message}\n`)
        }
      }
      default:
        return send(res, 404, 'text/plain', 'not found\n')
    }
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
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' })
  res.end(res.req.method === 'HEAD' ? undefined : body)
}
