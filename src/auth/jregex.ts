/**
 * Faithful translation of java.util.regex patterns to JavaScript RegExp, so that the gateway can
 * evaluate a cross-cluster API key's `certificate_identity` exactly as Elasticsearch does:
 * `Pattern.compile(value).matcher(dn).matches()` (spec cross-cluster-auth.md §4, §6).
 *
 * Pipeline: parser.ts (a port of Pattern's recursive descent, reporting Java's syntax errors and
 * evaluating classes to code-point sets with the JDK's Unicode tables) -> backrefs.ts (which back
 * references keep Java's semantics) -> codegen.ts (flag-less RegExp source over UTF-16 code units,
 * anchored for a full match). Anything valid in Java that cannot be reproduced exactly throws
 * JavaRegexError with code 'unsupported' instead of being approximated.
 *
 * Not covered by this module: execution cost. Both engines backtrack, but Java's Loop memoises
 * failed positions (Pattern.Loop.posIndex) where V8 does not, so a pathological pattern can be
 * much slower here than in Java (spec §6 item 19).
 */
import { analyzeBackrefs } from './jregex/backrefs.js'
import { Generator, UnsupportedConstruct } from './jregex/codegen.js'
import { JavaRegexError } from './jregex/errors.js'
import { Parser, SyntaxFailure } from './jregex/parser.js'
import type { JdkFlavor } from './jregex/unicode.js'

export { JavaRegexError } from './jregex/errors.js'
export type { JavaRegexErrorCode } from './jregex/errors.js'
export type { JdkFlavor } from './jregex/unicode.js'

export interface CompiledJavaPattern {
  /** The Java source. */
  readonly pattern: string
  /** The translated RegExp source (for diagnostics). */
  readonly jsSource: string
  readonly jsFlags: string
  /** Same result as Pattern.compile(pattern).matcher(input).matches(). */
  matches(input: string): boolean
}

export interface CompileOptions {
  /**
   * The JDK whose java.util.regex is reproduced. Elasticsearch 9.x runs on JDK 25 (the default).
   * Differences: \b word characters (JDK 17: Unicode letters and digits; JDK 19+: ASCII), Unicode
   * data (JDK 17: Unicode 13, JDK 25: Unicode 16; emoji properties only on 25) and two error cases.
   */
  readonly jdk?: JdkFlavor
}

class Compiled implements CompiledJavaPattern {
  readonly jsFlags = ''
  private readonly regex: RegExp

  constructor(
    readonly pattern: string,
    readonly jsSource: string,
  ) {
    this.regex = new RegExp(jsSource, this.jsFlags)
    // V8 compiles a RegExp lazily, once per string representation, and only then reports limits
    // such as "Regular expression too large": run it on a one-byte and a two-byte string now so
    // that matches() itself cannot fail that way.
    this.regex.test('')
    this.regex.test('\u0100')
  }

  matches(input: string): boolean {
    return this.regex.test(input)
  }
}

/**
 * The parser, Java's TreeInfo emulation and the generator recurse over the pattern's nesting. Java
 * also recurses and turns its StackOverflowError into "Stack overflow during pattern compilation",
 * but at a different depth, so a pattern that exhausts our stack is reported as unsupported.
 */
function tooDeep(e: unknown, pattern: string): unknown {
  return e instanceof RangeError ? new JavaRegexError('unsupported', 'pattern too deeply nested to translate', -1, pattern) : e
}

/**
 * Compiles a Java regex as Pattern.compile(pattern) (no flags) would, for full-match use.
 * @throws JavaRegexError code 'syntax' when Java rejects the pattern, 'unsupported' when it is
 *   valid Java that cannot be translated with identical behaviour.
 */
export function compileJavaPattern(pattern: string, opts?: CompileOptions): CompiledJavaPattern {
  const jdk: JdkFlavor = opts?.jdk ?? 25
  const parser = new Parser(pattern, jdk)
  let parsed
  try {
    parsed = parser.parse()
  } catch (e) {
    if (e instanceof SyntaxFailure) throw new JavaRegexError('syntax', e.description, e.index, pattern)
    throw tooDeep(e, pattern)
  }
  if (parser.unsupported !== undefined) {
    throw new JavaRegexError('unsupported', parser.unsupported.construct, parser.unsupported.index, pattern)
  }
  let source: string
  try {
    source = new Generator(jdk, analyzeBackrefs(parsed.root, parsed.groupCount)).program(parsed.root)
  } catch (e) {
    if (e instanceof UnsupportedConstruct) throw new JavaRegexError('unsupported', e.construct, e.index, pattern)
    throw tooDeep(e, pattern)
  }
  try {
    return new Compiled(pattern, source)
  } catch (e) {
    // A RegExp the engine refuses is a translation gap, never an invalid Java pattern (spec §6).
    throw new JavaRegexError('unsupported', `translation not accepted by the JavaScript engine (${String(e)})`, 0, pattern)
  }
}
