/**
 * The demo's data market, on the same machine: a leader and a helper market on embedded storage
 * in the demo home, a demo processor asking about daily steps, and the demo box joined to it
 * with Activity shared at medium privacy. The query waits for the owner, who accepts or declines
 * it in the cockpit or with `coffer market`. One box is fewer than any query's minimum (10), so
 * nothing is ever released here: the demo shows consent and answering, not a result.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { Box } from '../box.ts'

export interface DemoMarket {
  url: string
  close(): Promise<void>
}

const DAY = 86400

/** Starts the demo's two markets beside the box (ports `port` and `port + 1`) and joins the box to the leader. */
export async function startDemoMarket(box: Box, port: number, onProgress: (line: string) => void): Promise<DemoMarket> {
  const { createMarket } = await import('@coffer/market')
  const dir = path.join(box.home.dir, 'market')
  fs.mkdirSync(dir, { recursive: true })
  const secrets = readSecrets(path.join(dir, 'operators.json'))
  const firstStart = !fs.existsSync(path.join(dir, 'leader'))
  onProgress(`starting a demo market on ports ${port} and ${port + 1}${firstStart ? ' (its first start builds two embedded databases: 10–30 s)' : ''}`)
  const helper = createMarket({ dataDir: path.join(dir, 'helper'), port: port + 1, logLevel: 'warn', aggregation: { role: 'helper', leaderToken: secrets.token, verifyKey: secrets.verifyKey } })
  await helper.open()
  const helperUrl = await helper.listen()
  const leader = createMarket({
    dataDir: path.join(dir, 'leader'), port, logLevel: 'warn',
    aggregation: { role: 'leader', helper: { url: helperUrl, token: secrets.token }, verifyKey: secrets.verifyKey },
  })
  await leader.open()
  const url = await leader.listen()
  const close = async () => {
    await leader.close()
    await helper.close()
  }
  try {
    await postDemoQuery(url, path.join(dir, 'processor.json'), (processorId) =>
      leader.payments.deposit({ processorId, amount: 1_500_000, reference: `demo query ${new Date().toISOString().slice(0, 10)}` }))
    if (Object.keys(box.membership.levels).length === 0) box.membership.levels = { Activity: 'medium' }
    if (!box.membership.list().some((m) => m.url === url)) await box.membership.join(url)
    else await box.membership.sync(box.membership.list().find((m) => m.url === url)!.id)
  } catch (err) {
    await close()
    throw err
  }
  onProgress(`  a demo market at ${url} asks about your daily steps: see \`coffer market list\`, or the cockpit's Market page`)
  return { url, close }
}

/** The two operators' shared secrets, made once per demo home. */
function readSecrets(file: string): { token: string; verifyKey: string } {
  if (!fs.existsSync(file)) {
    const random = () => crypto.randomBytes(24).toString('base64url')
    fs.writeFileSync(file, JSON.stringify({ token: random(), verifyKey: random() }), { mode: 0o600 })
  }
  return JSON.parse(fs.readFileSync(file, 'utf8')) as { token: string; verifyKey: string }
}

/**
 * A demo processor (registered once) asks for the mean of each person's daily steps over the last
 * two weeks, unless it already has an open query. Posting escrows price × most participants, so
 * `fund` first pays that in (it all comes back when the query ends short of its minimum).
 */
async function postDemoQuery(url: string, file: string, fund: (processorId: string) => Promise<unknown>): Promise<void> {
  const api = async (method: string, route: string, body?: unknown, key?: string) => {
    const res = await fetch(`${url}/api/v1${route}`, {
      method, body: body === undefined ? undefined : JSON.stringify(body),
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(key ? { authorization: `Bearer ${key}` } : {}) },
    })
    const answer = await res.json() as Record<string, unknown>
    if (!res.ok) throw new Error(`The demo market refused ${method} ${route}: ${String(answer.detail ?? res.status)}`)
    return answer
  }
  if (!fs.existsSync(file)) {
    const { key } = await api('POST', '/processors', { name: 'Demo walking study', contact: 'study@example.org' })
    fs.writeFileSync(file, JSON.stringify({ key }), { mode: 0o600 })
  }
  const { key } = JSON.parse(fs.readFileSync(file, 'utf8')) as { key: string }
  const { queries } = await api('GET', '/queries?status=open', undefined, key) as { queries: unknown[] }
  if (queries.length > 0) return
  const today = Math.floor(Date.now() / 1000 / DAY) * DAY
  const date = (t: number) => new Date(t * 1000).toISOString().slice(0, 10)
  const me = await api('GET', '/processors/me', undefined, key) as { id: string }
  await fund(me.id)
  await api('POST', '/queries', {
    question: `SELECT AVG(MEAN(SUM(Activity.steps) PER 1d) DURING ${date(today - 14 * DAY)} .. ${date(today)})`,
    purpose: 'How much people walk on an ordinary day, for a public health study. Only the average over everyone who answers is kept.',
    price: { amount: 150, currency: 'sat' },
    deadline: new Date((today + 7 * DAY) * 1000).toISOString(),
    participants: { min: 10, max: 10_000 },
    bounds: { 'Activity.steps': { lo: 0, hi: 40_000 } },
    answer: 'statistics', retention: '1y',
  }, key)
}
