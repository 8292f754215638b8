/** Shared by the operations tests: in-process CLI runs with captured output. Not a test file (no .test.ts). */
import { main } from '../../src/cli/main.js'

export interface Captured {
  readonly code: number
  readonly out: string
  readonly err: string
}

/** Runs `rcgw <argv>` in-process, the way main() is called by the binary, and captures what it prints. */
export async function rcgw(argv: string[]): Promise<Captured> {
  let out = ''
  let err = ''
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) })
  return { code, out, err }
}
