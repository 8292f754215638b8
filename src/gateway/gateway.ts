/**
 * The whole gateway as one object: transport listener + admin listener + metrics, started and stopped together.
 * The CLI and the integration tests both use this (tests run it in-process on ephemeral ports).
 *
 * Hot reload: `reload(config)` applies an already loaded config (all or nothing, see reload.ts), `reloadFromFile()`
 * loads the file the running config came from first; `watchConfig()` reloads when that file or one it names
 * changes. Every attempt is counted in `rcgw_config_reloads_total{outcome}` and logged once.
 */
import type { AddressInfo } from 'node:net'
import type { GatewayConfig, ClusterConfig } from '../config/types.js'
import { loadConfigFile, ConfigError, type LoadOptions } from '../config/load.js'
import { GatewayMetrics } from '../admin/metrics.js'
import { AdminServer } from '../admin/server.js'
import type { Logger, LogLevel } from '../log.js'
import { TransportServer } from './server.js'
import type { RequestPolicy } from './policy.js'
import { createClusterPolicy } from '../auth/factory.js'
import type { FetchApiKey } from '../auth/keymap.js'
import { ConfigWatcher, ReloadError, configFiles, immovableChange } from './reload.js'
import { RestServer, type RestServerOptions } from '../http/server.js'

export interface GatewayOptions {
  readonly log: Logger
  readonly metrics?: GatewayMetrics
  /** Overrides the per-cluster policy (default: the authentication policy from the cluster's config). */
  readonly policyFor?: (cluster: ClusterConfig) => RequestPolicy
  /** Replaces the HTTP API key lookup (tests). */
  readonly fetchApiKey?: FetchApiKey
  /** How `reloadFromFile` loads the file (the CLI passes its certificate auto-generation hook). */
  readonly loadOptions?: LoadOptions
  /**
   * The log level to switch to when a reload changes `logging.level` (the CLI lets RCGW_LOG_LEVEL win, as at
   * start). Default: the configured level.
   */
  readonly resolveLogLevel?: (configured: LogLevel) => LogLevel
  /** Options of the REST listener (tests shorten its timings). */
  readonly rest?: RestServerOptions
}

export type ReloadTrigger = 'api' | 'signal' | 'file_change'

export type ReloadResult =
  | { readonly ok: true; /** What changed, e.g. `tls`, `clusters.a: nodes/backend`; empty when nothing did. */ readonly changes: readonly string[] }
  | { readonly ok: false; /** The config key at fault ('' for the file as a whole). */ readonly key: string; readonly problem: string; readonly message: string }

export class Gateway {
  readonly metrics: GatewayMetrics
  readonly transport: TransportServer
  readonly admin: AdminServer | null
  /** The REST listener (`rest.enabled`), or null. */
  readonly rest: RestServer | null
  private adminAddress: AddressInfo | null = null
  private stopping: Promise<void> | null = null
  private watcher: ConfigWatcher | null = null

  constructor(
    config: GatewayConfig,
    private readonly opts: GatewayOptions,
  ) {
    this.metrics = opts.metrics ?? new GatewayMetrics()
    const metrics = this.metrics
    const policyFor =
      opts.policyFor ?? ((c: ClusterConfig) => createClusterPolicy(c, { metrics, ...(opts.fetchApiKey ? { fetchApiKey: opts.fetchApiKey } : {}) }))
    this.transport = new TransportServer(config, this.metrics, opts.log, { policyFor })
    this.admin = config.admin.enabled ? new AdminServer(this.metrics, this.transport) : null
    this.rest = config.rest?.enabled === true ? new RestServer(config, this.metrics, opts.log, opts.rest) : null
  }

  /** The running configuration (the last one applied). */
  get config(): GatewayConfig {
    return this.transport.config
  }

  async start(): Promise<{ transport: AddressInfo; admin: AddressInfo | null; rest: AddressInfo | null }> {
    const transport = await this.transport.listen()
    const rest = this.rest !== null ? await this.rest.listen() : null
    if (this.admin !== null) this.adminAddress = await this.admin.listen(this.config.admin.host, this.config.admin.port)
    this.opts.log.info(
      {
        event: 'started',
        listen: `${transport.address}:${transport.port}`,
        admin: this.adminAddress ? `${this.adminAddress.address}:${this.adminAddress.port}` : null,
        rest: rest ? `${rest.address}:${rest.port}` : null,
        clusters: this.config.clusters.map((c) => c.name),
        proxy_protocol: this.config.proxyProtocol?.enabled ?? false,
      },
      'gateway started',
    )
    return { transport, admin: this.adminAddress, rest }
  }

