/**
 * Loads the gateway configuration: YAML → `${ENV}` substitution → schema validation → paths resolved against the
 * config file's folder → certificate files read and parsed. Everything that can be wrong with a config file is
 * found here, at start, and reported as one `ConfigError` naming the key.
 */
import { readFileSync, existsSync } from 'node:fs'
import { dirname, resolve, isAbsolute } from 'node:path'
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { parseDocument } from 'yaml'
import { configSchema, type RawConfig } from './schema.js'
import type { GatewayConfig, ClusterConfig, PemBundle, BackendNodeConfig, BackendTlsConfig } from './types.js'
import { compileJavaPattern, JavaRegexError } from '../auth/jregex.js'

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly problem: string,
    readonly file?: string,
  ) {
    super(`${key ? `${key}: ` : ''}${problem}`)
    this.name = 'ConfigError'
  }
}

export interface LoadOptions {
  /** Environment for `${VAR}` substitution (default: process.env). */
  env?: NodeJS.ProcessEnv
  /** Called before certificate files are read, e.g. to create development certificates (see src/tls/devcerts.ts). */
  beforeReadingCertificates?: (raw: ResolvedRaw) => ResolvedRaw | void
}

/** The validated config with every path made absolute, before files are read. */
export type ResolvedRaw = RawConfig & { readonly baseDir: string }

export function loadConfigFile(file: string, opts: LoadOptions = {}): GatewayConfig {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new ConfigError('', `cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, file)
  }
  return loadConfigText(text, resolve(file), opts)
}

export function loadConfigText(text: string, file: string, opts: LoadOptions = {}): GatewayConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true })
  if (doc.errors.length > 0) {
    const err = doc.errors[0]!
    const line = err.linePos?.[0]
    throw new ConfigError('', `invalid YAML${line ? ` at line ${line.line}, column ${line.col}` : ''}: ${err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`, file)
  }
  const data: unknown = doc.toJS()
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new ConfigError('', 'the config file must be a YAML mapping', file)
  const substituted = substituteEnv(data, opts.env ?? process.env, [])
  const parsed = configSchema.safeParse(substituted)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    let path = formatPath(issue.path)
    let message = issue.message
    if (issue.code === 'unrecognized_keys') {
      const keys = (issue as { keys: string[] }).keys
      path = formatPath([...issue.path, keys[0] ?? ''])
      message = 'unknown key'
    } else if (issue.code === 'invalid_type' && /received undefined/.test(message)) {
      message = 'is required'
    }
    throw new ConfigError(path, message, file)
  }
  const baseDir = dirname(file)
  let raw: ResolvedRaw = { ...resolvePaths(parsed.data, baseDir), baseDir }
  raw = opts.beforeReadingCertificates?.(raw) ?? raw
  return build(raw, file)
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = ''
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`
  return out
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g

/** Replaces `${VAR}` and `${VAR:-default}` inside string values. A missing variable without default is an error. */
function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, path: PropertyKey[]): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_m, name: string, def: string | undefined) => {
      const v = env[name]
      if (v !== undefined && v !== '') return v
      if (def !== undefined) return def
      throw new ConfigError(formatPath(path), `environment variable ${name} is not set`)
    })
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, [...path, i]))
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, env, [...path, k])
    return out
  }
  return value
}

function abs(baseDir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(baseDir, p)
}

function resolvePaths(c: RawConfig, baseDir: string): RawConfig {
  const a = (p: string) => abs(baseDir, p)
  return {
    ...c,
    tls: { ...c.tls, certificate: a(c.tls.certificate), key: a(c.tls.key), certificate_authorities: c.tls.certificate_authorities.map(a) },
    clusters: c.clusters.map((cl) => ({
      ...cl,
      backend_tls: {
        ...cl.backend_tls,
        certificate_authorities: cl.backend_tls.certificate_authorities.map(a),
        ...(cl.backend_tls.certificate !== undefined ? { certificate: a(cl.backend_tls.certificate) } : {}),
        ...(cl.backend_tls.key !== undefined ? { key: a(cl.backend_tls.key) } : {}),
      },
      signing: { ...cl.signing, certificate_authorities: cl.signing.certificate_authorities.map(a) },
      ...(cl.rest !== undefined
        ? {
            rest: {
              ...cl.rest,
              tls: {
                ...cl.rest.tls,
                certificate_authorities: cl.rest.tls.certificate_authorities.map(a),
                ...(cl.rest.tls.certificate !== undefined ? { certificate: a(cl.rest.tls.certificate) } : {}),
                ...(cl.rest.tls.key !== undefined ? { key: a(cl.rest.tls.key) } : {}),
              },
            },
          }
        : {}),
      ...(cl.api_key_lookup !== undefined
        ? { api_key_lookup: { ...cl.api_key_lookup, certificate_authorities: cl.api_key_lookup.certificate_authorities.map(a) } }
        : {}),
    })),
  }
}

