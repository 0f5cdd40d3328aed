/** The `coffer` command, run in its own process as a user would. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { BIN, cli, startProcess, tempDir, PASSPHRASE } from './helpers.ts'
import { openHome } from '../src/home/index.ts'

const env = { COFFER_PASSPHRASE: PASSPHRASE }

test('init shows 24 words once; init --recover rebuilds identical keys; secrets are 0600', async () => {
  const dir = tempDir()
  const a = path.join(dir, 'a')
  const created = await cli(['--home', a, 'init'], env)
  assert.equal(created.code, 0, created.stderr)
  const words = [...created.stdout.matchAll(/^\s*\d+\. (\w+)$/gm)].map((m) => m[1]).join(' ')
  assert.equal(words.split(' ').length, 24)
  assert.equal(fs.statSync(path.join(a, 'seed')).mode & 0o777, 0o600)
  assert.equal(fs.statSync(path.join(a, 'config.json')).mode & 0o777, 0o600)

  const again = await cli(['--home', a, 'init'], env)
  assert.equal(again.code, 1)
  assert.match(again.stderr, /already holds a box/)

  const b = path.join(dir, 'b')
  const recovered = await cli(['--home', b, 'init', '--recover'], { ...env, COFFER_RECOVERY_WORDS: words })
  assert.equal(recovered.code, 0, recovered.stderr)
  const ka = openHome(a).keys
  const kb = openHome(b).keys
  assert.deepEqual(kb.identity.publicKey, ka.identity.publicKey)
  assert.deepEqual(kb.auditLog.keyPair.publicKey, ka.auditLog.keyPair.publicKey)
  assert.deepEqual(kb.sourceLog('location', 1).keyPair.publicKey, ka.sourceLog('location', 1).keyPair.publicKey)
  assert.deepEqual(kb.macaroonRootKey, ka.macaroonRootKey)
  assert.notDeepEqual(ka.sourceLog('location', 1).keyPair.publicKey, ka.sourceLog('steps', 1).keyPair.publicKey)

  const wrong = await cli(['--home', path.join(dir, 'c'), 'init', '--recover'], { ...env, COFFER_RECOVERY_WORDS: words.replace(/^\w+/, 'zoo') })
  assert.equal(wrong.code, 1)
  assert.match(wrong.stderr, /not valid|checksum/)
})

test('the command line loads only itself and the HTTP client before a command runs: no log, database, crypto or server code, which each command that needs it imports', () => {
  const dir = fileURLToPath(new URL('../dist/cli/', import.meta.url))
  const seen = new Set<string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    for (const [, spec] of fs.readFileSync(path.join(dir, file), 'utf8').matchAll(/\bimport\s*(?:[^'"();]*?from\s*)?["']\.\/([^'"]+)["']/g)) visit(spec!)
  }
  visit('index.js')
  assert.ok(seen.size > 1, 'the walk followed the imports')
  const loaded = [...seen].map((file) => fs.readFileSync(path.join(dir, file), 'utf8')).join('\n')
  for (const heavy of ['hypercore', 'corestore', 'autobase', 'better-sqlite3', 'sodium-native', 'fastify']) {
    assert.doesNotMatch(loaded, new RegExp(`node_modules/${heavy}/|require\\(["']${heavy}["']\\)`), `every command would load ${heavy}`)
  }
})

test('coffer start compiles the box from its code cache once one is written, and what it loads on demand still loads; a damaged cache is written anew', { timeout: 120_000 }, async () => {
  const home = path.join(tempDir(), 'home')
  assert.equal((await cli(['--home', home, 'init'], env)).code, 0)
  /** `coffer start` with NODE_DEBUG=coffer, once its standard error matches `said` and it listens. */
  const start = (said: RegExp) => new Promise<{ child: ChildProcess; url: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, '--home', home, 'start', '--port', '0'], { env: { ...process.env, ...env, COFFER_LOG_LEVEL: 'warn', NODE_DEBUG: 'coffer' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    const check = () => {
      const url = /listening on (http:\/\/\S+)/.exec(stdout)?.[1]
      if (url && said.test(stderr)) resolve({ child, url, stderr })
    }
    child.stdout!.on('data', (d) => {
      stdout += d
      check()
    })
    child.stderr!.on('data', (d) => {
      stderr += d
      check()
    })
    child.on('exit', (code) => reject(new Error(`the box exited with ${code}: ${stderr}`)))
  })
  const stop = async (child: ChildProcess) => {
    child.removeAllListeners('exit')
    child.kill('SIGTERM')
    await once(child, 'exit')
  }
  // The first start writes the cache after a few seconds, unless a box another test started just did.
  await stop((await start(/wrote the code cache|compiled from the code cache/)).child)
  const { child, url } = await start(/compiled from the code cache/)
  try {
    // Both are imported on demand, which a script compiled from a cache cannot do: the bundle requires them.
    const out = path.join(tempDir(), 'statement.pdf')
    const pdf = await cli(['--home', home, 'statement', '--format', 'pdf', '--out', out], env)
    assert.equal(pdf.code, 0, pdf.stderr)
    assert.equal(fs.readFileSync(out).subarray(0, 5).toString(), '%PDF-')
    const docs = await fetch(`${url}/api/v1/docs/`)
    assert.equal(docs.status, 200)
    assert.match(await docs.text(), /swagger/i)
  } finally {
    await stop(child)
  }
  // A damaged cache (V8 would abort on it) is not used, and is written anew.
  const dist = fileURLToPath(new URL('../dist/cli/', import.meta.url))
  const cache = path.join(dist, fs.readdirSync(dist).find((f) => /^box-\w+\.cjs\.cache$/.test(f))!)
  const bytes = fs.readFileSync(cache)
  for (let i = 64; i < bytes.length; i += 97) bytes[i] = bytes[i]! ^ 0x5a
  fs.writeFileSync(cache, bytes)
  await stop((await start(/the code cache \S+ is damaged[^]*wrote the code cache/)).child)
  await stop((await start(/compiled from the code cache/)).child)
})

