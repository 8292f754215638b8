/**
 * Pattern.TreeInfo / Node.study() for our tree: the minimum and maximum match length Java computes
 * (int32 arithmetic, including its overflow quirks), whether the maximum is "valid", and whether the
 * sub-pattern is "deterministic". Java uses the lengths for look-behinds (an invalid maximum is the
 * error "Look-behind group does not have an obvious maximum length"; the values bound the start
 * positions tried) and determinism to choose GroupCurly over Loop for a quantified group.
 *
 * Java studies a chain of nodes linked by `next`, and some nodes treat the rest of the chain
 * specially: Branch.study studies its continuation from a reset TreeInfo and adds its own prefix
 * afterwards (which changes when an int overflow is noticed), Loop.study does not study the
 * continuation at all, and quantifier atoms are studied as separate chains. The functions below
 * therefore take the rest of the chain as a continuation `k`.
 */
import { MAX_REPS, type Node } from './ast.js'

export interface TreeInfo {
  minLength: number
  maxLength: number
  maxValid: boolean
  deterministic: boolean
}

type Continuation = (info: TreeInfo) => void

export function newInfo(): TreeInfo {
  return { minLength: 0, maxLength: 0, maxValid: true, deterministic: true }
}

const i32 = (x: number): number => x | 0
const END: Continuation = () => undefined
const EMPTY: Node = { t: 'seq', pos: 0, items: [] }

/** Studies `node` as a chain of its own (GroupHead.study for a group, head.study for a look-behind). */
export function study(node: Node): TreeInfo {
  const info = newInfo()
  studyNode(node, info, END)
  return info
}

function studyNode(node: Node, info: TreeInfo, k: Continuation): void {
  switch (node.t) {
    case 'seq':
      studySeq(node.items, 0, info, k)
      return
    case 'alt':
      studyBranch(node.alts, info, k)
      return
    case 'set': // CharProperty
      info.minLength = i32(info.minLength + 1)
      info.maxLength = i32(info.maxLength + 1)
      k(info)
      return
    case 'group': // GroupHead ... GroupTail
      studyNode(node.body, info, k)
      return
    case 'atomic': // Ques(INDEPENDENT): atom.study(info); next.study(info)
      studyNode(node.body, info, END)
      k(info)
      return
    case 'quant':
      studyQuant(node, info, k)
      return
    case 'backref': // BackRef / CIBackRef
      info.maxValid = false
      k(info)
      return
    case 'lineEnding':
      info.minLength = i32(info.minLength + 1)
      info.maxLength = i32(info.maxLength + 2)
      k(info)
      return
    case 'unsupported':
      if (node.study === 'grapheme') {
        // XGrapheme / NFCCharProperty: minLength++ only.
        info.minLength = i32(info.minLength + 1)
        info.deterministic = false
      }
      k(info)
      return
    default:
      // Look-arounds and anchors are zero-length (Node.study: next.study).
      k(info)
  }
}

function studySeq(items: readonly Node[], i: number, info: TreeInfo, k: Continuation): void {
  const item = items[i]
  if (item === undefined) k(info)
  else studyNode(item, info, (next) => studySeq(items, i + 1, next, k))
}

/** Branch.study: alternatives alone, then the continuation from a reset TreeInfo, then the sums. */
function studyBranch(alts: readonly Node[], info: TreeInfo, k: Continuation): void {
  let minL = info.minLength
  let maxL = info.maxLength
  let maxV = info.maxValid
  let minL2 = MAX_REPS
  let maxL2 = -1
  for (const alt of alts) {
    const a = newInfo()
    studyNode(alt, a, END) // each alternative ends at the BranchConn, which does not go on
    minL2 = Math.min(minL2, a.minLength)
    maxL2 = Math.max(maxL2, a.maxLength)
    maxV = maxV && a.maxValid
  }
  minL = i32(minL + minL2)
  maxL = i32(maxL + maxL2)
  Object.assign(info, newInfo())
  k(info)
  info.minLength = i32(info.minLength + minL)
  info.maxLength = i32(info.maxLength + maxL)
  info.maxValid = info.maxValid && maxV
  info.deterministic = false
}

function studyQuant(node: Extract<Node, { t: 'quant' }>, info: TreeInfo, k: Continuation): void {
  const { kind, min, max, atom } = node
  if (kind === 'branch') {
    // `(X)?` is Branch(group, null) and `(X)??` Branch(null, group).
    studyBranch([atom, EMPTY], info, k)
    return
  }
  if (kind === 'loop') {
    // Prolog/Loop.study: maxValid = false, deterministic = false, and the chain stops here.
    info.maxValid = false
    info.deterministic = false
    return
  }
  if (kind === 'ques') {
    const minL = info.minLength
    studyNode(atom, info, END)
    info.minLength = minL
    info.deterministic = false
    k(info)
    return
  }
  if (kind === 'curly' && atom.t === 'set' && node.type === 'greedy' && node.open) {
    // CharPropertyGreedy.study (note: maxValid is not cleared, MAX_REPS just wraps the int)
    info.minLength = i32(info.minLength + min)
    if (info.maxValid) info.maxLength = i32(info.maxLength + MAX_REPS)
    info.deterministic = false
    k(info)
    return
  }
  // Curly / GroupCurly.study
  const minL = info.minLength
  const maxL = info.maxLength
  const maxV = info.maxValid
  const detm = info.deterministic
  const a = newInfo()
  studyNode(atom, a, END)
  let temp = i32(Math.imul(a.minLength, min) + minL)
  if (temp < minL) temp = 0xfffffff
  info.minLength = temp
  if (maxV && a.maxValid) {
    temp = i32(Math.imul(a.maxLength, max) + maxL)
    info.maxLength = temp
    info.maxValid = !(temp < maxL)
  } else {
    info.maxLength = a.maxLength
    info.maxValid = false
  }
  info.deterministic = a.deterministic && min === max ? detm : false
  k(info)
}
