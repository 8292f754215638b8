#!/usr/bin/env node
/**
 * `npm run bench`: the gateway against HAProxy and against no proxy at all ("direct"), same machine, same run.
 *
 *   node bench/run.mjs                 full run (~6-8 min): 5 repetitions + 1 discarded warm-up per workload and mode
 *   node bench/run.mjs --quick         smoke run (~1 min): 2 repetitions, short windows, 500 idle pairs
 *   node bench/run.mjs --profile       CPU-profile the gateway (node --cpu-prof) under W1 and W2, print the top costs
 *
 * Options: --only w1,w1half,w1hard,w2,w3,scale,w4 (w1hard: W1 with every request signed and one request in flight
 *          per socket, the pattern of issue #14's independent harness; and w1signed: W1 with a signature header on every request, not in the
 *          default set; scale: W1 through the gateway with `workers: 1` and `workers: 2`, and HAProxy with nbthread 1
 *          and 2, every process free to use both cores)
 *          --modes direct,haproxy,gateway,gateway-plain (gateway: launched as npm start, with the V8 flags;
 *          gateway-plain: as a plain `node dist/cli/main.js start`, which relaunches itself with them; not in W4)
 *          --reps N   --pairs N (W4)   --nice N (-10)
 *          --rate N (W1 @ half: this rate instead of half the gateway's peak; with --only w1half, skips W1)
 *          --wait-quiet SECONDS (wait up to this long for other processes to leave the cores idle)
 *          --dist DIR (gateway build to run, default ./dist)   --compare-dist DIR (adds mode "gateway-b": A/B test
 *          of a patched build, interleaved with the others)   --compare-no-auth (gateway-b with authentication: false)
 *          --compare-node-flags "FLAGS" (gateway-b = the same build started with these node flags)
 *          --node-flags "FLAGS" (node flags for every gateway process, e.g. --trace-gc; output in the kept logs)
 *          --no-gc-flags (start the gateway without the V8 flags of src/cli/node-flags.ts that npm start passes)
 *          --no-perf (no syscall counting)   --no-save   --keep-tmp
 *
 * Topology (loopback only), pinned with taskset on this 2-core machine:
 *   core 0: load generator (bench/loadgen.mjs, one process per trial) + backend (bench/backend.mjs)
 *   core 1: the proxy under test: HAProxy (nbthread 1) or the gateway (one Node process)
 *   direct: load generator → backend;  haproxy / gateway: load generator → proxy → backend. TLS on every hop.
 *   scale: the proxy (1 or 2 workers / threads) and the load generator may use both cores; the backend stays on 0.
 * Results: a table on stdout and JSON in bench/results/<timestamp>.json + bench/results/latest.json.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync, readdirSync } from 'node:fs'
import { tmpdir, cpus, totalmem, loadavg } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeBenchPki, BACKEND_NAME, CLUSTER_SNI } from './lib/certs.mjs'
import { setNiceness, spawnPinned, stopProc, stopAll, killAllSync, freePort, waitForPort, rssBytes, treeCpuTicks, coreTicks, coreBusy } from './lib/procs.mjs'
import { summary, ratio } from './lib/stats.mjs'
import { summarizeProfile, formatProfileSummary } from './lib/profile.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '..')
const LOAD_CORE = 0
const PROXY_CORE = 1
const SCALE_CORES = '0,1'
const WANT_FDS = 65536

// ---- options -----------------------------------------------------------------------------------------------------

function parseOptions(argv) {
  const o = { quick: false, profile: false, save: true, keepTmp: false, nice: -10, perf: true }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const val = () => {
      const v = argv[++i]
      if (v === undefined) usage(`${a} needs a value`)
      return v
    }
    if (a === '--quick') o.quick = true
    else if (a === '--profile') o.profile = true
    else if (a === '--no-save') o.save = false
    else if (a === '--no-perf') o.perf = false
    else if (a === '--keep-tmp') o.keepTmp = true
    else if (a === '--only') o.only = val().split(',')
    else if (a === '--modes') o.modes = val().split(',')
    else if (a === '--reps') o.reps = Number(val())
    else if (a === '--pairs') o.pairs = Number(val())
    else if (a === '--nice') o.nice = Number(val())
    else if (a === '--wait-quiet') o.waitQuiet = Number(val())
    else if (a === '--rate') o.rate = Number(val())
    else if (a === '--dist') o.dist = resolve(val())
    else if (a === '--compare-dist') o.compareDist = resolve(val())
    else if (a === '--compare-no-auth') o.compareNoAuth = true
    else if (a === '--compare-node-flags') o.compareNodeFlags = val().split(/\s+/).filter(Boolean)
    else if (a === '--node-flags') o.nodeFlags = val().split(/\s+/).filter(Boolean)
    else if (a === '--no-gc-flags') o.gcFlags = false
    else if (a === '--help' || a === '-h') usage()
    else usage(`unknown option ${a}`)
  }
  return o
}

function usage(err) {
  const lines = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n')
  const text = lines.slice(1, lines.findIndex((l) => l.startsWith(' */')) + 1).join('\n')
  if (err) process.stderr.write(`bench: ${err}\n`)
  process.stdout.write(text.replace(/^ ?\*\/?/gm, '') + '\n')
  process.exit(err ? 2 : 0)
}

const opts = parseOptions(process.argv.slice(2))
let tmp = null
let abort = null

// ---- file-descriptor limit: re-exec once under a raised `ulimit -n` -------------------------------------------------

function fdLimits() {
  const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'))
  const n = (s) => (s === 'unlimited' ? Infinity : Number(s))
  return m ? { soft: n(m[1]), hard: n(m[2]) } : { soft: 1024, hard: 1024 }
}

if (process.env.RCGW_BENCH_REEXEC !== '1') {
  // Re-execute once: under a raised `ulimit -n` (the hard limit if we may — root with CAP_SYS_RESOURCE —, then the
  // soft limit to the hard one; children inherit it), and in a new session (detached), which gives the bench its
  // own scheduler autogroup so that its priority can be set (see setPriority).
  const child = spawn(
    'bash',
    ['-c', `ulimit -Hn ${WANT_FDS} 2>/dev/null; ulimit -Sn "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"`, process.execPath, ...process.argv.slice(1)],
    { stdio: 'inherit', detached: true, env: { ...process.env, RCGW_BENCH_REEXEC: '1' } },
  )
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig))
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
} else {
  try {
    await main()
  } catch (e) {
    process.stderr.write(`bench: failed: ${e?.stack ?? e}\n`)
    process.exitCode = 1
  }
}

