/** Simulated boxes for the answers tests and bench: each an Ed25519 identity that builds, signs and sends its Prio3 answer or sealed record. */
import assert from 'node:assert/strict'
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { makeReport, measurementFor } from '../src/aggregation/index.ts'
import { sharingParameters } from '../src/privacy/index.ts'
import { datasetRecord, type DatasetValue, type Generalisation } from '../src/star/index.ts'
import {
  ACCOUNT_SIGNATURE, ACCOUNT_SIGNED_AT, accountSigningText, answerSigningText, datasetAnswerSigningText, payoutAddressSigningText,
  type Answer, type DatasetAnswer, type DatasetRecord, type PayoutAddressBody, type PublishedQuery, type SharingLevel,
} from '../src/protocol/index.ts'
import { call, OPERATOR_TOKEN, type Running } from './helpers.ts'
import { createTempDatabase } from './postgres.ts'
import { createMarket, type AggregationConfig, type MarketConfig } from '../src/index.ts'

export interface Box {
  boxId: string
  privateKey: KeyObject
}

export function makeBox(): Box {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  return { boxId: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex'), privateKey }
}

/** The answer a box sends for its value (null: it does not match) at its level, signed as the protocol says. */
export async function answerOf(box: Box, query: PublishedQuery, level: SharingLevel, value: number | boolean | null): Promise<Answer> {
  const task = query.tasks![level]!
  const report = await makeReport(task, measurementFor(task, value))
  const unsigned = { queryId: query.id, boxId: box.boxId, privacyLevel: level, leader: Buffer.from(report.leader).toString('base64url'), helper: Buffer.from(report.helper).toString('base64url') }
  return { ...unsigned, signature: sign(null, Buffer.from(answerSigningText(unsigned), 'utf8'), box.privateKey).toString('base64url') }
}

/** A box's dataset answer: its values (null: it does not match) sealed for its class at its level, signed; `tamper` forges the record before signing. */
export function datasetAnswerOf(box: Box, query: PublishedQuery, level: SharingLevel, values: DatasetValue[] | null, tamper = (r: DatasetRecord) => r): DatasetAnswer {
  const columns = query.query.select as Generalisation[]
  const record = tamper(datasetRecord(query.id, columns, level, sharingParameters(level).k, values))
  const unsigned = { queryId: query.id, boxId: box.boxId, privacyLevel: level, record }
  return { ...unsigned, signature: sign(null, Buffer.from(datasetAnswerSigningText(unsigned), 'utf8'), box.privateKey).toString('base64url') }
}

export function sendAnswer(url: string, answer: Answer | DatasetAnswer) {
  return call(url, 'POST', `/api/v1/queries/${answer.queryId}/answers`, { body: answer })
}

export const VERIFY_KEY = 'a secret both operators agreed'
export const HELPER_TOKEN = 'leader-to-helper-token'

export type Storage = 'pglite' | 'postgres'

/** A helper market and a leader market on free ports, each with its own storage. */
export async function startPair(storage: Storage, leaderOverrides: Partial<Extract<AggregationConfig, { role: 'leader' }>> = {}, market: Pick<MarketConfig, 'payments'> = {}) {
  const drops: (() => Promise<void>)[] = []
  const where = async () => {
    if (storage === 'postgres') {
      const temp = await createTempDatabase()
      drops.push(temp.drop)
      return { database: temp.url }
    }
    return {}
  }
  const helper = createMarket({ ...(await where()), port: 0, logLevel: 'silent', aggregation: { role: 'helper', leaderToken: HELPER_TOKEN, verifyKey: VERIFY_KEY } })
  await helper.open()
  const helperUrl = await helper.listen()
  const leaderWhere = await where()
  const leader = createMarket({
    ...leaderWhere, ...market, port: 0, logLevel: 'silent', feedPollMs: 200, operatorToken: OPERATOR_TOKEN,
    aggregation: { role: 'leader', helper: { url: helperUrl, token: HELPER_TOKEN }, verifyKey: VERIFY_KEY, releasePollMs: 60_000, ...leaderOverrides },
  })
  await leader.open()
  const leaderUrl = await leader.listen()
  const running: Pick<Running, 'api'> & { url: string } = { url: leaderUrl, api: (method, route, opts) => call(leaderUrl, method, route, opts) }
  return {
    leader, helper, helperUrl, leaderUrl, leaderDatabase: leaderWhere.database, running,
    close: async () => {
      await leader.close()
      await helper.close()
      for (const drop of drops) await drop()
    },
  }
}

type Pair = Awaited<ReturnType<typeof startPair>>

/** Posts a query as the processor with `key` and reads it back from the feed, as boxes receive it. */
export async function postQuery(pair: Pair, key: string, body: Record<string, unknown>): Promise<PublishedQuery> {
  const posted = await pair.running.api('POST', '/api/v1/queries', { key, body })
  assert.equal(posted.status, 201, JSON.stringify(posted.body))
  const page = await pair.running.api('GET', `/api/v1/feed?since=${posted.body.seq - 1}&limit=1`)
  const published = page.body.queries[0] as PublishedQuery
  assert.equal(published.id, posted.body.id)
  return published
}

/** Closes a query as its processor, releases it, and reads the result. */
export async function closeAndRelease(pair: Pair, key: string, id: string) {
  assert.equal((await pair.running.api('POST', `/api/v1/queries/${id}/close`, { key })).status, 200)
  await pair.leader.releaseDue()
  const result = await pair.running.api('GET', `/api/v1/queries/${id}/result`, { key })
  assert.equal(result.status, 200, JSON.stringify(result.body))
  return result.body
}

/** A payout address as a box sends it: signed with its identity key. */
export function payoutAddressOf(box: Box, address: string, signedAt = new Date().toISOString()): PayoutAddressBody {
  const unsigned = { boxId: box.boxId, address, signedAt }
  return { ...unsigned, signature: sign(null, Buffer.from(payoutAddressSigningText(unsigned), 'utf8'), box.privateKey).toString('base64url') }
}

/** The headers a box signs to read its account. */
export function accountHeaders(box: Box, signedAt = new Date().toISOString()): Record<string, string> {
  return { [ACCOUNT_SIGNED_AT]: signedAt, [ACCOUNT_SIGNATURE]: sign(null, Buffer.from(accountSigningText(box.boxId, signedAt), 'utf8'), box.privateKey).toString('base64url') }
}
