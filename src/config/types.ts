/** Typed, validated configuration (the output of load.ts). Everything downstream reads only these types. */
import type { X509Certificate } from 'node:crypto'

export interface PemBundle {
  readonly path: string
  /** The certificate blocks only, normalised. */
  readonly pem: string
  readonly certificates: readonly X509Certificate[]
}

export interface BackendNodeConfig {
  readonly host: string
  readonly port: number
  /** `host:port`, used as the `node` metric label and in logs. */
  readonly id: string
}

export interface BackendTlsConfig {
  readonly enabled: boolean
  readonly verificationMode: 'full' | 'certificate' | 'none'
  readonly serverName: string | undefined
  readonly ca: readonly PemBundle[]
  readonly cert: PemBundle | undefined
  readonly key: Buffer | undefined
  /** Absolute path of `key` (watched for hot reload); undefined when no client key is configured. */
  readonly keyPath?: string | undefined
}

export interface HealthCheckConfig {
  readonly enabled: boolean
  readonly intervalMs: number
  readonly timeoutMs: number
}

export interface StaticApiKey {
  readonly id: string
  /** A java.util.regex pattern the signing certificate's RFC 2253 subject must fully match; null = none. */
  readonly certificateIdentity: string | null
  /**
   * `api_keys[].allowed_actions`: what this key may do on top of the cluster-wide `allowed_actions` (a request must
   * pass both); absent/null = no extra restriction.
   */
  readonly allowedActions?: 'default' | readonly string[] | null
}

/**
 * One rule of `clusters[].filters` (issue #13): every field given must match (AND); the first rule that matches
 * decides; with rules configured and none matching, the request is refused (403, connection closed).
 */
export interface FilterRuleConfig {
  readonly action: 'allow' | 'deny'
  /** Client address (after PROXY protocol) in one of these blocks; absent = any address. */
  readonly source: readonly CidrRange[] | null
  /** Java regex the verified signing certificate's RFC 2253 subject DN must FULLY match; absent = any (or none). */
  readonly subject: string | null
  /** The request's cross-cluster API key id is one of these; absent = any key. */
  readonly apiKeyIds: readonly string[] | null
  /** allow rules: actions permitted to requests this rule admits, on top of the cluster-wide list; null = no extra restriction. */
  readonly allowedActions: 'default' | readonly string[] | null
}

export interface ApiKeyLookupConfig {
  readonly url: string
  /** Encoded API key (`id:secret` base64) the gateway uses for GET /_security/api_key. Never logged. */
  readonly apiKey: string
  readonly ttlMs: number
  readonly negativeTtlMs: number
  readonly maxStaleMs: number
  readonly timeoutMs: number
  readonly maxLookupsPerSecond: number
  /**
   * Budget for lookups of ids without a found-key cache entry (`max_unknown_lookups_per_second`); absent = the same
   * rate as maxLookupsPerSecond. Kept apart so that random ids cannot starve re-lookups of known keys.
   */
  readonly maxUnknownLookupsPerSecond?: number
  readonly maxEntries: number
  readonly ca: readonly PemBundle[]
  readonly verificationMode: 'full' | 'certificate' | 'none'
}

export interface ClusterAuthConfig {
  readonly enabled: boolean
  readonly signingCas: readonly PemBundle[]
  readonly signingRequired: boolean
  readonly jdk: 17 | 25
  readonly apiKeys: readonly StaticApiKey[]
  readonly lookup: ApiKeyLookupConfig | null
  /** 'default' or an explicit list (with `default` already expanded by the policy). */
  readonly allowedActions: 'default' | readonly string[]
  /** `clusters[].filters`; absent or empty = no filtering. */
  readonly filters?: readonly FilterRuleConfig[]
}