// ---- setup ---------------------------------------------------------------------------------------------------------

function ensureHaproxy() {
  const find = () => ['/usr/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/sbin/haproxy'].find((p) => existsSync(p))
  let bin = find()
  if (bin) return bin
  log('haproxy not found: installing it with apt-get (Debian package "haproxy")')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'haproxy'], { stdio: 'inherit', env })
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env })
    r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'haproxy'], { stdio: 'inherit', env })
  }
  bin = find()
  if (!bin) throw new Error('could not install haproxy (apt-get install -y haproxy failed)')
  return bin
}

function ensureBuilt(dist) {
  if (existsSync(join(dist, 'cli/main.js'))) return
  if (dist !== join(root, 'dist')) throw new Error(`${dist}/cli/main.js does not exist`)
  log('dist/ missing: running npm run build')
  const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' })
  if (r.status !== 0 || !existsSync(join(dist, 'cli/main.js'))) throw new Error('npm run build failed')
}

function versionOf(cmd, args, re) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  const m = re.exec(`${r.stdout}${r.stderr}`)
  return m ? m[1] : 'unknown'
}

function haproxyConfig({ port, backendPort, files, maxconn, threads = 1 }) {
  return `# generated by bench/run.mjs: TLS termination in front, TLS re-encryption to the backend, ${threads} thread(s)
global
    nbthread ${threads}
    maxconn ${maxconn}
    ssl-server-verify required

defaults
    mode tcp
    timeout connect 10s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    timeout client-fin 5s

frontend rcs
    bind 127.0.0.1:${port} ssl crt ${files.proxyPem}
    maxconn ${maxconn}
    default_backend nodes

backend nodes
    server node0 127.0.0.1:${backendPort} ssl verify required ca-file ${files.ca} sni str(${BACKEND_NAME}) verifyhost ${BACKEND_NAME}
`
}

function gatewayConfig({ port, backendPort, files, maxconn, auth = true, workers = 1 }) {
  return `# generated by bench/run.mjs
workers: ${workers}
listen: { host: 127.0.0.1, port: ${port} }
tls: { certificate: ${files.proxyCert}, key: ${files.proxyKey} }
admin: { enabled: false }
health_check: { enabled: false }
logging: { level: warn }
limits: { max_connections: ${maxconn} }
shutdown: { drain_timeout: 1s }
clusters:
  - name: bench
    server_names: [${CLUSTER_SNI}]
    default: true
    nodes: ["127.0.0.1:${backendPort}"]
    backend_tls:
      certificate_authorities: [${files.ca}]
      verification_mode: full
      server_name: ${BACKEND_NAME}
    signing:
      certificate_authorities: [${files.signingCa}]
    authentication: ${auth}
`
}

// ---- main ----------------------------------------------------------------------------------------------------------

function log(msg) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)
}

