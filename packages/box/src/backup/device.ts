/**
 * The owner's other device: a full replica. It pairs like a blind replicator, by an invite sealed
 * to its key, but its invite also carries the root seed, so it holds every key of the box and can
 * serve as the box when the box is lost. Until then it is a standby: it keeps the box's logs as a
 * replicator keeps them (encrypted blocks, each checked against its log's signed tree, and a signed
 * report of what it holds, which the box checks), and its home is made from the seed as
 * `coffer init --recover` makes one, under the device's own passphrase. Promoting it restores that
 * home from its own copy of the logs, with restore's checks, and it is a box from then on.
 *
 * In the device's home folder (DIR), until it is promoted:
 *   DIR/standby/        the replica's side: its key, replicator.db, owners/<box key>/ the box's logs
 *   DIR/standby/home/   the home made from the seed: seed, config.json; views and logs come at promotion
 * DIR holds no config.json, so `coffer start` finds no box there and a standby never writes logs of
 * its own under the box's keys. Promotion moves the restored home up into DIR, config.json last.
 */
import fs from 'node:fs'
import path from 'node:path'
import Hypercore from 'hypercore'
import type pino from 'pino'
import { BoxKeys, seedToWords, type KeyPair } from '../keys/index.ts'
import { homePaths, initHome, MIN_PASSPHRASE_LENGTH, writeFileAtomic } from '../home/index.ts'
import { Conflict, InvalidInput, NotFound } from '../errors/index.ts'
import { openCorestore } from '../store/index.ts'
import { openDeviceInvite } from './invite.ts'
import { Replicator, addOwner, listOwners, ownerCores, ownerDir, refuseSpent, replicatorIdentity } from './replicator.ts'
import { RestoreFailed, processAlive, restoreHome, type ReplicaLink, type RestoreProgress, type RestoreResult } from './restore.ts'
import { heldRanges } from './held.ts'

const STANDBY = 'standby'
/** A standby keeps every block of its box: it is the owner's own disk, not a friend's. */
const NO_QUOTA = Number.MAX_SAFE_INTEGER
/** Written while `coffer device start` runs, so a promotion does not take the copy from under it. */
const RUNNING_FILE = 'running.json'
/** Written once the staged home is restored and verified, so a promotion cut short while moving it finishes. */
const RESTORED_FILE = 'restored.json'

function standbyDir(dir: string): string {
  return path.join(dir, STANDBY)
}

function stagedHome(dir: string): string {
  return path.join(dir, STANDBY, 'home')
}

export interface DeviceStatus {
  /** The box's key on the backup network. */
  box: string
  /** The box's identity: the same as this device's once promoted. */
  identity: string
  /** What the owner called this device. */
  name: string
  /** pending: it has not yet said its invite to the box; active: paired. */
  state: 'pending' | 'active'
  /** The box's logs held here, and their bytes on disk. */
  cores: number
  usedBytes: number
  lastSeen: string | null
  /** Whether `coffer device start` runs on this home now. */
  running: boolean
}

/** This device's key on the backup network, made on first use in the folder that will be its home. */
export function deviceIdentity(home: string): KeyPair {
  const dir = path.resolve(home)
  refuseBox(dir)
  return replicatorIdentity(standbyDir(dir))
}

/**
 * Takes a device invite: opens it with this device's key, makes the standby home from the seed it
 * carries (asking for this device's passphrase only once the invite is known good), and pairs with
 * the box, which this device then follows while `coffer device start` runs.
 */
