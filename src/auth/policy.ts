/**
 * The edge authentication policy: decides every request the way the remote cluster server would
 * (cross-cluster-auth.md §3, §5, §7) — and before any byte of the request reaches a backend node.
 *
 * Order (mirrors Elasticsearch: the connection-level header authentication runs first, then the transport filter,
 * then the full authentication):
 *  1. credentials header present and parseable                       → header-stage auth failure (error frame, close)
 *  2. signature header, if present, decodable                        → header-stage auth failure (close)
 *  3. key → certificate_identity (static / looked up, may be async)  → header-stage auth failure (close) when the
 *     identity is not met (signature and chain verified first, then the DN matched) or `signing.required` and no
 *     signature
 *  4. action on the allow-list                                       → IllegalArgumentException, stays open
 *  5. only allowed request headers; subject info present             → IllegalArgumentException, stays open
 *  6. signature, if present: chain, validity, algorithm, signature   → authenticate-stage auth failure, stays open
 * Authentication failures are ElasticsearchSecurityException(UNAUTHORIZED) with Elasticsearch's message, sent in
 * an error frame. The wording is Elasticsearch's (cross-cluster-auth.md §8) so that operators can search it; the
 * gateway's own log line says that the gateway denied it and why.
 *
 * Which failures close the connection (issue #11, finding 12), from Elasticsearch 9.3's
 * x-pack/plugin/security/src/main/java/org/elasticsearch/xpack/security/authc/CrossClusterAccessAuthenticationService.java:
 *  - header stage, `authenticateHeaders(headers, listener)`, run by the remote-cluster-server inbound pipeline when
 *    a message header is decoded (x-pack/plugin/core/.../security/transport/netty4/SecurityNetty4Transport.java,
 *    spec §7.3); a failure there is a HeaderValidationException: error response, then the channel is closed.
 *    It covers `extractApiKeyCredentialsFromHeaders` (credentials header present and parseable, and
 *    `X509CertificateSignature.decode` of the signature header to bind the leaf DN as certificateIdentity — any
 *    exception becomes "failed to extract credentials from headers") and `tryAuthenticate` → ApiKeyService
 *    (key exists, type cross_cluster, certificate_identity DN match; a throwing service → "failed to authenticate
 *    cross cluster credentials"). The gateway closes for all of these: close = true.
 *  - authenticate stage, `authenticate(action, request, listener)` → `verifySignature(...)`:
 *    `crossClusterApiKeySignatureVerifier.verify(...)` (CrossClusterApiKeySignatureManager.Verifier: trust
 *    configured, chain trusted, leaf validity, algorithm, signature) returning false ("Invalid cross cluster api
 *    key signature from [...]") or throwing GeneralSecurityException ("Failed to verify cross cluster api key
 *    signature certificate from [...]"), and IllegalStateException for a missing trust configuration (caught by the
 *    surrounding `catch (Exception ex)` → withRequestProcessingFailure). These go to `listener.onFailure`: an
 *    ordinary error response on a live connection. The gateway answers them with close = false.
 *  - Exception: a key WITH certificate_identity. Elasticsearch matches the DN at the header stage and verifies the
 *    signature later; the gateway verifies the signature first so that a DN from an untrusted certificate never
 *    reaches the regex engine. When that verification fails, the gateway cannot know whether Elasticsearch would
 *    have closed (DN mismatch, header stage) or kept the connection (DN match, authenticate stage) without
 *    evaluating an attacker-chosen DN. Decision: close = true, the stricter of the two; a genuine client whose
 *    certificate merely expired reconnects and gets the same 401 message Elasticsearch would send.
 */
import type { DecodedHeader } from '../codec/decoder.js'
import type { JavaException } from '../codec/exception.js'
import type { ConnectionInfo, Denial, PolicyDecision, RequestPolicy } from '../gateway/policy.js'
import { parseCredentialsHeader, type CredentialsParseResult } from './credentials.js'
import { JavaRegexError } from './jregex.js'
import type { KeyLookupResult, KeyPatternMap } from './keymap.js'
import type { SignatureVerifier } from './verify.js'
import { resolveAllowedActions } from './actions.js'
import { ipOfPeer, type ClusterFilters, type CompiledFilterRule } from './filters.js'