async function main() {
  const started = Date.now()
  const fd = fdLimits()
  const quick = opts.quick
  const P = {
    reps: opts.reps ?? (quick ? 2 : 5),
    warmupTrial: !quick,
    w1: { conns: 18, depth: 8, reqBody: 1024, respSize: 16384, warmupMs: quick ? 400 : 700, measureMs: quick ? 1000 : 2500 },
    w2: { conns: 18, reqBody: 64, respSize: 64 * 1024 * 1024, warmupMs: quick ? 400 : 700, measureMs: quick ? 1000 : 2500 },
    w3: { concurrency: 18, warmupMs: quick ? 300 : 500, measureMs: quick ? 1000 : 2500 },
    // 1 → 2 workers: W1 with every process free to use both cores; fewer repetitions to stay inside 10 minutes.
    scale: { reps: quick ? 1 : 3, measureMs: quick ? 1000 : 2000 },
    // Later W4 repetitions are skipped once the run has used budgetMs (each takes N / connection rate seconds).
    w4: { concurrency: 64, settleMs: quick ? 1000 : 2000, reps: quick ? 1 : 2, budgetMs: quick ? 150_000 : 360_000 },
  }
  // W4: the gateway holds 2 descriptors per pair (client + backend socket), so the pair count is bounded by the
  // descriptor limit we could get, with room for listeners, epoll, stdio, libuv internals.
  const fdCap = Math.floor((Math.min(fd.soft, 1e9) - 128) / 2 / 100) * 100
  const wantPairs = opts.pairs ?? (quick ? 500 : 10000)
  const pairs = Math.max(100, Math.min(wantPairs, fdCap))
  const pairsNote = pairs < wantPairs ? `scaled down from ${wantPairs} to ${pairs}: open-files limit is ${fd.soft} (hard ${fd.hard}; raising it needs CAP_SYS_RESOURCE) and the gateway needs 2 descriptors per pair` : null
  const workloads = opts.profile ? ['profile'] : (opts.only ?? ['w1', 'w1half', 'w2', 'w3', 'scale', 'w4'])  // --profile: --only picks from w1,w2,w3
  // gateway-plain: the same build launched as a plain `node dist/cli/main.js start` (no V8 flags on the command
  // line), which relaunches itself with them (issue #12); side by side with `gateway` (launched as npm start).
  const modes = opts.modes ?? ['direct', 'haproxy', 'gateway', 'gateway-plain']
  if ((opts.compareDist || opts.compareNoAuth || opts.compareNodeFlags) && !modes.includes('gateway-b')) modes.push('gateway-b')

  const watchdogMs = (quick ? 4 : opts.profile ? 5 : 14) * 60_000
  const watchdog = setTimeout(() => {
    log(`watchdog: the bench ran longer than ${watchdogMs / 60000} min; stopping`)
    abort = new Error('watchdog timeout')
    void cleanup().then(() => process.exit(3))
  }, watchdogMs)
  watchdog.unref()
  const onSignal = (sig) => {
    log(`${sig}: stopping`)
    void cleanup().then(() => process.exit(130))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.on('exit', killAllSync)

  const dist = opts.dist ?? join(root, 'dist')
  const nice = setPriority(opts.nice)
  try {
    const haproxyBin = ensureHaproxy()
    ensureBuilt(join(root, 'dist'))
    ensureBuilt(dist)
    const { GC_FLAGS: gcFlags } = await import(join(root, 'dist', 'cli', 'node-flags.js'))
    const quiet = await machineQuietness(opts.waitQuiet ?? 0)
    if (quiet.busy > 0.15)
      log(`WARNING: other processes keep the cores ${Math.round(quiet.busy * 100)}% busy (CPU pressure ${quiet.pressure ?? '?'}%): results will be noisy and proxy numbers pessimistic`)
    tmp = mkdtempSync(join(tmpdir(), 'rcgw-bench-'))
    log(`work dir ${tmp}; generating certificates`)
    const pki = await makeBenchPki(join(root, 'dist'), tmp)
    const headersFile = join(tmp, 'access-headers.json')
    const meta = {
      date: new Date().toISOString(),
      quick,
      node: process.version,
      haproxy: versionOf(haproxyBin, ['-v'], /version (\S+)/),
      openssl: process.versions.openssl,
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      loadavgAtStart: loadavg(),
      otherCpuAtStart: quiet,
      pinning: { loadGeneratorAndBackend: LOAD_CORE, proxy: PROXY_CORE },
      fdLimit: fd,
      niceness: nice,
      autogroup: (() => {
        try {
          return readFileSync('/proc/self/autogroup', 'utf8').trim()
        } catch {
          return null
        }
      })(),
      gatewayDist: relative(root, dist) || dist, // relative: results must not name one machine's paths
      gatewayNodeFlags: opts.gcFlags === false ? [] : gcFlags,
      compareDist: opts.compareDist ?? null,
      params: P,
    }

    // Backend (core 0), then the proxies (core 1).
    let backendPort = null
    const backend = spawnPinned('backend', LOAD_CORE, process.execPath, [join(here, 'backend.mjs'), '--cert', pki.files.backendCert, '--key', pki.files.backendKey, '--dist', join(root, 'dist')], {
      logFile: join(tmp, 'backend.log'),
      onLine: (l) => {
        try {
          const j = JSON.parse(l)
          if (j.event === 'ready') backendPort = j.port
        } catch {}
      },
    })
    const t0 = Date.now()
    while (backendPort === null) {
      if (backend.exited || Date.now() - t0 > 15000) throw new Error(`backend did not start: ${backend.stderrTail ?? ''}`)
      await sleep(50)
    }
    const perfBin = opts.perf ? findPerf() : null
    meta.syscallCounting = perfBin ? 'perf stat -e raw_syscalls:sys_enter,context-switches on the proxy during each window' : 'off'
    const maxconn = Math.max(1000, Math.floor((fd.soft - 64) / 2))
    const ctx = { haproxyBin, pki, backendPort, maxconn, dist, tmp, procs: {}, ports: {} }

    async function startProxy(mode, extraNodeArgs = []) {
      const port = await freePort()
      // Scale modes ("haproxy×2", "gateway×2", …): N threads / workers, allowed on both cores.
      const scaled = /^(haproxy|gateway)×(\d+)$/.exec(mode)
      const n = scaled ? Number(scaled[2]) : 1
      const cores = scaled ? SCALE_CORES : PROXY_CORE
      let proc
      if (mode === 'haproxy' || scaled?.[1] === 'haproxy') {
        const cfg = join(tmp, `${mode}.cfg`)
        writeFileSync(cfg, haproxyConfig({ port, backendPort, files: pki.files, maxconn, threads: n }))
        proc = spawnPinned(mode, cores, haproxyBin, ['-f', cfg, '-db'], { logFile: join(tmp, `${mode}.log`), stdin: 'ignore' })
      } else {
        const cfg = join(tmp, `${mode}.yml`)
        writeFileSync(cfg, gatewayConfig({ port, backendPort, files: pki.files, maxconn, auth: !(mode === 'gateway-b' && opts.compareNoAuth), workers: n }))
        const d = mode === 'gateway-b' ? (opts.compareDist ?? dist) : dist
        // Started as `npm start` / the rcgw executable / the Docker image start it: with the V8 GC flags of
        // src/cli/node-flags.ts (--no-gc-flags: without, and with RCGW_NO_REEXEC=1 so that it does not relaunch
        // itself with them). gateway-plain: a plain `node dist/cli/main.js start`, which relaunches itself.
        const plain = mode === 'gateway-plain'
        const nodeFlags = plain ? [] : [...(opts.gcFlags === false ? [] : gcFlags), ...(opts.nodeFlags ?? []), ...(mode === 'gateway-b' ? (opts.compareNodeFlags ?? []) : [])]
        proc = spawnPinned(mode, cores, process.execPath, [...nodeFlags, ...extraNodeArgs, join(d, 'cli/main.js'), 'start', '--config', cfg], {
          logFile: join(tmp, `${mode}.log`),
          stdin: 'ignore',
          env: { ...process.env, ...(opts.gcFlags === false && !plain ? { RCGW_NO_REEXEC: '1' } : {}) },
        })
      }
      await waitForPort(port, proc)
      ctx.procs[mode] = proc
      ctx.ports[mode] = port
      return proc
    }

    if (opts.profile) {
      const out = await runProfile(ctx, P, startProxy, headersFile)
      if (opts.save) saveResults({ meta, profile: out }, 'profile')
      return
    }

    for (const m of modes) if (m !== 'direct') await startProxy(m)

    const target = (mode) => (mode === 'direct' ? { port: backendPort, servername: BACKEND_NAME } : { port: ctx.ports[mode], servername: CLUSTER_SNI })
    const base = { caFile: pki.files.ca, headersFile, dist: join(root, 'dist') }

    async function trial(mode, spec, loadCores = LOAD_CORE) {
      const proxy = mode === 'direct' ? null : ctx.procs[mode]
      const full = { ...base, ...spec, target: target(mode) }
      let win = null
      let c0, p0, w0
      let result = null
      let counting = null
      const proc = spawnPinned('loadgen', loadCores, process.execPath, [join(here, 'loadgen.mjs'), JSON.stringify(full)], {
        onLine: (l) => {
          let j
          try {
            j = JSON.parse(l)
          } catch {
            return
          }
          if (j.event === 'window' && j.phase === 'start') {
            c0 = coreTicks()
            p0 = proxy ? treeCpuTicks(proxy.pid) : NaN
            w0 = performance.now()
            if (proxy && perfBin) counting = startSyscallCount(perfBin, proxy.pid)
          } else if (j.event === 'window' && j.phase === 'end') {
            const secs = (performance.now() - w0) / 1000
            const busy = coreBusy(c0, coreTicks())
            win = { proxy: proxy ? (treeCpuTicks(proxy.pid) - p0) / 100 / secs : null, core0: busy[LOAD_CORE], core1: busy[PROXY_CORE], seconds: secs }
            if (counting) counting = counting.stop()
          } else if ('ok' in j) result = j
        },
      })
      const limit = spec.warmupMs + spec.measureMs + 30_000
      const timer = setTimeout(() => {
        log(`trial ${spec.workload}/${mode} exceeded ${limit} ms; stopping it`)
        void stopProc(proc, 1000)
      }, limit)
      await proc.exit
      clearTimeout(timer)
      if (abort) throw abort
      if (result === null || result.ok === false) {
        const why = result?.error ?? proc.stderrTail ?? `exit ${proc.exitCode}`
        throw new Error(`${spec.workload} via ${mode} failed: ${why}${proxy ? `\n--- ${mode} log tail ---\n${tail(join(tmp, `${mode}.log`))}` : ''}`)
      }
      result.cpu = win
      if (counting) {
        const c = await counting
        if (c && win) result.cpu = { ...win, syscallsPerSec: c.syscalls / win.seconds, contextSwitchesPerSec: c.contextSwitches / win.seconds }
      }
      if (proxy?.exited) throw new Error(`${mode} exited during ${spec.workload}`)
      return result
    }

    /** warm-up (discarded) + reps, modes interleaved and rotated per repetition so drift hits all modes alike. */
    async function series(name, spec, pick) {
      const out = Object.fromEntries(modes.map((m) => [m, []]))
      if (P.warmupTrial) {
        log(`${name}: warm-up`)
        for (const m of modes) await trial(m, { ...spec, measureMs: Math.min(spec.measureMs, 1500) })
      }
      for (let r = 0; r < P.reps; r++) {
        const order = modes.map((_, i) => modes[(i + r) % modes.length])
        for (const m of order) {
          const res = await trial(m, spec)
          out[m].push(res)
        }
        log(`${name}: repetition ${r + 1}/${P.reps}: ${modes.map((m) => `${m} ${fmtNum(pick(out[m][out[m].length - 1]))}`).join(', ')}`)
      }
      return out
    }

    const results = {}
    const agg = {}
    const aggregate = (key, raw, fields) => {
      agg[key] = {}
      for (const m of Object.keys(raw)) {
        agg[key][m] = {}
        for (const [f, get] of Object.entries(fields)) agg[key][m][f] = summary(raw[m].map(get))
        agg[key][m].proxyCpu = summary(raw[m].map((r) => r.cpu?.proxy ?? NaN))
        agg[key][m].core0Busy = summary(raw[m].map((r) => r.cpu?.core0 ?? NaN))
        agg[key][m].core1Busy = summary(raw[m].map((r) => r.cpu?.core1 ?? NaN))
      }
      // A/B runs: per-repetition ratios of neighbouring trials cancel most of the drift a shared machine adds.
      if (raw.gateway && raw['gateway-b'] && raw.gateway.length === raw['gateway-b'].length) {
        agg[key].paired = {}
        for (const [f, get] of Object.entries(fields)) agg[key].paired[f] = summary(raw['gateway-b'].map((r, i) => get(r) / get(raw.gateway[i])))
      }
    }

    if (workloads.includes('w1') || (workloads.includes('w1half') && !opts.rate)) {
      const raw = await series('W1 request/response', { workload: 'w1', ...P.w1 }, (r) => r.rps)
      results.w1 = raw
      aggregate('w1', raw, { rps: (r) => r.rps, p50: (r) => r.latencyMs.p50, p99: (r) => r.latencyMs.p99, perCore: (r) => perCore(r.rps, r), syscalls: (r) => perUnit(r.rps, r) })
      meta.tls = raw[modes[0]]?.[0]?.tls
    }
    if (workloads.includes('w1half')) {
      const peak = () => agg.w1.gateway?.rps.median ?? Math.min(...modes.filter((m) => m !== 'direct').map((m) => agg.w1[m].rps.median))
      const rate = opts.rate ?? Math.round(peak() / 2)
      meta.w1halfRate = rate
      const spec = { workload: 'w1', ...P.w1, rate }
      const out = Object.fromEntries(modes.map((m) => [m, []]))
      for (let r = 0; r < P.reps; r++) {
        for (const m of modes.map((_, i) => modes[(i + r) % modes.length])) out[m].push(await trial(m, spec))
        log(`W1 at half of the gateway's peak (${rate} req/s): repetition ${r + 1}/${P.reps}: ${modes.map((m) => `${m} p99 ${fmtNum(out[m][out[m].length - 1].latencyMs.p99)} ms`).join(', ')}`)
      }
      results.w1half = out
      aggregate('w1half', out, { rps: (r) => r.rps, p50: (r) => r.latencyMs.p50, p99: (r) => r.latencyMs.p99, cpuUsPerReq: (r) => (r.cpu?.proxy > 0 ? (r.cpu.proxy / r.rps) * 1e6 : NaN), syscalls: (r) => perUnit(r.rps, r) })
    }
    if (workloads.includes('w1signed')) {
      // Optional (not in the default list): W1 with `_cross_cluster_access_signature` on every request, as a 9.3
      // local cluster with signing configured sends it.
      const raw = await series('W1 with signed requests', { workload: 'w1', ...P.w1, signedRequests: true }, (r) => r.rps)
      results.w1signed = raw
      aggregate('w1signed', raw, { rps: (r) => r.rps, p50: (r) => r.latencyMs.p50, p99: (r) => r.latencyMs.p99, perCore: (r) => perCore(r.rps, r), syscalls: (r) => perUnit(r.rps, r) })
    }
    if (workloads.includes('w1hard')) {
      // The pattern of issue #14's independent harness: every request signed (≈2.7 KiB of thread-context headers
      // per frame, as a 9.3 local cluster with signing configured sends them) and no pipelining (one request in
      // flight per socket, so every request pays its own event-loop turn, TLS record and syscalls).
      const raw = await series('W1 signed, depth 1', { workload: 'w1', ...P.w1, depth: 1, signedRequests: true }, (r) => r.rps)
      results.w1hard = raw
      aggregate('w1hard', raw, { rps: (r) => r.rps, p50: (r) => r.latencyMs.p50, p99: (r) => r.latencyMs.p99, perCore: (r) => perCore(r.rps, r), syscalls: (r) => perUnit(r.rps, r) })
    }
    if (workloads.includes('w2')) {
      const raw = await series('W2 bulk (64 MiB responses)', { workload: 'w2', ...P.w2 }, (r) => r.mbps)
      results.w2 = raw
      aggregate('w2', raw, { mbps: (r) => r.mbps, perCore: (r) => perCore(r.mbps, r), syscalls: (r) => perUnit(r.mbps, r) })
    }
    if (workloads.includes('w3')) {
      const raw = await series('W3 connection setup', { workload: 'w3', ...P.w3 }, (r) => r.cps)
      results.w3 = raw
      aggregate('w3', raw, { cps: (r) => r.cps, setupP50: (r) => r.setupMs.p50, perCore: (r) => perCore(r.cps, r), syscalls: (r) => perUnit(r.cps, r) })
    }
    if (workloads.includes('scale')) {
      // 1 → 2 workers. Every process but the backend may run on both cores, so a second worker (or HAProxy thread)
      // competes with the load generator for the second core: on this 2-core machine the ratio shows what a second
      // core buys when the load side needs one too, not the scaling on a machine with cores to spare.
      const scaleModes = ['gateway×1', 'gateway×2', 'haproxy×1', 'haproxy×2']
      for (const m of scaleModes) await startProxy(m)
      const spec = { workload: 'w1', ...P.w1, measureMs: P.scale.measureMs }
      const out = Object.fromEntries(scaleModes.map((m) => [m, []]))
      if (P.warmupTrial) for (const m of scaleModes) await trial(m, { ...spec, measureMs: 1000 }, SCALE_CORES)
      for (let r = 0; r < P.scale.reps; r++) {
        for (const m of scaleModes.map((_, i) => scaleModes[(i + r) % scaleModes.length])) out[m].push(await trial(m, spec, SCALE_CORES))
        log(`scale (W1, both cores): repetition ${r + 1}/${P.scale.reps}: ${scaleModes.map((m) => `${m} ${fmtNum(out[m][out[m].length - 1].rps)}`).join(', ')}`)
      }
      for (const m of scaleModes) {
        await stopProc(ctx.procs[m])
        delete ctx.procs[m]
      }
      results.scale = out
      aggregate('scale', out, { rps: (r) => r.rps, p99: (r) => r.latencyMs.p99, perCore: (r) => perCore(r.rps, r) })
      meta.scaleCores = SCALE_CORES
    }
    if (workloads.includes('w4')) {
      // gateway-plain is left out: its idle memory is the gateway's (the same process after execve; on Node 20 plus a
      // small node:cluster primary, which the RSS of one pid would not show).
      const proxies = modes.filter((m) => m !== 'direct' && m !== 'gateway-plain')
      const out = Object.fromEntries(proxies.map((m) => [m, []]))
      for (let r = 0; r < P.w4.reps; r++) {
        if (r > 0 && Date.now() - started > P.w4.budgetMs) {
          log(`W4: skipping repetition ${r + 1}: the run has used ${Math.round((Date.now() - started) / 1000)} s (budget ${P.w4.budgetMs / 1000} s)`)
          meta.w4Skipped = `${P.w4.reps - r} repetition(s) skipped for time`
          break
        }
        for (const m of proxies) {
          out[m].push(await idleRun(ctx, m, pairs, P.w4, startProxy, base, target))
          const last = out[m][out[m].length - 1]
          log(`W4 idle ${m}: ${last.established} pairs in ${(last.establishMs / 1000).toFixed(1)} s, RSS +${fmtNum(last.deltaBytes / 2 ** 20)} MiB → ${fmtNum(last.perPairKiB)} KiB/pair`)
        }
      }
      results.w4 = out
      agg.w4 = {}
      for (const m of proxies) agg.w4[m] = { perPairKiB: summary(out[m].map((x) => x.perPairKiB)), pairs: out[m][0]?.established }
      meta.w4Pairs = pairs
      meta.w4Note = pairsNote
    }

    meta.durationS = Math.round((Date.now() - started) / 1000)
    meta.loadavgAtEnd = loadavg()
    const ratios = computeRatios(agg, modes)
    const targets = evaluateTargets(agg, ratios)
    const report = { meta, summary: agg, ratios, targets, raw: results }
    process.stdout.write(renderTable(meta, agg, ratios, targets, modes))
    if (opts.save) saveResults(report)
  } finally {
    clearTimeout(watchdog)
    await cleanup()
  }
}

/**
 * Other jobs on a shared machine would otherwise take turns on the pinned cores (and a proxy mode, which sleeps and
 * wakes on every hop, suffers far more from that than direct mode). With the kernel's autogroup scheduling on
 * (/proc/sys/kernel/sched_autogroup_enabled), CPU is shared between sessions first and a process's nice value
 * only counts inside its session, so the bench (a session of its own, see the re-exec above) sets its
 * autogroup's nice value; it also gives every child the same nice value, which is what counts without autogroups.
 * Needs CAP_SYS_NICE; without it everything runs at the default priority.
 */
function setPriority(n) {
  if (n === 0) return 0
  if (spawnSync('nice', ['-n', String(n), 'true']).status !== 0) return 0
  setNiceness(n)
  try {
    if (readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1') writeFileSync('/proc/self/autogroup', String(n))
  } catch (e) {
    log(`could not set the autogroup priority: ${e.message}`)
  }
  return n
}

/** `perf` when it can count syscall tracepoints here (needs tracefs and perf_event access), else null. */
function findPerf() {
  const r = spawnSync('perf', ['stat', '-x', ',', '-e', 'raw_syscalls:sys_enter', '--', 'true'], { encoding: 'utf8' })
  return r.status === 0 && /raw_syscalls:sys_enter/.test(r.stderr) && !/not supported|<not counted>/.test(r.stderr) ? 'perf' : null
}

/**
 * Counts the syscalls and context switches of `pid` until stop() (perf stat, SIGINT ends it). stop() returns a
 * promise of { syscalls, contextSwitches } or null.
 */
function startSyscallCount(perfBin, pid) {
  const child = spawn(perfBin, ['stat', '-x', ',', '-e', 'raw_syscalls:sys_enter,context-switches', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr.on('data', (d) => (err += d))
  const done = new Promise((resolve) => child.on('exit', () => resolve(err)))
  return {
    stop() {
      child.kill('SIGINT')
      const t = setTimeout(() => child.kill('SIGKILL'), 3000)
      return done.then((text) => {
        clearTimeout(t)
        const get = (ev) => {
          const line = text.split('\n').find((l) => l.split(',')[2] === ev)
          const n = line ? Number(line.split(',')[0]) : NaN
          return Number.isFinite(n) ? n : NaN
        }
        const syscalls = get('raw_syscalls:sys_enter')
        return Number.isFinite(syscalls) ? { syscalls, contextSwitches: get('context-switches') } : null
      })
    },
  }
}

/** Busy fraction of the cores (max over cores) while the bench itself runs nothing, and CPU pressure (PSI avg10). */
async function machineQuietness(waitS) {
  const deadline = Date.now() + waitS * 1000
  let calm = 0
  for (;;) {
    const a = coreTicks()
    await sleep(1000)
    const b = coreBusy(a, coreTicks())
    const busy = Math.max(...Object.values(b))
    let pressure = null
    try {
      pressure = Number(/some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'))?.[1])
    } catch {}
    calm = busy < 0.15 ? calm + 1 : 0
    if (calm >= 3 || Date.now() >= deadline) return { busy, perCore: b, pressure }
    if (calm === 0) log(`waiting for the machine to quieten: cores ${Object.values(b).map((x) => `${Math.round(x * 100)}%`).join(' / ')} busy`)
  }
}

async function cleanup() {
  await stopAll()
  if (tmp && !opts.keepTmp) rmSync(tmp, { recursive: true, force: true })
  else if (tmp) log(`kept ${tmp}`)
  tmp = null
}

/** W4: a fresh proxy process, a small warm-up, RSS before; N handshaken idle pairs, RSS after. */
async function idleRun(ctx, mode, pairs, p, startProxy, base, target) {
  await stopProc(ctx.procs[mode])
  const proc = await startProxy(mode)
  const hold = async (count, whileOpen) => {
    let ready = null
    let done = false
    const lg = spawnPinned('loadgen', LOAD_CORE, process.execPath, [join(here, 'loadgen.mjs'), JSON.stringify({ ...base, workload: 'w4', count, concurrency: p.concurrency, target: target(mode) })], {
      onLine: (l) => {
        try {
          const j = JSON.parse(l)
          if (j.event === 'ready') ready = j
        } catch {}
      },
    })
    const deadline = Date.now() + 180_000
    while (ready === null) {
      if (lg.exited || Date.now() > deadline || abort) {
        await stopProc(lg, 500)
        throw abort ?? new Error(`W4 load generator failed: ${lg.stderrTail ?? lg.lines.join('\n')}`)
      }
      await sleep(50)
    }
    try {
      if (ready.failed > 0) throw new Error(`W4: ${ready.failed} of ${count} connections via ${mode} failed: ${ready.error}`)
      return { ready, measured: await whileOpen(ready) }
    } finally {
      lg.child.stdin.end('close\n')
      const t = setTimeout(() => void stopProc(lg, 500), 15_000)
      await lg.exit
      clearTimeout(t)
      done = true
      void done
    }
  }
  await hold(64, () => sleep(200))
  await sleep(1500)
  const rss0 = rssBytes(proc.pid)
  const { ready, measured } = await hold(pairs, async () => {
    await sleep(p.settleMs)
    const a = rssBytes(proc.pid)
    await sleep(500)
    const b = rssBytes(proc.pid)
    return { rss: Math.max(a, b) }
  })
  const deltaBytes = measured.rss - rss0
  return { established: ready.established, establishMs: ready.ms, rssBefore: rss0, rssAfter: measured.rss, deltaBytes, perPairKiB: deltaBytes / ready.established / 1024 }
}

// ---- profiling -----------------------------------------------------------------------------------------------------

async function runProfile(ctx, P, startProxy, headersFile) {
  const profDir = join(here, 'results', 'profiles')
  mkdirSync(profDir, { recursive: true })
  const out = {}
  const all = {
    w1: { workload: 'w1', ...P.w1, warmupMs: 1000, measureMs: 8000 },
    w2: { workload: 'w2', ...P.w2, warmupMs: 1000, measureMs: 8000 },
    w3: { workload: 'w3', ...P.w3, warmupMs: 1000, measureMs: 8000 },
    w1signed: { workload: 'w1', ...P.w1, signedRequests: true, warmupMs: 1000, measureMs: 8000 },
  }
  for (const [name, spec] of Object.entries(all).filter(([k]) => (opts.only ?? ['w1', 'w2']).includes(k))) {
    const dir = mkdtempSync(join(ctx.tmp, `prof-${name}-`))
    const proc = await startProxy('gateway', ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '200'])
    log(`profiling the gateway under ${name} (${spec.measureMs / 1000} s)`)
    const base = { caFile: ctx.pki.files.ca, headersFile, dist: join(root, 'dist'), target: { port: ctx.ports.gateway, servername: CLUSTER_SNI } }
    let result = null
    const window = [0, Infinity]
    const lg = spawnPinned('loadgen', LOAD_CORE, process.execPath, [join(here, 'loadgen.mjs'), JSON.stringify({ ...base, ...spec })], {
      onLine: (l) => {
        try {
          const j = JSON.parse(l)
          if ('ok' in j) result = j
          else if (j.event === 'window') window[j.phase === 'start' ? 0 : 1] = j.t
        } catch {}
      },
    })
    await lg.exit
    await stopProc(proc, 10_000)
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
    if (!file) throw new Error(`no CPU profile written in ${dir}`)
    const dest = join(profDir, `gateway-${name}.cpuprofile`)
    copyFileSync(join(dir, file), dest)
    const s = summarizeProfile(JSON.parse(readFileSync(dest, 'utf8')), window)
    out[name] = { result, profile: dest, summary: s }
    const rate = name.startsWith('w1') ? `${fmtNum(result?.rps)} req/s` : name === 'w2' ? `${fmtNum(result?.mbps)} MB/s` : `${fmtNum(result?.cps)} conn/s`
    process.stdout.write(`\n=== gateway CPU profile under ${name.toUpperCase()} (${rate}) — ${dest}\n`)
    process.stdout.write(formatProfileSummary(s))
  }
  return out
}

// ---- reporting -----------------------------------------------------------------------------------------------------

/** Ratio columns: each gateway build vs HAProxy and vs direct, and a patched build vs the gateway. */
function ratioPairs(modes) {
  const out = []
  for (const g of modes.filter((m) => m.startsWith('gateway'))) {
    if (modes.includes('haproxy')) out.push([g, 'haproxy'])
    if (modes.includes('direct')) out.push([g, 'direct'])
    if (g !== 'gateway' && modes.includes('gateway')) out.push([g, 'gateway'])
  }
  return out
}

/** `${num}/${den} ${workload}.${field}` → ratio of the medians, for every workload and field that has both. */
function computeRatios(agg, modes) {
  const r = {}
  for (const [num, den] of ratioPairs(modes)) {
    for (const [key, byMode] of Object.entries(agg)) {
      const a = byMode[num]
      const b = byMode[den]
      if (!a || !b) continue
      for (const f of Object.keys(a)) {
        if (a[f]?.median === undefined || b[f]?.median === undefined) continue
        r[`${num}/${den} ${key}.${f}`] = ratio(a[f].median, b[f].median)
      }
    }
  }
  return r
}

function evaluateTargets(agg, ratios) {
  const t = []
  const add = (name, value, goal, met, unit) => t.push({ name, value, goal, met: value === null || value === undefined ? null : met(value), unit })
  add('W1 req/s vs HAProxy', ratios['gateway/haproxy w1.rps'], '≥ 1.0×', (v) => v >= 1.0, '×')
  add('W1 req/s vs direct', ratios['gateway/direct w1.rps'], '≥ 0.6×', (v) => v >= 0.6, '×')
  const added = agg.w1half?.gateway && agg.w1half?.direct ? agg.w1half.gateway.p99.median - agg.w1half.direct.p99.median : null
  add('W1 added p99 at half of peak vs direct', added, '≤ 0.5 ms', (v) => v <= 0.5, 'ms')
  add('W2 MB/s vs HAProxy', ratios['gateway/haproxy w2.mbps'], '≥ 0.9×', (v) => v >= 0.9, '×')
  add('W3 conn/s vs HAProxy', ratios['gateway/haproxy w3.cps'], '≥ 0.8×', (v) => v >= 0.8, '×')
  add('W4 memory per idle pair', agg.w4?.gateway?.perPairKiB.median ?? null, '≤ 32 KiB', (v) => v <= 32, 'KiB')
  return t
}

function fmtNum(v, digits) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-'
  const d = digits ?? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2)
  return v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d })
}

