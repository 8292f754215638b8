/**
 * A Relay between two in-memory sockets: deterministic chunking on both sides, with a socket model that honours
 * pause() (bytes "sent" while paused wait in the peer, as they would in the kernel) and reports back-pressure
 * (writableLength grows until the test drains it). Used by the stream-exactness properties and the bound tests.
 */
import { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import { Relay, type RelayContext } from '../../../src/gateway/relay.js'
import { GatewayMetrics } from '../../../src/admin/metrics.js'
import { createLogger } from '../../../src/log.js'
import type { RequestPolicy } from '../../../src/gateway/policy.js'
import type { BackendPool, NodeState } from '../../../src/upstream/pool.js'
import { Writable } from 'node:stream'

export class FakeSocket extends EventEmitter {
  /** Everything the relay wrote, in order. */
  readonly written: Buffer[] = []
  writtenBytes = 0
  /** Bytes written and not yet "read by the peer" (drain() resets it). */
  writableLength = 0
  paused = false
  destroyed = false
  writable = true
  ended = false
  corks = 0
  /** Bytes the peer sent while we were paused (the kernel's buffer, not the gateway's memory). */
  private readonly inbox: Buffer[] = []
  /** When false, the peer never reads: writableLength only grows. */
  highWaterMark = 16 * 1024

  write(buf: Buffer): boolean {
    if (this.destroyed) return false
    this.written.push(Buffer.from(buf))
    this.writtenBytes += buf.length
    this.writableLength += buf.length
    return this.writableLength < this.highWaterMark
  }

  cork(): void {
    this.corks++
  }

  uncork(): void {
    this.corks--
  }

  pause(): this {
    this.paused = true
    return this
  }

  resume(): this {
    this.paused = false
    while (!this.paused && this.inbox.length > 0 && !this.destroyed) this.emit('data', this.inbox.shift()!)
    return this
  }

  /** The peer sends bytes: delivered now unless we are paused. */
  feed(buf: Buffer): void {
    if (this.destroyed) return
    if (this.paused || this.inbox.length > 0) this.inbox.push(buf)
    else this.emit('data', buf)
  }

  get inboxBytes(): number {
    return this.inbox.reduce((n, b) => n + b.length, 0)
  }

  /** The peer read everything queued. */
  drain(): void {
    const had = this.writableLength
    this.writableLength = 0
    if (had > 0) this.emit('drain')
  }

  end(): this {
    this.ended = true
    this.writable = false
    if (this.writableLength === 0) queueMicrotask(() => this.emit('finish'))
    return this
  }

  destroy(): this {
    if (this.destroyed) return this
    this.destroyed = true
    this.writable = false
    queueMicrotask(() => this.emit('close'))
    return this
  }

  output(): Buffer {
    return Buffer.concat(this.written)
  }
}

export interface FakeRelay {
  readonly relay: Relay
  readonly client: FakeSocket
  readonly backend: FakeSocket
  readonly metrics: GatewayMetrics
  readonly logs: Array<Record<string, unknown>>
  closed: boolean
}

export async function startFakeRelay(policy: RequestPolicy, extra: Partial<RelayContext> = {}): Promise<FakeRelay> {
  const client = new FakeSocket()
  const backend = new FakeSocket()
  const metrics = new GatewayMetrics({ collectDefault: false })
  const logs: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>)
      cb()
    },
  })
  const node = { cfg: { id: 'n1' } } as unknown as NodeState
  const pool = {
    acquire: () => Promise.resolve({ socket: backend as unknown as Socket, node }),
    release: () => {},
  } as unknown as BackendPool
  const ctx: RelayContext = {
    pool,
    policy,
    metrics,
    clusterMetrics: metrics.forCluster('a'),
    log: createLogger('debug', sink),
    maxHeaderSize: 65536,
    maxInFlight: 65536,
    ...extra,
  }
  const out: FakeRelay = {
    relay: null as unknown as Relay,
    client,
    backend,
    metrics,
    logs,
    closed: false,
  }
  const relay = new Relay(client as unknown as Socket, ctx, { cluster: 'a', remoteAddress: '127.0.0.1:1', servername: null }, () => {
    out.closed = true
  })
  ;(out as { relay: Relay }).relay = relay
  await relay.start()
  return out
}

/** Lets queued microtasks, immediates and promise continuations run. */
export function settle(): Promise<void> {
  return new Promise((r) => setImmediate(r))
}
