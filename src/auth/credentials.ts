/**
 * The `_cross_cluster_access_credentials` header: `ApiKey <base64(id:secret)>` (cross-cluster-auth.md §1.1).
 *
 * Parsing reproduces, step by step:
 *   Authenticator.extractCredentialFromHeaderValue(header, "ApiKey")
 *     (x-pack/plugin/security/src/main/java/org/elasticsearch/xpack/security/authc/Authenticator.java):
 *     `header.regionMatches(true, 0, "ApiKey ", 0, 7) && header.length() > 7`, else null;
 *   ApiKeyCredentials.parse(apiKeyString, certificateIdentity, ApiKey.Type.CROSS_CLUSTER)
 *     (x-pack/plugin/core/src/main/java/org/elasticsearch/xpack/core/security/action/apikey/ApiKeyCredentials.java):
 *     empty → "api key is empty"; Base64.getDecoder(); UTF-8 → chars (malformed → U+FFFD);
 *     first ':' at index < 1 → "invalid ApiKey value"; secret not 22 chars →
 *     "invalid cross-cluster API key value";
 *   CrossClusterAccessHeaders.parseCredentialsHeader
 *     (x-pack/plugin/security/src/main/java/org/elasticsearch/xpack/security/authc/CrossClusterAccessHeaders.java):
 *     null or any exception → IllegalArgumentException "cross cluster access header
 *     [_cross_cluster_access_credentials] value must be a valid API key credential" (cause = the above).
 *
 * Parsed credentials hold the secret; they never expose it through JSON.stringify, util.inspect,
 * object spread, Object.keys or String(): use `.secret` explicitly where it is really needed.
 */
import { inspect } from 'node:util'
import { checkStrictBase64, encodeBase64 } from './base64.js'
import { decodeUtf8Java } from './dn.js'

export const CROSS_CLUSTER_ACCESS_CREDENTIALS_HEADER_KEY = '_cross_cluster_access_credentials'

/** ApiKeyCredentials.CROSS_CLUSTER_API_KEY_SECRET_LENGTH. */
export const CROSS_CLUSTER_API_KEY_SECRET_LENGTH = 22

export const INVALID_CREDENTIALS_MESSAGE =
  `cross cluster access header [${CROSS_CLUSTER_ACCESS_CREDENTIALS_HEADER_KEY}] value must be a valid API key credential`

export const MISSING_CREDENTIALS_MESSAGE = `cross cluster access header [${CROSS_CLUSTER_ACCESS_CREDENTIALS_HEADER_KEY}] is required`

const PREFIX = 'ApiKey '
const REDACTED = '<redacted>'

export type CredentialsFailureReason = 'missing_prefix' | 'bad_base64' | 'empty' | 'invalid_value' | 'bad_secret_length'

export interface CredentialsFailure {
  ok: false
  reason: CredentialsFailureReason
  /** Elasticsearch's IllegalArgumentException message (always INVALID_CREDENTIALS_MESSAGE). */
  message: string
  /** The message of the cause Elasticsearch attaches (e.g. "invalid ApiKey value"). */
  cause: string
}

/**
 * Successfully parsed credentials. `secret` is an accessor on the prototype, so it is not an own
 * enumerable property: serializers and loggers never see it.
 */
export class ParsedCredentials {
  readonly ok = true as const
  readonly id: string
  readonly secretLength: number
  readonly #secret: string

  constructor(id: string, secret: string) {
    this.id = id
    this.#secret = secret
    this.secretLength = secret.length
  }

  /** The API key secret. Never log it. */
  get secret(): string {
    return this.#secret
  }

  toJSON(): { ok: true; id: string; secretLength: number; secret: string } {
    return { ok: true, id: this.id, secretLength: this.secretLength, secret: REDACTED }
  }

  toString(): string {
    return redactedCredentials(this.id)
  }

  [inspect.custom](): string {
    return `ParsedCredentials { id: ${JSON.stringify(this.id)}, secretLength: ${this.secretLength}, secret: '${REDACTED}' }`
  }
}

export type CredentialsParseResult = ParsedCredentials | CredentialsFailure

/** A loggable description of API key credentials: the id, never the secret. */
export function redactedCredentials(id: string): string {
  return `ApiKey [id=${id}, secret=${REDACTED}]`
}

