/**
 * The HTTP nodes of one cluster as the REST listener sees them: one keep-alive agent (connections to every node of
 * the cluster are pooled and reused across client connections), round-robin node choice, and a short "down" mark
 * for a node whose last connect failed, so that the following requests go elsewhere instead of failing the same way.
 *
 * The agent builds each connection itself (`createConnection`) so that
 *   - TLS follows `clusters[].rest.tls` exactly like the transport side follows `backend_tls` (backendTlsOptions:
 *     CAs, verification_mode, server_name); the SNI and the name checked never come from the client's Host header,
 *     which Node's agent would otherwise use (`calculateServerName`);
 *   - a connect deadline (`connect_timeout`) covers TCP + TLS, and an error is tagged with the phase it happened in
 *     (errors.ts), which decides 502 vs 504 and whether a retry on another node is safe;
 *   - pooled sockets are keyed by node only (`getName`), not by anything the client sent.
 *
 * When every node is marked down the choice falls back to plain round robin ("panic mode", as Envoy does): a
 * cluster is never made unreachable by the gateway's own bookkeeping.
 */
import { Agent as HttpAgent, type ClientRequestArgs } from 'node:http'
import { Agent as HttpsAgent, type RequestOptions as HttpsRequestOptions } from 'node:https'
import type { Duplex } from 'node:stream'
import type { Socket } from 'node:net'
import { createConnection as netConnect } from 'node:net'
import type { BackendNodeConfig, ClusterConfig, ClusterRestConfig } from '../config/types.js'
import { sharedTlsOptions } from '../upstream/connect.js'
import { nodeConfig } from '../config/load.js'
import { ConnectTimeoutError, markConnectPhase, type ConnectPhase } from './errors.js'

/** How long a pooled idle upstream connection is kept (Node's agent `timeout` applies to idle pooled sockets). */
export const IDLE_UPSTREAM_SOCKET_MS = 30_000
/** How long a node whose connect failed is skipped (unless every node is down). */
export const DEFAULT_DOWN_MS = 5_000

export interface ConnectEvents {
  /** A connection to `node` failed before it was usable (TCP, TLS or the deadline). */
  onConnectFailure(node: BackendNodeConfig): void
  /** A connection to `node` was established (TCP, and TLS when enabled). */
  onConnected(node: BackendNodeConfig): void
}

/** Arms the connect deadline and tags errors with their phase; `ready` is 'connect' (plain) or 'secureConnect'. */
function watchConnect(socket: Socket, tls: boolean, node: BackendNodeConfig, timeoutMs: number, events: ConnectEvents): void {
  let phase: ConnectPhase = 'tcp'
  const timer = setTimeout(() => socket.destroy(new ConnectTimeoutError(node.id, timeoutMs)), timeoutMs)
  const onError = (err: Error) => {
    clearTimeout(timer)
    markConnectPhase(err, phase)
    events.onConnectFailure(node)
  }
  const onReady = () => {
    clearTimeout(timer)
    socket.removeListener('error', onError)
    events.onConnected(node)
  }
  // Added inside createConnection, i.e. before the ClientRequest's own listeners: the error is tagged before the
  // request re-emits it.
  socket.on('error', onError)
  socket.once('close', () => clearTimeout(timer))
  if (tls) {
    socket.once('connect', () => (phase = 'tls'))
    socket.once('secureConnect', onReady)
  } else socket.once('connect', onReady)
}

function nodeFor(nodes: readonly BackendNodeConfig[], host: unknown, port: unknown): BackendNodeConfig {
  const h = String(host ?? '')
  const p = Number(port)
  return nodes.find((n) => n.host === h && n.port === p) ?? nodeConfig({ host: h, port: p })
}

/** Pool key of both agents: one pool per node address (never per client Host or SNI). */
function poolName(options?: { readonly host?: string | null | undefined; readonly port?: number | string | null | undefined }): string {
  return `${options?.host ?? ''}:${options?.port ?? ''}`
}

class TlsNodeAgent extends HttpsAgent {
  constructor(
    private readonly rest: ClusterRestConfig,
    private readonly events: ConnectEvents,
  ) {
    super({ keepAlive: true, timeout: IDLE_UPSTREAM_SOCKET_MS, scheduling: 'lifo' })
  }

