/**
 * Build information for `rcgw_build_info` and the `service.version` log field, read from package.json so the
 * number is never maintained twice. Both src/config/build.ts and dist/config/build.js sit two levels below the
 * package root, and package.json always ships with the package.
 */
import { readFileSync } from 'node:fs'

function readVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
    if (pkg !== null && typeof pkg === 'object' && 'version' in pkg && typeof pkg.version === 'string') return pkg.version
  } catch {
    // Bundled or relocated without package.json: report "unknown" rather than refuse to start over a label.
  }
  return 'unknown'
}

export const VERSION: string = readVersion()
