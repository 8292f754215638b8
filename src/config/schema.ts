/**
 * The configuration file's shape, validated once at start (zod). Key names are part of the product's interface:
 * they are documented in the README and in config/gateway.yml, so renaming one is a breaking change.
 *
 * Unknown keys are rejected (`strict`) so that a typo such as `max_conections` is reported instead of silently
 * ignored.
 */
import { isIP } from 'node:net'
import { z } from 'zod'
import { parseByteSize, parseDuration } from './units.js'

const duration = (opts: { min?: number } = {}) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const ms = parseDuration(v)
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(v)} (expected e.g. 500ms, 30s, 5m, 1h)` })
      return z.NEVER
    }
    if (opts.min !== undefined && ms < opts.min) {
      ctx.addIssue({ code: 'custom', message: `must be at least ${opts.min}ms, got ${JSON.stringify(v)}` })
      return z.NEVER
    }
    return ms
  })

const byteSize = (opts: { min?: number; max?: number } = {}) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const n = parseByteSize(v)
    if (n === null) {
      ctx.addIssue({ code: 'custom', message: `invalid size ${JSON.stringify(v)} (expected e.g. 64kb, 16mb)` })
      return z.NEVER
    }
    if (opts.min !== undefined && n < opts.min) {
      ctx.addIssue({ code: 'custom', message: `must be at least ${opts.min} bytes, got ${JSON.stringify(v)}` })
      return z.NEVER
    }
    if (opts.max !== undefined && n > opts.max) {
      ctx.addIssue({ code: 'custom', message: `must be at most ${opts.max} bytes, got ${JSON.stringify(v)}` })
      return z.NEVER
    }
    return n
  })

const port = z.number().int().min(0).max(65535)
const host = z.string().min(1)

/** `host:port`, `[v6]:port`. */
export const hostPort = z.string().transform((v, ctx) => {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(v.trim())
  const p = m ? Number(m[3]) : NaN
  if (!m || !(p >= 1 && p <= 65535)) {
    ctx.addIssue({ code: 'custom', message: `invalid address ${JSON.stringify(v)} (expected host:port, e.g. 10.0.0.5:9443)` })
    return z.NEVER
  }
  return { host: (m[1] ?? m[2]) as string, port: p }
})

/**
 * An IPv4/IPv6 address or CIDR block (`10.0.0.0/8`, `192.0.2.7`, `2001:db8::/32`) for `listen.proxy_protocol_trusted`.
 * Zone ids (`fe80::1%eth0`) are refused: a peer address never carries one in Node.
 */
const cidr = z.string().transform((v, ctx) => {
  const text = v.trim()
  const slash = text.indexOf('/')
  const address = slash < 0 ? text : text.slice(0, slash)
  const fam = isIP(address)
  const max = fam === 4 ? 32 : 128
  const prefixText = slash < 0 ? String(max) : text.slice(slash + 1)
  if (fam === 0 || address.includes('%') || !/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) {
    ctx.addIssue({ code: 'custom', message: `invalid address or CIDR block ${JSON.stringify(v)} (expected e.g. 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32)` })
    return z.NEVER
  }
  return { family: fam === 4 ? ('ipv4' as const) : ('ipv6' as const), address, prefix: Number(prefixText), text }
})

/** A DNS name usable as SNI (javax.net.ssl.SNIHostName rules, which Elasticsearch applies to `server_name`). */
const sniName = z
  .string()
  .transform((v) => v.trim().toLowerCase().replace(/\.$/, ''))
  .refine((v) => /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/.test(v), {
    message: 'not a valid SNI host name (ASCII letters, digits and hyphens in dot-separated labels)',
  })

const tlsSchema = z
  .object({
    certificate: z.string().min(1),
    key: z.string().min(1),
    key_passphrase: z.string().optional(),
    auto_generate: z.boolean().default(false),
    client_authentication: z.enum(['none', 'optional', 'required']).default('none'),
    certificate_authorities: z.array(z.string().min(1)).default([]),
  })
  .strict()

const backendTlsSchema = z
  .object({
    enabled: z.boolean().default(true),
    certificate_authorities: z.array(z.string().min(1)).default([]),
    verification_mode: z.enum(['full', 'certificate', 'none']).default('full'),
    server_name: z.string().min(1).optional(),
    certificate: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
  })
  .strict()
  .refine((v) => (v.certificate === undefined) === (v.key === undefined), {
    message: 'certificate and key must be given together',
  })

const healthCheckSchema = z
  .object({
    enabled: z.boolean().default(true),
    interval: duration({ min: 100 }).default(10_000),
    timeout: duration({ min: 10 }).default(5_000),
  })
  .strict()

const signingSchema = z
  .object({
    certificate_authorities: z.array(z.string().min(1)).default([]),
    // Every request must carry a valid signature, whatever its key (stricter than Elasticsearch).
    required: z.boolean().default(false),
    // The JDK the backend cluster runs on decides a few java.util.regex details (\b); Elasticsearch 9.x ships JDK 25.
    jdk: z.union([z.literal(17), z.literal(25)]).default(25),
  })
  .strict()

// `default` (Elasticsearch's cross-cluster allow-list), or a list; the word `default` inside a list expands to it.
const allowedActionsSchema = z.union([z.literal('default'), z.array(z.string().min(1)).min(1)])

const apiKeySchema = z
  .object({
    id: z.string().min(1).refine((v) => !v.includes(':'), { message: 'an API key id cannot contain ":"' }),
    certificate_identity: z.string().nullable().optional(),
    // Per-key action list on top of the cluster-wide allowed_actions (issue #13): a request must pass both.
    allowed_actions: allowedActionsSchema.nullable().optional(),
  })
  .strict()

/**
 * One `clusters[].filters` rule (issue #13). All fields given must match (AND); rules are tried in order and the
 * first match decides. The subject pattern is compiled (and refused when it cannot be evaluated exactly as Java
 * does) in load.ts, where the cluster's signing.jdk is known.
 */
const filterRuleSchema = z
  .object({
    action: z.enum(['allow', 'deny']).default('allow'),
    // A single value is a list of one (preprocessed rather than a union, so errors name the entry at fault).
    source: z.preprocess((v) => (typeof v === 'string' ? [v] : v), z.array(cidr).min(1)).optional(),
    subject: z.string().min(1).optional(),
    api_key_id: z.preprocess((v) => (typeof v === 'string' ? [v] : v), z.array(z.string().min(1)).min(1)).optional(),
    allowed_actions: allowedActionsSchema.optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.source === undefined && r.subject === undefined && r.api_key_id === undefined)
      ctx.addIssue({ code: 'custom', message: 'a filter rule needs at least one of source, subject, api_key_id (use source: [0.0.0.0/0, "::/0"] to match everything)' })
    if (r.action === 'deny' && r.allowed_actions !== undefined)
      ctx.addIssue({ code: 'custom', path: ['allowed_actions'], message: 'only allow rules can carry allowed_actions' })
  })

const apiKeyLookupSchema = z
  .object({
    url: z.string().url().refine((u) => /^https?:/.test(u), { message: 'must be an http(s) URL' }),
    api_key: z.string().min(1),
    ttl: duration({ min: 1 }).default(300_000),
    negative_ttl: duration({ min: 1 }).default(30_000),
    max_stale: duration().default(3_600_000),
    timeout: duration({ min: 1 }).default(5_000),
    max_lookups_per_second: z.number().positive().default(10),
    // separate budget for ids the gateway has no found-key entry for (src/auth/keymap.ts); default: max_lookups_per_second
    max_unknown_lookups_per_second: z.number().positive().optional(),
    max_entries: z.number().int().min(1).default(10_000),
    certificate_authorities: z.array(z.string().min(1)).default([]),
    verification_mode: z.enum(['full', 'certificate', 'none']).default('full'),
  })
  .strict()

/**
 * `clusters[].rest`: the cluster's HTTP (REST) nodes behind the REST listener (`rest:` at the top level). TLS to
 * the nodes uses the same keys and semantics as `backend_tls` (Elasticsearch's `xpack.security.http.ssl` side).
 */
const clusterRestSchema = z
  .object({
    nodes: z.array(hostPort).min(1, 'at least one REST node is required (or leave out clusters[].rest)'),
    tls: backendTlsSchema.default({ enabled: true, certificate_authorities: [], verification_mode: 'full' }),
    // TCP + TLS connect deadline per attempt; an expired one answers 504. There is no response timeout (long searches).
    connect_timeout: duration({ min: 1 }).default(10_000),
  })
  .strict()

const clusterSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'must be letters, digits, ".", "_" or "-" (used as a metric label)'),
    server_names: z.array(sniName).default([]),
    default: z.boolean().default(false),
    nodes: z.array(hostPort).min(1, 'at least one backend node is required'),
    backend_tls: backendTlsSchema.default({ enabled: true, certificate_authorities: [], verification_mode: 'full' }),
    connect_timeout: duration({ min: 1 }).default(10_000),
    health_check: healthCheckSchema.optional(),
    signing: signingSchema.default({ certificate_authorities: [], required: false, jdk: 25 }),
    api_keys: z.array(apiKeySchema).default([]),
    api_key_lookup: apiKeyLookupSchema.optional(),
    allowed_actions: allowedActionsSchema.default('default'),
    // Ordered allow/deny rules by client address, signing DN and API key id (issue #13); absent = no filtering.
    filters: z.array(filterRuleSchema).min(1, 'at least one rule (or leave out filters)').optional(),
    // Close connections older than this (±10 % jitter) at an idle frame boundary, so clients reconnect and
    // rebalance over the nodes (issue #13). 0 = never (default).
    max_connection_age: duration().default(0).refine((v) => v === 0 || v >= 1000, { message: 'must be 0 (off) or at least 1s' }),
    // false turns the whole request check off for this cluster (plain protocol-aware TCP proxying).
    authentication: z.boolean().default(true),
    // Per-cluster and per-API-key connection limits (absent = only the global limits.max_connections applies).
    max_connections: z.number().int().min(1).optional(),
    max_connections_per_api_key: z.number().int().min(1).optional(),
    // HTTP nodes for the REST listener; a cluster without them is not reachable over REST.
    rest: clusterRestSchema.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>()
    c.api_keys.forEach((k, i) => {
      if (seen.has(k.id)) ctx.addIssue({ code: 'custom', path: ['api_keys', i, 'id'], message: `duplicate API key id "${k.id}"` })
      seen.add(k.id)
    })
  })

export const configSchema = z
  .object({
    listen: z
      .object({
        host: host.default('0.0.0.0'),
        port: port.default(9443),
        // PROXY protocol v1/v2 from a load balancer in front of the gateway; only the trusted peers may send it.
        proxy_protocol: z.boolean().default(false),
        proxy_protocol_trusted: z.array(cidr).default([]),
      })
      .strict()
      .default({ host: '0.0.0.0', port: 9443, proxy_protocol: false, proxy_protocol_trusted: [] }),
    tls: tlsSchema,
    admin: z
      .object({ enabled: z.boolean().default(true), host: host.default('127.0.0.1'), port: port.default(9464) })
      .strict()
      .default({ enabled: true, host: '127.0.0.1', port: 9464 }),
    limits: z
      .object({
        // Bound on 23 + variable-header size. The variable header holds the thread-context headers (API key,
        // subject info, signature with its certificate chain) and the action name; 64kb leaves ample room for a
        // signature with a few 4096-bit certificates.
        max_header_size: byteSize({ min: 1024, max: 16 * 1024 * 1024 }).default(65536),
        max_connections: z.number().int().min(1).default(10000),
        handshake_timeout: duration({ min: 1 }).default(30_000),
        max_in_flight_requests: z.number().int().min(1).default(65536),
        // Connections open at once from one client address (the PROXY header's source when that is on). A local
        // cluster opens proxy_socket_connections (18) per node; the default leaves room for ~50 nodes behind one NAT.
        max_connections_per_client_ip: z.number().int().min(1).default(1024),
        // From TLS established to the first request the gateway allows (after the TCP handshake): an
        // unauthenticated socket holds a backend connection at most this long. Elasticsearch's own reference is
        // transport.connect_timeout (30s), which bounds its handshakes. 0 = no deadline.
        first_request_timeout: duration().default(30_000),
        // A closing connection whose peer stops reading is destroyed after this long.
        close_timeout: duration({ min: 1 }).default(5_000),
      })
      .strict()
      .default({
        max_header_size: 65536,
        max_connections: 10000,
        handshake_timeout: 30_000,
        max_in_flight_requests: 65536,
        max_connections_per_client_ip: 1024,
        first_request_timeout: 30_000,
        close_timeout: 5_000,
      }),
    health_check: healthCheckSchema.default({ enabled: true, interval: 10_000, timeout: 5_000 }),
    logging: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' }),
    shutdown: z
      .object({ drain_timeout: duration().default(30_000) })
      .strict()
      .default({ drain_timeout: 30_000 }),
    reload: z
      .object({
        // Reload when the config file or a file it names changes (SIGHUP always reloads).
        watch: z.boolean().default(true),
        // Certificate tooling often writes the certificate and the key one after the other: wait for quiet.
        debounce: duration({ min: 10 }).default(1_000),
      })
      .strict()
      .default({ watch: true, debounce: 1_000 }),
    // The second listener: HTTPS REST traffic to the clusters' HTTP ports (src/http/). Off unless enabled.
    rest: z
      .object({
        enabled: z.boolean().default(false),
        host: host.default('0.0.0.0'),
        port: port.default(9243),
        // Slowloris bounds (Node's server.headersTimeout / requestTimeout): the whole header block, and the whole
        // request including its body, must arrive within these. 0 turns request_timeout off. Responses are never cut.
        headers_timeout: duration({ min: 1 }).default(30_000),
        request_timeout: duration().default(300_000),
        // How long an idle client keep-alive connection is kept between requests.
        keep_alive_timeout: duration({ min: 1 }).default(60_000),
        // PROXY protocol v1/v2 on this listener too (as listen.proxy_protocol*): only the trusted peers may send it.
        proxy_protocol: z.boolean().default(false),
        proxy_protocol_trusted: z.array(cidr).default([]),
      })
      .strict()
      .default({ enabled: false, host: '0.0.0.0', port: 9243, headers_timeout: 30_000, request_timeout: 300_000, keep_alive_timeout: 60_000, proxy_protocol: false, proxy_protocol_trusted: [] }),
    // Transport worker processes (node:cluster): a number, or `auto` for os.availableParallelism(). 1 = one process.
    workers: z.union([z.literal('auto'), z.number().int().min(1).max(1024)]).default(1),
    clusters: z.array(clusterSchema).min(1, 'at least one cluster is required'),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const names = new Set<string>()
    const sni = new Map<string, string>()
    let defaults = 0
    cfg.clusters.forEach((c, i) => {
      if (names.has(c.name)) ctx.addIssue({ code: 'custom', path: ['clusters', i, 'name'], message: `duplicate cluster name "${c.name}"` })
      names.add(c.name)
      if (c.default) defaults++
      c.server_names.forEach((s, j) => {
        const other = sni.get(s)
        if (other !== undefined)
          ctx.addIssue({ code: 'custom', path: ['clusters', i, 'server_names', j], message: `"${s}" is already routed to cluster "${other}"` })
        sni.set(s, c.name)
      })
    })
    if (cfg.listen.proxy_protocol && cfg.listen.proxy_protocol_trusted.length === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['listen', 'proxy_protocol_trusted'],
        message: 'required when proxy_protocol is true: the addresses of the load balancers that send the PROXY header',
      })
    if (cfg.rest.proxy_protocol && cfg.rest.proxy_protocol_trusted.length === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['rest', 'proxy_protocol_trusted'],
        message: 'required when proxy_protocol is true: the addresses of the load balancers that send the PROXY header',
      })
    if (defaults > 1) ctx.addIssue({ code: 'custom', path: ['clusters'], message: 'at most one cluster may have default: true' })
    if (cfg.admin.enabled && cfg.admin.port !== 0 && cfg.admin.port === cfg.listen.port && cfg.admin.host === cfg.listen.host)
      ctx.addIssue({ code: 'custom', path: ['admin', 'port'], message: 'must differ from listen.port' })
    if (cfg.rest.enabled) {
      if (cfg.rest.port !== 0 && cfg.rest.port === cfg.listen.port && cfg.rest.host === cfg.listen.host)
        ctx.addIssue({ code: 'custom', path: ['rest', 'port'], message: 'must differ from listen.port' })
      else if (cfg.admin.enabled && cfg.rest.port !== 0 && cfg.rest.port === cfg.admin.port && cfg.rest.host === cfg.admin.host)
        ctx.addIssue({ code: 'custom', path: ['rest', 'port'], message: 'must differ from admin.port' })
      if (cfg.rest.request_timeout > 0 && cfg.rest.headers_timeout > cfg.rest.request_timeout)
        ctx.addIssue({ code: 'custom', path: ['rest', 'headers_timeout'], message: 'must not be longer than rest.request_timeout' })
      if (!cfg.clusters.some((c) => c.rest !== undefined))
        ctx.addIssue({ code: 'custom', path: ['rest', 'enabled'], message: 'no cluster has REST nodes: add clusters[].rest.nodes to at least one cluster, or set rest.enabled: false' })
    }
  })

export type RawConfig = z.output<typeof configSchema>