export interface ClusterConfig {
  readonly name: string
  readonly serverNames: readonly string[]
  readonly isDefault: boolean
  readonly nodes: readonly BackendNodeConfig[]
  readonly connectTimeoutMs: number
  readonly healthCheck: HealthCheckConfig
  readonly backendTls: BackendTlsConfig
  readonly auth: ClusterAuthConfig
  /** `clusters[].max_connections`: client connections routed to this cluster at once; null = only the global limit. */
  readonly maxConnections?: number | null
  /** `clusters[].max_connections_per_api_key`: connections per cross-cluster API key id at once; null = unlimited. */
  readonly maxConnectionsPerApiKey?: number | null
  /** `clusters[].rest`; null/absent = not reachable over the REST listener. */
  readonly rest?: ClusterRestConfig | null
  /**
   * `clusters[].max_connection_age`: a connection older than this (±10 % jitter) is closed at its next idle frame
   * boundary so that local clusters reconnect and rebalance; 0/absent = never.
   */
  readonly maxConnectionAgeMs?: number
}

/** `clusters[].rest`: where the REST listener sends this cluster's HTTP requests. */
export interface ClusterRestConfig {
  readonly nodes: readonly BackendNodeConfig[]
  /** TLS to the HTTP nodes (same semantics as `backend_tls`); `enabled: false` speaks plain HTTP. */
  readonly tls: BackendTlsConfig
  readonly connectTimeoutMs: number
}

/** The top-level `rest:` section: the HTTPS REST listener (src/http/). */
export interface RestListenerConfig {
  readonly enabled: boolean
  readonly host: string
  readonly port: number
  readonly headersTimeoutMs: number
  /** 0 = no limit on receiving a whole request. */
  readonly requestTimeoutMs: number
  readonly keepAliveTimeoutMs: number
  /** PROXY protocol on the REST listener (`rest.proxy_protocol*`), as on the transport listener. */
  readonly proxyProtocol: ProxyProtocolConfig
}

/** One entry of `listen.proxy_protocol_trusted`: an address or CIDR block. */
export interface CidrRange {
  readonly family: 'ipv4' | 'ipv6'
  /** The network address as written (validated). */
  readonly address: string
  readonly prefix: number
  /** As written in the config, for logs and check-config. */
  readonly text: string
}

/** PROXY protocol (v1 and v2) on a listener (`listen.proxy_protocol*` / `rest.proxy_protocol*` in the file). */
export interface ProxyProtocolConfig {
  readonly enabled: boolean
  /** Peers allowed to send a PROXY header (the load balancers). Everyone else is refused while enabled. */
  readonly trusted: readonly CidrRange[]
}

/** Hot reload (`reload.*`): SIGHUP always reloads; file watching is optional. */
export interface ReloadConfig {
  readonly watch: boolean
  readonly debounceMs: number
}

export interface GatewayConfig {
  /** Absolute path of the file the config came from. */
  readonly source: string
  readonly listen: { readonly host: string; readonly port: number }
  readonly tls: {
    readonly certificatePath: string
    readonly keyPath: string
    readonly cert: PemBundle
    readonly key: Buffer
    readonly passphrase: string | undefined
    readonly clientAuthentication: 'none' | 'optional' | 'required'
    readonly clientCas: readonly PemBundle[]
    readonly autoGenerate: boolean
  }
  readonly admin: { readonly enabled: boolean; readonly host: string; readonly port: number }
  readonly limits: {
    readonly maxHeaderSize: number
    readonly maxConnections: number
    readonly handshakeTimeoutMs: number
    readonly maxInFlightRequests: number
    /** Optional so hand-built configs need not spell them out; load.ts always sets them. */
    readonly maxConnectionsPerClientIp?: number
    /** 0 = no deadline. */
    readonly firstRequestTimeoutMs?: number
    readonly closeTimeoutMs?: number
  }
  readonly logging: { readonly level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' }
  readonly shutdown: { readonly drainTimeoutMs: number }
  readonly clusters: readonly ClusterConfig[]
  /** Optional so hand-built configs (tests, tools) need not spell them out; load.ts always sets them. */
  readonly proxyProtocol?: ProxyProtocolConfig
  readonly reload?: ReloadConfig
  /**
   * `workers`: transport worker processes (`auto` resolved to os.availableParallelism()); 1 = today's single
   * process. Read at start only (src/cli/workers.ts); changing it needs a restart.
   */
  readonly workers?: number
  /** The REST listener (`rest:`); absent or `enabled: false` = not started. Changing it needs a restart. */
  readonly rest?: RestListenerConfig
}
