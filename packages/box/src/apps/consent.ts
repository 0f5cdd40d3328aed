/**
 * What the owner is asked and what the owner decided. review() turns a manifest into the
 * questions a person can answer (what, at what detail, why, where it may go); decide() checks
 * the owner's answers only ever narrow what the manifest asked; covers() says whether an
 * update asks for nothing beyond an earlier consent, so it needs no new one.
 */
import { InvalidInput } from '../errors/index.ts'
import type { SourceMeta } from '../store/index.ts'
import { EXPORT_POLICIES, type ExportPolicy } from '../gateway/index.ts'
import { MANIFEST_DURATION, MAX_EXPORT_BYTES, describeDetail, durationSeconds, type Manifest, type SourceRequest } from './manifest.ts'
import { describeDuration } from '../duration/index.ts'

export interface SourceConsent {
  request: string
  sources: string[]
  ops: ('read' | 'observe')[]
  /** Finest detail, in seconds; 0 is raw points. */
  granularity: number
  /** How far back, in seconds; 0 is all time. */
  window: number
}

export interface Consent {
  sources: SourceConsent[]
  exports: Record<string, ExportPolicy>
}

/** What an app is told it holds: each granted request with its sources' record names and units. */
export interface GrantedSource extends SourceConsent {
  /** The record names and units each granted source holds. */
  series: Record<string, { name: string; unit: string | null }[]>
}

/** An app's answer to "what was I granted": its sources, its own sources (by the manifest's ids), and the owner's time zone. */
export interface Granted {
  sources: GrantedSource[]
  /** The app's own sources, by the manifest's ids. */
  own: string[]
  /** The owner's time zone: day buckets are this zone's days. */
  timeZone: string
}

/** The owner's answers; anything left out is granted as asked, with exports asked each time. */
export interface ConsentInput {
  sources?: Record<string, { refuse?: boolean; sources?: string[]; granularity?: string; window?: string }>
  exports?: Record<string, ExportPolicy>
}

export interface Review {
  app: { id: string; name: string; version: string; author: string; description: string; purposes: string[] }
  reads: {
    request: string; required: boolean; justification: string; ops: string[]
    granularity: number; detail: string; window: number; period: string
    matches: string[]; summary: string
  }[]
  exports: { id: string; url: string; host: string; purpose: string; sends: string; frequency: string; maxBytes: number; summary: string }[]
  views: { id: string; title: string }[]
  ownSources: string[]
  schedule: string
  /** The review as plain sentences, in the order a person reads them. */
  text: string[]
}

export function ownSourceId(app: string, source: string): string {
  return `app.${app}.${source}`
}

/**
 * Sources a request may be answered from: the one it names, or every source of its logical type —
 * never another app's, nor one `closed` to apps (a group's copy shared under apps=none), which would
 * have the whole grant refused for its sake.
 */
export function candidates(request: SourceRequest, sources: SourceMeta[], closed: (source: string) => boolean = () => false): string[] {
  if (request.source) return sources.some((s) => s.id === request.source) ? [request.source] : []
  return sources
    .filter((s) => !s.id.startsWith('app.') && !closed(s.id) && (s.logicalType === request.logicalType || s.attributes.some((a) => a.logicalType === request.logicalType)))
    .map((s) => s.id)
}

function period(window: number): string {
  return window === 0 ? 'all of its history' : `the last ${describeDuration(window)}`
}

export function review(manifest: Manifest, sources: SourceMeta[], closed?: (source: string) => boolean): Review {
  const reads = manifest.sources.map((request) => {
    const granularity = durationSeconds(request.granularity)
    const window = durationSeconds(request.window)
    const matches = candidates(request, sources, closed)
    const what = request.source ? `"${request.source}"` : `your ${request.logicalType} data`
    const how = request.ops.includes('observe') ? (request.ops.includes('read') ? 'read and watch' : 'watch') : 'read'
    return {
      request: request.id, required: request.required, justification: request.justification, ops: request.ops,
      granularity, detail: describeDetail(granularity), window, period: period(window), matches,
      summary: `${request.required ? 'Needs' : 'Would like'} to ${how} ${what} as ${describeDetail(granularity)}, from ${period(window)}` +
        ` (${matches.length === 0 ? 'you have no such source yet' : `from ${matches.join(', ')}`}). Why: ${request.justification}`,
    }
  })
  const exports = (manifest.exports ?? []).map((e) => ({
    id: e.id, url: e.url, host: new URL(e.url).host, purpose: e.purpose, sends: e.sends, frequency: e.frequency, maxBytes: e.maxBytes ?? MAX_EXPORT_BYTES,
    summary: `May send ${e.sends} to ${new URL(e.url).host} (${e.url}), ${e.frequency === 'on-demand' ? 'when it runs' : e.frequency}. Why: ${e.purpose}`,
  }))
  const schedule = 'every' in manifest.schedule ? `every ${describeDuration(durationSeconds(manifest.schedule.every))}`
    : 'onNewData' in manifest.schedule ? `whenever new data arrives in ${manifest.schedule.onNewData.join(', ')}` : 'only when you run it'
  const views = (manifest.views ?? []).map((v) => ({ id: v.id, title: v.title }))
  const ownSources = (manifest.ownSources ?? []).map((s) => ownSourceId(manifest.id, s.id))
  const text = [
    `${manifest.name} ${manifest.version}, by ${manifest.author}.`,
    manifest.description,
    `It is for: ${manifest.purposes.join('; ')}.`,
    ...(reads.length ? reads.map((r) => r.summary) : ['It reads none of your data.']),
    ...(exports.length ? exports.map((e) => e.summary) : ['It can send nothing out of the box.']),
    ...(views.length ? [`It shows you: ${views.map((v) => v.title).join(', ')}.`] : []),
    ...(ownSources.length ? [`It keeps its own results in ${ownSources.join(', ')}.`] : []),
    `It runs ${schedule}.`,
  ]
  return { app: { id: manifest.id, name: manifest.name, version: manifest.version, author: manifest.author, description: manifest.description, purposes: manifest.purposes }, reads, exports, views, ownSources, schedule, text }
}

