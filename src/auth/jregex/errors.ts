/**
 * Error type of the Java regex translator (src/auth/jregex.ts).
 *
 * `code` is machine readable:
 *  - 'syntax': java.util.regex.Pattern.compile itself rejects the pattern. `construct` is the
 *    PatternSyntaxException description (Java's wording, e.g. "Dangling meta character '*'") and
 *    `index` its getIndex() value.
 *  - 'unsupported': Java accepts the pattern but it uses a construct that cannot be translated to a
 *    JavaScript RegExp with identical results; `construct` names it (e.g. '\\X grapheme cluster').
 *
 * `index` follows PatternSyntaxException.getIndex(): an offset in code points into the pattern after
 * Java's \Q...\E rewriting (Pattern.RemoveQEQuoting), which equals the UTF-16 offset for BMP-only
 * patterns without \Q. For 'unsupported' it is the same kind of offset of the offending construct.
 */
export type JavaRegexErrorCode = 'syntax' | 'unsupported'

export class JavaRegexError extends Error {
  readonly code: JavaRegexErrorCode
  readonly construct: string
  readonly index: number

  constructor(code: JavaRegexErrorCode, construct: string, index: number, pattern: string) {
    super(describe(code, construct, index, pattern))
    this.name = 'JavaRegexError'
    this.code = code
    this.construct = construct
    this.index = index
  }
}

function describe(code: JavaRegexErrorCode, construct: string, index: number, pattern: string): string {
  const where = index >= 0 ? ` near index ${index}` : ''
  const shown = pattern.length > 200 ? `${pattern.slice(0, 200)}...` : pattern
  return code === 'syntax'
    ? `invalid Java regex: ${construct}${where}: ${shown}`
    : `Java regex construct not supported by the JavaScript translation: ${construct}${where}: ${shown}`
}
