import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BadConfig, initHome, openHome, updateConfig } from './index.ts'

function newHome(): { dir: string; file: string; config: Record<string, unknown> } {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-home-')), 'box')
  initHome(dir, { passphrase: 'correct horse battery', timeZone: 'Europe/Berlin' })
  const file = path.join(dir, 'config.json')
  return { dir, file, config: JSON.parse(fs.readFileSync(file, 'utf8')) }
}

/** The error opening `dir` gives, checked to be a BadConfig naming the file and `field`. */
function refusal(dir: string, field?: string): BadConfig {
  try {
    openHome(dir)
  } catch (err) {
    assert.ok(err instanceof BadConfig, `expected BadConfig, got ${String(err)}`)
    assert.equal(err.file, path.join(dir, 'config.json'))
    assert.equal(err.extras.field, field)
    assert.ok(err.message.startsWith(`${err.file}: `), err.message)
    return err
  }
  assert.fail('the home opened')
}

test('a home as initHome writes it opens, and a change made through updateConfig still validates', () => {
  const { dir } = newHome()
  const home = openHome(dir)
  assert.equal(home.config.version, 1)
  assert.equal(home.config.timeZone, 'Europe/Berlin')
  updateConfig(home, { map: { tiles: 'https://tiles.example.org/{z}/{x}/{y}.png', attribution: '© Example' } })
  assert.deepEqual(openHome(dir).config.map, { tiles: 'https://tiles.example.org/{z}/{x}/{y}.png', attribution: '© Example' })
})

test('a home opens with any zone a date formatter accepts: canonical names, UTC, aliases and other spellings', () => {
  const { dir, file, config } = newHome()
  for (const timeZone of ['America/Los_Angeles', 'UTC', 'Etc/UTC', 'GMT', 'Etc/GMT+5', 'US/Eastern', 'Asia/Calcutta', 'europe/berlin']) {
    fs.writeFileSync(file, JSON.stringify({ ...config, timeZone }))
    assert.equal(openHome(dir).config.timeZone, timeZone)
  }
  fs.writeFileSync(file, JSON.stringify({ ...config, timeZone: 'Europe/Atlantis' }))
  assert.match(refusal(dir, 'timeZone').message, /not a known time zone/)
})

test('a config.json that is not JSON is refused, saying so and what to do', () => {
  const { dir, file } = newHome()
  fs.writeFileSync(file, '{ "version": 1, ')
  assert.match(refusal(dir).message, /is not valid JSON .*Correct it by hand, or put back a copy from a backup/)
})

test('a field of the wrong type is refused, naming the field', () => {
  const { dir, file, config } = newHome()
  fs.writeFileSync(file, JSON.stringify({ ...config, timeZone: 5 }))
  assert.match(refusal(dir, 'timeZone').message, /the field "timeZone" holds 5; expected an IANA time zone/)

  fs.writeFileSync(file, JSON.stringify({ ...config, map: { tiles: ['x'] } }))
  refusal(dir, 'map.tiles')
})

test('missing, unknown and misspelt fields, zones and hashes are refused; a pasted passphrase is not echoed', () => {
  const { dir, file, config } = newHome()
  const noIdentity = { ...config }
  delete noIdentity.identity
  fs.writeFileSync(file, JSON.stringify(noIdentity))
  assert.match(refusal(dir, 'identity').message, /the field "identity" is missing/)

  fs.writeFileSync(file, JSON.stringify({ ...config, timezone: 'UTC' }))
  assert.match(refusal(dir, 'timezone').message, /"timezone" is not a setting Coffer knows \(it knows .*timeZone/)

  fs.writeFileSync(file, JSON.stringify({ ...config, timeZone: 'Mars/Olympus' }))
  assert.match(refusal(dir, 'timeZone').message, /not a known time zone/)

  fs.writeFileSync(file, JSON.stringify({ ...config, passphraseHash: 'hunter2hunter2' }))
  assert.doesNotMatch(refusal(dir, 'passphraseHash').message, /hunter2/)

  fs.writeFileSync(file, JSON.stringify({ ...config, version: 2 }))
  assert.match(refusal(dir, 'version').message, /written by a newer Coffer \(config version 2/)

  fs.writeFileSync(file, '[]')
  assert.match(refusal(dir).message, /must hold one JSON object/)

  fs.rmSync(file)
  fs.mkdirSync(file)
  assert.match(refusal(dir).message, /cannot be read \(EISDIR\)/)
})

/** Runs `make` with TZ set to `tz`, as the process was started with, then puts TZ back. */
function withTZ<T>(tz: string, make: () => T): T {
  const was = process.env.TZ
  process.env.TZ = tz
  try {
    return make()
  } finally {
    if (was === undefined) delete process.env.TZ
    else process.env.TZ = was
  }
}

test('a host whose time zone Coffer does not know gets a box in UTC that opens, and init says why', () => {
  // With TZ set but empty the host reports "Etc/Unknown"; with a POSIX rule, no zone at all.
  for (const tz of ['', 'UTC0']) {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-home-')), 'box')
    const made = withTZ(tz, () => initHome(dir, { passphrase: 'correct horse battery' }))
    assert.equal(made.home.config.timeZone, 'UTC')
    assert.match(made.notice ?? '', new RegExp(`not one Coffer knows \\(.*TZ is "${tz}"\\), so the box's time zone is UTC`))
    assert.equal(openHome(dir).config.timeZone, 'UTC')
  }
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-home-')), 'box')
  const made = withTZ('America/Los_Angeles', () => initHome(dir, { passphrase: 'correct horse battery' }))
  assert.equal(made.home.config.timeZone, 'America/Los_Angeles')
  assert.equal(made.notice, undefined)
})

test('a time zone given to init that is not one Coffer knows is refused before anything is made', () => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-home-')), 'box')
  assert.throws(() => initHome(dir, { passphrase: 'correct horse battery', timeZone: 'Etc/Unknown' }), /"Etc\/Unknown" is not a known time zone/)
  assert.equal(fs.existsSync(dir), false)
})
