/**
 * Loads test/fixtures/vectors/*.json (origin of each file: test/fixtures/vectors/README.md). The path is
 * resolved relative to this file, so a clone of the repository alone is enough to run the tests.
 * Also a test file in its own right (tap runs every .ts under test/): it checks the file loads.
 */
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

export interface Vector {
  name: string
  hex: string
  meaning: string
  source: string
}

export interface TransportVectors {
  groups: Record<
    'handshake' | 'ping' | 'message_length' | 'transport_versions' | 'vint' | 'strings' | 'markers' | 'error_frames',
    Vector[]
  >
}

export function vectorsUrl(file: string): URL {
  return new URL(`../fixtures/vectors/${file}`, import.meta.url)
}

let cached: TransportVectors | null = null
export function transportVectors(): TransportVectors {
  cached ??= JSON.parse(readFileSync(vectorsUrl('transport.json'), 'utf8')) as TransportVectors
  return cached
}

export function vector(group: keyof TransportVectors['groups'], name: string): Vector {
  const v = transportVectors().groups[group].find((x) => x.name === name)
  if (!v) throw new Error(`no vector ${group}/${name}`)
  return v
}

export function hex(v: Vector): Buffer {
  return Buffer.from(v.hex, 'hex')
}

// When tap runs this file directly, make it a (tiny) test rather than an empty file.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { default: t } = await import('tap')
  t.test('transport vectors load', async (t) => {
    const v = transportVectors()
    t.ok(v.groups.handshake.length >= 4)
    t.ok(v.groups.message_length.length > 0)
  })
}
