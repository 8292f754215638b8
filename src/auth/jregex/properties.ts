/**
 * Character-class building blocks: the predicates of java.util.regex.CharPredicates and
 * java.util.regex.ASCII as code-point sets, and the \p{...} name resolution of Pattern.family().
 * Everything Unicode-dependent comes from the JDK-generated tables (unicode.ts).
 */
import { CpSet } from './charset.js'
import { GC, LETTER_MASK, gcMask, type UnicodeTables } from './unicode.js'

const r = (lo: number, hi: number): CpSet => CpSet.range(lo, hi)

/** java.util.regex.ASCII ctype classes (ASCII.java ctype table). */
export const ASCII = {
  UPPER: r(0x41, 0x5a),
  LOWER: r(0x61, 0x7a),
  DIGIT: r(0x30, 0x39),
  ALPHA: r(0x41, 0x5a).union(r(0x61, 0x7a)),
  ALNUM: r(0x30, 0x39).union(r(0x41, 0x5a)).union(r(0x61, 0x7a)),
  WORD: r(0x30, 0x39).union(r(0x41, 0x5a)).union(r(0x61, 0x7a)).union(CpSet.of(0x5f)),
  SPACE: r(0x09, 0x0d).union(CpSet.of(0x20)),
  BLANK: CpSet.of(0x09, 0x20),
  CNTRL: r(0x00, 0x1f).union(CpSet.of(0x7f)),
  PUNCT: r(0x21, 0x2f).union(r(0x3a, 0x40)).union(r(0x5b, 0x60)).union(r(0x7b, 0x7e)),
  GRAPH: r(0x21, 0x7e),
  XDIGIT: r(0x30, 0x39).union(r(0x41, 0x46)).union(r(0x61, 0x66)),
} as const

export function isAsciiAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
}
export function isAsciiAlnum(c: number): boolean {
  return isAsciiAlpha(c) || (c >= 0x30 && c <= 0x39)
}
export function isAsciiDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39
}
export function isAsciiHex(c: number): boolean {
  return isAsciiDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
}
export function hexValue(c: number): number {
  return isAsciiDigit(c) ? c - 0x30 : (c | 0x20) - 0x61 + 10
}
/** ASCII.isSpace: \t \n \x0B \f \r and space. */
export function isAsciiSpace(c: number): boolean {
  return (c >= 0x09 && c <= 0x0d) || c === 0x20
}
/** ASCII.toLower / ASCII.toUpper: only A-Z / a-z change. */
export function asciiLower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 0x20 : c
}
export function asciiUpper(c: number): number {
  return c >= 0x61 && c <= 0x7a ? c - 0x20 : c
}

/** Pattern.DOT(): everything but \n \r U+0085 U+2028 U+2029. */
export const DOT = CpSet.of(0x0a, 0x0d, 0x85, 0x2028, 0x2029).complement()
/** Pattern.UNIXDOT(): everything but \n. */
export const UNIXDOT = CpSet.of(0x0a).complement()
/** Pattern.VertWS(): [\n\x0B\f\r\x85\u2028\u2029]. */
export const VERT_WS = r(0x0a, 0x0d).union(CpSet.of(0x85, 0x2028, 0x2029))
/** Pattern.HorizWS(). */
export const HORIZ_WS = CpSet.of(0x09, 0x20, 0xa0, 0x1680, 0x180e, 0x202f, 0x205f, 0x3000).union(r(0x2000, 0x200a))

const PUNCTUATION_MASK = gcMask(
  GC.CONNECTOR_PUNCTUATION,
  GC.DASH_PUNCTUATION,
  GC.START_PUNCTUATION,
  GC.END_PUNCTUATION,
  GC.OTHER_PUNCTUATION,
  GC.INITIAL_QUOTE_PUNCTUATION,
  GC.FINAL_QUOTE_PUNCTUATION,
)
const SEPARATOR_MASK = gcMask(GC.SPACE_SEPARATOR, GC.LINE_SEPARATOR, GC.PARAGRAPH_SEPARATOR)
const CASED_LETTER_MASK = gcMask(GC.UPPERCASE_LETTER, GC.LOWERCASE_LETTER, GC.TITLECASE_LETTER)

function required(t: UnicodeTables, name: string): CpSet {
  const s = t.binary(name)
  if (s === undefined) throw new Error(`Unicode tables of JDK ${t.jdk} lack ${name}`)
  return s
}

/** The java.util.regex.CharPredicates predicates (Unicode versions, used with (?U) and \p{IsXxx}). */
export class Predicates {
  constructor(private readonly t: UnicodeTables) {}

