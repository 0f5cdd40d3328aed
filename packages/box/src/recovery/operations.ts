/**
 * Recovery's decisions on a running box, for the owner: printing the paper key, splitting the
 * seed among friends (each share handed over as a file, or delivered through a friend's blind
 * replicator paired with this box), and, on a friend's box, holding and releasing the shares
 * others gave it.
 * Whatever lets the seed or a share of it leave the box asks for the owner passphrase as well as
 * an owner token: a token (a script's, a cockpit session's) is not the seed.
 */
import fs from 'node:fs'
import { Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type Database from 'better-sqlite3'
import { EpochSeconds, defineOperation, ownerOnly } from '../operations/index.ts'
import { checkPassphrase, seedToWords } from '../keys/index.ts'
import type { Home } from '../home/index.ts'
import { InvalidInput, NotFound } from '../errors/index.ts'
import { WrongPassphrase } from './errors.ts'
import { renderPaperKey } from './paper.ts'
import { RecoveryRecords } from './records.ts'
import { FriendName, checkShare, releaseHeld, short, splitSeed, type Friend } from './shares.ts'

const Identity = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'A box identity: its Ed25519 public key, 64 hex digits' })
const Passphrase = Type.String({ minLength: 1, maxLength: 1024, description: 'The owner passphrase of this box' })

const SplitSchema = Type.Object({
  version: Type.Integer({ description: 'The split\'s version: a friend\'s box keeps only the newest share of an owner' }),
  threshold: Type.Integer({ description: 'How many shares rebuild the seed' }),
  friends: Type.Array(Type.Object({
    name: Type.String(),
    identity: Identity,
    replica: Type.Union([Type.Object({ id: Type.String(), name: Type.String() }), Type.Null()], { description: 'The paired blind replica the share is delivered through; null: handed over as a file' }),
    deliveredAt: Type.Union([EpochSeconds, Type.Null()], { description: 'When the replica said it holds the share; null until then, and for a file' }),
    problem: Type.Union([Type.String(), Type.Null()], { description: 'Why the replica refused the share, if it did' }),
  }), { description: 'Who holds a share, in share order' }),
  createdAt: EpochSeconds,
})

const HeldShareSchema = Type.Object({
  owner: Identity,
  version: Type.Integer({ description: 'The owner\'s split this share belongs to' }),
  index: Type.Integer(),
  threshold: Type.Integer({ description: 'How many of the split\'s shares rebuild the owner\'s seed' }),
  count: Type.Integer({ description: 'How many shares the split made' }),
  label: Type.Union([Type.String(), Type.Null()], { description: 'What this box\'s owner calls the share\'s owner' }),
  receivedAt: EpochSeconds,
  releasedTo: Type.Union([Identity, Type.Null()], { description: 'The recovery code it was last released to' }),
  releasedAt: Type.Union([EpochSeconds, Type.Null()]),
})

/** A box that refuses five passphrases in a row answers each next one later, up to 5 s: guessing is slow. */
const FAILURES_BEFORE_DELAY = 5

/** The paired blind replicas a share can go through: the box's backup. */
export interface ShareCourier {
  /** The paired blind replica so named (or with this id); refused, saying why, when it cannot hold a share. */
  replicaHolder(ref: string): { id: string; name: string; publicKey: string }
  /** Tells the connected replicas of the split in force now; the others hear of it when they next connect. */
  deliverShares(): void
}

export interface RecoveryOperationsDeps {
  home: Home
  db: Database.Database
  /** Without it, shares are handed over as files only. */
  courier?: ShareCourier
}

