/** Every fuzz target, in the order the runner and the CI slice run them (the relay last: it is the slowest). */
import type { Target } from '../lib/target.js'
import { decoderTarget } from './decoder.js'
import { varheaderTarget } from './varheader.js'
import { signatureTarget } from './signature.js'
import { derTarget } from './der.js'
import { chainTarget } from './chain.js'
import { dnTarget } from './dn.js'
import { jregexTarget } from './jregex.js'
import { proxyTarget } from './proxy.js'
import { credentialsTarget } from './credentials.js'
import { relayTarget } from './relay.js'

export const TARGETS: readonly Target[] = [decoderTarget, varheaderTarget, signatureTarget, derTarget, chainTarget, dnTarget, jregexTarget, proxyTarget, credentialsTarget, relayTarget]

export function targetByName(name: string): Target {
  const t = TARGETS.find((x) => x.name === name)
  if (t === undefined) throw new Error(`unknown fuzz target ${name} (one of: ${TARGETS.map((x) => x.name).join(', ')})`)
  return t
}