  alphabetic(): CpSet {
    return required(this.t, 'Alphabetic')
  }
  /** Character.isDigit: general category Nd. */
  digit(): CpSet {
    return this.t.category(gcMask(GC.DECIMAL_DIGIT_NUMBER))
  }
  /** Character.isLetter. */
  letter(): CpSet {
    return this.t.category(LETTER_MASK)
  }
  /** Character.isLetterOrDigit. */
  letterOrDigit(): CpSet {
    return this.t.category(LETTER_MASK | gcMask(GC.DECIMAL_DIGIT_NUMBER))
  }
  lowerCase(): CpSet {
    return required(this.t, 'LowerCase')
  }
  upperCase(): CpSet {
    return required(this.t, 'UpperCase')
  }
  titleCase(): CpSet {
    return required(this.t, 'TitleCase')
  }
  /** LOWERCASE/UPPERCASE/TITLECASE predicates under CASE_INSENSITIVE: the union of the three. */
  anyCase(): CpSet {
    return this.lowerCase().union(this.upperCase()).union(this.titleCase())
  }
  whiteSpace(): CpSet {
    return this.t.category(SEPARATOR_MASK).union(r(0x09, 0x0d)).union(CpSet.of(0x85))
  }
  control(): CpSet {
    return this.t.category(gcMask(GC.CONTROL))
  }
  punctuation(): CpSet {
    return this.t.category(PUNCTUATION_MASK)
  }
  hexDigit(): CpSet {
    return this.digit().union(ASCII.XDIGIT).union(r(0xff10, 0xff19)).union(r(0xff21, 0xff26)).union(r(0xff41, 0xff46))
  }
  assigned(): CpSet {
    return this.t.category(gcMask(GC.UNASSIGNED)).complement()
  }
  nonCharacterCodePoint(): CpSet {
    const pairs: number[] = [0xfdd0, 0xfdef]
    for (let plane = 0; plane <= 0x10; plane++) pairs.push(plane * 0x10000 + 0xfffe, plane * 0x10000 + 0xffff)
    return CpSet.fromPairs(pairs)
  }
  alnum(): CpSet {
    return this.alphabetic().union(this.digit())
  }
  blank(): CpSet {
    return this.t.category(gcMask(GC.SPACE_SEPARATOR)).union(CpSet.of(0x09))
  }
  graph(): CpSet {
    return this.t.category(SEPARATOR_MASK | gcMask(GC.CONTROL, GC.SURROGATE, GC.UNASSIGNED)).complement()
  }
  print(): CpSet {
    return this.graph().union(this.blank()).minus(this.control())
  }
  joinControl(): CpSet {
    return CpSet.of(0x200c, 0x200d)
  }
  /** CharPredicates.WORD(): alphabetic, marks, Nd, Pc, join controls. */
  word(): CpSet {
    const cats = gcMask(GC.NON_SPACING_MARK, GC.ENCLOSING_MARK, GC.COMBINING_SPACING_MARK, GC.DECIMAL_DIGIT_NUMBER, GC.CONNECTOR_PUNCTUATION)
    return this.alphabetic().union(this.t.category(cats)).union(this.joinControl())
  }
  nonSpacingMark(): CpSet {
    return this.t.category(gcMask(GC.NON_SPACING_MARK))
  }
  binary(name: string): CpSet | undefined {
    return this.t.binary(name)
  }
  category(mask: number): CpSet {
    return this.t.category(mask)
  }
  script(name: string): CpSet | null {
    return this.t.script(name)
  }
  block(name: string): CpSet | null {
    return this.t.block(name)
  }
}

/** CharPredicates.getPosixPredicate (names already upper-cased). */
function posixPredicate(p: Predicates, name: string, caseIns: boolean): CpSet | null {
  switch (name) {
    case 'ALPHA': return p.alphabetic()
    case 'LOWER': return caseIns ? p.anyCase() : p.lowerCase()
    case 'UPPER': return caseIns ? p.anyCase() : p.upperCase()
    case 'SPACE': return p.whiteSpace()
    case 'PUNCT': return p.punctuation()
    case 'XDIGIT': return p.hexDigit()
    case 'ALNUM': return p.alnum()
    case 'CNTRL': return p.control()
    case 'DIGIT': return p.digit()
    case 'BLANK': return p.blank()
    case 'GRAPH': return p.graph()
    case 'PRINT': return p.print()
    default: return null
  }
}

const EMOJI_PROPS: Record<string, string> = {
  EMOJI: 'Emoji',
  EMOJI_PRESENTATION: 'EmojiPresentation',
  EMOJI_MODIFIER: 'EmojiModifier',
  EMOJI_MODIFIER_BASE: 'EmojiModifierBase',
  EMOJI_COMPONENT: 'EmojiComponent',
  EXTENDED_PICTOGRAPHIC: 'ExtendedPictographic',
}