function readFile(key: string, path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new ConfigError(key, code === 'ENOENT' ? `file not found: ${path}` : `cannot read ${path}: ${code ?? String(e)}`)
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/** Reads a PEM file of one or more certificates and checks that each parses. */
export function readCertificates(key: string, path: string): PemBundle {
  const pem = readFile(key, path).toString('utf8')
  const blocks = pem.match(PEM_CERT) ?? []
  if (blocks.length === 0) throw new ConfigError(key, `no PEM certificate found in ${path}`)
  const certificates = blocks.map((b, i) => {
    try {
      return new X509Certificate(b)
    } catch (e) {
      throw new ConfigError(key, `certificate #${i + 1} in ${path} does not parse: ${(e as Error).message}`)
    }
  })
  return { path, pem: blocks.join('\n') + '\n', certificates }
}

function readKey(key: string, path: string, passphrase: string | undefined): Buffer {
  const pem = readFile(key, path)
  try {
    createPrivateKey({ key: pem, ...(passphrase !== undefined ? { passphrase } : {}) })
  } catch (e) {
    // Never echo the key material or the passphrase: only the file and the parser's reason.
    throw new ConfigError(key, `cannot parse private key in ${path}: ${(e as Error).message.split('\n')[0]}`)
  }
  return pem
}

/** A node address with its `id` (`host:port`, IPv6 in brackets: the `node` metric label and log field). */
export function nodeConfig(n: { host: string; port: number }): BackendNodeConfig {
  return { host: n.host, port: n.port, id: `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}` }
}

type RawBackendTls = ResolvedRaw['clusters'][number]['backend_tls']

/** `backend_tls` and `rest.tls` share their schema; `k` is the key prefix errors name. */
function backendTls(k: string, bt: RawBackendTls): BackendTlsConfig {
  return {
    enabled: bt.enabled,
    verificationMode: bt.verification_mode,
    serverName: bt.server_name,
    ca: bt.certificate_authorities.map((p, j) => readCertificates(`${k}.certificate_authorities[${j}]`, p)),
    cert: bt.certificate !== undefined ? readCertificates(`${k}.certificate`, bt.certificate) : undefined,
    key: bt.key !== undefined ? readKey(`${k}.key`, bt.key, undefined) : undefined,
    keyPath: bt.key,
  }
}

function build(raw: ResolvedRaw, file: string): GatewayConfig {
  const serverCert = readCertificates('tls.certificate', raw.tls.certificate)
  const serverKey = readKey('tls.key', raw.tls.key, raw.tls.key_passphrase)
  const clientCas = raw.tls.certificate_authorities.map((p, i) => readCertificates(`tls.certificate_authorities[${i}]`, p))
  if (raw.tls.client_authentication !== 'none' && clientCas.length === 0)
    throw new ConfigError('tls.certificate_authorities', `required when client_authentication is ${raw.tls.client_authentication}`)

  const clusters: ClusterConfig[] = raw.clusters.map((c, i) => {
    const k = `clusters[${i}].backend_tls`
    const bt = c.backend_tls
    const rest = c.rest
    return {
      name: c.name,
      serverNames: c.server_names,
      isDefault: c.default,
      nodes: c.nodes.map(nodeConfig),
      connectTimeoutMs: c.connect_timeout,
      healthCheck: {
        enabled: (c.health_check ?? raw.health_check).enabled,
        intervalMs: (c.health_check ?? raw.health_check).interval,
        timeoutMs: (c.health_check ?? raw.health_check).timeout,
      },
      backendTls: backendTls(k, bt),
      rest:
        rest === undefined
          ? null
          : {
              nodes: rest.nodes.map(nodeConfig),
              tls: backendTls(`clusters[${i}].rest.tls`, rest.tls),
              connectTimeoutMs: rest.connect_timeout,
            },
      auth: {
        enabled: c.authentication,
        signingCas: c.signing.certificate_authorities.map((p, j) => readCertificates(`clusters[${i}].signing.certificate_authorities[${j}]`, p)),
        signingRequired: c.signing.required,
        jdk: c.signing.jdk,
        apiKeys: c.api_keys.map((key) => ({ id: key.id, certificateIdentity: key.certificate_identity ?? null, allowedActions: key.allowed_actions ?? null })),
        lookup:
          c.api_key_lookup === undefined
            ? null
            : {
                url: c.api_key_lookup.url,
                apiKey: c.api_key_lookup.api_key,
                ttlMs: c.api_key_lookup.ttl,
                negativeTtlMs: c.api_key_lookup.negative_ttl,
                maxStaleMs: c.api_key_lookup.max_stale,
                timeoutMs: c.api_key_lookup.timeout,
                maxLookupsPerSecond: c.api_key_lookup.max_lookups_per_second,
                ...(c.api_key_lookup.max_unknown_lookups_per_second !== undefined
                  ? { maxUnknownLookupsPerSecond: c.api_key_lookup.max_unknown_lookups_per_second }
                  : {}),
                maxEntries: c.api_key_lookup.max_entries,
                ca: c.api_key_lookup.certificate_authorities.map((p, j) =>
                  readCertificates(`clusters[${i}].api_key_lookup.certificate_authorities[${j}]`, p),
                ),
                verificationMode: c.api_key_lookup.verification_mode,
              },
        allowedActions: c.allowed_actions,
        ...(c.filters !== undefined
          ? {
              filters: c.filters.map((r) => ({
                action: r.action,
                source: r.source === undefined ? null : Array.isArray(r.source) ? r.source : [r.source],
                subject: r.subject ?? null,
                apiKeyIds: r.api_key_id === undefined ? null : Array.isArray(r.api_key_id) ? r.api_key_id : [r.api_key_id],
                allowedActions: r.allowed_actions ?? null,
              })),
            }
          : {}),
      },
      maxConnectionAgeMs: c.max_connection_age,
      maxConnections: c.max_connections ?? null,
      maxConnectionsPerApiKey: c.max_connections_per_api_key ?? null,
    }
  })

  validateAuth(raw, clusters)
  return {
    source: file,
    listen: { host: raw.listen.host, port: raw.listen.port },
    proxyProtocol: { enabled: raw.listen.proxy_protocol, trusted: raw.listen.proxy_protocol_trusted },
    reload: { watch: raw.reload.watch, debounceMs: raw.reload.debounce },
    workers: raw.workers === 'auto' ? availableParallelism() : raw.workers,
    rest: {
      enabled: raw.rest.enabled,
      host: raw.rest.host,
      port: raw.rest.port,
      headersTimeoutMs: raw.rest.headers_timeout,
      requestTimeoutMs: raw.rest.request_timeout,
      keepAliveTimeoutMs: raw.rest.keep_alive_timeout,
      proxyProtocol: { enabled: raw.rest.proxy_protocol, trusted: raw.rest.proxy_protocol_trusted },
    },
    tls: {
      certificatePath: raw.tls.certificate,
      keyPath: raw.tls.key,
      cert: serverCert,
      key: serverKey,
      passphrase: raw.tls.key_passphrase,
      clientAuthentication: raw.tls.client_authentication,
      clientCas,
      autoGenerate: raw.tls.auto_generate,
    },
    admin: raw.admin,
    limits: {
      maxHeaderSize: raw.limits.max_header_size,
      maxConnections: raw.limits.max_connections,
      handshakeTimeoutMs: raw.limits.handshake_timeout,
      maxInFlightRequests: raw.limits.max_in_flight_requests,
      maxConnectionsPerClientIp: raw.limits.max_connections_per_client_ip,
      firstRequestTimeoutMs: raw.limits.first_request_timeout,
      closeTimeoutMs: raw.limits.close_timeout,
    },
    logging: raw.logging,
    shutdown: { drainTimeoutMs: raw.shutdown.drain_timeout },
    clusters,
  }
}

/** True when the file exists (used by dev certificate generation and check-config). */
export function fileExists(p: string): boolean {
  return existsSync(p)
}

/**
 * A static `certificate_identity` that can't be evaluated exactly as java.util.regex would is a config error (never
 * approximated); keys with an identity, or `signing.required`, need signing CAs to verify against.
 */
function validateAuth(raw: ResolvedRaw, clusters: readonly ClusterConfig[]): void {
  clusters.forEach((c, i) => {
    const a = c.auth
    let needsTrust = a.signingRequired
    a.apiKeys.forEach((k, j) => {
      if (k.certificateIdentity === null) return
      needsTrust = true
      try {
        compileJavaPattern(k.certificateIdentity, { jdk: a.jdk })
      } catch (e) {
        if (!(e instanceof JavaRegexError)) throw e
        const what = e.code === 'syntax' ? 'is not a valid Java regex' : 'cannot be evaluated exactly as Java does'
        throw new ConfigError(`clusters[${i}].api_keys[${j}].certificate_identity`, `${JSON.stringify(k.certificateIdentity)} ${what}: ${e.construct} at index ${e.index}`)
      }
    })
    if (a.enabled && needsTrust && a.signingCas.length === 0)
      throw new ConfigError(`clusters[${i}].signing.certificate_authorities`, 'required when signing.required is true or an API key has a certificate_identity')
    ;(a.filters ?? []).forEach((r, j) => {
      const k = `clusters[${i}].filters[${j}]`
      // With authentication off the gateway parses no credentials and verifies no signature: such a rule could
      // never match, and silently refusing everything is worse than refusing the file.
      if (!a.enabled && (r.subject !== null || r.apiKeyIds !== null))
        throw new ConfigError(k, 'subject and api_key_id rules need authentication: true (only source rules work without it)')
      if (r.subject === null) return
      try {
        compileJavaPattern(r.subject, { jdk: a.jdk })
      } catch (e) {
        if (!(e instanceof JavaRegexError)) throw e
        const what = e.code === 'syntax' ? 'is not a valid Java regex' : 'cannot be evaluated exactly as Java does'
        throw new ConfigError(`${k}.subject`, `${JSON.stringify(r.subject)} ${what}: ${e.construct} at index ${e.index}`)
      }
      if (a.signingCas.length === 0) throw new ConfigError(`clusters[${i}].signing.certificate_authorities`, `required when a filter rule has a subject (${k}.subject): the DN comes from a verified signature`)
    })
  })
  void raw
}
