/**
 * The data-path cells must expose exactly what prom-client's own Counter/Histogram would for the same events:
 * prom-client is the oracle, compared on the text exposition Prometheus reads.
 */
import t from 'tap'
import fc from 'fast-check'
import client from 'prom-client'
import { CellCounter, CellHistogram, CounterCell, HistogramCell } from '../../src/admin/cells.js'

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

// Values around and exactly on bucket bounds (`le` is inclusive), beyond the last bound, and zero.
const durations = fc.oneof(
  fc.constantFrom(0, ...BUCKETS, 61, 1e6),
  fc.double({ min: 0, max: 120, noNaN: true }),
  fc.double({ min: 0, max: 0.002, noNaN: true }),
)

t.test('histogram exposition matches prom-client for the same observations', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.constantFrom('a', 'b'), fc.constantFrom('x', 'indices:data/read/search'), durations), { maxLength: 60 }),
      async (obs) => {
        const oracleReg = new client.Registry()
        const oracle = new client.Histogram({ name: 'h_seconds', help: 'help', labelNames: ['cluster', 'action'], buckets: BUCKETS, registers: [oracleReg] })
        const reg = new client.Registry()
        const ours = new CellHistogram('h_seconds', 'help', ['cluster', 'action'], BUCKETS, reg)
        // Creation order decides series order in both: create lazily on first observation like the relay does.
        for (const [cluster, action, v] of obs) {
          oracle.labels(cluster, action).observe(v)
          ours.cell({ cluster, action }).observe(v)
        }
        t.equal(await reg.metrics(), await oracleReg.metrics())
      },
    ),
    { numRuns: 300 },
  )
})

t.test('counter exposition matches prom-client', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.nat({ max: 1 << 20 })), { maxLength: 40 }), async (incs) => {
      const oracleReg = new client.Registry()
      const oracle = new client.Counter({ name: 'c_total', help: 'help', labelNames: ['cluster'], registers: [oracleReg] })
      const reg = new client.Registry()
      const ours = new CellCounter('c_total', 'help', ['cluster'], reg)
      for (const [cluster, n] of incs) {
        oracle.labels(cluster).inc(n)
        ours.cell({ cluster }).inc(n)
      }
      t.equal(await reg.metrics(), await oracleReg.metrics())
    }),
    { numRuns: 200 },
  )
})

t.test('cells: identity, defaults, guards, reset', async (t) => {
  const reg = new client.Registry()
  const c = new CellCounter('x_total', 'h', ['cluster', 'direction'], reg)
  const a = c.cell({ cluster: 'a', direction: 'in' })
  t.equal(c.cell({ direction: 'in', cluster: 'a' }), a, 'same label set → same cell, whatever the key order')
  t.not(c.cell({ cluster: 'a', direction: 'out' }), a)
  // A value containing the separator a naive join would use must not alias another label set.
  t.not(c.cell({ cluster: 'a","b', direction: 'x' }), c.cell({ cluster: 'a', direction: 'b","x' }))
  a.inc()
  a.inc(41)
  t.equal(a.value, 42)
  t.equal(c.seriesCount, 4)
  t.throws(() => c.cell({ cluster: 'a' } as unknown as { cluster: string; direction: string }), /label direction missing/)

  const h = new CellHistogram('y_seconds', 'h', [], [1, 2], reg)
  const cell = h.cell({})
  cell.observe(NaN)
  cell.observe(-1)
  t.equal(cell.count, 0, 'NaN and negative values are ignored (they would poison _sum)')
  cell.observe(1)
  cell.observe(1.5)
  cell.observe(99)
  t.same([...cell.counts], [1, 1, 1])
  t.equal(cell.sum, 101.5)
  const json = await reg.getMetricsAsJSON()
  const y = json.find((m) => m.name === 'y_seconds')
  t.ok(y, 'visible through getMetricsAsJSON')
  t.equal(y?.type, 'histogram')
  const text = await reg.metrics()
  t.match(text, /^y_seconds_bucket\{le="\+Inf"\} 3$/m)
  t.match(text, /^y_seconds_count 3$/m)
  t.equal(await reg.getSingleMetric('x_total')?.get().then((m) => m.values.length), 4, 'visible through getSingleMetric')

  reg.resetMetrics()
  t.equal(a.value, 0)
  t.equal(cell.count, 0)
  t.same([...cell.counts], [0, 0, 0])

  t.throws(() => new CellCounter('bad name', 'h', [], reg), /invalid metric name/)
  t.throws(() => new CellHistogram('z_seconds', 'h', ['le'], [1], reg), /invalid label name le/)
  t.throws(() => new CellHistogram('z2_seconds', 'h', [], [1, 1], reg), /buckets must increase/)
  t.throws(() => new CellCounter('x_total', 'h', [], reg), /already been registered/)

  const plain = new CounterCell()
  plain.inc()
  t.equal(plain.value, 1)
  const ph = new HistogramCell([0.5])
  ph.observe(0.5)
  t.same([...ph.counts], [1, 0], 'a value equal to a bound is inside that bucket (le is inclusive)')
  ph.reset()
  t.equal(ph.sum, 0)
})
