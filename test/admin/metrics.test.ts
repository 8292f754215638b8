/**
 * GatewayMetrics against the metric list: names, types, label names, units, pre-initialised series and
 * bounded label values.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import {
  GatewayMetrics,
  TLS_FAILURE_REASONS,
  REQUEST_OUTCOMES,
  REQUEST_DURATION_BUCKETS,
  CONNECTION_DURATION_BUCKETS,
  OTHER_ACTION,
} from '../../src/admin/metrics.js'
import { VERSION } from '../../src/config/build.js'

type Kind = 'counter' | 'gauge' | 'histogram'

/** The list (plus rcgw_connections_rejected_total), with label names. */
const EXPECTED: Record<string, { type: Kind; labels: string[] }> = {
  rcgw_client_connections_active: { type: 'gauge', labels: [] },
  rcgw_limit_hits_total: { type: 'counter', labels: ['limit'] },
  rcgw_config_reloads_total: { type: 'counter', labels: ['outcome'] },
  rcgw_config_last_reload_successful: { type: 'gauge', labels: [] },
  rcgw_config_last_reload_success_timestamp_seconds: { type: 'gauge', labels: [] },
  rcgw_client_connections_total: { type: 'counter', labels: ['cluster'] },
  rcgw_tls_handshake_failures_total: { type: 'counter', labels: ['reason'] },
  rcgw_tls_handshake_duration_seconds: { type: 'histogram', labels: [] },
  rcgw_requests_total: { type: 'counter', labels: ['cluster', 'action', 'outcome'] },
  rcgw_request_duration_seconds: { type: 'histogram', labels: ['cluster', 'action'] },
  rcgw_auth_failures_total: { type: 'counter', labels: ['cluster', 'reason'] },
  rcgw_bytes_total: { type: 'counter', labels: ['cluster', 'direction'] },
  rcgw_backend_up: { type: 'gauge', labels: ['cluster', 'node'] },
  rcgw_backend_connect_duration_seconds: { type: 'histogram', labels: [] },
  rcgw_backend_connect_failures_total: { type: 'counter', labels: ['cluster', 'node', 'reason'] },
  rcgw_api_key_cache_hits_total: { type: 'counter', labels: [] },
  rcgw_api_key_cache_misses_total: { type: 'counter', labels: [] },
  rcgw_api_key_lookup_failures_total: { type: 'counter', labels: [] },
  rcgw_frame_errors_total: { type: 'counter', labels: ['reason'] },
  rcgw_internal_errors_total: { type: 'counter', labels: [] },
  rcgw_backend_unavailable_total: { type: 'counter', labels: ['cluster', 'reason'] },
  rcgw_connections_aged_out_total: { type: 'counter', labels: ['cluster'] },
  rcgw_connection_duration_seconds: { type: 'histogram', labels: [] },
  rcgw_connections_rejected_total: { type: 'counter', labels: ['reason'] },
  rcgw_build_info: { type: 'gauge', labels: ['version', 'node_version'] },
  rcgw_rest_requests_total: { type: 'counter', labels: ['cluster', 'code'] },
  rcgw_rest_request_duration_seconds: { type: 'histogram', labels: ['cluster'] },
  rcgw_rest_upstream_errors_total: { type: 'counter', labels: ['cluster', 'node', 'reason'] },
  rcgw_rest_connections: { type: 'gauge', labels: [] },
  rcgw_rest_rejected_total: { type: 'counter', labels: ['reason'] },
}

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Minimal text-format reader for assertions (the format is checked for real by promtool in test/observability). */
function parse(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>()
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    const typ = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (typ) types.set(typ[1]!, typ[2]!)
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m) throw new Error(`unparseable line ${line}`)
    const labels: Record<string, string> = {}
    for (const lm of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]!] = lm[2]!
    samples.push({ name: m[1]!, labels, value: Number(m[3]) })
  }
  return { types, samples }
}

function find(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
}

