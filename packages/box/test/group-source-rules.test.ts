/**
 * The rules a group's shared source is held under, as they meet the rest of a member's box: an
 * app asking for a logical type is offered the member's own sources and the copies it may be
 * granted, never one shared under apps=none; an app that can read a copy shared with gateway=no
 * sends nothing out; and a data market's query is not answered from a copy shared with market=no.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createMarket } from '@coffer/market'
import { PROBE, senml, until, within } from './helpers.ts'
import { startBox, testnet, type Later } from './group-members.ts'

const t0 = Date.UTC(2026, 10, 2, 10) / 1000
let steps: (() => Promise<unknown> | unknown)[] = []
const later: Later = (step) => void steps.push(step)
let anna: Awaited<ReturnType<typeof startBox>>
let bea: Awaited<ReturnType<typeof startBox>>
let key: string
/** Bea's copies of Anna's meter (shared under apps=none) and solar panel (apps=raw, gateway=no, market=no). */
let meter: string
let solar: string
let receiver: http.Server
let received: string[] = []
let destination: string

interface Shared { source: string; id: string; records: number | null }

before(async () => {
  const bootstrap = await testnet(later)
  anna = await startBox(later, bootstrap)
  bea = await startBox(later, bootstrap)
  key = (await anna.api('POST', '/groups', { body: { name: 'Household', as: 'Anna' } })).body.key
  const { invite } = (await anna.api('POST', `/groups/${key}/invites`, { body: { publicKey: (await bea.api('GET', '/groups')).body.boxKey, name: 'Bea' } })).body
  assert.equal((await within('Bea joining', bea.api('POST', '/groups/join', { body: { code: invite } }), 60_000)).status, 201)

  for (const [box, id] of [[anna, 'meter'], [anna, 'solar'], [bea, 'flat']] as const) {
    assert.equal((await box.api('POST', '/sources', { body: { id, logicalType: 'energy', description: `The ${id}` } })).status, 201)
    assert.equal((await box.api('POST', `/sources/${id}/records`, { raw: senml([{ n: 'power', u: 'W', v: 400, t: t0 }]) })).status, 201)
  }
  assert.equal((await anna.api('POST', `/groups/${key}/sources`, { body: { source: 'meter', apps: 'none' } })).status, 201)
  assert.equal((await anna.api('POST', `/groups/${key}/sources`, { body: { source: 'solar', apps: 'raw' } })).status, 201)
  const copies = await until('Bea\'s copies of both', async () => {
    const list = (await bea.api('GET', `/groups/${key}/sources`)).body.sources as Shared[]
    return list.length === 2 && list.every((s) => s.records === 1) ? list : undefined
  }, 60_000)
  meter = copies.find((s) => s.source === 'meter')!.id
  solar = copies.find((s) => s.source === 'solar')!.id

  receiver = http.createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      received.push(body)
      res.writeHead(201).end('{}')
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  destination = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/reports`
})

after(async () => {
  receiver?.close()
  for (const step of steps.reverse()) await step()
  steps = []
})

const manifest = {
  manifestVersion: 1, id: 'energy-report', name: 'Energy report', version: '1.0.0', author: 'Tests', description: 'Sums the household\'s energy.',
  purposes: ['a weekly energy report'], main: 'app.js',
  sources: [{ id: 'energy', logicalType: 'energy', ops: ['read'], granularity: '1h', window: '30d', required: true, justification: 'Hourly power.' }],
  exports: [] as unknown[],
  schedule: { on: 'demand' },
}

async function probe(calls: { method: string; args: unknown }[]) {
  const res = await bea.api('POST', '/apps/energy-report/run', { body: { event: { calls } } })
  assert.equal(res.status, 200, JSON.stringify(res.body))
  return res.body.value as { ok: boolean; value?: any; status?: number; message?: string }[]
}

test('an app asking for energy in general is offered the member\'s own source and the copy apps may read, not the copy shared under apps=none, and is granted', async () => {
  manifest.exports = [{ id: 'report', url: destination, purpose: 'The report', sends: 'weekly totals', frequency: 'on-demand', maxBytes: 2048 }]
  const installed = await bea.api('POST', '/apps', { body: { manifest, code: PROBE } })
  assert.equal(installed.status, 202, JSON.stringify(installed.body))
  assert.deepEqual(installed.body.review.reads[0].matches.sort(), ['flat', solar].sort())
  assert.ok(!installed.body.review.text.join(' ').includes(meter))

  // The copy no app may have cannot be chosen for it either; granted as asked, the app holds the other two.
  const chosen = await bea.api('POST', '/apps/energy-report/grant', { body: { sources: { energy: { sources: ['flat', meter] } } } })
  assert.equal(chosen.status, 400)
  assert.match(chosen.body.detail, new RegExp(`"${meter.replaceAll('.', '\\.')}" is not a source Energy report asked for`))
  const granted = await bea.api('POST', '/apps/energy-report/grant', { body: { exports: { report: 'auto' } } })
  assert.equal(granted.status, 200, JSON.stringify(granted.body))
  const [own, copy, closed] = await probe([
    { method: 'aggregate', args: { source: 'flat', fn: 'mean', bucket: '1h', from: t0, to: t0 + 3600 } },
    { method: 'aggregate', args: { source: solar, fn: 'mean', bucket: '1h', from: t0, to: t0 + 3600 } },
    { method: 'aggregate', args: { source: meter, fn: 'mean', bucket: '1h', from: t0, to: t0 + 3600 } },
  ])
  assert.deepEqual([own!.value?.buckets[0].value, copy!.value?.buckets[0].value], [400, 400], JSON.stringify([own, copy]))
  assert.equal(closed!.ok, false)
})

test('an app that can read a copy shared with gateway=no sends nothing out of the member\'s box; granted only the member\'s own source, it may', async () => {
  // Narrowed to Bea's own source, the app's export leaves.
  assert.equal((await bea.api('POST', '/apps/energy-report/grant', { body: { sources: { energy: { sources: ['flat'] } }, exports: { report: 'auto' } } })).status, 200)
  received = []
  const [sent] = await probe([{ method: 'export', args: { destination, payload: { week: 1 } } }])
  assert.equal(sent!.ok, true, JSON.stringify(sent))
  assert.deepEqual(received, ['{"week":1}'])

  // Granted the solar copy too: every export is refused, saying which rule, and audited.
  assert.equal((await bea.api('POST', '/apps/energy-report/grant', { body: { exports: { report: 'auto' } } })).status, 200)
  const [refused] = await probe([{ method: 'export', args: { destination, payload: { week: 2 } } }])
  assert.equal(refused!.ok, false)
  assert.equal(refused!.status, 403)
  assert.match(refused!.message!, new RegExp(`can read "${solar.replaceAll('.', '\\.')}", which the group "Household" shares \\(from Anna\\) under the rule gateway=no`))
  assert.deepEqual(received, ['{"week":1}'], 'nothing more reached the destination')
  const audit = (await bea.api('GET', '/audit?subject=app:energy-report&outcome=deny&limit=100')).body as { operation: string; reason: string | null }[]
  assert.ok(audit.some((e) => e.operation === 'export' && /gateway=no/.test(e.reason ?? '')))
})

test('a data market\'s query is not answered from a copy shared with market=no: the market\'s read of it is refused under the rule, and nothing is sent', async () => {
  const helper = createMarket({ port: 0, logLevel: 'silent', aggregation: { role: 'helper', leaderToken: 'between-operators', verifyKey: 'agreed by both operators' } })
  await helper.open()
  later(() => helper.close())
  const leader = createMarket({
    port: 0, logLevel: 'silent',
    aggregation: { role: 'leader', helper: { url: await helper.listen(), token: 'between-operators' }, verifyKey: 'agreed by both operators', releasePollMs: 60_000 },
  })
  await leader.open()
  later(() => leader.close())
  const marketUrl = await leader.listen()
  const market = async (method: string, route: string, body?: unknown, key?: string) => {
    const res = await fetch(marketUrl + route, {
      method, body: body === undefined ? undefined : JSON.stringify(body),
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(key ? { authorization: `Bearer ${key}` } : {}) },
    })
    assert.ok(res.ok, `${method} ${route}: ${res.status}`)
    return res.json()
  }
  const registered = await market('POST', '/api/v1/processors', { name: 'Energy study', contact: 'study@example.org' })
  await leader.payments.deposit({ processorId: registered.processor.id, amount: 1_000_000, reference: 'study grant' })

  // The electricity the market's vocabulary asks for is only in Bea's copy of Anna's solar panel, shared with market=no.
  assert.equal((await anna.api('POST', '/sources/solar/records', { raw: senml([{ n: 'electricity', u: 'kWh', v: 3, t: t0 }]) })).status, 201)
  await until('the reading in Bea\'s copy', async () => ((await bea.api('GET', `/groups/${key}/sources`)).body.sources as Shared[]).find((s) => s.id === solar)?.records === 2 || undefined, 30_000)
  const day = (t: number) => new Date(t * 1000).toISOString().slice(0, 10)
  const posted = await market('POST', '/api/v1/queries', {
    question: `SELECT AVG(MEAN(SUM(Energy.electricity) PER 1d) DURING ${day(t0 - 86400)} .. ${day(t0 + 86400)})`,
    purpose: 'How much electricity homes make.', price: { amount: 10, currency: 'sat' },
    deadline: new Date(Date.now() + 30 * 86400_000).toISOString(), participants: { min: 10, max: 100 },
    bounds: { 'Energy.electricity': { lo: 0, hi: 100 } }, answer: 'statistics', retention: '30d',
  }, registered.key)

  assert.equal((await bea.api('PUT', '/market/levels', { body: { levels: { Energy: 'medium' } } })).status, 200)
  assert.equal((await bea.api('POST', '/markets', { body: { url: marketUrl } })).status, 201)
  const accepted = await bea.api('POST', `/market/queries/${posted.id}/accept`)
  assert.equal(accepted.status, 200, JSON.stringify(accepted.body))
  assert.notEqual(accepted.body.state, 'answered')
  assert.match(accepted.body.reason, new RegExp(`"${solar.replaceAll('.', '\\.')}" is held by the group "Household", shared by Anna, under the rule market=no`))
  assert.equal((await market('GET', `/api/v1/queries/${posted.id}`, undefined, registered.key)).participation.answered, 0)
  const sent = (await bea.api('GET', '/exports')).body as { app: string }[]
  assert.deepEqual(sent.filter((e) => e.app.startsWith('market:')), [], 'nothing went to the market')
})
