/**
 * The box home (COFFER_HOME): the root seed, the owner's passphrase hash, the metadata
 * database, the logs and the views. Secret files are created 0600 inside a 0700 folder.
 */
import fs from 'node:fs'
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { BoxKeys, generateSeed, hashPassphrase, seedToWords, wordsToSeed } from '../keys/index.ts'
import { Conflict, CofferError, InvalidInput } from '../errors/index.ts'
import { homePaths, type HomePaths } from './paths.ts'

export { homePaths, readRuntime, resolveHomeDir, type HomePaths, type Runtime } from './paths.ts'

/**
 * A slippy-map tile server: `tiles` is a URL template with {z}, {x} and {y}. The owner's browser
 * fetches the tiles itself, so the server learns which areas are looked at; hence opt-in. Only
 * the shape is checked when a home opens: checkMapTiles judges the URL where it is used.
 */
export const MapTiles = Type.Object({
  tiles: Type.String({ description: 'A tile URL template with {z}, {x} and {y}' }),
  attribution: Type.Optional(Type.String({ description: 'A line of text crediting the map' })),
}, { additionalProperties: false })
export type MapTiles = Static<typeof MapTiles>

/** config.json. Unknown fields are refused rather than ignored, so a misspelt setting is noticed. */
export const HomeConfig = Type.Object({
  version: Type.Literal(1),
  createdAt: Type.String({ minLength: 1, description: 'When the box was made, as an ISO 8601 time' }),
  passphraseHash: Type.String({ pattern: '^\\$argon2', description: 'The owner passphrase, hashed with Argon2 by `coffer init`' }),
  identity: Type.String({ pattern: '^[0-9a-f]{64}$', description: "The box's public identity key, in hex" }),
  /**
   * The owner's time zone, fixed when the box is made: apps granted daily or hourly detail
   * get buckets on this zone's grid only, so two zones' days cannot be subtracted into hours.
   */
  timeZone: Type.Optional(Type.String({ description: 'An IANA time zone, such as Europe/Berlin' })),
  /** A tile server the owner chose for maps under location tracks; none by default. */
  map: Type.Optional(MapTiles),
}, { additionalProperties: false })
export type HomeConfig = Static<typeof HomeConfig>

/** The settings the owner sees and changes. */
export interface Settings {
  timeZone: string
  map: MapTiles | null
}

export interface Home {
  dir: string
  config: HomeConfig
  keys: BoxKeys
  paths: HomePaths
}

export class NoBox extends CofferError {
  constructor(dir: string) {
    super(404, 'no-box', 'No box here', `No box in ${dir}. Create one with \`coffer init --home ${dir}\` or point --home / COFFER_HOME at an existing box.`)
  }
}

/** config.json cannot be read, is not JSON, or holds a field the box cannot use. `field` names it when there is one. */
export class BadConfig extends CofferError {
  readonly file: string
  constructor(file: string, problem: string, field?: string) {
    super(500, 'bad-config', 'Unusable box configuration', `${file}: ${problem}`, field === undefined ? {} : { field })
    this.file = file
  }
}

export const MIN_PASSPHRASE_LENGTH = 8

/**
 * Creates a box home. With `words`, recovers the seed (and so every key) from a recovery phrase.
 * Without `timeZone`, the box takes the host's; `notice` then says when that is UTC for want of
 * one Coffer knows, for init to tell the owner.
 */
export function initHome(dir: string, opts: { passphrase: string; words?: string; timeZone?: string }): { home: Home; words: string; notice?: string } {
  const paths = homePaths(dir)
  if (fs.existsSync(paths.config)) throw new Conflict(`${dir} already holds a box. Use another --home, or remove that folder if you really mean to start over.`)
  if (opts.passphrase.length < MIN_PASSPHRASE_LENGTH) throw new InvalidInput(`The owner passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters.`)
  if (opts.timeZone !== undefined && !knownTimeZone(opts.timeZone)) throw new InvalidInput(`"${opts.timeZone}" is not a known time zone: use an IANA name such as Europe/Berlin or UTC.`, { field: 'timeZone' })
  const zone: { timeZone: string; notice?: string } = opts.timeZone === undefined ? hostTimeZone() : { timeZone: opts.timeZone }
  const seed = opts.words === undefined ? generateSeed() : wordsToSeed(opts.words)
  const keys = new BoxKeys(seed)
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  fs.chmodSync(dir, 0o700)
  fs.writeFileSync(paths.seed, seed, { mode: 0o600 })
  const config: HomeConfig = {
    version: 1,
    createdAt: new Date().toISOString(),
    passphraseHash: hashPassphrase(opts.passphrase),
    identity: keys.identity.publicKey.toString('hex'),
    timeZone: zone.timeZone,
  }
  // The config is written last: its presence is what marks a complete box.
  writeFileAtomic(paths.config, JSON.stringify(config, null, 2) + '\n', 0o600)
  return { home: { dir, config, keys, paths }, words: seedToWords(seed), notice: zone.notice }
}

/**
 * The host's time zone when it is one Coffer knows, else UTC and a notice saying so: with TZ set
 * but empty the host reports "Etc/Unknown", which a box would refuse to open with, and with a
 * POSIX rule such as UTC0 it reports none.
 */
