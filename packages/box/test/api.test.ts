/** The HTTP API end to end: a real box on a real socket, driven with fetch. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { encode } from 'cbor-x'
import { newMacaroon } from 'macaroon'
import { startBox, call, senml, within, PASSPHRASE, type Running } from './helpers.ts'

let r: Running
before(async () => {
  r = await startBox()
  await r.api('POST', '/api/v1/sources', { body: { id: 'temp', logicalType: 'environment', description: 'Room temperature' } })
})
after(() => r.close())

const T0 = 1_767_225_600 // 2026-01-01T00:00:00Z

test('owner login gives a session token; a wrong passphrase gets 401 problem+json', async () => {
  const ok = await call(r.url, 'POST', '/api/v1/login', { body: { passphrase: PASSPHRASE } })
  assert.equal(ok.status, 200)
  assert.equal((await r.api('GET', '/api/v1/status', { token: ok.body.token })).status, 200)
  const bad = await call(r.url, 'POST', '/api/v1/login', { body: { passphrase: 'wrong' } })
  assert.equal(bad.status, 401)
  assert.match(bad.headers.get('content-type')!, /application\/problem\+json/)
  assert.equal(bad.body.status, 401)
})

test('the RFC 8428 multiple-datapoints example goes in and comes back resolved', async () => {
  await r.api('POST', '/api/v1/sources', { body: { id: 'rfc' } })
  const pack = [
    { bn: 'urn:dev:ow:10e2073a01080063:', bt: 1.320067464e9, bu: 'A', bver: 5, n: 'voltage', u: 'V', v: 120.1 },
    { n: 'current', t: -5, v: 1.2 }, { n: 'current', t: -4, v: 1.3 }, { n: 'current', t: -3, v: 1.4 },
    { n: 'current', t: -2, v: 1.5 }, { n: 'current', t: -1, v: 1.6 }, { n: 'current', v: 1.7 },
  ]
  const put = await r.api('POST', '/api/v1/sources/rfc/records', { raw: senml(pack) })
  assert.equal(put.status, 201)
  assert.equal(put.body.stored, 7)
  const got = await r.api('GET', '/api/v1/sources/rfc/records?from=0&limit=100')
  assert.match(got.headers.get('content-type')!, /^application\/senml\+json/)
  const records = got.body
  assert.deepEqual(records.map((x: { n: string; t: number; v: number; u: string }) => [x.n, x.t, x.v, x.u]), [
    ['urn:dev:ow:10e2073a01080063:current', 1320067459, 1.2, 'A'],
    ['urn:dev:ow:10e2073a01080063:current', 1320067460, 1.3, 'A'],
    ['urn:dev:ow:10e2073a01080063:current', 1320067461, 1.4, 'A'],
    ['urn:dev:ow:10e2073a01080063:current', 1320067462, 1.5, 'A'],
    ['urn:dev:ow:10e2073a01080063:current', 1320067463, 1.6, 'A'],
    ['urn:dev:ow:10e2073a01080063:voltage', 1320067464, 120.1, 'V'],
    ['urn:dev:ow:10e2073a01080063:current', 1320067464, 1.7, 'A'],
  ])
  // The same pack sent as plain application/json resolves the same way.
  await r.api('POST', '/api/v1/sources', { body: { id: 'rfc-json' } })
  assert.equal((await r.api('POST', '/api/v1/sources/rfc-json/records', { body: pack })).status, 201)
  assert.deepEqual((await r.api('GET', '/api/v1/sources/rfc-json/records?from=0&limit=100')).body, records)
})

test('SenML CBOR goes in with integer labels and comes out as CBOR on request', async () => {
  await r.api('POST', '/api/v1/sources', { body: { id: 'cbor' } })
  const pack = encode([new Map<number, unknown>([[-2, 'dev:'], [-3, T0], [0, 'temp'], [1, 'Cel'], [2, 21.5]]), new Map<number, unknown>([[0, 'temp'], [6, 60], [2, 22]])])
  const put = await r.api('POST', '/api/v1/sources/cbor/records', { raw: pack, type: 'application/senml+cbor' })
  assert.equal(put.status, 201)
  const res = await fetch(`${r.url}/api/v1/sources/cbor/latest`, { headers: { authorization: `Bearer ${r.token}`, accept: 'application/senml+cbor' } })
  assert.equal(res.headers.get('content-type'), 'application/senml+cbor')
  const { decode } = await import('cbor-x')
  const back = decode(new Uint8Array(await res.arrayBuffer())) as Map<number, unknown>[] | Record<number, unknown>[]
  // The second record has no unit, so it is its own series; latest lists each series' newest point by time.
  const last = back.at(-1)!
  const fields = last instanceof Map ? Object.fromEntries(last) : last
  assert.equal(fields[0], 'dev:temp')
  assert.equal(fields[2], 22)
})

test('a batch is atomic: one bad record stores nothing and the problem names index and field', async () => {
  const before = (await r.api('GET', '/api/v1/sources/temp')).body.points
  const pack = [{ n: 'temp', t: T0, v: 20 }, { n: 'temp', t: T0 + 60, v: 'warm' }]
  const res = await r.api('POST', '/api/v1/sources/temp/records', { raw: senml(pack) })
  assert.equal(res.status, 400)
  assert.equal(res.body.index, 1)
  assert.equal(res.body.field, 'v')
  assert.equal((await r.api('GET', '/api/v1/sources/temp')).body.points, before)
  const mustUnderstand = await r.api('POST', '/api/v1/sources/temp/records', { raw: senml([{ n: 'temp', t: T0, v: 1, foo_: 1 }]) })
  assert.equal(mustUnderstand.status, 400)
  assert.equal(mustUnderstand.body.field, 'foo_')
})

test('bad requests: unknown route 404, wrong content type 415, oversized body 413, malformed JSON 400', async () => {
  const notFound = await r.api('GET', '/api/v1/nothing')
  assert.equal(notFound.status, 404)
  assert.equal(notFound.body.title, 'Not found')
  const wrongType = await r.api('POST', '/api/v1/sources/temp/records', { raw: 'a,b\n1,2', type: 'text/csv' })
  assert.equal(wrongType.status, 415)
  assert.match(wrongType.headers.get('content-type')!, /problem\+json/)
  const huge = await r.api('POST', '/api/v1/sources/temp/records', { raw: '[' + '{"n":"temp","v":1},'.repeat(1_000_000) + '{"n":"temp","v":1}]' })
  assert.equal(huge.status, 413)
  const malformed = await r.api('POST', '/api/v1/sources/temp/records', { raw: '[{"n":"temp",' })
  assert.equal(malformed.status, 400)
  assert.equal(typeof malformed.body.detail, 'string')
  assert.ok(!/\n\s+at /.test(JSON.stringify(malformed.body)), 'no stack trace')
  const noSource = await r.api('GET', '/api/v1/sources/nope/latest')
  assert.equal(noSource.status, 404)
})

test('queries: records by range, order, limit and name; latest per name', async () => {
  await r.api('POST', '/api/v1/sources', { body: { id: 'walk', logicalType: 'location' } })
  const pack = []
  for (let i = 0; i < 100; i++) pack.push({ n: 'lat', u: 'lat', t: T0 + i * 60, v: 52 + i / 1000 }, { n: 'lon', u: 'lon', t: T0 + i * 60, v: 13 + i / 1000 })
  await r.api('POST', '/api/v1/sources/walk/records', { raw: senml(pack) })
  const range = (await r.api('GET', `/api/v1/sources/walk/records?from=${T0 + 600}&to=2026-01-01T00:20:00Z&name=lat`)).body
  assert.equal(range.length, 10)
  assert.equal(range[0].t, T0 + 600)
  const desc = (await r.api('GET', '/api/v1/sources/walk/records?order=desc&limit=3')).body
  assert.deepEqual(desc.map((x: { t: number }) => x.t), [T0 + 5940, T0 + 5940, T0 + 5880])
  const latest = (await r.api('GET', '/api/v1/sources/walk/latest')).body
  assert.deepEqual(latest.map((x: { n: string; v: number }) => [x.n, x.v]).sort(), [['lat', 52.099], ['lon', 13.099]])
  const bad = await r.api('GET', '/api/v1/sources/walk/records?from=yesterday')
  assert.equal(bad.status, 400)
  assert.equal(bad.body.field, 'from')
})

test('aggregates: every function per bucket, from raw points and from rollups alike', async () => {
  await r.api('POST', '/api/v1/sources', { body: { id: 'agg' } })
  const values: number[] = []
  const pack = []
  for (let i = 0; i < 48 * 12; i++) {
    const v = Math.round(Math.sin(i / 7) * 100) / 10
    values.push(v)
    pack.push({ n: 'x', t: T0 + i * 300, v })
  }
  await r.api('POST', '/api/v1/sources/agg/records', { raw: senml(pack) })
  const day0 = values.slice(0, 288)
  const mean = day0.reduce((a, b) => a + b, 0) / day0.length
  const sorted = [...day0].sort((a, b) => a - b)
  const expected = {
    count: 288, sum: day0.reduce((a, b) => a + b, 0), min: sorted[0], max: sorted[287],
    mean, median: (sorted[143]! + sorted[144]!) / 2,
    sd: Math.sqrt(day0.reduce((a, b) => a + (b - mean) ** 2, 0) / 287),
  }
  for (const [fn, want] of Object.entries(expected)) {
    // 1d buckets sit on the hourly rollup grid; a range starting a minute early forces a raw scan.
    const fromRollups = (await r.api('GET', `/api/v1/sources/agg/aggregate?fn=${fn}&bucket=1d&from=${T0}&to=${T0 + 2 * 86400}`)).body
    assert.equal(fromRollups.buckets.length, 2)
    assert.ok(Math.abs(fromRollups.buckets[0].value - want!) < 1e-9, `${fn}: ${fromRollups.buckets[0].value} vs ${want}`)
    const raw = (await r.api('GET', `/api/v1/sources/agg/aggregate?fn=${fn}&bucket=1d&from=${T0 - 60}&to=${T0 + 2 * 86400}`)).body
    assert.ok(Math.abs(raw.buckets[1].value - want!) < 1e-9, `${fn} raw: ${raw.buckets[1].value} vs ${want}`)
  }
  // Several functions in one call: each bucket carries them all, from the same pass.
  for (const start of [T0, T0 - 60]) {
    const all = (await r.api('GET', `/api/v1/sources/agg/aggregate?fn=${Object.keys(expected).join(',')}&bucket=1d&from=${start}&to=${T0 + 2 * 86400}`)).body
    const day = all.buckets.find((b: { start: number }) => b.start === T0) ?? all.buckets[1]
    for (const [fn, want] of Object.entries(expected)) assert.ok(Math.abs(day.values[fn] - want!) < 1e-9, `${fn} in a list: ${day.values[fn]} vs ${want}`)
    assert.equal(day.value, day.values.count)
  }
  const bad = await r.api('GET', `/api/v1/sources/agg/aggregate?fn=mean,avg&bucket=1d&from=${T0}&to=${T0 + 86400}`)
  assert.equal(bad.status, 400)
  const hourly = (await r.api('GET', `/api/v1/sources/agg/aggregate?fn=count&bucket=1h&from=${T0}&to=${T0 + 86400}`)).body
  assert.equal(hourly.buckets.length, 24)
  assert.ok(hourly.buckets.every((b: { value: number }) => b.value === 12))
})

test('aggregates follow local days across a DST change', async () => {
  await r.api('POST', '/api/v1/sources', { body: { id: 'dst' } })
  const start = Date.UTC(2026, 2, 28, 0) / 1000 // Europe/Berlin springs forward on 29 March 2026
  const pack = []
  for (let t = start - 3600; t < start + 3 * 86400; t += 3600) pack.push({ n: 'x', t, v: 1 })
  await r.api('POST', '/api/v1/sources/dst/records', { raw: senml(pack) })
  const res = (await r.api('GET', '/api/v1/sources/dst/aggregate?fn=count&bucket=1d&from=2026-03-28&to=2026-03-31&tz=Europe/Berlin')).body
  assert.deepEqual(res.buckets.map((b: { value: number }) => b.value), [24, 23, 24])
  assert.equal(res.buckets[0].start, Date.UTC(2026, 2, 27, 23) / 1000)
})

test('deleting a time range removes it from queries and rollups, and is audited', async () => {
  await r.api('POST', '/api/v1/sources', { body: { id: 'del' } })
  const pack = []
  for (let i = 0; i < 1000; i++) pack.push({ n: 'x', t: T0 + i * 60, v: 1 })
  await r.api('POST', '/api/v1/sources/del/records', { raw: senml(pack.slice(0, 500)) })
  await r.api('POST', '/api/v1/sources/del/records', { raw: senml(pack.slice(500)) })
  const res = await r.api('DELETE', `/api/v1/sources/del/records?from=${T0 + 400 * 60}&to=${T0 + 600 * 60}`)
  assert.equal(res.status, 200)
  assert.equal(res.body.deleted, 200)
  const count = (await r.api('GET', `/api/v1/sources/del/aggregate?fn=count&bucket=1d&from=${T0}&to=${T0 + 86400}`)).body
  assert.equal(count.buckets[0].value, 800)
  const left = (await r.api('GET', `/api/v1/sources/del/records?from=${T0 + 390 * 60}&to=${T0 + 610 * 60}`)).body
  assert.deepEqual(left.map((x: { t: number }) => (x.t - T0) / 60), [390, 391, 392, 393, 394, 395, 396, 397, 398, 399, 600, 601, 602, 603, 604, 605, 606, 607, 608, 609])
  const audit = (await r.api('GET', '/api/v1/audit?source=del&operation=delete')).body
  assert.equal(audit[0].records, 200)
  // The dropped blocks are gone from the local log.
  const source = r.box.store.get('del')
  assert.equal(await source.core.has(1), false)
  assert.equal(await source.core.has(2), false)
})

test('key-value sources: put, get, list and delete', async () => {
  await r.api('POST', '/api/v1/sources', { body: { id: 'settings', kind: 'kv', logicalType: 'identity' } })
  assert.equal((await r.api('PUT', '/api/v1/sources/settings/kv/home', { body: { city: 'Berlin' } })).status, 200)
  await r.api('PUT', '/api/v1/sources/settings/kv/work', { body: 'Mitte' })
  assert.deepEqual((await r.api('GET', '/api/v1/sources/settings/kv/home')).body.value, { city: 'Berlin' })
  assert.deepEqual((await r.api('GET', '/api/v1/sources/settings/kv')).body.keys, ['home', 'work'])
  assert.equal((await r.api('DELETE', '/api/v1/sources/settings/kv/home')).status, 200)
  assert.equal((await r.api('GET', '/api/v1/sources/settings/kv/home')).status, 404)
  const wrongKind = await r.api('POST', '/api/v1/sources/settings/records', { raw: senml([{ n: 'x', v: 1 }]) })
  assert.equal(wrongKind.status, 400)
})

test('tokens: 401 without a token or with a made-up one, 403 outside the grant, revocation on the next request; all audited', async () => {
  assert.equal((await r.api('GET', '/api/v1/sources/temp/latest', { token: null })).status, 401)
  assert.equal((await r.api('GET', '/api/v1/sources/temp/latest', { token: 'not-a-token' })).status, 401)
  const madeUp = Buffer.from(JSON.stringify({ v: 2, i: 'x', c: [{ i: 'coffer = 1' }], s64: 'AAAA' })).toString('base64url')
  assert.equal((await r.api('GET', '/api/v1/sources/temp/latest', { token: madeUp })).status, 401)

  const device = (await r.api('POST', '/api/v1/tokens', { body: { subject: 'device', name: 'thermo', sources: ['temp'] } })).body
  const write = await r.api('POST', '/api/v1/sources/temp/records', { raw: senml([{ n: 'temp', t: T0, v: 21 }]), token: device.token })
  assert.equal(write.status, 201)
  const read = await r.api('GET', '/api/v1/sources/temp/latest', { token: device.token })
  assert.equal(read.status, 403)
  assert.match(read.body.detail, /does not allow "read"/)
  const other = await r.api('POST', '/api/v1/sources/walk/records', { raw: senml([{ n: 'lat', v: 1 }]), token: device.token })
  assert.equal(other.status, 403)
  assert.equal((await r.api('GET', '/api/v1/audit', { token: device.token })).status, 403)

  assert.equal((await r.api('DELETE', `/api/v1/grants/${device.grant.id}`)).status, 200)
  const revoked = await r.api('POST', '/api/v1/sources/temp/records', { raw: senml([{ n: 'temp', v: 21 }]), token: device.token })
  assert.equal(revoked.status, 401)
  assert.match(revoked.body.detail, /revoked/)

  const denied = (await r.api('GET', '/api/v1/audit?outcome=deny&subject=device:thermo')).body
  assert.ok(denied.length >= 3)
  assert.ok(denied.every((e: { grant: string }) => e.grant === device.grant.id))
})

test('a genuine token with its caveats widened is refused, with its old signature or signed again with another key', async () => {
  const device = (await r.api('POST', '/api/v1/tokens', { body: { subject: 'device', name: 'widened', sources: ['temp'] } })).body
  const route = '/api/v1/sources/temp'
  assert.equal((await r.api('GET', route, { token: device.token })).status, 403, 'the genuine token only writes')

  // Taken apart as the box encodes it: macaroon JSON (v2), base64url.
  const genuine = JSON.parse(Buffer.from(device.token, 'base64url').toString('utf8')) as { i: string; l: string; c: { i: string }[]; s64: string }
  const caveats = genuine.c.map((c) => c.i)
  const widened = caveats.map((c) => (c.startsWith('ops = ') ? 'ops = read,write' : c.startsWith('sources = ') ? 'sources = *' : c))
  assert.equal(widened.filter((c, i) => c !== caveats[i]).length, 2, `ops and sources caveats in ${caveats.join('; ')}`)
  const encoded = (json: object) => Buffer.from(JSON.stringify(json)).toString('base64url')
  const signedWith = (rootKey: Buffer) => {
    const m = newMacaroon({ identifier: genuine.i, location: genuine.l, rootKey })
    for (const c of widened) m.addFirstPartyCaveat(c)
    return encoded(m.exportJSON())
  }
  // Signed with the box's own key the widened token is accepted, so all the forgeries below lack is a true signature.
  assert.equal((await r.api('GET', route, { token: signedWith(r.box.home.keys.macaroonRootKey) })).status, 200)
  const forgeries: [string, string][] = [
    ['the old signature kept', encoded({ ...genuine, c: widened.map((i) => ({ i })) })],
    ['signed again with another key', signedWith(crypto.randomBytes(32))],
  ]
  for (const [how, token] of forgeries) {
    const res = await r.api('GET', route, { token })
    assert.equal(res.status, 401, how)
    assert.match(res.body.detail, /was altered/, how)
  }
})

test('a token with an unknown caveat fails closed', async () => {
  const { newMacaroon } = await import('macaroon')
  // Correctly signed with the box's root key, but carrying a caveat outside the grammar.
  const m = newMacaroon({ identifier: 'x', rootKey: r.box.home.keys.macaroonRootKey })
  for (const c of ['coffer = 1', 'subject = owner', 'grant = owner@1', 'sources = *', 'ops = read', 'colour = blue']) m.addFirstPartyCaveat(c)
  const token = Buffer.from(JSON.stringify(m.exportJSON())).toString('base64url')
  const res = await r.api('GET', '/api/v1/sources', { token })
  assert.equal(res.status, 401)
})

test('granularity and window caveats are enforced by the box', async () => {
  await r.api('POST', '/api/v1/sources', { body: { id: 'hourly' } })
  const pack = []
  for (let i = 0; i < 48; i++) pack.push({ n: 'temp', t: T0 + i * 3600, v: 20 })
  await r.api('POST', '/api/v1/sources/hourly/records', { raw: senml(pack) })
  const daily = (await r.api('POST', '/api/v1/tokens', { body: { subject: 'app', name: 'daily', sources: ['hourly'], ops: ['read'], granularity: '1d', window: `${T0}..${T0 + 86400}` } })).body.token
  assert.equal((await r.api('GET', '/api/v1/sources/hourly/records', { token: daily })).status, 403)
  assert.equal((await r.api('GET', '/api/v1/sources/hourly/latest', { token: daily })).status, 403)
  assert.equal((await r.api('GET', `/api/v1/sources/hourly/aggregate?fn=mean&bucket=1h&from=${T0}&to=${T0 + 86400}`, { token: daily })).status, 403)
  const ok = await r.api('GET', `/api/v1/sources/hourly/aggregate?fn=mean&bucket=1d&from=${T0}&to=${T0 + 86400}`, { token: daily })
  assert.equal(ok.status, 200)
  assert.equal(ok.body.buckets[0].value, 20)
  const outside = await r.api('GET', `/api/v1/sources/hourly/aggregate?fn=mean&bucket=1d&from=${T0}&to=${T0 + 2 * 86400}`, { token: daily })
  assert.equal(outside.status, 403)
  assert.match(outside.body.detail, /allows data from/)
  const cat = (await r.api('GET', '/api/v1/cat', { token: daily })).body
  assert.deepEqual(cat.items.map((i: { href: string }) => i.href), ['/api/v1/sources/hourly'])
})

test('the Hypercat catalogue lists sources with their types and units', async () => {
  const res = await r.api('GET', '/api/v1/cat')
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type')!, /application\/vnd\.hypercat\.catalogue\+json/)
  const meta = res.body['catalogue-metadata']
  assert.ok(meta.some((m: { rel: string; val: string }) => m.rel === 'urn:X-hypercat:rels:isContentType' && m.val === 'application/vnd.hypercat.catalogue+json'))
  const walk = res.body.items.find((i: { href: string }) => i.href === '/api/v1/sources/walk')
  const rels = walk['item-metadata'].map((m: { rel: string; val: string }) => `${m.rel}=${m.val}`)
  for (const want of ['urn:X-hypercat:rels:isContentType=application/senml+json', 'urn:X-coffer:rels:hasSourceKind=timeseries', 'urn:X-coffer:rels:hasLogicalType=location', 'urn:X-coffer:rels:hasType=lat:number', 'urn:X-coffer:rels:hasUnit=lat:lat']) {
    assert.ok(rels.includes(want), want)
  }
  assert.ok(rels.some((x: string) => x.startsWith('urn:X-hypercat:rels:hasDescription:en=')))
})

test('live: a subscriber receives new records as server-sent events', async () => {
  const controller = new AbortController()
  const res = await fetch(`${r.url}/api/v1/sources/temp/live`, { headers: { authorization: `Bearer ${r.token}` }, signal: controller.signal })
  assert.equal(res.headers.get('content-type'), 'text/event-stream')
  const reader = res.body!.getReader()
  await reader.read() // the subscription comment
  await r.api('POST', '/api/v1/sources/temp/records', { raw: senml([{ n: 'temp', t: T0 + 999, v: 23.5 }]) })
  let text = ''
  while (!text.includes('\n\n')) {
    const chunk = await within('a records event on the live stream', reader.read())
    assert.equal(chunk.done, false, `the live stream ended before a records event: ${JSON.stringify(text)}`)
    text += new TextDecoder().decode(chunk.value)
  }
  controller.abort()
  assert.match(text, /event: records/)
  assert.deepEqual(JSON.parse(text.split('data: ')[1]!.trim()), [{ n: 'temp', t: T0 + 999, v: 23.5 }])
})

test('OpenAPI 3 document describes the routes', async () => {
  const res = await call(r.url, 'GET', '/api/v1/openapi.json')
  assert.equal(res.status, 200)
  assert.match(res.body.openapi, /^3\./)
  assert.ok(res.body.paths['/api/v1/sources/{source}/records'])
  assert.ok(res.body.paths['/api/v1/sources/{source}/aggregate'].get.parameters.some((p: { name: string }) => p.name === 'bucket'))
  const docs = await fetch(`${r.url}/api/v1/docs/`)
  assert.equal(docs.status, 200)
  assert.match(await docs.text(), /swagger-ui/i)
})