  override getName(options?: HttpsRequestOptions): string {
    return poolName(options)
  }

  override createConnection(options: HttpsRequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const node = nodeFor(this.rest.nodes, options.host, options.port)
    // One SecureContext per rest.tls config (shared with the transport side's helper), not a PEM parse per connect.
    const tls = sharedTlsOptions(this.rest.tls, node.host)
    // `servername: ''` when backendTlsOptions chose none (IP address, no server_name): never the client's Host.
    const socket = super.createConnection({ ...options, ...tls, servername: tls.servername ?? '' }, callback) as Socket
    watchConnect(socket, true, node, this.rest.connectTimeoutMs, this.events)
    return socket
  }
}

class PlainNodeAgent extends HttpAgent {
  constructor(
    private readonly rest: ClusterRestConfig,
    private readonly events: ConnectEvents,
  ) {
    super({ keepAlive: true, timeout: IDLE_UPSTREAM_SOCKET_MS, scheduling: 'lifo' })
  }

  override getName(options?: ClientRequestArgs): string {
    return poolName(options)
  }

  override createConnection(options: ClientRequestArgs): Duplex {
    const node = nodeFor(this.rest.nodes, options.host, options.port)
    const socket = netConnect({ host: node.host, port: node.port })
    watchConnect(socket, false, node, this.rest.connectTimeoutMs, this.events)
    return socket
  }
}

export class ClusterUpstream {
  readonly agent: HttpAgent
  readonly protocol: 'https:' | 'http:'
  private next = 0
  private readonly downUntil = new Map<string, number>()

  constructor(
    readonly cfg: ClusterConfig,
    readonly rest: ClusterRestConfig,
    private readonly downMs: number = DEFAULT_DOWN_MS,
    events?: ConnectEvents,
  ) {
    const ev: ConnectEvents = {
      onConnectFailure: (n) => {
        this.markDown(n)
        events?.onConnectFailure(n)
      },
      onConnected: (n) => {
        this.downUntil.delete(n.id)
        events?.onConnected(n)
      },
    }
    this.protocol = rest.tls.enabled ? 'https:' : 'http:'
    this.agent = rest.tls.enabled ? new TlsNodeAgent(rest, ev) : new PlainNodeAgent(rest, ev)
  }

  get nodes(): readonly BackendNodeConfig[] {
    return this.rest.nodes
  }

  isDown(node: BackendNodeConfig, now = Date.now()): boolean {
    return (this.downUntil.get(node.id) ?? 0) > now
  }

  markDown(node: BackendNodeConfig): void {
    this.downUntil.set(node.id, Date.now() + this.downMs)
  }

  /** The next node in round-robin order that is not marked down (and is not `exclude`); any node if all are. */
  pick(exclude?: BackendNodeConfig): BackendNodeConfig {
    const nodes = this.rest.nodes
    const n = nodes.length
    const now = Date.now()
    for (let i = 0; i < n; i++) {
      const idx = (this.next + i) % n
      const node = nodes[idx]!
      if (node.id === exclude?.id || this.isDown(node, now)) continue
      this.next = (idx + 1) % n
      return node
    }
    // Panic mode: every candidate is down. Prefer a node other than `exclude` when there is one.
    for (let i = 0; i < n; i++) {
      const idx = (this.next + i) % n
      const node = nodes[idx]!
      if (node.id === exclude?.id && n > 1) continue
      this.next = (idx + 1) % n
      return node
    }
    return nodes[0]!
  }

  /** Idle pooled connections are closed; requests in flight keep theirs (used when a reload replaces this). */
  retire(): void {
    // Agent#destroy would also cut requests in flight. Free sockets close themselves after
    // IDLE_UPSTREAM_SOCKET_MS; close them now instead.
    for (const list of Object.values(this.agent.freeSockets)) for (const s of list ?? []) s.destroy()
  }

  /** Closes every connection, in flight or idle (final stop). */
  destroy(): void {
    this.agent.destroy()
  }
}
