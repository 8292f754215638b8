/**
 * SNI → cluster. Elasticsearch sends `cluster.remote.<alias>.server_name` as SNI (SecurityNetty4Transport); without
 * it the JDK may send the `proxy_address` host. Names are matched case-insensitively without a trailing dot; a
 * connection with no or an unknown name goes to the `default: true` cluster, or is refused.
 */
import type { ClusterConfig } from '../config/types.js'

export class SniRouter<T extends { readonly cfg: ClusterConfig }> {
  private readonly byName = new Map<string, T>()
  /** Where a connection without a known name goes: the `default: true` cluster, or null (refused). */
  readonly fallback: T | null

  constructor(clusters: readonly T[]) {
    let fallback: T | null = null
    for (const c of clusters) {
      for (const n of c.cfg.serverNames) this.byName.set(n, c)
      if (c.cfg.isDefault) fallback = c
    }
    // A single cluster without server_names takes everything: the simplest deployment needs no SNI setup.
    if (fallback === null && clusters.length === 1 && clusters[0]!.cfg.serverNames.length === 0) fallback = clusters[0]!
    this.fallback = fallback
  }

  /** The cluster that lists `name` in its server_names (case-insensitive, trailing dot ignored), or null. */
  match(name: string): T | null {
    return this.byName.get(name.toLowerCase().replace(/\.$/, '')) ?? null
  }

  route(servername: string | false | null | undefined): T | null {
    if (typeof servername === 'string' && servername.length > 0) {
      const hit = this.match(servername)
      if (hit !== null) return hit
    }
    return this.fallback
  }
}
