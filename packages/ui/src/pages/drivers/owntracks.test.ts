import { test } from 'node:test'
import assert from 'node:assert/strict'
import { appConfig, configUrl, mqttAppConfig, onlyThisMachine, trackerId } from './owntracks.ts'

const device = { url: 'http://box.example:7780/api/v1/owntracks/phone', user: 'alice', device: 'pixel', password: 'a+b/c==ü' }

test('the QR URL carries the OwnTracks HTTP configuration as base64 the app decodes back exactly', () => {
  const url = new URL(configUrl(appConfig(device)))
  assert.equal(url.protocol, 'owntracks:')
  assert.equal(url.pathname, '/config')
  const inline = url.searchParams.get('inline')!
  const decoded = JSON.parse(Buffer.from(inline, 'base64').toString('utf8'))
  assert.deepEqual(decoded, {
    _type: 'configuration', mode: 3, url: device.url, auth: true,
    username: 'alice', password: 'a+b/c==ü', deviceId: 'pixel', tid: 'EL',
  })
})

test('in MQTT mode the phone gets the broker\'s host, port and TLS, and a password only if there is one', () => {
  assert.deepEqual(mqttAppConfig({ broker: 'mqtts://broker.example:8884', user: 'alice', device: 'pixel', password: 's3cret' }), {
    _type: 'configuration', mode: 0, host: 'broker.example', port: 8884, tls: true, auth: true, username: 'alice', password: 's3cret', deviceId: 'pixel', tid: 'EL',
  })
  const open = mqttAppConfig({ broker: 'mqtt://192.168.1.5', user: 'alice', device: 'pixel', password: '' })
  assert.deepEqual([open.host, open.port, open.tls, open.auth, 'password' in open], ['192.168.1.5', 1883, false, false, false])
})

test('the tracker id is two characters taken from the device id', () => {
  assert.equal(trackerId('pixel-7a'), '7A')
  assert.equal(trackerId('x'), 'XX')
  assert.equal(trackerId('phone_1'), 'E1')
})

test('a loopback URL is one a phone cannot reach', () => {
  assert.equal(onlyThisMachine('http://127.0.0.1:7780/api/v1/owntracks/phone'), true)
  assert.equal(onlyThisMachine('http://localhost:7780/x'), true)
  assert.equal(onlyThisMachine('http://192.168.1.20:7780/x'), false)
})
