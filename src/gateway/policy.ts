/**
 * The policy stage sits between the frame decoder and the upstream: it sees every request header (never bodies)
 * before any byte of that frame is forwarded, and either lets it through or denies it with an
 * Elasticsearch-shaped exception. TCP-handshake frames and pings never reach it.
 */
import type { DecodedHeader } from '../codec/decoder.js'
import type { JavaException } from '../codec/exception.js'

export interface Denial {
  /** Metric label / log field; from a fixed set per policy. */
  readonly reason: string
  /** Sent to the client in an error frame answering the request. */
  readonly exception: JavaException
  /** Close the connection after the error frame (authentication failures, as Elasticsearch does). */
  readonly close: boolean
  /** Extra audit fields (API key id, leaf DN …) — never secrets. */
  readonly audit?: Readonly<Record<string, string | number | boolean | null>>
}

export interface ConnectionInfo {
  readonly cluster: string
  /** `ip:port` of the client as logged (the PROXY header's source when that is on). */
  readonly remoteAddress: string
  readonly servername: string | null
  /**
   * The client IP alone (the PROXY header's source when that is on), for `clusters[].filters`; absent = derived
   * from remoteAddress.
   */
  readonly clientIp?: string
}

export type PolicyDecision = Denial | null

export interface RequestPolicy {
  /** null = allow. A Promise means the decision needs I/O (key lookup); the connection pauses meanwhile. */
  check(h: DecodedHeader, conn: ConnectionInfo): PolicyDecision | Promise<PolicyDecision>
}

export const allowAll: RequestPolicy = { check: () => null }
