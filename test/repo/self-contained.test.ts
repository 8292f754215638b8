/**
 * A clone of the repository alone must pass `npm test`: nothing under src/, test/ or bench/ may read — or name,
 * even in a comment — a folder beside the repository (a parent-relative path into a sibling "shared" folder, the
 * layout of one development machine) or an absolute path of that machine. Such a reference works where it was written and fails with
 * ENOENT in CI and in every contributor's clone. Test data lives in test/fixtures/ instead.
 *
 * The patterns are the ones the project's before-stop check greps for; they are assembled from pieces so that
 * this file does not match itself.
 */
import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))
const FOLDERS = ['src', 'test', 'bench']
/** Generated or installed content, not written by us (each may hold absolute paths legitimately). */
const SKIP_DIRS = new Set(['node_modules', '.tap', 'coverage', 'dist'])

const SHARED = new RegExp(['\\.\\./', '(\\.\\./)*', 'shared/'].join(''))
const MACHINE = new RegExp(['/', 'work/'].join(''))

function* files(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name)) yield* files(p)
    } else if (e.isFile()) {
      yield p
    }
  }
}

function isText(buf: Buffer): boolean {
  return !buf.subarray(0, 8000).includes(0)
}

/** `file:line: text` for every line of every text file under the folders that matches `re`. */
function hits(re: RegExp): string[] {
  const out: string[] = []
  for (const folder of FOLDERS) {
    const dir = join(root, folder)
    try {
      if (!statSync(dir).isDirectory()) continue
    } catch {
      continue
    }
    for (const f of files(dir)) {
      const buf = readFileSync(f)
      if (!isText(buf)) continue
      buf
        .toString('utf8')
        .split('\n')
        .forEach((line, i) => {
          if (re.test(line)) out.push(`${relative(root, f)}:${i + 1}: ${line.trim().slice(0, 160)}`)
        })
    }
  }
  return out
}

t.test('the patterns catch what they are meant to catch', async (t) => {
  // Without this, a typo in a pattern would make the real checks below pass vacuously.
  t.ok(SHARED.test("new URL('../../../" + "shared/vectors/x.json', import.meta.url)"))
  t.ok(SHARED.test('../' + 'shared/spec/transport-protocol.md'))
  t.ok(MACHINE.test('/' + 'work/main/dist'))
  t.notOk(SHARED.test("new URL('../fixtures/vectors/x.json', import.meta.url)"))
  t.notOk(MACHINE.test('network/'))
})

t.test('no reference to a folder beside the repository', async (t) => {
  const found = hits(SHARED)
  t.same(found, [], found.length ? `move what these read into the repository (test/fixtures/):\n${found.join('\n')}` : 'none')
})

t.test('no absolute path of a development machine', async (t) => {
  const found = hits(MACHINE)
  t.same(found, [], found.length ? `use paths relative to the file (new URL('…', import.meta.url)):\n${found.join('\n')}` : 'none')
})

t.test('the vectors the tests load are in the repository', async (t) => {
  const dir = join(root, 'test', 'fixtures', 'vectors')
  for (const f of ['transport.json', 'jdk-dn.json', 'jdk-regex.json', 'jdk-signatures.json', 'README.md']) {
    t.ok(statSync(join(dir, f)).isFile(), `test/fixtures/vectors/${f}`)
  }
})
