/**
 * JavaScript RegExp source generation for the tree of ast.ts.
 *
 * The generated RegExp has NO flags: it works on UTF-16 code units like Java's char indices, and
 * every Java construct is spelled out explicitly (character classes as code-unit alternatives that
 * decode code points like Character.codePointAt, anchors and \b as look-arounds with Java's rules,
 * case-insensitivity already folded into the sets by the parser). Why not the `u` flag: Java is
 * not purely code-point based — a look-behind without supplementary characters in the pattern
 * text steps back by chars and may start inside a surrogate pair (Pattern.Behind vs BehindS) and
 * Pattern.Bound walks back by chars — which a `u`-mode RegExp cannot express.
 *
 * Constructs without a JavaScript counterpart are emulated:
 *  - atomic groups, possessive quantifiers and Java's "first success only" iterations (Ques/Curly
 *    over an atom, GroupCurly) as `(?=(X))\k` (a look-ahead capture consumed by a back reference);
 *  - look-behinds as Java runs them: the body matched forwards from each start position Java tries;
 *  - $, \Z, ^ with MULTILINE, \b, \B, \R with Java's line terminator and word rules;
 *  - back references to groups that may not have matched (backrefs.ts decides which are exact).
 * Every emitted capture group is allocated in source order (JavaScript numbers groups by the
 * position of their opening parenthesis), so nothing may be generated and then discarded.
 */
import { CpSet, backwardSource, classSource, forwardSource, literalString } from './charset.js'
import { MAX_REPS, type Node, type QuantType } from './ast.js'
import type { BackrefVerdict } from './backrefs.js'
import { ASCII, Predicates } from './properties.js'
import { unicodeTables, type JdkFlavor } from './unicode.js'

/** Thrown for valid Java we cannot translate faithfully. */
export class UnsupportedConstruct extends Error {
  constructor(readonly construct: string, readonly index: number) {
    super(construct)
  }
}

interface Where {
  /** Inside an atomic context, where the first successful match (not just any match) matters. */
  readonly atomic: boolean
}

const TOP: Where = { atomic: false }
const HIGH = '[\\uD800-\\uDBFF]'
const LOW = '[\\uDC00-\\uDFFF]'
const ANY_UNIT = '[\\s\\S]'
/**
 * One code point BACKWARDS inside a look-behind, as Pattern.countChars(seq, j, -1) steps in BehindS:
 * a pair if a low surrogate is preceded by a high one, else one char. The alternatives exclude each
 * other, so a pair is never split.
 */
const CODE_POINT_STEP_BACK = `(?:${HIGH}${LOW}|(?<!${HIGH})${LOW}|[^\\uDC00-\\uDFFF])`
/** Pattern's line terminators for $ / ^ (without UNIX_LINES). */
const TERMINATOR_CLASS = '[\\n\\r\\x85\\u2028\\u2029]'
/** Longer than any V8 string (String::kMaxLength): a count this large can never be reached. */
const HUGE = 0x1fffffe8

export class Generator {
  private jsGroups = 0
  private readonly javaToJs = new Map<number, number>()
  /** Java groups with participation markers: JS numbers of the prefix and suffix captures. */
  private readonly markers = new Map<number, { prefix: number; suffix: number }>()
  private readonly tracked: ReadonlySet<number>
  private predsCache: Predicates | undefined

  constructor(
    private readonly jdk: JdkFlavor,
    private readonly backrefs: ReadonlyMap<Node, BackrefVerdict>,
  ) {
    const tracked = new Set<number>()
    for (const [ref, verdict] of backrefs) if (verdict === 'tracked' && ref.t === 'backref') tracked.add(ref.group)
    this.tracked = tracked
  }

  /** Full-match source: Java's Matcher.matches() must consume the whole input from index 0. */
  program(root: Node): string {
    return `^(?:${this.gen(root, TOP)})$`
  }

  private get preds(): Predicates {
    this.predsCache ??= new Predicates(unicodeTables(this.jdk))
    return this.predsCache
  }

  private allocGroup(): number {
    return ++this.jsGroups
  }

