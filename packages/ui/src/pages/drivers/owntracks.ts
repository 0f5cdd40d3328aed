/**
 * What the OwnTracks app needs to post to the box in HTTP mode, or to publish to a broker in MQTT
 * mode, as the configuration object the app imports
 * (https://owntracks.org/booklet/features/remoteconfig/) and as the
 * `owntracks:///config?inline=` URL that a QR code or a tap on the phone hands to it.
 */
import type { NewDevice } from '@coffer/box'

/** OwnTracks numbers its connection modes: 0 is MQTT, 3 is HTTP. */
const MQTT_MODE = 0
const HTTP_MODE = 3

export interface OwntracksAppConfig {
  _type: 'configuration'
  mode: number
  url?: string
  host?: string
  port?: number
  tls?: boolean
  auth: boolean
  username: string
  password?: string
  deviceId: string
  tid: string
}

export function appConfig(device: NewDevice): OwntracksAppConfig {
  return {
    _type: 'configuration',
    mode: HTTP_MODE,
    url: device.url,
    auth: true,
    username: device.user,
    password: device.password,
    deviceId: device.device,
    tid: trackerId(device.device),
  }
}

/**
 * MQTT mode: the phone publishes to the broker the driver reads, on owntracks/USER/DEVICE, where
 * USER is its broker user name. The broker password is the broker's; the box never stores it.
 */
export function mqttAppConfig(phone: { broker: string; user: string; device: string; password: string }): OwntracksAppConfig {
  const broker = new URL(phone.broker)
  const tls = broker.protocol === 'mqtts:'
  return {
    _type: 'configuration',
    mode: MQTT_MODE,
    host: broker.hostname,
    port: Number(broker.port) || (tls ? 8883 : 1883),
    tls,
    auth: phone.password !== '',
    username: phone.user,
    ...(phone.password !== '' ? { password: phone.password } : {}),
    deviceId: phone.device,
    tid: trackerId(phone.device),
  }
}

/** The two characters the app shows on the map; it picks the device id's last two itself, so do the same. */
export function trackerId(device: string): string {
  const letters = device.replace(/[^A-Za-z0-9]/g, '')
  return (letters.length >= 2 ? letters.slice(-2) : letters.padEnd(2, 'X')).toUpperCase()
}

export function configUrl(config: OwntracksAppConfig): string {
  const bytes = new TextEncoder().encode(JSON.stringify(config))
  const base64 = btoa(String.fromCharCode(...bytes))
  // Percent-encoded so a '+' in the base64 is not read back as a space by the phone's URL parser.
  return `owntracks:///config?inline=${encodeURIComponent(base64)}`
}

/** A phone cannot reach a box that listens only on this machine's loopback address. */
export function onlyThisMachine(url: string): boolean {
  try {
    const host = new URL(url).hostname
    return host === 'localhost' || host === '[::1]' || host.startsWith('127.')
  } catch {
    return false
  }
}