/** CharPredicates.getUnicodePredicate (names already upper-cased). */
function unicodePredicate(p: Predicates, name: string, caseIns: boolean): CpSet | null {
  switch (name) {
    case 'ALPHABETIC': return p.alphabetic()
    case 'ASSIGNED': return p.assigned()
    case 'CONTROL': return p.control()
    case 'HEXDIGIT':
    case 'HEX_DIGIT': return p.hexDigit()
    case 'IDEOGRAPHIC': return p.binary('Ideographic') ?? null
    case 'JOINCONTROL':
    case 'JOIN_CONTROL': return p.joinControl()
    case 'LETTER': return p.letter()
    case 'LOWERCASE': return caseIns ? p.anyCase() : p.lowerCase()
    case 'NONCHARACTERCODEPOINT':
    case 'NONCHARACTER_CODE_POINT': return p.nonCharacterCodePoint()
    case 'TITLECASE': return caseIns ? p.anyCase() : p.titleCase()
    case 'PUNCTUATION': return p.punctuation()
    case 'UPPERCASE': return caseIns ? p.anyCase() : p.upperCase()
    case 'WHITESPACE':
    case 'WHITE_SPACE': return p.whiteSpace()
    case 'WORD': return p.word()
    default: {
      // The emoji properties exist since JDK 21; the JDK 17 tables do not have them, so on 17
      // \p{IsEmoji} is an unknown name, as it is there.
      const emoji = EMOJI_PROPS[name]
      return emoji === undefined ? null : (p.binary(emoji) ?? null)
    }
  }
}

/** CharPredicates.forUnicodeProperty: toUpperCase(Locale.ROOT), Unicode names, then POSIX names. */
function forUnicodeProperty(p: Predicates, name: string, caseIns: boolean): CpSet | null {
  const upper = name.toUpperCase()
  return unicodePredicate(p, upper, caseIns) ?? posixPredicate(p, upper, caseIns)
}

const CATEGORY_NAMES: Record<string, number> = {
  Cn: gcMask(GC.UNASSIGNED),
  Lm: gcMask(GC.MODIFIER_LETTER),
  Lo: gcMask(GC.OTHER_LETTER),
  Mn: gcMask(GC.NON_SPACING_MARK),
  Me: gcMask(GC.ENCLOSING_MARK),
  Mc: gcMask(GC.COMBINING_SPACING_MARK),
  Nd: gcMask(GC.DECIMAL_DIGIT_NUMBER),
  Nl: gcMask(GC.LETTER_NUMBER),
  No: gcMask(GC.OTHER_NUMBER),
  Zs: gcMask(GC.SPACE_SEPARATOR),
  Zl: gcMask(GC.LINE_SEPARATOR),
  Zp: gcMask(GC.PARAGRAPH_SEPARATOR),
  Cc: gcMask(GC.CONTROL),
  Cf: gcMask(GC.FORMAT),
  Co: gcMask(GC.PRIVATE_USE),
  Cs: gcMask(GC.SURROGATE),
  Pd: gcMask(GC.DASH_PUNCTUATION),
  Ps: gcMask(GC.START_PUNCTUATION),
  Pe: gcMask(GC.END_PUNCTUATION),
  Pc: gcMask(GC.CONNECTOR_PUNCTUATION),
  Po: gcMask(GC.OTHER_PUNCTUATION),
  Sm: gcMask(GC.MATH_SYMBOL),
  Sc: gcMask(GC.CURRENCY_SYMBOL),
  Sk: gcMask(GC.MODIFIER_SYMBOL),
  So: gcMask(GC.OTHER_SYMBOL),
  Pi: gcMask(GC.INITIAL_QUOTE_PUNCTUATION),
  Pf: gcMask(GC.FINAL_QUOTE_PUNCTUATION),
  L: LETTER_MASK,
  M: gcMask(GC.NON_SPACING_MARK, GC.ENCLOSING_MARK, GC.COMBINING_SPACING_MARK),
  N: gcMask(GC.DECIMAL_DIGIT_NUMBER, GC.LETTER_NUMBER, GC.OTHER_NUMBER),
  Z: gcMask(GC.SPACE_SEPARATOR, GC.LINE_SEPARATOR, GC.PARAGRAPH_SEPARATOR),
  C: gcMask(GC.CONTROL, GC.FORMAT, GC.PRIVATE_USE, GC.SURROGATE, GC.UNASSIGNED),
  P: PUNCTUATION_MASK,
  S: gcMask(GC.MATH_SYMBOL, GC.CURRENCY_SYMBOL, GC.MODIFIER_SYMBOL, GC.OTHER_SYMBOL),
  LC: CASED_LETTER_MASK,
  LD: LETTER_MASK | gcMask(GC.DECIMAL_DIGIT_NUMBER),
}