export const CREDENTIALS_HEADER = '_cross_cluster_access_credentials'
export const SUBJECT_INFO_HEADER = '_cross_cluster_access_subject_info'
export const SIGNATURE_HEADER = '_cross_cluster_access_signature'

/** CrossClusterAccessServerTransportFilter.ALLOWED_TRANSPORT_HEADERS (+ the 9.3 signature header). */
export const ALLOWED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  CREDENTIALS_HEADER,
  SUBJECT_INFO_HEADER,
  SIGNATURE_HEADER,
  '_xpack_audit_request_id',
  'X-Opaque-Id',
  'traceparent',
  'trace.id',
  'X-elastic-product-origin',
])

export type DenialReason =
  | 'missing_credentials'
  | 'invalid_credentials'
  | 'malformed_signature'
  | 'no_certificates'
  | 'signature_required'
  | 'identity_mismatch'
  | 'unsupported_pattern'
  | 'unknown_api_key'
  | 'wrong_key_type'
  | 'key_lookup_failed'
  | 'action_not_allowed'
  | 'header_not_allowed'
  | 'missing_subject_info'
  | 'no_signing_trust'
  | 'untrusted_chain'
  | 'expired_certificate'
  | 'unsupported_algorithm'
  | 'bad_signature'
  /** last resort: an unexpected exception while deciding (never thrown out of check(), see AuthPolicy.check) */
  | 'authentication_error'
  /** clusters[].filters: no allow rule matched, or a deny rule did (403, connection closed; issue #13) */
  | 'filtered'
  /** the action is on the cluster-wide list but not on the key's or the filter rule's allowed_actions (issue #13) */
  | 'identity_action_not_allowed'

export const DENIAL_REASONS: readonly DenialReason[] = [
  'missing_credentials', 'invalid_credentials', 'malformed_signature', 'no_certificates', 'signature_required',
  'identity_mismatch', 'unsupported_pattern', 'unknown_api_key', 'wrong_key_type', 'key_lookup_failed',
  'action_not_allowed', 'header_not_allowed', 'missing_subject_info', 'no_signing_trust', 'untrusted_chain',
  'expired_certificate', 'unsupported_algorithm', 'bad_signature', 'authentication_error', 'filtered',
  'identity_action_not_allowed',
]

/**
 * Signature-verification failures, which Elasticsearch reports at the authenticate stage on a live connection
 * (see the header comment): answered with close = false unless the key has a certificate_identity.
 */
export const AUTHENTICATE_STAGE_REASONS: ReadonlySet<DenialReason> = new Set<DenialReason>([
  'no_signing_trust', 'untrusted_chain', 'expired_certificate', 'unsupported_algorithm', 'bad_signature',
])

/**
 * Longest subject DN evaluated against a certificate_identity pattern. RFC 5280 upper bounds make real subjects far
 * shorter; a longer one is treated as not matching rather than handed to a backtracking engine.
 */
export const MAX_DN_LENGTH = 8192

const MISSING_HEADER = (name: string) =>
  `Cross cluster requests through the dedicated remote cluster server port require transport header [${name}] but none found. ` +
  'Please ensure you have configured remote cluster credentials on the cluster originating the request.'

function authFailure(reason: DenialReason, message: string, audit: Record<string, string | null>, cause?: JavaException, close = true): Denial {
  return {
    reason,
    close,
    exception: { type: 'security', message, status: 'UNAUTHORIZED', cause: cause ?? null },
    audit,
  }
}

function unexpected(e: unknown, h: DecodedHeader): Denial {
  return authFailure('authentication_error', 'failed to authenticate cross cluster credentials', {
    action: h.variable?.action ?? '',
    error: e instanceof Error ? e.message : String(e),
  })
}

function illegalArgument(reason: DenialReason, message: string, audit: Record<string, string | null>): Denial {
  return { reason, close: false, exception: { type: 'illegal_argument', message, cause: null }, audit }
}

