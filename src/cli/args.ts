/**
 * Option parsing shared by the operator subcommands (`rcgw certs`, `rcgw probe`): `--name value`, `--name=value`,
 * boolean flags, repeatable options. Kept tiny on purpose; the gateway's own `start`/`check-config` parsing in
 * main.ts stays as it is.
 */

/** Output sinks of a command: every command writes through these so that tests can run it in-process. */
export interface CliIo {
  out: (s: string) => void
  err: (s: string) => void
}

export class UsageError extends Error {
  readonly code = 'usage' as const
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

export interface OptionSpec {
  /** Options that take a value; the value of a repeated option is collected in order. */
  readonly values: readonly string[]
  /** Options without a value. */
  readonly flags?: readonly string[]
}

export interface ParsedOptions {
  readonly values: ReadonlyMap<string, readonly string[]>
  readonly flags: ReadonlySet<string>
  readonly positionals: readonly string[]
}

export function parseOptions(argv: readonly string[], spec: OptionSpec): ParsedOptions {
  const values = new Map<string, string[]>()
  const flags = new Set<string>()
  const positionals: string[] = []
  const valueNames = new Set(spec.values)
  const flagNames = new Set(spec.flags ?? [])
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (!a.startsWith('--')) {
      positionals.push(a)
      continue
    }
    const eq = a.indexOf('=')
    const name = a.slice(2, eq === -1 ? undefined : eq)
    if (flagNames.has(name)) {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`)
      flags.add(name)
      continue
    }
    if (!valueNames.has(name)) throw new UsageError(`unknown option --${name}`)
    let v: string | undefined
    if (eq !== -1) v = a.slice(eq + 1)
    else {
      v = argv[++i]
      if (v === undefined) throw new UsageError(`--${name} needs a value`)
    }
    const list = values.get(name) ?? []
    list.push(v)
    values.set(name, list)
  }
  return { values, flags, positionals }
}

/** The last value of an option (later options win, like most CLIs), or undefined. */
export function optional(p: ParsedOptions, name: string): string | undefined {
  const list = p.values.get(name)
  return list === undefined ? undefined : list[list.length - 1]
}

export function required(p: ParsedOptions, name: string): string {
  const v = optional(p, name)
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`)
  return v
}

/** All values of a repeatable, comma-separated option (`--dns a,b --dns c` → a, b, c), blanks dropped. */
export function list(p: ParsedOptions, name: string): string[] {
  return (p.values.get(name) ?? []).flatMap((v) => v.split(',')).map((s) => s.trim()).filter((s) => s !== '')
}

export function positiveInteger(p: ParsedOptions, name: string, fallback: number): number {
  const v = optional(p, name)
  if (v === undefined) return fallback
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--${name} must be a positive integer, got "${v}"`)
  return Number(v)
}
