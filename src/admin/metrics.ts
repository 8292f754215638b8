/**
 * Prometheus metrics (prom-client). Names follow Prometheus conventions: prefix `rcgw_`, base units (seconds,
 * bytes), counters end in `_total`. Label cardinality is bounded by construction: clusters and nodes come from the
 * config, actions only from the allow-list (anything else is `other`), reasons and outcomes from fixed enums.
 * Never API key ids, client addresses or DNs: those belong in logs.
 *
 * The series the relay touches per chunk / per frame (bytes, requests, request duration) are plain-number cells
 * (see cells.ts): `ClusterMetrics` hands out the cells, and the relay should keep them, not look them up per frame.
 * Everything counted per connection or per failure uses ordinary prom-client metrics.
 */
import client from 'prom-client'
import { defaultAllowedActions } from '../auth/actions.js'
import { VERSION } from '../config/build.js'
import { CellCounter, CellHistogram, type CounterCell, type HistogramCell } from './cells.js'

export const TLS_FAILURE_REASONS = ['no_cert', 'untrusted', 'expired', 'protocol', 'timeout', 'not_tls', 'unknown_sni'] as const
export type TlsFailureReason = (typeof TLS_FAILURE_REASONS)[number]

/**
 * What became of a request: `success` / `error` (the backend answered, with or without the error flag), `denied`
 * (the gateway answered with an error frame and never forwarded it), `dropped` (the connection closed while it was
 * in flight).
 */
export const REQUEST_OUTCOMES = ['success', 'error', 'denied', 'dropped'] as const
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number]

export const BYTE_DIRECTIONS = ['client_to_backend', 'backend_to_client'] as const

/**
 * Connections refused before the TLS handshake: the global connection limit, the per-client-IP limit
 * (`client_ip_max_connections`, limits.max_connections_per_client_ip), and the PROXY protocol checks
 * (`proxy_untrusted`: the peer may not send a PROXY header; `proxy_malformed`: the header breaks the spec;
 * `proxy_missing`: no complete header arrived in time).
 */
export const CONNECTION_REJECT_REASONS = ['max_connections', 'client_ip_max_connections', 'proxy_untrusted', 'proxy_malformed', 'proxy_missing'] as const
export type ConnectionRejectReason = (typeof CONNECTION_REJECT_REASONS)[number]

/**
 * `rcgw_limit_hits_total{limit}`: one series per configured limit, so an operator sees at a glance which limit
 * bites. Some hits are also counted by a more specific metric (max_connections in rcgw_connections_rejected_total,
 * handshake_timeout in rcgw_tls_handshake_failures_total, max_header_size in rcgw_frame_errors_total).
 */
export const LIMIT_NAMES = [
  'max_connections',
  'cluster_max_connections',
  'api_key_max_connections',
  'handshake_timeout',
  'max_header_size',
  'max_in_flight_requests',
  'max_connections_per_client_ip',
  'first_request_timeout',
  'api_keys_per_connection',
  'close_timeout',
] as const
export type LimitName = (typeof LIMIT_NAMES)[number]

export const RELOAD_OUTCOMES = ['success', 'failure'] as const

/**
 * `rcgw_backend_unavailable_total{cluster,reason}` (issue #13): client connections closed because no backend node
 * could take them. `no_healthy_node`: health checks had every node of the cluster down, so the connection was closed
 * right after its TLS handshake instead of waiting for connect timeouts; `connect_failed`: every node was tried
 * and none connected.
 */
export const BACKEND_UNAVAILABLE_REASONS = ['no_healthy_node', 'connect_failed'] as const
export type BackendUnavailableReason = (typeof BACKEND_UNAVAILABLE_REASONS)[number]

/**
 * REST listener (src/http/): `code` of `rcgw_rest_requests_total` is the status class of the response sent, or
 * `aborted` when the client went away before it was complete. Bounded by construction.
 */
export const REST_CODE_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'aborted'] as const
export type RestCodeClass = (typeof REST_CODE_CLASSES)[number]
/**
 * Why a REST request failed upstream: `refused` / `unreachable` / `dns` (no TCP connection), `timeout` (no TCP+TLS
 * connection within connect_timeout), `tls` (handshake or certificate verification failed), `reset` (the
 * connection broke after it was established), `other`.
 */
export const REST_UPSTREAM_ERROR_REASONS = ['refused', 'unreachable', 'dns', 'timeout', 'tls', 'reset', 'other'] as const
export type RestUpstreamErrorReason = (typeof REST_UPSTREAM_ERROR_REASONS)[number]
/**
 * Requests the REST listener answered itself without reaching a cluster: `misdirected` (421, no cluster for the
 * SNI/Host), `bad_request` (unparseable HTTP), `headers_too_large` (431), `request_timeout` (408, headers_timeout or
 * request_timeout expired), `tls` (the client's TLS handshake failed), `max_connections` (a connection beyond
 * limits.max_connections on this listener, closed at accept); and, as on the transport listener (issue #13),
 * `client_ip_max_connections` (limits.max_connections_per_client_ip, closed at accept), `cluster_max_connections`
 * (503: clusters[].max_connections REST connections of that cluster are open), `proxy_untrusted` / `proxy_malformed`
 * / `proxy_missing` (rest.proxy_protocol).
 */
