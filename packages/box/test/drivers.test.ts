/**
 * Drivers against real parts: the OwnTracks HTTP endpoint on a real socket, and the MQTT
 * drivers against a real Mosquitto that this file starts on a free port — plus a second one
 * that the test restarts mid-stream to show a persistent session loses nothing.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import mqtt from 'mqtt'
import { startBox, until, type Running } from './helpers.ts'
import { startMosquitto, type Mosquitto } from './mosquitto.ts'

const run = crypto.randomBytes(4).toString('hex')
let r: Running
let broker: Mosquitto
before(async () => {
  broker = await startMosquitto()
  r = await startBox()
})
after(async () => {
  await r?.close()
  await broker?.close()
})

async function records(source: string, name?: string): Promise<{ n: string; t: number; v?: number; vs?: string }[]> {
  return (await r.api('GET', `/api/v1/sources/${source}/records?limit=100000${name ? `&name=${encodeURIComponent(name)}` : ''}`)).body
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
}

const LOCATION = { _type: 'location', lat: 52.52, lon: 13.405, acc: 12, alt: 34, batt: 81, vel: 0, cog: 90, vac: 3, tid: 'al', t: 'u', tst: 1_767_225_600 }

test('OwnTracks HTTP: the app posts with Basic auth, gets [] back, retries are stored once', async () => {
  const added = await r.api('POST', '/api/v1/drivers', { body: { id: 'phone', kind: 'owntracks', config: { mode: 'http', source: 'phone-location' } } })
  assert.equal(added.status, 201, JSON.stringify(added.body))
  const device = (await r.api('POST', '/api/v1/drivers/phone/devices', { body: { user: 'alice', device: 'pixel' } })).body
  assert.match(device.url, /\/api\/v1\/owntracks\/phone$/)
  const post = (body: unknown, password = device.password) => fetch(`${r.url}/api/v1/owntracks/phone`, {
    method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: basic('alice', password), 'x-limit-u': 'alice', 'x-limit-d': 'pixel' },
  })
  const first = await post(LOCATION)
  assert.equal(first.status, 200)
  assert.deepEqual(await first.json(), [])
  assert.equal((await post(LOCATION)).status, 200) // the app retrying the same message
  await Promise.all([post({ ...LOCATION, tst: LOCATION.tst + 60 }), post({ ...LOCATION, tst: LOCATION.tst + 60 })])
  assert.equal((await post({ _type: 'transition', event: 'enter', tst: 1 })).status, 200)

  const lat = await records('phone-location', 'alice/pixel/lat')
  assert.deepEqual(lat.map((x) => x.t), [LOCATION.tst, LOCATION.tst + 60])
  const all = await records('phone-location')
  const first10 = all.filter((x) => x.t === LOCATION.tst)
  assert.deepEqual(first10.map((x) => x.n.split('/')[2]).sort(), ['acc', 'alt', 'batt', 'cog', 'lat', 'lon', 't', 'tid', 'vac', 'vel'])
  assert.equal(first10.find((x) => x.n.endsWith('/tid'))!.vs, 'al')

  assert.equal((await post(LOCATION, 'wrong-password')).status, 401)
  await r.api('POST', '/api/v1/drivers/phone/stop')
  assert.equal((await post({ ...LOCATION, tst: LOCATION.tst + 120 })).status, 503, 'a stopped driver takes nothing')
  await r.api('POST', '/api/v1/drivers/phone/start')
  assert.equal((await post({ _type: 'location', lat: 1 })).status, 400)
  const listed = (await r.api('GET', '/api/v1/drivers/phone')).body
  assert.equal(listed.status.state, 'running')
  assert.equal(listed.status.records, 20)
  assert.equal(listed.config.devices[0].secretHash, undefined, 'password hashes never leave the box')
  const audit = (await r.api('GET', '/api/v1/audit?subject=driver:phone')).body
  assert.ok(audit.some((e: { outcome: string; status: number }) => e.outcome === 'deny' && e.status === 401))
  assert.ok(audit.some((e: { outcome: string; records: number; grant: string }) => e.outcome === 'allow' && e.records === 10 && e.grant === listed.grant))
})

test('a driver writes only through its own grant: revoking it stops the writes', async () => {
  await r.api('POST', '/api/v1/drivers', { body: { id: 'revoked', kind: 'owntracks', config: { mode: 'http', source: 'revoked-location' } } })
  const { password } = (await r.api('POST', '/api/v1/drivers/revoked/devices', { body: { user: 'bob', device: 'phone' } })).body
  const grant = (await r.api('GET', '/api/v1/drivers/revoked')).body.grant
  await r.api('DELETE', `/api/v1/grants/${grant}`)
  const res = await fetch(`${r.url}/api/v1/owntracks/revoked`, { method: 'POST', body: JSON.stringify(LOCATION), headers: { 'content-type': 'application/json', authorization: basic('bob', password), 'x-limit-d': 'phone' } })
  assert.equal(res.status, 401)
  assert.equal((await records('revoked-location')).length, 0)
})

test('bad configurations are refused with the field at fault, and change nothing', async () => {
  const bad = await r.api('POST', '/api/v1/drivers', { body: { id: 'bad', kind: 'mqtt', config: { broker: 'http://nope', mappings: [] } } })
  assert.equal(bad.status, 400)
  assert.match(bad.body.detail, /broker/)
  const noBroker = await r.api('POST', '/api/v1/drivers', { body: { id: 'bad', kind: 'owntracks', config: { mode: 'mqtt' } } })
  assert.equal(noBroker.status, 400)
  assert.equal(noBroker.body.field, 'broker')
  assert.equal((await r.api('GET', '/api/v1/drivers/bad')).status, 404)
})

test('OwnTracks over MQTT and a generic Zigbee2MQTT mapping, through the real broker', async () => {
  const user = `u${run}`
  const z2m = `z2m-${run}`
  assert.equal((await r.api('POST', '/api/v1/drivers', { body: { id: 'ot-mqtt', kind: 'owntracks', config: { mode: 'mqtt', broker: broker.url, topic: `owntracks/${user}/+`, source: 'mqtt-location' } } })).status, 201)
  const climate = { broker: broker.url, mappings: [{ topic: `${z2m}/+`, source: 'climate', fields: [{ field: 'temperature', unit: 'Cel' }, { field: 'humidity', unit: '%RH' }, { field: 'battery', unit: '%' }] }] }
  assert.equal((await r.api('POST', '/api/v1/drivers', { body: { id: 'zigbee', kind: 'mqtt', config: climate } })).status, 201)
  await until('drivers to connect', async () => {
    const list = (await r.api('GET', '/api/v1/drivers')).body as { id: string; status: { state: string } }[]
    return list.filter((d) => ['ot-mqtt', 'zigbee'].includes(d.id)).every((d) => d.status.state === 'running') || undefined
  })
  const client = await mqtt.connectAsync(broker.url)
  await client.publishAsync(`owntracks/${user}/phone`, JSON.stringify(LOCATION), { qos: 1 })
  await client.publishAsync(`owntracks/${user}/phone`, JSON.stringify(LOCATION), { qos: 1 })
  await client.publishAsync(`${z2m}/living_room`, JSON.stringify({ temperature: 21.5, humidity: 40, battery: 97, linkquality: 120 }), { qos: 1 })
  await client.endAsync()
  const lat = await until('the location', async () => (await records('mqtt-location', `${user}/phone/lat`)).at(0))
  assert.equal(lat.v, 52.52)
  const got = await until('the climate reading', async () => {
    const rs = await records('climate')
    return rs.length === 3 ? rs : undefined
  })
  assert.deepEqual(got.map((x) => [x.n, x.v]).sort(), [['battery', 97], ['humidity', 40], ['temperature', 21.5]])
  await sleep(300)
  assert.equal((await records('mqtt-location', `${user}/phone/lat`)).length, 1, 'the repeated message was stored once')
  await r.api('DELETE', '/api/v1/drivers/ot-mqtt')
  await r.api('DELETE', '/api/v1/drivers/zigbee')
})

test('a broker restart loses nothing: persistent session, QoS 1, reconnect with backoff', { timeout: 90_000 }, async () => {
  const restarting = await startMosquitto()
  const url = restarting.url
  try {
    const config = { broker: url, mappings: [{ topic: 'sensors/+', source: 'restart', time: 't', fields: [{ field: 'seq' }] }] }
    assert.equal((await r.api('POST', '/api/v1/drivers', { body: { id: 'restart', kind: 'mqtt', config } })).status, 201)
    await until('the driver to connect', async () => ((await r.api('GET', '/api/v1/drivers/restart')).body.status.state === 'running' ? true : undefined))
    const publisher = await mqtt.connectAsync(url, { clientId: `publisher-${run}`, clean: false, reconnectPeriod: 200 })
    const total = 300
    const sending = (async () => {
      for (let seq = 0; seq < total; seq++) {
        // QoS 1 publishes made while the broker is down wait in the publisher and go out on reconnect.
        void publisher.publishAsync('sensors/meter', JSON.stringify({ seq, t: 1_767_225_600 + seq }), { qos: 1 }).catch(() => undefined)
        await sleep(10)
      }
    })()
    await sleep(1000)
    await restarting.restart(1500)
    await sending
    const stored = await until('every message', async () => {
      const rs = await records('restart')
      return new Set(rs.map((x) => x.v)).size === total ? rs : undefined
    }, 45_000)
    assert.equal(new Set(stored.map((x) => x.v)).size, total)
    await publisher.endAsync()
    const status = (await r.api('GET', '/api/v1/drivers/restart')).body.status
    assert.equal(status.state, 'running')
  } finally {
    await r.api('DELETE', '/api/v1/drivers/restart')
    await restarting.close()
  }
})
