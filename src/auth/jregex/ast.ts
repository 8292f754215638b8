/**
 * Syntax tree produced by the parser. Node kinds follow the node classes that
 * java.util.regex.Pattern builds (OpenJDK src/java.base/share/classes/java/util/regex/Pattern.java),
 * because the matching semantics of a construct depend on which node Java chose for it: a
 * quantifier over a plain atom (Ques/Curly) matches its atom "first success only" per iteration,
 * a quantified deterministic group becomes GroupCurly (also first success per iteration) while a
 * non-deterministic one becomes Prolog/Loop (full backtracking), `X?` on a group is a Branch, etc.
 * Every node carries `pos`, its index in the (\Q...\E-rewritten) pattern, for error reports.
 */
import type { CpSet } from './charset.js'

export type QuantType = 'greedy' | 'lazy' | 'possessive'

/**
 * How Java implements a quantifier:
 *  - 'ques'   Pattern.Ques over a non-group atom (atom matched first-success-only)
 *  - 'curly'  Pattern.Curly / CharPropertyGreedy over a non-group atom, or a possessive Curly over a group
 *  - 'branch' `(X)?` / `(X)??`: a Branch between the group and nothing (full backtracking)
 *  - 'groupCurly' GroupCurly: deterministic group, each iteration first-success-only
 *  - 'loop'   Prolog + Loop / LazyLoop: full backtracking
 */
export type QuantKind = 'ques' | 'curly' | 'branch' | 'groupCurly' | 'loop'

export const MAX_REPS = 0x7fffffff

export type Node =
  | { readonly t: 'seq'; readonly pos: number; readonly items: readonly Node[] }
  | { readonly t: 'alt'; readonly pos: number; readonly alts: readonly Node[] }
  | { readonly t: 'set'; readonly pos: number; readonly set: CpSet }
  | { readonly t: 'group'; readonly pos: number; readonly end: number; readonly capture: number; readonly body: Node }
  | {
      readonly t: 'look'
      readonly pos: number
      readonly behind: boolean
      readonly negate: boolean
      readonly body: Node
      /** Look-behind only: Java's TreeInfo minLength / maxLength (int32 arithmetic, may have wrapped). */
      readonly rmin: number
      readonly rmax: number
      /** Look-behind only: BehindS/NotBehindS (code-point stepping) instead of Behind/NotBehind. */
      readonly supplementary: boolean
    }
  | { readonly t: 'atomic'; readonly pos: number; readonly body: Node }
  | {
      readonly t: 'quant'
      readonly pos: number
      readonly kind: QuantKind
      readonly type: QuantType
      readonly min: number
      readonly max: number
      /** Written as `*`, `+` or `{n,}` (Pattern.curly(): CharPropertyGreedy for a greedy class). */
      readonly open: boolean
      readonly atom: Node
    }
  | { readonly t: 'backref'; readonly pos: number; readonly group: number; readonly ci: boolean; readonly unicodeCase: boolean }
  | { readonly t: 'begin'; readonly pos: number }
  | { readonly t: 'end'; readonly pos: number }
  | { readonly t: 'lastMatch'; readonly pos: number }
  | { readonly t: 'dollar'; readonly pos: number; readonly multiline: boolean; readonly unixLines: boolean }
  | { readonly t: 'caret'; readonly pos: number; readonly unixLines: boolean }
  | { readonly t: 'bound'; readonly pos: number; readonly negate: boolean; readonly unicodeWord: boolean }
  | { readonly t: 'lineEnding'; readonly pos: number }
  /**
   * A construct Java accepts but we do not translate (\X, \b{g}, (?c) classes). The parser keeps
   * going so that a later syntax error still wins, as in Java; `study` mirrors the Java node's
   * TreeInfo contribution (XGrapheme / NFCCharProperty: 'grapheme', GraphemeBound: 'zero').
   */
  | { readonly t: 'unsupported'; readonly pos: number; readonly construct: string; readonly study: 'grapheme' | 'zero' }

export interface ParsedPattern {
  readonly root: Node
  readonly groupCount: number
}