  private gen(node: Node, w: Where): string {
    switch (node.t) {
      case 'seq':
        return node.items.map((n) => this.gen(n, w)).join('')
      case 'alt':
        return `(?:${node.alts.map((n) => this.gen(n, w)).join('|')})`
      case 'set':
        return forwardSource(node.set)
      case 'group':
        return this.group(node, w)
      case 'look':
        return node.behind ? this.lookBehind(node) : `(?${node.negate ? '!' : '='}${this.gen(node.body, TOP)})`
      case 'atomic':
        return this.atomic((inner) => this.gen(node.body, inner))
      case 'quant':
        return this.quant(node, w)
      case 'backref':
        return this.backref(node)
      case 'begin':
      case 'lastMatch':
        // \G is where the previous match ended; a fresh Matcher.matches() starts with oldLast = 0
        // (Matcher.match: `this.oldLast = oldLast < 0 ? from : oldLast`), so \G is \A here.
        return '^'
      case 'end':
        return '$'
      case 'dollar':
        return dollar(node.multiline, node.unixLines)
      case 'caret':
        return node.unixLines ? '(?!$)(?:^|(?<=\\n))' : `(?!$)(?:^|(?<=${TERMINATOR_CLASS})(?!(?<=\\r)\\n))`
      case 'bound':
        return this.bound(node.negate, node.unicodeWord)
      case 'lineEnding':
        return LINE_ENDING
      case 'unsupported':
        throw new UnsupportedConstruct(node.construct, node.pos)
    }
  }

  private group(node: Extract<Node, { t: 'group' }>, w: Where): string {
    if (node.capture === 0) return `(?:${this.gen(node.body, w)})`
    const js = this.allocGroup()
    this.javaToJs.set(node.capture, js)
    const body = this.gen(node.body, w)
    if (!this.tracked.has(node.capture)) return `(${body})`
    // Participation markers (see backrefs.ts 'tracked'): the input before and after the group's
    // end. At least one is non-empty whenever the input is, so "both empty" means "not matched".
    const prefix = this.allocGroup()
    const suffix = this.allocGroup()
    this.markers.set(node.capture, { prefix, suffix })
    return `(${body}(?<=^(${ANY_UNIT}*))(?=(${ANY_UNIT}*)))`
  }

  /**
   * Atomic match of `body`: `(?=(X))\n` takes the first way X matches and never backtracks into it.
   * Java explores a Loop whose body can match the empty string in a different order than
   * JavaScript (Pattern.Loop stops at an empty iteration, JavaScript rejects it), which changes the
   * FIRST match; that is refused (see quant()).
   */
  private atomic(body: (inner: Where) => string): string {
    const n = this.allocGroup()
    const src = body({ atomic: true })
    return `(?:(?=(${src}))\\${n})`
  }

  private backref(node: Extract<Node, { t: 'backref' }>): string {
    const verdict = this.backrefs.get(node) ?? 'unsafe'
    if (verdict === 'never') return '(?!)'
    if (verdict === 'unsafe') throw new UnsupportedConstruct('back reference to a group that may not have matched at that point', node.pos)
    if (node.ci) throw new UnsupportedConstruct('case-insensitive back reference', node.pos)
    const js = this.javaToJs.get(node.group)
    if (js === undefined) throw new UnsupportedConstruct('back reference to a group that may not have matched at that point', node.pos)
    if (verdict === 'tracked') {
      const m = this.markers.get(node.group)
      if (m === undefined) throw new UnsupportedConstruct('back reference to a group that may not have matched at that point', node.pos)
      // Pattern.BackRef fails for an unset group; JavaScript would match "". Require a marker:
      // the prefix is non-empty (checked from index 0) or the suffix is (checked from the end).
      const prefixSet = `(?<=^(?=\\${m.prefix}(?<=${ANY_UNIT}))${ANY_UNIT}*)`
      const suffixSet = `(?=${ANY_UNIT}*(?<=(?=${ANY_UNIT})\\${m.suffix})$)`
      return `(?:(?:${prefixSet}|${suffixSet})\\${js})`
    }
    return `(?:\\${js})`
  }

  // ------------------------------------------------------------------ quantifiers