/** CharPredicates.forProperty: case-sensitive names (categories, POSIX ASCII classes, java*). */
function forProperty(p: Predicates, name: string, caseIns: boolean): CpSet | null {
  switch (name) {
    case 'Lu': return p.category(caseIns ? CASED_LETTER_MASK : gcMask(GC.UPPERCASE_LETTER))
    case 'Ll': return p.category(caseIns ? CASED_LETTER_MASK : gcMask(GC.LOWERCASE_LETTER))
    case 'Lt': return p.category(caseIns ? CASED_LETTER_MASK : gcMask(GC.TITLECASE_LETTER))
    case 'L1': return r(0x00, 0xff)
    case 'all': return CpSet.ALL
    case 'ASCII': return r(0x00, 0x7f)
    case 'Alnum': return ASCII.ALNUM
    case 'Alpha': return ASCII.ALPHA
    case 'Blank': return ASCII.BLANK
    case 'Cntrl': return ASCII.CNTRL
    case 'Digit': return ASCII.DIGIT
    case 'Graph': return ASCII.GRAPH
    case 'Lower': return caseIns ? ASCII.ALPHA : ASCII.LOWER
    case 'Print': return r(0x20, 0x7e)
    case 'Punct': return ASCII.PUNCT
    case 'Space': return ASCII.SPACE
    case 'Upper': return caseIns ? ASCII.ALPHA : ASCII.UPPER
    case 'XDigit': return ASCII.XDIGIT
    case 'javaLowerCase': return caseIns ? p.anyCase() : p.lowerCase()
    case 'javaUpperCase': return caseIns ? p.anyCase() : p.upperCase()
    case 'javaTitleCase': return caseIns ? p.anyCase() : p.titleCase()
    case 'javaAlphabetic': return p.alphabetic()
    case 'javaIdeographic': return p.binary('Ideographic') ?? null
    case 'javaDigit': return p.digit()
    case 'javaDefined': return p.assigned()
    case 'javaLetter': return p.letter()
    case 'javaLetterOrDigit': return p.letterOrDigit()
    case 'javaJavaIdentifierStart': return p.binary('JavaIdentifierStart') ?? null
    case 'javaJavaIdentifierPart': return p.binary('JavaIdentifierPart') ?? null
    case 'javaUnicodeIdentifierStart': return p.binary('UnicodeIdentifierStart') ?? null
    case 'javaUnicodeIdentifierPart': return p.binary('UnicodeIdentifierPart') ?? null
    case 'javaIdentifierIgnorable': return p.binary('IdentifierIgnorable') ?? null
    case 'javaSpaceChar': return p.category(SEPARATOR_MASK)
    case 'javaWhitespace': return p.binary('Whitespace') ?? null
    case 'javaISOControl': return r(0x00, 0x1f).union(r(0x7f, 0x9f))
    case 'javaMirrored': return p.binary('Mirrored') ?? null
    default: {
      const mask = Object.prototype.hasOwnProperty.call(CATEGORY_NAMES, name) ? CATEGORY_NAMES[name] : undefined
      return mask === undefined ? null : p.category(mask)
    }
  }
}

export type FamilyResult = { ok: true; set: CpSet } | { ok: false; message: string }

/**
 * The name lookup of Pattern.family(): \p{name=value}, \p{InBlock}, \p{IsXxx}, plain names. The
 * failure message is Java's PatternSyntaxException description.
 */
export function resolveFamily(p: Predicates, name: string, caseIns: boolean, unicodeClass: boolean): FamilyResult {
  const eq = name.indexOf('=')
  if (eq !== -1) {
    const value = name.slice(eq + 1)
    const key = name.slice(0, eq).toLowerCase()
    let set: CpSet | null = null
    if (key === 'sc' || key === 'script') set = p.script(value)
    else if (key === 'blk' || key === 'block') set = p.block(value)
    else if (key === 'gc' || key === 'general_category') set = forProperty(p, value, caseIns)
    return set === null ? { ok: false, message: `Unknown Unicode property {name=<${key}>, value=<${value}>}` } : { ok: true, set }
  }
  let set: CpSet | null
  if (name.startsWith('In')) {
    set = p.block(name.slice(2))
  } else if (name.startsWith('Is')) {
    const short = name.slice(2)
    set = forUnicodeProperty(p, short, caseIns) ?? forProperty(p, short, caseIns) ?? p.script(short)
  } else {
    set = (unicodeClass ? posixPredicate(p, name.toUpperCase(), caseIns) : null) ?? forProperty(p, name, caseIns)
  }
  return set === null ? { ok: false, message: `Unknown character property name {${name}}` } : { ok: true, set }
}