export async function acceptDevice(home: string, code: string, passphrase: () => Promise<string>, now = Date.now()): Promise<{ box: string; identity: string; name: string; notice?: string }> {
  const dir = path.resolve(home)
  refuseBox(dir)
  const invite = openDeviceInvite(code, replicatorIdentity(standbyDir(dir)), now)
  const seed = Buffer.from(invite.seed, 'hex')
  try {
    if (!new BoxKeys(seed).backupPeer.publicKey.equals(Buffer.from(invite.box, 'hex'))) throw new InvalidInput('This invite\'s seed is not the seed of the box it names: ask the owner for a new invite.')
    refuseSpent(standbyDir(dir), invite)
    if (fs.existsSync(homePaths(stagedHome(dir)).config)) throw new Conflict(`${dir} is a standby already. Promote it with \`coffer device promote --home ${dir}\`, or take the invite in another folder.`)
    const chosen = await passphrase()
    if (chosen.length < MIN_PASSPHRASE_LENGTH) throw new InvalidInput(`The passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters.`)
    const made = initHome(stagedHome(dir), { passphrase: chosen, words: seedToWords(seed), timeZone: invite.timeZone })
    try {
      addOwner(standbyDir(dir), invite, NO_QUOTA)
    } catch (err) {
      fs.rmSync(stagedHome(dir), { recursive: true, force: true })
      throw err
    }
    return { box: invite.box, identity: made.home.config.identity, name: invite.name, ...(made.notice ? { notice: made.notice } : {}) }
  } finally {
    seed.fill(0)
  }
}

/** What this standby holds of its box, read from its folder (a running standby keeps it current). */
export function deviceStatus(home: string): DeviceStatus {
  const dir = path.resolve(home)
  const { owner, identity } = standbyOwner(dir)
  return { box: owner.key, identity, name: owner.name, state: owner.state, cores: owner.cores, usedBytes: owner.usedBytes, lastSeen: owner.lastSeen, running: runningPid(dir) !== undefined }
}

/** The standby at work: the box dials it and it follows every log of the box, as a replica does. */
export class DeviceStandby {
  readonly dir: string
  readonly #replicator: Replicator

  constructor(opts: { home: string; bootstrap?: { host: string; port: number }[]; logger?: pino.Logger }) {
    this.dir = path.resolve(opts.home)
    standbyOwner(this.dir)
    this.#replicator = new Replicator({ dir: standbyDir(this.dir), bootstrap: opts.bootstrap, logger: opts.logger })
  }

  get publicKey(): string {
    return this.#replicator.publicKey
  }

  async open(): Promise<void> {
    const pid = runningPid(this.dir)
    if (pid !== undefined) throw new Conflict(`This standby is running already (pid ${pid}).`)
    writeFileAtomic(path.join(standbyDir(this.dir), RUNNING_FILE), JSON.stringify({ pid: process.pid }), 0o600)
    await this.#replicator.open()
  }

  async close(): Promise<void> {
    await this.#replicator.close()
    fs.rmSync(path.join(standbyDir(this.dir), RUNNING_FILE), { force: true })
  }

  status(): DeviceStatus {
    return deviceStatus(this.dir)
  }
}

/**
 * Turns the standby into the box: its home is restored from its own copy of the logs, by the same
 * steps as a restore from a replica (every block checked against its log's signed tree as it is
 * copied, the views rebuilt, the audit log verified), then moved up into the device's folder, which
 * `coffer start` serves from then on. The copy is removed once the home stands in its place.
 */
export async function promoteDevice(opts: { home: string; timeoutMs?: number; onProgress?: (p: RestoreProgress) => void }): Promise<RestoreResult & { identity: string }> {
  const dir = path.resolve(opts.home)
  const staged = stagedHome(dir)
  const restoredFile = path.join(standbyDir(dir), RESTORED_FILE)
  let result: RestoreResult
  if (fs.existsSync(restoredFile)) {
    // A promotion cut short after its restore: only the move is left to do.
    result = JSON.parse(fs.readFileSync(restoredFile, 'utf8')) as RestoreResult
  } else {
    const { owner } = standbyOwner(dir)
    const pid = runningPid(dir)
    if (pid !== undefined) throw new Conflict(`The standby is still following the box (pid ${pid}): stop \`coffer device start\`, then promote.`)
    if (owner.state !== 'active' || owner.cores === 0) throw new RestoreFailed('This device has not synced with the box yet: it holds none of its logs. Run `coffer device start` while the box is up first.')
    try {
      result = await restoreHome({ home: staged, timeoutMs: opts.timeoutMs ?? 120_000, onProgress: opts.onProgress, link: async () => localCopy(dir, owner.key) })
      if (!result.audit.ok) throw new RestoreFailed(`The audit log copied here does not verify: ${result.audit.problems.join('; ')}. The standby is left as it was.`)
    } catch (err) {
      // Back to a standby as it was, so a later promotion (after another sync) starts clean.
      for (const made of ['logs', 'audit', 'views', 'box.db', 'box.db-wal', 'box.db-shm']) fs.rmSync(path.join(staged, made), { recursive: true, force: true })
      throw err
    }
    writeFileAtomic(restoredFile, JSON.stringify(result), 0o600)
  }
  // The config goes last: its presence is what makes DIR a box.
  const entries = fs.readdirSync(staged).filter((name) => name !== 'config.json')
  for (const name of entries) fs.renameSync(path.join(staged, name), path.join(dir, name))
  const config = homePaths(staged).config
  if (fs.existsSync(config)) fs.renameSync(config, homePaths(dir).config)
  fs.rmSync(standbyDir(dir), { recursive: true, force: true })
  const identity = (JSON.parse(fs.readFileSync(homePaths(dir).config, 'utf8')) as { identity: string }).identity
  return { ...result, identity }
}

