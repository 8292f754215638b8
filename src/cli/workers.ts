/**
 * Multi-core mode (`workers` > 1) with node:cluster.
 *
 * The `rcgw start` process becomes the primary: it has already loaded and validated the config (and created the
 * development certificates when tls.auto_generate is on) before it forks. It then
 *
 *   - forks `workers` processes that each run the transport listener (node:cluster shares the listen socket; with
 *     `listen.port: 0` every worker gets the same port) with the admin listener disabled;
 *   - runs the admin listener itself: /healthz 200 while it runs, /readyz 200 when every worker reported that it
 *     listens and that every cluster has a healthy node, /metrics aggregated over the workers with prom-client's
 *     AggregatorRegistry (counters and histograms summed, gauges as set in `tuneAggregation`);
 *   - SIGTERM / SIGINT: asks every worker to stop (each drains as a single process does), waits for them, exits 0;
 *     a second signal is passed on as a real signal, which makes the workers exit without draining (exit 1);
 *   - SIGHUP: passed on to every worker, which reloads its configuration as a single process does;
 *   - restarts a worker that dies unexpectedly, with an exponential backoff (0.5 s doubling up to 30 s, reset once a
 *     worker has run for a minute). A worker that dies before all workers first listened (port in use, bad file)
 *     stops the whole gateway with that worker's exit code, as a single process would.
 *
 * The first stop request goes to the workers over IPC rather than as a signal: Ctrl-C in a terminal already sends
 * SIGINT to the whole process group, and a forwarded signal on top would count as a second one (exit without
 * draining).
 */
import cluster, { type Worker } from 'node:cluster'
import { AggregatorRegistry, type Gauge } from 'prom-client'
import type { AddressInfo } from 'node:net'
import type { GatewayConfig } from '../config/types.js'
import { AdminServer, type ReadinessSource } from '../admin/server.js'
import type { GatewayMetrics } from '../admin/metrics.js'
import type { Gateway } from '../gateway/gateway.js'
import type { Logger } from '../log.js'
import { withGcFlags, workerExecArgv } from './node-flags.js'

/** Worker → primary: the worker's readiness, sent at start and whenever it changes. */
export interface WorkerStatus {
  readonly type: 'rcgw:status'
  readonly listening: boolean
  readonly unhealthy: readonly string[]
  readonly listen: string | null
}

/** Primary → worker: drain and exit (the IPC form of SIGTERM). */
export interface StopRequest {
  readonly type: 'rcgw:stop'
  readonly signal: NodeJS.Signals
}

const STATUS_INTERVAL_MS = 500
const BACKOFF_MIN_MS = 500
const BACKOFF_MAX_MS = 30_000
const STABLE_AFTER_MS = 60_000

function isStatus(m: unknown): m is WorkerStatus {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'rcgw:status'
}

function isStop(m: unknown): m is StopRequest {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'rcgw:stop'
}

/**
 * How each gauge combines across workers (counters and histograms, including the data-path cells of cells.ts, are
 * summed, which is prom-client's default and what `CellMetric.aggregator` says):
 *
 *   rcgw_client_connections_active                      sum   (connections open in all workers)
 *   rcgw_backend_up                                     min   (0 when any worker's last check of the node failed;
 *                                                              the same "every worker" rule as /readyz)
 *   rcgw_config_last_reload_successful                  min   (0 when any worker refused the last reload)
 *   rcgw_config_last_reload_success_timestamp_seconds   min   (every worker runs a config at least this new)
 *   rcgw_build_info                                     first (the same build everywhere; a sum would say N)
 *
 * prom-client's default process/runtime metrics bring their own aggregators. Called in each worker: the primary
 * reads the aggregator from what the workers send.
 */
export function tuneAggregation(m: GatewayMetrics): void {
  const set = (g: Gauge<string>, aggregator: 'min' | 'max' | 'first' | 'sum') => {
    ;(g as unknown as { aggregator: string }).aggregator = aggregator
  }
  set(m.backendUp, 'min')
  set(m.configLastReloadSuccessful, 'min')
  set(m.configLastReloadSuccessTimestamp, 'min')
  set(m.buildInfo, 'first')
}

