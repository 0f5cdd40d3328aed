/** `coffer market …`: join data markets, read their queries in plain words, decide them, and set privacy levels, rules and where attributes are found. */
import fs from 'node:fs'
import type { Command } from 'commander'
import { InvalidInput } from '../errors/index.ts'
import type { MarketInfo, MarketRule, PrivacyLevels, Mapping, MappingRow, MarketPaymentsView, QueryDetail } from '../market/index.ts'
import type { Client } from './connect.ts'
import { isoTime, json, out, table } from './format.ts'


const LEVELS = ['low', 'medium', 'high', 'dont_share']

export function marketCommands(program: Command, client: () => Client): void {
  const market = program.command('market').description('data markets: researchers ask many boxes aggregate questions; you decide what your box answers')
  const query = (id: string, rest = '') => `/market/queries/${encodeURIComponent(id)}${rest}`

  market.command('join <url>').description('join the market at URL: the box reads its queries; nothing is answered without your consent or your rules')
    .action(async (url: string) => {
      const joined = await client().request<MarketInfo>('POST', '/markets', { body: { url } })
      const waiting = await client().request<QueryDetail[]>('GET', '/market/queries', { query: { market: joined.id } })
      out(`Joined ${joined.url} as ${joined.id}; ${waiting.length} ${waiting.length === 1 ? 'query' : 'queries'} read. See them with \`coffer market list\`.`)
    })

  market.command('leave <market>').description('leave a market and forget its queries').action(async (id: string) => {
    await client().request('DELETE', `/markets/${encodeURIComponent(id)}`)
    out(`Left ${id}.`)
  })

  market.command('sync [market]').description('read the queries published since the last read (all markets when none is named), answer those accepted, and read your account at each')
    .action(async (id?: string) => {
      const markets = id ? [{ id }] : await client().request<MarketInfo[]>('GET', '/markets')
      for (const m of markets) {
        const { received } = await client().request<{ received: number }>('POST', `/markets/${encodeURIComponent(m.id)}/sync`)
        out(`${m.id}: ${received} new ${received === 1 ? 'query' : 'queries'}`)
      }
    })

  market.command('list').description('the markets you joined, your balance and payouts at each, and their queries with what became of each and what it earned')
    .option('--state <state>', 'only queries in this state: waiting, accepted, declined, cannot, answered, closed')
    .option('--json', 'machine-readable output')
    .action(async (o: { state?: string; json?: boolean }) => {
      const markets = await client().request<MarketInfo[]>('GET', '/markets')
      const queries = await client().request<QueryDetail[]>('GET', '/market/queries', { query: o.state ? { state: o.state } : {} })
      // As last read: the box reads each account with every read of the markets (`coffer market sync`, or every five minutes).
      const payments = await client().request<MarketPaymentsView[]>('GET', '/market/payments')
      if (o.json) return json({ markets, queries, payments })
      if (markets.length === 0) return out('You have joined no market; join one with `coffer market join URL`.')
      const money = new Map(payments.map((p) => [p.market, p]))
      out(table(markets.map((m) => {
        const p = money.get(m.id)
        return {
          market: m.id, url: m.url, read: m.syncedAt ? isoTime(m.syncedAt) : 'never', balance: p?.account ? sat(p.account.balance) : '-',
          'paid to': p?.payoutAddress ? `${p.payoutAddress.address}${p.payoutAddress.delivered ? '' : ' (not sent)'}` : '-', problem: m.lastError ?? p?.lastError ?? null,
        }
      }), ['market', 'url', 'read', 'balance', 'paid to', 'problem']))
      const payouts = payments.flatMap((p) => (p.account?.payouts ?? []).map((x) => ({ ...x, market: p.market })))
      if (payouts.length > 0) {
        out('')
        out(table(payouts.map((x) => ({ market: x.market, payout: x.txid, state: x.state, sent: sat(x.sent), fee: sat(x.fee), made: x.createdAt.slice(0, 16).replace('T', ' ') })), ['market', 'payout', 'state', 'sent', 'fee', 'made']))
      }
      out('')
      out(queries.length === 0 ? 'No queries.' : table(queries.map((q) => ({
        id: q.id, state: q.state, pays: sat(q.published.spec.price.amount), earned: q.earned ? sat(q.earned.sat) : q.state === 'answered' ? 'not yet' : '-',
        until: q.published.deadline.slice(0, 16).replace('T', ' '),
        asks: q.description.length > 70 ? `${q.description.slice(0, 69)}…` : q.description,
      })), ['id', 'state', 'pays', 'earned', 'until', 'asks']))
    })

  market.command('payout-address <market> <address>').description('where the market pays you: a Bitcoin address on its network; the box signs it and sends it through the gateway')
    .action(async (id: string, address: string) => {
      const p = await client().request<MarketPaymentsView>('PUT', `/markets/${encodeURIComponent(id)}/payout-address`, { body: { address } })
      out(`${id} pays you at ${p.payoutAddress!.address}.${p.account ? ` Your balance there is ${sat(p.account.balance)}; it is paid out once it reaches ${sat(p.account.threshold)}.` : ''}`)
    })

  market.command('show <query>').description('one query: who asks, why, what would leave, how it is protected, what it pays')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: { json?: boolean }) => {
      const q = await client().request<QueryDetail>('GET', query(id))
      if (o.json) return json(q)
      printQuery(q)
    })

  for (const [verb, done] of [['accept', 'Accepted'], ['decline', 'Declined']] as const) {
    market.command(`${verb} <query>`).description(verb === 'accept' ? 'consent to a query: the box answers it now, through the gateway' : 'decline a query: the box will not answer it')
      .action(async (id: string) => {
        const q = await client().request<QueryDetail>('POST', query(id, `/${verb}`))
        out(`${done} ${q.id}: it is ${q.state}${q.reason ? ` (${q.reason})` : ''}.`)
      })
  }

  market.command('levels [settings...]').description('show your privacy level per logical type, or set some: Activity=low Health=dont_share (low, medium, high, dont_share)')
    .action(async (settings: string[]) => {
      let levels: PrivacyLevels
      if (settings.length === 0) {
        levels = await client().request<PrivacyLevels>('GET', '/market/levels')
      } else {
        const set = Object.fromEntries(settings.map((s) => {
          const [type, level] = s.split('=')
          if (!type || !level || !LEVELS.includes(level)) throw new InvalidInput(`"${s}" is not TYPE=LEVEL; a level is one of ${LEVELS.join(', ')}.`)
          return [type, level]
        }))
        levels = await client().request<PrivacyLevels>('PUT', '/market/levels', { body: { levels: set } })
      }
      const rows = Object.entries(levels).map(([type, level]) => ({ type, level }))
      out(rows.length === 0 ? 'No levels set: the box shares nothing until you set one, e.g. `coffer market levels Activity=medium`.' : table(rows, ['type', 'level']))
    })

  market.command('rules [file]').description('show your rules, or replace them with a JSON list from FILE (or - for standard input); the first rule matching a new query accepts or declines it')
    .action(async (file?: string) => {
      let rules: MarketRule[]
      if (file === undefined) {
        rules = await client().request<MarketRule[]>('GET', '/market/rules')
      } else {
        let given: unknown
        try {
          given = JSON.parse(fs.readFileSync(file === '-' ? 0 : file, 'utf8'))
        } catch (err) {
          throw new InvalidInput(`${file === '-' ? 'Standard input' : file} is not JSON (${(err as Error).message}); give a list like [{"action":"accept","logicalTypes":["Activity"],"minPrice":100}].`)
        }
        rules = await client().request<MarketRule[]>('PUT', '/market/rules', { body: { rules: given } })
      }
      if (rules.length === 0) return out('No rules: every query the levels allow waits for you.')
      rules.forEach((rule, i) => out(`${i + 1}. ${describeRule(rule)}`))
    })

  market.command('budget').description('the privacy budget: ε spent this month per logical type, against its level\'s monthly allowance')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const rows = await client().request<{ logicalType: string; level: string; spent: string; limit: string | null; periodEnd: string }[]>('GET', '/market/budget')
      if (o.json) return json(rows)
      if (rows.length === 0) return out('No levels set, so nothing is shared and nothing spent.')
      out(table(rows.map((r) => ({ type: r.logicalType, level: r.level, spent: r.spent, allowed: r.limit ?? 'not shared', until: r.periodEnd.slice(0, 10) })), ['type', 'level', 'spent', 'allowed', 'until']))
    })

  market.command('map <market> [places...]').description('where the box finds each attribute of a market\'s vocabulary; set some with Activity.steps=SOURCE or =SOURCE:NAME, or Activity.steps= for the default')
    .option('--json', 'machine-readable output')
    .action(async (id: string, places: string[], o: { json?: boolean }) => {
      if (places.length > 0) {
        const mapping: Record<string, Mapping[string] | null> = Object.fromEntries(places.map((p) => {
          const match = /^([A-Za-z]\w*\.[A-Za-z]\w*)=(?:([^:]+)(?::(.+))?)?$/.exec(p)
          if (!match) throw new InvalidInput(`"${p}" is not ATTRIBUTE=SOURCE[:NAME], like Activity.steps=health:StepCount (or ATTRIBUTE= for the box's default).`)
          return [match[1]!, match[2] ? { source: match[2], ...(match[3] ? { name: match[3] } : {}) } : null]
        }))
        await client().request('PUT', '/market/mapping', { body: { mapping } })
      }
      const rows = await client().request<MappingRow[]>('GET', `/markets/${encodeURIComponent(id)}/mapping`)
      if (o.json) return json(rows)
      out(table(rows.map((r) => ({ attribute: r.attribute, type: r.unit ? `${r.technicalType} (${r.unit})` : r.technicalType, from: r.source ? `${r.source}${r.name ? `:${r.name}` : ''}` : '— (cannot answer)', by: r.by })), ['attribute', 'type', 'from', 'by']))
    })
}

