/**
 * Recovering a box from friends' shares, on a new machine, without a running box. First a
 * one-time recovery key pair is made in the new home folder; its public half is the recovery
 * code the owner gives friends, who release their shares sealed to it. Then the released shares
 * are opened with it, checked, combined, and the home is made from the seed as
 * `coffer init --recover` makes it from the words.
 */
import fs from 'node:fs'
import path from 'node:path'
import sodium from 'sodium-native'
import { generateSeed, seedToWords, type KeyPair } from '../keys/index.ts'
import { homePaths, initHome, writeFileAtomic } from '../home/index.ts'
import { Conflict, InvalidInput } from '../errors/index.ts'
import { combineShares, openRelease, type SharePayload } from './shares.ts'

/** The recovery key pair's file in the home being recovered; gone once the home is made. */
export const RECOVERY_KEY_FILE = 'recovery-key.json'

interface RecoveryKeyFile {
  version: 1
  publicKey: string
  secretKey: string
  createdAt: string
}

/**
 * Makes the recovery key pair for a home to be recovered, or answers the one made before: friends
 * may have released shares to it already, so asking again must not replace it.
 */
export function requestRecovery(dir: string): { code: string; created: boolean; file: string } {
  refuseExistingBox(dir)
  const file = path.join(dir, RECOVERY_KEY_FILE)
  const existing = readRecoveryKey(dir)
  if (existing) return { code: existing.publicKey.toString('hex'), created: false, file }
  const publicKey = Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES)
  const secretKey = Buffer.alloc(sodium.crypto_sign_SECRETKEYBYTES)
  // An identity-shaped key, so friends' boxes seal to it exactly as they seal to a box.
  sodium.crypto_sign_seed_keypair(publicKey, secretKey, generateSeed())
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  fs.chmodSync(dir, 0o700)
  const content: RecoveryKeyFile = { version: 1, publicKey: publicKey.toString('hex'), secretKey: secretKey.toString('hex'), createdAt: new Date().toISOString() }
  writeFileAtomic(file, JSON.stringify(content, null, 2) + '\n', 0o600)
  secretKey.fill(0)
  return { code: content.publicKey, created: true, file }
}

export interface ReleasedFile {
  /** Where it came from, for messages: a file name. */
  name: string
  text: string
}

export interface Recovered {
  identity: string
  /** The split the shares came from, and how many of its shares were needed and given. */
  version: number
  threshold: number
  count: number
  /** The friends whose shares were used, as the owner named them. */
  holders: string[]
  /** Said by initHome when the box's time zone fell back to UTC. */
  notice?: string
}

/**
 * Opens and checks the released shares, rebuilds the seed, and only then asks for the new owner
 * passphrase and makes the home: shares that cannot rebuild the seed never lead to a prompt, and
 * no home is made from a seed that does not give the identity the shares name.
 */
export async function recoverHome(dir: string, files: ReleasedFile[], passphrase: () => Promise<string>): Promise<Recovered> {
  refuseExistingBox(dir)
  const keyPair = readRecoveryKey(dir)
  if (!keyPair) throw new InvalidInput(`There is no recovery request in ${dir}. Run \`coffer backup recover request --home ${dir}\` first, and give friends the code it prints.`)
  if (files.length === 0) throw new InvalidInput('Give the files of the shares your friends released to you.')
  const payloads: SharePayload[] = files.map(({ name, text }) => {
    try {
      return openRelease(text, keyPair).payload
    } catch (err) {
      if (err instanceof Error) err.message = `${name}: ${err.message}`
      throw err
    }
  })
  keyPair.secretKey.fill(0)
  const rebuilt = await combineShares(payloads)
  try {
    const holders = [...new Map(payloads.map((p) => [p.index, p.holder.name])).values()]
    const { home, notice } = initHome(dir, { passphrase: await passphrase(), words: seedToWords(rebuilt.seed) })
    fs.rmSync(path.join(dir, RECOVERY_KEY_FILE), { force: true })
    return { identity: home.config.identity, version: rebuilt.set, threshold: rebuilt.threshold, count: rebuilt.count, holders, ...(notice ? { notice } : {}) }
  } finally {
    rebuilt.seed.fill(0)
  }
}

function refuseExistingBox(dir: string): void {
  if (fs.existsSync(homePaths(dir).config)) throw new Conflict(`${dir} already holds a box. Recover into a new folder (--home DIR).`)
}

function readRecoveryKey(dir: string): KeyPair | undefined {
  const file = path.join(dir, RECOVERY_KEY_FILE)
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  let value: Partial<RecoveryKeyFile> = {}
  try {
    const parsed: unknown = JSON.parse(text)
    if (typeof parsed === 'object' && parsed !== null) value = parsed
  } catch {
    // Answered below, as any other file that is not a recovery key.
  }
  if (value.version !== 1 || !/^[0-9a-f]{64}$/.test(value.publicKey ?? '') || !/^[0-9a-f]{128}$/.test(value.secretKey ?? '')) {
    throw new InvalidInput(`${file} is not a recovery key Coffer made. Remove it and run \`coffer backup recover request\` again; friends must then release their shares to the new code.`)
  }
  return { publicKey: Buffer.from(value.publicKey!, 'hex'), secretKey: Buffer.from(value.secretKey!, 'hex') }
}
