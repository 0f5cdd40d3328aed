/**
 * Invites on the local network: two boxes in one home or office need no key or code copied
 * between them, only a short fingerprint compared by eye.
 *
 * The box asking to join announces, once a second for a while, over UDP multicast (an
 * administratively scoped IPv4 group, RFC 2365, on a fixed port; datagrams sent with a TTL of 1,
 * so they stay on the link) its box key and the name it asks to join as. The admin's box lists
 * the boxes it hears, each with the fingerprint of its key, which both screens show. The admin
 * picks one by that fingerprint; the box makes the usual invite sealed to that key (invite.ts:
 * single-use, expiring, the same code `coffer groups invite` prints), multicasts it a few times
 * against lost datagrams, and listens for the invitee's "got it". The invitee's box opens the
 * codes sealed to it, ignores the others, and shows what it is invited to: the group, the role,
 * and the fingerprint of the admin's key on the group's network, which the admin's screen
 * shows too. It joins, over the DHT, as any invite is used, once its owner says yes.
 *
 * Every datagram is checked (at most MAX_DATAGRAM bytes, JSON of one of three shapes), and
 * nothing it says is believed beyond what a sealed code proves. What someone on the LAN can do:
 * - see which boxes ask to join, their keys and the names they ask under (a box key is public:
 *   invites are sealed to it), and see that invites pass (sealed: it reads nothing in them);
 * - announce a false name, or someone else's key: the admin compares the fingerprint, not the
 *   name, and an invite to someone else's key is of use to that box only. Finding a key of its own
 *   whose 48-bit fingerprint equals the one on the invitee's screen takes about 2^48 tries;
 * - send the invitee an invite of its own, to a group of its own (anyone can seal to a public
 *   key): the invitee's screen shows that invite's admin fingerprint, which is not the one on the
 *   real admin's screen, and nothing is joined without the owner's yes;
 * - replay a real invite: it is the same invite, usable by the same box only, once, until it
 *   expires (the admin's box spends it, and refuses an expired one);
 * - say "got it" for an invitee, so the admin's screen says it arrived: only joining proves it;
 * - drop datagrams or flood the link, so no invite arrives: then the code the admin's box also
 *   shows works out of band, as without a LAN.
 */
import dgram from 'node:dgram'
import os from 'node:os'
import { createHash } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type pino from 'pino'
import { CofferError, InvalidInput, NotFound } from '../errors/index.ts'
import type { KeyPair } from '../keys/index.ts'
import { openInvite, type GroupInvite } from './invite.ts'
import { MemberName, Role } from './members.ts'
import { sameFingerprint } from './words.ts'

/** Where boxes meet on the LAN: an address in the IPv4 local scope (239.255.0.0/16), and a port of Coffer's. */
export const LAN_ADDRESS = '239.255.67.70'
export const LAN_PORT = 47470
/** The largest datagram read: an invite code with the longest names fits four times over. */
export const MAX_DATAGRAM = 8192
/** How often a box asking to join says so, and how long an admin's box lists one it no longer hears. */
const ANNOUNCE_MS = 1000
const HEARD_WITHIN_MS = 5000
/** An invite is sent this many times, this far apart, until the invitee says it has it. */
const SENDS = 10
const RESEND_MS = 500
/** An admin's box listens for boxes asking this long after it was last asked who is nearby. */
const LOOKING_MS = 120_000
/** What is kept of what the LAN says, at most: a flood pushes out the oldest. */
const MAX_NEARBY = 32
const MAX_OFFERS = 16
const MAX_REFUSED = 16

export interface LanOptions {
  /** The interface to send and receive on: its name or IPv4 address. Default: the first one that is not loopback. */
  interface?: string
  address: string
  port: number
}

/** COFFER_LAN_INTERFACE and COFFER_LAN_PORT, else the defaults. */
export function lanOptions(env: NodeJS.ProcessEnv = process.env): LanOptions {
  const port = Number(env.COFFER_LAN_PORT)
  return {
    address: LAN_ADDRESS,
    port: Number.isInteger(port) && port > 0 && port < 65536 ? port : LAN_PORT,
    ...(env.COFFER_LAN_INTERFACE ? { interface: env.COFFER_LAN_INTERFACE } : {}),
  }
}