/** Throughput per second of proxy CPU: what the proxy would do with a whole core, when the load side is the limit. */
function perCore(v, r) {
  const c = r.cpu?.proxy
  return c > 0 ? v / c : NaN
}

/** Proxy syscalls per unit of work (request, MB, connection), when perf counted them. */
function perUnit(v, r) {
  const s = r.cpu?.syscallsPerSec
  return s > 0 && v > 0 ? s / v : NaN
}

function cell(s, digits) {
  if (!s || s.median === null) return '-'
  const spread = s.n > 1 && s.spread !== null ? ` ±${Math.round((s.spread * 100) / 2)}%` : ''
  return `${fmtNum(s.median, digits)}${spread}`
}

function renderTable(meta, agg, ratios, targets, modes) {
  const gw = modes.filter((m) => m.startsWith('gateway'))
  const pairs = ratioPairs(modes)
  const cols = [...modes, ...pairs.map(([a, b]) => `${a}/${b}`)]
  const blank = pairs.map(() => '')
  const rows = []
  const row = (label, key, field, digits) => {
    if (!agg[key]) return
    rows.push([
      label,
      ...modes.map((m) => cell(agg[key][m]?.[field], digits)),
      ...pairs.map(([a, b]) => {
        const p = a === 'gateway-b' && b === 'gateway' ? agg[key].paired?.[field] : null
        return p && p.n > 0 ? `${p.median.toFixed(2)}× [${p.min.toFixed(2)}–${p.max.toFixed(2)}]` : fmtRatio(ratios[`${a}/${b} ${key}.${field}`])
      }),
    ])
  }
  const cpuRow = (label, key) => {
    if (!agg[key]) return
    rows.push([label, ...modes.map((m) => `${m === 'direct' ? '-' : fmtPct(agg[key][m].proxyCpu.median)} / ${fmtPct(agg[key][m].core0Busy.median)}`), ...blank])
  }
  row('W1 req/s (18 conns × 8 deep)', 'w1', 'rps')
  row('W1 p50 latency ms', 'w1', 'p50', 2)
  row('W1 p99 latency ms', 'w1', 'p99', 2)
  cpuRow('W1 CPU: proxy / core 0 (load side)', 'w1')
  row('W1 req/s per proxy CPU-second', 'w1', 'perCore')
  row('W1 proxy syscalls per request', 'w1', 'syscalls', 1)
  if (agg.w1half) {
    row(`W1 @ ${fmtNum(meta.w1halfRate)} req/s: p50 ms`, 'w1half', 'p50', 3)
    row(`W1 @ ${fmtNum(meta.w1halfRate)} req/s: p99 ms`, 'w1half', 'p99', 3)
    row(`W1 @ ${fmtNum(meta.w1halfRate)} req/s: proxy CPU µs/request`, 'w1half', 'cpuUsPerReq', 1)
    row(`W1 @ ${fmtNum(meta.w1halfRate)} req/s: proxy syscalls/request`, 'w1half', 'syscalls', 1)
    for (const g of gw) {
      const add = agg.w1half[g] && agg.w1half.direct ? agg.w1half[g].p99.median - agg.w1half.direct.p99.median : null
      rows.push([`W1 @ half peak: ${g} added p99 vs direct`, ...modes.map((m) => (m === g ? `+${fmtNum(add, 3)} ms` : '')), ...blank])
    }
  }
  row('W1 signed requests: req/s', 'w1signed', 'rps')
  row('W1 signed requests: p99 ms', 'w1signed', 'p99', 2)
  cpuRow('W1 signed: CPU proxy / core 0', 'w1signed')
  row('W1 signed: req/s per proxy CPU-second', 'w1signed', 'perCore')
  row('W1 signed: proxy syscalls per request', 'w1signed', 'syscalls', 1)
  row('W1 signed, depth 1: req/s', 'w1hard', 'rps')
  row('W1 signed, depth 1: p99 ms', 'w1hard', 'p99', 2)
  cpuRow('W1 signed, depth 1: CPU proxy / core 0', 'w1hard')
  row('W1 signed, depth 1: req/s per proxy CPU-second', 'w1hard', 'perCore')
  row('W1 signed, depth 1: proxy syscalls per request', 'w1hard', 'syscalls', 1)
  row('W2 MB/s (64 MiB responses)', 'w2', 'mbps')
  cpuRow('W2 CPU: proxy / core 0', 'w2')
  row('W2 MB/s per proxy CPU-second', 'w2', 'perCore')
  row('W2 proxy syscalls per MB', 'w2', 'syscalls', 1)
  row('W3 connections/s (18 parallel)', 'w3', 'cps')
  row('W3 setup p50 ms', 'w3', 'setupP50', 1)
  cpuRow('W3 CPU: proxy / core 0', 'w3')
  row('W3 conn/s per proxy CPU-second', 'w3', 'perCore')
  row('W3 proxy syscalls per connection', 'w3', 'syscalls', 1)
  if (agg.w4) {
    rows.push([
      `W4 KiB per idle pair (${fmtNum(meta.w4Pairs, 0)} pairs)`,
      ...modes.map((m) => (m === 'direct' ? 'n/a' : cell(agg.w4[m]?.perPairKiB, 1))),
      ...pairs.map(([a, b]) => fmtRatio(ratios[`${a}/${b} w4.perPairKiB`])),
    ])
  }
  const header = ['', ...cols]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)))
  const line = (r) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c ?? '').padStart(widths[i]))).join('  ')
  let out = '\n'
  out += `rcgw bench ${meta.quick ? '(--quick) ' : ''}${meta.date}: Node ${meta.node}, HAProxy ${meta.haproxy}, OpenSSL ${meta.openssl}, ${meta.tls ?? ''}\n`
  out += `${meta.cpu}, ${meta.cores} cores; proxy pinned to core ${meta.pinning.proxy} (HAProxy nbthread 1 | one gateway process); load generator + backend on core ${meta.pinning.loadGeneratorAndBackend}; all at nice ${meta.niceness}${meta.autogroup ? ` (${meta.autogroup})` : ''}\n`
  out += `${meta.params.reps} repetitions${meta.params.warmupTrial ? ' + 1 discarded warm-up' : ''} per workload and mode, median ±half the (max−min)/median spread; load average at start ${meta.loadavgAtStart.map((x) => x.toFixed(2)).join(' ')}, end ${meta.loadavgAtEnd.map((x) => x.toFixed(2)).join(' ')}; ${meta.durationS} s\n`
  const q = meta.otherCpuAtStart
  if (q) out += `other processes at start: cores ${Object.values(q.perCore).map((x) => `${Math.round(x * 100)}%`).join(' / ')} busy, CPU pressure ${q.pressure ?? '?'}%${q.busy > 0.15 ? '  ← busy machine: numbers are noisy, proxy modes suffer most' : ''}\n`
  if (meta.w4Note) out += `W4: ${meta.w4Note}\n`
  out += '\n' + line(header) + '\n' + line(widths.map((w) => '-'.repeat(w))) + '\n'
  for (const r of rows) out += line(r) + '\n'
  if (agg.scale) out += renderScale(agg.scale, meta)
  out += '\nTargets (gateway):\n'
  for (const t of targets) {
    const v = t.value === null || t.value === undefined ? '-' : t.unit === '×' ? `${t.value.toFixed(2)}×` : `${fmtNum(t.value, 2)} ${t.unit}`
    out += `  ${t.name.padEnd(42)} ${t.goal.padEnd(10)} ${v.padStart(10)}   ${t.met === null ? 'not measured' : t.met ? 'met' : 'NOT MET'}\n`
  }
  return out
}

