/** The paper key: given out only for the owner passphrase, and a page that holds the words, their QR code, the identity and what to do. */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pino from 'pino'
import QRCode from 'qrcode'
import { initHome, openHome } from '../home/index.ts'
import { openMetaDb } from '../db/index.ts'
import { AuditLog } from '../audit/index.ts'
import { Arbiter } from '../arbiter/index.ts'
import { Operations } from '../operations/index.ts'
import { seedToWords } from '../keys/index.ts'
import { WrongPassphrase, recoveryOperations, renderPaperKey } from './index.ts'

const PASSPHRASE = 'correct horse battery staple'
const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-paper-'))
const dir = path.join(ROOT, 'home')
initHome(dir, { passphrase: PASSPHRASE, timeZone: 'UTC' })
const home = openHome(dir)
const db = openMetaDb(home.paths.meta)
const audit = new AuditLog(home.paths.audit, home.keys, db)
const arbiter = new Arbiter(db, home.keys.macaroonRootKey)
const ops = new Operations({ arbiter, audit, logger: pino({ level: 'silent' }) })
const recovery = recoveryOperations({ home, db })
const token = arbiter.ownerToken(3600).token
const paperKey = (input: object) => ops.call(recovery.paperKey, input, { token, action: 'TEST recovery.paperKey' })

after(async () => {
  await audit.close()
  db.close()
  fs.rmSync(ROOT, { recursive: true, force: true })
})

/** The text a PDF with uncompressed content streams shows, one string per text operator (standard-font hex strings). */
function pdfText(pdf: Buffer): string[] {
  return [...pdf.toString('latin1').matchAll(/\[([^\]]*)\] TJ/g)]
    .map((op) => [...op[1]!.matchAll(/<([0-9a-f]*)>/g)].map((m) => Buffer.from(m[1]!, 'hex').toString('latin1')).join(''))
}

/** The QR code as drawn: every filled module-high rectangle, put back on the module grid. */
function drawnModules(pdf: Buffer, module: number): boolean[][] {
  const rects = [...pdf.toString('latin1').matchAll(/([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) re/g)]
    .map((m) => m.slice(1, 5).map(Number) as [number, number, number, number])
    .filter(([, , , h]) => h === module)
  const x0 = Math.min(...rects.map((r) => r[0]))
  const y0 = Math.min(...rects.map((r) => r[1]))
  const grid: boolean[][] = []
  for (const [x, y, w] of rects) {
    const row = Math.round((y - y0) / module)
    for (let c = Math.round((x - x0) / module); c < Math.round((x - x0 + w) / module); c++) (grid[row] ??= [])[c] = true
  }
  return grid
}

test('the words are given out only for the owner passphrase, and the refusal is audited', async () => {
  await audit.open()
  await assert.rejects(paperKey({ passphrase: 'not it', format: 'pdf' }), WrongPassphrase)
  await assert.rejects(paperKey({ passphrase: 'not it', format: 'words' }), WrongPassphrase)
  const entries = await audit.list({ outcome: 'deny' })
  assert.equal(entries.length, 2)
  assert.ok(entries.every((e) => e.status === 403 && e.action === 'TEST recovery.paperKey'))

  const words = await paperKey({ passphrase: PASSPHRASE, format: 'words' })
  assert.deepEqual(words.format === 'words' && [words.identity, words.words], [home.config.identity, seedToWords(fs.readFileSync(home.paths.seed))])
  const pdf = await paperKey({ passphrase: PASSPHRASE })
  assert.ok(pdf.format === 'pdf' && pdf.document.subarray(0, 5).toString('latin1') === '%PDF-')
  assert.equal((await audit.list({ outcome: 'allow' })).filter((e) => e.action === 'TEST recovery.paperKey').length, 2)
})

test('the page holds the 24 words in order, their QR code, the identity, the date and how to recover', async () => {
  const words = seedToWords(fs.readFileSync(home.paths.seed))
  const key = { identity: home.config.identity, words, createdAt: Date.UTC(2026, 10, 30, 12) / 1000 }
  const pdf = await renderPaperKey(key, { compress: false })
  const shown = pdfText(pdf)
  const list = words.split(' ')
  // Each word on its own, numbered down the columns.
  const numbered = list.map((word, i) => [`${String(i + 1).padStart(2, ' ')}.`, word])
  for (const [number, word] of numbered) {
    const at = shown.indexOf(number!)
    assert.ok(at >= 0 && shown[at + 1] === word, `word ${number} ${word} is printed after its number`)
  }
  const page = shown.join(' ').replace(/\s+/g, ' ')
  for (const phrase of [key.identity, 'Made on 2026-11-30', 'coffer init --recover', 'coffer backup restore', 'Keep this paper offline']) {
    assert.ok(page.includes(phrase), `the page lacks: ${phrase}`)
  }

  const expected = QRCode.create(words.toUpperCase(), { errorCorrectionLevel: 'Q' }).modules
  const drawn = drawnModules(pdf, 3)
  for (let row = 0; row < expected.size; row++) {
    for (let col = 0; col < expected.size; col++) {
      assert.equal(drawn[row]?.[col] === true, expected.get(row, col) === 1, `QR module ${row},${col}`)
    }
  }
  assert.equal(drawn.length, expected.size)

  assert.deepEqual(await renderPaperKey(key, { compress: false }), pdf, 'the same key on the same day is the same bytes')
  assert.ok((await renderPaperKey(key)).length < pdf.length)
})