export const REST_REJECT_REASONS = [
  'misdirected',
  'bad_request',
  'headers_too_large',
  'request_timeout',
  'tls',
  'max_connections',
  'client_ip_max_connections',
  'cluster_max_connections',
  'proxy_untrusted',
  'proxy_malformed',
  'proxy_missing',
] as const
export type RestRejectReason = (typeof REST_REJECT_REASONS)[number]
/** `cluster` label of REST requests that matched no cluster (cluster names start with a letter or digit). */
export const REST_UNROUTED = '_unrouted'
/** Response-time buckets for REST: searches run from milliseconds to minutes. */
export const REST_DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]

/** Pre-bound REST series of one cluster (the request path touches only these). */
export class RestClusterMetrics {
  private readonly codes: Record<RestCodeClass, client.Counter.Internal>
  readonly duration: client.Histogram.Internal<'cluster'>

  constructor(m: GatewayMetrics, readonly cluster: string) {
    const codes = {} as Record<RestCodeClass, client.Counter.Internal>
    for (const c of REST_CODE_CLASSES) {
      codes[c] = m.restRequests.labels(cluster, c)
      codes[c].inc(0)
    }
    this.codes = codes
    this.duration = m.restRequestDuration.labels(cluster)
  }

  /** Counts one finished request by the status class of its response (`aborted` when it never completed). */
  request(status: number | 'aborted'): void {
    const c: RestCodeClass = status === 'aborted' ? 'aborted' : status >= 100 && status < 600 ? (`${Math.floor(status / 100)}xx` as RestCodeClass) : '5xx'
    this.codes[c].inc()
  }
}

/** Label value for action names outside the allow-list (and for frames without an action). */
export const OTHER_ACTION = 'other'
const TCP_HANDSHAKE_ACTION = 'internal:tcp/handshake'

// Sub-millisecond first bucket: the gateway's own added latency is what operators watch, and it is well below 1 ms.
export const REQUEST_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
export const CONNECT_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
// Remote-cluster connections are long-lived by design (no idle timeout; see README), so the buckets reach a month.
export const CONNECTION_DURATION_BUCKETS = [1, 10, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400, 30 * 86400]

/** The cells for one (cluster, action label): one counter per outcome and the duration histogram. */
export class ActionMetrics {
  readonly success: CounterCell
  readonly error: CounterCell
  readonly denied: CounterCell
  readonly dropped: CounterCell
  readonly duration: HistogramCell

  constructor(m: GatewayMetrics, cluster: string, action: string) {
    this.success = m.requestsTotal.cell({ cluster, action, outcome: 'success' })
    this.error = m.requestsTotal.cell({ cluster, action, outcome: 'error' })
    this.denied = m.requestsTotal.cell({ cluster, action, outcome: 'denied' })
    this.dropped = m.requestsTotal.cell({ cluster, action, outcome: 'dropped' })
    this.duration = m.requestDuration.cell({ cluster, action })
  }

  outcome(o: RequestOutcome): CounterCell {
    return this[o]
  }
}

export class ClusterMetrics {
  readonly connectionsTotal: CounterCell
  /** client → backend bytes (`direction="client_to_backend"`). */
  readonly bytesIn: CounterCell
  /** backend → client bytes (`direction="backend_to_client"`). */
  readonly bytesOut: CounterCell
  private readonly actions = new Map<string, ActionMetrics>()

  constructor(
    private readonly m: GatewayMetrics,
    readonly cluster: string,
  ) {
    // Created here, at start, so every cluster exports zeros before its first connection.
    this.connectionsTotal = m.clientConnectionsTotal.cell({ cluster })
    this.bytesIn = m.bytesTotal.cell({ cluster, direction: 'client_to_backend' })
    this.bytesOut = m.bytesTotal.cell({ cluster, direction: 'backend_to_client' })
  }

  /**
   * The cells of one action label (from `GatewayMetrics.actionLabel`). One Map lookup; the relay should call this
   * once per request when it decides the label and keep the result for the response.
   */
  forAction(action: string): ActionMetrics {
    let a = this.actions.get(action)
    if (a === undefined) {
      a = new ActionMetrics(this.m, this.cluster, action)
      this.actions.set(action, a)
    }
    return a
  }

  /** Counter cell for (action, outcome); `action` must already be a label value. */
  request(action: string, outcome: RequestOutcome): CounterCell {
    return this.forAction(action)[outcome]
  }

