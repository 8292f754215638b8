/**
 * Faults the fuzzer found in src/ that are still open. The CI slice (test/fuzz/slice.test.ts) does not fail on a
 * case that fails this way (it reports it loudly instead), and the regression cases of these findings carry
 * `knownFailing` (fuzz/regressions/*.json), so the suite stays green until the owner fixes the code. Remove an
 * entry together with the `knownFailing` fields when the fix lands: from then on the cases must pass.
 */

export interface KnownFinding {
  readonly id: string
  readonly target: string
  readonly summary: string
  readonly matches: (error: unknown) => boolean
}

/**
 * Fixed (kept as history; their cases in fuzz/regressions/ must pass now):
 *  - FUZZ-1 (signature): a DerError escaped verifyPayloadSignature for a leaf whose critical keyUsage value is not
 *    one BIT STRING (the parse ran outside the try). Fixed in src/auth/signature.ts.
 *  - FUZZ-2 (signature): a certificate with a non-DER AlgorithmIdentifier parameter was re-encoded by OpenSSL, so
 *    X509Certificate.raw differed from the bytes sent. Such certificates are now refused at decode.
 */
export const KNOWN_FINDINGS: readonly KnownFinding[] = []

export function knownFinding(target: string, error: unknown): KnownFinding | null {
  return KNOWN_FINDINGS.find((k) => k.target === target && k.matches(error)) ?? null
}