test('each command-line tool ends quietly when its reader stops early, as Unix tools do', async () => {
  const bins = ['../bin/coffer.js', '../../market/bin/coffer-market.js', '../../sdk/bin/coffer-app.js'].map((bin) => fileURLToPath(new URL(bin, import.meta.url)))
  for (const bin of bins) {
    const child = spawn(process.execPath, [bin, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] })
    // Closed before the command has started, so its first write meets a pipe with no reader.
    child.stdout!.destroy()
    let stderr = ''
    child.stderr!.on('data', (d) => (stderr += d))
    const [code] = await once(child, 'exit')
    assert.equal(stderr, '', bin)
    assert.equal(code, 0, bin)
  }
})

test('commands say what to do next when there is no box or it is not running', async () => {
  const dir = path.join(tempDir(), 'none')
  const noBox = await cli(['--home', dir, 'status'])
  assert.equal(noBox.code, 1)
  assert.match(noBox.stderr, /coffer init --home/)
  await cli(['--home', dir, 'init'], env)
  const stopped = await cli(['--home', dir, 'sources', 'list'])
  assert.equal(stopped.code, 1)
  assert.match(stopped.stderr, /coffer start --home/)
})

test('a session with the CLI: sources, ingest, query, tokens, audit; verify catches a flipped byte', { timeout: 300_000 }, async () => {
  const home = path.join(tempDir(), 'home')
  assert.equal((await cli(['--home', home, 'init'], env)).code, 0)
  const { child } = await startProcess(home)
  const run = (...args: string[]) => cli(['--home', home, ...args])
  try {
    const added = await run('sources', 'add', 'temp', '--type', 'environment', '--attribute', 'temperature:number:Cel')
    assert.equal(added.code, 0, added.stderr)
    const file = path.join(tempDir(), 'pack.json')
    fs.writeFileSync(file, '\uFEFF' + JSON.stringify([{ bn: 'temperature', bt: 1767225600, bu: 'Cel', v: 20 }, { t: 60, v: 21 }, { t: 120, v: 22 }]))
    const ingested = await run('ingest', file, '--source', 'temp')
    assert.equal(ingested.code, 0, ingested.stderr)
    assert.match(ingested.stdout, /Stored 3 records/)
    const fromStdin = await cli(['--home', home, 'ingest', '-', '--source', 'temp'], {}, JSON.stringify([{ n: 'temperature', t: 1767225780, v: 23, u: 'Cel' }]))
    assert.equal(fromStdin.code, 0, fromStdin.stderr)

    const rejected = await run('ingest', file, '--source', 'nope')
    assert.equal(rejected.code, 1)
    assert.match(rejected.stderr, /no source "nope"/)
    const undeclared = await cli(['--home', home, 'ingest', '-', '--source', 'temp'], {}, JSON.stringify([{ n: 'temperature', v: 1 }, { n: 'humidity', v: 40 }]))
    assert.equal(undeclared.code, 1)
    assert.match(undeclared.stderr, /record 1, field n/)

    const list = JSON.parse((await run('sources', 'list', '--json')).stdout)
    assert.equal(list[0].points, 4)
    const show = await run('sources', 'show', 'temp')
    assert.match(show.stdout, /temperature\s+number\s+Cel/)
    const latest = JSON.parse((await run('query', 'temp', '--latest', '--json')).stdout)
    assert.deepEqual(latest, [{ n: 'temperature', t: 1767225780, u: 'Cel', v: 23 }])
    const mean = JSON.parse((await run('query', 'temp', '--aggregate', 'mean', '--bucket', '1h', '--from', '2026-01-01', '--to', '2026-01-01T01:00:00Z', '--json')).stdout)
    assert.equal(mean.buckets[0].value, 21.5)
    const band = await run('query', 'temp', '--aggregate', 'mean,min,max', '--bucket', '1h', '--from', '2026-01-01', '--to', '2026-01-01T01:00:00Z')
    assert.match(band.stdout, /START\s+COUNT\s+MEAN\s+MIN\s+MAX/)
    assert.match(band.stdout, /2026-01-01T00:00:00Z\s+4\s+21\.5\s+20\s+23/)
    const table = await run('query', 'temp', '--from', '2026-01-01T00:01:00Z', '--limit', '2')
    assert.match(table.stdout, /2026-01-01T00:01:00Z\s+temperature\s+21\s+Cel/)

    // A CSV without a mapping: the box's guess is printed, to be saved and passed back.
    const dir = path.dirname(home)
    const csv = path.join(dir, 'meter.csv')
    fs.writeFileSync(csv, 'time,kWh,note\n2026-01-02T00:00:00Z,1.5,ok\n2026-01-02T01:00:00Z,2.25,ok\n')
    const unmapped = await run('import', csv, '--source', 'meter')
    assert.equal(unmapped.code, 1)
    assert.match(unmapped.stderr, /Its columns are "time", "kWh", "note"/)
    const guessed = JSON.parse(unmapped.stderr.slice(unmapped.stderr.indexOf('{'), unmapped.stderr.lastIndexOf('}') + 1))
    assert.deepEqual(guessed, { time: { column: 'time', format: 'iso' }, values: [{ column: 'kWh' }] })
    fs.writeFileSync(path.join(dir, 'meter-mapping.json'), JSON.stringify(guessed))
    const mapped = await run('import', csv, '--source', 'meter', '--profile', path.join(dir, 'meter-mapping.json'))
    assert.match(mapped.stdout, /Imported 2 records from meter\.csv \(csv\) into meter/)
    assert.equal((await run('sources', 'delete', 'meter', '--yes')).code, 0)

    assert.match((await run('map')).stdout, /No tile server/)
    const badMap = await run('map', 'set', 'https://tiles.example.org/tile.png')
    assert.equal(badMap.code, 1)
    assert.match(badMap.stderr, /\{z\}, \{x\} and \{y\}/)
    assert.match((await run('map', 'set', 'https://tiles.example.org/{z}/{x}/{y}.png', '--attribution', 'Example')).stdout, /over tiles from https:\/\/tiles\.example\.org\/\{z\}\/\{x\}\/\{y\}\.png \(Example\)/)
    assert.match((await run('map', 'clear')).stdout, /No tile server/)

    const device = await run('token', 'device', 'temp', '--name', 'thermo', '--json')
    const { token, grant } = JSON.parse(device.stdout)
    const asDevice = await cli(['--home', home, 'sources', 'list'], { COFFER_TOKEN: token })
    assert.equal(asDevice.code, 1)
    assert.match(asDevice.stderr, /Forbidden/)
    assert.equal((await run('token', 'revoke', grant.id)).code, 0)
    assert.match((await run('token', 'list')).stdout, new RegExp(`${grant.id}\\s+device:thermo\\s+temp\\s+write\\s+2\\s+true`))

    const owner = (await run('token', 'owner', '--expires', '1h')).stdout.trim()
    const status = JSON.parse((await cli(['--home', home, 'status', '--json'], { COFFER_TOKEN: owner })).stdout)
    assert.equal(status.sources, 1)

    const audit = JSON.parse((await run('audit', 'list', '--outcome', 'deny', '--json')).stdout)
    assert.ok(audit.some((e: { subject: string; status: number }) => e.subject === 'device:thermo' && e.status === 403))
    const verified = await run('audit', 'verify')
    assert.equal(verified.code, 0, verified.stderr)
    assert.match(verified.stdout, /intact/)

    const gpx = path.join(tempDir(), 'walk.xml')
    fs.writeFileSync(gpx, '<?xml version="1.0"?><gpx version="1.1" creator="t"><trk><trkseg><trkpt lat="52.5" lon="13.4"><time>2026-01-01T10:00:00Z</time></trkpt></trkseg></trk></gpx>')
    const imported = await run('import', gpx, '--source', 'walks')
    assert.equal(imported.code, 0, imported.stderr)
    assert.match(imported.stdout, /Imported 2 records from walk.xml \(gpx\) into walks/)
    assert.match((await run('import', gpx, '--source', 'walks')).stdout, /imported into "walks" before/)
    assert.match((await run('import', path.join(tempDir(), 'missing.gpx'))).stderr, /no such file/)

    assert.equal((await run('drivers', 'add', 'owntracks', 'phone')).code, 0)
    const settings = await run('drivers', 'device', 'add', 'phone', 'alice', 'pixel')
    assert.equal(settings.code, 0, settings.stderr)
    const url = /URL:\s+(\S+)/.exec(settings.stdout)![1]!
    const password = /Password:\s+(\S+)/.exec(settings.stdout)![1]!
    const posted = await fetch(url, { method: 'POST', body: JSON.stringify({ _type: 'location', lat: 52.5, lon: 13.4, tst: 1767225600 }), headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`alice:${password}`).toString('base64')}`, 'x-limit-d': 'pixel' } })
    assert.equal(posted.status, 200)
    const drivers = JSON.parse((await run('drivers', 'list', '--json')).stdout)
    assert.equal(drivers[0].status.records, 2)
    assert.match((await run('drivers', 'status', 'phone')).stdout, /phone \(owntracks\) running/)
    assert.match((await run('status')).stdout, /Drivers: phone running/)
    assert.equal((await run('drivers', 'remove', 'phone')).code, 0)

    const deleted = await run('sources', 'delete', 'temp')
    assert.equal(deleted.code, 1)
    assert.match(deleted.stderr, /--yes/)
    assert.equal((await run('sources', 'delete', 'temp', '--yes')).code, 0)
    assert.deepEqual(JSON.parse((await run('sources', 'list', '--json')).stdout).map((x: { id: string }) => x.id), ['location', 'walks'])
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
  }
  assert.equal(fs.existsSync(path.join(home, 'runtime.json')), false, 'a clean stop removes the runtime file')

  // With the box stopped, verify reads the log directly; then flip one byte of the log's storage files.
  // This checks that verify reports damaged storage at all (here the storage engine's own checksums
  // may catch it first); test/durability.test.ts alters blocks behind them, for the Merkle check.
  assert.equal((await cli(['--home', home, 'audit', 'verify'])).code, 0)
  const db = path.join(home, 'audit', 'log', 'db')
  // Data files only: LOG and OPTIONS are the storage engine's own diagnostics, not the audit log.
  const largest = fs.readdirSync(db).filter((f) => /^(\d+\.(sst|blob|log)|MANIFEST-\d+)$/.test(f)).map((f) => path.join(db, f))
    .sort((x, y) => fs.statSync(y).size - fs.statSync(x).size)[0]!
  const bytes = fs.readFileSync(largest)
  bytes[Math.floor(bytes.length / 2)]! ^= 0x20
  fs.writeFileSync(largest, bytes)
  const tampered = await cli(['--home', home, 'audit', 'verify'])
  assert.notEqual(tampered.code, 0)
  assert.match(tampered.stdout + tampered.stderr, /DAMAGED|cannot be opened/)
})
