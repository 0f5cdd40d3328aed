/**
 * The consent rules a member shares a source with its group under, and what they refuse. The
 * rules are the sharer's word, in the group's signed log; each member's box holds them beside its
 * copy of the source and checks them when it grants the copy and at every read (see shares.ts).
 */
import { createHash } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import { LOGICAL_TYPES, TECHNICAL_TYPES } from '../store/index.ts'
import { durationCell } from '../duration/index.ts'
import type { Op } from '../arbiter/index.ts'

/** A shared source keeps its id on members' boxes behind a prefix naming the group and the sharer: 63 characters in all. */
export const SharedSourceId = Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,47}$', description: 'The source\'s id on the sharer\'s box (at most 48 characters)' })

export const APP_RULES = ['none', 'aggregates', 'raw'] as const

export const ShareRules = Type.Object({
  apps: Type.Union(APP_RULES.map((r) => Type.Literal(r)), { description: 'What members\' apps may be granted: nothing, aggregates only, or raw points too' }),
  finest: Type.Integer({ minimum: 60, maximum: 10 * 366 * 86400, description: 'With apps "aggregates": the finest bucket an app may read, in seconds' }),
  gateway: Type.Boolean({ description: 'Whether an app that reads it may send anything out of a member\'s box through the gateway' }),
  market: Type.Boolean({ description: 'Whether a member\'s box may use it in answers to a data market' }),
}, { additionalProperties: false })
export type ShareRules = Static<typeof ShareRules>

/** What a source is shared under unless its sharer says otherwise: apps see hourly aggregates, and nothing leaves a member's box. */
export const DEFAULT_RULES: ShareRules = { apps: 'aggregates', finest: 3600, gateway: false, market: false }

const Attribute = Type.Object({
  name: Type.String({ maxLength: 256 }),
  technicalType: Type.Union(TECHNICAL_TYPES.map((t) => Type.Literal(t))),
  logicalType: Type.Optional(Type.Union(LOGICAL_TYPES.map((t) => Type.Literal(t)))),
  unit: Type.Optional(Type.String({ maxLength: 64 })),
  description: Type.Optional(Type.String({ maxLength: 1024 })),
}, { additionalProperties: false })

/** What a shared source is, as the sharer's box describes it: members' copies are made with it. */
export const ShareMeta = Type.Object({
  description: Type.String({ maxLength: 1024 }),
  logicalType: Type.Union(LOGICAL_TYPES.map((t) => Type.Literal(t))),
  attributes: Type.Array(Attribute, { maxItems: 256 }),
}, { additionalProperties: false })
export type ShareMeta = Static<typeof ShareMeta>

/** A source a member shares, as the group's view holds it. */
export interface SharedSource {
  source: string
  /** The sharer's box key, and its name in the group when it last changed the share. */
  box: string
  name: string
  meta: ShareMeta
  rules: ShareRules
  /** The cores its records went in, one per epoch it was shared in, oldest first. */
  cores: { core: string; epoch: number }[]
  since: number
  changed: number
  stopped: number | null
}

export const sharedKey = (box: string, source: string): string => `s/${box}/${source}`
export const SHARED = { gte: 's/', lt: 's0' }

/** The id a shared source has on members' boxes: one per group and sharer, so two members' "energy" do not meet. */
export function heldSourceId(group: string, box: string, source: string): string {
  return `group.${createHash('sha256').update(`${group}\n${box}`).digest('hex').slice(0, 8)}.${source}`
}

/** A copy of a shared source, as a member's box holds it, with the rules it is held under. */
export interface Held {
  id: string
  group: string
  groupName: string
  sharer: string
  rules: ShareRules
  /** Whether the group still shares it: while it does, the copy is kept. */
  active: boolean
}

/**
 * Why the rules a copy is held under refuse `op` by `subject` at that detail (0: raw points), or
 * undefined when they allow it. The owner reads the copy as it is; nobody writes to it.
 */
export function refusal(held: Held, subject: string, op: Op, granularity: number | undefined): string | undefined {
  const where = `"${held.id}" is held by the group "${held.groupName}", shared by ${held.sharer}`
  if (op === 'write' || op === 'delete') return `${where}: it is read-only on this box; its records come from ${held.sharer}'s box only.`
  if (op === 'admin') return held.active ? `${where}: your copy is kept while it is shared; once ${held.sharer} stops sharing it, or you leave the group, you may delete it.` : undefined
  if (subject.startsWith('market:') && !held.rules.market) return `${where}, under the rule market=no: it may not be used in answers to a data market.`
  if (!subject.startsWith('app:')) return undefined
  if (held.rules.apps === 'none') return `${where}, under the rule apps=none: no app on a member's box may be granted it.`
  if (held.rules.apps === 'aggregates' && (granularity ?? 0) < held.rules.finest) {
    const asked = !granularity ? 'raw points were' : `${durationCell(granularity)} buckets were`
    return `${where}, under the rule apps=aggregates: apps may read ${durationCell(held.rules.finest)} buckets or coarser; ${asked} asked for.`
  }
  return undefined
}

/** Why an app that can read these copies may send nothing out through the gateway, or undefined. */
export function egressRefusal(held: Held[]): string | undefined {
  const kept = held.find((h) => !h.rules.gateway)
  if (!kept) return undefined
  return `This app can read "${kept.id}", which the group "${kept.groupName}" shares (from ${kept.sharer}) under the rule gateway=no: an app that reads it sends nothing out of this box.`
}