  private quant(node: Extract<Node, { t: 'quant' }>, w: Where): string {
    const { kind, type, min, max, atom } = node
    if ((kind === 'ques' || kind === 'curly') && zeroWidth(atom)) return this.zeroWidthQuant(node, w)
    if (kind === 'branch') {
      // Pattern.group0: `(X)?` is Branch(X, null), `(X)??` is Branch(null, X). An alternation (not
      // `?`) keeps an empty match of X, which JavaScript's `?` would reject.
      const g = this.gen(atom, w)
      return type === 'lazy' ? `(?:|${g})` : `(?:${g}|)`
    }
    if (kind === 'loop') {
      // Keep in step with hasNullableLoop (used by backrefs.ts).
      if (w.atomic && nullable(atom)) {
        throw new UnsupportedConstruct('quantified group that can match the empty string inside an atomic group or possessive quantifier', node.pos)
      }
      return `(?:${this.gen(atom, w)})${suffix(min, max, type)}`
    }
    // Ques, Curly, GroupCurly: every iteration takes the atom's first match only.
    if (type === 'possessive') return this.possessive(node, w)
    const a = this.firstSuccess(atom, w)
    if (kind === 'ques') {
      // Alternation rather than `?` keeps an empty match of the atom (JavaScript's `?` rejects an
      // iteration that matched nothing); for one code point both are the same.
      if (atom.t === 'set') return `${wrap(a, atom)}${type === 'lazy' ? '??' : '?'}`
      return type === 'lazy' ? `(?:|${a})` : `(?:${a}|)`
    }
    return `${wrap(a, atom)}${suffix(min, max, type)}`
  }

  /** The atom matched "first success only", as Java's Ques/Curly/GroupCurly call atom.match. */
  private firstSuccess(atom: Node, w: Where): string {
    if (singleWay(atom)) return this.gen(atom, w)
    if (atom.t === 'lineEnding') return ATOMIC_LINE_ENDING
    return this.atomic((inner) => this.gen(atom, inner))
  }

  private possessive(node: Extract<Node, { t: 'quant' }>, w: Where): string {
    const { min, max, atom } = node
    if (atom.t === 'set') {
      // A single code point per iteration: "as many as possible, then no more" is a plain assertion.
      const a = forwardSource(atom.set)
      if (min === 0 && max === 1) return `(?:${a}|(?!${a}))`
      if (min === max) return `${wrap(a, atom)}${suffix(min, max, 'greedy')}`
      if (max >= MAX_REPS) return `${wrap(a, atom)}${suffix(min, max, 'greedy')}(?!${a})`
      return `(?:${wrap(a, atom)}{${max}}|${wrap(a, atom)}${suffix(min, max - 1, 'greedy')}(?!${a}))`
    }
    return this.atomic((inner) => {
      const a = this.firstSuccess(atom, inner)
      return node.kind === 'ques' ? `(?:${a}|)` : `${wrap(a, atom)}${suffix(min, max, 'greedy')}`
    })
  }

  /**
   * Ques / Curly over a zero-width atom (look-around, anchor, empty slice): Curly.match0 stops at
   * the first zero-length iteration, so the atom is evaluated at most once. JavaScript cannot
   * quantify a look-behind at all, hence the explicit forms.
   */
  private zeroWidthQuant(node: Extract<Node, { t: 'quant' }>, w: Where): string {
    // Lazy Curly (match1) never needs the atom; not generating it keeps the JS group numbering
    // in step with the emitted source (every generated group must appear exactly once).
    if (node.kind === 'curly' && node.type === 'lazy' && node.min === 0) return '(?:)'
    const a = this.gen(node.atom, w)
    if (node.min >= 1) return `(?:${a})`
    if (node.kind === 'ques') {
      if (node.type === 'greedy') return `(?:${a}|)`
      if (node.type === 'lazy') return `(?:|${a})`
      return `(?=${a}|)`
    }
    // Curly: greedy (match0) and possessive (match2) keep the atom's effects if it matches and
    // never retry without it (lazy, match1, only tries the continuation: handled above).
    return `(?=${a}|)`
  }

  // ------------------------------------------------------------------ look-behind