/** The owner's answers as a consent, refusing any answer that would widen what the manifest asked. */
export function decide(manifest: Manifest, sources: SourceMeta[], input: ConsentInput = {}, closed?: (source: string) => boolean): Consent {
  const answers = input.sources ?? {}
  for (const id of Object.keys(answers)) {
    if (!manifest.sources.some((s) => s.id === id)) throw new InvalidInput(`The app asks for no source "${id}"; it asks for ${manifest.sources.map((s) => s.id).join(', ') || 'none'}.`, { field: `sources.${id}` })
  }
  const consent: Consent = { sources: [], exports: {} }
  for (const request of manifest.sources) {
    const answer = answers[request.id] ?? {}
    if (answer.refuse) {
      if (request.required) throw new InvalidInput(`"${request.id}" is required by ${manifest.name}: grant it (narrowed if you like) or do not install the app.`, { field: `sources.${request.id}` })
      continue
    }
    const allowed = candidates(request, sources, closed)
    const chosen = answer.sources ?? allowed
    for (const source of chosen) {
      if (!allowed.includes(source)) throw new InvalidInput(`"${source}" is not a source ${manifest.name} asked for under "${request.id}" (it may have ${allowed.join(', ') || 'none'}).`, { field: `sources.${request.id}` })
    }
    const asked = { granularity: durationSeconds(request.granularity), window: durationSeconds(request.window) }
    const granularity = answer.granularity === undefined ? asked.granularity : durationSeconds(checkDuration(answer.granularity, request.id, 'granularity'))
    const window = answer.window === undefined ? asked.window : durationSeconds(checkDuration(answer.window, request.id, 'window'))
    if (granularity < asked.granularity) throw new InvalidInput(`"${request.id}": ${describeDetail(granularity)} is finer than the app asked for (${describeDetail(asked.granularity)}); a grant can only be coarser.`, { field: `sources.${request.id}.granularity` })
    if (asked.window !== 0 && (window === 0 || window > asked.window)) throw new InvalidInput(`"${request.id}": ${period(window)} is longer than the app asked for (${period(asked.window)}); a grant can only be shorter.`, { field: `sources.${request.id}.window` })
    consent.sources.push({ request: request.id, sources: [...new Set(chosen)], ops: [...request.ops], granularity, window })
  }
  const policies = input.exports ?? {}
  for (const [id, policy] of Object.entries(policies)) {
    if (!manifest.exports?.some((e) => e.id === id)) throw new InvalidInput(`The app declares no export "${id}".`, { field: `exports.${id}` })
    if (!EXPORT_POLICIES.includes(policy)) throw new InvalidInput(`Export "${id}": the policy must be one of ${EXPORT_POLICIES.join(', ')}.`, { field: `exports.${id}` })
  }
  for (const e of manifest.exports ?? []) consent.exports[e.id] = policies[e.id] ?? 'ask'
  return consent
}

function checkDuration(text: string, request: string, field: string): string {
  if (field === 'granularity' && text === 'raw') return text
  if (field === 'window' && text === 'all') return text
  if (!new RegExp(MANIFEST_DURATION).test(text)) throw new InvalidInput(`"${request}": ${field} "${text}" is not a duration like 1h, 1d or 30d.`, { field: `sources.${request}.${field}` })
  return text
}

/**
 * The consent an update inherits, or null when the update asks for more than the owner
 * agreed to — another source, finer detail, a longer window, a new operation or destination.
 */
export function carryOver(previous: Manifest, consent: Consent, next: Manifest): Consent | null {
  const sources: SourceConsent[] = []
  for (const request of next.sources) {
    const before = previous.sources.find((s) => s.id === request.id)
    if (!before || before.source !== request.source || before.logicalType !== request.logicalType) return null
    if (!request.ops.every((op) => before.ops.includes(op))) return null
    if (durationSeconds(request.granularity) < durationSeconds(before.granularity)) return null
    const window = durationSeconds(request.window)
    const beforeWindow = durationSeconds(before.window)
    if (beforeWindow !== 0 && (window === 0 || window > beforeWindow)) return null
    const granted = consent.sources.find((s) => s.request === request.id)
    if (!granted) {
      if (request.required) return null
      continue
    }
    sources.push({
      ...granted,
      ops: granted.ops.filter((op) => request.ops.includes(op)),
      granularity: Math.max(granted.granularity, durationSeconds(request.granularity)),
      window: window === 0 ? granted.window : granted.window === 0 ? window : Math.min(granted.window, window),
    })
  }
  const exports: Record<string, ExportPolicy> = {}
  for (const destination of next.exports ?? []) {
    const before = previous.exports?.find((e) => e.id === destination.id)
    if (!before || before.url !== destination.url || (destination.maxBytes ?? MAX_EXPORT_BYTES) > (before.maxBytes ?? MAX_EXPORT_BYTES)) return null
    if (FREQUENCY_ORDER.indexOf(destination.frequency) > FREQUENCY_ORDER.indexOf(before.frequency)) return null
    exports[destination.id] = consent.exports[destination.id] ?? 'ask'
  }
  return { sources, exports }
}

/** Rarest first: an update may send less often, never more. */
const FREQUENCY_ORDER = ['monthly', 'weekly', 'daily', 'hourly', 'on-demand']