/** 48 bits of a key's hash, as both screens show them: 3F2A-91C0-77DE. */
export function fingerprint(key: string): string {
  const hex = createHash('sha256').update('coffer lan fingerprint\n').update(Buffer.from(key, 'hex')).digest('hex').slice(0, 12).toUpperCase()
  return `${hex.slice(0, 4)}-${hex.slice(4, 8)}-${hex.slice(8)}`
}


const OUT_OF_BAND = 'Invite with a code instead: on the invited box `coffer groups list` prints its key; the admin runs `coffer groups invite GROUP KEY --name NAME`, and the invited box joins with `coffer groups join CODE`.'

/** No interface that can multicast to the local network: the LAN invite cannot work here. */
export class LanUnavailable extends CofferError {
  constructor(why: string) {
    super(503, 'lan-unavailable', 'No local network', `This box cannot reach boxes nearby by multicast: ${why}. ${OUT_OF_BAND}`)
  }
}

const Hex64 = Type.String({ pattern: '^[0-9a-f]{64}$' })
const Ask = Type.Object({ v: Type.Literal(1), t: Type.Literal('ask'), key: Hex64, name: Type.Optional(MemberName) }, { additionalProperties: false })
const Offer = Type.Object({ v: Type.Literal(1), t: Type.Literal('invite'), to: Hex64, code: Type.String({ maxLength: MAX_DATAGRAM }) }, { additionalProperties: false })
const Got = Type.Object({ v: Type.Literal(1), t: Type.Literal('got'), from: Hex64, id: Hex64 }, { additionalProperties: false })
const Message = Type.Union([Ask, Offer, Got])
type Message = Static<typeof Message>
const checkMessage = TypeCompiler.Compile(Message)

export const NearbyView = Type.Object({
  fingerprint: Type.String({ description: 'Of its box key: its owner\'s screen shows the same' }),
  name: Type.Union([Type.String(), Type.Null()], { description: 'The name it asks to join as, as it says: compare the fingerprint, not the name' }),
  boxKey: Type.String(),
  heardAt: Type.String(),
})
export type NearbyView = Static<typeof NearbyView>

export const OfferView = Type.Object({
  id: Type.String({ description: 'The hash of the invite\'s code, which names it here' }),
  group: Type.String({ description: 'The group\'s key' }),
  groupName: Type.String(),
  role: Role,
  as: Type.String({ description: 'What the admin called this box' }),
  adminFingerprint: Type.String({ description: 'Of the inviting admin\'s key on the group\'s network: their screen shows the same' }),
  expiresAt: Type.String(),
  receivedAt: Type.String(),
})
export type OfferView = Static<typeof OfferView>

export const AskView = Type.Object({
  asking: Type.Boolean({ description: 'Announcing on the local network now' }),
  until: Type.Union([Type.String(), Type.Null()], { description: 'When it stops announcing' }),
  boxKey: Type.String(),
  fingerprint: Type.String({ description: 'Of this box\'s key: the admin\'s screen shows it beside the name' }),
  as: Type.Union([MemberName, Type.Null()], { description: 'The name this box asks to join as' }),
  offers: Type.Array(OfferView, { description: 'Invites sealed to this box that arrived and hold: join one with its id' }),
  refused: Type.Array(Type.Object({ at: Type.String(), reason: Type.String() }), { description: 'What arrived for this box, or malformed, and changed nothing' }),
})
export type AskView = Static<typeof AskView>

interface Heard { key: string; name: string | null; heardAt: number }
interface Held { id: string; code: string; invite: GroupInvite; receivedAt: number }

