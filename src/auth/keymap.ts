/**
 * API key id → certificate_identity pattern, from the config (`api_keys`) and/or the backend cluster's security
 * API (`api_key_lookup`: GET /_security/api_key?id=…, field `certificate_identity`, Elasticsearch 9.3+).
 *
 * Cache semantics (lru-cache, bounded by `max_entries`):
 *  - a found key is fresh for `ttl`; an unknown id (404 / empty list) is remembered for `negative_ttl`;
 *  - concurrent requests for the same id share one lookup (single flight);
 *  - when the backend fails, an entry up to `max_stale` past its ttl is still used; with nothing known the result
 *    is a failure and the caller denies (fail closed);
 *  - lookups are rate-limited (token buckets), so random key ids can't flood the backend.
 * Static entries always win and never expire.
 *
 * Known and unknown ids are kept apart (issue #11, finding 10: a flood of random ids used to spend the one token
 * bucket and evict good entries from the one LRU, so a known key whose ttl expired during the flood could not be
 * re-verified and failed closed):
 *  - found keys live in their own LRU (`max_entries`); a re-lookup of an id that has an entry there spends the
 *    `max_lookups_per_second` bucket;
 *  - not-found answers live in a second LRU of the same size; a lookup of any id without a found-key entry (never
 *    seen, evicted, or last answered 404) spends the separate `max_unknown_lookups_per_second` bucket (default: the
 *    same rate as `max_lookups_per_second`).
 * So random ids can only evict each other and exhaust their own budget. The price: during a flood, a genuine key the
 * gateway has never seen (or has evicted) waits like any unknown id — it fails closed until the flood subsides.
 */
import { LRUCache } from 'lru-cache'
import { request as httpsRequest } from 'node:https'
import { request as httpRequest } from 'node:http'
import type { ApiKeyLookupConfig, StaticApiKey } from '../config/types.js'
import { compileJavaPattern, JavaRegexError, type CompiledJavaPattern } from './jregex.js'

export interface KeyPattern {
  readonly id: string
  readonly pattern: string | null
  /** The compiled pattern, or the reason it could not be translated faithfully (never approximated). */
  readonly compiled: CompiledJavaPattern | JavaRegexError | null
  readonly source: 'static' | 'lookup'
  /** API key type reported by the backend (`cross_cluster` | `rest`); null when unknown (static entries). */
  readonly type: string | null
}

export type KeyLookupResult =
  | { readonly kind: 'known'; readonly key: KeyPattern; readonly stale: boolean }
  | { readonly kind: 'not_found'; readonly id: string }
  | { readonly kind: 'no_lookup'; readonly id: string }
  | { readonly kind: 'failed'; readonly id: string; readonly error: string }

interface Entry {
  readonly key: KeyPattern | null // null = not found
  readonly fetchedAt: number
}

export interface KeyLookupStats {
  hit(): void
  miss(): void
  failure(): void
}

export type FetchApiKey = (id: string) => Promise<{ found: false } | { found: true; certificateIdentity: string | null; type: string | null }>

const noStats: KeyLookupStats = { hit() {}, miss() {}, failure() {} }

export function compilePattern(id: string, pattern: string | null, source: KeyPattern['source'], jdk: 17 | 25, type: string | null = null): KeyPattern {
  if (pattern === null) return { id, pattern, compiled: null, source, type }
  try {
    return { id, pattern, compiled: compileJavaPattern(pattern, { jdk }), source, type }
  } catch (e) {
    if (e instanceof JavaRegexError) return { id, pattern, compiled: e, source, type }
    throw e
  }
}

/** A token bucket holding at most `rate` tokens, refilled continuously at `rate` per second. */
export class TokenBucket {
  private tokens: number
  private lastRefill: number

  constructor(
    private readonly rate: number,
    now: number,
  ) {
    this.tokens = rate
    this.lastRefill = now
  }

  take(now: number): boolean {
    this.tokens = Math.min(this.rate, this.tokens + (Math.max(0, now - this.lastRefill) / 1000) * this.rate)
    this.lastRefill = now
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}

export class KeyPatternMap {
  private readonly statics = new Map<string, KeyPattern>()
  /** Found keys (finding 10: never evicted by not-found answers). */
  private readonly cache: LRUCache<string, Entry> | null
  /** Not-found answers, bounded separately. */
  private readonly negative: LRUCache<string, Entry> | null
  private readonly inflight = new Map<string, Promise<KeyLookupResult>>()
  private readonly knownBucket: TokenBucket | null
  private readonly unknownBucket: TokenBucket | null

  constructor(
    staticKeys: readonly StaticApiKey[],
    private readonly lookup: (ApiKeyLookupConfig & { readonly fetch: FetchApiKey }) | null,
    private readonly jdk: 17 | 25,
    private readonly stats: KeyLookupStats = noStats,
    private readonly now: () => number = Date.now,
  ) {
    for (const k of staticKeys) this.statics.set(k.id, compilePattern(k.id, k.certificateIdentity, 'static', jdk))
    this.cache = lookup === null ? null : new LRUCache<string, Entry>({ max: lookup.maxEntries })
    this.negative = lookup === null ? null : new LRUCache<string, Entry>({ max: lookup.maxEntries })
    const t0 = this.now()
    this.knownBucket = lookup === null ? null : new TokenBucket(lookup.maxLookupsPerSecond, t0)
    this.unknownBucket = lookup === null ? null : new TokenBucket(lookup.maxUnknownLookupsPerSecond ?? lookup.maxLookupsPerSecond, t0)
  }

