/**
 * Issue #11 campaign, fault 3 (gateway in a child process): a 200 MB stream each way with the reading side
 * stalled — a client that never reads, a backend slower than the client. Gateway RSS stays bounded by
 * back-pressure (the relay's write bound is 1 MiB each way).
 */
import t from 'tap'
import { backend, client, until } from '../gateway/fixtures.js'
import { baseDoc, faultLink, maxRss, spawnGateway, stalled, MiB, bigResponse, countBytes, rawRequest, requestHeader, CHUNK } from './helpers.js'

const SEARCH = 'indices:data/read/search'

t.test('3a. client never reads while the backend streams 200 MB: gateway RSS stays bounded', async (t) => {
  const SIZE = 200 * MiB
  const be = await backend(t, 'cluster-a', {
    onRequest: (_h, body) => (body.toString() === 'stream' ? { rawChunks: (req) => bigResponse(req.requestId, req.version, SIZE) } : undefined),
  })
  const gw = await spawnGateway(t, baseDoc([{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }], { logging: { level: 'warn' } }))
  const c = await client(t, gw.port)
  t.equal((await c.request(SEARCH, Buffer.from('warm'))).body.toString(), 'warm')
  const rss0 = await maxRss(gw.pid, 5)
  c.socket.pause()
  const got = countBytes(c)
  await c.writeRaw(rawRequest(c, 1000n, Buffer.from('stream')))
  const relayed = await stalled(() => gw.metric('rcgw_bytes_total', { direction: 'backend_to_client' }))
  const rss1 = await maxRss(gw.pid, 20)
  const growth = (rss1 - rss0) / 1024
  t.comment(`RSS ${(rss0 / 1024).toFixed(1)} MiB → ${(rss1 / 1024).toFixed(1)} MiB (+${growth.toFixed(1)} MiB) with ${(relayed / MiB).toFixed(1)} MiB relayed when the stream stalled`)
  t.ok(relayed < 100 * MiB, 'the stream is held back (less than half of it relayed while the client does not read)')
  t.ok(growth < 64, `RSS growth ${growth.toFixed(1)} MiB < 64 MiB`)

  c.socket.resume()
  await until(() => got.n >= SIZE, 60_000, 'the whole response to arrive')
  t.equal(c.unsolicited.responses.length, 1, 'one response frame')
  t.equal((await c.request(SEARCH, Buffer.from('after'))).body.toString(), 'after', 'it ended on a frame boundary: the connection works')
  t.ok(gw.alive())
})

t.test('3b. backend slower than the client: a 200 MB request into a backend that stops reading; RSS bounded', async (t) => {
  const SIZE = 200 * MiB
  const be = await backend(t, 'cluster-a') // streaming echo
  const link = await faultLink(t, be.port)
  const gw = await spawnGateway(t, baseDoc([{ name: 'a', nodes: [`127.0.0.1:${link.port}`] }], { logging: { level: 'warn' } }))
  const c = await client(t, gw.port)
  t.equal((await c.request(SEARCH, Buffer.from('warm'))).body.toString(), 'warm')
  const rss0 = await maxRss(gw.pid, 5)
  link.pauseUpstream() // the "backend" reads nothing from the gateway now
  const got = countBytes(c)
  const head = requestHeader(c, 2000n, SIZE)
  let sent = 0
  let stop = false
  const writer = (async () => {
    c.socket.write(head)
    while (sent < SIZE && !stop && !c.socket.destroyed) {
      const n = Math.min(CHUNK.length, SIZE - sent)
      sent += n
      if (!c.socket.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) await new Promise((r) => c.socket.once('drain', r))
    }
  })()
  const relayed = await stalled(() => gw.metric('rcgw_bytes_total', { direction: 'client_to_backend' }))
  const rss1 = await maxRss(gw.pid, 20)
  const growth = (rss1 - rss0) / 1024
  t.comment(`RSS ${(rss0 / 1024).toFixed(1)} MiB → ${(rss1 / 1024).toFixed(1)} MiB (+${growth.toFixed(1)} MiB); client wrote ${(sent / MiB).toFixed(1)} MiB, gateway relayed ${(relayed / MiB).toFixed(1)} MiB before stalling`)
  t.ok(sent < 100 * MiB, 'the client is held back (its writes stall well before 200 MB)')
  t.ok(growth < 64, `RSS growth ${growth.toFixed(1)} MiB < 64 MiB`)

  link.resumeUpstream()
  await writer
  stop = true
  await until(() => got.n >= SIZE, 60_000, 'the whole echo to arrive')
  t.equal(c.unsolicited.responses.length, 1, 'the echo came back as one response')
  t.equal((await c.request(SEARCH, Buffer.from('after'))).body.toString(), 'after', 'the connection works afterwards')
  t.ok(gw.alive())
})
