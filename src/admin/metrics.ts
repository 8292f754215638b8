/**
 * Prometheus metrics (prom-client). Names follow Prometheus conventions: prefix `rcgw_`, base units, counters end in
 * `_total`. Label cardinality is bounded by construction: clusters and nodes come from the config, actions only from
 * the allow-list (anything else is `other`), reasons from fixed enums. Never API key ids, addresses or DNs.
 *
 * Hot-path counters are bound once per cluster (`ClusterMetrics`) so that counting a frame is a property access
 * and an addition, with no label lookup or string work.
 */
import client from 'prom-client'
import { defaultAllowedActions } from '../auth/actions.js'

export const TLS_FAILURE_REASONS = ['no_cert', 'untrusted', 'expired', 'protocol', 'timeout', 'not_tls', 'unknown_sni'] as const
export type TlsFailureReason = (typeof TLS_FAILURE_REASONS)[number]

export type RequestOutcome = 'forwarded' | 'success' | 'error' | 'denied' | 'dropped'

const VERSION = '0.1.0'

export class ClusterMetrics {
  readonly connectionsTotal: client.Counter.Internal
  readonly bytesIn: client.Counter.Internal
  readonly bytesOut: client.Counter.Internal
  private readonly requests = new Map<string, client.Counter.Internal>()
  private readonly durations = new Map<string, client.Histogram.Internal<string>>()

  constructor(
    private readonly m: GatewayMetrics,
    readonly cluster: string,
  ) {
    this.connectionsTotal = m.clientConnectionsTotal.labels(cluster)
    this.bytesIn = m.bytesTotal.labels(cluster, 'client_to_backend')
    this.bytesOut = m.bytesTotal.labels(cluster, 'backend_to_client')
  }

  /** Counter child for (action, outcome); action must already be a label value (see GatewayMetrics.actionLabel). */
  request(action: string, outcome: RequestOutcome): client.Counter.Internal {
    const key = action + '\u0000' + outcome
    let c = this.requests.get(key)
    if (c === undefined) {
      c = this.m.requestsTotal.labels(this.cluster, action, outcome)
      this.requests.set(key, c)
    }
    return c
  }

  duration(action: string): client.Histogram.Internal<string> {
    let h = this.durations.get(action)
    if (h === undefined) {
      h = this.m.requestDuration.labels(this.cluster, action)
      this.durations.set(action, h)
    }
    return h
  }
}

export class GatewayMetrics {
  readonly registry = new client.Registry()
  private readonly knownActions = defaultAllowedActions()

  readonly clientConnectionsActive = new client.Gauge({ name: 'rcgw_client_connections_active', help: 'Client connections currently open (TLS established).', registers: [this.registry] })
  readonly clientConnectionsTotal = new client.Counter({ name: 'rcgw_client_connections_total', help: 'Client connections routed to a cluster.', labelNames: ['cluster'], registers: [this.registry] })
  readonly tlsHandshakeFailures = new client.Counter({ name: 'rcgw_tls_handshake_failures_total', help: 'Client TLS handshakes that failed or were refused, by reason.', labelNames: ['reason'], registers: [this.registry] })
  readonly tlsHandshakeDuration = new client.Histogram({ name: 'rcgw_tls_handshake_duration_seconds', help: 'Client TLS handshake duration.', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry] })
  readonly requestsTotal = new client.Counter({ name: 'rcgw_requests_total', help: 'Transport requests by cluster, action and outcome.', labelNames: ['cluster', 'action', 'outcome'], registers: [this.registry] })
  readonly requestDuration = new client.Histogram({ name: 'rcgw_request_duration_seconds', help: 'Request to response time through the gateway.', labelNames: ['cluster', 'action'], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [this.registry] })
  readonly authFailures = new client.Counter({ name: 'rcgw_auth_failures_total', help: 'Requests denied by the gateway, by reason.', labelNames: ['cluster', 'reason'], registers: [this.registry] })
  readonly bytesTotal = new client.Counter({ name: 'rcgw_bytes_total', help: 'Bytes relayed, by direction.', labelNames: ['cluster', 'direction'], registers: [this.registry] })
  readonly backendUp = new client.Gauge({ name: 'rcgw_backend_up', help: '1 when the backend node passed its last health check.', labelNames: ['cluster', 'node'], registers: [this.registry] })
  readonly backendConnectDuration = new client.Histogram({ name: 'rcgw_backend_connect_duration_seconds', help: 'Backend TCP+TLS connect duration.', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry] })
  readonly backendConnectFailures = new client.Counter({ name: 'rcgw_backend_connect_failures_total', help: 'Failed backend connects, by reason.', labelNames: ['cluster', 'node', 'reason'], registers: [this.registry] })
  readonly apiKeyCacheHits = new client.Counter({ name: 'rcgw_api_key_cache_hits_total', help: 'API key pattern lookups answered from the cache.', registers: [this.registry] })
  readonly apiKeyCacheMisses = new client.Counter({ name: 'rcgw_api_key_cache_misses_total', help: 'API key pattern lookups not in the cache.', registers: [this.registry] })
  readonly apiKeyLookupFailures = new client.Counter({ name: 'rcgw_api_key_lookup_failures_total', help: 'Failed API key lookups against the backend security API.', registers: [this.registry] })
  readonly frameErrors = new client.Counter({ name: 'rcgw_frame_errors_total', help: 'Connections closed for a transport framing violation, by reason.', labelNames: ['reason'], registers: [this.registry] })
  readonly connectionDuration = new client.Histogram({ name: 'rcgw_connection_duration_seconds', help: 'Client connection lifetime.', buckets: [1, 10, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400, 30 * 86400], registers: [this.registry] })
  readonly connectionsRejected = new client.Counter({ name: 'rcgw_connections_rejected_total', help: 'Connections refused before routing, by reason.', labelNames: ['reason'], registers: [this.registry] })
  readonly buildInfo = new client.Gauge({ name: 'rcgw_build_info', help: 'Build information.', labelNames: ['version', 'node_version'], registers: [this.registry] })

  private readonly clusters = new Map<string, ClusterMetrics>()

  constructor(opts: { collectDefault?: boolean } = {}) {
    if (opts.collectDefault !== false) client.collectDefaultMetrics({ register: this.registry })
    this.buildInfo.labels(VERSION, process.version).set(1)
    for (const r of TLS_FAILURE_REASONS) this.tlsHandshakeFailures.labels(r).inc(0)
  }

  forCluster(name: string): ClusterMetrics {
    let c = this.clusters.get(name)
    if (c === undefined) {
      c = new ClusterMetrics(this, name)
      this.clusters.set(name, c)
      c.connectionsTotal.inc(0)
    }
    return c
  }

  /** Bounded action label: allow-listed actions keep their name, anything else is `other`. */
  actionLabel(action: string | null): string {
    if (action === null) return 'other'
    return this.knownActions.has(action) || action === 'internal:tcp/handshake' ? action : 'other'
  }

  addKnownActions(actions: Iterable<string>): void {
    for (const a of actions) this.knownActions.add(a)
  }
}
