/**
 * Issue #11 campaign, fault 7 (gateway in a child process): SIGHUP config rotation under load. A client keeps
 * several valid requests in flight and new clients connect while the config file is rewritten and SIGHUP'd several
 * times: every request is answered correctly, every reload is applied, the gateway does not crash.
 */
import t from 'tap'
import { backend, client, until, KEY_ID } from '../gateway/fixtures.js'
import { baseDoc, spawnGateway } from './helpers.js'

const SEARCH = 'indices:data/read/search'
const RELOADS = 5
const DEPTH = 4

t.test('7. SIGHUP config rotation under load: no request lost or failed, no crash', async (t) => {
  const be = await backend(t, 'cluster-a')
  const docFor = (i: number) =>
    baseDoc(
      [
        {
          name: 'a',
          nodes: [`127.0.0.1:${be.port}`],
          // Each rotation changes what established connections are checked against (policies apply to them too).
          api_keys: [{ id: KEY_ID, certificate_identity: null }, { id: `rotated-key-${i}`, certificate_identity: `CN=rotation-${i}` }],
          signing: { certificate_authorities: ['certs/ca.crt'] },
          allowed_actions: ['default', `cluster:monitor/rotation-${i}`],
        },
      ],
      { logging: { level: i % 2 === 0 ? 'info' : 'debug' } },
    )
  const gw = await spawnGateway(t, docFor(0))
  const c = await client(t, gw.port)
  let ok = 0
  const failures: string[] = []
  let running = true
  const loop = async (lane: number) => {
    for (let k = 0; running; k++) {
      const body = `lane ${lane} request ${k}`
      try {
        const r = await c.request(SEARCH, Buffer.from(body))
        if (r.body.toString() === body) ok++
        else failures.push(`wrong body for ${body}`)
      } catch (e) {
        failures.push(`${body}: ${(e as Error).message}`)
        return
      }
    }
  }
  const lanes = Array.from({ length: DEPTH }, (_, i) => loop(i))
  let newClients = 0
  for (let i = 1; i <= RELOADS; i++) {
    const before = ok
    gw.writeConfig(docFor(i))
    gw.signal('SIGHUP')
    await until(async () => (await gw.metric('rcgw_config_reloads_total', { outcome: 'success' })) === i, 15_000, `reload ${i} to be applied`)
    const fresh = await client(t, gw.port)
    t.equal((await fresh.request(SEARCH, Buffer.from(`new client ${i}`))).body.toString(), `new client ${i}`)
    newClients++
    await fresh.close()
    await until(() => ok >= before + 200 || failures.length > 0, 15_000, 'requests to flow after the reload')
  }
  running = false
  await Promise.all(lanes)
  t.same(failures, [], 'no request failed')
  t.comment(`${ok} requests answered across ${RELOADS} SIGHUP reloads (${DEPTH} in flight), ${newClients} new clients served after reloads`)
  t.ok(ok >= RELOADS * 200, 'requests flowed throughout')
  const m = await gw.metrics()
  t.equal(m.sum('rcgw_config_reloads_total', { outcome: 'success' }), RELOADS, 'every reload applied')
  t.equal(m.sum('rcgw_config_reloads_total', { outcome: 'failure' }), 0, 'none refused')
  t.equal(m.sum('rcgw_auth_failures_total'), 0, 'no denial')
  t.equal(m.sum('rcgw_internal_errors_total'), 0, 'no internal error')
  t.notOk(c.socket.destroyed, 'the loaded connection is still open')
  t.ok(gw.alive(), 'no crash')
  t.equal(gw.logs.filter((l) => l.event === 'config_reloaded').length, RELOADS, 'one config_reloaded line per SIGHUP')
})