export function recoveryOperations({ home, db, courier }: RecoveryOperationsDeps) {
  const records = new RecoveryRecords(db)
  let failures = 0
  const checkOwner = async (passphrase: string) => {
    if (failures >= FAILURES_BEFORE_DELAY) await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** (failures - FAILURES_BEFORE_DELAY))))
    if (!checkPassphrase(home.config.passphraseHash, passphrase)) {
      failures++
      throw new WrongPassphrase()
    }
    failures = 0
  }
  const readSeed = () => fs.readFileSync(home.paths.seed)
  const now = () => Date.now() / 1000

  /** A friend as the owner named them: a box identity (a file to hand over), or a paired blind replica to deliver through. */
  const holderOf = (friend: { name?: string; identity?: string; replica?: string }, field: string): Friend & { replica: { id: string; name: string } | null } => {
    if ((friend.identity === undefined) === (friend.replica === undefined)) {
      throw new InvalidInput('Name each friend by their box identity (their share is handed over as a file) or by the blind replica they run for you (it is delivered through it), one of the two.', { field })
    }
    if (friend.identity !== undefined) {
      if (friend.name === undefined) throw new InvalidInput('Give the friend a name: letters, digits, dot, dash or underscore.', { field: `${field}.name` })
      return { name: friend.name, identity: friend.identity, replica: null }
    }
    if (!courier) throw new InvalidInput('This box delivers no share through a replica: hand each friend their share as a file.', { field: `${field}.replica` })
    const replica = courier.replicaHolder(friend.replica!)
    const name = friend.name ?? replica.name
    if (!Value.Check(FriendName, name)) {
      throw new InvalidInput(`Give the friend who runs the replica "${replica.name}" a name in letters, digits, dot, dash or underscore (NAME=REPLICA): the share carries it.`, { field: `${field}.name` })
    }
    return { name, identity: replica.publicKey, replica: { id: replica.id, name: replica.name } }
  }

  return {
    paperKey: defineOperation({
      name: 'recovery.paperKey', audit: 'admin',
      summary: 'The paper key, for the owner passphrase: a printable PDF of the 24 words of the root seed, their QR code, the box identity and how to recover; or the words alone, for a PDF drawn elsewhere',
      input: Type.Object({
        passphrase: Passphrase,
        format: Type.Union([Type.Literal('pdf'), Type.Literal('words')], { default: 'pdf' }),
      }, { additionalProperties: false }),
      output: Type.Union([
        Type.Object({ format: Type.Literal('words'), identity: Identity, words: Type.String({ description: '24 BIP39 words, separated by spaces' }), createdAt: EpochSeconds }),
        Type.Object({ format: Type.Literal('pdf'), identity: Identity, document: Type.Unsafe<Buffer>({ description: 'The PDF\'s bytes' }) }),
      ]),
      access: ownerOnly,
      run: async ({ passphrase, format }, ctx) => {
        await checkOwner(passphrase)
        const seed = readSeed()
        const key = { identity: home.config.identity, words: seedToWords(seed), createdAt: Math.floor(now()) }
        seed.fill(0)
        if (format === 'words') return { format, ...key }
        const document = await renderPaperKey(key)
        ctx.bytes = document.length
        return { format, identity: key.identity, document }
      },
    }),

    split: defineOperation({
      name: 'recovery.split', audit: 'admin',
      summary: 'Split the root seed among friends, for the owner passphrase: one share per friend, signed by this box and sealed to that friend\'s box, or to the blind replicator they run for this box, which it is delivered to; any `threshold` of the shares rebuild the seed. Retires every earlier split.',
      input: Type.Object({
        passphrase: Passphrase,
        threshold: Type.Integer({ minimum: 2, maximum: 255, description: 'How many shares rebuild the seed' }),
        friends: Type.Array(Type.Object({
          name: Type.Optional(FriendName),
          identity: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$', description: 'The friend\'s box identity: their share is handed over as a file' })),
          replica: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Or the name (or id) of the blind replica the friend runs for this box, paired: their share is delivered through it. The friend\'s name defaults to the replica\'s, when it is one' })),
        }, { additionalProperties: false }), { minItems: 2, maxItems: 255 }),
      }, { additionalProperties: false }),
      output: Type.Intersect([SplitSchema, Type.Object({
        shares: Type.Array(Type.Object({ name: Type.String(), identity: Identity, file: Type.String({ description: 'The share file, JSON text, for that friend alone' }) }), { description: 'The shares to hand over as files; those going through a replica are not among them' }),
      })]),
      access: ownerOnly,
      run: async ({ passphrase, threshold, friends: asked }, ctx) => {
        if (threshold > asked.length) throw new InvalidInput(`A threshold of ${threshold} needs at least ${threshold} friends; ${asked.length} given.`, { field: 'threshold' })
        const friends = asked.map((friend, i) => holderOf(friend, `friends.${i}`))
        const names = new Set<string>()
        const identities = new Set<string>()
        for (const [i, friend] of friends.entries()) {
          if (names.has(friend.name.toLowerCase())) throw new InvalidInput(`Two friends are called ${friend.name}: give each a different name.`, { field: `friends.${i}.name` })
          if (identities.has(friend.identity)) throw new InvalidInput(`${friend.name} has the same box identity as another friend: each share must go to a different box.`, { field: `friends.${i}.identity` })
          if (friend.identity === home.config.identity) throw new InvalidInput(`${friend.name}'s identity is this box's own: a share kept here would be lost with the box.`, { field: `friends.${i}.identity` })
          names.add(friend.name.toLowerCase())
          identities.add(friend.identity)
        }
        await checkOwner(passphrase)
        const createdAt = now()
        const version = records.nextVersion(createdAt)
        const seed = readSeed()
        let shares
        try {
          shares = await splitSeed(seed, home.keys.identity, { set: version, threshold, friends })
        } finally {
          seed.fill(0)
        }
        const holders = friends.map(({ name, identity, replica }, i) => ({ name, identity, replica, deliveredAt: null, problem: null, file: shares[i]!.file }))
        records.recordSplit({ version, threshold, friends: holders, createdAt })
        courier?.deliverShares()
        ctx.records = shares.length
        ctx.bytes = shares.reduce((sum, s) => sum + s.file.length, 0)
        return {
          version, threshold, createdAt,
          friends: holders.map(({ file: _, ...holder }) => holder),
          shares: holders.filter((h) => !h.replica).map(({ name, identity, file }) => ({ name, identity, file })),
        }
      },
    }),

    latestSplit: defineOperation({
      name: 'recovery.latestSplit', summary: 'The split of the root seed in force: its version, threshold and the friends holding its shares; null if the seed was never split', audit: 'admin',
      input: Type.Object({}),
      output: Type.Union([SplitSchema, Type.Null()]),
      access: ownerOnly,
      run: async () => records.latestSplit(),
    }),

    hold: defineOperation({
      name: 'recovery.hold', audit: 'admin',
      summary: 'Hold a share of a friend\'s seed, sealed to this box: kept sealed, the newest split\'s only; a share for another box, forged, or of an older split is refused',
      input: Type.Object({
        share: Type.String({ maxLength: 8192, description: 'The share file\'s text' }),
        label: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[^\\u0000-\\u001f\\u007f]*$', description: 'What you call the share\'s owner' })),
      }, { additionalProperties: false }),
      output: HeldShareSchema,
      access: ownerOnly,
      run: async ({ share, label }, ctx) => {
        const payload = checkShare(share, home.keys.identity)
        if (payload.owner === home.config.identity) throw new InvalidInput('This is a share of this box\'s own seed: it belongs with a friend, not here.')
        ctx.records = 1
        return records.hold(payload, share, label, now())
      },
    }),

    held: defineOperation({
      name: 'recovery.held', summary: 'The shares of friends\' seeds this box holds, one per friend, none of which can rebuild a seed alone', audit: 'admin',
      input: Type.Object({}),
      output: Type.Array(HeldShareSchema),
      access: ownerOnly,
      run: async () => records.held(),
    }),

    release: defineOperation({
      name: 'recovery.release', audit: 'admin',
      summary: 'Release the share held for a friend, for the owner passphrase: opened with this box\'s key and sealed again to the one-time recovery code the friend gave',
      input: Type.Object({
        owner: Identity,
        to: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'The recovery code the friend\'s new home printed' }),
        passphrase: Passphrase,
      }, { additionalProperties: false }),
      output: Type.Object({ share: HeldShareSchema, file: Type.String({ description: 'The released share, JSON text, for the friend recovering' }) }),
      access: ownerOnly,
      run: async ({ owner, to, passphrase }, ctx) => {
        const kept = records.heldFor(owner)
        if (!kept) throw new NotFound(`This box holds no share for ${short(owner)}. \`coffer backup shares list\` shows the shares it holds.`)
        await checkOwner(passphrase)
        const file = releaseHeld(kept.file, home.keys.identity, to)
        ctx.records = 1
        ctx.bytes = file.length
        return { share: records.markReleased(owner, to, now()), file }
      },
    }),
  }
}

export type RecoveryOperations = ReturnType<typeof recoveryOperations>
