#!/usr/bin/env -S node --min-semi-space-size=16 --max-semi-space-size=16
/**
 * rcgw — remote-cluster-gateway command line.
 *
 *   rcgw start [--config FILE]          run the gateway (default: the embedded config/gateway.yml)
 *   rcgw check-config [--config FILE]   validate a config file and print the effective summary
 *   rcgw version | help
 *
 * Exit codes: 0 ok, 1 runtime failure (e.g. port in use), 2 invalid config or usage.
 */
import { fileURLToPath } from 'node:url'
import { dirname, resolve } from 'node:path'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import cluster from 'node:cluster'
import { loadConfigFile, ConfigError, type ResolvedRaw, type LoadOptions } from '../config/load.js'
import type { GatewayConfig } from '../config/types.js'
import { ensureDevCertificates } from '../tls/devcerts.js'
import { createLogger, resolveLogLevel, LogLevelError } from '../log.js'
import { VERSION } from '../config/build.js'
import { Gateway } from '../gateway/gateway.js'
import { formatByteSize, formatDuration } from '../config/units.js'
import { certsCommand } from './certs.js'
import { probeCommand } from './probe.js'
import { runPrimary, attachWorker, type WorkerHandle } from './workers.js'
import { GC_FLAGS, differingGcFlags, missingGcFlags, withGcFlags } from './node-flags.js'

const here = dirname(fileURLToPath(import.meta.url))
/** dist/cli/main.js and src/cli/main.ts both sit two levels below the package root. */
export const DEFAULT_CONFIG = resolve(here, '..', '..', 'config', 'gateway.yml')

const USAGE = `usage: rcgw <command> [options]

commands:
  start [--config FILE]          run the gateway (default config: ${DEFAULT_CONFIG})
  check-config [--config FILE]   validate a config file and print the effective settings
  certs <ca|server|signing|client> ...
                                 create a CA, the gateway TLS certificate, signing or client certificates
                                 (rcgw certs help)
  probe --address HOST:PORT --credentials ENCODED ...
                                 connect like an Elasticsearch local cluster and report each step
                                 (rcgw probe --help)
  version                        print the version
  help                           print this help
`

interface Io {
  out: (s: string) => void
  err: (s: string) => void
}

const stdio: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }

function parseArgs(argv: string[]): { command: string; config: string } | { error: string } {
  const [command = 'help', ...rest] = argv
  let config = process.env.RCGW_CONFIG ?? DEFAULT_CONFIG
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!
    if (a === '--config' || a === '-c') {
      const v = rest[++i]
      if (v === undefined) return { error: '--config needs a file' }
      config = resolve(v)
    } else if (a.startsWith('--config=')) config = resolve(a.slice('--config='.length))
    else return { error: `unknown argument: ${a}` }
  }
  return { command, config }
}

function autoGenerateHook(io: Io, intoTemp: boolean): (raw: ResolvedRaw) => ResolvedRaw | void {
  return (raw) => {
    if (!raw.tls.auto_generate || (existsSync(raw.tls.certificate) && existsSync(raw.tls.key))) return
    const names = raw.clusters.flatMap((c) => c.server_names)
    if (intoTemp) {
      // check-config must not write into the deployment: validate with throw-away certificates instead.
      const dir = mkdtempSync(join(tmpdir(), 'rcgw-check-'))
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
      ensureDevCertificates(join(dir, 'gateway.crt'), join(dir, 'gateway.key'), names)
      io.out(`note: tls.certificate ${raw.tls.certificate} does not exist yet; it will be generated on first start (tls.auto_generate)\n`)
      return { ...raw, tls: { ...raw.tls, certificate: join(dir, 'gateway.crt'), key: join(dir, 'gateway.key') } }
    }
    const r = ensureDevCertificates(raw.tls.certificate, raw.tls.key, names)
    if (r !== null) {
      io.err(
        [
          '',
          '━━ rcgw: created a development CA and server certificate (tls.auto_generate) ━━',
          `  CA certificate:      ${r.caCertPath}`,
          `  CA SHA-256 fingerprint:`,
          `    ${r.caFingerprint}`,
          `  server certificate:  ${r.certPath}`,
          `  server key:          ${r.keyPath}`,
          '  Trust the CA on the local cluster with',
          '    xpack.security.remote_cluster_client.ssl.certificate_authorities',
          '  For production, set tls.certificate / tls.key to real files and auto_generate: false.',
          '',
          '',
        ].join('\n'),
      )
    }
  }
}

