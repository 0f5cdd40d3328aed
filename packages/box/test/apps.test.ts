/**
 * Apps end to end over HTTP: manifests refused for hostile fields, consent that only narrows,
 * grants the box enforces (detail, window, sources, operations), the export gateway against a
 * real receiver on loopback, revocation of a running app, updates, views and uninstall.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import zlib from 'node:zlib'
import type { AddressInfo } from 'node:net'
import tar from 'tar-stream'
import { PROBE, startBox, until, type Running } from './helpers.ts'

const DAY = 86400
let box: Running
let receiver: http.Server
let received: { url: string; body: string }[] = []
let destination = ''
let edges: number[] = []

function manifest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    manifestVersion: 1, id: 'probe', name: 'Probe', version: '1.0.0', author: 'Tests', description: 'Asks for things.',
    purposes: ['testing'], main: 'app.js',
    sources: [
      { id: 'steps', logicalType: 'activity', ops: ['read'], granularity: '1d', window: '30d', required: true, justification: 'Daily totals.' },
      { id: 'temperature', source: 'living-room', ops: ['read'], granularity: '1h', window: '30d', required: false, justification: 'Hourly means.' },
    ],
    ownSources: [{ id: 'out', description: 'Results', attributes: [{ name: 'total', technicalType: 'number' }] }],
    exports: [{ id: 'report', url: destination, purpose: 'A report', sends: 'totals', frequency: 'on-demand', maxBytes: 2048 }],
    views: [{ id: 'chart', title: 'A chart' }],
    schedule: { on: 'demand' },
    ...overrides,
  }
}

async function install(m: Record<string, unknown>, code = PROBE) {
  return box.api('POST', '/api/v1/apps', { body: { manifest: m, code } })
}

async function probe(calls: { method: string; args: unknown }[], app = 'probe') {
  const res = await box.api('POST', `/api/v1/apps/${app}/run`, { body: { event: { calls } } })
  assert.equal(res.status, 200, JSON.stringify(res.body))
  return res.body.value as { ok: boolean; value?: any; status?: number; message?: string }[]
}

async function auditOf(subject: string, outcome?: string) {
  const res = await box.api('GET', `/api/v1/audit?subject=${encodeURIComponent(subject)}${outcome ? `&outcome=${outcome}` : ''}&limit=10000`)
  return res.body as { action: string; outcome: string; status: number; source: string | null; operation: string; destination?: string; sha256?: string; preview?: string; granularity?: number }[]
}

before(async () => {
  receiver = http.createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      received.push({ url: req.url!, body })
      if (req.url === '/moved') res.writeHead(302, { location: '/reports' }).end()
      else res.writeHead(req.url === '/broken' ? 500 : 201).end('{}')
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  destination = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/reports`
  box = await startBox()
  const now = Math.floor(Date.now() / 1000)
  for (const [id, logicalType, name, unit] of [['steps', 'activity', 'steps', 'count'], ['living-room', 'environment', 'temperature', 'Cel'], ['diary', 'other', 'words', 'count']]) {
    assert.equal((await box.api('POST', '/api/v1/sources', { body: { id, logicalType, attributes: [{ name, technicalType: 'number', unit }] } })).status, 201)
    const records = Array.from({ length: 20 * 24 }, (_, h) => ({ n: name, u: unit, v: 10 + (h % 24), t: now - h * 3600 }))
    assert.equal((await box.api('POST', `/api/v1/sources/${id}/records`, { raw: JSON.stringify(records) })).status, 201)
  }
})

after(async () => {
  await box.close()
  receiver.close()
})

test('manifests with hostile or malformed fields are refused with the field named, and nothing is installed', async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [manifest({ id: '../../etc' }), /manifest id/],
    [manifest({ id: 'a"b' }), /manifest id/],
    [manifest({ main: '../app.js' }), /manifest main/],
    [manifest({ name: 'Nice\u0000app' }), /manifest name/],
    [manifest({ name: 'Line\nbreak' }), /manifest name/],
    [manifest({ version: '1.0' }), /manifest version/],
    [manifest({ extra: true }), /manifest/],
    [manifest({ sources: [{ id: 'xx', ops: ['read'], granularity: '1d', window: '30d', required: true, justification: 'x' }] }), /name a source or a logicalType/],
    [manifest({ exports: [{ id: 'rr', url: 'https://EXAMPLE.org/a', purpose: 'p', sends: 's', frequency: 'daily' }] }), /canonical form/],
    [manifest({ exports: [{ id: 'rr', url: 'https://example.org/a/../b', purpose: 'p', sends: 's', frequency: 'daily' }] }), /canonical form/],
    [manifest({ exports: [{ id: 'rr', url: 'https://exаmple.org/', purpose: 'p', sends: 's', frequency: 'daily' }] }), /canonical form/],
    [manifest({ exports: [{ id: 'rr', url: 'https://user@example.org/', purpose: 'p', sends: 's', frequency: 'daily' }] }), /user name/],
    [manifest({ exports: [{ id: 'rr', url: 'ftp://example.org/', purpose: 'p', sends: 's', frequency: 'daily' }] }), /http and https/],
    [manifest({ views: [{ id: 'vv', title: 't' }, { id: 'vv', title: 't' }] }), /appears twice/],
  ]
  for (const [m, message] of cases) {
    const res = await install(m)
    assert.equal(res.status, 400, JSON.stringify(m))
    assert.match(res.body.detail, message)
  }
  assert.deepEqual((await box.api('GET', '/api/v1/apps')).body, [])
  const schema = await box.api('GET', '/api/v1/apps/manifest-schema', { token: null })
  assert.equal(schema.body.title, 'Coffer app manifest')
})

test('a new app waits for consent; consent only narrows; the box enforces detail, window, sources and operations', async () => {
  const installed = await install(manifest())
  assert.equal(installed.status, 202)
  assert.equal(installed.body.needsConsent, true)
  assert.deepEqual(installed.body.review.reads.map((r: { matches: string[] }) => r.matches), [['steps'], ['living-room']])
  assert.ok(installed.body.review.text.some((line: string) => /daily totals and averages, from the last 30 days/.test(line)))
  assert.equal((await box.api('POST', '/api/v1/apps/probe/run', { body: {} })).status, 409)

  const wider = await box.api('POST', '/api/v1/apps/probe/grant', { body: { sources: { steps: { granularity: '1h' } } } })
  assert.equal(wider.status, 400)
  assert.match(wider.body.detail, /finer than the app asked/)
  assert.equal((await box.api('POST', '/api/v1/apps/probe/grant', { body: { sources: { steps: { sources: ['diary'] } } } })).status, 400)
  assert.equal((await box.api('POST', '/api/v1/apps/probe/grant', { body: { sources: { steps: { refuse: true } } } })).status, 400)

  const granted = await box.api('POST', '/api/v1/apps/probe/grant', { body: { sources: { steps: { window: '7d' }, temperature: { refuse: true } }, exports: { report: 'auto' } } })
  assert.equal(granted.status, 200, JSON.stringify(granted.body))
  assert.equal(granted.body.state, 'active')

  edges = (await probe([{ method: 'days', args: { count: 5 } }]))[0]!.value
  assert.equal(edges.length, 6)
  const from = edges[0]!
  const to = edges.at(-1)!
  const results = await probe([
    { method: 'aggregate', args: { source: 'steps', fn: 'sum', bucket: '1d', from, to } },
    { method: 'aggregate', args: { source: 'steps', fn: 'sum', bucket: '1h', from, to } },
    { method: 'aggregate', args: { source: 'steps', fn: 'sum', bucket: '1d', from: from + 3600, to } },
    { method: 'aggregate', args: { source: 'steps', fn: 'sum', bucket: '1d', from, to, tz: 'Pacific/Kiritimati' } },
    { method: 'aggregate', args: { source: 'steps', fn: 'sum', bucket: '1d', from: to - 10 * DAY, to } },
    { method: 'records', args: { source: 'steps' } },
    { method: 'latest', args: { source: 'steps' } },
    { method: 'aggregate', args: { source: 'living-room', fn: 'mean', bucket: '1d', from, to } },
    { method: 'aggregate', args: { source: 'diary', fn: 'sum', bucket: '1d', from, to } },
    { method: 'write', args: { source: 'out', records: [{ n: 'total', v: 1, t: from }] } },
    { method: 'write', args: { source: 'steps', records: [{ n: 'steps', v: 1, t: from }] } },
  ])
  assert.equal(results[0]!.ok, true)
  assert.equal(results[0]!.value.buckets.length, 5)
  assert.ok(results[0]!.value.buckets.some((b: { value: number }) => b.value > 0))
  const refusals = results.slice(1, 9)
  for (const r of refusals) assert.equal(r.ok, false, JSON.stringify(r))
  assert.match(refusals[0]!.message!, /no finer than 86400s/)
  assert.match(refusals[1]!.message!, /whole 1-day cells/)
  assert.match(refusals[2]!.message!, /time zone/)
  assert.match(refusals[3]!.message!, /allows data from/)
  assert.match(refusals[4]!.message!, /no finer than/)
  assert.match(refusals[6]!.message!, /does not cover source "living-room"/)
  assert.match(refusals[7]!.message!, /does not cover source "diary"/)
  assert.equal(results[9]!.ok, true)
  assert.equal(results[10]!.ok, false)
  assert.match(results[10]!.message!, /declares no own source "steps"/)

  const denied = await auditOf('app:probe', 'deny')
  assert.ok(denied.length >= 8)
  assert.ok(denied.some((e) => e.source === 'diary' && e.status === 403))
  assert.ok(denied.some((e) => e.granularity === 3600 && e.source === 'steps'))
  assert.ok((await auditOf('app:probe', 'allow')).some((e) => e.source === 'app.probe.out' && e.operation === 'write'))
})

test('the gateway sends only to the exact granted destination, within its limits, and audits every request', async () => {
  received = []
  const [sent, lookAlike, otherHost, tooBig, views, undeclared] = await probe([
    { method: 'export', args: { destination, payload: { total: 42 } } },
    { method: 'export', args: { destination: destination + '/', payload: { total: 42 } } },
    { method: 'export', args: { destination: 'http://127.0.0.2:9/reports', payload: { total: 42 } } },
    { method: 'export', args: { destination, payload: 'x'.repeat(5000) } },
    { method: 'view', args: { id: 'chart', spec: { data: { url: 'https://evil.example/leak?d=1' }, mark: 'point' } } },
    { method: 'view', args: { id: 'secret-chart', spec: { data: { values: [] }, mark: 'point' } } },
  ])
  assert.equal(sent!.ok, true)
  assert.equal(sent!.value.state, 'sent')
  assert.deepEqual(received, [{ url: '/reports', body: '{"total":42}' }])
  assert.equal(lookAlike!.status, 403)
  assert.equal(otherHost!.status, 403)
  assert.equal(tooBig!.status, 413)
  assert.equal(views!.ok, false)
  assert.match(views!.message!, /may not use "url"/)
  assert.equal(undeclared!.ok, false)
  // Every refusal is an audit entry, the app bridge's own too.
  const refusedViews = (await auditOf('app:probe', 'deny')).filter((e) => e.action.startsWith('APP views.show'))
  assert.deepEqual(refusedViews.map((e) => e.action).sort(), ['APP views.show chart', 'APP views.show secret-chart'])

  const exports = await auditOf('app:probe')
  const ok = exports.find((e) => e.operation === 'export' && e.status === 200)!
  assert.equal(ok.destination, destination)
  assert.equal(ok.preview, '{"total":42}')
  assert.match(ok.sha256!, /^[0-9a-f]{64}$/)
  assert.ok(exports.some((e) => e.operation === 'export' && e.outcome === 'deny' && e.destination === 'http://127.0.0.2:9/reports'))

  // Ask each time: nothing leaves until the owner approves; a denied one never leaves.
  assert.equal((await box.api('POST', '/api/v1/apps/probe/grant', { body: { sources: { steps: { window: '7d' } }, exports: { report: 'ask' } } })).status, 200)
  const [first, second] = await probe([
    { method: 'export', args: { destination, payload: { n: 1 } } },
    { method: 'export', args: { destination, payload: { n: 2 } } },
  ])
  assert.equal(first!.value.state, 'pending')
  assert.equal(received.length, 1)
  const pending = (await box.api('GET', '/api/v1/exports?state=pending')).body as { id: string; preview: string }[]
  assert.deepEqual(pending.map((e) => e.preview).sort(), ['{"n":1}', '{"n":2}'])
  assert.equal((await box.api('POST', `/api/v1/exports/${first!.value.id}/approve`)).status, 200)
  assert.equal((await box.api('POST', `/api/v1/exports/${second!.value.id}/deny`)).status, 200)
  assert.equal((await box.api('POST', `/api/v1/exports/${second!.value.id}/approve`)).status, 409)
  assert.deepEqual(received.map((r) => r.body), ['{"total":42}', '{"n":1}'])
  const history = (await box.api('GET', '/api/v1/exports')).body as { state: string }[]
  assert.deepEqual(history.map((e) => e.state).sort(), ['denied', 'sent', 'sent'])
  assert.deepEqual((await box.api('GET', `/api/v1/exports/${first!.value.id}`)).body.payload, { n: 1 })
})

test('revoking a running app stops it at once, its next call fails, and the audit log shows both', async () => {
  const looping = `async function main() {
    for (;;) await coffer.call('aggregate', JSON.stringify({ source: 'steps', fn: 'sum', bucket: '1d', from: ${edges[0]}, to: ${edges.at(-1)} }))
  }`
  await install(manifest({ id: 'looper', exports: [], version: '1.0.0' }), looping)
  assert.equal((await box.api('POST', '/api/v1/apps/looper/grant', { body: {} })).status, 200)
  const grant = box.box.arbiter.grants().find((g) => g.subject === 'app:looper' && g.description.endsWith('steps'))!
  const stolen = box.box.arbiter.mint(grant.id).token
  const run = box.api('POST', '/api/v1/apps/looper/run', { body: {} })
  await until('the looping app to make three reads', async () => (await auditOf('app:looper', 'allow')).length >= 3 || undefined)
  assert.equal((await box.api('POST', '/api/v1/apps/looper/revoke')).status, 200)
  const stopped = await run
  assert.equal(stopped.status, 409)
  const replay = await box.api('GET', `/api/v1/sources/steps/aggregate?fn=sum&bucket=1d&from=${edges[0]}&to=${edges.at(-1)}`, { token: stolen })
  assert.equal(replay.status, 401)
  assert.match(replay.body.detail, /revoked/)
  const owner = await auditOf('owner')
  assert.ok(owner.some((e) => e.action === 'STOP app:looper'))
  assert.ok(owner.some((e) => e.action === 'POST /api/v1/apps/:id/revoke'))
  assert.ok((await auditOf('app:looper', 'deny')).some((e) => e.status === 401))
  assert.equal((await box.api('POST', '/api/v1/apps/looper/run', { body: {} })).status, 409)
})

test('an update that asks for more waits for consent; one that asks for less carries the grant over', async () => {
  const more = await install(manifest({ version: '1.1.0', sources: [{ id: 'steps', logicalType: 'activity', ops: ['read'], granularity: '1h', window: '30d', required: true, justification: 'Hourly now.' }] }))
  assert.equal(more.status, 202)
  assert.equal(more.body.app.version, '1.0.0')
  assert.equal(more.body.app.update.version, '1.1.0')
  const swapped = await install(manifest({ version: '1.1.0' }), PROBE + '\n// other code')
  assert.equal(swapped.status, 409)
  assert.match(swapped.body.detail, /new version number/)
  const less = await install(manifest({ version: '1.2.0', exports: [], sources: [{ id: 'steps', logicalType: 'activity', ops: ['read'], granularity: '1w', window: '7d', required: true, justification: 'Weekly.' }] }))
  assert.equal(less.status, 200)
  assert.equal(less.body.app.version, '1.2.0')
  assert.equal(less.body.app.consent.sources[0].granularity, 7 * DAY)
})

test('bundles come as tarballs too; an entry that climbs out is refused', async () => {
  const tarball = async (files: Record<string, string>) => {
    const pack = tar.pack()
    for (const [name, content] of Object.entries(files)) pack.entry({ name }, content)
    pack.finalize()
    const chunks: Buffer[] = []
    for await (const chunk of pack) chunks.push(chunk as Buffer)
    return zlib.gzipSync(Buffer.concat(chunks))
  }
  const good = await tarball({ 'package/manifest.json': JSON.stringify(manifest({ id: 'packed', exports: [] })), 'package/app.js': PROBE })
  const res = await box.api('POST', '/api/v1/apps', { raw: good, type: 'application/gzip' })
  assert.equal(res.status, 202, JSON.stringify(res.body))
  const evil = await tarball({ '../manifest.json': '{}', 'app.js': PROBE })
  const refused = await box.api('POST', '/api/v1/apps', { raw: evil, type: 'application/gzip' })
  assert.equal(refused.status, 400)
  assert.match(refused.body.detail, /outside/)
  assert.equal((await box.api('POST', '/api/v1/apps', { raw: Buffer.from('not a tarball at all, just text'), type: 'application/gzip' })).status, 400)
})

test('uninstall removes the app, its grants and views, and its own data if asked', async () => {
  await probe([{ method: 'view', args: { id: 'chart', spec: { $schema: 'https://vega.github.io/schema/vega-lite/v5.json', data: { values: [{ a: 1 }] }, mark: 'bar' } } }])
  assert.equal((await box.api('GET', '/api/v1/apps/probe/views/chart')).body.spec.mark, 'bar')
  assert.equal((await box.api('GET', '/api/v1/sources/app.probe.out')).status, 200)
  const res = await box.api('DELETE', '/api/v1/apps/probe?deleteData=true')
  assert.equal(res.status, 200)
  assert.deepEqual(res.body.deletedSources, ['app.probe.out'])
  assert.equal((await box.api('GET', '/api/v1/sources/app.probe.out')).status, 404)
  assert.equal((await box.api('GET', '/api/v1/apps/probe')).status, 404)
  assert.ok(box.box.arbiter.grants().filter((g) => g.subject === 'app:probe').every((g) => g.revoked))
})

test('a hostile app is stopped at its limits, the refusal is audited, and the box keeps answering', async () => {
  const hostile: [string, string, number, RegExp][] = [
    ['spinner', 'function main() { for (;;) {} }', 504, /CPU time/],
    ['hog', 'function main() { return new ArrayBuffer(256 * 1024 * 1024).byteLength }', 422, /memory/],
    // The host's Function is out of reach: the sandbox's own has no `process` to return.
    ['escaper', 'function main() { return (() => {}).constructor("return process")().pid }', 422, /ReferenceError: 'process' is not defined/],
  ]
  for (const [id, code, status, detail] of hostile) {
    await install(manifest({ id, exports: [], ownSources: [] }), code)
    assert.equal((await box.api('POST', `/api/v1/apps/${id}/grant`, { body: {} })).status, 200)
    const run = await box.api('POST', `/api/v1/apps/${id}/run`, { body: {} })
    assert.equal(run.status, status, `${id}: ${JSON.stringify(run.body)}`)
    assert.match(run.body.detail, detail, id)
    const [entry] = await auditOf(`app:${id}`)
    assert.equal(entry!.operation, 'run')
    assert.equal(entry!.outcome, 'deny')
    assert.equal((await box.api('GET', '/api/v1/sources')).status, 200)
  }
})

test('batched calls count one by one: a flood of batches stops at the call budget, and the API keeps answering', async () => {
  // 200 batches of 500 reads: counted as crossings, this was 100,000 reads in one run.
  const flooder = `async function main(event) {
    const batch = JSON.stringify(Array.from({ length: 500 }, () => ({ method: 'aggregate', args: { source: 'steps', fn: 'sum', bucket: '1d', from: event.from, to: event.to } })))
    for (let i = 0; i < 200; i++) await coffer.call('batch', batch)
  }`
  await install(manifest({ id: 'flooder', exports: [], ownSources: [] }), flooder)
  assert.equal((await box.api('POST', '/api/v1/apps/flooder/grant', { body: {} })).status, 200)
  let finished = false
  const run = box.api('POST', '/api/v1/apps/flooder/run', { body: { event: { from: edges.at(-2), to: edges.at(-1) } } }).finally(() => { finished = true })
  // The owner's requests meanwhile, one every ten milliseconds or so: each is answered promptly.
  const waits: number[] = []
  while (!finished) {
    const started = performance.now()
    assert.equal((await box.api('GET', '/api/v1/sources')).status, 200)
    waits.push(performance.now() - started)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  const refused = await run
  assert.equal(refused.status, 422, JSON.stringify(refused.body))
  assert.equal(refused.body.limit, 'maxCalls')
  assert.match(refused.body.detail, /a batch of 500 host calls with 0 of the run's 1000 left/)
  // Two whole batches fit the budget of 1,000 calls; the third is refused before the box runs any of it.
  const [runEntry, ...operations] = await auditOf('app:flooder')
  assert.deepEqual([runEntry!.operation, runEntry!.outcome, runEntry!.status], ['run', 'deny', 422])
  assert.equal(operations.length, 1000)
  assert.ok(operations.every((e) => e.action === 'APP records.aggregate' && e.outcome === 'allow'))
  assert.ok(waits.length > 0)
  assert.ok(Math.max(...waits) < 500, `the API took ${Math.round(Math.max(...waits))} ms to answer during the flood`)
})

test('an app scheduled on new data runs when its source gets records; being woken needs observe', async () => {
  const request = { id: 'steps', source: 'steps', ops: ['read'], granularity: '1d', window: '30d', required: true, justification: 'Wake me.' }
  const refused = await install(manifest({ id: 'watcher', exports: [], ownSources: [], schedule: { onNewData: ['steps'] }, sources: [request] }), 'function main() { return 1 }')
  assert.equal(refused.status, 400)
  assert.match(refused.body.detail, /observe/)
  await install(manifest({ id: 'watcher', exports: [], ownSources: [], schedule: { onNewData: ['steps'] }, sources: [{ ...request, ops: ['read', 'observe'] }] }), 'function main() { return 1 }')
  assert.equal((await box.api('POST', '/api/v1/apps/watcher/grant', { body: {} })).status, 200)
  assert.equal((await box.api('POST', '/api/v1/sources/steps/records', { raw: JSON.stringify([{ n: 'steps', v: 5 }]) })).status, 201)
  let app: { lastRun: { trigger: string; ok: boolean } | null } = { lastRun: null }
  for (let i = 0; i < 200 && !app.lastRun; i++) {
    await new Promise((r) => setTimeout(r, 50))
    app = (await box.api('GET', '/api/v1/apps/watcher')).body
  }
  assert.deepEqual(app.lastRun && { trigger: app.lastRun.trigger, ok: app.lastRun.ok }, { trigger: 'new-data', ok: true })
})

test('a destination takes at most twice its declared frequency', async () => {
  const monthly = [{ id: 'monthly', url: destination, purpose: 'A monthly report', sends: 'totals', frequency: 'monthly' }]
  await install(manifest({ id: 'rater', exports: monthly, ownSources: [] }))
  assert.equal((await box.api('POST', '/api/v1/apps/rater/grant', { body: { exports: { monthly: 'auto' } } })).status, 200)
  const results = await probe([1, 2, 3].map((n) => ({ method: 'export', args: { destination, payload: { n } } })), 'rater')
  assert.deepEqual(results.map((r) => r.ok ? r.value.state : r.status), ['sent', 'sent', 429])
})

test('every delivery attempt counts against the rate, failed or redirected; a redirect is never followed', async () => {
  const base = destination.replace(/\/reports$/, '')
  const exports = ['broken', 'moved'].map((path) => ({ id: path, url: `${base}/${path}`, purpose: 'A monthly report', sends: 'totals', frequency: 'monthly' }))
  await install(manifest({ id: 'failing', exports, ownSources: [] }))
  assert.equal((await box.api('POST', '/api/v1/apps/failing/grant', { body: { exports: { broken: 'auto', moved: 'auto' } } })).status, 200)
  const before = received.length
  for (const path of ['broken', 'moved']) {
    const results = await probe([1, 2, 3].map((n) => ({ method: 'export', args: { destination: `${base}/${path}`, payload: { n } } })), 'failing')
    assert.deepEqual(results.map((r) => r.ok ? r.value.state : r.status), [502, 502, 429], path)
  }
  // Two attempts reached each destination; the redirect's target received nothing.
  assert.deepEqual(received.slice(before).map((r) => r.url), ['/broken', '/broken', '/moved', '/moved'])
})

test('an install that waits for consent is answered and audited as 202; one that needs none as 200', async () => {
  const waiting = await install(manifest({ id: 'statuses', exports: [], ownSources: [] }))
  assert.equal(waiting.status, 202)
  assert.equal((await box.api('POST', '/api/v1/apps/statuses/grant', { body: {} })).status, 200)
  const update = await install(manifest({ id: 'statuses', version: '1.0.1', exports: [], ownSources: [] }))
  assert.equal(update.status, 200, JSON.stringify(update.body))
  const installs = (await auditOf('owner')).filter((e) => e.action === 'POST /api/v1/apps').slice(0, 2).map((e) => e.status)
  assert.deepEqual(installs, [200, 202])
})
