import { useState, type FormEvent } from 'react'
import { formatTime } from '../../components/format.ts'
import { ConfirmDialog } from '../../components/ConfirmDialog.tsx'
import { ErrorNotice, StatusNotice } from '../../components/Notice.tsx'
import { useAction } from '../../components/useAction.ts'
import { useLoad } from '../../components/useLoad.ts'
import { useTitle } from '../../components/useTitle.ts'
import { market, type MarketInfo, type MarketPaymentsView } from './api.ts'
import { Payments } from './Payments.tsx'
import { LevelsEditor } from './LevelsEditor.tsx'
import { MappingTable } from './MappingTable.tsx'
import { QueryCard } from './QueryCard.tsx'
import { RulesEditor } from './RulesEditor.tsx'
import { waitingFirst } from './words.ts'

export default function MarketPage() {
  useTitle('Market')
  const markets = useLoad((signal) => market.markets(signal), [])
  const queries = useLoad((signal) => market.queries({ limit: 200 }, signal), [])
  const levels = useLoad((signal) => market.levels(signal), [])
  const rules = useLoad((signal) => market.rules(signal), [])
  const sources = useLoad((signal) => market.sources(signal), [])
  // Read from the markets each time, so the balance and payouts are the markets' own.
  const payments = useLoad((signal) => market.payments(true, signal), [])
  const joined = markets.data
  // Each joined market's vocabulary, as the box maps it: its logical types are what levels are set for.
  const mappings = useLoad(async (signal) => Promise.all((joined ?? []).map(async (m) => ({ market: m.id, rows: await market.mapping(m.id, signal) }))), [joined])
  const [news, setNews] = useState<string | null>(null)
  // Each editor starts again from the box's answer after a save; what the save did is said outside it, so it stays.
  const [levelsNews, setLevelsNews] = useState<string | null>(null)
  const [rulesNews, setRulesNews] = useState<string | null>(null)
  const [mappingNews, setMappingNews] = useState<string | null>(null)
  const saved = (say: (news: string) => void, reload: () => void) => (text: string) => {
    say(text)
    reload()
  }

  const types = [...new Set([
    ...(mappings.data ?? []).flatMap((m) => m.rows.map((r) => r.attribute.split('.')[0]!)),
    ...Object.keys(levels.data ?? {}),
  ])]
  const waiting = queries.data?.filter((q) => q.state === 'waiting').length ?? 0
  const reread = () => {
    markets.reload()
    queries.reload()
    payments.reload()
  }

  return (
    <>
      <h1>Market</h1>
      <p>Data markets carry questions from researchers and companies to many boxes. Your box works out its own answer from your data, in the box; the market learns that your box answered, never what it answered or whether you matched. Nothing is answered without your consent, given per query or by your rules, and never about a kind of data you do not share.</p>
      {news && <StatusNotice>{news}</StatusNotice>}

      <section aria-labelledby="markets-heading">
        <h2 id="markets-heading">Markets</h2>
        <Join onJoined={(text) => { setNews(text); reread() }} />
        <ErrorNotice error={markets.error} />
        {joined?.length === 0 && <p>You have joined no market yet.</p>}
        <ErrorNotice error={payments.error} />
        <MarketList markets={joined ?? []} payments={payments.data ?? []} onNews={setNews} onChanged={reread} />
      </section>

      <section aria-labelledby="queries-heading">
        <h2 id="queries-heading">Queries</h2>
        <ErrorNotice error={queries.error} />
        {queries.data && queries.data.length > 0 && <p>{waiting === 0 ? 'Nothing is waiting for you.' : `${waiting} waiting for you.`}</p>}
        {queries.data?.length === 0 && <p>No queries yet. Your box reads the markets you joined every five minutes, or now with “Read now”.</p>}
        <ul className="cards apps">
          {queries.data && waitingFirst(queries.data).map((q) => (
            <QueryCard key={`${q.market}/${q.id}`} query={q} levels={levels.data ?? {}} onChanged={queries.reload} />
          ))}
        </ul>
      </section>

      <section aria-labelledby="levels-heading">
        <h2 id="levels-heading">Privacy levels</h2>
        <ErrorNotice error={levels.error ?? mappings.error} />
        {levels.data && <LevelsEditor key={JSON.stringify(levels.data)} types={types} levels={levels.data} onSaved={saved(setLevelsNews, levels.reload)} onNews={setLevelsNews} />}
        {levelsNews && <StatusNotice>{levelsNews}</StatusNotice>}
      </section>

      <section aria-labelledby="rules-heading">
        <h2 id="rules-heading">Rules</h2>
        <ErrorNotice error={rules.error} />
        {rules.data && <RulesEditor key={JSON.stringify(rules.data)} types={types} rules={rules.data} onSaved={saved(setRulesNews, rules.reload)} onNews={setRulesNews} />}
        {rulesNews && <StatusNotice>{rulesNews}</StatusNotice>}
      </section>

      <section aria-labelledby="mapping-heading">
        <h2 id="mapping-heading">Where your box finds the data</h2>
        <p>Queries name attributes such as Activity.steps; your box answers from the source chosen here. The box picks a source by its record names; choose another where it guessed wrong or found none.</p>
        <ErrorNotice error={mappings.error ?? sources.error} />
        {joined?.length === 0 && <p>Join a market to see what it may ask about.</p>}
        {mappings.data?.map((m) => (
          <div key={m.market}>
            {(mappings.data?.length ?? 0) > 1 && <h3>{m.market}</h3>}
            <MappingTable key={JSON.stringify(m.rows)} marketId={m.market} rows={m.rows} sources={sources.data ?? []} onSaved={saved(setMappingNews, mappings.reload)} onNews={setMappingNews} />
          </div>
        ))}
        {mappingNews && <StatusNotice>{mappingNews}</StatusNotice>}
      </section>
    </>
  )
}

