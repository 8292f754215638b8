/**
 * JSON logs: pino, one object per line, in Elastic Common Schema shape (`@elastic/ecs-pino-format`): `@timestamp`,
 * `log.level`, `message`, `ecs.version`, `service.name`/`service.version`, `process.pid`, `host.hostname`.
 *
 * Secrets never reach a log line: every field whose name can carry a credential (the cross-cluster API key header,
 * passwords, passphrases, private keys …) is replaced by "[redacted]" at any depth (`scrubSecrets`, run on every
 * logged object), and pino's `redact` covers the same names in child-logger bindings. The code itself logs API key
 * ids, never encoded credentials; messages (strings) are not inspected.
 *
 * ECS defines `event`, `client`, `tls`, `error`, `host`, `service` … as objects. A call site that logs one of them as
 * a plain value (`{ event: 'connection_closed' }`) would make Elasticsearch reject the whole document under an ECS
 * index template ("tried to parse field [event] as object, but found a concrete value"), so such values are moved to
 * the ECS leaf they mean (`event.action`, `client.address`, `tls.version`, `error.message`) or, for the rest, under
 * `labels.*`. Objects pass through untouched, so call sites can log ECS fields directly. Pino formats only the
 * per-call object this way, not `logger.child(bindings)`: child bindings must use ECS names themselves.
 */
import { isIP } from 'node:net'
import { pino, type Logger as PinoLogger, type DestinationStream, type LoggerOptions } from 'pino'
import { ecsFormat } from '@elastic/ecs-pino-format'
import { VERSION } from './config/build.js'

export type Logger = PinoLogger

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** The environment variable that overrides `logging.level`. */
export const LOG_LEVEL_ENV = 'RCGW_LOG_LEVEL'

/** Field names that can carry a credential or key material (matched exactly, case-sensitively, at any depth). */
export const SECRET_FIELDS = [
  // The transport header holding the cross-cluster API key (`ApiKey <base64 id:secret>`), cross-cluster-auth.md.
  '_cross_cluster_access_credentials',
  'credentials',
  'api_key',
  'apiKey',
  'secret',
  'password',
  'passphrase',
  'key_passphrase',
  'private_key',
  'privateKey',
  'authorization',
  'Authorization',
  'es-secondary-authorization',
  'token',
] as const

/** Parents under which a field called `key` is key material (the typed config's `tls.key` / `backendTls.key`). */
const KEY_PARENTS = new Set(['tls', 'backendTls', 'backend_tls'])

export const REDACTED = '[redacted]'
/** What replaces an object nested deeper than SCRUB_DEPTH: fail closed rather than print what was not inspected. */
export const TOO_DEEP = '[too deep to log]'
export const SCRUB_DEPTH = 10

const SECRETS: ReadonlySet<string> = new Set(SECRET_FIELDS)

function segment(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : `["${name}"]`
}

/**
 * pino `redact` paths: the secret field names at the top level. What they add to `scrubSecrets` is
 * `logger.child(bindings)`, which pino serialises once without calling any hook. Deliberately no nested or `*`
 * paths: @pinojs/redact (pino 10) runs them on every line that has the parent key, and each wildcard level costs
 * ~50 µs per line (measured); top-level paths cost nothing on lines without such keys.
 */
export const REDACT_PATHS: readonly string[] = Object.freeze(SECRET_FIELDS.map(segment))

function walkable(v: unknown): v is object {
  if (v === null || typeof v !== 'object') return false
  // Buffers, dates … serialise through toJSON and hold no named fields; Errors are formatted by ECS (type, message,
  // stack only); typed arrays have no field names.
  if (ArrayBuffer.isView(v) || v instanceof Error) return false
  return typeof (v as { toJSON?: unknown }).toJSON !== 'function'
}

/**
 * A copy of `v` with the value of every SECRET_FIELDS key (and `key` under tls/backendTls) replaced by REDACTED, at
 * any depth; objects deeper than SCRUB_DEPTH are replaced whole. Copy-on-write: returns `v` itself when nothing
 * needed replacing, so a line without secrets costs one pass over its keys.
 */
export function scrubSecrets<T>(v: T): T {
  return scrub(v, 0, '') as T
}

function scrub(v: unknown, depth: number, parent: string): unknown {
  if (!walkable(v)) return v
  if (depth >= SCRUB_DEPTH) return TOO_DEEP
  if (Array.isArray(v)) {
    let out: unknown[] | null = null
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i]
      const s = scrub(x, depth + 1, parent)
      if (s !== x) (out ??= v.slice())[i] = s
    }
    return out ?? v
  }
  const rec = v as Record<string, unknown>
  let out: Record<string, unknown> | null = null
  for (const k in rec) {
    if (!Object.prototype.hasOwnProperty.call(rec, k)) continue
    const x = rec[k]
    const s = x !== undefined && (SECRETS.has(k) || (k === 'key' && KEY_PARENTS.has(parent))) ? REDACTED : scrub(x, depth + 1, k)
    if (s !== x) (out ??= { ...rec })[k] = s
  }
  return out ?? v
}

type Fields = Record<string, unknown>

const ECS_OBJECT_FIELDS = new Set([
  'agent', 'client', 'cloud', 'container', 'data_stream', 'destination', 'device', 'dll', 'dns', 'ecs', 'email', 'error',
  'event', 'faas', 'file', 'group', 'host', 'http', 'log', 'network', 'observer', 'orchestrator', 'organization',
  'package', 'process', 'registry', 'rule', 'server', 'service', 'source', 'span', 'threat', 'tls', 'trace',
  'transaction', 'url', 'user', 'user_agent', 'vulnerability',
])