  duration(action: string): HistogramCell {
    return this.forAction(action).duration
  }
}

export interface GatewayMetricsOptions {
  /** Process and Node.js runtime metrics (prom-client defaults). Default true. */
  readonly collectDefault?: boolean
}

export class GatewayMetrics {
  readonly registry = new client.Registry()
  private readonly knownActions = defaultAllowedActions()
  private readonly r = [this.registry]

  readonly clientConnectionsActive = new client.Gauge({ name: 'rcgw_client_connections_active', help: 'Client connections currently open (TLS established and routed).', registers: this.r })
  readonly clientConnectionsTotal = new CellCounter('rcgw_client_connections_total', 'Client connections routed to a cluster.', ['cluster'], this.registry)
  readonly tlsHandshakeFailures = new client.Counter({ name: 'rcgw_tls_handshake_failures_total', help: 'Client TLS handshakes that failed or were refused, by reason.', labelNames: ['reason'] as const, registers: this.r })
  readonly tlsHandshakeDuration = new client.Histogram({ name: 'rcgw_tls_handshake_duration_seconds', help: 'Client TLS handshake duration (TCP accept to secure connection).', buckets: CONNECT_DURATION_BUCKETS, registers: this.r })
  readonly requestsTotal = new CellCounter('rcgw_requests_total', 'Transport requests by cluster, action and outcome.', ['cluster', 'action', 'outcome'], this.registry)
  readonly requestDuration = new CellHistogram('rcgw_request_duration_seconds', 'Time from forwarding a request to relaying its response.', ['cluster', 'action'], REQUEST_DURATION_BUCKETS, this.registry)
  readonly authFailures = new client.Counter({ name: 'rcgw_auth_failures_total', help: 'Requests denied by the gateway, by reason.', labelNames: ['cluster', 'reason'] as const, registers: this.r })
  readonly bytesTotal = new CellCounter('rcgw_bytes_total', 'Bytes relayed, by direction.', ['cluster', 'direction'], this.registry)
  readonly backendUp = new client.Gauge({ name: 'rcgw_backend_up', help: '1 when the backend node passed its last health check or connect.', labelNames: ['cluster', 'node'] as const, registers: this.r })
  readonly backendConnectDuration = new client.Histogram({ name: 'rcgw_backend_connect_duration_seconds', help: 'Backend TCP+TLS connect duration.', buckets: CONNECT_DURATION_BUCKETS, registers: this.r })
  readonly backendConnectFailures = new client.Counter({ name: 'rcgw_backend_connect_failures_total', help: 'Failed backend connects and health checks, by reason.', labelNames: ['cluster', 'node', 'reason'] as const, registers: this.r })
  readonly apiKeyCacheHits = new client.Counter({ name: 'rcgw_api_key_cache_hits_total', help: 'API key pattern lookups answered from the cache.', registers: this.r })
  readonly apiKeyCacheMisses = new client.Counter({ name: 'rcgw_api_key_cache_misses_total', help: 'API key pattern lookups not in the cache.', registers: this.r })
  readonly apiKeyLookupFailures = new client.Counter({ name: 'rcgw_api_key_lookup_failures_total', help: 'Failed API key lookups against the backend security API.', registers: this.r })
  readonly frameErrors = new client.Counter({ name: 'rcgw_frame_errors_total', help: 'Connections closed for a transport framing violation, by reason.', labelNames: ['reason'] as const, registers: this.r })
  readonly connectionDuration = new client.Histogram({ name: 'rcgw_connection_duration_seconds', help: 'Client connection lifetime.', buckets: CONNECTION_DURATION_BUCKETS, registers: this.r })
  readonly connectionsRejected = new client.Counter({ name: 'rcgw_connections_rejected_total', help: 'Connections refused before the TLS handshake (connection limit, PROXY protocol), by reason.', labelNames: ['reason'] as const, registers: this.r })
  readonly internalErrors = new client.Counter({ name: 'rcgw_internal_errors_total', help: 'Unexpected exceptions caught on one connection (that connection was closed; the gateway kept serving the others).', registers: this.r })
  readonly limitHits = new client.Counter({ name: 'rcgw_limit_hits_total', help: 'Times a configured limit refused or cut something, by limit.', labelNames: ['limit'] as const, registers: this.r })
  readonly configReloads = new client.Counter({ name: 'rcgw_config_reloads_total', help: 'Configuration reloads (SIGHUP, file change, API), by outcome.', labelNames: ['outcome'] as const, registers: this.r })
  readonly configLastReloadSuccessful = new client.Gauge({ name: 'rcgw_config_last_reload_successful', help: '1 when the last configuration reload was applied (or none was tried yet), 0 when it was refused.', registers: this.r })
  readonly configLastReloadSuccessTimestamp = new client.Gauge({ name: 'rcgw_config_last_reload_success_timestamp_seconds', help: 'Unix time the running configuration was loaded (start or last successful reload).', registers: this.r })
  readonly restRequests = new client.Counter({ name: 'rcgw_rest_requests_total', help: 'REST listener requests by cluster and response status class (aborted: the client left first).', labelNames: ['cluster', 'code'] as const, registers: this.r })
  readonly restRequestDuration = new client.Histogram({ name: 'rcgw_rest_request_duration_seconds', help: 'REST request duration, from its headers arriving to the last byte of the response.', labelNames: ['cluster'] as const, buckets: REST_DURATION_BUCKETS, registers: this.r })
  readonly restUpstreamErrors = new client.Counter({ name: 'rcgw_rest_upstream_errors_total', help: 'REST requests that failed on the way to or from a cluster HTTP node, by reason.', labelNames: ['cluster', 'node', 'reason'] as const, registers: this.r })
  readonly restConnections = new client.Gauge({ name: 'rcgw_rest_connections', help: 'Client connections open on the REST listener (TLS established).', registers: this.r })
  readonly restRejected = new client.Counter({ name: 'rcgw_rest_rejected_total', help: 'REST requests and connections the gateway refused itself, by reason.', labelNames: ['reason'] as const, registers: this.r })
  readonly backendUnavailable = new client.Counter({ name: 'rcgw_backend_unavailable_total', help: 'Client connections closed because no backend node could take them, by reason.', labelNames: ['cluster', 'reason'] as const, registers: this.r })
  readonly connectionsAgedOut = new client.Counter({ name: 'rcgw_connections_aged_out_total', help: 'Client connections closed at an idle frame boundary because they reached clusters[].max_connection_age.', labelNames: ['cluster'] as const, registers: this.r })
  readonly buildInfo = new client.Gauge({ name: 'rcgw_build_info', help: 'Build information; always 1.', labelNames: ['version', 'node_version'] as const, registers: this.r })

