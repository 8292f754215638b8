/**
 * `npm run soak` (issue #11 campaign; NOT run in CI): mixed valid and hostile traffic against a gateway child
 * process (`node <GC flags> dist/cli/main.js start`, as `npm start` runs it) for a while, then checks that
 *  - the gateway never crashed (and exits 0 on SIGTERM at the end),
 *  - every accepted request was answered correctly (echo bodies compared), none failed,
 *  - RSS and the fd count stayed flat (first sample after warm-up vs last; max reported),
 *  - the traffic's own counts reconcile with /metrics: requests by outcome, denials by reason, frame errors by
 *    reason, handshake-timeout hits.
 *
 *   npm run soak                      # 5 minutes
 *   npm run soak -- --duration 120    # seconds
 *   npm run soak -- --json out.json   # also write the summary as JSON
 *
 * Traffic is 127.0.0.1 only and bounded: a fixed number of concurrent lanes, each with a pause between steps.
 * The machine is assumed shared: the lanes leave CPU idle on purpose (this is a soak, not a benchmark).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { connect as netConnect } from 'node:net'
import { tmpdir, cpus } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { stringify } from 'yaml'
import { startBackend } from '../test/emulator/backend.js'
import { connectClient, TransportError } from '../test/emulator/client.js'
import { testPki, writePki } from '../test/helpers/pki.js'
import { baseDoc, fdCountOf, freePort, httpGet, parseMetrics, rssKiBOf, MAIN, GC_FLAGS, type Metrics } from '../test/faults/helpers.js'
import { encodeFrame } from '../src/codec/frame.js'

const args = process.argv.slice(2)
const arg = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : undefined
}
const DURATION_S = Number(arg('duration') ?? 300)
const JSON_OUT = arg('json')

const KEY_ID = 'VuaCfGcBCdbkQm-e5aOx'
const CREDENTIALS = 'ApiKey ' + Buffer.from(`${KEY_ID}:ui2lp2axTNmsyakw9tvNnw`).toString('base64')
const SUBJECT_INFO = Buffer.from('subject-info-for-soak').toString('base64')
const SEARCH = 'indices:data/read/search'
const DENIED = 'indices:admin/delete'
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

const counts = {
  validOk: 0,
  validFailed: 0,
  validWrong: 0,
  denied: 0,
  deniedUnexpected: 0,
  missingCreds: 0,
  missingCredsUnexpected: 0,
  garbage: 0,
  garbageNotClosed: 0,
  oversize: 0,
  oversizeNotClosed: 0,
  slowloris: 0,
  churn: 0,
  churnFailed: 0,
}
const failures: string[] = []
const note = (s: string) => void (failures.length < 50 && failures.push(s))

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'rcgw-soak-'))
  mkdirSync(join(dir, 'certs'))
  writePki(join(dir, 'certs'))
  const { server } = testPki()
  const be = await startBackend({ tls: { key: server.keyPem, cert: server.certPem }, clusterName: 'cluster-a' })
  const port = await freePort()
  const adminPort = await freePort()
  const doc = baseDoc([{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }], {
    listen: { host: '127.0.0.1', port },
    admin: { host: '127.0.0.1', port: adminPort },
    logging: { level: 'error' },
    limits: { handshake_timeout: '2s', first_request_timeout: '10s', max_header_size: '64kb' },
  })
  const configFile = join(dir, 'gateway.yml')
  writeFileSync(configFile, stringify(doc))
  const child = spawn(process.execPath, [...GC_FLAGS, MAIN, 'start', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => void (stderr.length < 65536 && (stderr += c.toString())))
  let logLines = 0
  createInterface({ input: child.stdout }).on('line', () => void logLines++)
  let exit: { code: number | null; signal: string | null } | null = null
  const exited = new Promise<void>((r) => child.once('exit', (code, signal) => ((exit = { code, signal }), r())))
  const pid = child.pid!
  for (let i = 0; ; i++) {
    if (exit !== null) throw new Error(`gateway exited at start: ${stderr}`)
    if ((await httpGet(adminPort, '/healthz').then((r) => r.status, () => 0)) === 200) break
    if (i > 600) throw new Error('gateway did not start')
    await sleep(50)
  }
  const metrics = async (): Promise<Metrics> => parseMetrics((await httpGet(adminPort, '/metrics')).body)
  const ca = testPki().ca.certPem
  const connect = (extra: Partial<Parameters<typeof connectClient>[0]> = {}) =>
    connectClient({ host: '127.0.0.1', port, ca, servername: 'remote-a.example.com', credentials: CREDENTIALS, subjectInfo: SUBJECT_INFO, ...extra })

  console.log(`soak: ${DURATION_S} s against gateway pid ${pid} (${MAIN}), backend :${be.port}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), node ${process.version}`)
  const end = Date.now() + DURATION_S * 1000
  const live = () => Date.now() < end && exit === null

  // --- lanes ----------------------------------------------------------------------------------------------------
  const valid = async (lane: number) => {
    const c = await connect()
    for (let k = 0; live(); k++) {
      const body = Buffer.alloc(1 + ((k * 7919 + lane * 131) % 65536), k & 0xff)
      body.write(`lane ${lane} #${k}`)
      try {
        const r = await c.request(SEARCH, body)
        if (r.body.equals(body)) counts.validOk++
        else (counts.validWrong++, note(`valid lane ${lane} #${k}: wrong body`))
      } catch (e) {
        counts.validFailed++
        note(`valid lane ${lane} #${k}: ${(e as Error).message}`)
        return
      }
      if (k % 10 === 0) await sleep(5)
    }
    await c.close()
  }
  const denied = async () => {
    const c = await connect()
    while (live()) {
      const err = await c.request(DENIED, Buffer.from([0])).then(() => null, (e: unknown) => e)
      if (err instanceof TransportError && err.javaException?.type === 'illegal_argument') counts.denied++
      else (counts.deniedUnexpected++, note(`denied: ${String(err)}`))
      await sleep(20)
    }
    if (c.socket.destroyed) note('denied lane: connection closed (should stay open)')
    await c.close()
  }
  const missingCreds = async () => {
    while (live()) {
      const c = await connect({ handshake: 'tcp' })
      const err = await c.request(SEARCH, Buffer.from('x'), { accessHeaders: false }).then(() => null, (e: unknown) => e)
      if (err instanceof TransportError && err.javaException?.type === 'security') counts.missingCreds++
      else (counts.missingCredsUnexpected++, note(`missing creds: ${String(err)}`))
      await c.closed
      await sleep(100)
    }
  }
  const garbage = async () => {
    while (live()) {
      const c = await connect()
      counts.garbage++
      // 'ES' then a length that says 1 GiB of header → the decoder refuses it; or plain noise.
      await c.writeRaw(counts.garbage % 2 === 0 ? Buffer.from('45537fffffff0000000000000000000000000000000000', 'hex') : Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
      const closed = await Promise.race([c.closed.then(() => true), sleep(10_000).then(() => false)])
      if (!closed) (counts.garbageNotClosed++, note('garbage: not closed within 10 s'), await c.close())
      await sleep(150)
    }
  }
  const oversize = async () => {
    while (live()) {
      const c = await connect()
      counts.oversize++
      const frame = encodeFrame({ requestId: 99n, status: 0, version: c.negotiatedVersion!, requestHeaders: { _cross_cluster_access_credentials: CREDENTIALS, _cross_cluster_access_subject_info: SUBJECT_INFO, x_big: 'x'.repeat(70 * 1024) }, action: SEARCH, body: Buffer.from([0]) })
      await c.writeRaw(frame)
      const closed = await Promise.race([c.closed.then(() => true), sleep(10_000).then(() => false)])
      if (!closed) (counts.oversizeNotClosed++, note('oversize: not closed within 10 s'), await c.close())
      await sleep(300)
    }
  }
  const slowloris = async () => {
    while (live()) {
      const batch = Array.from({ length: 5 }, () => {
        counts.slowloris++
        const s = netConnect({ host: '127.0.0.1', port })
        s.on('error', () => {})
        const hello = Buffer.from('160301', 'hex') // a record header, then one byte a second
        let i = 0
        const timer = setInterval(() => {
          if (i < hello.length) s.write(hello.subarray(i, ++i))
          else s.write(Buffer.from([0]))
        }, 500)
        return new Promise<void>((r) => s.once('close', () => (clearInterval(timer), r())))
      })
      await Promise.all(batch)
    }
  }
  const churn = async () => {
    while (live()) {
      try {
        const c = await connect()
        const r = await c.request(SEARCH, Buffer.from('churn'))
        if (r.body.toString() === 'churn') counts.churn++
        else (counts.churnFailed++, note('churn: wrong body'))
        await c.close()
      } catch (e) {
        counts.churnFailed++
        note(`churn: ${(e as Error).message}`)
      }
      await sleep(30)
    }
  }

  // --- sampling -------------------------------------------------------------------------------------------------
  const samples: Array<{ t: number; rssKiB: number; fds: number }> = []
  const t0 = Date.now()
  const sampler = (async () => {
    while (live()) {
      samples.push({ t: Math.round((Date.now() - t0) / 1000), rssKiB: rssKiBOf(pid), fds: fdCountOf(pid) })
      await sleep(Math.max(1000, (DURATION_S * 1000) / 60))
    }
  })()
  const lanes = [valid(0), valid(1), valid(2), valid(3), denied(), missingCreds(), garbage(), oversize(), slowloris(), churn()]
  const laneErrors = (await Promise.allSettled(lanes)).filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))
  await sampler
  await sleep(500)
  const after = { rssKiB: exit === null ? rssKiBOf(pid) : NaN, fds: exit === null ? fdCountOf(pid) : NaN }
  const m = exit === null ? await metrics() : null

  // --- verdict --------------------------------------------------------------------------------------------------
  const checks: Array<[string, boolean, string]> = []
  const check = (name: string, ok: boolean, detail = '') => checks.push([name, ok, detail])
  check('gateway never exited', exit === null, JSON.stringify(exit))
  check('no lane crashed', laneErrors.length === 0, laneErrors.join('; '))
  check('every valid request answered correctly', counts.validFailed === 0 && counts.validWrong === 0 && counts.validOk > 0, `${counts.validOk} ok, ${counts.validFailed} failed, ${counts.validWrong} wrong`)
  check('every churn request answered', counts.churnFailed === 0 && counts.churn > 0, `${counts.churn} ok, ${counts.churnFailed} failed`)
  check('every denial was an IllegalArgumentException on an open connection', counts.deniedUnexpected === 0, `${counts.denied}`)
  check('every missing-credentials request got a security exception', counts.missingCredsUnexpected === 0, `${counts.missingCreds}`)
  check('every garbage / oversize connection was closed', counts.garbageNotClosed === 0 && counts.oversizeNotClosed === 0, `${counts.garbage} garbage, ${counts.oversize} oversize`)
  const warm = samples[Math.min(samples.length - 1, Math.floor(samples.length / 5))]!
  const first = samples[0]!
  const last = samples[samples.length - 1]!
  const maxRss = Math.max(...samples.map((s) => s.rssKiB))
  const maxFds = Math.max(...samples.map((s) => s.fds))
  check('RSS flat (last sample within 48 MiB of the post-warm-up sample)', last.rssKiB - warm.rssKiB < 48 * 1024, `first ${first.rssKiB} KiB, after warm-up ${warm.rssKiB}, last ${last.rssKiB}, max ${maxRss}`)
  check('fds flat (after the traffic stopped: at most the warm-up level + 10)', after.fds <= warm.fds + 10 && maxFds < 500, `first ${first.fds}, after warm-up ${warm.fds}, last ${last.fds}, max ${maxFds}, after traffic ${after.fds}`)
  let reconcile: Record<string, unknown> = {}
  if (m !== null) {
    const req = (outcome: string, action?: string) => m.sum('rcgw_requests_total', { outcome, ...(action ? { action } : {}) })
    const auth = m.by('rcgw_auth_failures_total', 'reason')
    const frames = m.by('rcgw_frame_errors_total', 'reason')
    const successes = req('success', SEARCH)
    // Each valid lane, each churn connection: their SEARCH requests; + the remote-cluster handshakes of every connection.
    const expectedSearch = counts.validOk + counts.churn
    reconcile = { requests_success_search: successes, expected_search: expectedSearch, denied_requests: req('denied'), dropped: req('dropped'), auth_failures: auth, frame_errors: frames, handshake_timeouts: m.sum('rcgw_limit_hits_total', { limit: 'handshake_timeout' }), internal_errors: m.sum('rcgw_internal_errors_total') }
    check('successful search requests = valid + churn answers', successes === expectedSearch, `${successes} vs ${expectedSearch}`)
    check('denials by reason: action_not_allowed = denied sent', (auth.action_not_allowed ?? 0) === counts.denied, `${auth.action_not_allowed} vs ${counts.denied}`)
    check('denials by reason: missing_credentials = missing-credentials sent', (auth.missing_credentials ?? 0) === counts.missingCreds, `${auth.missing_credentials} vs ${counts.missingCreds}`)
    const otherDenials = Object.entries(auth).filter(([k, v]) => k !== 'action_not_allowed' && k !== 'missing_credentials' && v > 0)
    check('no other denial reason', otherDenials.length === 0, JSON.stringify(otherDenials))
    check('rcgw_requests_total{outcome="denied"} = all denials', req('denied') === counts.denied + counts.missingCreds, `${req('denied')} vs ${counts.denied + counts.missingCreds}`)
    const frameTotal = Object.values(frames).reduce((a, b) => a + b, 0)
    check('frame errors = garbage + oversize connections', frameTotal === counts.garbage + counts.oversize, `${frameTotal} vs ${counts.garbage + counts.oversize}: ${JSON.stringify(frames)}`)
    check('handshake timeouts = slowloris connections', m.sum('rcgw_limit_hits_total', { limit: 'handshake_timeout' }) === counts.slowloris, `${m.sum('rcgw_limit_hits_total', { limit: 'handshake_timeout' })} vs ${counts.slowloris}`)
    check('no internal errors', m.sum('rcgw_internal_errors_total') === 0, String(m.sum('rcgw_internal_errors_total')))
  }
  child.kill('SIGTERM')
  const stopTimer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  await exited
  clearTimeout(stopTimer)
  check('SIGTERM: exit 0', (exit as { code: number | null } | null)?.code === 0, JSON.stringify(exit))
  await be.close()
  rmSync(dir, { recursive: true, force: true })

  const summary = { duration_s: DURATION_S, machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, counts, rss_kib: { first: first.rssKiB, warm: warm.rssKiB, last: last.rssKiB, max: maxRss }, fds: { first: first.fds, warm: warm.fds, last: last.fds, max: maxFds, after_traffic: after.fds }, reconcile, samples, failures, checks: checks.map(([name, ok, detail]) => ({ name, ok, detail })), gateway_log_lines: logLines }
  for (const [name, ok, detail] of checks) console.log(`${ok ? 'ok    ' : 'FAILED'} ${name}${detail ? ` — ${detail}` : ''}`)
  console.log(`counts: ${JSON.stringify(counts)}`)
  if (failures.length > 0) console.log(`first failures: ${failures.slice(0, 10).join(' | ')}`)
  if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify(summary, null, 2) + '\n')
  const failed = checks.filter(([, ok]) => !ok).length
  console.log(failed === 0 ? `soak: PASSED (${checks.length} checks)` : `soak: FAILED (${failed} of ${checks.length} checks)`)
  return failed === 0 ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`soak: error: ${(e as Error).stack ?? String(e)}`)
    process.exit(2)
  },
)
