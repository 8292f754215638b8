/**
 * One backend connection: TCP + TLS to a node's remote cluster port, bounded by a connect timeout.
 * Failures are classified into a small fixed set of reasons (a metric label).
 */
import { connect as tlsConnect, createSecureContext, type ConnectionOptions, type SecureContext, type TLSSocket } from 'node:tls'
import type { BackendNodeConfig, BackendTlsConfig } from '../config/types.js'
import { backendTlsOptions } from '../tls/options.js'
import { connect as netConnect, type Socket } from 'node:net'

export type ConnectFailureReason = 'refused' | 'timeout' | 'tls' | 'reset' | 'unreachable' | 'other'

export class BackendConnectError extends Error {
  constructor(
    readonly node: string,
    readonly reason: ConnectFailureReason,
    message: string,
  ) {
    super(`backend ${node}: ${message}`)
    this.name = 'BackendConnectError'
  }
}

export function classifyConnectError(err: NodeJS.ErrnoException): ConnectFailureReason {
  const code = err.code ?? ''
  if (code === 'ECONNREFUSED') return 'refused'
  if (code === 'ETIMEDOUT') return 'timeout'
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset'
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'unreachable'
  if (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || /CERT|SELF_SIGNED|UNABLE_TO|HOSTNAME|ALTNAME/.test(code)) return 'tls'
  return 'other'
}

/** Sockets that carry transport traffic: no Nagle delay, TCP keep-alive (Elasticsearch disables transport pings). */
export function tuneSocket(s: Socket): void {
  s.setNoDelay(true)
  s.setKeepAlive(true, 60_000)
}

/**
 * What backend connects of one cluster share: one SecureContext (tls.connect({ ca, cert, key }) would parse the PEM
 * and build an X509 store on every connect, 21 % of the gateway's CPU under connection churn — bench/FINDINGS.md
 * §3) and the last TLS session per node, so reconnects resume (abbreviated handshake, as HAProxy does for its
 * servers by default). Node checks the server certificate and its identity only on full handshakes; a resumed
 * session is one that passed those checks under this very configuration object. A reload builds new config objects,
 * so new CAs or verification settings never resume a session made under the old ones (WeakMap: the old ones go
 * with their config).
 */
interface TlsShared {
  readonly context: SecureContext
  readonly sessions: Map<string, Buffer>
}
const shared = new WeakMap<BackendTlsConfig, TlsShared>()

function sharedFor(tls: BackendTlsConfig, opts: ConnectionOptions): TlsShared {
  let s = shared.get(tls)
  if (s === undefined) {
    const { ca, cert, key, minVersion, maxVersion, ecdhCurve } = opts
    s = { context: createSecureContext({ ca, cert, key, minVersion, maxVersion, ecdhCurve }), sessions: new Map() }
    shared.set(tls, s)
  }
  return s
}

/**
 * tls.connect options for a node under `tls` (backend_tls, or a cluster's rest.tls): the per-host options of
 * backendTlsOptions (server name, verification) with the config's one shared SecureContext instead of the PEM
 * material, which tls.connect would otherwise parse into a new context on every connect.
 */
export function sharedTlsOptions(tls: BackendTlsConfig, host: string): ConnectionOptions & { secureContext: SecureContext } {
  const opts = backendTlsOptions(tls, host)
  return {
    secureContext: sharedFor(tls, opts).context,
    rejectUnauthorized: opts.rejectUnauthorized,
    ...(opts.servername !== undefined ? { servername: opts.servername } : {}),
    ...(opts.checkServerIdentity !== undefined ? { checkServerIdentity: opts.checkServerIdentity } : {}),
  }
}

function connectTls(node: BackendNodeConfig, tls: BackendTlsConfig): TLSSocket {
  const opts = sharedTlsOptions(tls, node.host)
  const s = shared.get(tls)!
  const sessionKey = `${node.host}:${node.port}`
  const session = s.sessions.get(sessionKey)
  const socket = tlsConnect({ host: node.host, port: node.port, ...opts, ...(session !== undefined ? { session } : {}) })
  socket.on('session', (ticket: Buffer) => s.sessions.set(sessionKey, ticket))
  // A failed connect forgets the session: the next attempt does a full handshake (and full verification).
  socket.once('error', () => s.sessions.delete(sessionKey))
  return socket
}

export function connectBackend(node: BackendNodeConfig, tls: BackendTlsConfig, timeoutMs: number): Promise<Socket | TLSSocket> {
  return new Promise((resolve, reject) => {
    let settled = false
    const socket: Socket | TLSSocket = tls.enabled ? connectTls(node, tls) : netConnect({ host: node.host, port: node.port })
    const timer = setTimeout(() => fail(new BackendConnectError(node.id, 'timeout', `connect timed out after ${timeoutMs}ms`)), timeoutMs)
    const onError = (err: NodeJS.ErrnoException) => fail(new BackendConnectError(node.id, classifyConnectError(err), err.message))
    const onClose = () => fail(new BackendConnectError(node.id, 'reset', 'connection closed during connect'))
    function fail(e: BackendConnectError): void {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      reject(e)
    }
    socket.once('error', onError)
    socket.once('close', onClose)
    socket.once(tls.enabled ? 'secureConnect' : 'connect', () => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.removeListener('error', onError)
      socket.removeListener('close', onClose)
      tuneSocket(socket)
      resolve(socket)
    })
  })
}
