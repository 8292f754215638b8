/**
 * The whole gateway as one object: transport listener + admin listener + metrics, started and stopped together.
 * The CLI and the integration tests both use this (tests run it in-process on ephemeral ports).
 */
import type { AddressInfo } from 'node:net'
import type { GatewayConfig, ClusterConfig } from '../config/types.js'
import { GatewayMetrics } from '../admin/metrics.js'
import { AdminServer } from '../admin/server.js'
import type { Logger } from '../log.js'
import { TransportServer } from './server.js'
import type { RequestPolicy } from './policy.js'
import { createClusterPolicy } from '../auth/factory.js'
import type { FetchApiKey } from '../auth/keymap.js'

export interface GatewayOptions {
  readonly log: Logger
  readonly metrics?: GatewayMetrics
  /** Overrides the per-cluster policy (default: the authentication policy from the cluster's config). */
  readonly policyFor?: (cluster: ClusterConfig) => RequestPolicy
  /** Replaces the HTTP API key lookup (tests). */
  readonly fetchApiKey?: FetchApiKey
}

export class Gateway {
  readonly metrics: GatewayMetrics
  readonly transport: TransportServer
  readonly admin: AdminServer | null
  private adminAddress: AddressInfo | null = null
  private stopping: Promise<void> | null = null

  constructor(
    readonly config: GatewayConfig,
    private readonly opts: GatewayOptions,
  ) {
    this.metrics = opts.metrics ?? new GatewayMetrics()
    const metrics = this.metrics
    const policyFor =
      opts.policyFor ?? ((c: ClusterConfig) => createClusterPolicy(c, { metrics, ...(opts.fetchApiKey ? { fetchApiKey: opts.fetchApiKey } : {}) }))
    this.transport = new TransportServer(config, this.metrics, opts.log, { policyFor })
    this.admin = config.admin.enabled ? new AdminServer(this.metrics, this.transport) : null
  }

  async start(): Promise<{ transport: AddressInfo; admin: AddressInfo | null }> {
    const transport = await this.transport.listen()
    if (this.admin !== null) this.adminAddress = await this.admin.listen(this.config.admin.host, this.config.admin.port)
    this.opts.log.info(
      {
        event: 'started',
        listen: `${transport.address}:${transport.port}`,
        admin: this.adminAddress ? `${this.adminAddress.address}:${this.adminAddress.port}` : null,
        clusters: this.config.clusters.map((c) => c.name),
      },
      'gateway started',
    )
    return { transport, admin: this.adminAddress }
  }

  /** Stop accepting, drain in-flight requests up to `drainTimeoutMs`, close the admin listener last. */
  stop(drainTimeoutMs = this.config.shutdown.drainTimeoutMs): Promise<void> {
    this.stopping ??= (async () => {
      this.opts.log.info({ event: 'stopping', connections: this.transport.connectionCount, drain_timeout_ms: drainTimeoutMs }, 'gateway stopping')
      await this.transport.close(drainTimeoutMs)
      await this.admin?.close()
      this.opts.log.info({ event: 'stopped' }, 'gateway stopped')
    })()
    return this.stopping
  }
}