export interface AuthPolicyOptions {
  readonly keys: KeyPatternMap
  readonly verifier: SignatureVerifier
  readonly signingRequired: boolean
  /** 'default' or an explicit list; the entry `default` inside a list expands to the default allow-list. */
  readonly allowedActions: 'default' | readonly string[]
  readonly now?: () => number
  /** clusters[].filters, compiled; absent/null = no filtering (issue #13). */
  readonly filters?: ClusterFilters | null
  /** Static keys' `allowed_actions` (resolved), by key id; a key not in the map has no extra restriction. */
  readonly keyActions?: ReadonlyMap<string, ReadonlySet<string>>
}

/** The filter outcome of one connection for the credentials/signature strings it was decided for. */
interface FilterMemo {
  readonly credentials: string
  readonly signature: string | undefined
  readonly rule: CompiledFilterRule | null
}

export { resolveAllowedActions }

export class AuthPolicy implements RequestPolicy {
  readonly allowedActions: Set<string>
  private readonly now: () => number
  private lastCredentials: string | null = null
  private lastParsed: CredentialsParseResult | null = null
  /**
   * Filter outcomes per connection (the relay passes the same ConnectionInfo object for its whole life; a closed
   * connection's entry goes with it). The codec memoises identical variable headers, so the credentials and
   * signature strings recur and the check per request is one WeakMap lookup and two string comparisons; the rules
   * (and the DN regex) run once per distinct pair.
   */
  private readonly filterMemo = new WeakMap<ConnectionInfo, FilterMemo>()

  constructor(private readonly opts: AuthPolicyOptions) {
    this.allowedActions = resolveAllowedActions(opts.allowedActions)
    this.now = opts.now ?? Date.now
  }

  /**
   * Never throws and never returns a rejected Promise: every parser below fails closed by itself, and this last
   * resort turns anything unexpected into a 401 that closes the connection (issue #11, finding 1: an exception here
   * reached the socket 'data' listener and killed the process). Elasticsearch's header stage answers a throwing
   * service with "failed to authenticate cross cluster credentials" (CrossClusterAccessAuthenticationService.tryAuthenticate).
   */
  check(h: DecodedHeader, conn: ConnectionInfo): PolicyDecision | Promise<PolicyDecision> {
    try {
      const d = this.checkUnsafe(h, conn)
      return d instanceof Promise ? d.then(undefined, (e: unknown) => unexpected(e, h)) : d
    } catch (e) {
      return unexpected(e, h)
    }
  }

  private checkUnsafe(h: DecodedHeader, conn: ConnectionInfo): PolicyDecision | Promise<PolicyDecision> {
    const headers = h.variable?.requestHeaders ?? new Map<string, string>()
    const action = h.variable?.action ?? ''
    const audit: Record<string, string | null> = { action, api_key_id: null, leaf_dn: null }

    // 1. Credentials (header-stage authentication, CrossClusterAccessAuthenticationService).
    const credentials = headers.get(CREDENTIALS_HEADER)
    if (credentials === undefined)
      return authFailure('missing_credentials', 'failed to extract credentials from headers', audit, {
        type: 'illegal_argument',
        message: MISSING_HEADER(CREDENTIALS_HEADER),
        cause: null,
      })
    // The same credentials arrive on request after request: parseCredentialsHeader is pure in the string, so the
    // last result is reused when the string is equal (FINDINGS.md §4: policy check 1.1 → 0.1 µs).
    let parsed: CredentialsParseResult
    if (credentials === this.lastCredentials) parsed = this.lastParsed!
    else {
      parsed = parseCredentialsHeader(credentials)
      this.lastCredentials = credentials
      this.lastParsed = parsed
    }
    if (!parsed.ok)
      return authFailure('invalid_credentials', 'failed to extract credentials from headers', audit, {
        type: 'illegal_argument',
        message: parsed.message,
        cause: { type: 'illegal_argument', message: parsed.cause, cause: null },
      })
    audit.api_key_id = parsed.id

    // 2. Signature header decodes (9.3 decodes it at the header stage to bind the leaf DN).
    const signature = headers.get(SIGNATURE_HEADER)
    let leafDn: string | null = null
    if (signature !== undefined) {
      const dec = this.opts.verifier.decode(signature)
      if (!dec.ok) {
        if (dec.reason === 'no_certificates')
          return authFailure('no_certificates', 'failed to extract credentials from headers', audit, { type: 'illegal_argument', message: dec.message, cause: null })
        return authFailure('malformed_signature', 'failed to extract credentials from headers', audit, {
          type: 'illegal_argument',
          message: `invalid cross cluster access signature: ${dec.cause}`,
          cause: null,
        })
      }
      leafDn = dec.d.leafDn
      audit.leaf_dn = leafDn
    }

    // 3. Key → certificate_identity.
    const looked = this.opts.keys.get(parsed.id)
    if (looked instanceof Promise) return looked.then((r) => this.afterLookup(r, h, conn, headers, action, signature, leafDn, audit))
    return this.afterLookup(looked, h, conn, headers, action, signature, leafDn, audit)
  }

