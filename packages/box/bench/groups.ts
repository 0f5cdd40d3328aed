/**
 * Group benchmarks, each against a baseline measured in the same run:
 *
 * - webdav: one file of BENCH_DAV_MIB MiB (256) streamed into a group's drive with an HTTP PUT
 *   through the box's WebDAV, and back out with a GET; against the same file copied to and read
 *   from a local folder with Node streams (written with fsync; the read is likely served from the
 *   page cache, so the baseline is at its best).
 * - converge: three members on a local DHT testnet make BENCH_EDITS edits (1,000) at once, a third
 *   each, to files of their own and to files they share; timed from the first write until all three
 *   drives show the same tree with the same versions. Against one member alone making the same
 *   number of edits (no peer to hear them).
 *
 *   node --import tsx packages/box/bench/groups.ts [webdav] [converge]
 *
 * Prints a Markdown table for BENCHMARKS.md on stdout, and each measurement on stderr as it comes.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import http from 'node:http'
import { randomBytes } from 'node:crypto'
import { pipeline } from 'node:stream/promises'
import { Writable } from 'node:stream'
import createTestnet from 'hyperdht/testnet.js'
import { createBox, initHome, openHome } from '../src/index.ts'
import { openMetaDb } from '../src/db/index.ts'
import { Groups } from '../src/groups/index.ts'

const PARTS = ['webdav', 'converge']
const chosen = process.argv.slice(2)
for (const name of chosen) if (!PARTS.includes(name)) throw new Error(`Unknown benchmark "${name}": choose from ${PARTS.join(', ')}.`)
const selected = (name: string) => chosen.length === 0 || chosen.includes(name)

const MiB = 2 ** 20
const DAV_BYTES = Number(process.env.BENCH_DAV_MIB ?? 256) * MiB
const EDITS = Number(process.env.BENCH_EDITS ?? 1000)
const PASSPHRASE = 'benchmark passphrase'
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-groups-bench-'))
const rows: string[][] = []

function row(name: string, figure: string, baseline: string, ratio: string) {
  rows.push([name, figure, baseline, ratio])
  console.error(`  → ${name}: ${figure} (baseline ${baseline}; ratio ${ratio})`)
}

const rate = (bytes: number, ms: number) => `${(bytes / MiB / (ms / 1000)).toFixed(0)} MiB/s`

/** Discards what is written to it, counting it. */
function sink(): Writable & { bytes: number } {
  const s = new Writable({ write(chunk: Buffer, _enc, done) { s.bytes += chunk.length; done() } }) as Writable & { bytes: number }
  s.bytes = 0
  return s
}

function request(method: string, url: string, auth: string, body?: fs.ReadStream): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { authorization: `Bearer ${auth}`, ...(body ? { 'content-length': String(DAV_BYTES) } : {}) } }, (res) => {
      const out = sink()
      pipeline(res, out).then(() => resolve({ status: res.statusCode ?? 0, bytes: out.bytes }), reject)
    })
    req.on('error', reject)
    if (body) pipeline(body, req).catch(reject)
    else req.end()
  })
}

async function webdav(bootstrap: { host: string; port: number }[]) {
  console.error(`WebDAV: a ${DAV_BYTES / MiB} MiB file, PUT and GET through the box, against a local copy`)
  const source = path.join(dir, 'source.bin')
  const chunk = randomBytes(MiB)
  const fd = fs.openSync(source, 'w')
  for (let i = 0; i < DAV_BYTES / MiB; i++) fs.writeSync(fd, chunk.map((b) => b ^ i))
  fs.closeSync(fd)

  const t0 = performance.now()
  const copy = path.join(dir, 'copy.bin')
  const out = fs.createWriteStream(copy)
  await pipeline(fs.createReadStream(source), out)
  const copyFd = fs.openSync(copy, 'r+')
  fs.fsyncSync(copyFd)
  fs.closeSync(copyFd)
  const localWrite = performance.now() - t0
  const t1 = performance.now()
  await pipeline(fs.createReadStream(copy), sink())
  const localRead = performance.now() - t1

  const home = path.join(dir, 'home')
  initHome(home, { passphrase: PASSPHRASE, timeZone: 'UTC' })
  const box = createBox({ home, port: 0, logLevel: 'silent', dhtBootstrap: bootstrap })
  await box.open()
  try {
    const url = await box.listen()
    const token = box.arbiter.ownerToken(3600).token
    const group = await box.groups.create({ name: 'Bench', as: 'Anna' })
    const target = `${url}/dav/groups/${group.key}/big.bin`
    const t2 = performance.now()
    const put = await request('PUT', target, token, fs.createReadStream(source))
    const davWrite = performance.now() - t2
    if (put.status !== 201) throw new Error(`PUT answered ${put.status}`)
    const t3 = performance.now()
    const got = await request('GET', target, token)
    const davRead = performance.now() - t3
    if (got.status !== 200 || got.bytes !== DAV_BYTES) throw new Error(`GET answered ${got.status} with ${got.bytes} bytes`)
    row(`WebDAV PUT, ${DAV_BYTES / MiB} MiB streamed`, `${rate(DAV_BYTES, davWrite)} (${(davWrite / 1000).toFixed(1)} s)`, `local copy + fsync ${rate(DAV_BYTES, localWrite)}`, `${(davWrite / localWrite).toFixed(1)}× the time`)
    row(`WebDAV GET, ${DAV_BYTES / MiB} MiB streamed`, `${rate(DAV_BYTES, davRead)} (${(davRead / 1000).toFixed(1)} s)`, `local read ${rate(DAV_BYTES, localRead)}`, `${(davRead / localRead).toFixed(1)}× the time`)
  } finally {
    await box.close()
  }
}