export interface WorkerHandle {
  /** Call once the gateway listens: starts the status reports. */
  started(): void
  /** Stops the status reports. */
  close(): void
}

/**
 * Worker side: answers the primary's metric requests from this gateway's registry, reports readiness, and turns
 * the primary's stop request into `onStop` (ignored once a stop is under way: it never escalates).
 */
export function attachWorker(gateway: Gateway, onStop: (signal: NodeJS.Signals) => void): WorkerHandle {
  tuneAggregation(gateway.metrics)
  AggregatorRegistry.setRegistries([gateway.metrics.registry])
  // Constructing one installs the worker's listener for the primary's metric requests.
  new AggregatorRegistry()
  let last = ''
  let timer: NodeJS.Timeout | null = null
  const report = () => {
    if (!process.connected || process.send === undefined) return
    let listen: string | null = null
    if (gateway.transport.isListening) {
      try {
        const a = gateway.transport.address()
        listen = `${a.address}:${a.port}`
      } catch {
        listen = null
      }
    }
    const status: WorkerStatus = { type: 'rcgw:status', listening: gateway.transport.isListening, unhealthy: gateway.transport.unhealthyClusters(), listen }
    const text = JSON.stringify(status)
    if (text === last) return
    last = text
    process.send(status)
  }
  const onMessage = (m: unknown) => {
    if (isStop(m)) onStop(m.signal)
  }
  process.on('message', onMessage)
  return {
    started() {
      report()
      timer ??= setInterval(report, STATUS_INTERVAL_MS)
      timer.unref()
    },
    close() {
      if (timer !== null) clearInterval(timer)
      timer = null
      report()
      process.removeListener('message', onMessage)
    },
  }
}

interface Slot {
  readonly index: number
  worker: Worker | null
  status: WorkerStatus | null
  startedAt: number
  failures: number
  restartTimer: NodeJS.Timeout | null
}

export interface PrimaryOptions {
  readonly cfg: GatewayConfig
  readonly log: Logger
  /** The CLI module the workers run, and its arguments (`start --config FILE`). */
  readonly exec: string
  readonly args: readonly string[]
  /** Where a start failure is reported (stderr). */
  readonly err: (s: string) => void
}