export function summarize(cfg: GatewayConfig): string {
  const lines: string[] = []
  lines.push(`config: ${cfg.source}`)
  lines.push(`listen: ${cfg.listen.host}:${cfg.listen.port} (TLS 1.2/1.3, client_authentication: ${cfg.tls.clientAuthentication})`)
  lines.push(`tls certificate: ${cfg.tls.certificatePath} (${cfg.tls.cert.certificates[0]?.subject.replace(/\n/g, ', ')}, valid to ${cfg.tls.cert.certificates[0]?.validTo})`)
  lines.push(`admin: ${cfg.admin.enabled ? `${cfg.admin.host}:${cfg.admin.port}` : 'disabled'}`)
  const rest = cfg.rest
  lines.push(
    rest?.enabled === true
      ? `rest: ${rest.host}:${rest.port} (HTTPS, headers_timeout ${formatDuration(rest.headersTimeoutMs)}, request_timeout ${rest.requestTimeoutMs > 0 ? formatDuration(rest.requestTimeoutMs) : 'none'}, keep_alive_timeout ${formatDuration(rest.keepAliveTimeoutMs)}${rest.proxyProtocol.enabled ? `, PROXY protocol from ${rest.proxyProtocol.trusted.map((r) => r.text).join(', ')}` : ''})`
      : 'rest: disabled',
  )
  lines.push(
    `limits: max_header_size ${formatByteSize(cfg.limits.maxHeaderSize)}, max_connections ${cfg.limits.maxConnections}, handshake_timeout ${formatDuration(cfg.limits.handshakeTimeoutMs)}, idle timeout none`,
  )
  lines.push(`shutdown: drain_timeout ${formatDuration(cfg.shutdown.drainTimeoutMs)}`)
  for (const c of cfg.clusters) {
    lines.push(`cluster ${c.name}${c.isDefault ? ' (default)' : ''}`)
    lines.push(`  server_names: ${c.serverNames.length ? c.serverNames.join(', ') : '-'}`)
    lines.push(`  nodes: ${c.nodes.map((n) => n.id).join(', ')}`)
    lines.push(
      `  backend_tls: ${c.backendTls.enabled ? `verification_mode ${c.backendTls.verificationMode}, server_name ${c.backendTls.serverName ?? '-'}, CAs ${c.backendTls.ca.length}` : 'disabled (plain TCP)'}`,
    )
    if (rest?.enabled === true)
      lines.push(
        `  rest: ${c.rest ? `${c.rest.nodes.map((n) => n.id).join(', ')} (${c.rest.tls.enabled ? `TLS, verification_mode ${c.rest.tls.verificationMode}` : 'plain HTTP'})` : 'none (not reachable over REST)'}`,
      )
    lines.push(`  health_check: ${c.healthCheck.enabled ? `every ${formatDuration(c.healthCheck.intervalMs)}, timeout ${formatDuration(c.healthCheck.timeoutMs)}` : 'disabled'}`)
  }
  return lines.join('\n') + '\n'
}

export async function main(argv: string[], io: Io = stdio): Promise<number> {
  // Operator subcommands parse their own options.
  switch (argv[0]) {
    case 'certs':
      return certsCommand(argv.slice(1), io)
    case 'probe':
      return probeCommand(argv.slice(1), io)
  }
  const args = parseArgs(argv)
  if ('error' in args) {
    io.err(`rcgw: ${args.error}\n${USAGE}`)
    return 2
  }
  switch (args.command) {
    case 'help':
    case '--help':
    case '-h':
      io.out(USAGE)
      return 0
    case 'version':
    case '--version':
      io.out(`rcgw ${VERSION}\n`)
      return 0
    case 'check-config': {
      const cfg = load(args.config, io, true)
      if (cfg === null) return 2
      io.out(summarize(cfg))
      io.out('config ok\n')
      return 0
    }
    case 'start':
      return start(args.config, io)
    default:
      io.err(`rcgw: unknown command "${args.command}"\n${USAGE}`)
      return 2
  }
}