function printQuery(q: QueryDetail): void {
  const { spec, processor } = q.published
  out(`${q.id} from ${processor.name}${processor.contact ? ` <${processor.contact}>` : ''}: ${q.state}${q.reason ? ` (${q.reason})` : ''}`)
  out(`  Asks: ${q.description}`)
  out(`  Why: ${spec.purpose}`)
  out(`  Pays: ${sat(spec.price.amount)} to each participant`)
  if (q.earned) out(`  Earned: ${sat(q.earned.sat)}, paid into your balance at ${q.market} on ${q.earned.at.slice(0, 10)}`)
  else if (q.state === 'answered') out(`  Earned: nothing yet; it is paid into your balance at ${q.market} once the market releases the result`)
  out(`  What leaves: ${spec.answer === 'dataset' ? 'your values, generalised as the query says, as one sealed record: the market can read it only if at least k boxes at your privacy level send the same (k is 5, 10 or 20 at low, medium, high); otherwise nothing of it is released' : 'your value, clipped to the declared bounds and split into two encrypted shares, one per aggregator; noise is added before anyone sees a total'}`)
  out(`  Needs ${spec.participants.min}–${spec.participants.max} participants; answers close ${q.published.deadline}; the processor keeps the result ${spec.retention}`)
  if (q.state === 'waiting') out(`  Decide with \`coffer market accept ${q.id}\` or \`coffer market decline ${q.id}\`.`)
}

function sat(amount: number): string {
  return `${amount.toLocaleString('en')} sat`
}

function describeRule(rule: MarketRule): string {
  const when = [
    rule.logicalTypes && `only ${rule.logicalTypes.join(', ')}`,
    rule.minPrice !== undefined && `paying at least ${rule.minPrice} sat`,
    rule.levels && `at level ${rule.levels.join(' or ')}`,
    rule.purposeIncludes && `purpose mentions "${rule.purposeIncludes}"`,
    rule.processors && `from ${rule.processors.join(', ')}`,
    rule.answers && `answers ${rule.answers.join(' or ')}`,
  ].filter(Boolean)
  return `${rule.action} ${when.length > 0 ? `queries asking ${when.join(', ')}` : 'every query'}`
}