  /**
   * Pattern.Behind/NotBehind try start positions j from i - rmin down to max(i - rmax, 0) (chars;
   * int32 arithmetic), BehindS/NotBehindS the same counted in code points (stepping back with
   * countChars, so never inside a surrogate pair); for each j the body is matched FORWARDS and must
   * end exactly at i (LookBehindEndNode). That is reproduced literally:
   *   (?=(REST))(?<=(?=BODY\REST$)STEP{rmin,rmax}?)
   * REST captures the input after i; inside the look-behind, the lazy STEP quantifier walks back to
   * each candidate j in Java's order and the look-ahead runs BODY left to right from j, where
   * `\REST$` holds exactly at i. So atomic groups, possessive quantifiers and nested look-arounds in
   * the body behave as in Java, including starts inside surrogate pairs (Behind) or not (BehindS).
   */
  private lookBehind(node: Extract<Node, { t: 'look' }>): string {
    const { rmin, rmax, supplementary, negate } = node
    const overflow = (): UnsupportedConstruct => new UnsupportedConstruct('look-behind whose length bounds overflow int', node.pos)
    if (rmin < 0) throw overflow()
    let guard = '' // Behind only: with an overflowed rmax the window is empty unless i > t
    let windowMax = rmax
    if (supplementary) {
      // countChars(seq, i, -rmax) with a negative rmax counts forwards: not reproduced.
      if (rmax < 0 || rmax < rmin) throw overflow()
    } else if (rmax < 0) {
      // from = max(i - rmax, 0) wraps to a negative value, i.e. 0, exactly when i > t.
      const t = 0x7fffffff + rmax
      if (t + 1 > HUGE) return negate ? '(?:)' : '(?!)'
      if (t >= 0) guard = `(?<=${ANY_UNIT}{${t + 1}})`
      windowMax = MAX_REPS
    } else if (rmax < rmin) {
      return negate ? '(?:)' : '(?!)'
    }
    if (rmin > HUGE) return negate ? '(?:)' : '(?!)'
    const n = this.allocGroup()
    const body = this.gen(node.body, TOP)
    const step = supplementary ? CODE_POINT_STEP_BACK : ANY_UNIT
    const hi = windowMax >= HUGE ? '' : String(windowMax)
    const core = `(?=(?:${body})\\${n}$)${step}{${rmin},${hi}}?`
    const positive = `${guard}(?<=${core})`
    const result = negate ? (guard === '' ? `(?<!${core})` : `(?!${positive})`) : positive
    return `(?:(?=(${ANY_UNIT}*))${result})`
  }

  // ------------------------------------------------------------------ \b

  /**
   * Pattern.Bound: a boundary is where exactly one side is a word character. The left character
   * is Character.codePointBefore(i), the right one codePointAt(i). JDK 19+ uses the ASCII word
   * class (unless UNICODE_CHARACTER_CLASS), JDK 17 `_` plus Character.isLetterOrDigit. In both, a
   * non-spacing mark (Mn) counts as a word character when hasBaseCharacter finds a letter or digit
   * before it, walking back by chars over Mn characters only.
   */
  private bound(negate: boolean, unicodeWord: boolean): string {
    const p = this.preds
    const word = unicodeWord ? p.word() : this.jdk === 17 ? p.letterOrDigit().union(CpSet.of(0x5f)) : ASCII.WORD
    const bmp = CpSet.range(0, 0xd7ff).union(CpSet.range(0xe000, 0xffff))
    const mn = p.nonSpacingMark()
    const base = classSource(p.letterOrDigit().intersect(bmp))
    const marks = classSource(mn.intersect(bmp))
    const left = `(?<=${backwardSource(word)})|(?<=${base}${marks}+)`
    const right = `(?=${forwardSource(word)})|(?=${forwardSource(mn)})(?<=${base}${marks}*)`
    return negate ? `(?:(?=${right})(?=${left})|(?!${right})(?!${left}))` : `(?:(?=${right})(?!${left})|(?!${right})(?=${left}))`
  }
}

/** Pattern.LineEnding: \r\n, or one of [\n\x0B\f\r\x85\u2028\u2029] (it may back off from \r\n to \r). */
const LINE_ENDING = `(?:${literalString('\r\n')}|[\\n\\x0b\\f\\r\\x85\\u2028\\u2029])`