  private readonly clusters = new Map<string, ClusterMetrics>()
  private readonly restClusters = new Map<string, RestClusterMetrics>()

  constructor(opts: GatewayMetricsOptions = {}) {
    if (opts.collectDefault !== false) client.collectDefaultMetrics({ register: this.registry })
    this.buildInfo.labels(VERSION, process.version).set(1)
    // Label sets known at start are created now so dashboards and alerts see zeros instead of "no data".
    for (const r of TLS_FAILURE_REASONS) this.tlsHandshakeFailures.labels(r).inc(0)
    for (const r of CONNECTION_REJECT_REASONS) this.connectionsRejected.labels(r).inc(0)
    for (const l of LIMIT_NAMES) this.limitHits.labels(l).inc(0)
    for (const o of RELOAD_OUTCOMES) this.configReloads.labels(o).inc(0)
    this.configLastReloadSuccessful.set(1)
    this.configLastReloadSuccessTimestamp.set(Date.now() / 1000)
  }

  /** The metrics of one cluster; created once (the transport server does it at start for every cluster). */
  forCluster(name: string): ClusterMetrics {
    let c = this.clusters.get(name)
    if (c === undefined) {
      c = new ClusterMetrics(this, name)
      this.clusters.set(name, c)
      for (const r of BACKEND_UNAVAILABLE_REASONS) this.backendUnavailable.labels(name, r).inc(0)
      this.connectionsAgedOut.labels(name).inc(0)
    }
    return c
  }

  /**
   * The REST series of one cluster (or of REST_UNROUTED); created once, with zero-valued series for every code
   * class. The REST listener creates them at start only when it is enabled, so a gateway without it exports none.
   */
  forRestCluster(name: string): RestClusterMetrics {
    let c = this.restClusters.get(name)
    if (c === undefined) {
      c = new RestClusterMetrics(this, name)
      this.restClusters.set(name, c)
    }
    return c
  }

  /** Zero-valued REST reject series (called when the REST listener starts). */
  initRestRejectReasons(): void {
    for (const r of REST_REJECT_REASONS) this.restRejected.labels(r).inc(0)
  }

  /** Bounded action label: allow-listed actions keep their name, anything else is `other`. */
  actionLabel(action: string | null): string {
    if (action === null) return OTHER_ACTION
    return this.knownActions.has(action) || action === TCP_HANDSHAKE_ACTION ? action : OTHER_ACTION
  }

  /** Actions from a cluster's `allowed_actions` become label values too (they are config, so still bounded). */
  addKnownActions(actions: Iterable<string>): void {
    for (const a of actions) this.knownActions.add(a)
  }

  /** Creates zero-valued `rcgw_auth_failures_total` series for a cluster's possible denial reasons. */
  initAuthFailureReasons(cluster: string, reasons: Iterable<string>): void {
    for (const r of reasons) this.authFailures.labels(cluster, r).inc(0)
  }
}