  private afterLookup(
    r: KeyLookupResult,
    h: DecodedHeader,
    conn: ConnectionInfo,
    headers: ReadonlyMap<string, string>,
    action: string,
    signature: string | undefined,
    leafDn: string | null,
    audit: Record<string, string | null>,
  ): PolicyDecision {
    const id = audit.api_key_id!
    let verified = false
    switch (r.kind) {
      case 'failed':
        // Fail closed: nothing is known about this key and the backend could not be asked.
        return authFailure('key_lookup_failed', 'failed to authenticate cross cluster credentials', { ...audit, error: r.error })
      case 'not_found':
        return authFailure('unknown_api_key', `unable to find apikey with id [${id}]`, audit)
      case 'known': {
        const key = r.key
        if (key.type !== null && key.type !== 'cross_cluster')
          return authFailure('wrong_key_type', `authentication expected API key type of [cross_cluster], but API key [${id}] has type [${key.type}]`, audit)
        if (key.pattern !== null) {
          if (key.compiled instanceof JavaRegexError)
            return authFailure(
              'unsupported_pattern',
              `API key [${id}] certificate identity pattern [${key.pattern}] uses ${key.compiled.construct}, which the gateway cannot evaluate exactly as Java does; request refused`,
              audit,
            )
          if (signature === undefined || leafDn === null)
            return authFailure(
              'signature_required',
              `API key (type:[cross_cluster], id:[${id}]) requires certificate identity matching [${key.pattern}], but no certificate was provided`,
              audit,
            )
          // Deliberate difference from Elasticsearch's order (which matches the DN at the header stage and verifies
          // the signature later): the signature and chain are verified BEFORE the DN reaches the regex engine, so a
          // DN from an untrusted, self-made certificate can never drive a backtracking regex. Both failures are
          // 401s that close the connection (decision in the header comment); only the message differs when both
          // would fail.
          const v = this.verifySignature(headers, signature, audit, true)
          if (v !== null) return v
          verified = true
          if (leafDn.length > MAX_DN_LENGTH || !key.compiled!.matches(leafDn))
            return authFailure('identity_mismatch', `DN from provided certificate [${leafDn}] does not match API Key certificate identity pattern [${key.pattern}]`, audit)
        }
        break
      }
      case 'no_lookup':
        break
    }
    if (signature === undefined && this.opts.signingRequired)
      return authFailure('signature_required', 'Expected signature for cross cluster API key, but no signature was provided', audit)

    // 4. + 5. Transport filter: action allow-list, then header validation.
    if (!this.allowedActions.has(action))
      return illegalArgument('action_not_allowed', `action [${action}] is not allowed as a cross cluster operation on the dedicated remote cluster server port`, audit)
    if (!headers.has(SUBJECT_INFO_HEADER)) return illegalArgument('missing_subject_info', MISSING_HEADER(SUBJECT_INFO_HEADER), audit)
    for (const name of headers.keys()) {
      if (!ALLOWED_REQUEST_HEADERS.has(name))
        return illegalArgument(
          'header_not_allowed',
          `Transport request header [${name}] is not allowed for cross cluster requests through the dedicated remote cluster server port`,
          audit,
        )
    }

    // 6. Signature verification (whenever present, even without certificate_identity).
    if (signature !== undefined && !verified) {
      const v = this.verifySignature(headers, signature, audit, false)
      if (v !== null) return v
    }
    void h
    // 7. The gateway's own operator policy (issue #13), with the DN of a signature that has verified by now.
    return this.operatorPolicy(conn, id, headers.get(CREDENTIALS_HEADER)!, signature, signature !== undefined ? leafDn : null, action, audit)
  }