function load(file: string, io: Io, check: boolean, opts: LoadOptions = { beforeReadingCertificates: autoGenerateHook(io, check) }): GatewayConfig | null {
  try {
    return loadConfigFile(file, opts)
  } catch (e) {
    if (e instanceof ConfigError) {
      io.err(`rcgw: invalid config ${file}: ${e.message}\n`)
      return null
    }
    throw e
  }
}

/** In a worker (`workers` > 1) the primary serves the admin listener: every load, reloads included, disables it. */
function withoutAdmin(hook: (raw: ResolvedRaw) => ResolvedRaw | void): (raw: ResolvedRaw) => ResolvedRaw {
  return (raw) => {
    const r = hook(raw) ?? raw
    return { ...r, admin: { ...r.admin, enabled: false } }
  }
}

/** Set in the environment of a process re-executed by relaunchWithGcFlags (guards against a loop). */
const REEXEC_ENV = 'RCGW_REEXEC'

/**
 * Starts node again with this runtime's GC flags (node-flags.ts). Where node has `process.execve` (Node >= 22.15, so the
 * Docker image's Node 24), the process image is replaced: same pid, same stdio, same signals, nothing stays
 * behind — this call does not return. Elsewhere (Node 20) the answer is 'cluster': this process becomes a
 * node:cluster primary of ONE worker started with the flags (the primary serves /metrics and forwards signals
 * exactly as with `workers` > 1; it costs one more small process). Returns 'none' when neither is possible.
 */
