/**
 * Which back references can be translated to a plain JavaScript back reference.
 *
 * Java and JavaScript differ on group state in three ways that matter to \n:
 *  1. A reference to a group that has not matched FAILS in Java (Pattern.BackRef.match: `if (j < 0)
 *     return false`) but matches the empty string in JavaScript.
 *  2. JavaScript clears the captures inside a quantified group at the start of every iteration;
 *     Java keeps the previous iteration's values (and Loop/GroupCurly treat empty iterations
 *     differently), so after or across iterations the values can differ.
 *  3. Java does not restore captures set inside a look-around or an atomic group when the match
 *     later backtracks past it (GroupTail only restores on its own failure path), JavaScript does.
 *
 * Verdicts:
 *  - 'safe': the group is certainly set by the current path, in the same iteration, and not by a
 *    look-around / atomic construct that Java may have re-run on an abandoned path since: a plain
 *    \n. (A positive look-around or atomic group outside every loop, whose first match both engines
 *    find alike, runs once per path, so its captures are reliable after it.)
 *  - 'never': the group cannot have matched at that point in Java: it closes later in the pattern
 *    text, shares no loop with the reference, and sits in no construct whose captures Java leaves
 *    set after backtracking (those can reach a reference re-evaluated later): always fails.
 *  - 'tracked': the group is outside every loop, look-around and atomic construct, so in both
 *    engines it is set exactly when the current path went through it (difference 1 only); the
 *    generator records that with marker captures and makes the reference fail without them. The
 *    markers cannot tell an empty-input match, so this needs a pattern that cannot match "".
 *  - 'unsafe': anything else; reported as unsupported.
 */
import type { Node } from './ast.js'
import { hasNullableLoop, nullable } from './codegen.js'

export type BackrefVerdict = 'safe' | 'never' | 'tracked' | 'unsafe'

interface GroupInfo {
  readonly end: number
  readonly loops: ReadonlySet<Node>
  /** Only sequences, alternations, groups and `(X)?` / `(X)??` around it. */
  readonly plain: boolean
  /**
   * Java may leave it set after backtracking: it lies in a look-around or atomic group, or in an
   * atom that Java matches with `atom.match()` and an accepting continuation (Ques / Curly /
   * GroupCurly bodies, possessive groups), where GroupTail.match returns true and never restores.
   */
  readonly dirty: boolean
}

/** Collects capture groups with their closing index and the loop quantifiers around them. */
interface Context {
  readonly loops: Node[]
  readonly plain: boolean
  readonly dirty: boolean
}

function collectGroups(node: Node, ctx: Context, out: Map<number, GroupInfo>, refs: Map<Node, ReadonlySet<Node>>): void {
  switch (node.t) {
    case 'seq':
      node.items.forEach((n) => collectGroups(n, ctx, out, refs))
      return
    case 'alt':
      node.alts.forEach((n) => collectGroups(n, ctx, out, refs))
      return
    case 'group':
      if (node.capture > 0) out.set(node.capture, { end: node.end, loops: new Set(ctx.loops), plain: ctx.plain, dirty: ctx.dirty })
      collectGroups(node.body, ctx, out, refs)
      return
    case 'look':
    case 'atomic':
      collectGroups(node.body, { ...ctx, plain: false, dirty: true }, out, refs)
      return
    case 'quant': {
      const repeats = node.max > 1
      if (repeats) ctx.loops.push(node)
      const firstSuccess = node.kind === 'ques' || node.kind === 'curly'
      if (node.kind === 'groupCurly' && node.atom.t === 'group') {
        // GroupCurly saves and restores the quantified group itself, not the groups inside it.
        const g = node.atom
        if (g.capture > 0) out.set(g.capture, { end: g.end, loops: new Set(ctx.loops), plain: false, dirty: ctx.dirty })
        collectGroups(g.body, { ...ctx, plain: false, dirty: true }, out, refs)
      } else {
        collectGroups(node.atom, { ...ctx, plain: ctx.plain && node.kind === 'branch', dirty: ctx.dirty || firstSuccess }, out, refs)
      }
      if (repeats) ctx.loops.pop()
      return
    }
    case 'backref':
      refs.set(node, new Set(ctx.loops))
      return
    default:
      return
  }
}

function capturesIn(node: Node, out: Set<number> = new Set()): Set<number> {
  switch (node.t) {
    case 'seq':
      node.items.forEach((n) => capturesIn(n, out))
      break
    case 'alt':
      node.alts.forEach((n) => capturesIn(n, out))
      break
    case 'group':
      if (node.capture > 0) out.add(node.capture)
      capturesIn(node.body, out)
      break
    case 'look':
    case 'atomic':
      capturesIn(node.body, out)
      break
    case 'quant':
      capturesIn(node.atom, out)
      break
    default:
      break
  }
  return out
}

function without(set: ReadonlySet<number>, remove: ReadonlySet<number>): Set<number> {
  return new Set([...set].filter((g) => !remove.has(g)))
}

/**
 * Definitely-set analysis: returns the groups certainly set (with equal values in both engines)
 * after `node`, given those set before; records a verdict for every back reference met.
 */
type Verdict = (ref: Extract<Node, { t: 'backref' }>, defined: ReadonlySet<number>) => void

function walk(node: Node, defined: ReadonlySet<number>, inLoop: boolean, verdict: Verdict): ReadonlySet<number> {
  switch (node.t) {
    case 'seq': {
      let d = defined
      for (const item of node.items) d = walk(item, d, inLoop, verdict)
      return d
    }
    case 'alt': {
      const outs = node.alts.map((a) => walk(a, defined, inLoop, verdict))
      const first = outs[0] ?? defined
      return new Set([...first].filter((g) => outs.every((o) => o.has(g))))
    }
    case 'group': {
      const d = walk(node.body, defined, inLoop, verdict)
      return node.capture > 0 ? new Set([...d, node.capture]) : d
    }
    case 'look':
    case 'atomic': {
      const d = walk(node.body, defined, inLoop, verdict)
      const reliable = !inLoop && !(node.t === 'look' && node.negate) && !hasNullableLoop(node.body)
      return reliable ? d : defined
    }
    case 'quant': {
      const inner = capturesIn(node.atom)
      const start = without(defined, inner)
      walk(node.atom, start, inLoop || node.max > 1, verdict)
      return start
    }
    case 'backref':
      verdict(node, defined)
      return defined
    default:
      return defined
  }
}

export function analyzeBackrefs(root: Node, groupCount: number): Map<Node, BackrefVerdict> {
  const groups = new Map<number, GroupInfo>()
  const refLoops = new Map<Node, ReadonlySet<Node>>()
  collectGroups(root, { loops: [], plain: true, dirty: false }, groups, refLoops)
  const out = new Map<Node, BackrefVerdict>()
  const canMatchEmpty = nullable(root)
  walk(root, new Set(), false, (ref, defined) => {
    const g = groups.get(ref.group)
    const loops = refLoops.get(ref) ?? new Set<Node>()
    const maybeSet = g !== undefined && ref.group <= groupCount && (g.end <= ref.pos || g.dirty || [...g.loops].some((l) => loops.has(l)))
    if (!maybeSet) out.set(ref, 'never')
    else if (defined.has(ref.group)) out.set(ref, 'safe')
    else out.set(ref, g.plain && g.loops.size === 0 && g.end <= ref.pos && !canMatchEmpty ? 'tracked' : 'unsafe')
  })
  return out
}
