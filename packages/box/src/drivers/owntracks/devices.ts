/**
 * OwnTracks devices and their passwords. The box keeps only each password's SHA-256 digest,
 * shows the password once, and checks an app's HTTP Basic auth against the digests; digests
 * never leave the box.
 */
import crypto from 'node:crypto'
import { Unauthorized } from '../../errors/index.ts'
import type { OwntracksConfig } from './index.ts'
import { checkDevice, type DeviceId } from './messages.ts'

/** A device just added: its password, shown this once, and where the app posts. */
export interface NewDevice { user: string; device: string; password: string; url: string }

/** The configuration with `device` added (or re-keyed), and its new password, to be shown once. */
export function withDevice(config: OwntracksConfig, device: DeviceId): { config: OwntracksConfig; password: string } {
  checkDevice(device)
  const password = crypto.randomBytes(18).toString('base64url')
  const next = structuredClone(config)
  next.devices = [...(next.devices ?? []).filter((x) => !(x.user === device.user && x.device === device.device)), { ...device, secretHash: hash(password) }]
  return { config: next, password }
}

/** The configuration as it leaves the box: devices without their digests. */
export function withoutDigests(config: OwntracksConfig): OwntracksConfig {
  return { ...config, devices: config.devices?.map(({ user, device }) => ({ user, device })) }
}

/** A configuration sent back without digests keeps those of the devices it still names. */
export function keepDigests(next: OwntracksConfig, previous: OwntracksConfig): void {
  const old = previous.devices ?? []
  for (const device of next.devices ?? []) {
    device.secretHash ??= old.find((o) => o.user === device.user && o.device === device.device)?.secretHash
  }
}

/**
 * The device an app's post comes from: HTTP Basic auth as user and device password, the
 * device named by the X-Limit-D header when there is one.
 */
export function authenticate(config: OwntracksConfig, authorization: string | undefined, deviceHeader: string | undefined): DeviceId {
  const credentials = parseBasic(authorization)
  const device = credentials && devicesByUser(config).get(credentials.user)?.find((x) => deviceHeader === undefined || x.device === deviceHeader)
  if (!credentials || !device?.secret || !crypto.timingSafeEqual(device.secret, digest(credentials.password))) throw wrongCredentials()
  return { user: device.user, device: device.device }
}

/** The one refusal for a post that does not authenticate, whether or not the endpoint's driver exists. */
export function wrongCredentials(): Unauthorized {
  return new Unauthorized('Wrong user, device or password for this OwnTracks endpoint. Add the device with `coffer drivers device add`.')
}

function digest(secret: string): Buffer {
  return crypto.createHash('sha256').update(secret).digest()
}

function hash(secret: string): string {
  return digest(secret).toString('hex')
}

/**
 * A driver's devices by user, with their password digests decoded once per configuration
 * (a new configuration is a new object), not searched and decoded on every post.
 */
const deviceIndexes = new WeakMap<OwntracksConfig, Map<string, DeviceSecret[]>>()

interface DeviceSecret { user: string; device: string; secret: Buffer | undefined }

function devicesByUser(config: OwntracksConfig): Map<string, DeviceSecret[]> {
  let index = deviceIndexes.get(config)
  if (!index) {
    index = new Map()
    for (const { user, device, secretHash } of config.devices ?? []) {
      const list = index.get(user) ?? []
      // A device without a SHA-256 digest (64 hex digits) has no password that could match.
      list.push({ user, device, secret: secretHash && /^[0-9a-f]{64}$/.test(secretHash) ? Buffer.from(secretHash, 'hex') : undefined })
      index.set(user, list)
    }
    deviceIndexes.set(config, index)
  }
  return index
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  if (!header?.startsWith('Basic ')) return undefined
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon < 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}