async function member(bootstrap: { host: string; port: number }[], name: string) {
  const home = path.join(dir, name)
  initHome(home, { passphrase: PASSPHRASE, timeZone: 'UTC' })
  const opened = openHome(home)
  const db = openMetaDb(opened.paths.meta)
  const groups = new Groups({ db, keys: opened.keys, dir: path.join(home, 'groups'), bootstrap })
  await groups.open()
  return { name, groups, async close() { await groups.close(); db.close() } }
}

/** The edits one member makes: files of its own, and one in ten to a file every member edits. */
function edits(who: string, count: number): { path: string; text: string }[] {
  return Array.from({ length: count }, (_, i) => i % 10 === 0
    ? { path: `/shared/note-${i % 50}.txt`, text: `${who} edit ${i}` }
    : { path: `/${who}/file-${i}.txt`, text: `${who} edit ${i}` })
}

async function tree(groups: Groups, key: string): Promise<string> {
  return JSON.stringify((await groups.drive(key).tree()).map((e) => [e.path, e.version]))
}

async function converge(bootstrap: { host: string; port: number }[]) {
  console.error(`Convergence: three members, ${EDITS} edits at once`)
  const alone = await member(bootstrap, 'alone')
  const solo = await alone.groups.create({ name: 'Solo', as: 'Alone' })
  const t0 = performance.now()
  await Promise.all(edits('alone', EDITS).map((e) => alone.groups.drive(solo.key).writeFile(e.path, e.text)))
  const soloMs = performance.now() - t0
  await alone.close()

  const boxes = await Promise.all(['anna', 'bea', 'cai'].map((n) => member(bootstrap, n)))
  try {
    const [anna, bea, cai] = boxes as [typeof boxes[0], typeof boxes[0], typeof boxes[0]]
    const { key } = await anna.groups.create({ name: 'Bench', as: 'anna' })
    for (const box of [bea, cai]) {
      const { invite } = await anna.groups.invite(key, { publicKey: box.groups.publicKey, name: box.name, role: 'member', expiresInSeconds: 600 })
      await box.groups.join({ code: invite })
    }
    const share = (i: number) => Math.floor(EDITS / 3) + (i < EDITS % 3 ? 1 : 0)
    const planned = boxes.map((box, i) => ({ box, edits: edits(box.name, share(i)) }))
    const expected = new Set(planned.flatMap((p) => p.edits.map((e) => e.path)))
    const t1 = performance.now()
    await Promise.all(planned.flatMap(({ box, edits }) => edits.map((e) => box.groups.drive(key).writeFile(e.path, e.text))))
    const written = performance.now() - t1
    for (;;) {
      const [a, b, c] = await Promise.all(boxes.map((box) => tree(box.groups, key)))
      const paths = new Set((JSON.parse(a!) as [string, string | null][]).map(([p]) => p))
      if (a === b && b === c && [...expected].every((p) => paths.has(p))) break
      if (performance.now() - t1 > 600_000) throw new Error('The members did not converge in 10 minutes.')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const convergeMs = performance.now() - t1
    row(`three members converge after ${EDITS} concurrent edits`, `${(convergeMs / 1000).toFixed(1)} s (writes done at ${(written / 1000).toFixed(1)} s)`, `one member alone ${(soloMs / 1000).toFixed(1)} s`, `${(convergeMs / soloMs).toFixed(1)}×`)
  } finally {
    for (const box of boxes) await box.close()
  }
}

const net = await createTestnet(3, { host: '127.0.0.1' })
try {
  if (selected('webdav')) await webdav(net.bootstrap)
  if (selected('converge')) await converge(net.bootstrap)
} finally {
  await net.destroy()
  fs.rmSync(dir, { recursive: true, force: true })
}
console.log(`| benchmark | figure | baseline (same run) | ratio |\n|---|---|---|---|\n${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}`)
