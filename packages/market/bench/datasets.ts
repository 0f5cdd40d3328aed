/**
 * Dataset records: what a box pays to seal its record (time and bytes), and what the market pays
 * per record to open classes at release, each against the bare AES-256-GCM encryption or
 * decryption of the same padded plaintext in the same run, so the ratio is what threshold
 * sharing adds. Run: node --import tsx packages/market/bench/datasets.ts [records] [runs]
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { openClass, PLAINTEXT_BYTES, sealRecord, type Measurement, type RecordPayload, type SealedRecord } from '../src/star/index.ts'

const records = Number(process.argv[2] ?? 2000)
const runs = Number(process.argv[3] ?? 5)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const measurement = (band: number): Measurement => ({ queryId: 'bench', level: 'low', classValues: [band, 'Aachen'] })
const classOf = (_: unknown, payload: RecordPayload): Measurement => ({ queryId: 'bench', level: 'low', classValues: payload.values.slice(0, 2) })

console.log(`dataset records, ${records} per run, median of ${runs} runs, µs per record`)
console.log('k | seal µs | bare AES-GCM µs | ratio | answer bytes (JSON) | open µs | bare decrypt µs | ratio')
for (const k of [5, 10, 20]) {
  const seal: number[] = []
  const bareSeal: number[] = []
  const open: number[] = []
  const bareOpen: number[] = []
  let bytes = 0
  for (let run = 0; run < runs; run++) {
    const classes = Math.max(1, Math.floor(records / (k * 2)))
    let t = performance.now()
    const sealed: { sealed: SealedRecord }[] = []
    for (let i = 0; i < records; i++) sealed.push({ sealed: sealRecord(measurement(i % classes), { values: [i % classes, 'Aachen', 60 + (i % 40)] }, k) })
    seal.push(((performance.now() - t) * 1000) / records)

    const key = randomBytes(32)
    const plaintext = Buffer.alloc(PLAINTEXT_BYTES, 32)
    const boxes: { nonce: Buffer; body: Buffer; tag: Buffer }[] = []
    t = performance.now()
    for (let i = 0; i < records; i++) {
      const nonce = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', key, nonce)
      boxes.push({ nonce, body: Buffer.concat([cipher.update(plaintext), cipher.final()]), tag: cipher.getAuthTag() })
    }
    bareSeal.push(((performance.now() - t) * 1000) / records)

    const first = sealed[0]!.sealed
    bytes = Buffer.byteLength(JSON.stringify({ queryId: 'bench', boxId: 'f'.repeat(64), privacyLevel: 'low', record: first, signature: 'x'.repeat(86) }))

    const byTag = new Map<string, { sealed: SealedRecord }[]>()
    for (const r of sealed) byTag.set(r.sealed.tag, [...(byTag.get(r.sealed.tag) ?? []), r])
    t = performance.now()
    let opened = 0
    for (const group of byTag.values()) opened += openClass(group, k, classOf)?.opened.length ?? 0
    open.push(((performance.now() - t) * 1000) / records)
    if (opened !== records) throw new Error(`opened ${opened} of ${records}`)

    t = performance.now()
    for (const b of boxes) {
      const decipher = createDecipheriv('aes-256-gcm', key, b.nonce)
      decipher.setAuthTag(b.tag)
      Buffer.concat([decipher.update(b.body), decipher.final()])
    }
    bareOpen.push(((performance.now() - t) * 1000) / records)
  }
  const f = (x: number) => x.toFixed(1)
  console.log([k, f(median(seal)), f(median(bareSeal)), (median(seal) / median(bareSeal)).toFixed(1), bytes, f(median(open)), f(median(bareOpen)), (median(open) / median(bareOpen)).toFixed(1)].join(' | '))
}