/** A loggable rendering of a raw credentials header value (the id if it parses, else nothing). */
export function redactCredentialsHeader(value: string): string {
  const parsed = parseCredentialsHeader(value)
  return parsed.ok ? redactedCredentials(parsed.id) : `ApiKey [unparseable: ${parsed.reason}, ${value.length} chars redacted]`
}

function failure(reason: CredentialsFailureReason, cause: string): CredentialsFailure {
  return { ok: false, reason, message: INVALID_CREDENTIALS_MESSAGE, cause }
}

/**
 * `String.regionMatches(true, ...)` of one character against a lower-case ASCII pattern character:
 * equal after Character.toUpperCase, or after toLowerCase(toUpperCase). Beyond ASCII case this
 * admits exactly three characters for the letters of "apikey": U+0130 'İ' and U+0131 'ı' for 'i'
 * (toLowerCase('İ') = 'i', toUpperCase('ı') = 'I') and U+212A KELVIN SIGN for 'k'
 * (toLowerCase = 'k') (java/lang/StringUTF16.java regionMatchesCI, java/lang/Character.java).
 */
function javaCaseInsensitiveEquals(c: number, lowerPattern: number): boolean {
  if (c === lowerPattern) return true
  if (lowerPattern >= 0x61 && lowerPattern <= 0x7a && c === lowerPattern - 0x20) return true
  if (lowerPattern === 0x69 /* i */ && (c === 0x130 || c === 0x131)) return true
  if (lowerPattern === 0x6b /* k */ && c === 0x212a) return true
  return false
}

/** Authenticator.extractCredentialFromHeaderValue(header, "ApiKey"): the encoded part, or null. */
export function extractApiKeyCredential(header: string): string | null {
  if (header.length <= PREFIX.length) return null
  const lower = PREFIX.toLowerCase()
  for (let i = 0; i < PREFIX.length; i++) {
    if (!javaCaseInsensitiveEquals(header.charCodeAt(i), lower.charCodeAt(i))) return null
  }
  return header.slice(PREFIX.length)
}

/**
 * ApiKeyCredentials.parse for the encoded part (after `ApiKey `). With `type: 'rest'` the secret
 * length is not checked (REST API keys); the gateway only sees cross-cluster keys.
 */
export function parseEncodedApiKey(encoded: string, type: 'cross_cluster' | 'rest' = 'cross_cluster'): CredentialsParseResult {
  if (encoded.length === 0) return failure('empty', 'api key is empty')
  const b64 = checkStrictBase64(encoded)
  if (b64 !== null) return failure('bad_base64', b64.message)
  // CharArrays.utf8BytesToChars: UTF_8.decode with REPLACE, so invalid UTF-8 never fails here.
  const chars = decodeUtf8Java(Buffer.from(encoded, 'base64'))
  const colon = chars.indexOf(':')
  if (colon < 1) return failure('invalid_value', 'invalid ApiKey value')
  const secret = chars.slice(colon + 1)
  // Length in UTF-16 code units, like the Java char[] arithmetic.
  if (type === 'cross_cluster' && secret.length !== CROSS_CLUSTER_API_KEY_SECRET_LENGTH) {
    return failure('bad_secret_length', 'invalid cross-cluster API key value')
  }
  return new ParsedCredentials(chars.slice(0, colon), secret)
}

/** Parses a `_cross_cluster_access_credentials` header value (the verbatim string, prefix included). */
export function parseCredentialsHeader(value: string): CredentialsParseResult {
  const encoded = extractApiKeyCredential(value)
  if (encoded === null) {
    // Objects.requireNonNull(null) inside CrossClusterAccessHeaders.parseCredentialsHeader
    return failure('missing_prefix', 'java.lang.NullPointerException (no "ApiKey " prefix followed by a credential)')
  }
  return parseEncodedApiKey(encoded, 'cross_cluster')
}

/** `ApiKeyService.withApiKeyPrefix(base64(id:secret))`: the header a querying cluster sends. */
export function encodeCredentialsHeader(id: string, secret: string): string {
  return PREFIX + encodeBase64(Buffer.from(`${id}:${secret}`, 'utf8'))
}