t.test('every metric of the issue exists with its type and label names', async (t) => {
  const m = new GatewayMetrics()
  const cm = m.forCluster('remote-a')
  // Touch the lazily created families once so their label names appear in the exposition.
  cm.forAction('indices:data/read/search').success.inc()
  cm.duration('indices:data/read/search').observe(0.001)
  m.authFailures.labels('remote-a', 'missing_credentials').inc()
  m.backendConnectFailures.labels('remote-a', '127.0.0.1:1', 'refused').inc()
  m.backendUp.labels('remote-a', '127.0.0.1:1').set(0)
  m.frameErrors.labels('http_request').inc()
  // The REST listener's families (src/http/) get their series when it starts.
  m.forRestCluster('remote-a').request(200)
  m.forRestCluster('remote-a').duration.observe(0.01)
  m.restUpstreamErrors.labels('remote-a', '127.0.0.1:9200', 'refused').inc()
  m.initRestRejectReasons()
  const { types, samples } = parse(await m.registry.metrics())
  for (const [name, exp] of Object.entries(EXPECTED)) {
    t.equal(types.get(name), exp.type, `${name} is a ${exp.type}`)
    const series = samples.filter((s) => s.name === name || s.name === `${name}_bucket` || s.name === `${name}_sum` || s.name === `${name}_count`)
    t.ok(series.length > 0, `${name} has samples`)
    for (const s of series) {
      const names = Object.keys(s.labels).filter((l) => l !== 'le').sort()
      t.same(names, [...exp.labels].sort(), `${s.name} labels`)
    }
  }
  for (const name of types.keys()) {
    if (!name.startsWith('rcgw_')) continue
    t.ok(name in EXPECTED, `${name} is on the list`)
    if (types.get(name) === 'counter') t.match(name, /_total$/, `counter ${name} ends in _total`)
    else t.notMatch(name, /_total$/, `non-counter ${name} does not end in _total`)
    if (types.get(name) === 'histogram') t.match(name, /_seconds$/, `histogram ${name} is in seconds`)
  }
  t.ok(types.has('process_cpu_user_seconds_total') && types.has('nodejs_eventloop_lag_seconds'), 'default process / Node.js metrics are exported')
})

t.test('label sets known at start are exported as zeros', async (t) => {
  const m = new GatewayMetrics({ collectDefault: false })
  m.forCluster('remote-a')
  m.forCluster('remote-b')
  const { samples } = parse(await m.registry.metrics())
  for (const reason of TLS_FAILURE_REASONS) t.same(find(samples, 'rcgw_tls_handshake_failures_total', { reason }).map((s) => s.value), [0], `tls reason ${reason}`)
  for (const cluster of ['remote-a', 'remote-b']) {
    t.same(find(samples, 'rcgw_client_connections_total', { cluster }).map((s) => s.value), [0], `${cluster} connections`)
    for (const direction of ['client_to_backend', 'backend_to_client'])
      t.same(find(samples, 'rcgw_bytes_total', { cluster, direction }).map((s) => s.value), [0], `${cluster} bytes ${direction}`)
  }
  t.same(find(samples, 'rcgw_connections_rejected_total', { reason: 'max_connections' }).map((s) => s.value), [0])
  t.same(find(samples, 'rcgw_client_connections_active').map((s) => s.value), [0])
  const build = find(samples, 'rcgw_build_info')
  t.equal(build.length, 1)
  t.equal(build[0]?.labels.version, VERSION)
  t.equal(build[0]?.labels.node_version, process.version)
  t.equal(build[0]?.value, 1)
  t.notOk(find(samples, 'process_cpu_user_seconds_total').length, 'collectDefault: false leaves the runtime metrics out')

  m.initAuthFailureReasons('remote-a', ['missing_credentials', 'unknown_api_key'])
  const after = parse(await m.registry.metrics()).samples
  t.same(find(after, 'rcgw_auth_failures_total', { cluster: 'remote-a' }).map((s) => [s.labels.reason, s.value]), [
    ['missing_credentials', 0],
    ['unknown_api_key', 0],
  ])
})

t.test('build info version comes from package.json', async (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  t.equal(VERSION, pkg.version)
})