function isPrimitive(v: unknown): v is string | number | boolean | bigint {
  const t = typeof v
  return t === 'string' || t === 'number' || t === 'boolean' || t === 'bigint'
}

/** `1.2.3.4:5678` / `::1:5678` (how the gateway formats peers) → ip and port when the host part is an IP. */
function splitAddress(address: string): { ip: string; port: number } | null {
  const i = address.lastIndexOf(':')
  if (i <= 0) return null
  const ip = address.slice(0, i).replace(/^\[(.*)\]$/, '$1')
  const port = Number(address.slice(i + 1))
  return isIP(ip) !== 0 && Number.isInteger(port) && port > 0 && port < 65536 ? { ip, port } : null
}

/**
 * Moves primitive values of ECS object fields to ECS leaves (see the header comment). Returns the same object when
 * nothing needs moving; never mutates its argument.
 */
export function ecsSafeFields(o: Fields): Fields {
  let out: Fields | null = null
  for (const k in o) {
    if (!ECS_OBJECT_FIELDS.has(k)) continue
    const v = o[k]
    if (!isPrimitive(v)) continue
    out ??= { ...o }
    delete out[k]
    switch (k) {
      case 'event':
        out['event.action'] = v
        break
      case 'client': {
        out['client.address'] = String(v)
        const a = typeof v === 'string' ? splitAddress(v) : null
        if (a !== null) {
          out['client.ip'] = a.ip
          out['client.port'] = a.port
        }
        break
      }
      case 'tls': {
        // Node reports e.g. "TLSv1.3"; ECS splits it into protocol and version.
        const m = typeof v === 'string' ? /^(TLS|SSL)v(\d+(?:\.\d+)?)$/i.exec(v) : null
        if (m !== null) {
          out['tls.version_protocol'] = (m[1] as string).toLowerCase()
          out['tls.version'] = m[2]
        } else out['tls.version'] = String(v)
        break
      }
      case 'error':
        out['error.message'] = String(v)
        break
      default:
        out[`labels.${k}`] = typeof v === 'bigint' ? v.toString() : v
    }
  }
  // ecs-pino-format converts an Error in `err` to `error.*` but leaves a string `err` as is.
  const err = (out ?? o)['err']
  if (typeof err === 'string') {
    out ??= { ...o }
    delete out['err']
    out['error.message'] = err
  }
  return out ?? o
}

export interface LoggerSettings {
  /** `service.name`; default "rcgw". */
  readonly serviceName?: string
}

export function loggerOptions(level: string, settings: LoggerSettings = {}): LoggerOptions {
  const ecs = ecsFormat({ serviceName: settings.serviceName ?? 'rcgw', serviceVersion: VERSION, apmIntegration: false, convertErr: true })
  const ecsLog = ecs.formatters?.log
  return {
    ...ecs,
    level,
    formatters: {
      ...ecs.formatters,
      log: (o) => ecsSafeFields(ecsLog ? ecsLog(o) : o),
    },
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    hooks: {
      // Every object argument (the merging object and `%o`-style interpolation values) is scrubbed before pino sees
      // it. Runs only for enabled levels. Errors pass as they are: pino turns a leading Error into `err`.
      logMethod(args, method) {
        const a = args as unknown[]
        let copy: unknown[] | null = null
        for (let i = 0; i < a.length; i++) {
          const x = a[i]
          const s = scrubSecrets(x)
          if (s !== x) (copy ??= [...a])[i] = s
        }
        return method.apply(this, (copy ?? a) as Parameters<typeof method>)
      },
    },
  }
}

/**
 * Standard output, written synchronously. pino's implicit default destination writes asynchronously and flushes
 * on exit with sonic-boom's flushSync, which retries a failed write forever (sonic-boom 4.2 only gives up on
 * EAGAIN/EBUSY): if the reader of stdout has gone away (EPIPE) while a write is in flight, `process.exit` never
 * returns and the gateway ignores SIGTERM. Synchronous writes leave nothing to flush at exit. Once stdout is
 * broken, logging turns into a no-op instead of crashing the gateway; other write errors still surface.
 */
export function stdoutDestination(fd = 1): DestinationStream {
  const dest = pino.destination({ dest: fd, sync: true })
  const onError = (err: NodeJS.ErrnoException): void => {
    if (err.code === 'EPIPE') {
      dest.write = () => true
      dest.flushSync = () => {}
      dest.end = () => {}
      return
    }
    dest.removeListener('error', onError)
    dest.emit('error', err)
  }
  dest.on('error', onError)
  return dest
}

/**
 * The gateway's logger. `level` is one of LOG_LEVELS (see `resolveLogLevel` for the config/env rule); without a
 * destination, lines go to stdout (`stdoutDestination`).
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(loggerOptions(level), destination ?? stdoutDestination())
}

export class LogLevelError extends Error {
  constructor(readonly value: string) {
    super(`${LOG_LEVEL_ENV}: invalid log level ${JSON.stringify(value)} (expected one of ${LOG_LEVELS.join(', ')})`)
    this.name = 'LogLevelError'
  }
}

/**
 * The effective level: `RCGW_LOG_LEVEL` when set (so an operator can turn on debug logs without editing the
 * file), else the config's `logging.level`. An invalid value is an error, like an invalid config key, rather than
 * silently ignored.
 */
export function resolveLogLevel(configured: LogLevel, env: NodeJS.ProcessEnv = process.env): LogLevel {
  const v = env[LOG_LEVEL_ENV]?.trim().toLowerCase()
  if (v === undefined || v === '') return configured
  if ((LOG_LEVELS as readonly string[]).includes(v)) return v as LogLevel
  throw new LogLevelError(env[LOG_LEVEL_ENV] ?? '')
}

/** A logger that discards everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