  /**
   * Applies `next` to the running gateway, or refuses it whole (the old config keeps serving). Never throws for a
   * bad config: the result says which key is at fault.
   */
  reload(next: GatewayConfig, trigger: ReloadTrigger = 'api'): ReloadResult {
    if (this.stopping !== null) return this.refused(trigger, '', 'the gateway is stopping')
    const fixed = immovableChange(this.config, next)
    if (fixed !== null) return this.refused(trigger, fixed.key, fixed.problem)
    let prepared
    try {
      prepared = this.transport.prepareReload(next)
    } catch (e) {
      if (e instanceof ReloadError || e instanceof ConfigError) return this.refused(trigger, e.key, e.problem)
      return this.refused(trigger, '', (e as Error).message)
    }
    const levelBefore = this.config.logging.level
    this.transport.commitReload(prepared)
    const restChanges = this.rest?.reload(next) ?? []
    if (next.logging.level !== levelBefore) this.applyLogLevel(next.logging.level)
    this.watcher?.refresh()
    this.metrics.configReloads.labels('success').inc()
    this.metrics.configLastReloadSuccessful.set(1)
    this.metrics.configLastReloadSuccessTimestamp.set(Date.now() / 1000)
    const changes = [...prepared.changes, ...restChanges]
    this.opts.log.info({ event: 'config_reloaded', trigger, changes: [...changes] }, `config reloaded: ${changes.length > 0 ? changes.join('; ') : 'no changes'}`)
    return { ok: true, changes }
  }

  /** Loads the file the running config came from (`config.source`) and applies it like `reload`. */
  reloadFromFile(trigger: ReloadTrigger = 'api'): ReloadResult {
    if (this.stopping !== null) return this.refused(trigger, '', 'the gateway is stopping')
    let next: GatewayConfig
    try {
      next = loadConfigFile(this.config.source, this.opts.loadOptions)
    } catch (e) {
      if (e instanceof ConfigError) return this.refused(trigger, e.key, e.problem)
      return this.refused(trigger, '', (e as Error).message)
    }
    return this.reload(next, trigger)
  }

  /** Reloads when the config file or any file it names changes (debounced; see ConfigWatcher). Stopped by stop(). */
  watchConfig(): void {
    if (this.watcher !== null || this.stopping !== null) return
    this.watcher = new ConfigWatcher({
      files: () => configFiles(this.config),
      debounceMs: this.config.reload?.debounceMs ?? 1000,
      onChange: () => void this.reloadFromFile('file_change'),
      log: this.opts.log,
    })
  }

  private refused(trigger: ReloadTrigger, key: string, problem: string): ReloadResult {
    const message = `config reload refused: ${key ? `${key}: ` : ''}${problem}`
    this.metrics.configReloads.labels('failure').inc()
    this.metrics.configLastReloadSuccessful.set(0)
    this.opts.log.error({ event: 'config_reload_refused', trigger, key, problem }, message)
    return { ok: false, key, problem, message }
  }

  private applyLogLevel(configured: LogLevel): void {
    try {
      this.opts.log.level = this.opts.resolveLogLevel?.(configured) ?? configured
    } catch (e) {
      this.opts.log.warn({ err: (e as Error).message }, 'log level unchanged')
    }
  }

  /** Stop accepting, drain in-flight requests up to `drainTimeoutMs`, close the admin listener last. */
  stop(drainTimeoutMs = this.config.shutdown.drainTimeoutMs): Promise<void> {
    this.stopping ??= (async () => {
      this.watcher?.close()
      this.watcher = null
      this.opts.log.info(
        { event: 'stopping', connections: this.transport.connectionCount, rest_connections: this.rest?.connectionCount ?? 0, drain_timeout_ms: drainTimeoutMs },
        'gateway stopping',
      )
      await Promise.all([this.transport.close(drainTimeoutMs), this.rest?.close(drainTimeoutMs)])
      await this.admin?.close()
      this.opts.log.info({ event: 'stopped' }, 'gateway stopped')
    })()
    return this.stopping
  }
}