t.test('ClusterMetrics cells are counted and exported under the right labels', async (t) => {
  const m = new GatewayMetrics({ collectDefault: false })
  const cm = m.forCluster('remote-a')
  t.equal(m.forCluster('remote-a'), cm, 'one ClusterMetrics per cluster')
  cm.connectionsTotal.inc()
  cm.bytesIn.inc(100)
  cm.bytesIn.inc(23)
  cm.bytesOut.inc(7)
  const search = cm.forAction('indices:data/read/search')
  t.equal(cm.forAction('indices:data/read/search'), search, 'the same cells for the same action')
  t.equal(cm.request('indices:data/read/search', 'success'), search.success)
  t.equal(cm.duration('indices:data/read/search'), search.duration)
  for (const o of REQUEST_OUTCOMES) t.equal(search.outcome(o), search[o])
  search.success.inc()
  search.success.inc()
  cm.request('indices:data/read/search', 'error').inc()
  cm.request(OTHER_ACTION, 'denied').inc()
  cm.request(OTHER_ACTION, 'dropped').inc()
  search.duration.observe(0.0004)
  search.duration.observe(0.003)
  search.duration.observe(120)

  const { samples } = parse(await m.registry.metrics())
  t.same(find(samples, 'rcgw_client_connections_total', { cluster: 'remote-a' }).map((s) => s.value), [1])
  t.same(find(samples, 'rcgw_bytes_total', { cluster: 'remote-a', direction: 'client_to_backend' }).map((s) => s.value), [123])
  t.same(find(samples, 'rcgw_bytes_total', { cluster: 'remote-a', direction: 'backend_to_client' }).map((s) => s.value), [7])
  const req = (action: string, outcome: string) => find(samples, 'rcgw_requests_total', { cluster: 'remote-a', action, outcome }).map((s) => s.value)
  t.same(req('indices:data/read/search', 'success'), [2])
  t.same(req('indices:data/read/search', 'error'), [1])
  t.same(req('indices:data/read/search', 'denied'), [0], 'every outcome of a seen action is exported, zeros included')
  t.same(req('other', 'denied'), [1])
  t.same(req('other', 'dropped'), [1])
  const bucket = (le: string) => find(samples, 'rcgw_request_duration_seconds_bucket', { cluster: 'remote-a', action: 'indices:data/read/search', le }).map((s) => s.value)
  t.same(bucket('0.0005'), [1], 'first bucket is 0.5 ms')
  t.same(bucket('0.0025'), [1])
  t.same(bucket('0.005'), [2])
  t.same(bucket('60'), [2])
  t.same(bucket('+Inf'), [3])
  t.same(find(samples, 'rcgw_request_duration_seconds_count', { action: 'indices:data/read/search' }).map((s) => s.value), [3])
  t.equal(REQUEST_DURATION_BUCKETS[0], 0.0005)
  t.ok((CONNECTION_DURATION_BUCKETS.at(-1) ?? 0) >= 86400, 'connection lifetime buckets reach days')
})

t.test('action labels are bounded by the allow-list', async (t) => {
  const m = new GatewayMetrics({ collectDefault: false })
  t.equal(m.actionLabel('indices:data/read/search'), 'indices:data/read/search')
  t.equal(m.actionLabel('internal:tcp/handshake'), 'internal:tcp/handshake')
  t.equal(m.actionLabel(null), 'other')
  t.equal(m.actionLabel('cluster:admin/xpack/security/user/put'), 'other', 'a non-allow-listed action is not a label value')
  t.equal(m.actionLabel('indices:data/read/search\u0000junk'), 'other')
  m.addKnownActions(['cluster:monitor/custom'])
  t.equal(m.actionLabel('cluster:monitor/custom'), 'cluster:monitor/custom', 'configured allowed_actions become label values')

  // An attacker sending a million distinct action names creates no new series.
  const cm = m.forCluster('remote-a')
  for (let i = 0; i < 1000; i++) cm.request(m.actionLabel(`indices:evil/${i}`), 'denied').inc()
  const { samples } = parse(await m.registry.metrics())
  t.equal(find(samples, 'rcgw_requests_total').length, 4, 'one action label (other) × four outcomes')
})