function Join({ onJoined }: { onJoined: (news: string) => void }) {
  const [url, setUrl] = useState('')
  const { busy, error, setError, run } = useAction()
  function join(e: FormEvent) {
    e.preventDefault()
    if (url.trim() === '') {
      setError('Enter the market’s address first, like https://market.example.org.')
      return
    }
    void run(async () => {
      const joined = await market.join(url.trim())
      const read = await market.queries({ market: joined.id })
      setUrl('')
      onJoined(`Joined ${joined.url} as ${joined.id}; ${read.length} ${read.length === 1 ? 'query' : 'queries'} read.`)
    })
  }
  return (
    <form onSubmit={join} className="inline-form" noValidate>
      <div className="wide">
        <label htmlFor="market-url">Market address</label>
        <input id="market-url" type="url" inputMode="url" placeholder="https://market.example.org" value={url} onChange={(e) => setUrl(e.target.value)} aria-describedby="market-url-hint" />
      </div>
      <button type="submit" disabled={busy}>{busy ? 'Joining…' : 'Join'}</button>
      <p id="market-url-hint" className="muted">Joining only reads the market’s questions; nothing leaves your box until you or your rules accept one.</p>
      {error && <p role="alert" className="notice error">{error}</p>}
    </form>
  )
}

function MarketList({ markets, payments, onNews, onChanged }: { markets: MarketInfo[]; payments: MarketPaymentsView[]; onNews: (news: string) => void; onChanged: () => void }) {
  const [leaving, setLeaving] = useState<MarketInfo | null>(null)
  const [reading, setReading] = useState<string | null>(null)
  const { busy, error, run } = useAction()

  const read = (m: MarketInfo) => run(async () => {
    setReading(m.id)
    try {
      const { received } = await market.sync(m.id)
      onNews(`${m.id}: ${received} new ${received === 1 ? 'query' : 'queries'}.`)
    } finally {
      setReading(null)
      onChanged()
    }
  })
  const leave = () => run(async () => {
    if (!leaving) return
    await market.leave(leaving.id)
    onNews(`Left ${leaving.url}: its queries are forgotten; what your box answered stays in the audit log.`)
    setLeaving(null)
    onChanged()
  })

  return (
    <>
      {error && <p role="alert" className="notice error">{error}</p>}
      <ul className="cards">
        {markets.map((m) => (
          <li key={m.id} className="card" aria-labelledby={`market-${m.id}`}>
            <h3 id={`market-${m.id}`}>{m.id}</h3>
            <p className="muted">{m.url}</p>
            <dl className="facts">
              <div><dt>Joined</dt><dd>{formatTime(m.joinedAt)}</dd></div>
              <div><dt>Last read</dt><dd>{m.syncedAt === null ? 'never' : formatTime(m.syncedAt)}</dd></div>
            </dl>
            {m.lastError && <p className="notice error">The last read failed: {m.lastError}</p>}
            {payments.filter((p) => p.market === m.id).map((p) => <Payments key={JSON.stringify(p)} payments={p} onSaved={(news) => { onNews(news); onChanged() }} />)}
            <div className="actions">
              <button type="button" onClick={() => read(m)} disabled={busy} aria-label={`Read now ${m.id}`}>{reading === m.id ? 'Reading…' : 'Read now'}</button>
              <button type="button" className="danger" onClick={() => setLeaving(m)} disabled={busy} aria-label={`Leave ${m.id}…`}>Leave…</button>
            </div>
          </li>
        ))}
      </ul>
      <ConfirmDialog open={leaving !== null} title={`Leave ${leaving?.id ?? 'the market'}?`} confirm="Leave" onConfirm={leave} onCancel={() => setLeaving(null)} busy={busy}>
        <p>Your box stops reading its queries and forgets them. Answers already sent stay sent; you can join again later.</p>
      </ConfirmDialog>
    </>
  )
}
