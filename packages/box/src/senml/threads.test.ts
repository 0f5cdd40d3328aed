import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encode } from 'cbor-x'
import { InvalidInput } from '../errors/index.ts'
import { INLINE_BYTES, parseSenml, parseSenmlCbor, parseSenmlJson, parsingStats } from './index.ts'

const NOW = 1_700_000_000

/** A pack of every kind of record, with base fields that change part-way and relative times, at least `bytes` long as JSON. */
function bigPack(bytes: number): Record<string, unknown>[] {
  const pack: Record<string, unknown>[] = [{ bn: 'urn:dev:mac:0024befffe804ff1/', bt: 1.7e9, bu: 'Cel', bver: 10, n: 'temp', v: 21.5 }]
  for (let i = 1; JSON.stringify(pack).length < bytes; i++) {
    const t = i * 0.5
    switch (i % 7) {
      case 0: pack.push({ n: 'temp', t, v: -i / 3 }); break
      case 1: pack.push({ n: 'door', t, vb: i % 2 === 0 }); break
      case 2: pack.push({ n: 'label', t, vs: `ünïcode ${i} ✓` }); break
      case 3: pack.push({ n: 'blob', t, vd: Buffer.from(`bytes ${i}`).toString('base64url') }); break
      case 4: pack.push({ n: 'energy', u: 'J', t, s: i * 10, ut: 60 }); break
      case 5: pack.push({ bn: `urn:dev:other${i % 3}:`, bv: 100, n: 'level', t: -t, v: -0 }); break
      default: pack.push({ n: 'count', t: t - 0.25, v: i, u: 'count', x_unknown: 'ignored' })
    }
  }
  return pack
}

/** What a parse settled with: its records, or its refusal as a client would see it. */
async function outcome(parse: () => unknown): Promise<unknown> {
  try {
    return { records: await parse() }
  } catch (err) {
    assert.ok(err instanceof InvalidInput, `expected InvalidInput, got ${String(err)}`)
    return { refusal: err.toProblem() }
  }
}

test('a large SenML JSON body parsed in a thread gives exactly the records parsed in place', async () => {
  const body = Buffer.from(JSON.stringify(bigPack(200_000)))
  const before = parsingStats().inThreads
  const records = await parseSenml(body, 'json', NOW)
  assert.deepEqual(records, parseSenmlJson(body, NOW))
  // Key order too: what is stored and served is written from these objects.
  assert.deepEqual(records.map((r) => Object.keys(r)), parseSenmlJson(body, NOW).map((r) => Object.keys(r)))
  assert.ok(Object.is(records.find((r) => r.n.endsWith(':level'))!.v, 100))
  assert.equal(parsingStats().inThreads, before + 1)
})

test('a large SenML CBOR body parsed in a thread gives exactly the records parsed in place', async () => {
  const pack = bigPack(200_000).map((rec) => {
    const labels: Record<string, number> = { bver: -1, bn: -2, bt: -3, bu: -4, bv: -5, n: 0, u: 1, v: 2, vs: 3, vb: 4, s: 5, t: 6, ut: 7, vd: 8 }
    return new Map(Object.entries(rec).map(([k, v]) => [labels[k] ?? k, k === 'vd' ? Buffer.from(v as string, 'base64url') : v]))
  })
  const body = encode(pack)
  assert.ok(body.length >= INLINE_BYTES)
  const before = parsingStats().inThreads
  assert.deepEqual(await parseSenml(body, 'cbor', NOW), parseSenmlCbor(body, NOW))
  assert.equal(parsingStats().inThreads, before + 1)
})

test('a large body a thread refuses is refused with the same problem, index and field as in place', async () => {
  const good = bigPack(50_000)
  const bad: [string, Uint8Array][] = [
    ['a wrong type deep in the pack', Buffer.from(JSON.stringify([...good, { n: 'temp', v: '1' }, ...good]))],
    ['a bad name from a base name', Buffer.from(JSON.stringify([...good, { bn: 'dev#1/', n: 'a', v: 1 }]))],
    ['two values', Buffer.from(JSON.stringify([...good, { n: 'a', v: 1, vs: 'x' }]))],
    ['a must-understand field', Buffer.from(JSON.stringify([...good, { n: 'a', v: 1, foo_: 1 }]))],
    ['JSON cut short', Buffer.from(JSON.stringify(good).slice(0, -10))],
    ['bytes that are not UTF-8', Buffer.concat([Buffer.from(JSON.stringify(good).slice(0, -1)), Buffer.from(',{"n":"a","vs":"\xff"}]', 'latin1')])],
    ['not an array', Buffer.from(JSON.stringify({ records: good }))],
  ]
  const before = parsingStats().inThreads
  for (const [what, body] of bad) {
    assert.ok(body.length >= INLINE_BYTES, what)
    const threaded = await outcome(() => parseSenml(body, 'json', NOW))
    assert.ok('refusal' in (threaded as object), `${what} was accepted`)
    assert.deepEqual(threaded, await outcome(() => parseSenmlJson(body, NOW)), what)
  }
  const cbor = encode([...good.map(() => new Map<number, unknown>([[0, 'a'], [2, 1]])), new Map<number, unknown>([[0, 'a'], [8, 'aGk']])])
  assert.deepEqual(await outcome(() => parseSenml(cbor, 'cbor', NOW)), await outcome(() => parseSenmlCbor(cbor, NOW)))
  assert.equal(parsingStats().inThreads, before + bad.length + 1)
})

test('many large bodies at once each get their own records back', async () => {
  const bodies = Array.from({ length: 12 }, (_, k) => Buffer.from(JSON.stringify([{ bt: 1.7e9 + k * 1e4, n: `series${k}`, v: k }, ...bigPack(20_000).slice(1)])))
  const results = await Promise.all(bodies.map((b) => parseSenml(b, 'json', NOW)))
  results.forEach((records, k) => assert.deepEqual(records, parseSenmlJson(bodies[k]!, NOW)))
})

test('a small body is parsed in place, with the same result and the same refusals', async () => {
  const before = parsingStats()
  assert.deepEqual(await parseSenml(Buffer.from('[{"n":"a","v":1}]'), 'json', NOW), [{ n: 'a', t: NOW, v: 1 }])
  await assert.rejects(parseSenml(Buffer.from('[{"n":"a",'), 'json', NOW), (err: unknown) => err instanceof InvalidInput && /does not parse/.test(err.message))
  const after = parsingStats()
  assert.equal(after.inPlace, before.inPlace + 2)
  assert.equal(after.inThreads, before.inThreads)
})
