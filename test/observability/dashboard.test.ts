/**
 * grafana/rcgw-dashboard.json: a Classic dashboard whose every PromQL expression parses (Prometheus' own lezer
 * grammar) and names only metrics that a live gateway exports.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { parser } from '@prometheus-io/lezer-promql'
import { startGateway } from '../helpers/gateway.js'
import { scrape, parseExposition } from './helpers/live.js'

interface Target {
  expr?: string
  refId?: string
  legendFormat?: string
  datasource?: { type?: string; uid?: string }
}
interface Panel {
  id?: number
  type: string
  title?: string
  description?: string
  gridPos?: { x: number; y: number; w: number; h: number }
  datasource?: { type?: string; uid?: string }
  targets?: Target[]
  panels?: Panel[]
}
interface Variable {
  name: string
  type: string
  query?: unknown
  definition?: string
  datasource?: { type?: string; uid?: string }
}
interface Dashboard {
  uid: string
  title: string
  schemaVersion: number
  panels: Panel[]
  templating: { list: Variable[] }
}

const dashboard = JSON.parse(readFileSync(new URL('../../grafana/rcgw-dashboard.json', import.meta.url), 'utf8')) as Dashboard

function allPanels(ps: Panel[]): Panel[] {
  return ps.flatMap((p) => [p, ...allPanels(p.panels ?? [])])
}
const panels = allPanels(dashboard.panels)
const queryPanels = panels.filter((p) => p.type !== 'row')
const exprs = queryPanels.flatMap((p) => (p.targets ?? []).map((tg) => ({ panel: p.title ?? '?', expr: tg.expr ?? '' })))

/** Grafana macros are not PromQL: give them values of the kind Grafana would substitute. */
function grafanaToPromql(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range|\$\{__rate_interval\}/g, '5m')
}

/** Metric names of every vector selector, or the parse errors. */
function analyse(expr: string): { names: string[]; errors: string[] } {
  const tree = parser.parse(expr)
  const names: string[] = []
  const errors: string[] = []
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(`syntax error at ${node.from}: ${JSON.stringify(expr.slice(Math.max(0, node.from - 10), node.to + 10))}`)
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') names.push(expr.slice(node.from, node.to))
    },
  })
  return { names, errors }
}

t.test('identity and variables', async (t) => {
  t.equal(dashboard.uid, 'rcgw-overview', 'fixed uid (links and provisioning survive re-imports)')
  t.ok(dashboard.schemaVersion >= 36, 'classic JSON model')
  const ds = dashboard.templating.list.find((v) => v.name === 'datasource')
  t.match(ds, { type: 'datasource', query: 'prometheus' })
  const cluster = dashboard.templating.list.find((v) => v.name === 'cluster')
  t.match(cluster, { type: 'query', definition: 'label_values(rcgw_client_connections_total, cluster)', datasource: { uid: '${datasource}' } })
  t.equal(cluster?.query, 'label_values(rcgw_client_connections_total, cluster)')
  for (const p of queryPanels) {
    t.equal(p.datasource?.uid, '${datasource}', `${p.title}: panel uses the datasource variable`)
    for (const tg of p.targets ?? []) t.equal(tg.datasource?.uid, '${datasource}', `${p.title} ${tg.refId}: target uses the datasource variable`)
    t.ok((p.description ?? '').length > 20, `${p.title}: says what it answers`)
  }
  const ids = panels.map((p) => p.id)
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique')
  for (const p of panels) {
    const g = p.gridPos
    t.ok(g && g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0, `${p.title}: fits the 24-column grid`)
  }
})

t.test('every expression parses as PromQL', async (t) => {
  t.ok(exprs.length >= 15, `${exprs.length} expressions`)
  for (const { panel, expr } of exprs) {
    const { names, errors } = analyse(grafanaToPromql(expr))
    t.same(errors, [], `${panel}: ${expr}`)
    t.ok(names.length > 0, `${panel}: selects at least one metric`)
  }
  // The checker itself must catch broken expressions and see metric names where they are.
  t.ok(analyse('sum(rate(foo_total[5m]) by').errors.length > 0, 'a broken expression is reported')
  t.ok(analyse('rate(x[$__rate_interval])').errors.length > 0, 'an unsubstituted Grafana macro is not PromQL')
  t.same(analyse('histogram_quantile(0.9, sum by (le) (rate(a_bucket{x="y"}[5m]))) / b').names, ['a_bucket', 'b'])
})

t.test('the panels cover what the issue asks for', async (t) => {
  const all = exprs.map((e) => e.expr).join('\n')
  const has = (re: RegExp, what: string) => t.match(all, re, what)
  has(/rcgw_client_connections_active/, 'connections')
  has(/sum by \(outcome\) \(rate\(rcgw_requests_total\{cluster=~"\$cluster"\}/, 'request rate by outcome')
  has(/sum by \(cluster, reason\) \(rate\(rcgw_auth_failures_total/, 'denials by reason')
  has(/histogram_quantile\(0\.5, sum by \(le\) \(rate\(rcgw_request_duration_seconds_bucket/, 'p50 latency')
  has(/histogram_quantile\(0\.99, sum by \(le\) \(rate\(rcgw_request_duration_seconds_bucket/, 'p99 latency')
  has(/rcgw_bytes_total/, 'bytes')
  has(/rcgw_backend_up/, 'backend health')
  has(/rcgw_tls_handshake_failures_total/, 'TLS failures')
  has(/rcgw_api_key_cache_hits_total\[\$__rate_interval\]\)\) \/ \(sum\(rate\(rcgw_api_key_cache_hits_total/, 'cache hit ratio')
  has(/sum by \(code\) \(rate\(rcgw_rest_requests_total\{cluster=~"\$cluster"\}/, 'REST requests by status class')
  has(/histogram_quantile\(0\.99, sum by \(le\) \(rate\(rcgw_rest_request_duration_seconds_bucket/, 'REST p99 latency')
  for (const e of exprs) if (/rcgw_(requests|bytes|auth_failures|client_connections)_total\{/.test(e.expr)) t.match(e.expr, /cluster=~"\$cluster"/, `${e.panel}: follows the cluster variable`)
})

t.test('every metric the dashboard uses is exported by a running gateway', async (t) => {
  // With the REST listener on, so that its rcgw_rest_* families are exported too.
  const gw = await startGateway(t, {
    clusters: [{ name: 'remote-a', nodes: ['127.0.0.1:1'], authentication: false, rest: { nodes: ['127.0.0.1:1'] } }],
    extra: { rest: { enabled: true, host: '127.0.0.1', port: 0 } },
  })
  const live = parseExposition(await scrape(gw.adminPort ?? 0))
  const families = new Map(live.types)
  const present = (name: string): boolean => {
    if (families.has(name)) return true
    const m = /^(.*)_(bucket|sum|count)$/.exec(name)
    return m !== null && families.get(m[1]!) === 'histogram'
  }
  const used = new Set<string>(exprs.flatMap((e) => analyse(grafanaToPromql(e.expr)).names))
  for (const v of dashboard.templating.list) {
    const m = /label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(v.definition ?? '')
    if (m) used.add(m[1]!)
  }
  t.ok(used.size >= 12, `${used.size} metric names used`)
  for (const name of [...used].sort()) t.ok(present(name), `${name} is in the live scrape`)
  t.notOk(present('rcgw_no_such_metric'), 'the check can fail')
  t.notOk(present('rcgw_client_connections_total_bucket'), 'only histograms have _bucket series')
})
