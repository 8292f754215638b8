/** Builds the per-cluster authentication policy from the typed config. */
import type { ClusterConfig } from '../config/types.js'
import type { GatewayMetrics } from '../admin/metrics.js'
import type { RequestPolicy } from '../gateway/policy.js'
import { allowAll } from '../gateway/policy.js'
import { AuthPolicy, DENIAL_REASONS, resolveAllowedActions } from './policy.js'
import { ClusterFilters } from './filters.js'
import { KeyPatternMap, httpApiKeyFetcher, type FetchApiKey } from './keymap.js'
import { SignatureVerifier } from './verify.js'
import { TrustStore } from './chain.js'

export interface PolicyFactoryOptions {
  readonly metrics: GatewayMetrics
  /** Replaces the HTTP lookup (tests). */
  readonly fetchApiKey?: FetchApiKey
  readonly now?: () => number
}

export function createClusterPolicy(cluster: ClusterConfig, opts: PolicyFactoryOptions): RequestPolicy {
  const a = cluster.auth
  if (!a.enabled) return allowAll
  const m = opts.metrics
  const keys = new KeyPatternMap(
    a.apiKeys,
    a.lookup === null ? null : { ...a.lookup, fetch: opts.fetchApiKey ?? httpApiKeyFetcher(a.lookup) },
    a.jdk,
    { hit: () => m.apiKeyCacheHits.inc(), miss: () => m.apiKeyCacheMisses.inc(), failure: () => m.apiKeyLookupFailures.inc() },
    opts.now,
  )
  const trust = a.signingCas.length > 0 ? new TrustStore(a.signingCas.map((b) => b.pem)) : null
  const policy = new AuthPolicy({
    keys,
    verifier: new SignatureVerifier(trust, { jdk: a.jdk }),
    signingRequired: a.signingRequired,
    allowedActions: a.allowedActions,
    ...(opts.now ? { now: opts.now } : {}),
    // issue #13: operator policy on top of Elasticsearch's checks (compiled once per config generation).
    filters: a.filters !== undefined && a.filters.length > 0 ? new ClusterFilters(a.filters, a.jdk) : null,
    keyActions: new Map(
      a.apiKeys.flatMap((k) => (k.allowedActions === undefined || k.allowedActions === null ? [] : [[k.id, resolveAllowedActions(k.allowedActions)] as const])),
    ),
  })
  m.addKnownActions(policy.allowedActions)
  m.initAuthFailureReasons(cluster.name, DENIAL_REASONS)
  return policy
}
