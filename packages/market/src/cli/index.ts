/**
 * The `coffer-market` command. `serve` runs the market; the others talk to a running market
 * over its HTTP API (--market URL or COFFER_MARKET_URL), as a processor (--key KEY or
 * COFFER_MARKET_KEY) where they need one. Each command imports what else it needs, so one that
 * only talks to the market does not load the database or the server.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Command, CommanderError } from 'commander'
import { InvalidInput, MarketError } from '../errors/index.ts'
import type { AggregationConfig, FeedPage, PostedQuery, Participation, PayoutConfig, PayoutRun, PayoutSummary, QueryResult, Registration, Validation, WalletState } from '../index.ts'
import type { QueryProblem } from '../query/index.ts'
import { MarketClient, type Connection } from './client.ts'
import { NETWORKS, type Network } from '../protocol/payments.ts'
import { DEFAULT_FEE_RATE, DEFAULT_THRESHOLD } from '../payments/terms.ts'
import type { Deposit, PaymentsConfig } from '../payments/index.ts'
import type { LedgerCheck as LedgerCheckAnswer } from '../ledger/index.ts'
import type { ProcessorAccount } from '../protocol/payments.ts'

export async function main(argv: string[]): Promise<number> {
  // A reader that stops early (`… | head`) ends the command quietly, as it ends Unix tools.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
    process.exit(0)
  })
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
    return process.exitCode === undefined ? 0 : Number(process.exitCode)
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode
    if (err instanceof MarketError) {
      process.stderr.write(`error: ${err.title}: ${err.message}\n`)
      const problems = err.extras.problems as QueryProblem[] | undefined
      if (Array.isArray(problems) && problems.length > 1) process.stderr.write(formatProblems(problems) + '\n')
      return 1
    }
    process.stderr.write(`error: ${(err as Error).stack ?? String(err)}\n`)
    return 2
  }
}

function buildProgram(): Command {
  const program = new Command('coffer-market')
    .description('The Coffer data market: processors ask many boxes aggregate questions.')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()

  program.command('serve')
    .description('run the market over HTTP')
    .option('--database <url>', 'PostgreSQL connection string (default: $COFFER_MARKET_DATABASE; without one, the embedded database)')
    .option('--data <dir>', 'the embedded database\'s directory (default: $COFFER_MARKET_DATA, else ~/.coffer-market)')
    .option('--port <port>', 'port to listen on', '7790')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--role <role>', 'aggregator role for statistics answers: leader, helper or none (default: $COFFER_MARKET_ROLE, else none)')
    .option('--public-url <url>', 'leader: the URL boxes reach this market at, named in tasks (default: $COFFER_MARKET_PUBLIC_URL, else the listening URL)')
    .option('--helper-url <url>', 'leader: the helper market (default: $COFFER_MARKET_HELPER_URL)')
    .option('--helper-token <token>', 'leader: the token the helper expects (default: $COFFER_MARKET_HELPER_TOKEN)')
    .option('--leader-token <token>', 'helper: the token the leader presents (default: $COFFER_MARKET_LEADER_TOKEN)')
    .option('--verify-key <secret>', 'the secret both operators share, 16+ characters (default: $COFFER_MARKET_VERIFY_KEY)')
    .option('--nats <url>', 'a NATS server to announce each new query on, to the other market processes and to subscribed boxes (default: $COFFER_MARKET_NATS; without one, processes hear of posts through the database)')
    .option('--nats-subject <subject>', 'the subject announcements go on', 'coffer.market.feed')
    .option('--release-poll <ms>', 'leader: how often to look for queries past their deadline', '5000')
    .option('--operator-token <token>', "the operator's secret for deposits, the ledger and payouts over the API (default: $COFFER_MARKET_OPERATOR_TOKEN; without one those routes are off)")
    .option('--network <network>', 'the Bitcoin network owners are paid on: bitcoin, testnet or regtest (default: $COFFER_MARKET_NETWORK; without one, no payouts)')
    .option('--payout-threshold <sat>', 'an owner is paid out once their balance reaches this', String(DEFAULT_THRESHOLD))
    .option('--fee-rate <sat/vB>', 'the network fee per virtual byte of a payout transaction', String(DEFAULT_FEE_RATE))
    .option('--wallet-key <wif>', 'the market wallet\'s private key, which payouts are made from (default: $COFFER_MARKET_WALLET_KEY; prefer the variable: flags show in process lists)')
    .option('--bitcoin-rpc <url>', 'a Bitcoin Core node\'s JSON-RPC, http://user:password@host:port/, with -txindex (default: $COFFER_MARKET_BITCOIN_RPC)')
    .option('--confirmations <n>', 'confirmations that make a payout final', '1')
    .option('--payout-every <ms>', 'how often to make and follow payouts; 0: only when the operator asks', '3600000')
    .action(async (opts: ServeOptions) => {
      const port = Number(opts.port)
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidInput(`--port ${opts.port} is not a port number (0 to 65535).`)
      const { serve } = await import('./serve.ts')
      const { database, dataDir } = storageOf(opts)
      const operatorToken = opts.operatorToken ?? process.env.COFFER_MARKET_OPERATOR_TOKEN
      const nats = opts.nats ?? process.env.COFFER_MARKET_NATS
      await serve({
        database, dataDir, port, host: opts.host, aggregation: aggregationOf(opts), payments: paymentsOf(opts), ...(operatorToken ? { operatorToken } : {}),
        ...(nats ? { nats: { url: nats, subject: opts.natsSubject } } : {}),
      })
    })

  program.command('aggregator')
    .description('this market as an aggregator of statistics answers')
    .command('keys')
    .description("show this market's public HPKE config for a role (made and kept in its database when absent)")
    .option('--database <url>', 'PostgreSQL connection string (default: $COFFER_MARKET_DATABASE)')
    .option('--data <dir>', 'the embedded database\'s directory (default: $COFFER_MARKET_DATA, else ~/.coffer-market)')
    .option('--role <role>', 'leader or helper', 'leader')
    .action(async (opts: { database?: string; data?: string; role: string }) => {
      if (opts.role !== 'leader' && opts.role !== 'helper') throw new InvalidInput(`--role ${opts.role}: say leader or helper.`)
      const { openDatabase } = await import('../db/index.ts')
      const { aggregatorKeys } = await import('../answers/index.ts')
      const db = await openDatabase({ url: storageOf(opts).database, dataDir: storageOf(opts).dataDir })
      try {
        out((await aggregatorKeys(db, opts.role)).hpkeConfig)
      } finally {
        await db.close()
      }
    })

  const connection = (cmd: Command) => cmd
    .option('--market <url>', 'the market (default: $COFFER_MARKET_URL, else http://127.0.0.1:7790)')
    .option('--key <key>', "the processor's API key (default: $COFFER_MARKET_KEY)")
    .option('--json', 'print the answer as JSON')

  const processor = program.command('processor').description('processors: who posts queries')
  connection(processor.command('register'))
    .description('register a processor; prints its API key, which cannot be shown again')
    .requiredOption('--name <name>', 'shown to box owners as who asks')
    .option('--contact <contact>', 'an email address or URL where owners can reach you')
    .action(async (opts: Connection & { name: string; contact?: string; json?: boolean }) => {
      const registered = await new MarketClient(opts).send<Registration>('POST', '/processors', { name: opts.name, contact: opts.contact })
      if (opts.json) return json(registered)
      out(`Registered ${registered.processor.name} (${registered.processor.id}).`)
      out('\nAPI key — shown only now; keep it secret, the market stores only its hash:\n')
      out(`  ${registered.key}\n`)
      out('Next: export COFFER_MARKET_KEY=<the key above>, then `coffer-market query post spec.json`.')
    })

  const query = program.command('query').description("queries: post them, follow them")
  connection(query.command('validate'))
    .description('check a query spec (a JSON file, or - for standard input) without posting it')
    .argument('<file>', 'the spec: JSON with question, purpose, price, deadline, participants, bounds, answer, retention')
    .action(async (file: string, opts: Connection & { json?: boolean }) => {
      const result = await new MarketClient(opts).send<Validation>('POST', '/queries/validate', readSpec(file))
      if (opts.json) json(result)
      else if (result.valid) out(`Valid. The question reads:\n  ${result.text}`)
      else out(`Not valid:\n${formatProblems(result.problems)}`)
      if (!result.valid) process.exitCode = 1
    })

  connection(query.command('post'))
    .description('post a query spec (a JSON file, or - for standard input): it goes to every box reading the feed')
    .argument('<file>', 'the spec, as for validate')
    .action(async (file: string, opts: Connection & { json?: boolean }) => {
      const posted = await new MarketClient(opts).asProcessor<PostedQuery>('POST', '/queries', readSpec(file))
      if (opts.json) return json(posted)
      out(`Posted query ${posted.id} (feed number ${posted.seq}):\n  ${posted.text}`)
      out(`Follow it: coffer-market query show ${posted.id}`)
    })

  connection(query.command('list'))
    .description('your queries, newest first')
    .option('--status <status>', 'only open, closed or cancelled ones')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (opts: Connection & { json?: boolean; status?: string; limit: string }) => {
      const params = new URLSearchParams({ limit: opts.limit })
      if (opts.status) params.set('status', opts.status)
      const { queries } = await new MarketClient(opts).asProcessor<{ queries: PostedQuery[] }>('GET', `/queries?${params}`)
      if (opts.json) return json(queries)
      out(table(queries.map((q) => ({ id: q.id, seq: q.seq, status: q.status, posted: q.postedAt, question: q.text })), ['id', 'seq', 'status', 'posted', 'question']))
    })

  connection(query.command('show'))
    .description('one of your queries, with how many boxes took part')
    .argument('<id>', 'the query id, as `query list` shows it')
    .action(async (id: string, opts: Connection & { json?: boolean }) => {
      const q = await new MarketClient(opts).asProcessor<PostedQuery & { participation: Participation }>('GET', `/queries/${encodeURIComponent(id)}`)
      if (opts.json) return json(q)
      out(`Query ${q.id} (feed number ${q.seq}): ${q.status}`)
      out(`  question:  ${q.text}`)
      out(`  purpose:   ${q.spec.purpose}`)
      out(`  price:     ${q.spec.price.amount} ${q.spec.price.currency} per participant`)
      out(`  deadline:  ${q.spec.deadline}`)
      out(`  wanted:    ${q.spec.participants.min} to ${q.spec.participants.max} participants`)
      out(`  answer:    ${q.spec.answer}, kept ${q.spec.retention}`)
      out(`  so far:    ${q.participation.accepted} accepted, ${q.participation.declined} declined, ${q.participation.answered} answered`)
      out(`  posted:    ${q.postedAt}${q.endedAt ? `, ended ${q.endedAt}` : ''}`)
    })

  for (const [verb, what] of [['close', 'stop taking part: no box joins after this'], ['cancel', 'withdraw it: nothing will be released']] as const) {
    connection(query.command(verb))
      .description(`${what}`)
      .argument('<id>', 'the query id')
      .action(async (id: string, opts: Connection & { json?: boolean }) => {
        const q = await new MarketClient(opts).asProcessor<PostedQuery>('POST', `/queries/${encodeURIComponent(id)}/${verb}`)
        if (opts.json) return json(q)
        out(`Query ${q.id} is ${q.status}.`)
      })
  }

  connection(query.command('result'))
    .description("the query's result: per privacy class and merged, with error bars and the parameters used")
    .argument('<id>', 'the query id')
    .option('--csv', 'print it as CSV')
    .action(async (id: string, opts: Connection & { json?: boolean; csv?: boolean }) => {
      const client = new MarketClient(opts)
      if (opts.csv) {
        process.stdout.write(await client.asProcessorText('GET', `/queries/${encodeURIComponent(id)}/result?format=csv`))
        return
      }
      const r = await client.asProcessor<QueryResult>('GET', `/queries/${encodeURIComponent(id)}/result`)
      if (opts.json) return json(r)
      const fmt = (v: number | number[] | undefined) => (v === undefined ? '-' : Array.isArray(v) ? v.map((x) => x.toFixed(2)).join(', ') : v.toFixed(4))
      out(`Query ${r.queryId}: ${r.state}${r.message ? ` — ${r.message}` : ''}`)
      if (r.statistic) out(`  statistic:    ${r.statistic.kind}${r.statistic.attribute ? ` of ${r.statistic.attribute}` : ''}${r.statistic.bounds ? ` within [${r.statistic.bounds.lower}, ${r.statistic.bounds.upper}]` : ''}`)
      out(`  participants: ${r.participants.total} (low ${r.participants.low}, medium ${r.participants.medium}, high ${r.participants.high}); at least ${r.minimum} needed`)
      if (r.dataset) {
        const d = r.dataset
        out(`  dataset:      ${d.rows.length} records in ${d.classes.length} classes; ${d.suppressed} suppressed, ${d.rejected} rejected as forged`)
        for (const c of d.classes) out(`  class ${c.level.padEnd(6)}  k ${c.k}, l ${c.l}: ${c.records} records of ${c.values.map((v) => JSON.stringify(v)).join(', ')}`)
        if (d.rows.length > 0) out(table(d.rows.map((row) => Object.fromEntries(d.columns.map((c, i) => [c.name, row[i] === null ? '-' : String(row[i])]))), d.columns.map((c) => c.name)))
      } else if (r.state === 'released') {
        out(`  value:        ${fmt(r.value)}  (standard deviation ${r.standardDeviation!.toFixed(4)}, 95 % within ±${r.halfWidth95!.toFixed(4)})`)
        for (const c of r.classes) out(`  class ${c.level.padEnd(6)}  ε ${c.epsilon}, ${c.reports} reports: ${fmt(c.value)} ± ${c.halfWidth95.toFixed(4)}`)
      }
    })

  connection(program.command('account'))
    .description('your balance as a processor, what your queries hold in escrow, and each deposit, escrow and settlement')
    .option('--limit <n>', 'at most this many movements', '20')
    .action(async (opts: Connection & { json?: boolean; limit: string }) => {
      const account = await new MarketClient(opts).asProcessor<ProcessorAccount>('GET', `/processors/me/account?limit=${encodeURIComponent(opts.limit)}`)
      if (opts.json) return json(account)
      out(`Balance: ${sat(account.balance)}   held in escrow for your queries: ${sat(account.escrowed)}`)
      out(table(account.entries.map((e) => ({ when: e.at.slice(0, 19).replace('T', ' '), what: e.kind, amount: signed(e.amount), query: e.queryId, note: e.memo })), ['when', 'what', 'amount', 'query', 'note']))
    })

  const operatorConnection = (cmd: Command) => connection(cmd).option('--operator-token <token>', "the operator's token (default: $COFFER_MARKET_OPERATOR_TOKEN)")

  operatorConnection(program.command('deposit'))
    .description("operator: record a processor's deposit once its money has arrived; the reference makes it count once")
    .requiredOption('--processor <id>', 'the processor\'s id (as `coffer-market processor register` or `account` shows it)')
    .requiredOption('--amount <sat>', 'satoshis received')
    .requiredOption('--reference <ref>', 'what identifies the payment: a transaction id, a bank reference')
    .action(async (opts: Connection & { json?: boolean; processor: string; amount: string; reference: string }) => {
      const amount = Number(opts.amount)
      if (!Number.isSafeInteger(amount) || amount <= 0) throw new InvalidInput(`--amount ${opts.amount} is not a whole number of satoshis, more than 0.`)
      const deposit = await new MarketClient(opts).asOperator<Deposit>('POST', '/operator/deposits', { processorId: opts.processor, amount, reference: opts.reference })
      if (opts.json) return json(deposit)
      out(deposit.recorded
        ? `Recorded ${sat(deposit.amount)} for processor ${deposit.processorId} (${deposit.reference}); its balance is ${sat(deposit.balance)}.`
        : `Deposit ${deposit.reference} was recorded before; nothing changed. The balance is ${sat(deposit.balance)}.`)
    })

  operatorConnection(program.command('ledger'))
    .description('operator: whether the ledger balances, and what each kind of account holds')
    .action(async (opts: Connection & { json?: boolean }) => {
      const check = await new MarketClient(opts).asOperator<LedgerCheckAnswer>('GET', '/operator/ledger')
      if (opts.json) return json(check)
      const ok = check.entriesBalance && check.balancesMatchLines && check.total === 0
      out(ok ? `The ledger balances: ${check.entries} entries.` : 'THE LEDGER DOES NOT BALANCE: tell whoever runs the market\'s database.')
      out(table(Object.entries(check.byKind).map(([kind, total]) => ({ accounts: kind, hold: sat(total) })), ['accounts', 'hold']))
      if (!ok) process.exitCode = 1
    })

  const payouts = program.command('payouts').description('operator: paying owners out, one Bitcoin transaction per batch')
  operatorConnection(payouts.command('run'))
    .description('follow the payouts under way (sent, confirmed), then pay every owner due')
    .action(async (opts: Connection & { json?: boolean }) => {
      const run = await new MarketClient(opts).asOperator<PayoutRun>('POST', '/operator/payouts')
      if (opts.json) return json(run)
      for (const p of run.made) out(`Made payout ${p.id}: ${p.owners} owner${p.owners === 1 ? '' : 's'}, ${sat(p.sent)} sent, fee ${sat(p.fee)} (${sat(p.feePerOwner)} each), ${p.vbytes} vbytes, transaction ${p.txid}`)
      if (run.broadcast.length > 0) out(`Sent to the network: ${run.broadcast.length}`)
      if (run.confirmed.length > 0) out(`Confirmed, final: ${run.confirmed.length}`)
      if (run.failed.length > 0) out(`Refused by the network, money back in the owners' balances: ${run.failed.join(', ')}`)
      for (const problem of run.problems) out(`Note: ${problem}`)
      if (run.made.length + run.broadcast.length + run.confirmed.length + run.failed.length + run.problems.length === 0) out('Nothing to do: no owner is due, and no payout is under way.')
    })
  operatorConnection(payouts.command('list'))
    .description('payouts, newest first, with the fee each owner paid')
    .option('--limit <n>', 'at most this many', '50')
    .action(async (opts: Connection & { json?: boolean; limit: string }) => {
      const { payouts: list } = await new MarketClient(opts).asOperator<{ payouts: PayoutSummary[] }>('GET', `/operator/payouts?limit=${encodeURIComponent(opts.limit)}`)
      if (opts.json) return json(list)
      out(table(list.map((p) => ({ id: p.id, state: p.state, owners: p.owners, sent: sat(p.sent), fee: sat(p.fee), each: sat(p.feePerOwner), vbytes: p.vbytes, made: p.createdAt.slice(0, 19).replace('T', ' '), txid: p.txid })),
        ['id', 'state', 'owners', 'sent', 'fee', 'each', 'vbytes', 'made', 'txid']))
    })

  const wallet = program.command('wallet').description("operator: the market wallet payouts are made from")
  operatorConnection(wallet.command('show'))
    .description('its address (send coins there) and its coins')
    .action(async (opts: Connection & { json?: boolean }) => {
      const state = await new MarketClient(opts).asOperator<WalletState>('GET', '/operator/wallet')
      if (opts.json) return json(state)
      out(`Wallet ${state.address} (${state.network}): ${sat(state.available)} to spend, ${sat(state.pending)} waiting for payouts to confirm`)
      const coins = state.coins.filter((c) => c.state !== 'spent')
      if (coins.length > 0) out(table(coins.map((c) => ({ coin: `${c.txid}:${c.vout}`, amount: sat(c.amount), state: c.state })), ['coin', 'amount', 'state']))
    })
  operatorConnection(wallet.command('add-coin'))
    .description('record a coin sent to the wallet\'s address, once its transaction confirmed')
    .argument('<outpoint>', 'TXID:VOUT')
    .argument('<sat>', 'its amount in satoshis')
    .action(async (outpoint: string, amountText: string, opts: Connection & { json?: boolean }) => {
      const match = /^([0-9a-fA-F]{64}):(\d+)$/.exec(outpoint)
      if (!match) throw new InvalidInput(`"${outpoint}" is not TXID:VOUT (64 hex digits, a colon, the output's index).`)
      const amount = Number(amountText)
      if (!Number.isSafeInteger(amount) || amount <= 0) throw new InvalidInput(`${amountText} is not a whole number of satoshis.`)
      const added = await new MarketClient(opts).asOperator<{ added: boolean }>('POST', '/operator/wallet/coins', { txid: match[1]!.toLowerCase(), vout: Number(match[2]), amount })
      if (opts.json) return json(added)
      out(added.added ? `Recorded ${outpoint}: ${sat(amount)}.` : `The wallet held ${outpoint} already; nothing changed.`)
    })
  wallet.command('new-key')
    .description('make a new wallet key (offline): give it to `serve` as $COFFER_MARKET_WALLET_KEY, and send coins to its address')
    .requiredOption('--network <network>', 'bitcoin, testnet or regtest')
    .action(async (opts: { network: string }) => {
      if (!(NETWORKS as readonly string[]).includes(opts.network)) throw new InvalidInput(`--network ${opts.network}: say ${NETWORKS.join(', ')}.`)
      const { newWalletKey } = await import('../payouts/index.ts')
      const made = newWalletKey(opts.network as Network)
      out(`Address: ${made.address}`)
      out(`Key (WIF), shown only now; keep it secret:\n\n  ${made.key}\n`)
    })

  connection(program.command('feed'))
    .description('the open queries a box would receive after a sequence number')
    .option('--since <n>', 'the last sequence number already seen', '0')
    .action(async (opts: Connection & { json?: boolean; since: string }) => {
      const page = await new MarketClient(opts).send<FeedPage>('GET', `/feed?since=${encodeURIComponent(opts.since)}&limit=1000`)
      if (opts.json) return json(page)
      out(table(page.queries.map((q) => ({ seq: q.seq, id: q.id, processor: q.processor.name, question: q.text })), ['seq', 'id', 'processor', 'question']))
      out(`next: ${page.next}`)
    })

  return program
}

/** How owners are paid, from flags and the environment. */
function paymentsOf(opts: ServeOptions): PaymentsConfig & PayoutConfig {
  const network = opts.network ?? process.env.COFFER_MARKET_NETWORK
  if (network !== undefined && !(NETWORKS as readonly string[]).includes(network)) throw new InvalidInput(`--network ${network}: say ${NETWORKS.join(', ')}.`)
  const threshold = Number(opts.payoutThreshold)
  if (!Number.isSafeInteger(threshold) || threshold < 1) throw new InvalidInput(`--payout-threshold ${opts.payoutThreshold} is not a whole number of satoshis, 1 or more.`)
  const feeRate = Number(opts.feeRate)
  if (!Number.isFinite(feeRate) || feeRate < 1) throw new InvalidInput(`--fee-rate ${opts.feeRate} is not a number of satoshis per virtual byte, 1 or more.`)
  const walletKey = opts.walletKey ?? process.env.COFFER_MARKET_WALLET_KEY
  const rpc = opts.bitcoinRpc ?? process.env.COFFER_MARKET_BITCOIN_RPC
  if (walletKey && !network) throw new InvalidInput('--wallet-key needs --network (bitcoin, testnet or regtest): the key is for one network.')
  if (walletKey && !rpc) throw new InvalidInput('--wallet-key needs --bitcoin-rpc (or $COFFER_MARKET_BITCOIN_RPC): payouts reach the network through a Bitcoin node.')
  const confirmations = Number(opts.confirmations)
  if (!Number.isInteger(confirmations) || confirmations < 1) throw new InvalidInput(`--confirmations ${opts.confirmations} is not a whole number, 1 or more.`)
  const payoutEveryMs = Number(opts.payoutEvery)
  if (!Number.isInteger(payoutEveryMs) || payoutEveryMs < 0) throw new InvalidInput(`--payout-every ${opts.payoutEvery} is not a number of milliseconds.`)
  return {
    threshold, feeRate, confirmations, payoutEveryMs, ...(network ? { network: network as Network } : {}),
    ...(walletKey ? { walletKey } : {}), ...(rpc ? { bitcoinRpc: rpc } : {}),
  }
}