/** The multicast socket: opened when first needed, on the chosen interface; every datagram checked before anyone hears it. */
class LanSocket {
  readonly #options: LanOptions
  readonly #receive: (message: Message) => void
  readonly #refuse: (reason: string) => void
  #socket: dgram.Socket | undefined
  #opening: Promise<dgram.Socket> | undefined

  constructor(options: LanOptions, receive: (message: Message) => void, refuse: (reason: string) => void) {
    this.#options = options
    this.#receive = receive
    this.#refuse = refuse
  }

  /** The IPv4 address of the interface to use, or why there is none. */
  #interface(): string {
    const wanted = this.#options.interface
    const all = Object.entries(os.networkInterfaces()).flatMap(([name, list]) => (list ?? []).map((a) => ({ name, ...a })))
    const ipv4 = all.filter((a) => a.family === 'IPv4')
    if (wanted) {
      const found = ipv4.find((a) => a.name === wanted || a.address === wanted)
      if (!found) throw new LanUnavailable(`it has no network interface "${wanted}" with an IPv4 address (COFFER_LAN_INTERFACE)`)
      return found.address
    }
    const found = ipv4.find((a) => !a.internal)
    if (!found) throw new LanUnavailable('it has no network interface but loopback')
    return found.address
  }

  async ready(): Promise<void> {
    if (this.#socket) return
    this.#opening ??= this.#open().finally(() => (this.#opening = undefined))
    this.#socket = await this.#opening
  }

  async #open(): Promise<dgram.Socket> {
    const address = this.#interface()
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true })
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject)
        socket.bind(this.#options.port, () => {
          socket.off('error', reject)
          resolve()
        })
      })
      socket.addMembership(this.#options.address, address)
      socket.setMulticastInterface(address)
      socket.setMulticastLoopback(true)
      socket.setMulticastTTL(1)
    } catch (err) {
      socket.close()
      throw new LanUnavailable(`multicast on ${address} failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
    }
    socket.on('error', () => {})
    socket.on('message', (data, from) => this.#datagram(data, from.address))
    return socket
  }

  #datagram(data: Buffer, from: string): void {
    if (data.length > MAX_DATAGRAM) return this.#refuse(`A datagram of ${data.length} bytes from ${from} was more than ${MAX_DATAGRAM}: ignored.`)
    let message: unknown
    try {
      message = JSON.parse(data.toString('utf8'))
    } catch {
      return this.#refuse(`A datagram from ${from} was not JSON: ignored.`)
    }
    if (!checkMessage.Check(message)) return this.#refuse(`A datagram from ${from} was no message this version of Coffer knows: ignored.`)
    this.#receive(message)
  }

  send(message: Message): void {
    this.#socket?.send(JSON.stringify(message), this.#options.port, this.#options.address)
  }

  async close(): Promise<void> {
    const socket = this.#socket ?? await this.#opening?.catch(() => undefined)
    this.#socket = undefined
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()))
  }
}

/**
 * Both ends of a LAN invite on one box: asking to join (announcing, and holding the invites
 * sealed to this box that arrive), and looking for boxes asking (listing them, and sending one
 * an invite). The socket is open while either goes on, and closes when neither does.
 */
export class LanInvites {
  readonly #box: KeyPair
  readonly #key: string
  readonly #socket: LanSocket
  readonly #logger: pino.Logger | undefined
  #askingUntil = 0
  #as: string | null = null
  #announcer: NodeJS.Timeout | undefined
  #offers = new Map<string, Held>()
  #spent = new Set<string>()
  #refused: { at: number; reason: string }[] = []
  #lookingUntil = 0
  #nearby = new Map<string, Heard>()
  /** Invites being sent, by id: each resolves when the invitee says it has it. */
  #sending = new Map<string, () => void>()
  #idle: NodeJS.Timeout | undefined

  constructor(deps: { box: KeyPair; options: LanOptions; logger?: pino.Logger }) {
    this.#box = deps.box
    this.#key = deps.box.publicKey.toString('hex')
    this.#logger = deps.logger
    this.#socket = new LanSocket(deps.options, (m) => this.#receive(m), (reason) => this.#note(reason))
  }

  /** Starts (or goes on) announcing this box as asking to join, for `seconds`. */
  async ask(input: { as?: string; seconds: number }): Promise<AskView> {
    await this.#socket.ready()
    this.#askingUntil = Date.now() + input.seconds * 1000
    this.#as = input.as ?? null
    this.#refused = []
    clearInterval(this.#announcer)
    this.#announce()
    this.#announcer = setInterval(() => this.#announce(), ANNOUNCE_MS)
    this.#announcer.unref()
    return this.asking()
  }

  asking(): AskView {
    const now = Date.now()
    for (const held of this.#offers.values()) {
      if (held.invite.expiresAt > now) continue
      this.#offers.delete(held.id)
      this.#note(`The invite to "${held.invite.name}" expired at ${new Date(held.invite.expiresAt).toISOString()}: ask the admin for a new one.`)
    }
    const asking = this.#askingUntil > now
    return {
      asking, until: asking ? new Date(this.#askingUntil).toISOString() : null,
      boxKey: this.#key, fingerprint: fingerprint(this.#key), as: this.#as,
      offers: [...this.#offers.values()].map(({ id, invite, receivedAt }) => ({
        id, group: invite.group, groupName: invite.name, role: invite.role, as: invite.as, adminFingerprint: fingerprint(invite.admin),
        expiresAt: new Date(invite.expiresAt).toISOString(), receivedAt: new Date(receivedAt).toISOString(),
      })),
      refused: this.#refused.map((r) => ({ at: new Date(r.at).toISOString(), reason: r.reason })),
    }
  }

  /** Stops announcing; invites that arrived stay until joined with or expired. */
  stopAsking(): AskView {
    this.#askingUntil = 0
    this.#stopAnnouncing()
    return this.asking()
  }

  /** The code of an invite that arrived, to join with. */
  offer(id: string): { code: string; as: string | null } {
    this.asking()
    const held = this.#offers.get(id)
    if (!held) {
      throw new NotFound(this.#spent.has(id)
        ? 'This box used that invite already: an invite lets a box in once. Ask the admin for a new one.'
        : 'No invite with that id arrived (or it expired): `coffer groups join --lan` lists those that did.')
    }
    return { code: held.code, as: this.#as }
  }

  /** An invite this box joined with: not offered again, and this box stops asking. */
  spend(id: string): void {
    this.#offers.delete(id)
    this.#spent.add(id)
    this.stopAsking()
  }

  /** The boxes heard asking to join lately; the first look starts listening, which goes on a while after the last. */
  async nearby(): Promise<NearbyView[]> {
    await this.#socket.ready()
    this.#lookingUntil = Date.now() + LOOKING_MS
    this.#whenIdle()
    const since = Date.now() - HEARD_WITHIN_MS
    return [...this.#nearby.values()].filter((h) => h.heardAt >= since).sort((a, b) => a.heardAt - b.heardAt).map((h) => ({
      fingerprint: fingerprint(h.key), name: h.name, boxKey: h.key, heardAt: new Date(h.heardAt).toISOString(),
    }))
  }

  /** A box heard asking lately, by the fingerprint its owner reads out; listened for a few announcements when not heard yet. */
  async find(typed: string): Promise<NearbyView> {
    const end = Date.now() + 3 * ANNOUNCE_MS
    let found: NearbyView | undefined
    while (!(found = (await this.nearby()).find((h) => sameFingerprint(typed, h.fingerprint))) && Date.now() < end) {
      await new Promise((resolve) => setTimeout(resolve, ANNOUNCE_MS / 4))
    }
    if (!found) throw new NotFound(`No box with the fingerprint ${typed} is asking to join nearby: its owner runs \`coffer groups join --lan\` (or asks on their Groups page), and their screen shows its fingerprint.`)
    return found
  }

  /** Sends an invite sealed to `to` until that box says it has it, a few times at most; whether it did. */
  async send(to: string, code: string): Promise<boolean> {
    await this.#socket.ready()
    const id = codeId(code)
    let arrived = false
    const got = new Promise<void>((resolve) => this.#sending.set(id, () => {
      arrived = true
      resolve()
    }))
    try {
      for (let i = 0; i < SENDS && !arrived; i++) {
        this.#socket.send({ v: 1, t: 'invite', to, code })
        await Promise.race([got, new Promise((resolve) => setTimeout(resolve, RESEND_MS))])
      }
    } finally {
      this.#sending.delete(id)
      this.#whenIdle()
    }
    return arrived
  }

  async close(): Promise<void> {
    this.#stopAnnouncing()
    clearTimeout(this.#idle)
    this.#askingUntil = 0
    this.#lookingUntil = 0
    await this.#socket.close()
  }

  #announce(): void {
    if (this.#askingUntil <= Date.now()) return this.#stopAnnouncing()
    this.#socket.send({ v: 1, t: 'ask', key: this.#key, ...(this.#as ? { name: this.#as } : {}) })
  }

  #stopAnnouncing(): void {
    clearInterval(this.#announcer)
    this.#announcer = undefined
    this.#whenIdle()
  }

  /** Closes the socket once nothing needs it: no asking, no looking, no invite on its way. */
  #whenIdle(): void {
    clearTimeout(this.#idle)
    const busyUntil = Math.max(this.#askingUntil, this.#lookingUntil)
    if (busyUntil > Date.now() || this.#sending.size > 0) {
      this.#idle = setTimeout(() => this.#whenIdle(), Math.max(busyUntil - Date.now(), RESEND_MS) + 100)
      this.#idle.unref()
    } else {
      void this.#socket.close()
    }
  }

  #receive(message: Message): void {
    if (message.t === 'ask') return this.#heard(message)
    if (message.t === 'got') return this.#sending.get(message.id)?.()
    if (message.to === this.#key) this.#arrived(message.code)
  }

  #heard(ask: Static<typeof Ask>): void {
    if (ask.key === this.#key || this.#lookingUntil <= Date.now()) return
    this.#nearby.delete(ask.key)
    this.#nearby.set(ask.key, { key: ask.key, name: ask.name ?? null, heardAt: Date.now() })
    if (this.#nearby.size > MAX_NEARBY) this.#nearby.delete(this.#nearby.keys().next().value!)
  }

  /** An invite said to be for this box: held if it opens with this box's key and holds; refused, and said why, if not. */
  #arrived(code: string): void {
    const id = codeId(code)
    if (this.#offers.has(id)) return this.#socket.send({ v: 1, t: 'got', from: this.#key, id })
    if (this.#spent.has(id)) return this.#note('An invite this box used already arrived again: ignored. An invite lets a box in once.')
    let invite: GroupInvite
    try {
      invite = openInvite(code, this.#box)
    } catch (err) {
      return this.#note(`An invite arrived and was refused: ${(err as Error).message}`)
    }
    this.#offers.set(id, { id, code, invite, receivedAt: Date.now() })
    if (this.#offers.size > MAX_OFFERS) this.#offers.delete(this.#offers.keys().next().value!)
    this.#socket.send({ v: 1, t: 'got', from: this.#key, id })
  }

  /** What arrived and changed nothing, kept while this box asks to join, for its owner to see. */
  #note(reason: string): void {
    this.#logger?.debug({ reason }, 'a LAN datagram was ignored')
    if (this.#askingUntil <= Date.now()) return
    this.#refused.push({ at: Date.now(), reason })
    if (this.#refused.length > MAX_REFUSED) this.#refused.shift()
  }
}

function codeId(code: string): string {
  return createHash('sha256').update(code.trim()).digest('hex')
}

/** Refuses an invite for the LAN that names nobody to join as. */
export function nameFor(box: NearbyView, name: string | undefined): string {
  const chosen = name ?? box.name
  if (!chosen) throw new InvalidInput(`The box ${box.fingerprint} asks to join under no name: give it one.`, { field: 'name' })
  return chosen
}