/** Primary side: forks the workers, serves the admin listener, forwards signals. Resolves with the exit code. */
export async function runPrimary(o: PrimaryOptions): Promise<number> {
  const { cfg, log } = o
  const n = cfg.workers ?? 1
  // Workers carry the data path: they always get this runtime's GC flags (node-flags.ts), even when the primary was
  // started without them or with another runtime's (the shebang's Node 20 values under Node 24); with
  // RCGW_NO_REEXEC=1 only missing ones are added.
  const execArgv = process.env.RCGW_NO_REEXEC === '1' ? workerExecArgv(process.execArgv) : withGcFlags(process.execArgv)
  cluster.setupPrimary({ exec: o.exec, args: [...o.args], execArgv })
  const slots: Slot[] = Array.from({ length: n }, (_, index) => ({ index, worker: null, status: null, startedAt: 0, failures: 0, restartTimer: null }))
  let stopping = false
  let allStarted = false
  let exitCode = 0
  let signals = 0
  let finish: (code: number) => void = () => {}
  const done = new Promise<number>((r) => (finish = r))

  const readiness: ReadinessSource = {
    get isListening() {
      return slots.every((s) => s.worker !== null && s.status?.listening === true)
    },
    unhealthyClusters() {
      const names = new Set<string>()
      for (const s of slots) for (const c of s.status?.unhealthy ?? []) names.add(c)
      return [...names].sort()
    },
  }
  const aggregator = new AggregatorRegistry()
  const admin = cfg.admin.enabled
    ? new AdminServer({ registry: { metrics: () => aggregator.clusterMetrics(), contentType: aggregator.contentType } }, readiness)
    : null
  let adminAddress: AddressInfo | null = null
  if (admin !== null) {
    try {
      adminAddress = await admin.listen(cfg.admin.host, cfg.admin.port)
    } catch (e) {
      const err = e as NodeJS.ErrnoException
      o.err(`rcgw: cannot start: ${err.code === 'EADDRINUSE' ? `address in use (${err.message.replace(/^listen EADDRINUSE: address already in use /, '')})` : err.message}\n`)
      return 1
    }
  }

  const fork = (slot: Slot) => {
    slot.restartTimer = null
    slot.status = null
    slot.startedAt = Date.now()
    const w = cluster.fork({ RCGW_WORKER_INDEX: String(slot.index) })
    slot.worker = w
    w.on('message', (m: unknown) => {
      if (!isStatus(m) || slot.worker !== w) return
      slot.status = m
      if (!allStarted && !stopping && slots.every((s) => s.status?.listening === true)) {
        allStarted = true
        log.info(
          {
            event: 'started',
            listen: m.listen,
            admin: adminAddress ? `${adminAddress.address}:${adminAddress.port}` : null,
            workers: n,
            worker_pids: slots.map((s) => s.worker?.process.pid ?? null),
            clusters: cfg.clusters.map((c) => c.name),
          },
          `gateway started with ${n} workers`,
        )
      }
    })
    w.on('exit', (code, signal) => onExit(slot, w, code, signal))
  }

  const onExit = (slot: Slot, w: Worker, code: number | null, signal: string | null) => {
    if (slot.worker !== w) return
    slot.worker = null
    slot.status = null
    if (stopping) {
      log.info({ worker: slot.index, worker_pid: w.process.pid ?? null, exit_code: code, exit_signal: signal }, 'worker stopped')
      if (slots.every((s) => s.worker === null)) void shutdownAdmin().then(() => finish(exitCode))
      return
    }
    if (!allStarted) {
      // Failed to start (port in use, bad file …): the worker already said why on stderr. Stop like a single process.
      log.error({ worker: slot.index, worker_pid: w.process.pid ?? null, exit_code: code, exit_signal: signal }, 'worker failed to start; stopping')
      exitCode = code !== null && code !== 0 ? code : 1
      stopAll('SIGTERM')
      return
    }
    if (Date.now() - slot.startedAt >= STABLE_AFTER_MS) slot.failures = 0
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** slot.failures)
    slot.failures++
    log.error(
      { worker: slot.index, worker_pid: w.process.pid ?? null, exit_code: code, exit_signal: signal, restart_in_ms: delay, restarts: slot.failures },
      `worker ${slot.index} exited unexpectedly; restarting in ${delay} ms`,
    )
    slot.restartTimer = setTimeout(() => {
      if (!stopping) fork(slot)
    }, delay)
  }

  const shutdownAdmin = async () => {
    await admin?.close()
    log.info({ event: 'stopped' }, 'gateway stopped')
  }
  const stopAll = (sig: NodeJS.Signals) => {
    stopping = true
    for (const s of slots) {
      if (s.restartTimer !== null) clearTimeout(s.restartTimer)
      s.restartTimer = null
    }
    const live = slots.filter((s) => s.worker !== null)
    if (live.length === 0) {
      void shutdownAdmin().then(() => finish(exitCode))
      return
    }
    log.info({ event: 'stopping', workers: live.length }, 'gateway stopping: asking the workers to drain')
    for (const s of live) {
      const w = s.worker!
      const stop: StopRequest = { type: 'rcgw:stop', signal: sig }
      if (w.isConnected()) w.send(stop)
      else w.process.kill(sig)
    }
  }
  const onSignal = (sig: NodeJS.Signals) => {
    signals++
    if (signals > 1) {
      log.warn({ signal: sig }, 'second signal: workers exit without draining')
      exitCode = 1
      for (const s of slots) s.worker?.process.kill(sig)
      return
    }
    log.info({ signal: sig }, 'signal received')
    stopAll(sig)
  }
  const onHup = () => {
    log.info({ signal: 'SIGHUP' }, 'signal received: the workers reload the configuration')
    for (const s of slots) s.worker?.process.kill('SIGHUP')
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  process.on('SIGHUP', onHup)

  log.info(
    { event: 'primary_started', workers: n, admin: adminAddress ? `${adminAddress.address}:${adminAddress.port}` : null },
    `starting ${n} workers`,
  )
  for (const s of slots) fork(s)
  const code = await done
  process.removeListener('SIGTERM', onSignal)
  process.removeListener('SIGINT', onSignal)
  process.removeListener('SIGHUP', onHup)
  return code
}
