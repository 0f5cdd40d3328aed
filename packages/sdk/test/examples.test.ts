/**
 * The three example apps, built with the SDK's bundler, run two ways: in the author's harness
 * against sample data, and installed into a real box process with the `coffer` CLI — granted,
 * run, their views read, and the climate report's export approved to a receiver on loopback.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { AddressInfo } from 'node:net'
import type { ChildProcess } from 'node:child_process'
import { buildApp, runLocal, type Sample } from '../src/tools.ts'
import { call, cli, startProcess, tempDir } from '../../box/test/helpers.ts'
import { initHome } from '@coffer/box'

const APPS = fileURLToPath(new URL('../../../apps/', import.meta.url))
const HOUR = 3600
const now = Math.floor(Date.now() / 1000)

function series(name: string, unit: string, hours: number, value: (h: number) => number) {
  return Array.from({ length: hours }, (_, h) => ({ n: name, u: unit, v: value(h), t: now - h * HOUR }))
}

const sample: Sample = {
  timeZone: 'Europe/Berlin',
  sources: [
    { id: 'steps', logicalType: 'activity', attributes: [{ name: 'steps', technicalType: 'number', unit: 'count' }], records: series('steps', 'count', 20 * 24, (h) => (h % 24) * 10) },
    { id: 'bedroom', logicalType: 'environment', attributes: [{ name: 'temperature', technicalType: 'number', unit: 'Cel' }], records: series('temperature', 'Cel', 20 * 24, (h) => 15 + (h % 24) / 2) },
    {
      id: 'phone', logicalType: 'location', attributes: [{ name: 'me/phone/lat', technicalType: 'number' }, { name: 'me/phone/lon', technicalType: 'number' }],
      records: [...series('me/phone/lat', 'lat', 10 * 24, (h) => (h % 24 < 9 ? 52.52 : 52.5)), ...series('me/phone/lon', 'lon', 10 * 24, (h) => (h % 24 < 9 ? 13.405 : 13.39))],
    },
  ],
}

let receiver: http.Server
const received: string[] = []
let box: { child: ChildProcess; url: string }
let home: string

before(async () => {
  for (const app of ['daily-activity', 'home-climate', 'places']) await buildApp(path.join(APPS, app))
  receiver = http.createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      received.push(body)
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  home = path.join(tempDir(), 'home')
  initHome(home, { passphrase: 'correct horse battery staple', timeZone: 'Europe/Berlin' })
  box = await startProcess(home)
})

after(() => {
  box?.child.kill()
  receiver?.close()
})

test('the harness runs each example against sample data; nothing leaves', async () => {
  const activity = await runLocal({ dir: path.join(APPS, 'daily-activity'), sample })
  assert.equal((activity.value as { days: number }).days, 14)
  assert.ok((activity.value as { total: number }).total > 0)
  assert.deepEqual(activity.views.map((v) => v.view), ['chart'])
  assert.equal(activity.calls, 5, 'granted, days, one aggregate, write, view')

  const climate = await runLocal({ dir: path.join(APPS, 'home-climate'), sample, event: { send: true } })
  const rooms = (climate.value as { rooms: { room: string; min: number; max: number; hoursBelow16: number }[] }).rooms
  assert.equal(rooms[0]!.room, 'bedroom')
  assert.equal(rooms[0]!.min, 15)
  assert.ok(rooms[0]!.hoursBelow16 > 0)
  assert.equal(climate.exports.length, 1)
  assert.equal(climate.exports[0]!.state, 'pending')
  assert.deepEqual((climate.exports[0]!.payload as { rooms: unknown[] }).rooms, rooms)

  const places = await runLocal({ dir: path.join(APPS, 'places'), sample })
  const found = places.value as { places: number; top: { lat: number; lon: number; hours: number }[] }
  assert.equal(found.places, 2)
  assert.deepEqual(found.top.map((p) => [p.lat, p.lon]), [[52.5, 13.39], [52.52, 13.405]])
})

test('installed with the CLI into a running box: granted, narrowed, run, viewed, exported with approval', async () => {
  const coffer = (...args: string[]) => cli(['--home', home, ...args])
  for (const s of sample.sources) {
    const { attributes, id, logicalType } = s
    assert.equal((await coffer('sources', 'add', id, '--type', logicalType!, ...attributes!.flatMap((a) => ['--attribute', `${a.name}:${a.technicalType}`]))).code, 0)
    const file = path.join(tempDir(), `${id}.json`)
    fs.writeFileSync(file, JSON.stringify(s.records))
    assert.equal((await coffer('ingest', file, '--source', id)).code, 0)
  }
  // The climate report, pointed at a receiver on loopback instead of the adviser's host.
  const climateDir = path.join(tempDir(), 'home-climate')
  fs.cpSync(path.join(APPS, 'home-climate'), climateDir, { recursive: true })
  const destination = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/summaries`
  const manifest = JSON.parse(fs.readFileSync(path.join(climateDir, 'manifest.json'), 'utf8'))
  manifest.exports[0].url = destination
  fs.writeFileSync(path.join(climateDir, 'manifest.json'), JSON.stringify(manifest))

  const refused = await coffer('apps', 'install', path.join(APPS, 'daily-activity'))
  assert.equal(refused.code, 0)
  assert.match(refused.stdout, /Needs to read your activity data as daily totals and averages, from the last 30 days/)
  assert.match(refused.stdout, /Not granted/)
  assert.equal((await coffer('apps', 'run', 'daily-activity')).code, 1)

  const narrowed = await coffer('apps', 'grant', 'daily-activity', '--granularity', 'steps=1w')
  assert.equal(narrowed.code, 0, narrowed.stderr)
  const tooFine = await coffer('apps', 'run', 'daily-activity')
  assert.equal(tooFine.code, 1)
  assert.match(tooFine.stderr, /no finer than 604800s/)
  assert.equal((await coffer('apps', 'grant', 'daily-activity')).code, 0)
  const ran = await coffer('apps', 'run', 'daily-activity', '--json')
  assert.equal(ran.code, 0, ran.stderr)
  assert.equal(JSON.parse(ran.stdout).value.days, 14)

  assert.equal((await coffer('apps', 'install', climateDir, '--yes')).code, 0)
  assert.equal((await coffer('apps', 'install', path.join(APPS, 'places'), '--yes')).code, 0)
  const sent = await coffer('apps', 'run', 'home-climate', '--event', JSON.stringify({ send: true, destination }), '--json')
  assert.equal(sent.code, 0, sent.stderr)
  assert.equal(JSON.parse(sent.stdout).value.export.state, 'pending')
  assert.equal(received.length, 0)
  const pending = JSON.parse((await coffer('exports', 'pending', '--json')).stdout) as { id: string }[]
  assert.equal(pending.length, 1)
  const approved = await coffer('exports', 'approve', pending[0]!.id)
  assert.equal(approved.code, 0, approved.stderr)
  assert.equal(received.length, 1)
  assert.equal(JSON.parse(received[0]!).rooms[0].room, 'bedroom')
  const history = await coffer('exports', 'history')
  assert.match(history.stdout, /sent/)

  assert.equal((await coffer('apps', 'run', 'places')).code, 0)
  const views = await coffer('apps', 'views', 'places', '--json')
  assert.equal(JSON.parse(views.stdout)[0].spec.mark.type, 'circle')
  const list = await coffer('apps', 'list')
  assert.match(list.stdout, /daily-activity\s+1\.0\.0\s+active/)

  assert.equal((await coffer('apps', 'revoke', 'places')).code, 0)
  const token = (await coffer('token', 'owner')).stdout.trim().split(/\s+/).pop()!
  const audit = await call(box.url, 'GET', '/api/v1/audit?subject=owner&limit=200', { token })
  assert.ok((audit.body as { action: string }[]).some((e) => e.action === 'POST /api/v1/apps/:id/revoke'))
})
