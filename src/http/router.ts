/**
 * Request → cluster for the REST listener. The TLS server name decides first, exactly as on the transport
 * listener (src/tls/sni-router.ts: `server_names`, case-insensitive, trailing dot ignored, unknown name → the
 * default cluster); a client that sent no SNI (IP-literal URLs, some HTTP tools) is routed by the host of its
 * `Host` header instead; then the default cluster; otherwise the request is misdirected (421).
 *
 * A request whose SNI chose one cluster while its Host header names ANOTHER configured server name is refused as
 * misdirected too (RFC 9110 §15.5.20): otherwise a client holding a connection for cluster A could address cluster
 * B by Host alone, and logs/audit of "which cluster did this client ask for" would disagree with where it went.
 *
 * Only clusters with `rest.nodes` can be targets; one without them answers 421 naming the cluster.
 */
import type { ClusterConfig } from '../config/types.js'
import { SniRouter } from '../tls/sni-router.js'

export type RouteResult<T> =
  | { readonly ok: true; readonly target: T; readonly by: 'sni' | 'host' | 'default' }
  | { readonly ok: false; readonly reason: string }

/** `Host` header → lower-cased host without port and trailing dot; null when absent or unparseable. */
export function hostOf(header: string | undefined): string | null {
  if (header === undefined) return null
  const h = header.trim().toLowerCase()
  if (h === '') return null
  let host: string
  if (h.startsWith('[')) {
    const end = h.indexOf(']')
    if (end < 0) return null
    host = h.slice(1, end)
  } else {
    const colon = h.indexOf(':')
    host = colon < 0 ? h : h.slice(0, colon)
  }
  host = host.replace(/\.$/, '')
  return host === '' ? null : host
}

function normalize(name: string): string {
  return name.toLowerCase().replace(/\.$/, '')
}

export class RestRouter<T extends { readonly cfg: ClusterConfig }> {
  /** Server names and the default cluster, exactly as the transport listener resolves them. */
  private readonly names: SniRouter<{ readonly cfg: ClusterConfig }>
  private readonly targets = new Map<string, T>()

  /** `all`: every configured cluster (names and default); `targets`: those reachable over REST. */
  constructor(all: readonly ClusterConfig[], targets: readonly T[]) {
    this.names = new SniRouter(all.map((cfg) => ({ cfg })))
    for (const t of targets) this.targets.set(t.cfg.name, t)
  }

  route(servername: string | null, hostHeader: string | undefined): RouteResult<T> {
    const sni = servername !== null && servername !== '' ? normalize(servername) : null
    const host = hostOf(hostHeader)
    let chosen: ClusterConfig | null = null
    let by: 'sni' | 'host' | 'default' = 'default'
    if (sni !== null) {
      chosen = this.names.match(sni)?.cfg ?? null
      if (chosen !== null) {
        by = 'sni'
        const other = host !== null ? this.names.match(host)?.cfg : undefined
        if (other !== undefined && other !== chosen)
          return { ok: false, reason: `the Host header [${host}] belongs to another cluster than the TLS server name [${sni}]` }
      }
    } else if (host !== null) {
      chosen = this.names.match(host)?.cfg ?? null
      if (chosen !== null) by = 'host'
    }
    if (chosen === null) {
      chosen = this.names.fallback?.cfg ?? null
      by = 'default'
    }
    if (chosen === null) {
      const what = sni !== null ? `TLS server name [${sni}]` : host !== null ? `host [${host}]` : 'this request (no TLS server name, no Host header)'
      return { ok: false, reason: `no cluster is configured for ${what} and there is no default cluster` }
    }
    const target = this.targets.get(chosen.name)
    if (target === undefined) return { ok: false, reason: `cluster [${chosen.name}] is not reachable over REST (it has no rest.nodes)` }
    return { ok: true, target, by }
  }
}
