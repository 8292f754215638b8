/**
 * The default cross-cluster action allow-list.
 *
 * Source: `CROSS_CLUSTER_ACCESS_ACTION_ALLOWLIST` in
 * x-pack/plugin/security/src/main/java/org/elasticsearch/xpack/security/transport/CrossClusterAccessServerTransportFilter.java
 * (8.x), the search action literals in server/src/main/java/org/elasticsearch/action/search/SearchTransportService.java,
 * and the newer actions granted by the `cross_cluster_search` / `cross_cluster_replication` cluster privileges in
 * ClusterPrivilegeResolver.java (ES|QL exchange and enrich-policy resolution, remote task cancellation), which the
 * querying cluster sends after its RCS_INTERNAL_ACTIONS_REPLACEMENTS rewrite
 * (CrossClusterAccessTransportInterceptor.java). See cross-cluster-auth.md §7.2.
 *
 * The 9.3 server-side list itself could not be read (UNVERIFIED in the spec), so this list errs toward
 * compatibility: the backend cluster enforces its own allow-list and authorization, so a gateway denial of an action
 * Elasticsearch would allow is an outage, not extra safety. Operators replace it per cluster with `allowed_actions`.
 */

/** Allowed as-is and with the `internal:transport/proxy/` prefix (TransportActionProxy.getProxyAction). */
export const PROXYABLE_ACTIONS: readonly string[] = [
  'indices:data/read/search[free_context/scroll]',
  'indices:data/read/search[free_context]',
  'indices:data/read/search[clear_scroll_contexts]',
  'indices:data/read/search[phase/dfs]',
  'indices:data/read/search[phase/query]',
  'indices:data/read/search[phase/query/id]',
  'indices:data/read/search[phase/query/scroll]',
  'indices:data/read/search[phase/query+fetch/scroll]',
  'indices:data/read/search[phase/fetch/id/scroll]',
  'indices:data/read/search[phase/fetch/id]',
  'indices:data/read/search[can_match]',
  'indices:data/read/search[can_match][n]',
  // SearchTransportService also registers the batched query phase in 8.19/9.x.
  'indices:data/read/search[phase/query/batched]',
  'indices:data/read/open_reader_context',
  'indices:data/read/xpack/ccr/shard_changes',
  'indices:internal/admin/ccr/restore/session/clear',
  'indices:internal/admin/ccr/restore/file_chunk/get',
]

/** Allowed only without the proxy prefix. */
export const DIRECT_ACTIONS: readonly string[] = [
  'cluster:internal/remote_cluster/handshake',
  'cluster:internal/remote_cluster/nodes',
  'indices:data/read/search',
  'indices:admin/shards/search_shards',
  'indices:admin/search/search_shards',
  'indices:admin/resolve/index',
  'indices:admin/resolve/cluster',
  'indices:data/read/field_caps',
  'indices:data/read/field_caps[n]',
  'indices:data/read/eql',
  'indices:data/read/esql',
  'indices:data/read/esql/lookup',
  'cluster:monitor/xpack/info',
  'indices:monitor/transform/checkpoint',
  'cluster:monitor/state',
  'cluster:admin/xpack/security/user/has_privileges',
  'indices:monitor/stats',
  'indices:admin/seq_no/add_retention_lease',
  'indices:admin/seq_no/remove_retention_lease',
  'indices:admin/seq_no/renew_retention_lease',
  'indices:internal/admin/ccr/restore/session/put',
  // Newer (9.x) cross-cluster actions: ES|QL over RCS 2.0 and remote task cancellation. The ES|QL literals are
  // confirmed in ClusterPrivilegeResolver.java (CROSS_CLUSTER_SEARCH_PATTERN); the two TaskCancellationService
  // REMOTE_CLUSTER_* literals below are UNVERIFIED (the constants' values could not be read): they are the
  // `cluster:`-prefixed forms of `internal:admin/tasks/ban` and `internal:admin/tasks/cancel_child`.
  'cluster:monitor/xpack/enrich/esql/resolve_policy',
  'cluster:internal:data/read/esql/open_exchange',
  'cluster:internal:data/read/esql/exchange',
  'cluster:internal/admin/tasks/ban',
  'cluster:internal/admin/tasks/cancel_child',
]

export const PROXY_PREFIX = 'internal:transport/proxy/'

/** The full default allow-list as a Set (both forms of the proxyable actions). */
export function defaultAllowedActions(): Set<string> {
  const s = new Set<string>(DIRECT_ACTIONS)
  for (const a of PROXYABLE_ACTIONS) {
    s.add(a)
    s.add(PROXY_PREFIX + a)
  }
  return s
}

/** `'default'` or a list in which the entry `default` expands to the default allow-list. */
export function resolveAllowedActions(spec: 'default' | readonly string[]): Set<string> {
  if (spec === 'default') return defaultAllowedActions()
  const out = new Set<string>()
  for (const a of spec) {
    if (a === 'default') for (const d of defaultAllowedActions()) out.add(d)
    else out.add(a)
  }
  return out
}