/** LineEnding matched first-success-only (inside Ques / Curly): \r\n is never split. */
const ATOMIC_LINE_ENDING = `(?:${literalString('\r\n')}|(?!${literalString('\r\n')})[\\n\\x0b\\f\\r\\x85\\u2028\\u2029])`

/**
 * Pattern.Dollar / UnixDollar. Without MULTILINE: end of input, or before a final line terminator
 * (\r\n counting as one, and never between \r and \n). With MULTILINE: before any terminator.
 */
function dollar(multiline: boolean, unixLines: boolean): string {
  if (unixLines) return multiline ? '(?=\\n|$)' : '(?=\\n?$)'
  if (multiline) return '(?=(?<!\\r)\\n|[\\r\\x85\\u2028\\u2029]|$)'
  return '(?=(?:\\r\\n|(?<!\\r)\\n|[\\r\\x85\\u2028\\u2029])?$)'
}

function suffix(min: number, max: number, type: QuantType): string {
  let s: string
  if (max >= MAX_REPS) s = min === 0 ? '*' : min === 1 ? '+' : `{${min},}`
  else if (min === max) s = `{${min}}`
  else s = min === 0 && max === 1 ? '?' : `{${min},${max}}`
  return type === 'lazy' ? `${s}?` : s
}

/** A bracket class, or one literal unit as charset.ts literalUnit writes it. */
const SINGLE_ATOM = /^(?:\[(?:[^\]\\]|\\.)*\]|\\x[0-9a-f]{2}|\\u[0-9a-f]{4}|\\[$()*+./?[\\\]^{|}]|[A-Za-z0-9 !"#%&',\-:;<=>@_`~])$/

/** Parenthesises a generated atom unless it is already a single class or escape. */
function wrap(src: string, atom: Node): string {
  if (atom.t === 'set' && SINGLE_ATOM.test(src)) return src
  return `(?:${src})`
}

/** Always matches the empty string without consuming (so a quantifier over it stops at once). */
export function zeroWidth(node: Node): boolean {
  switch (node.t) {
    case 'seq':
      return node.items.every(zeroWidth)
    case 'group':
    case 'atomic':
      return zeroWidth(node.body)
    case 'look':
    case 'begin':
    case 'end':
    case 'lastMatch':
    case 'dollar':
    case 'caret':
    case 'bound':
      return true
    case 'unsupported':
      return node.study === 'zero'
    default:
      return false
  }
}

/** May match the empty string (conservative). */
export function nullable(node: Node): boolean {
  switch (node.t) {
    case 'seq':
      return node.items.every(nullable)
    case 'alt':
      return node.alts.some(nullable)
    case 'set':
    case 'lineEnding':
      return false
    case 'group':
    case 'atomic':
      return nullable(node.body)
    case 'quant':
      return node.min === 0 || nullable(node.atom)
    default:
      return true
  }
}

/** Contains a Loop / LazyLoop whose body can match the empty string (order-sensitive, see atomic()). */
export function hasNullableLoop(node: Node): boolean {
  switch (node.t) {
    case 'seq':
      return node.items.some(hasNullableLoop)
    case 'alt':
      return node.alts.some(hasNullableLoop)
    case 'group':
    case 'atomic':
    case 'look':
      return hasNullableLoop(node.body)
    case 'quant':
      return (node.kind === 'loop' && nullable(node.atom)) || hasNullableLoop(node.atom)
    default:
      return false
  }
}

/** Has at most one way to match at a given position, so "first success" is "any success". */
export function singleWay(node: Node): boolean {
  switch (node.t) {
    case 'seq':
      return node.items.every(singleWay)
    case 'group':
      return singleWay(node.body)
    case 'alt':
    case 'lineEnding':
    case 'unsupported':
      return false
    case 'quant':
      // Possessive: atomic. Curly / GroupCurly with a fixed count: each iteration is first-success.
      if (node.type === 'possessive') return true
      if (node.min !== node.max) return false
      return node.kind === 'curly' || node.kind === 'groupCurly' || (node.kind === 'loop' && singleWay(node.atom))
    default:
      return true // sets, back references, anchors, look-arounds, atomic groups
  }
}
