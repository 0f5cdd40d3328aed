/**
 * The market's calls into the box's API, through the box's own client with the session's token,
 * as the rest of the cockpit calls it. The shapes are the box's: its market operations answer them.
 */
import { createClient } from '@coffer/box/client'
import type { SourceSummary, MarketInfo, MarketRule, PrivacyLevels, Mapping, MappingRow, QueryDetail } from '@coffer/box'
import type { MarketPaymentsView } from '../../../../box/src/market/index.ts'
import { currentSession, endSession } from '../../auth/session.ts'

export type { MarketInfo, MarketRule, PrivacyLevels, Mapping, MappingRow, MarketPaymentsView, QueryDetail }

const box = createClient({ baseUrl: '/api/v1', token: () => currentSession()?.token, onUnauthorized: endSession })
const id = encodeURIComponent

export const market = {
  markets: (signal?: AbortSignal) => box.request<MarketInfo[]>('GET', '/markets', { signal }),
  join: (url: string) => box.request<MarketInfo>('POST', '/markets', { json: { url } }),
  leave: (marketId: string) => box.request<{ left: string }>('DELETE', `/markets/${id(marketId)}`),
  sync: (marketId: string) => box.request<{ received: number }>('POST', `/markets/${id(marketId)}/sync`),

  queries: (q: { market?: string; limit?: number } = {}, signal?: AbortSignal) => box.request<QueryDetail[]>('GET', '/market/queries', { query: q, signal }),
  accept: (queryId: string) => box.request<QueryDetail>('POST', `/market/queries/${id(queryId)}/accept`),
  decline: (queryId: string) => box.request<QueryDetail>('POST', `/market/queries/${id(queryId)}/decline`),

  levels: (signal?: AbortSignal) => box.request<PrivacyLevels>('GET', '/market/levels', { signal }),
  setLevels: (levels: PrivacyLevels) => box.request<PrivacyLevels>('PUT', '/market/levels', { json: { levels } }),

  rules: (signal?: AbortSignal) => box.request<MarketRule[]>('GET', '/market/rules', { signal }),
  setRules: (rules: MarketRule[]) => box.request<MarketRule[]>('PUT', '/market/rules', { json: { rules } }),

  mapping: (marketId: string, signal?: AbortSignal) => box.request<MappingRow[]>('GET', `/markets/${id(marketId)}/mapping`, { signal }),
  setMapping: (mapping: Mapping) => box.request<Mapping>('PUT', '/market/mapping', { json: { mapping } }),

  sources: (signal?: AbortSignal) => box.request<SourceSummary[]>('GET', '/sources', { signal }),

  /** The owner's money at each market; `refresh` reads the accounts from the markets first. */
  payments: (refresh: boolean, signal?: AbortSignal) => box.request<MarketPaymentsView[]>('GET', '/market/payments', { query: refresh ? { refresh: 'true' } : {}, signal }),
  setPayoutAddress: (marketId: string, address: string) => box.request<MarketPaymentsView>('PUT', `/markets/${id(marketId)}/payout-address`, { json: { address } }),
}
