/**
 * App views are Vega-Lite specs with their data inline, drawn by the owner's browser. A spec
 * that loads a URL (data.url, an image mark's href, a link channel) would make that browser
 * fetch from, or send data to, a host nobody granted — an exit around the gateway — so a view
 * may name no URL at all.
 */
import { InvalidInput } from '../errors/index.ts'

const URL_KEYS = new Set(['url', 'href', 'loader', 'usermeta'])
const URL_VALUE = /^\s*(https?:|\/\/|data:|javascript:|file:|ftp:|ws:|wss:)/i
const MAX_DEPTH = 64

export function checkViewSpec(spec: unknown): void {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new InvalidInput('A view is a Vega-Lite spec: a JSON object with its data inline.')
  const schema = (spec as { $schema?: unknown }).$schema
  if (schema !== undefined && (typeof schema !== 'string' || !/^https:\/\/vega\.github\.io\/schema\/vega-lite\/v\d+(\.\d+)*\.json$/.test(schema))) {
    throw new InvalidInput('A view\'s $schema, if given, must be a Vega-Lite schema (https://vega.github.io/schema/vega-lite/v5.json).')
  }
  walk(spec, 'spec', 0)
}

function walk(value: unknown, where: string, depth: number): void {
  if (depth > MAX_DEPTH) throw new InvalidInput(`A view nests deeper than ${MAX_DEPTH} levels.`)
  if (typeof value === 'string') {
    if (URL_VALUE.test(value) && where !== 'spec.$schema') throw new InvalidInput(`A view may not name a URL (${where}): views draw only their own inline data.`)
    return
  }
  if (typeof value !== 'object' || value === null) return
  if (Array.isArray(value)) {
    value.forEach((item, i) => walk(item, `${where}[${i}]`, depth + 1))
    return
  }
  for (const [key, item] of Object.entries(value)) {
    if (URL_KEYS.has(key.toLowerCase())) throw new InvalidInput(`A view may not use "${key}" (${where}.${key}): views draw only their own inline data.`)
    walk(item, `${where}.${key}`, depth + 1)
  }
}
