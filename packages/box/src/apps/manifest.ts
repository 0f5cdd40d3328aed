/**
 * The app manifest, version 1: what an app is, what it asks to read and why, where it may
 * send data, what it shows, and when it runs. The TypeBox schema below is the JSON Schema
 * (served at /api/v1/apps/manifest-schema); check() adds what a schema cannot say: unique
 * ids, exact destination URLs, and at least one way of naming each requested source.
 */
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { InvalidInput } from '../errors/index.ts'
import { LOGICAL_TYPES, SOURCE_ID, TECHNICAL_TYPES } from '../store/index.ts'
import { DAY, HOUR, WEEK, describeDuration, durationPattern, parseDuration } from '../duration/index.ts'

export const MANIFEST_VERSION = 1
export const MAX_EXPORT_BYTES = 1024 * 1024

const Id = Type.String({ pattern: '^[a-z][a-z0-9-]{0,26}[a-z0-9]$', description: 'Lower-case letters, digits and dashes' })
/**
 * Characters that would make text read differently from what it is: C0 and C1 controls,
 * direction overrides and isolates, zero-width and other invisible format characters. None may
 * appear in any manifest string, since the owner reads the manifest to decide.
 */
const HIDDEN = '\\u0000-\\u0009\\u000b-\\u001f\\u007f-\\u009f\\u00ad\\u034f\\u061c\\u115f\\u1160\\u17b4\\u17b5\\u180b-\\u180f\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff0-\\ufffb'
/** Free text shown to the owner: printable, single-line unless said otherwise, bounded. */
const Line = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: `^[^${HIDDEN}\\n]*$` })
const Paragraph = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: `^[^${HIDDEN}]*$` })
/** Apps ask for nothing finer than minutes. */
export const MANIFEST_DURATION = durationPattern(['m', 'h', 'd', 'w', 'mo', 'y'], 5)
const Duration = Type.String({ pattern: MANIFEST_DURATION, description: 'A number and a unit: m, h, d, w, mo (calendar months) or y (calendar years): 30d, 1w, 1mo' })
const Logical = Type.Union(LOGICAL_TYPES.map((t) => Type.Literal(t)))

export const SourceRequest = Type.Object({
  id: Id,
  source: Type.Optional(Type.String({ pattern: SOURCE_ID.source, description: 'One source, by id' })),
  logicalType: Type.Optional(Logical),
  ops: Type.Array(Type.Union([Type.Literal('read'), Type.Literal('observe')]), { minItems: 1, uniqueItems: true }),
  granularity: Type.Union([Type.Literal('raw'), Duration], { description: 'raw, or the smallest bucket the app needs (1h, 1d)' }),
  window: Type.Union([Type.Literal('all'), Duration], { description: 'How far back the app may read' }),
  required: Type.Boolean(),
  justification: Paragraph(600),
}, { additionalProperties: false })

export const OwnSource = Type.Object({
  id: Id,
  description: Line(200),
  logicalType: Type.Optional(Logical),
  attributes: Type.Optional(Type.Array(Type.Object({
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9:./_-]{0,63}$' }),
    technicalType: Type.Union(TECHNICAL_TYPES.map((t) => Type.Literal(t))),
    unit: Type.Optional(Line(32)),
  }, { additionalProperties: false }), { maxItems: 32 })),
}, { additionalProperties: false })

export const ExportDestination = Type.Object({
  id: Id,
  url: Type.String({ maxLength: 500, description: 'The exact URL data is POSTed to' }),
  purpose: Paragraph(600),
  sends: Paragraph(600),
  frequency: Type.Union([Type.Literal('on-demand'), Type.Literal('hourly'), Type.Literal('daily'), Type.Literal('weekly'), Type.Literal('monthly')]),
  maxBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_EXPORT_BYTES })),
}, { additionalProperties: false })

export const AppView = Type.Object({ id: Id, title: Line(100), description: Type.Optional(Paragraph(600)) }, { additionalProperties: false })

export const Schedule = Type.Union([
  Type.Object({ on: Type.Literal('demand') }, { additionalProperties: false }),
  Type.Object({ every: Duration }, { additionalProperties: false }),
  Type.Object({ onNewData: Type.Array(Id, { minItems: 1 }) }, { additionalProperties: false }),
])

export const Manifest = Type.Object({
  manifestVersion: Type.Literal(MANIFEST_VERSION),
  id: Id,
  name: Line(80),
  version: Type.String({ pattern: '^\\d{1,6}\\.\\d{1,6}\\.\\d{1,6}$', description: 'major.minor.patch' }),
  author: Line(120),
  description: Paragraph(2000),
  purposes: Type.Array(Line(200), { minItems: 1, maxItems: 10 }),
  main: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}\\.js$', description: 'The bundled script, beside the manifest' }),
  sources: Type.Array(SourceRequest, { maxItems: 32 }),
  ownSources: Type.Optional(Type.Array(OwnSource, { maxItems: 16 })),
  exports: Type.Optional(Type.Array(ExportDestination, { maxItems: 16 })),
  views: Type.Optional(Type.Array(AppView, { maxItems: 16 })),
  schedule: Schedule,
}, { additionalProperties: false, $id: 'https://coffer.example/schemas/app-manifest-v1.json', title: 'Coffer app manifest' })

