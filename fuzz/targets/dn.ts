/**
 * Target `dn`: src/auth/dn.ts on mutated Name DER: parseName, subjectToRfc2253, subjectToJavaString,
 * subjectToCanonical, namesEqual, for JDK 25 and JDK 17 output. Allowed: DnError. Invariants: the formatters
 * agree with parseName on whether the name parses; a name equals itself and a byte copy of itself.
 */
import { parseName, subjectToRfc2253, subjectToJavaString, subjectToCanonical, namesEqual, DnError, type DnOptions } from '../../src/auth/dn.js'
import { invariant, latin1, type Target } from '../lib/target.js'

function attempt(f: () => string): string | DnError {
  try {
    return f()
  } catch (e) {
    if (e instanceof DnError) return e
    throw e
  }
}

export const dnTarget: Target = {
  name: 'dn',
  description: 'src/auth/dn.ts parseName / subjectToRfc2253 / subjectToJavaString / subjectToCanonical / namesEqual',
  maxLen: 8 * 1024,
  dict: [
    Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]),
    Buffer.from([0x06, 0x0a, 0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19]),
    Buffer.from([0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]),
    Buffer.from([0x1e, 0x04, 0xd8, 0x3d, 0xde, 0x00]),
    Buffer.from([0x1c, 0x04, 0x00, 0x01, 0xf6, 0x00]),
    Buffer.from([0x0c, 0x03, 0xed, 0xa0, 0x80]),
    Buffer.from([0x14, 0x02, 0xc3, 0xa9]),
    latin1(',+=\\"#;<>'),
    Buffer.from([0x31, 0x00]),
  ],
  exec(input, aux) {
    const opts: DnOptions = { jdk: ((aux[0] ?? 0) & 1) === 0 ? 25 : 17 }
    const parsed = attempt(() => JSON.stringify(parseName(input, opts).map((r) => r.length)))
    const rfc = attempt(() => subjectToRfc2253(input, opts))
    const str = attempt(() => subjectToJavaString(input, opts))
    const canon = attempt(() => subjectToCanonical(input, opts))
    const ok = typeof parsed === 'string'
    for (const [what, r] of [['rfc2253', rfc], ['toString', str], ['canonical', canon]] as const) {
      invariant((typeof r === 'string') === ok, () => `${what} ${typeof r === 'string' ? 'succeeds' : 'fails'} where parseName ${ok ? 'succeeds' : 'fails'}`)
    }
    invariant(namesEqual(input, input, opts), 'a name is not equal to itself')
    if (ok) invariant(namesEqual(input, Buffer.from(input), opts), 'a name is not equal to its copy')
    return ok ? `ok:${opts.jdk}` : `err:${opts.jdk}:${(parsed).message.slice(0, 40)}`
  },
}
