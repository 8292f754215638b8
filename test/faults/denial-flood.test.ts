/**
 * Issue #11 campaign, fault 4 (issue #11 finding 3; gateway in a child process): a client that never reads keeps
 * pipelining requests the gateway DENIES without closing (an action not on the allow-list → an
 * IllegalArgumentException error frame; the connection stays open). The gateway's own error frames must count
 * against the per-connection write bound (1 MiB): once they back up, the gateway stops reading that client, so its
 * RSS stays bounded however many requests the client has queued.
 */
import t from 'tap'
import { backend, client, CREDENTIALS, SUBJECT_INFO } from '../gateway/fixtures.js'
import { encodeFrame } from '../../src/codec/frame.js'
import { baseDoc, maxRss, spawnGateway, stalled, tallyFrames } from './helpers.js'
import { until } from '../gateway/fixtures.js'

const DENIED = 'indices:admin/delete'
const SEARCH = 'indices:data/read/search'
/** Enough denials that unbounded buffering of their error frames is far above the RSS bound. */
const N = Number(process.env.RCGW_FAULT_DENIALS ?? 300_000)
const BATCH = 500

t.test('4. thousands of pipelined denied requests from a client that never reads: gateway RSS bounded', async (t) => {
  const be = await backend(t, 'cluster-a')
  // `error` level: every denial is a warn line, and 300k of them would measure the logger instead.
  const gw = await spawnGateway(t, baseDoc([{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }], { logging: { level: 'error' } }))
  const c = await client(t, gw.port)
  const version = c.negotiatedVersion!
  const headers = { _cross_cluster_access_credentials: CREDENTIALS, _cross_cluster_access_subject_info: SUBJECT_INFO }
  const frame = (id: number, action: string) => encodeFrame({ requestId: BigInt(id), status: 0, version, requestHeaders: headers, action, body: Buffer.from([0]) })
  const one = frame(1_000_000, DENIED)
  const tally = tallyFrames(c.socket)
  const rss0 = await maxRss(gw.pid, 5)
  c.socket.pause() // never reads (until the end)

  let sent = 0
  let stop = false
  const writer = (async () => {
    while (sent < N && !stop && !c.socket.destroyed) {
      const n = Math.min(BATCH, N - sent)
      const buf = Buffer.concat(Array.from({ length: n }, (_, i) => frame(10 + sent + i, DENIED)))
      sent += n
      if (!c.socket.write(buf)) await new Promise((r) => c.socket.once('drain', r))
    }
  })()
  const denied = await stalled(() => gw.metric('rcgw_auth_failures_total'), 1500, 40_000)
  const rss1 = await maxRss(gw.pid, 20)
  const growth = (rss1 - rss0) / 1024
  t.comment(`request frame ${one.length} B; client queued ${sent} denied requests, the gateway decided ${denied} before it stopped reading (or all of them)`)
  t.comment(`RSS ${(rss0 / 1024).toFixed(1)} MiB → ${(rss1 / 1024).toFixed(1)} MiB (+${growth.toFixed(1)} MiB)`)
  // Passes since the relay bound counts the gateway's own frames (issue #11 finding 3, src/gateway/relay.ts
  // flushInjected); a build without that fix measured +160 MiB here with all 300,000 denials decided at once.
  t.ok(growth < 64, `RSS growth ${growth.toFixed(1)} MiB < 64 MiB`)
  t.ok(denied < N, 'the gateway stopped reading the client before deciding all of them (back-pressure on its own frames)')

  // Now read: every denied request gets its error frame, the connection stays open and still serves.
  c.socket.resume()
  await writer
  stop = true
  c.socket.write(frame(5, SEARCH))
  await until(() => tally.okIds.has(5n), 120_000, 'the valid request after the flood to be answered')
  t.equal(tally.errors, N, `every one of the ${N} denied requests was answered with an error frame`)
  t.equal(tally.protocolError, null, 'a clean frame stream')
  t.notOk(c.socket.destroyed, 'the connection stayed open')
  const m = await gw.metrics()
  t.equal(m.sum('rcgw_auth_failures_total'), N, 'rcgw_auth_failures_total counts each denial once')
  t.comment(`denials by reason: ${JSON.stringify(m.by('rcgw_auth_failures_total', 'reason'))}`)
  t.equal(m.sum('rcgw_internal_errors_total'), 0)
  t.equal(be.requests.filter((r) => r.action === DENIED).length, 0, 'no denied request reached the backend')
  t.ok(gw.alive())
})
