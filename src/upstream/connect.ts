/**
 * One backend connection: TCP + TLS to a node's remote cluster port, bounded by a connect timeout.
 * Failures are classified into a small fixed set of reasons (a metric label).
 */
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
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

export function connectBackend(node: BackendNodeConfig, tls: BackendTlsConfig, timeoutMs: number): Promise<Socket | TLSSocket> {
  return new Promise((resolve, reject) => {
    let settled = false
    const socket: Socket | TLSSocket = tls.enabled
      ? tlsConnect({ host: node.host, port: node.port, ...backendTlsOptions(tls, node.host) })
      : netConnect({ host: node.host, port: node.port })
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
