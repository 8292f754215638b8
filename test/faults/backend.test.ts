/**
 * Issue #11 campaign, backend faults (gateway in a child process): a backend killed halfway through a large
 * response, and a backend that never answers (no idle kill; graceful shutdown still ends). Back-pressure with a
 * stalled reader is in backpressure.test.ts.
 */
import t from 'tap'
import { backend, client, until } from '../gateway/fixtures.js'
import { baseDoc, faultLink, spawnGateway, sleep, MiB, bigResponse, countBytes } from './helpers.js'

const SEARCH = 'indices:data/read/search'

t.test('1. backend killed mid-response: the client connection is closed, a new one is served, counters sane', async (t) => {
  const be = await backend(t, 'cluster-a', {
    onRequest: (h, body) => (body.toString() === 'big' ? { rawChunks: (req) => bigResponse(req.requestId, req.version, 16 * MiB) } : undefined),
  })
  const link = await faultLink(t, be.port)
  const gw = await spawnGateway(t, baseDoc([{ name: 'a', nodes: [`127.0.0.1:${link.port}`] }]))
  const c = await client(t, gw.port)
  const fdBefore = gw.fdCount()
  link.killAfter(4 * MiB) // a quarter into the 16 MiB response
  const got = countBytes(c)
  // NB: test/emulator/client.ts never settles a request whose response had started when the socket closes (the
  // pending entry has moved to the frame being decoded), so the outcome is observed without awaiting it.
  let outcome = 'pending'
  void c.request(SEARCH, Buffer.from('big')).then(
    () => void (outcome = 'answered'),
    (e: Error) => void (outcome = e.message),
  )
  await c.closed
  await sleep(50)
  t.not(outcome, 'answered', `the request in flight is not answered (${outcome})`)
  t.ok(got.n > 1 * MiB && got.n < 16 * MiB, `the client got part of the response (${(got.n / MiB).toFixed(1)} MiB) and then a close, not a short frame passed as whole`)
  t.equal(c.protocolError, null, 'no garbage before the close')

  const c2 = await client(t, gw.port)
  t.equal((await c2.request(SEARCH, Buffer.from('after'))).body.toString(), 'after', 'a new connection is served')
  await until(async () => (await gw.metric('rcgw_client_connections_active')) === 1, 10_000, 'one active connection')
  const m = await gw.metrics()
  t.equal(m.sum('rcgw_internal_errors_total'), 0, 'no internal error')
  t.equal(m.sum('rcgw_frame_errors_total'), 0, 'no framing error blamed on anyone')
  t.equal(m.sum('rcgw_auth_failures_total'), 0, 'no denial')
  t.ok(m.sum('rcgw_bytes_total', { direction: 'backend_to_client' }) >= 4 * MiB - 64 * 1024, 'relayed bytes counted up to the kill')
  t.ok(link.connections >= 2, 'the second client got its own backend connection')
  await until(() => gw.fdCount() <= fdBefore, 10_000, 'fds back to the level with one connection pair')
  t.comment(`fds: ${fdBefore} with one pair before the kill, ${gw.fdCount()} after the reconnect`)
  t.ok(gw.alive(), 'gateway alive')
})

t.test('2. backend that never answers: no idle kill, others unaffected, graceful shutdown still finishes', async (t) => {
  const be = await backend(t, 'cluster-a', { onRequest: (_h, body) => (body.toString() === 'hang' ? 'no_reply' : undefined) })
  const gw = await spawnGateway(
    t,
    baseDoc([{ name: 'a', nodes: [`127.0.0.1:${be.port}`] }], {
      limits: { handshake_timeout: '300ms', first_request_timeout: '300ms', close_timeout: '300ms' },
      shutdown: { drain_timeout: '1s' },
    }),
  )
  const c = await client(t, gw.port)
  const hung = c.request(SEARCH, Buffer.from('hang')).then(
    () => 'answered',
    (e: Error) => e.message,
  )
  await until(() => be.requests.some((r) => r.bodyLength === 4), 10_000, 'the request to reach the backend')
  // Longer than every deadline the gateway has (all 300 ms here): none of them may apply to a request in flight.
  await sleep(2000)
  t.notOk(c.socket.destroyed, 'the connection with a request in flight is still open')
  t.equal(c.pendingRequests, 1, 'and the request still pending')
  t.equal((await c.request(SEARCH, Buffer.from('same conn'))).body.toString(), 'same conn', 'a later request on the same connection is answered')
  const other = await client(t, gw.port)
  t.equal((await other.request(SEARCH, Buffer.from('other'))).body.toString(), 'other', 'another client is unaffected')
  t.equal(await gw.metric('rcgw_limit_hits_total'), 0, 'no limit was hit')

  const result = await gw.stop(20_000)
  t.same(result, { code: 0, signal: null }, 'SIGTERM: the drain ends at drain_timeout and the gateway exits 0')
  t.equal(await hung, 'connection closed', 'the hung request ends with its connection')
  await c.closed
  await other.closed
  t.ok(gw.logs.some((l) => l.event === 'stopped'), 'logged "gateway stopped"')
})

