/**
 * Connection admission shared by both listeners, before TLS: who may send a PROXY header
 * (`listen.proxy_protocol_trusted`, `rest.proxy_protocol_trusted`) and the per-client-address connection count
 * (`limits.max_connections_per_client_ip`; each listener keeps its own count).
 */
import { BlockList } from 'node:net'
import type { ProxyProtocolConfig } from '../config/types.js'

/** Open connections per client address (limits.max_connections_per_client_ip), from accept to close. */
export class AddressCounter {
  private readonly counts = new Map<string, number>()

  tryAcquire(address: string, limit: number): boolean {
    const n = this.counts.get(address) ?? 0
    if (n >= limit) return false
    this.counts.set(address, n + 1)
    return true
  }

  release(address: string): void {
    const n = this.counts.get(address)
    if (n === undefined) return
    if (n <= 1) this.counts.delete(address)
    else this.counts.set(address, n - 1)
  }

  /** Addresses with at least one open connection. */
  get size(): number {
    return this.counts.size
  }
}

/** The peers allowed to send a PROXY header, as a BlockList (empty when PROXY protocol is off). */
export function trustList(pp: ProxyProtocolConfig | undefined): BlockList {
  const list = new BlockList()
  for (const r of pp?.trusted ?? []) list.addSubnet(r.address, r.prefix, r.family)
  return list
}
