/**
 * The `coffer backup` recovery commands end to end: three boxes, each served over a real socket,
 * the commands run as the owner
 * types them, and the recovery made in a new folder with no box running.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Command } from 'commander'
import { initHome, openHome, type Home } from '../home/index.ts'
import { createBox } from '../box.ts'
import { Client } from '../cli/connect.ts'
import { recoveryCommands } from '../cli/recovery.ts'
import { NotEnoughShares } from './index.ts'

const PASSPHRASE = 'correct horse battery staple'
const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-recovery-cli-'))
process.env.COFFER_PASSPHRASE = PASSPHRASE

interface Served {
  home: Home
  url: string
  token: string
  client: () => Client
  close(): Promise<void>
}

const served: Served[] = []
after(async () => {
  for (const s of served) await s.close()
  fs.rmSync(ROOT, { recursive: true, force: true })
})

async function serveBox(name: string): Promise<Served> {
  const dir = path.join(ROOT, name)
  initHome(dir, { passphrase: PASSPHRASE, timeZone: 'UTC' })
  const box = createBox({ home: dir, port: 0, logLevel: 'silent' })
  await box.open()
  const url = await box.listen()
  const { token } = box.arbiter.ownerToken(3600)
  const one = { home: box.home, url, token, client: () => new Client(url, token), close: () => box.close() }
  served.push(one)
  return one
}

/** Runs `coffer backup ARGS…` against a box (or, for recovery, a home folder), answering what it printed. */
async function backup(args: string[], on: { client?: () => Client; home?: string }): Promise<string> {
  const program = new Command('coffer').exitOverride()
  const group = program.command('backup')
  recoveryCommands(group, on.client ?? (() => { throw new Error('this command needs no box') }), () => on.home ?? ROOT)
  const printed: string[] = []
  const write = process.stdout.write
  process.stdout.write = ((chunk: string) => printed.push(chunk) > 0) as typeof process.stdout.write
  try {
    await program.parseAsync(['backup', ...args], { from: 'user' })
  } finally {
    process.stdout.write = write
  }
  return printed.join('')
}

test('split, hold, list, release and recover, as the owner and two friends type them; the paper key as a PDF only its owner reads', async () => {
  const [owner, bob, carol] = [await serveBox('owner'), await serveBox('bob'), await serveBox('carol')]
  const sharesDir = path.join(ROOT, 'shares')
  const said = await backup(['shares', 'split', '--threshold', '2', '--friend', `bob=${bob.home.config.identity}`, '--friend', `carol=${carol.home.config.identity.toUpperCase()}`, '--out', sharesDir], { client: owner.client })
  assert.match(said, /any 2 of these 2 shares rebuild it/)
  assert.deepEqual(fs.readdirSync(sharesDir).sort(), ['bob.coffer-share.json', 'carol.coffer-share.json'])
  const listed = await backup(['shares', 'list'], { client: owner.client })
  assert.match(listed, /any 2 of 2 shares rebuild it\./)
  assert.match(listed, /1\s+bob\s+[0-9a-f]{12}…\s+file\n.*2\s+carol\s+[0-9a-f]{12}…\s+file/)

  // Each friend holds their own file; the other's is not for them.
  await assert.rejects(backup(['shares', 'hold', path.join(sharesDir, 'carol.coffer-share.json')], { client: bob.client }), /sealed to the box [0-9a-f]{12}…, not to this one/)
  assert.match(await backup(['shares', 'hold', path.join(sharesDir, 'bob.coffer-share.json'), '--label', 'olga'], { client: bob.client }), /Holding share 1 of the seed of olga/)
  assert.match(await backup(['shares', 'hold', path.join(sharesDir, 'carol.coffer-share.json')], { client: carol.client }), /Holding share 2 of the seed of [0-9a-f]{12}…/)
  assert.match(await backup(['shares', 'list'], { client: bob.client }), new RegExp(`${owner.home.config.identity}\\s+olga\\s+\\d+\\s+1 of 2, 2 needed`))

  // On the new machine: a recovery code, shares released to it, then the home.
  const newHome = path.join(ROOT, 'new-home')
  const request = await backup(['recover', 'request'], { home: newHome })
  const code = /^ {2}([0-9a-f]{64})$/m.exec(request)![1]!
  assert.match(await backup(['recover', 'request'], { home: newHome }), new RegExp(`already waiting for shares; its recovery code is still:\\n\\n  ${code}`))
  const fromBob = path.join(ROOT, 'from-bob.json')
  const fromCarol = path.join(ROOT, 'from-carol.json')
  assert.match(await backup(['shares', 'release', 'olga', '--to', code, '--out', fromBob], { client: bob.client }), /Wrote share 1 of olga's seed/)
  await backup(['shares', 'release', owner.home.config.identity, '--to', code, '--out', fromCarol], { client: carol.client })
  assert.match(await backup(['shares', 'list'], { client: bob.client }), new RegExp(`to ${code.slice(0, 12)}…`))

  await assert.rejects(backup(['recover', fromBob], { home: newHome }), (err: unknown) => err instanceof NotEnoughShares && /^1 of 2 shares: ask one more friend/.test(err.message))
  const recovered = await backup(['recover', fromBob, fromCarol], { home: newHome })
  assert.match(recovered, new RegExp(`Recovered box ${owner.home.config.identity} in .*new-home, from 2 of its 2 shares \\(split version \\d+\\), released by bob, carol\\.`))
  assert.equal(openHome(newHome).config.identity, owner.home.config.identity)

  const paper = path.join(ROOT, 'paper-key.pdf')
  fs.writeFileSync(paper, 'an older file, readable by all', { mode: 0o644 })
  assert.match(await backup(['paper-key', '--out', paper], { client: owner.client }), /Wrote the paper key of box [0-9a-f]{12}… to/)
  assert.equal(fs.readFileSync(paper).subarray(0, 5).toString('latin1'), '%PDF-')
  assert.equal(fs.statSync(paper).mode & 0o777, 0o600)
  const download = await fetch(`${owner.url}/api/v1/recovery/paper-key`, {
    method: 'POST', headers: { authorization: `Bearer ${owner.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: PASSPHRASE }),
  })
  assert.deepEqual([download.status, download.headers.get('content-type'), download.headers.get('cache-control')], [200, 'application/pdf', 'no-store'])
  assert.equal(Buffer.from(await download.arrayBuffer()).subarray(0, 5).toString('latin1'), '%PDF-')

  process.env.COFFER_PASSPHRASE = 'not the passphrase'
  try {
    await assert.rejects(backup(['paper-key', '--out', path.join(ROOT, 'other.pdf')], { client: owner.client }), /not the owner passphrase/)
    assert.ok(!fs.existsSync(path.join(ROOT, 'other.pdf')))
  } finally {
    process.env.COFFER_PASSPHRASE = PASSPHRASE
  }
})
