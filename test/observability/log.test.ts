/**
 * Logs: ECS shape, the gateway's own log objects mapped onto ECS fields, secrets never printed (whatever the nesting),
 * and the level rule (config, overridden by RCGW_LOG_LEVEL).
 */
import t from 'tap'
import fc from 'fast-check'
import { Writable } from 'node:stream'
import { hostname } from 'node:os'
import { spawn } from 'node:child_process'
import {
  createLogger,
  ecsSafeFields,
  resolveLogLevel,
  scrubSecrets,
  LogLevelError,
  SECRET_FIELDS,
  REDACTED,
  TOO_DEEP,
  SCRUB_DEPTH,
  silentLogger,
  type Logger,
} from '../../src/log.js'
import { VERSION } from '../../src/config/build.js'

type Line = Record<string, unknown>

function capture(level = 'trace'): { log: Logger; lines: Line[]; raw: () => string } {
  const chunks: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'))
      cb()
    },
  })
  const log = createLogger(level, sink)
  return {
    log,
    raw: () => chunks.join(''),
    get lines() {
      return chunks
        .join('')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Line)
    },
  }
}

t.test('lines are ECS documents', async (t) => {
  const c = capture('info')
  c.log.info({ cluster: 'remote-a' }, 'hello')
  c.log.debug('not at info')
  const [line, ...rest] = c.lines
  t.equal(rest.length, 0, 'debug is below info')
  t.ok(line)
  if (!line) return
  t.equal(line['message'], 'hello')
  t.equal(line['log.level'], 'info')
  t.match(line['@timestamp'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  t.equal(line['ecs.version'], '8.10.0')
  t.equal(line['service.name'], 'rcgw')
  t.equal(line['service.version'], VERSION)
  t.equal(line['process.pid'], process.pid)
  t.equal(line['host.hostname'], hostname())
  t.equal(line['cluster'], 'remote-a')
  for (const legacy of ['msg', 'level', 'time', 'pid', 'hostname']) t.notOk(legacy in line, `no pino-native ${legacy}`)
})

t.test("the relay's connection lines map onto ECS fields", async (t) => {
  const c = capture()
  // Exactly the objects src/gateway/server.ts and relay.ts log today.
  c.log.info({ event: 'connection_opened', cluster: 'remote-a', sni: 'remote-a.example.com', client: '127.0.0.1:50123', tls: 'TLSv1.3' }, 'connection opened')
  c.log.info(
    {
      event: 'connection_closed',
      cluster: 'remote-a',
      sni: 'remote-a.example.com',
      client: '[::1]:50124',
      node: '10.0.0.5:9443',
      bytes_in: 1234,
      bytes_out: 56789,
      duration_s: 12.345,
      close_reason: 'client_closed',
    },
    'connection closed',
  )
  c.log.warn({ event: 'tls_failure', reason: 'not_tls', client: null, err: 'wrong version number' }, 'TLS handshake failed')
  const [opened, closed, failure] = c.lines
  t.match(opened, { 'event.action': 'connection_opened', 'client.address': '127.0.0.1:50123', 'client.ip': '127.0.0.1', 'client.port': 50123, 'tls.version_protocol': 'tls', 'tls.version': '1.3', cluster: 'remote-a', sni: 'remote-a.example.com' })
  t.notOk(opened && ('event' in opened || 'client' in opened || 'tls' in opened), 'no concrete value where ECS has an object')
  t.match(closed, { 'event.action': 'connection_closed', 'client.address': '[::1]:50124', 'client.ip': '::1', 'client.port': 50124, bytes_in: 1234, bytes_out: 56789, duration_s: 12.345, close_reason: 'client_closed', node: '10.0.0.5:9443' })
  t.match(failure, { 'log.level': 'warn', 'event.action': 'tls_failure', reason: 'not_tls', 'error.message': 'wrong version number', client: null })
  t.notOk(failure && 'err' in failure)
})

t.test('errors, ECS objects and other reserved names', async (t) => {
  const c = capture()
  c.log.error({ err: new TypeError('bad thing') }, 'failed')
  c.log.error(new RangeError('leading error'))
  c.log.info({ event: { action: 'custom', duration: 5_000_000 }, client: { address: 'x' } }, 'already ECS')
  c.log.info({ host: 'h1', service: 7, user: true, url: 'http://x', error: 'text' }, 'reserved')
  c.log.info({ client: 'not-an-address', tls: 'weird' }, 'unparsed')
  const [a, b, d, e, f] = c.lines
  t.match(a, { error: { type: 'TypeError', message: 'bad thing', stack_trace: /TypeError: bad thing/ } })
  t.match(b, { error: { type: 'RangeError', message: 'leading error' }, message: 'leading error' })
  t.match(d, { event: { action: 'custom', duration: 5_000_000 }, client: { address: 'x' } }, 'objects pass untouched')
  t.match(e, { 'labels.host': 'h1', 'labels.service': 7, 'labels.user': true, 'labels.url': 'http://x', 'error.message': 'text', 'host.hostname': hostname(), 'service.name': 'rcgw' })
  t.match(f, { 'client.address': 'not-an-address', 'tls.version': 'weird' })
  t.notOk(f && 'client.ip' in f, 'no ip when the address is not ip:port')

  const input = { event: 'x', cluster: 'a' }
  const out = ecsSafeFields(input)
  t.same(input, { event: 'x', cluster: 'a' }, 'the argument is not mutated')
  t.same(out, { cluster: 'a', 'event.action': 'x' })
  const plain = { cluster: 'a', bytes_in: 1 }
  t.equal(ecsSafeFields(plain), plain, 'nothing to move: the same object')
})

t.test('secrets are redacted wherever they sit', async (t) => {
  const c = capture()
  const cases: Array<[string, (s: string) => void]> = [
    ['transport header', (s) => c.log.warn({ event: 'denied', headers: { _cross_cluster_access_credentials: `ApiKey ${s}` } }, 'request denied')],
    ['header at the top level', (s) => c.log.info({ _cross_cluster_access_credentials: s }, 'x')],
    ['api_key', (s) => c.log.info({ api_key: s }, 'x')],
    ['apiKey in the typed config', (s) => c.log.info({ config: { clusters: [{ auth: { lookup: { url: 'https://es:9200', apiKey: s } } }] } }, 'x')],
    ['secret', (s) => c.log.info({ key: { id: 'key-1', secret: s } }, 'x')],
    ['password', (s) => c.log.info({ password: s }, 'x')],
    ['passphrase', (s) => c.log.info({ tls: { passphrase: s } }, 'x')],
    ['key_passphrase', (s) => c.log.info({ raw: { tls: { key_passphrase: s } } }, 'x')],
    ['private key buffer', (s) => c.log.info({ config: { tls: { key: Buffer.from(`-----BEGIN PRIVATE KEY-----${s}`) } } }, 'x')],
    ['backend key', (s) => c.log.info({ clusters: [{ backendTls: { key: s } }] }, 'x')],
    ['authorization header', (s) => c.log.info({ request: { headers: { authorization: `ApiKey ${s}`, Authorization: s } } }, 'x')],
    ['secondary authorization', (s) => c.log.info({ headers: { 'es-secondary-authorization': s } }, 'x')],
    ['credentials', (s) => c.log.info({ a: { b: { c: { d: { credentials: s } } } } }, 'x')],
    ['inside arrays', (s) => c.log.info({ frames: [[{ headers: { _cross_cluster_access_credentials: s } }]] }, 'x')],
    ['object value', (s) => c.log.info({ password: { nested: s } }, 'x')],
    ['interpolated object', (s) => c.log.info('request %o', { headers: { _cross_cluster_access_credentials: s } })],
    ['interpolated json', (s) => c.log.info('request %j', { deep: { password: s } })],
    ['child bindings', (s) => c.log.child({ password: s, token: s }).info('x')],
    ['non-Error err', (s) => c.log.error({ err: { code: 'E', password: s } }, 'x')],
    ['class instance', (s) => c.log.info({ holder: new (class Holder { secret = s })() }, 'x')],
  ]
  for (const [name, emit] of cases) {
    const secret = `S3CR3T-${name.replace(/\W/g, '-')}-${Math.random().toString(36).slice(2)}`
    const before = c.raw().length
    emit(secret)
    const out = c.raw().slice(before)
    t.ok(out.length > 0, `${name}: a line was written`)
    t.notOk(out.includes(secret), `${name}: the secret is not in the output`)
    t.ok(out.includes(REDACTED), `${name}: marked as redacted`)
  }
  // Non-secret siblings survive the redaction.
  const before = c.raw().length
  c.log.warn({ headers: { _cross_cluster_access_credentials: 'ApiKey x', _security_subject: 'kept' }, api_key_id: 'key-1' }, 'denied')
  const line = JSON.parse(c.raw().slice(before)) as Line
  t.same(line['headers'], { _cross_cluster_access_credentials: REDACTED, _security_subject: 'kept' })
  t.equal(line['api_key_id'], 'key-1', 'key ids are not secrets')
})

t.test('property: a secret field at any depth never reaches the output', async (t) => {
  const c = capture()
  const key = fc.constantFrom(...SECRET_FIELDS)
  const name = fc.constantFrom('a', 'headers', 'config', 'x_y', 'tls', 'list')
  // A path of object keys and array positions from the root down to the secret field.
  const step = fc.oneof(name.map((n) => ({ k: n })), fc.nat({ max: 2 }).map((i) => ({ i })))
  await fc.assert(
    fc.asyncProperty(fc.array(step, { maxLength: SCRUB_DEPTH + 3 }), key, fc.string({ minLength: 1, maxLength: 8 }), async (path, field, noise) => {
      const secret = `SEKRIT${noise.replace(/[^A-Za-z0-9]/g, '')}${Math.random().toString(36).slice(2, 8)}`
      let v: unknown = { [field]: secret, sibling: 'ok' }
      for (let i = path.length - 1; i >= 0; i--) {
        const s = path[i]!
        if ('k' in s) v = { [s.k]: v, other: 1 }
        else {
          const arr: unknown[] = [0, 0, 0]
          arr[s.i] = v
          v = arr
        }
      }
      const root = Array.isArray(v) ? { root: v } : (v as Record<string, unknown>)
      const before = c.raw().length
      c.log.info(root, 'p')
      const out = c.raw().slice(before)
      return !out.includes(secret) && (out.includes(REDACTED) || out.includes(TOO_DEEP))
    }),
    { numRuns: 500 },
  )
  t.pass('500 random nestings')
})

t.test('scrubSecrets copies only what it changes', async (t) => {
  const clean = { a: { b: [1, { c: 'd' }] }, buf: Buffer.from('x'), when: new Date(0) }
  t.equal(scrubSecrets(clean), clean, 'no secrets: the same object')
  const dirty = { a: { password: 'p', keep: 1 }, b: { untouched: true } }
  const out = scrubSecrets(dirty)
  t.same(out, { a: { password: REDACTED, keep: 1 }, b: { untouched: true } })
  t.equal(out.b, dirty.b, 'untouched branches are shared')
  t.equal(dirty.a.password, 'p', 'the input is not mutated')
  t.equal(scrubSecrets('plain'), 'plain')
  t.equal(scrubSecrets(null), null)
  let deep: Record<string, unknown> = { leaf: 1 }
  for (let i = 0; i < SCRUB_DEPTH + 2; i++) deep = { d: deep }
  t.match(JSON.stringify(scrubSecrets(deep)), TOO_DEEP, 'beyond the depth limit the rest is withheld')
  const cyclic: Record<string, unknown> = { name: 'loop' }
  cyclic['self'] = cyclic
  t.doesNotThrow(() => scrubSecrets(cyclic), 'a cycle ends at the depth limit')
  t.same(scrubSecrets({ undefinedSecret: undefined, password: undefined }), { undefinedSecret: undefined, password: undefined })
})

t.test('level: config, overridden by RCGW_LOG_LEVEL', async (t) => {
  t.equal(resolveLogLevel('info', {}), 'info')
  t.equal(resolveLogLevel('warn', { RCGW_LOG_LEVEL: '' }), 'warn', 'empty means unset')
  t.equal(resolveLogLevel('info', { RCGW_LOG_LEVEL: 'debug' }), 'debug')
  t.equal(resolveLogLevel('debug', { RCGW_LOG_LEVEL: ' WARN ' }), 'warn', 'case and spaces are forgiven')
  t.throws(() => resolveLogLevel('info', { RCGW_LOG_LEVEL: 'loud' }), new LogLevelError('loud'))
  t.throws(() => resolveLogLevel('info', { RCGW_LOG_LEVEL: 'loud' }), /RCGW_LOG_LEVEL: invalid log level "loud" \(expected one of fatal, error, warn, info, debug, trace, silent\)/)

  const c = capture(resolveLogLevel('info', { RCGW_LOG_LEVEL: 'warn' }))
  c.log.info('dropped')
  c.log.warn({ event: 'denied', reason: 'action_not_allowed' }, 'request denied')
  t.same(
    c.lines.map((l) => [l['log.level'], l['message']]),
    [['warn', 'request denied']],
  )
  t.throws(() => createLogger('loud'), 'pino rejects unknown levels')
  silentLogger().error('nothing happens')
})

t.test('a closed stdout neither hangs nor crashes shutdown', async (t) => {
  // A child logs to stdout through createLogger's default destination; the reader goes away, then SIGTERM makes it
  // log and exit. With pino's implicit (asynchronous) destination this hangs forever in sonic-boom's flushSync.
  const code = `
    import { createLogger } from ${JSON.stringify(new URL('../../src/log.ts', import.meta.url).href)}
    const log = createLogger('info')
    log.info({ event: 'started' }, 'a first line for the reader')
    const keepAlive = setInterval(() => {}, 1000)
    process.on('SIGTERM', () => {
      for (let i = 0; i < 5; i++) log.info({ i }, 'stopping')
      process.exit(0)
    })
  `
  // The tap worker's own flags carry the TypeScript loader.
  const child = spawn(process.execPath, [...process.execArgv, '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const first = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())))
  t.match(JSON.parse(first.split('\n')[0] ?? '{}'), { 'event.action': 'started' })
  child.stdout.destroy()
  child.kill('SIGTERM')
  const guard = setTimeout(() => child.kill('SIGKILL'), 20_000)
  const r = await exited
  clearTimeout(guard)
  t.same(r, { code: 0, signal: null }, `exits 0 on SIGTERM (stderr: ${stderr.slice(0, 300)})`)
})
