/**
 * Issue #11 campaign, fault 5 (gateway in a child process): slowloris TLS on both listeners — clients that open
 * TCP and then send nothing, or dribble the bytes of a ClientHello one at a time and never finish it. Each is
 * closed by `limits.handshake_timeout` (a deadline from accept that bytes do not extend), counted, and a valid client
 * is served meanwhile.
 */
import t from 'tap'
import { connect as netConnect, createServer, type AddressInfo, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { backend, client, until } from '../gateway/fixtures.js'
import { testPki } from '../helpers/pki.js'
import { baseDoc, spawnGateway, httpGet } from './helpers.js'

const SEARCH = 'indices:data/read/search'

/** The first flight of a real Node TLS client (a ClientHello), captured from a local socket. */
async function clientHello(): Promise<Buffer> {
  return new Promise((resolve) => {
    const srv = createServer((s) => {
      s.once('data', (b: Buffer) => {
        resolve(b)
        s.destroy()
        srv.close()
      })
    })
    srv.listen(0, '127.0.0.1', () => {
      const c = tlsConnect({ host: '127.0.0.1', port: (srv.address() as AddressInfo).port, servername: 'remote-a.example.com', rejectUnauthorized: false })
      c.on('error', () => {})
    })
  })
}

interface Slow {
  readonly socket: Socket
  readonly closed: Promise<number>
  bytesSent: number
}

/** A TCP connection that sends `hello` minus its last byte, one byte every `everyMs`, then nothing. */
function slowClient(port: number, hello: Buffer | null, everyMs = 100): Slow {
  const socket = netConnect({ host: '127.0.0.1', port })
  const slow: Slow = { socket, bytesSent: 0, closed: new Promise((r) => socket.once('close', () => r(slow.bytesSent))) }
  socket.on('error', () => {})
  if (hello !== null) {
    const timer = setInterval(() => {
      if (socket.destroyed || slow.bytesSent >= hello.length - 1) return clearInterval(timer)
      socket.write(hello.subarray(slow.bytesSent, slow.bytesSent + 1))
      slow.bytesSent++
    }, everyMs)
    socket.once('close', () => clearInterval(timer))
  }
  return slow
}

t.test('5. slowloris TLS clients are closed by limits.handshake_timeout on both listeners; others unaffected', async (t) => {
  const be = await backend(t, 'cluster-a')
  const gw = await spawnGateway(
    t,
    baseDoc([{ name: 'a', nodes: [`127.0.0.1:${be.port}`], rest: { nodes: ['127.0.0.1:9'], tls: { enabled: false } } }], {
      limits: { handshake_timeout: '1500ms' },
      rest: { enabled: true, host: '127.0.0.1', port: 0 },
    }),
  )
  const hello = await clientHello()
  t.ok(hello.length > 100 && hello[0] === 0x16, `captured a ClientHello (${hello.length} bytes)`)
  const PER = 20
  const slow: Slow[] = []
  for (const port of [gw.port, gw.restPort!]) {
    for (let i = 0; i < PER; i++) slow.push(slowClient(port, null)) // silent
    for (let i = 0; i < PER; i++) slow.push(slowClient(port, hello)) // dribbling
  }

  // While they hang: a valid transport client and a REST TLS handshake both work.
  const good = await client(t, gw.port)
  t.equal((await good.request(SEARCH, Buffer.from('hello'))).body.toString(), 'hello', 'a valid transport client is served')
  // Kept open to the end, so that its close is not one more TLS failure in the counts below.
  const restProbe = tlsConnect({ host: '127.0.0.1', port: gw.restPort!, ca: testPki().ca.certPem, servername: 'remote-a.example.com' })
  t.teardown(() => restProbe.destroy())
  const rest = await new Promise<string>((resolve, reject) => {
    restProbe.once('secureConnect', () => resolve(restProbe.getProtocol() ?? '?'))
    restProbe.once('error', reject)
  })
  t.match(rest, /^TLSv1\.[23]$/, `the REST listener completes a real handshake (${rest})`)

  const sent = await Promise.all(slow.map((s) => s.closed))
  t.pass(`all ${slow.length} slow connections were closed by the gateway`)
  const dribbled = sent.filter((n) => n > 0)
  t.ok(dribbled.length >= PER && dribbled.every((n) => n < hello.length - 1), `the dribblers were cut mid-ClientHello (bytes sent: ${Math.min(...dribbled)}..${Math.max(...dribbled)} of ${hello.length})`)
  await until(async () => (await gw.metric('rcgw_limit_hits_total', { limit: 'handshake_timeout' })) >= PER * 2, 10_000, 'transport deadline hits to be counted')
  const m = await gw.metrics()
  t.equal(m.sum('rcgw_limit_hits_total', { limit: 'handshake_timeout' }), PER * 2, 'transport: every slow connection counted as a handshake_timeout limit hit')
  t.equal(m.sum('rcgw_tls_handshake_failures_total', { reason: 'timeout' }), PER * 2, 'and as a TLS handshake failure (timeout)')
  const restRejected = m.by('rcgw_rest_rejected_total', 'reason')
  const restTotal = Object.values(restRejected).reduce((a, b) => a + b, 0)
  t.comment(`REST rejections by reason: ${JSON.stringify(restRejected)}`)
  // Campaign finding, fixed in src/http/server.ts: a REST handshake that timed out was counted twice, once as
  // `bad_request` (clientError ERR_TLS_HANDSHAKE_TIMEOUT, with a 400 written into a socket without TLS) and once as
  // `tls` (tlsClientError ECONNRESET).
  t.equal(restTotal, PER * 2, 'REST: each slow connection counted once in rcgw_rest_rejected_total')
  t.equal(restRejected['tls'], PER * 2, 'REST: all of them as tls')
  t.equal(m.sum('rcgw_client_connections_active'), 1, 'only the valid client is open')
  t.equal((await good.request(SEARCH, Buffer.from('still'))).body.toString(), 'still', 'the valid client still works')
  t.equal((await httpGet(gw.adminPort, '/healthz')).status, 200)
})