export type Manifest = Static<typeof Manifest>
export type SourceRequest = Static<typeof SourceRequest>
export type ExportDestination = Static<typeof ExportDestination>

/** Validates an untrusted manifest; the error names the field at fault. */
export function parseManifest(input: unknown): Manifest {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InvalidInput('The manifest must be a JSON object.')
  refuseHidden(input, 'manifest')
  const first = Value.Errors(Manifest, input).First()
  if (first) {
    const field = first.path.replace(/^\//, '').replaceAll('/', '.') || 'manifest'
    throw new InvalidInput(`manifest ${field}: ${first.message}. The manifest format is described by GET /api/v1/apps/manifest-schema.`, { field })
  }
  const manifest = input as Manifest
  unique('sources', manifest.sources.map((s) => s.id))
  unique('ownSources', (manifest.ownSources ?? []).map((s) => s.id))
  unique('exports', (manifest.exports ?? []).map((e) => e.id))
  unique('views', (manifest.views ?? []).map((v) => v.id))
  for (const [i, request] of manifest.sources.entries()) {
    if (!request.source && !request.logicalType) throw new InvalidInput(`manifest sources.${i}: name a source or a logicalType.`, { field: `sources.${i}` })
  }
  for (const [i, destination] of (manifest.exports ?? []).entries()) checkDestination(destination.url, `exports.${i}.url`)
  if ('onNewData' in manifest.schedule) {
    for (const id of manifest.schedule.onNewData) {
      const request = manifest.sources.find((s) => s.id === id)
      if (!request) throw new InvalidInput(`manifest schedule.onNewData: "${id}" is not one of the app's source requests.`, { field: 'schedule' })
      // Being woken by new data tells the app when data arrives: that is what `observe` grants.
      if (!request.ops.includes('observe')) throw new InvalidInput(`manifest schedule.onNewData: "${id}" must ask for the observe operation to be woken by new data.`, { field: 'schedule' })
    }
  }
  return manifest
}

/** Refuses the first hidden character in any string of the manifest, keys included, naming its code point and place. */
function refuseHidden(value: unknown, path: string): void {
  if (typeof value === 'string') return refuseHiddenIn(value, path)
  if (typeof value !== 'object' || value === null) return
  for (const [key, inner] of Object.entries(value)) {
    refuseHiddenIn(key, path)
    refuseHidden(inner, `${path}.${key}`)
  }
}

/** The HIDDEN ranges as code points; a line break is fine in paragraphs (the schema refuses it in single lines). */
const HIDDEN_RANGES = [...HIDDEN.matchAll(/\\u(\w{4})(?:-\\u(\w{4}))?/g)].map(([, a, b]) => [parseInt(a!, 16), parseInt(b ?? a!, 16)] as const)

function refuseHiddenIn(text: string, path: string): void {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (!HIDDEN_RANGES.some(([low, high]) => code >= low && code <= high)) continue
    const field = path.replace(/^manifest\.?/, '') || 'manifest'
    const name = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`
    throw new InvalidInput(`manifest ${field}: holds an invisible or direction-changing character (${name}) at position ${i}; it would make the text read differently from what it is. Remove it.`, { field })
  }
}

function unique(list: string, ids: string[]): void {
  const seen = new Set<string>()
  for (const id of ids) {
    if (seen.has(id)) throw new InvalidInput(`manifest ${list}: the id "${id}" appears twice.`, { field: list })
    seen.add(id)
  }
}

/**
 * A destination is matched by exact string, so it must already be in the one form a URL
 * parser gives it: a look-alike (mixed case, Unicode host, dot segments, user info, a
 * fragment) would otherwise read as one place to the owner and be another on the wire.
 */
export function checkDestination(url: string, field: string): void {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new InvalidInput(`manifest ${field}: "${url}" is not a URL.`, { field })
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new InvalidInput(`manifest ${field}: only http and https destinations are allowed.`, { field })
  if (parsed.username || parsed.password) throw new InvalidInput(`manifest ${field}: a destination may not carry a user name or password.`, { field })
  if (parsed.hash) throw new InvalidInput(`manifest ${field}: a destination may not carry a #fragment.`, { field })
  if (parsed.href !== url) throw new InvalidInput(`manifest ${field}: write the destination in its canonical form, "${parsed.href}".`, { field })
}

/** Seconds in a manifest duration; `raw` and `all` are 0. */
export function durationSeconds(text: string): number {
  if (text === 'raw' || text === 'all') return 0
  return parseDuration(text)
}

/** Plain words for a detail level: what the owner is agreeing to show. */
export function describeDetail(granularity: number): string {
  if (granularity === 0) return 'every individual reading'
  if (granularity === DAY) return 'daily totals and averages'
  if (granularity === HOUR) return 'hourly totals and averages'
  if (granularity === WEEK) return 'weekly totals and averages'
  return `totals and averages per ${describeDuration(granularity)}`
}
