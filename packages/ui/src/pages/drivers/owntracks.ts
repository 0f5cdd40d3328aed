/**
 * What the OwnTracks app needs to post to the box in HTTP mode, as the configuration object the
 * app imports (https://owntracks.org/booklet/features/remoteconfig/) and as the
 * `owntracks:///config?inline=` URL that a QR code or a tap on the phone hands to it.
 */
import type { NewDevice } from '../../api/types.ts'

/** OwnTracks numbers its connection modes; 3 is HTTP. */
const HTTP_MODE = 3

export interface OwntracksAppConfig {
  _type: 'configuration'
  mode: number
  url: string
  auth: boolean
  username: string
  password: string
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
