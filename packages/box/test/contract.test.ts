/**
 * The OpenAPI document is the API's contract: every route in it says what it answers, and
 * what it says about tokens is what the box does — a route documented as needing a bearer
 * token refuses a request without one (401, before any other check), a route documented as
 * open answers without one.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { call, startBox, type Running } from './helpers.ts'

interface OpenApiOperation { security?: Record<string, string[]>[]; responses: Record<string, { content?: Record<string, { schema?: unknown }> }> }
type OpenApi = { security: Record<string, string[]>[]; paths: Record<string, Record<string, OpenApiOperation>> }

/** Streams of server-sent events: their answer is a stream, not a document. */
const STREAMS = ['/api/v1/sources/{source}/live', '/api/v1/imports/{id}/events']

let r: Running
let doc: OpenApi
before(async () => {
  r = await startBox()
  doc = (await call(r.url, 'GET', '/api/v1/openapi.json')).body
})
after(() => r.close())

function routes(): { path: string; method: string; op: OpenApiOperation }[] {
  return Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method: method.toUpperCase(), op })))
}

test('every route documents its successful answer', () => {
  const undocumented = routes()
    .filter(({ path }) => !STREAMS.includes(path))
    .filter(({ op }) => !Object.entries(op.responses ?? {}).some(([status, response]) => /^2/.test(status) && response.content && Object.values(response.content).some((c) => c.schema)))
    .map(({ method, path }) => `${method} ${path}`)
  assert.deepEqual(undocumented, [])
})

test('a route that needs a bearer token refuses a request without one; an open route answers', async () => {
  const wrong: string[] = []
  for (const { path, method, op } of routes()) {
    const security = op.security ?? doc.security
    const url = path.replace(/\{[^}]+\}/g, 'x')
    const res = await fetch(r.url + url, { method, ...(method === 'GET' || method === 'DELETE' ? {} : { body: '{}', headers: { 'content-type': 'application/json' } }) })
    await res.arrayBuffer()
    const needsBearer = security.some((s) => 'bearer' in s)
    const needsBasic = security.some((s) => 'basic' in s)
    if ((needsBearer || needsBasic) !== (res.status === 401)) wrong.push(`${method} ${path}: documented ${needsBearer ? 'bearer' : needsBasic ? 'basic' : 'open'}, answered ${res.status}`)
  }
  assert.deepEqual(wrong, [])
})