interface ServeOptions {
  database?: string
  data?: string
  port: string
  host: string
  role?: string
  publicUrl?: string
  helperUrl?: string
  helperToken?: string
  leaderToken?: string
  verifyKey?: string
  releasePoll: string
  nats?: string
  natsSubject: string
  operatorToken?: string
  network?: string
  payoutThreshold: string
  feeRate: string
  walletKey?: string
  bitcoinRpc?: string
  confirmations: string
  payoutEvery: string
}

function storageOf(opts: { database?: string; data?: string }): { database?: string; dataDir?: string } {
  const database = opts.database ?? process.env.COFFER_MARKET_DATABASE
  return { database, dataDir: database ? undefined : opts.data ?? process.env.COFFER_MARKET_DATA ?? path.join(os.homedir(), '.coffer-market') }
}

/** The aggregator role from flags, else the environment; every secret it needs, or an error naming what is missing. */
function aggregationOf(opts: ServeOptions): AggregationConfig | undefined {
  const env = process.env
  const role = opts.role ?? env.COFFER_MARKET_ROLE ?? 'none'
  if (role === 'none') return undefined
  const need = (value: string | undefined, flag: string, variable: string) => {
    if (!value) throw new InvalidInput(`--role ${role} needs ${flag} (or $${variable}).`)
    return value
  }
  const verifyKey = need(opts.verifyKey ?? env.COFFER_MARKET_VERIFY_KEY, '--verify-key', 'COFFER_MARKET_VERIFY_KEY')
  if (verifyKey.length < 16) throw new InvalidInput('--verify-key must have at least 16 characters: it is the secret both aggregators derive their Prio3 keys from.')
  if (role === 'helper') return { role, verifyKey, leaderToken: need(opts.leaderToken ?? env.COFFER_MARKET_LEADER_TOKEN, '--leader-token', 'COFFER_MARKET_LEADER_TOKEN') }
  if (role !== 'leader') throw new InvalidInput(`--role ${role}: say leader, helper or none.`)
  const releasePollMs = Number(opts.releasePoll)
  if (!Number.isInteger(releasePollMs) || releasePollMs < 10) throw new InvalidInput(`--release-poll ${opts.releasePoll} is not a number of milliseconds (10 or more).`)
  const publicUrl = opts.publicUrl ?? env.COFFER_MARKET_PUBLIC_URL
  return {
    role, verifyKey, releasePollMs, ...(publicUrl ? { publicUrl } : {}),
    helper: { url: need(opts.helperUrl ?? env.COFFER_MARKET_HELPER_URL, '--helper-url', 'COFFER_MARKET_HELPER_URL'), token: need(opts.helperToken ?? env.COFFER_MARKET_HELPER_TOKEN, '--helper-token', 'COFFER_MARKET_HELPER_TOKEN') },
  }
}

