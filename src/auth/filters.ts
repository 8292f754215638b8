/**
 * `clusters[].filters` (issue #13): ordered allow/deny rules over the client address (after PROXY protocol), the
 * verified signing certificate's subject DN and the cross-cluster API key id.
 *
 * Semantics (documented in the README):
 *  - every field a rule gives must match (AND); a field left out matches anything;
 *  - `source`: the address is in one of the CIDR blocks (any of them);
 *  - `subject`: a Java regex (same engine as certificate_identity, src/auth/jregex.ts) that must FULLY match the
 *    RFC 2253 subject DN of the leaf of a signature that VERIFIED; an unsigned request never matches a subject rule;
 *  - `api_key_id`: the request's key id is one of the listed ids;
 *  - rules are tried in order and the first that matches decides (allow / deny); none matching = deny.
 *
 * Decided once per connection (address-only rules, at TLS accept) or once per distinct credentials/signature
 * string on a connection (AuthPolicy memoises the outcome), never per frame.
 */
import { BlockList, isIP } from 'node:net'
import type { FilterRuleConfig } from '../config/types.js'
import { compileJavaPattern, type CompiledJavaPattern } from './jregex.js'
import { resolveAllowedActions } from './actions.js'

/** Longest DN handed to a subject pattern (as MAX_DN_LENGTH in src/auth/policy.ts): longer never matches. */
const MAX_DN = 8192

export interface CompiledFilterRule {
  /** Position in `clusters[].filters` (for logs: `filters[n]`). */
  readonly index: number
  readonly action: 'allow' | 'deny'
  readonly source: BlockList | null
  readonly subject: CompiledJavaPattern | null
  readonly keyIds: ReadonlySet<string> | null
  /** Extra action restriction for requests this (allow) rule admits; null = none. */
  readonly allowedActions: ReadonlySet<string> | null
}

/** What the address alone decides: a rule (allow or deny), `none` (no rule can match: deny), or null (needs a request). */
export type AddressDecision = CompiledFilterRule | 'none' | null

/** An address as BlockList wants it; IPv4-mapped IPv6 (`::ffff:10.0.0.1`, dual-stack listeners) is checked as IPv4. */
export function normaliseIp(ip: string): { address: string; family: 'ipv4' | 'ipv6' } | null {
  const lower = ip.toLowerCase()
  if (lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4) return { address: lower.slice(7), family: 'ipv4' }
  const f = isIP(ip)
  if (f === 0) return null
  return { address: ip, family: f === 4 ? 'ipv4' : 'ipv6' }
}

export class ClusterFilters {
  readonly rules: readonly CompiledFilterRule[]
  /** True when some rule looks at the DN or the key: the final decision needs a request. */
  readonly needsRequest: boolean

  /** @throws JavaRegexError for a subject load.ts would have refused (load.ts validates first). */
  constructor(rules: readonly FilterRuleConfig[], jdk: 17 | 25 = 25) {
    this.rules = rules.map((r, index) => {
      let source: BlockList | null = null
      if (r.source !== null) {
        source = new BlockList()
        for (const c of r.source) source.addSubnet(c.address, c.prefix, c.family)
      }
      return {
        index,
        action: r.action,
        source,
        subject: r.subject === null ? null : compileJavaPattern(r.subject, { jdk }),
        keyIds: r.apiKeyIds === null ? null : new Set(r.apiKeyIds),
        allowedActions: r.allowedActions === null ? null : resolveAllowedActions(r.allowedActions),
      }
    })
    this.needsRequest = this.rules.some((r) => r.subject !== null || r.keyIds !== null)
  }

  private sourceMatches(r: CompiledFilterRule, ip: ReturnType<typeof normaliseIp>): boolean {
    if (r.source === null) return true
    return ip !== null && r.source.check(ip.address, ip.family)
  }

  /**
   * At TLS accept: walks the rules as match() would, for as long as the outcome depends on the address only.
   * The first rule whose source matches and that has no other field decides; a matching rule with a subject or key
   * field means the request must be seen (null). No rule left = 'none' (refused).
   */
  decideByAddress(ip: string): AddressDecision {
    const n = normaliseIp(ip)
    for (const r of this.rules) {
      if (!this.sourceMatches(r, n)) continue
      if (r.subject === null && r.keyIds === null) return r
      return null
    }
    return 'none'
  }

  /** The first rule matching all of its fields, or null (refused). `dn` must come from a VERIFIED signature. */
  match(ip: string, keyId: string | null, dn: string | null): CompiledFilterRule | null {
    const n = normaliseIp(ip)
    for (const r of this.rules) {
      if (!this.sourceMatches(r, n)) continue
      if (r.keyIds !== null && (keyId === null || !r.keyIds.has(keyId))) continue
      if (r.subject !== null && (dn === null || dn.length > MAX_DN || !r.subject.matches(dn))) continue
      return r
    }
    return null
  }
}

/** The client IP of an `ip:port` / `[v6]:port` peer string (what ConnectionInfo.remoteAddress holds). */
export function ipOfPeer(peer: string): string {
  if (peer.startsWith('[')) {
    const end = peer.indexOf(']')
    return end > 0 ? peer.slice(1, end) : peer
  }
  const colon = peer.lastIndexOf(':')
  if (colon < 0) return peer
  const head = peer.slice(0, colon)
  // formatPeer writes IPv6 without brackets (`::1:5000`): the part before the last colon is still the address.
  return head
}
