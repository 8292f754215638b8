/**
 * Target `credentials`: src/auth/credentials.ts parseCredentialsHeader (+ redactCredentialsHeader) on mutated
 * `_cross_cluster_access_credentials` values. `aux` picks the layer mutated: the header string itself (latin1 or
 * UTF-8 of the input), or the decoded `id:secret` bytes wrapped as `ApiKey <base64>`. Invariants: never throws;
 * a result is a ParsedCredentials or a failure with a reason; the redacted form never contains a parsed secret.
 */
import { parseCredentialsHeader, redactCredentialsHeader, redactedCredentials, ParsedCredentials } from '../../src/auth/credentials.js'
import { invariant, type Target } from '../lib/target.js'

const PREFIXES = ['ApiKey ', 'apikey ', 'APIKEY ', 'Apİkey ', 'Apıkey ', 'Api\u212aey ', 'ApiKey', 'Bearer ']

export const credentialsTarget: Target = {
  name: 'credentials',
  description: 'src/auth/credentials.ts parseCredentialsHeader, redactCredentialsHeader',
  maxLen: 2048,
  dict: ['ApiKey ', ':', '=', '==', '+', '/', '-', '_', ' ', '\u0130', '\u212a'].map((s) => Buffer.from(s, 'utf8')),
  exec(input, aux) {
    const mode = (aux[0] ?? 0) % 4
    let header: string
    if (mode === 0) header = input.toString('latin1')
    else if (mode === 1) header = input.toString('utf8')
    else {
      const prefix = PREFIXES[(aux[1] ?? 0) % PREFIXES.length]!
      let b64 = input.toString('base64')
      if (mode === 3) b64 = b64.replace(/=+$/, '')
      header = prefix + b64
    }
    const r = parseCredentialsHeader(header)
    const redacted = redactCredentialsHeader(header)
    if (r instanceof ParsedCredentials) {
      invariant(r.ok && r.secretLength === r.secret.length && r.id.length > 0, 'parsed credentials shape')
      // (unless the id itself spells the secret out: the id is logged by design)
      const idSpellsSecret = redactedCredentials(r.id).includes(r.secret) || JSON.stringify(r.id).includes(r.secret)
      invariant(idSpellsSecret || !redacted.includes(r.secret), 'the redacted header contains the secret')
      invariant(idSpellsSecret || !JSON.stringify(r).includes(r.secret), 'JSON of the credentials contains the secret')
      return `ok:${mode}`
    }
    invariant(r.ok === false && typeof r.reason === 'string' && typeof r.cause === 'string', 'failure shape')
    return `fail:${mode}:${r.reason}`
  },
}