  /**
   * clusters[].filters, then the per-identity action lists (filter rule's and key's `allowed_actions`). Runs after
   * everything Elasticsearch itself would check, so a request refused here is one Elasticsearch would have let in:
   * a filter refusal is a 403 that closes the connection (like an authentication failure, the identity is not
   * welcome at all); an action refusal is an IllegalArgumentException on a live connection, exactly like the
   * cluster-wide action check (step 4).
   */
  private operatorPolicy(
    conn: ConnectionInfo,
    id: string,
    credentials: string,
    signature: string | undefined,
    dn: string | null,
    action: string,
    audit: Record<string, string | null>,
  ): PolicyDecision {
    const filters = this.opts.filters ?? null
    let rule: CompiledFilterRule | null = null
    if (filters !== null) {
      let memo = this.filterMemo.get(conn)
      if (memo === undefined || memo.credentials !== credentials || memo.signature !== signature) {
        memo = { credentials, signature, rule: filters.match(conn.clientIp ?? ipOfPeer(conn.remoteAddress), id, dn) }
        this.filterMemo.set(conn, memo)
      }
      rule = memo.rule
      if (rule === null || rule.action === 'deny') {
        const ip = conn.clientIp ?? ipOfPeer(conn.remoteAddress)
        const why = rule === null ? 'matches no allow rule of clusters[].filters' : `is denied by clusters[].filters[${rule.index}]`
        return {
          reason: 'filtered',
          close: true,
          exception: {
            type: 'security',
            status: 'FORBIDDEN',
            message: `action [${action}] is not allowed through the gateway: the connection from [${ip}] with API key [${id}] and ${dn === null ? 'no verified signing certificate' : `signing certificate [${dn}]`} ${why} for cluster [${conn.cluster}]`,
            cause: null,
          },
          audit: { ...audit, filter_rule: rule === null ? null : String(rule.index) },
        }
      }
      if (rule.allowedActions !== null && !rule.allowedActions.has(action))
        return illegalArgument(
          'identity_action_not_allowed',
          `action [${action}] is not allowed through the gateway for this identity (clusters[].filters[${rule.index}].allowed_actions)`,
          { ...audit, filter_rule: String(rule.index) },
        )
    }
    const keyActions = this.opts.keyActions?.get(id)
    if (keyActions !== undefined && !keyActions.has(action))
      return illegalArgument('identity_action_not_allowed', `action [${action}] is not allowed through the gateway for API key [${id}] (clusters[].api_keys[].allowed_actions)`, audit)
    return null
  }

  /** `close`: whether a failure closes the connection (true for keys with certificate_identity, see the header comment). */
  private verifySignature(headers: ReadonlyMap<string, string>, signature: string, audit: Record<string, string | null>, close: boolean): Denial | null {
    // The subject info header may still be missing here (identity keys verify before the transport filter runs):
    // an absent header signs as the empty string and then fails verification, as it would in Elasticsearch.
    const v = this.opts.verifier.verify(signature, headers.get(SUBJECT_INFO_HEADER) ?? '', headers.get(CREDENTIALS_HEADER)!, this.now())
    if (v.ok) return null
    // Only signature verification proper is an authenticate-stage failure; a 'malformed_signature' from the
    // verifier's last resort is treated like a decoding failure (header stage).
    const closes = close || !AUTHENTICATE_STAGE_REASONS.has(v.reason)
    return authFailure(v.reason, v.message, { ...audit, detail: v.cause ?? null }, undefined, closes)
  }
}