function hostTimeZone(): { timeZone: string; notice?: string } {
  const host = Intl.DateTimeFormat().resolvedOptions().timeZone as string | undefined
  if (host !== undefined && knownTimeZone(host)) return { timeZone: host }
  const reported = [host === undefined ? 'it reports none' : `it reports "${host}"`, ...(process.env.TZ === undefined ? [] : [`TZ is "${process.env.TZ}"`])].join('; ')
  return { timeZone: 'UTC', notice: `This system's time zone is not one Coffer knows (${reported}), so the box's time zone is UTC. It is fixed when a box is made: for another, make the box again with TZ set to an IANA name such as Europe/Berlin.` }
}

export function openHome(dir: string): Home {
  const paths = homePaths(dir)
  if (!fs.existsSync(paths.config)) throw new NoBox(dir)
  const config = readConfig(paths.config)
  const keys = new BoxKeys(fs.readFileSync(paths.seed))
  for (const sub of [paths.logs, paths.audit, paths.views]) fs.mkdirSync(sub, { recursive: true, mode: 0o700 })
  return { dir, config, keys, paths }
}

const FIX = 'Correct it by hand, or put back a copy from a backup; nothing in the box has been changed.'

/** Reads and checks config.json, so a damaged or hand-edited file stops the box at once with the field at fault, not later mid-request. */
function readConfig(file: string): HomeConfig {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    throw new BadConfig(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}). Check that it is a file this user may read.`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new BadConfig(file, `is not valid JSON (${(err as Error).message}). ${FIX}`)
  }
  const fault = Value.Errors(HomeConfig, value).First()
  if (fault) {
    const field = fault.path.slice(1).replaceAll('/', '.')
    if (field === '') throw new BadConfig(file, `must hold one JSON object of settings. ${FIX}`)
    if (field === 'version' && typeof fault.value === 'number' && fault.value > 1) {
      throw new BadConfig(file, `was written by a newer Coffer (config version ${fault.value}; this one reads version 1). Run the newer Coffer on this home.`, field)
    }
    const known = Object.keys(fault.path.startsWith('/map/') ? MapTiles.properties : HomeConfig.properties)
    const expected = fault.schema.description ? fault.schema.description[0]!.toLowerCase() + fault.schema.description.slice(1) : fault.message.replace(/^Expected /, '')
    // The value is not echoed for the passphrase hash: a passphrase pasted there by mistake stays off the screen.
    const held = field === 'passphraseHash' ? 'holds something else' : `holds ${String(JSON.stringify(fault.value)).slice(0, 80)}`
    const problem = fault.value === undefined ? `is missing; expected ${expected}`
      : fault.message === 'Unexpected property' ? `is not a setting Coffer knows (it knows ${known.join(', ')})`
      : `${held}; expected ${expected}`
    throw new BadConfig(file, `the field "${field}" ${problem}. ${FIX}`, field)
  }
  const config = value as HomeConfig
  if (config.timeZone !== undefined && !knownTimeZone(config.timeZone)) {
    throw new BadConfig(file, `the field "timeZone" holds "${config.timeZone}", which is not a known time zone: use an IANA name such as Europe/Berlin or UTC. ${FIX}`, 'timeZone')
  }
  return config
}

let canonicalZones: Set<string> | undefined

/**
 * Whether ICU knows the zone. Its list of canonical zones answers nearly every home without the
 * ~25 ms a first DateTimeFormat costs to load locale data (on every start); "UTC", aliases such
 * as US/Eastern and other spellings are asked of a formatter, which accepts them too.
 */
function knownTimeZone(tz: string): boolean {
  canonicalZones ??= new Set(Intl.supportedValuesOf('timeZone'))
  if (tz === 'UTC' || canonicalZones.has(tz)) return true
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

export function writeFileAtomic(file: string, data: string | Buffer, mode = 0o644): void {
  const tmp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(tmp, data, { mode })
  fs.renameSync(tmp, file)
}

/** Rewrites the config with a change, on disk first, then in memory. */
export function updateConfig(home: Home, change: Partial<HomeConfig>): void {
  const config = { ...home.config, ...change }
  writeFileAtomic(home.paths.config, JSON.stringify(config, null, 2) + '\n', 0o600)
  home.config = config
}

/** Checks a tile server setting; answers it with the origin tiles load from. */
export function checkMapTiles(input: MapTiles): { map: MapTiles; origin: string } {
  const { tiles, attribution } = input
  const example = 'https://tiles.example.org/{z}/{x}/{y}.png'
  if (!['{z}', '{x}', '{y}'].every((p) => tiles.includes(p))) throw new InvalidInput(`The tile URL must hold {z}, {x} and {y}, like ${example}.`, { field: 'tiles' })
  let url: URL
  try {
    url = new URL(tiles.replace(/\{([xyz])\}/g, '0'))
  } catch {
    throw new InvalidInput(`That is not a URL. A tile URL looks like ${example}.`, { field: 'tiles' })
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new InvalidInput('The tile URL must be http or https.', { field: 'tiles' })
  if (url.username || url.password) throw new InvalidInput('The tile URL must not carry a user name or password.', { field: 'tiles' })
  if (/[\s"'<>\\]/.test(tiles)) throw new InvalidInput('The tile URL holds characters a URL cannot.', { field: 'tiles' })
  return { map: { tiles, ...(attribution ? { attribution } : {}) }, origin: url.origin }
}

