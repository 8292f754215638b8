/**
 * Target `jregex`: src/auth/jregex.ts compileJavaPattern on mutated Java patterns, then matches() on the seed's
 * subject and on strings built from the pattern's own characters. The input is `pattern NUL subject` (UTF-8; or
 * latin1 by `aux`). Only JavaRegexError may escape compileJavaPattern; matches() must return a boolean. Subjects
 * are kept short (≤ 24 code units) so that a backtracking-heavy translation shows up as a slow case, not a hang.
 */
import { compileJavaPattern, JavaRegexError } from '../../src/auth/jregex.js'
import { invariant, latin1, type Target } from '../lib/target.js'

const MAX_SUBJECT = 24

function subjects(pattern: string, subject: string, aux: readonly number[]): string[] {
  const out = [subject.slice(0, MAX_SUBJECT), '', pattern.slice(0, MAX_SUBJECT)]
  const chars = [...pattern]
  if (chars.length > 0) {
    let x = (aux[2] ?? 1) | 1
    let s = ''
    const len = (aux[3] ?? 8) % (MAX_SUBJECT + 1)
    for (let i = 0; i < len; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0
      s += chars[(x >>> 8) % chars.length]!
    }
    out.push(s.slice(0, MAX_SUBJECT))
  }
  return out
}

export const jregexTarget: Target = {
  name: 'jregex',
  description: 'src/auth/jregex.ts compileJavaPattern (+ CompiledJavaPattern.matches on short strings)',
  maxLen: 512,
  dict: ['(?<n>', '\\p{L}', '\\p{IsAlphabetic}', '\\Q', '\\E', '[^', '&&[', '(?i)', '(?u)', '\\b', '\\R', '\\X', '{2,}', '*+', '?+', '\\k<n>', '\\1', '\\x{1F600}', '(?=', '(?<!', '\\N{LATIN SMALL LETTER A}', '\\uD83D', '\\cA', '.*', 'CN=', '\\\\'].map(latin1),
  exec(input, aux) {
    const text = ((aux[0] ?? 0) & 3) === 3 ? input.toString('latin1') : input.toString('utf8')
    const nul = text.indexOf('\0')
    const pattern = nul < 0 ? text : text.slice(0, nul)
    const subject = nul < 0 ? '' : text.slice(nul + 1)
    const jdk = ((aux[1] ?? 0) & 1) === 0 ? 25 : 17
    let compiled
    try {
      compiled = compileJavaPattern(pattern, { jdk })
    } catch (e) {
      if (e instanceof JavaRegexError) return `err:${e.code}:${jdk}`
      throw e
    }
    invariant(compiled.pattern === pattern, 'compiled.pattern is not the source')
    let hits = 0
    for (const s of subjects(pattern, subject, aux)) {
      const m = compiled.matches(s)
      invariant(typeof m === 'boolean', 'matches() is not a boolean')
      invariant(compiled.matches(s) === m, 'matches() is not deterministic (a global/sticky RegExp?)')
      if (m) hits++
    }
    return `ok:${jdk}:${hits > 0 ? 'match' : 'nomatch'}`
  },
}