function relaunchWithGcFlags(log: ReturnType<typeof createLogger>, missing: boolean): 'cluster' | 'none' {
  const argv = [...withGcFlags(process.execArgv), process.argv[1]!, ...process.argv.slice(2)]
  const execve = (process as unknown as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve
  if (typeof execve === 'function' && process.env[REEXEC_ENV] !== '1') {
    log.info(
      { event: 'node_flags_relaunch', how: 'execve', flags: GC_FLAGS },
      `node was started ${missing ? 'without' : 'with other values than'} ${GC_FLAGS.join(' ')} (Node ${process.versions.node}): re-executing with them`,
    )
    try {
      execve.call(process, process.execPath, [process.execPath, ...argv], { ...process.env, [REEXEC_ENV]: '1' })
    } catch (e) {
      log.warn({ event: 'node_flags_relaunch_failed', err: (e as Error).message }, 'could not re-execute node with the GC flags')
      return 'none'
    }
  }
  // Only for missing flags: values the operator gave on Node 20 are left alone (no extra process for them).
  if (missing && cluster.isPrimary && process.env[REEXEC_ENV] !== '1') {
    log.info(
      { event: 'node_flags_relaunch', how: 'cluster', flags: GC_FLAGS },
      `node was started without ${GC_FLAGS.join(' ')} and cannot re-execute itself (no process.execve before Node 22.15): serving from one worker process started with them`,
    )
    return 'cluster'
  }
  return 'none'
}

async function start(file: string, io: Io): Promise<number> {
  const inWorker = cluster.isWorker
  const loadOptions: LoadOptions = {
    beforeReadingCertificates: inWorker ? withoutAdmin(autoGenerateHook(io, false)) : autoGenerateHook(io, false),
  }
  const cfg = load(file, io, false, loadOptions)
  if (cfg === null) return 2
  let level
  try {
    level = resolveLogLevel(cfg.logging.level)
  } catch (e) {
    if (!(e instanceof LogLevelError)) throw e
    io.err(`rcgw: ${e.message}\n`)
    return 2
  }
  const log = createLogger(level)
  const missing = missingGcFlags(process.execArgv)
  const differing = differingGcFlags(process.execArgv)
  if (process.env[REEXEC_ENV] === '1' && missing.length === 0 && differing.length === 0) {
    delete process.env[REEXEC_ENV]
    log.info({ event: 'node_flags_added', how: 'execve', flags: GC_FLAGS }, `node was re-executed with ${GC_FLAGS.join(' ')} (same process id)`)
  }
  // The fast path must not depend on how the gateway was launched (issue #12): a plain `node dist/cli/main.js start`
  // relaunches itself with this runtime's GC flags, and so does one started with another runtime's values (the
  // shebang's Node 20 flags under Node 24) where node can re-execute itself; RCGW_NO_REEXEC=1 keeps the process as
  // launched. Only as the process's own CLI (never when main() is called in-process), and never with workers > 1
  // (the primary is not on the data path; the workers get this runtime's flags).
  if ((missing.length > 0 || differing.length > 0) && invokedDirectly && !inWorker && (cfg.workers ?? 1) === 1 && process.env.RCGW_NO_REEXEC !== '1') {
    const relaunched = relaunchWithGcFlags(log, missing.length > 0)
    if (relaunched === 'cluster')
      return runPrimary({ cfg, log, exec: fileURLToPath(import.meta.url), args: ['start', '--config', file], err: io.err })
  }
  if (differing.length > 0 && !inWorker)
    log.info(
      { event: 'node_flags_differ', flags: differing.map((f) => f.slice(0, f.indexOf('='))), recommended: GC_FLAGS },
      `node runs with other values of ${differing.map((f) => f.slice(0, f.indexOf('='))).join(' ')} than recommended for Node ${process.versions.node} (${GC_FLAGS.join(' ')})`,
    )
  if (missing.length > 0 && !(!inWorker && (cfg.workers ?? 1) > 1))
    log.warn(
      { event: 'node_flags_missing', missing },
      `node was started without ${missing.join(' ')}: under load V8 can fall into back-to-back full garbage collections (up to ~40% less throughput); start with \`rcgw start\`, \`npm start\` or \`node ${GC_FLAGS.join(' ')} dist/cli/main.js start\``,
    )
  // workers > 1: this process becomes the node:cluster primary (config and dev certificates are ready before forking).
  if (!inWorker && (cfg.workers ?? 1) > 1)
    return runPrimary({ cfg, log, exec: fileURLToPath(import.meta.url), args: ['start', '--config', file], err: io.err })
  const gateway = new Gateway(cfg, {
    log,
    // Reloads read the file the same way start did (missing dev certificates are created again when
    // auto_generate is on), and RCGW_LOG_LEVEL keeps winning over logging.level.
    loadOptions,
    resolveLogLevel: (l) => resolveLogLevel(l),
  })
  try {
    await gateway.start()
  } catch (e) {
    const err = e as NodeJS.ErrnoException
    io.err(`rcgw: cannot start: ${err.code === 'EADDRINUSE' ? `address in use (${err.message.replace(/^listen EADDRINUSE: address already in use /, '')})` : err.message}\n`)
    await gateway.stop(0).catch(() => {})
    return 1
  }
  if (cfg.reload?.watch !== false) gateway.watchConfig()
  // SIGHUP reloads (the default action would terminate the process). Synchronous: a reload never overlaps another.
  // Kept while draining too: a late SIGHUP is refused and logged instead of killing the drain.
  const onHup = () => {
    log.info({ signal: 'SIGHUP' }, 'signal received: reloading the configuration')
    gateway.reloadFromFile('signal')
  }
  process.on('SIGHUP', onHup)
  return new Promise<number>((resolveExit) => {
    let signals = 0
    let workerHandle: WorkerHandle | null = null
    const onSignal = (sig: NodeJS.Signals) => {
      signals++
      if (signals > 1) {
        log.warn({ signal: sig }, 'second signal: exiting without draining')
        resolveExit(1)
        return
      }
      log.info({ signal: sig }, 'signal received')
      gateway.stop().then(
        () => {
          workerHandle?.close()
          resolveExit(0)
        },
        (e: unknown) => {
          log.error({ err: String(e) }, 'error during shutdown')
          resolveExit(1)
        },
      )
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
    if (inWorker) {
      // The primary's stop request never escalates: the same Ctrl-C may already have reached this worker.
      workerHandle = attachWorker(gateway, (sig) => {
        if (signals === 0) onSignal(sig)
      })
      workerHandle.started()
    }
  })
}

const invokedDirectly = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code
      // Let pino flush, then exit even if a stray handle remains.
      setImmediate(() => process.exit(code))
    },
    (e: unknown) => {
      process.stderr.write(`rcgw: fatal: ${(e as Error).stack ?? String(e)}\n`)
      process.exit(1)
    },
  )
}
