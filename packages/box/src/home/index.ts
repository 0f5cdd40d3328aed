/**
 * The box home (COFFER_HOME): the root seed, the owner's passphrase hash, the metadata
 * database, the logs and the views. Secret files are created 0600 inside a 0700 folder.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BoxKeys, generateSeed, hashPassphrase, seedToWords, wordsToSeed } from '../keys/index.ts'
import { Conflict, CofferError, InvalidInput } from '../errors/index.ts'

export interface HomeConfig {
  version: 1
  createdAt: string
  passphraseHash: string
  identity: string
  /**
   * The owner's time zone, fixed when the box is made: apps granted daily or hourly detail
   * get buckets on this zone's grid only, so two zones' days cannot be subtracted into hours.
   */
  timeZone?: string
  /** A tile server the owner chose for maps under location tracks; none by default. */
  map?: MapTiles
}

/**
 * A slippy-map tile server: `tiles` is a URL template with {z}, {x} and {y}. The owner's browser
 * fetches the tiles itself, so the server learns which areas are looked at; hence opt-in.
 */
export interface MapTiles {
  tiles: string
  attribution?: string
}

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

export interface HomePaths {
  config: string
  seed: string
  meta: string
  logs: string
  audit: string
  views: string
  runtime: string
}

export class NoBox extends CofferError {
  constructor(dir: string) {
    super(404, 'no-box', 'No box here', `No box in ${dir}. Create one with \`coffer init --home ${dir}\` or point --home / COFFER_HOME at an existing box.`)
  }
}

export function resolveHomeDir(option?: string): string {
  return path.resolve(option ?? process.env.COFFER_HOME ?? path.join(os.homedir(), '.coffer'))
}

export function homePaths(dir: string): HomePaths {
  return {
    config: path.join(dir, 'config.json'),
    seed: path.join(dir, 'seed'),
    meta: path.join(dir, 'box.db'),
    logs: path.join(dir, 'logs'),
    audit: path.join(dir, 'audit'),
    views: path.join(dir, 'views'),
    runtime: path.join(dir, 'runtime.json'),
  }
}

export const MIN_PASSPHRASE_LENGTH = 8

/** Creates a box home. With `words`, recovers the seed (and so every key) from a recovery phrase. */
export function initHome(dir: string, opts: { passphrase: string; words?: string; timeZone?: string }): { home: Home; words: string } {
  const paths = homePaths(dir)
  if (fs.existsSync(paths.config)) throw new Conflict(`${dir} already holds a box. Use another --home, or remove that folder if you really mean to start over.`)
  if (opts.passphrase.length < MIN_PASSPHRASE_LENGTH) throw new InvalidInput(`The owner passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters.`)
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
    timeZone: opts.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
  }
  // The config is written last: its presence is what marks a complete box.
  writeFileAtomic(paths.config, JSON.stringify(config, null, 2) + '\n', 0o600)
  return { home: { dir, config, keys, paths }, words: seedToWords(seed) }
}

export function openHome(dir: string): Home {
  const paths = homePaths(dir)
  if (!fs.existsSync(paths.config)) throw new NoBox(dir)
  const config = JSON.parse(fs.readFileSync(paths.config, 'utf8')) as HomeConfig
  const keys = new BoxKeys(fs.readFileSync(paths.seed))
  for (const sub of [paths.logs, paths.audit, paths.views]) fs.mkdirSync(sub, { recursive: true, mode: 0o700 })
  return { dir, config, keys, paths }
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

/** Where a running box listens, so the CLI can find it. */
export interface Runtime {
  url: string
  pid: number
}

export function readRuntime(home: { paths: HomePaths } | string): Runtime | undefined {
  const file = typeof home === 'string' ? homePaths(home).runtime : home.paths.runtime
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Runtime
  } catch {
    return undefined
  }
}