/** The 1 → 2 workers / threads table (W1, every process but the backend free to use both cores). */
function renderScale(s, meta) {
  const rows = []
  for (const [name, one, two] of [
    ['gateway (workers)', 'gateway×1', 'gateway×2'],
    ['HAProxy (nbthread)', 'haproxy×1', 'haproxy×2'],
  ]) {
    if (!s[one] || !s[two]) continue
    rows.push([
      name,
      `${cell(s[one].rps)} → ${cell(s[two].rps)}`,
      fmtRatio(ratio(s[two].rps.median, s[one].rps.median)),
      `${fmtNum(s[one].p99.median, 2)} → ${fmtNum(s[two].p99.median, 2)}`,
      `${fmtNum(s[one].proxyCpu.median, 2)} → ${fmtNum(s[two].proxyCpu.median, 2)}`,
      `${fmtNum(s[one].perCore.median)} → ${fmtNum(s[two].perCore.median)}`,
    ])
  }
  const header = ['1 → 2', 'W1 req/s', 'ratio', 'p99 ms', 'proxy CPU (cores)', 'req/s per proxy CPU-second']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  let out = `\nScaling, 1 → 2 workers / threads: W1 with the proxy and the load generator free to use both cores ${meta.scaleCores} (the backend stays on core ${meta.pinning.loadGeneratorAndBackend}); the second core is shared with the load side\n`
  out += line(header) + '\n' + line(widths.map((w) => '-'.repeat(w))) + '\n'
  for (const r of rows) out += line(r) + '\n'
  const g = s['gateway×2']?.rps.median
  const h = s['haproxy×2']?.rps.median
  if (g && h) out += `gateway×2 / HAProxy×2: ${fmtRatio(g / h)}\n`
  return out
}

function fmtRatio(v) {
  return v === null || v === undefined ? '-' : `${v.toFixed(2)}×`
}

function fmtPct(v) {
  return v === null || v === undefined || !Number.isFinite(v) ? '-' : `${Math.round(v * 100)}%`
}

function saveResults(report, prefix = '') {
  const dir = join(here, 'results')
  mkdirSync(dir, { recursive: true })
  const stamp = report.meta.date.replace(/[:.]/g, '-')
  const name = `${prefix ? `${prefix}-` : ''}${stamp}${report.meta.quick ? '-quick' : ''}.json`
  const text = JSON.stringify(report, null, 1) + '\n'
  writeFileSync(join(dir, name), text)
  // latest.json is the last full run; --quick and --profile runs have their own "latest" files.
  const latest = `${prefix ? `${prefix}-` : ''}latest${report.meta.quick ? '-quick' : ''}.json`
  writeFileSync(join(dir, latest), text)
  log(`results written to bench/results/${name} and bench/results/${latest}`)
}

function tail(file, n = 15) {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-n).join('\n')
  } catch {
    return '(no log)'
  }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms))
}
