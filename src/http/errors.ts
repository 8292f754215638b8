/**
 * Answers the REST listener gives itself, shaped like Elasticsearch's own error responses
 * (server/src/main/java/org/elasticsearch/rest/RestResponse.java, ElasticsearchException#generateFailureXContent):
 *
 *   {"error":{"root_cause":[{"type":"…","reason":"…"}],"type":"…","reason":"…"},"status":502}
 *
 * so that Elasticsearch clients (which parse `error.type` / `error.reason`) report them sensibly. The types are
 * the gateway's own (snake_case, as Elasticsearch derives them from exception class names), so an operator can
 * tell at a glance that the gateway, not the cluster, answered.
 *
 * Upstream failures are classified from the error Node reports: the connect phase is recorded on the error by the
 * upstream agent (upstream.ts), so a refused TCP connect, an expired connect deadline and a failed TLS handshake are
 * told apart reliably instead of from message text.
 */
import type { ServerResponse } from 'node:http'
import type { RestUpstreamErrorReason } from '../admin/metrics.js'

export const JSON_CONTENT_TYPE = 'application/json'

export type RestErrorType =
  | 'misdirected_request_exception'
  | 'bad_gateway_exception'
  | 'gateway_timeout_exception'
  | 'bad_request_exception'
  | 'request_timeout_exception'
  | 'request_header_fields_too_large_exception'
  | 'too_many_connections_exception'

export function esErrorBody(status: number, type: RestErrorType, reason: string): string {
  const cause = { type, reason }
  return JSON.stringify({ error: { root_cause: [cause], type, reason }, status })
}

/**
 * Sends an error answer unless a response is already under way (then the client connection is cut instead: a
 * half-sent body must never look complete). `close` adds `connection: close` (draining, or a broken request).
 */
export function sendError(res: ServerResponse, status: number, type: RestErrorType, reason: string, close = false): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const body = esErrorBody(status, type, reason)
  res.writeHead(status, {
    'content-type': JSON_CONTENT_TYPE,
    'content-length': Buffer.byteLength(body),
    // The gateway's own answers are JSON for API clients; nosniff keeps a browser from reading one as anything else
    // (testssl.sh rates an HTTPS answer without any security header MEDIUM; issue #11 TLS scan).
    'x-content-type-options': 'nosniff',
    ...(close ? { connection: 'close' } : {}),
  })
  res.end(res.req.method === 'HEAD' ? undefined : body)
}

/** A raw HTTP/1.1 error response for sockets without a ServerResponse (Node's 'clientError'). */
export function rawErrorResponse(status: number, statusText: string, type: RestErrorType, reason: string): string {
  const body = esErrorBody(status, type, reason)
  return `HTTP/1.1 ${status} ${statusText}\r\ncontent-type: ${JSON_CONTENT_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-content-type-options: nosniff\r\nconnection: close\r\n\r\n${body}`
}

/** Where a connection to an upstream node was when it failed (set by the upstream agent, see upstream.ts). */
export type ConnectPhase = 'tcp' | 'tls'

const PHASE = Symbol('rcgw.connectPhase')

export function markConnectPhase(err: Error, phase: ConnectPhase): void {
  ;(err as Error & { [PHASE]?: ConnectPhase })[PHASE] ??= phase
}

export function connectPhaseOf(err: Error): ConnectPhase | null {
  return (err as Error & { [PHASE]?: ConnectPhase })[PHASE] ?? null
}

/** The connect deadline (`clusters[].rest.connect_timeout`) expired. */
export class ConnectTimeoutError extends Error {
  readonly code = 'ETIMEDOUT'
  constructor(readonly node: string, readonly timeoutMs: number) {
    super(`connect to ${node} timed out after ${timeoutMs} ms`)
    this.name = 'ConnectTimeoutError'
  }
}

export interface UpstreamFailure {
  readonly reason: RestUpstreamErrorReason
  /** 502 or 504. */
  readonly status: number
  /** True when no byte of the request can have reached the node (a retry elsewhere is safe). */
  readonly beforeConnect: boolean
}

const UNREACHABLE = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENETDOWN', 'EHOSTDOWN'])
const DNS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME'])

export function classifyUpstreamError(err: Error): UpstreamFailure {
  const code = (err as NodeJS.ErrnoException).code ?? ''
  const phase = connectPhaseOf(err)
  // Not retried: a node that is slow to accept is likely slow for the next attempt too, and a retry would double
  // the client's wait.
  if (err instanceof ConnectTimeoutError || code === 'ETIMEDOUT') return { reason: 'timeout', status: 504, beforeConnect: false }
  if (phase === 'tcp') {
    if (code === 'ECONNREFUSED') return { reason: 'refused', status: 502, beforeConnect: true }
    if (UNREACHABLE.has(code)) return { reason: 'unreachable', status: 502, beforeConnect: true }
    if (DNS.has(code)) return { reason: 'dns', status: 502, beforeConnect: true }
    return { reason: 'other', status: 502, beforeConnect: true }
  }
  if (phase === 'tls') return { reason: 'tls', status: 502, beforeConnect: false }
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED' || code === 'ERR_STREAM_PREMATURE_CLOSE') return { reason: 'reset', status: 502, beforeConnect: false }
  return { reason: 'other', status: 502, beforeConnect: false }
}

/** What a client sees for an upstream failure (never the node's address: that is for logs). */
export function upstreamErrorReason(cluster: string, f: UpstreamFailure): string {
  switch (f.reason) {
    case 'timeout':
      return `no connection to a node of cluster [${cluster}] within the connect timeout`
    case 'tls':
      return `TLS connection to a node of cluster [${cluster}] failed`
    case 'reset':
      return `the connection to a node of cluster [${cluster}] was closed before the response was complete`
    default:
      return `cannot connect to a node of cluster [${cluster}]`
  }
}