  /** Synchronous when the answer is known (static or fresh cache entry); a Promise when a lookup is needed. */
  get(id: string): KeyLookupResult | Promise<KeyLookupResult> {
    const s = this.statics.get(id)
    if (s !== undefined) return { kind: 'known', key: s, stale: false }
    if (this.lookup === null || this.cache === null) return { kind: 'no_lookup', id }
    const known = this.cache.get(id)
    const e = known ?? this.negative!.get(id)
    const now = this.now()
    if (e !== undefined) {
      const ttl = e.key === null ? this.lookup.negativeTtlMs : this.lookup.ttlMs
      if (now - e.fetchedAt < ttl) {
        this.stats.hit()
        return e.key === null ? { kind: 'not_found', id } : { kind: 'known', key: e.key, stale: false }
      }
    }
    this.stats.miss()
    const pending = this.inflight.get(id)
    if (pending !== undefined) return pending
    if (known !== undefined) {
      if (!this.knownBucket!.take(now)) return this.fallback(id, e, now, 'lookup rate limit reached (api_key_lookup.max_lookups_per_second)')
    } else if (!this.unknownBucket!.take(now)) {
      return this.fallback(id, e, now, 'lookup rate limit for unknown key ids reached (api_key_lookup.max_unknown_lookups_per_second)')
    }
    const p = this.fetchAndStore(id, e).finally(() => this.inflight.delete(id))
    this.inflight.set(id, p)
    return p
  }

  private fallback(id: string, e: Entry | undefined, now: number, error: string): KeyLookupResult {
    this.stats.failure()
    if (e !== undefined) {
      const ttl = e.key === null ? this.lookup!.negativeTtlMs : this.lookup!.ttlMs
      if (now - e.fetchedAt < ttl + this.lookup!.maxStaleMs) {
        return e.key === null ? { kind: 'not_found', id } : { kind: 'known', key: e.key, stale: true }
      }
    }
    return { kind: 'failed', id, error }
  }

  private async fetchAndStore(id: string, previous: Entry | undefined): Promise<KeyLookupResult> {
    try {
      const r = await this.lookup!.fetch(id)
      const now = this.now()
      if (!r.found) {
        // a deleted key moves to the negative side: its id is unknown from now on
        this.cache!.delete(id)
        this.negative!.set(id, { key: null, fetchedAt: now })
        return { kind: 'not_found', id }
      }
      const key = compilePattern(id, r.certificateIdentity, 'lookup', this.jdk, r.type)
      this.negative!.delete(id)
      this.cache!.set(id, { key, fetchedAt: now })
      return { kind: 'known', key, stale: false }
    } catch (err) {
      return this.fallback(id, previous, this.now(), (err as Error).message)
    }
  }
}

/**
 * GET {url}/_security/api_key?id=… with the gateway's own API key. Cross-cluster keys carry `certificate_identity`
 * since 9.3 (elasticsearch-specification ApiKey.ts); an absent field means no identity (UNVERIFIED in the spec that
 * it is omitted rather than null — both are handled).
 */
export function httpApiKeyFetcher(cfg: ApiKeyLookupConfig): FetchApiKey {
  const base = new URL(cfg.url)
  return (id) =>
    new Promise((resolve, reject) => {
      const url = new URL('/_security/api_key', base)
      url.searchParams.set('id', id)
      const isHttps = url.protocol === 'https:'
      const req = (isHttps ? httpsRequest : httpRequest)(
        url,
        {
          method: 'GET',
          headers: { authorization: `ApiKey ${cfg.apiKey}`, accept: 'application/json', 'x-elastic-product-origin': 'rcgw' },
          timeout: cfg.timeoutMs,
          ...(isHttps
            ? {
                rejectUnauthorized: cfg.verificationMode !== 'none',
                ...(cfg.ca.length > 0 ? { ca: cfg.ca.map((b) => b.pem) } : {}),
                ...(cfg.verificationMode === 'certificate' ? { checkServerIdentity: () => undefined } : {}),
              }
            : {}),
        },
        (res) => {
          const chunks: Buffer[] = []
          let size = 0
          res.on('data', (c: Buffer) => {
            size += c.length
            if (size > 1024 * 1024) req.destroy(new Error('api key lookup response too large'))
            else chunks.push(c)
          })
          res.on('end', () => {
            const status = res.statusCode ?? 0
            if (status === 404) return resolve({ found: false })
            if (status !== 200) return reject(new Error(`api key lookup: HTTP ${status}`))
            try {
              const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { api_keys?: Array<Record<string, unknown>> }
              const k = body.api_keys?.find((x) => x.id === id)
              if (k === undefined) return resolve({ found: false })
              const ci = k.certificate_identity
              resolve({ found: true, certificateIdentity: typeof ci === 'string' ? ci : null, type: typeof k.type === 'string' ? k.type : null })
            } catch (e) {
              reject(new Error(`api key lookup: unparseable response: ${(e as Error).message}`))
            }
          })
          res.on('error', reject)
        },
      )
      req.on('timeout', () => req.destroy(new Error(`api key lookup timed out after ${cfg.timeoutMs}ms`)))
      req.on('error', reject)
      req.end()
    })
}