/**
 * The standby's own copy as a replica to restore from: its cores, opened by key alone as a
 * replicator holds them, replicated into the home's over a pair of protocol streams piped into
 * each other in this process, so each block is verified as it would be over the network.
 */
async function localCopy(dir: string, box: string): Promise<ReplicaLink> {
  const store = openCorestore(ownerDir(standbyDir(dir), box))
  const cores: Hypercore[] = []
  try {
    for (const key of ownerCores(standbyDir(dir), box)) {
      const core = store.get({ key: Buffer.from(key, 'hex') })
      cores.push(core)
      await core.ready()
    }
    const inventory = new Map(cores.map((core) => {
      const key = core.key.toString('hex')
      return [key, { key, length: core.length, held: heldRanges(core) }]
    }))
    const protocol = Hypercore as unknown as { createProtocolStream(initiator: boolean, opts?: { keepAlive?: boolean }): NodeJS.ReadWriteStream & { destroy(): void } }
    const copy = protocol.createProtocolStream(true, { keepAlive: false })
    const restoring = protocol.createProtocolStream(false, { keepAlive: false })
    copy.pipe(restoring).pipe(copy)
    for (const core of cores) core.replicate(copy)
    return {
      stream: restoring,
      inventory,
      async close() {
        copy.destroy()
        restoring.destroy()
        for (const core of cores) await core.close()
        await store.close()
      },
    }
  } catch (err) {
    for (const core of cores) await core.close().catch(() => {})
    await store.close()
    throw err
  }
}

function refuseBox(dir: string): void {
  if (fs.existsSync(homePaths(dir).config)) throw new Conflict(`${dir} holds a box already: a device is made in a folder of its own (--home DIR).`)
}

/** The box this standby follows, and the identity its seed gives; refuses a folder that is no standby. */
function standbyOwner(dir: string): { owner: ReturnType<typeof listOwners>[number]; identity: string } {
  const config = homePaths(stagedHome(dir)).config
  if (!fs.existsSync(config)) {
    if (fs.existsSync(homePaths(dir).config)) throw new Conflict(`${dir} is a box, not a standby${fs.existsSync(standbyDir(dir)) ? '' : ' (promoted already?)'}.`)
    throw new NotFound(`${dir} is not a standby device: take an invite there first, with \`coffer device accept CODE --home ${dir}\`.`)
  }
  const owner = listOwners(standbyDir(dir)).find((o) => o.kind === 'box')
  if (!owner) throw new NotFound(`${dir} follows no box: take an invite there with \`coffer device accept CODE --home ${dir}\`.`)
  const identity = (JSON.parse(fs.readFileSync(config, 'utf8')) as { identity: string }).identity
  return { owner, identity }
}

function runningPid(dir: string): number | undefined {
  try {
    const { pid } = JSON.parse(fs.readFileSync(path.join(standbyDir(dir), RUNNING_FILE), 'utf8')) as { pid: number }
    return processAlive(pid) ? pid : undefined
  } catch {
    return undefined
  }
}
