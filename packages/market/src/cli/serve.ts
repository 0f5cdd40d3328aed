/** `coffer-market serve`: the market, served until SIGINT or SIGTERM, which close it cleanly. */
import { createMarket, type AggregationConfig } from '../market.ts'
import type { PaymentsConfig } from '../payments/index.ts'
import type { PayoutConfig } from '../market.ts'
import { redact } from '../db/index.ts'
import { withoutCredentials } from '../fanout/index.ts'

export async function serve(opts: { database?: string; dataDir?: string; port: number; host: string; aggregation?: AggregationConfig; payments: PaymentsConfig & PayoutConfig; operatorToken?: string; nats?: { url: string; subject: string } }): Promise<void> {
  const market = createMarket({ ...opts, logLevel: (process.env.COFFER_MARKET_LOG_LEVEL as 'info' | undefined) ?? 'warn' })
  await market.open()
  const url = await market.listen()
  const out = (text: string) => process.stdout.write(text + '\n')
  out(`Coffer market listening on ${url}`)
  out(`  storage:  ${opts.database ? `PostgreSQL at ${redact(opts.database)}` : `embedded, in ${opts.dataDir}`}`)
  out(`  API:      ${url}/api/v1/openapi.json`)
  if (opts.nats) out(`  announce: new queries on NATS ${withoutCredentials(opts.nats.url)}, subject ${opts.nats.subject}`)
  if (market.payouts) out(`  payouts:  from ${market.payouts.wallet.address} on ${opts.payments.network}, to owners at ${opts.payments.threshold?.toLocaleString('en')} sat`)
  else if (opts.payments.network) out(`  payments: owners on ${opts.payments.network}; no wallet, so no payouts yet`)
  if (opts.aggregation) out(`  role:     ${opts.aggregation.role} aggregator${opts.aggregation.role === 'leader' ? `, with the helper at ${opts.aggregation.helper.url}` : ' (aggregator endpoints only)'}`)
  out(`  next:     coffer-market processor register --name <name> --market ${url}`)
  let closing = false
  const stop = async () => {
    if (closing) return
    closing = true
    await market.close()
    process.exit(0)
  }
  process.on('SIGINT', () => void stop())
  process.on('SIGTERM', () => void stop())
  await new Promise(() => undefined)
}
