/**
 * REST listener test helpers: an HTTPS backend that answers like an Elasticsearch HTTP node (JSON, `GET /` with
 * the cluster name), a gateway with the REST listener on an ephemeral 127.0.0.1 port, and an HTTPS client.
 *
 * Backend endpoints:
 *   GET  /                 {"name": node, "cluster_name": cluster, "tagline": "You Know, for Search"}
 *   any  /_echo            {"method","url","headers","body_sha256","body_length"} (the body is hashed as it streams)
 *   any  /_pipe            streams the request body back as the response body (chunked)
 *   GET  /_chunks?n=N      N JSON lines, each written as its own chunk
 *   GET  /_cut             headers and part of a body, then the connection is destroyed
 *   GET  /_hold            answers only when `release()` is called (for drain tests)
 */
import { createServer as createHttpsServer, request as httpsRequest, type Server } from 'node:https'
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http'
import { createServer as createNetServer, type Socket } from 'node:net'
import { createHash } from 'node:crypto'
import type { Test } from 'tap'
import { testPki } from '../helpers/pki.js'
import { startGateway, type ClusterSpec, type StartedGateway } from '../helpers/gateway.js'
import type { GatewayOptions } from '../../src/gateway/gateway.js'

export interface Backend {
  readonly port: number
  readonly address: string
  readonly name: string
  /** TCP connections accepted so far. */
  connections: number
  /** Requests seen, in order. */
  readonly requests: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }>
  /** Answers the held `/_hold` requests. */
  release(): void
  readonly held: number
}

export async function esBackend(t: Test, cluster: string, name: string): Promise<Backend> {
  const pki = testPki()
  const holds: Array<() => void> = []
  const sockets = new Set<Socket>()
  const be: Backend = {
    port: 0,
    address: '',
    name,
    connections: 0,
    requests: [],
    release() {
      for (const h of holds.splice(0)) h()
    },
    get held() {
      return holds.length
    },
  }
  const server: Server = createHttpsServer({ cert: pki.server.certPem, key: pki.server.keyPem, keepAliveTimeout: 60_000 }, (req, res) => {
    be.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers })
    const path = (req.url ?? '/').split('?')[0]
    const json = (status: number, body: unknown) => {
      const text = JSON.stringify(body)
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-elastic-product': 'Elasticsearch' })
      res.end(text)
    }
    switch (path) {
      case '/':
        req.resume()
        return json(200, { name, cluster_name: cluster, tagline: 'You Know, for Search' })
      case '/_echo': {
        const h = createHash('sha256')
        let n = 0
        req.on('data', (d: Buffer) => {
          h.update(d)
          n += d.length
        })
        req.on('end', () => json(200, { node: name, method: req.method, url: req.url, headers: req.headers, body_sha256: h.digest('hex'), body_length: n }))
        return
      }
      case '/_pipe':
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        req.pipe(res)
        return
      case '/_chunks': {
        const n = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('n') ?? '3')
        req.resume()
        res.writeHead(200, { 'content-type': 'application/x-ndjson' })
        let i = 0
        const next = () => {
          if (i === n) return res.end()
          res.write(JSON.stringify({ chunk: i++ }) + '\n', () => setImmediate(next))
        }
        next()
        return
      }
      case '/_cut':
        req.resume()
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' })
        res.write('{"partial":', () => res.destroy())
        return
      case '/_hold':
        req.resume()
        holds.push(() => json(200, { held: true, node: name }))
        return
      default:
        req.resume()
        return json(404, { error: { root_cause: [], type: 'not_found', reason: `no handler for ${path}` }, status: 404 })
    }
  })
  server.on('connection', (s: Socket) => {
    be.connections++
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const port = (server.address() as { port: number }).port
  Object.assign(be, { port, address: `127.0.0.1:${port}` })
  t.teardown(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy()
        server.close(() => r())
      }),
  )
  return be
}

/** A TCP port that accepts and never speaks (TLS handshakes to it never finish). */
export async function silentPort(t: Test): Promise<number> {
  const sockets = new Set<Socket>()
  const server = createNetServer((s) => {
    sockets.add(s)
    s.on('error', () => {})
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  t.teardown(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy()
        server.close(() => r())
      }),
  )
  return (server.address() as { port: number }).port
}

/** A port nothing listens on (bound then closed). */
export async function deadPort(): Promise<number> {
  const server = createNetServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((r) => server.close(() => r()))
  return port
}

export interface RestGateway extends StartedGateway {
  readonly restPort: number
}

/** `rest` of each cluster: node addresses; TLS to them trusts the test CA and checks `node.internal`. */
export function restCluster(spec: ClusterSpec, nodes: string[], tls: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): ClusterSpec {
  return { ...spec, rest: { nodes, tls: { certificate_authorities: ['certs/ca.crt'], verification_mode: 'full', server_name: 'node.internal', ...tls }, ...extra } }
}

export async function startRestGateway(
  t: Test,
  clusters: ClusterSpec[],
  opts: { rest?: Record<string, unknown>; extra?: Record<string, unknown>; options?: Partial<GatewayOptions> } = {},
): Promise<RestGateway> {
  const gw = await startGateway(t, {
    clusters,
    extra: { rest: { enabled: true, host: '127.0.0.1', port: 0, ...opts.rest }, ...opts.extra },
    options: { rest: { downMs: 600_000 }, ...opts.options },
  })
  return { ...gw, restPort: gw.gateway.rest!.address().port }
}

export interface Reply {
  readonly status: number
  readonly headers: IncomingMessage['headers']
  readonly body: Buffer
  json<T = Record<string, unknown>>(): T
}

export interface RequestSpec {
  readonly method?: string
  readonly path?: string
  readonly headers?: OutgoingHttpHeaders
  /** SNI; default none (the client connects to an IP address). */
  readonly servername?: string
  readonly body?: Buffer | string
  /** Reuse connections across calls (a keep-alive agent of the caller's). */
  readonly agent?: import('node:https').Agent
}

export function restRequest(port: number, spec: RequestSpec = {}): Promise<Reply> {
  const ca = testPki().ca.certPem
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        method: spec.method ?? 'GET',
        path: spec.path ?? '/',
        headers: spec.headers ?? {},
        ca,
        // '' = no SNI (Node would otherwise derive one from the Host header).
        servername: spec.servername ?? '',
        agent: spec.agent ?? false,
        // The test CA's server certificate names 127.0.0.1 and the example host names.
        checkServerIdentity: () => undefined,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (d: Buffer) => chunks.push(d))
        res.on('end', () => {
          const body = Buffer.concat(chunks)
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: <T>() => JSON.parse(body.toString('utf8')) as T })
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(spec.body)
  })
}

export function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex')
}