/** Reads a spec from a file or standard input ('-'), as JSON, with an error that says which. */
function readSpec(file: string): unknown {
  let text: string
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'utf8')
  } catch (err) {
    throw new InvalidInput(`Cannot read ${file === '-' ? 'standard input' : file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`)
  }
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new InvalidInput(`${file === '-' ? 'Standard input' : file} is not JSON (${(err as Error).message}). A query spec is a JSON object: {"question": "SELECT AVG(...) ...", "purpose": ..., "price": ..., ...}; \`coffer-market query validate\` says what it needs.`)
  }
}

function formatProblems(problems: QueryProblem[]): string {
  return problems.map((p) => `  ${p.path || '/'}${p.line !== undefined ? ` (line ${p.line}, column ${p.column})` : ''}: ${p.message}`).join('\n')
}

function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return '(none)'
  const cells = rows.map((r) => columns.map((c) => (r[c] === null || r[c] === undefined ? '-' : String(r[c]))))
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)))
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd()
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n')
}

function sat(amount: number): string {
  return `${amount.toLocaleString('en')} sat`
}

function signed(amount: number): string {
  return `${amount > 0 ? '+' : ''}${sat(amount)}`
}

function out(text: string): void {
  process.stdout.write(text + '\n')
}

function json(value: unknown): void {
  out(JSON.stringify(value, null, 2))
}
