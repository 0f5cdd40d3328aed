/**
 * Paying owners out, measured:
 * 1. A payout transaction's size per owner: the market's wallet signs one transaction paying
 *    1, 10, 100 and 1,000 owners (one funding coin, change back to the wallet), once with every
 *    owner on a P2WPKH address and once on P2TR, the largest standard output. Bytes per owner is
 *    the slope between 100 and 1,000 owners; the baseline is the transaction with one owner.
 * 2. A payout of 10,000 owners in one ledger entry: 10,000 owner accounts each credited, then one
 *    entry moving every balance to the payouts-in-flight account (10,001 lines, every account
 *    locked in id order, checked for overdraft), timed against the baseline of the same 10,001
 *    rows written by one plain INSERT … SELECT with no ledger in between.
 * 3. The whole payout of 10,000 owners: `run()` makes the batches (1,000 owners each, one
 *    transaction each), signs them and hands them to a broadcaster that only records them, so
 *    the time is the market's own (a node checking them is the network's work).
 *
 * Run: node --import tsx packages/market/bench/payouts.ts [postgres|pglite] [owners]
 */
import crypto from 'node:crypto'
import { p2tr, p2wpkh } from '@scure/btc-signer'
import { pubECDSA, pubSchnorr, randomPrivateKeyBytes } from '@scure/btc-signer/utils.js'
import { openDatabase, type Database } from '../src/db/index.ts'
import { Account, checkLedger, lockAccounts, post } from '../src/ledger/index.ts'
import { createPayouts, newWalletKey, openWallet, MAX_STANDARD_WEIGHT } from '../src/payouts/index.ts'
import { NETWORK_PARAMETERS } from '../src/protocol/addresses.ts'
import { createTempDatabase } from '../test/postgres.ts'

const STORAGE = (process.argv[2] ?? 'postgres') as 'postgres' | 'pglite'
const OWNERS = Number(process.argv[3] ?? 10_000)
const REGTEST = NETWORK_PARAMETERS.regtest
const now = () => performance.now()
const ms = (t: number) => `${t.toFixed(0)} ms`

function transactionSizes(): void {
  const key = newWalletKey('regtest')
  const wallet = openWallet(key.key, 'regtest')
  console.log('\n1. Payout transaction size (one input, change to the wallet)')
  console.log('owners  type    vbytes  weight  build+sign ms  share of the 400,000-weight standard limit')
  const slope: Record<string, number[]> = {}
  for (const type of ['p2wpkh', 'p2tr'] as const) {
    for (const n of [1, 10, 100, 1000]) {
      const outputs = Array.from({ length: n }, () => ({
        address: type === 'p2wpkh' ? p2wpkh(pubECDSA(randomPrivateKeyBytes()), REGTEST).address! : p2tr(pubSchnorr(randomPrivateKeyBytes()), undefined, REGTEST).address!,
        amount: 100_000,
      }))
      const coin = { txid: crypto.randomBytes(32).toString('hex'), vout: 0, amount: n * 100_000 + 1_000_000 }
      const t = now()
      const signed = wallet.sign([coin], outputs, 5_000)
      const took = now() - t
      ;(slope[type] ??= []).push(signed.vbytes)
      console.log(`${String(n).padStart(6)}  ${type.padEnd(6)}  ${String(signed.vbytes).padStart(6)}  ${String(signed.weight).padStart(6)}  ${took.toFixed(1).padStart(13)}  ${(100 * signed.weight / MAX_STANDARD_WEIGHT).toFixed(1)} %`)
    }
    const [, , at100, at1000] = slope[type]!
    console.log(`        ${type}: ${((at1000! - at100!) / 900).toFixed(2)} vbytes per owner; a batch of 1,000 owners is ${at1000} vbytes`)
  }
}

async function ledgerEntry(db: Database): Promise<void> {
  const boxes = Array.from({ length: OWNERS }, () => crypto.randomBytes(32).toString('hex'))
  // Each owner credited, as settlements would: a deposit, an escrow and one settlement paying them all.
  let t = now()
  await db.transaction(async (tx) => {
    const total = 5_000 * OWNERS
    await post(tx, { key: 'deposit:bench', kind: 'deposit', lines: [{ account: Account.deposits, amount: -total }, { account: Account.processor('bench'), amount: total }] })
    await post(tx, { key: 'escrow:bench', kind: 'escrow', lines: [{ account: Account.processor('bench'), amount: -total }, { account: Account.escrow('bench'), amount: total }] })
    await post(tx, { key: 'settle:bench', kind: 'settlement', lines: [{ account: Account.escrow('bench'), amount: -total }, ...boxes.map((b) => ({ account: Account.owner(b), amount: 5_000 }))] })
  })
  const credit = now() - t

  t = now()
  await db.transaction(async (tx) => {
    const balances = await lockAccounts(tx, [Account.payouts, ...boxes.map(Account.owner)])
    const lines = boxes.map((b) => ({ account: Account.owner(b), amount: -balances.get(Account.owner(b))! }))
    await post(tx, { key: 'payout:bench', kind: 'payout', lines: [...lines, { account: Account.payouts, amount: 5_000 * OWNERS }] })
  })
  const entry = now() - t

  // Baseline: the same number of rows, one INSERT … SELECT, no locks, no checks, no balances kept.
  await db.query('CREATE TEMP TABLE bench_lines (entry_id bigint, account_id text, amount bigint)')
  t = now()
  await db.query('INSERT INTO bench_lines SELECT 1, a, -5000 FROM unnest($1::text[]) AS a', [boxes.map(Account.owner)])
  const baseline = now() - t
  const check = await checkLedger(db)
  console.log(`\n2. One ledger entry paying out ${OWNERS.toLocaleString('en')} owners (${STORAGE})`)
  console.log(`   crediting them (3 entries): ${ms(credit)}`)
  console.log(`   the payout entry, ${(OWNERS + 1).toLocaleString('en')} lines: ${ms(entry)}   baseline (bare INSERT of as many rows): ${ms(baseline)}   ratio ${(entry / baseline).toFixed(1)}`)
  console.log(`   ledger balances: ${check.entriesBalance && check.balancesMatchLines && check.total === 0}`)
}

async function wholePayout(db: Database): Promise<void> {
  const key = newWalletKey('regtest')
  const wallet = openWallet(key.key, 'regtest')
  const recorded: string[] = []
  const payouts = createPayouts(db, { wallet, broadcaster: { broadcast: async ({ hex }) => void recorded.push(hex), confirmations: async () => 0 }, threshold: 1000, feeRate: 2 })
  const boxes = Array.from({ length: OWNERS }, () => crypto.randomBytes(32).toString('hex'))
  await db.transaction(async (tx) => {
    const total = 5_000 * OWNERS
    await post(tx, { key: 'deposit:whole', kind: 'deposit', lines: [{ account: Account.deposits, amount: -total }, { account: Account.processor('whole'), amount: total }] })
    await post(tx, { key: 'escrow:whole', kind: 'escrow', lines: [{ account: Account.processor('whole'), amount: -total }, { account: Account.escrow('whole'), amount: total }] })
    await post(tx, { key: 'settle:whole', kind: 'settlement', lines: [{ account: Account.escrow('whole'), amount: -total }, ...boxes.map((b) => ({ account: Account.owner(b), amount: 5_000 }))] })
  })
  const addresses = boxes.map(() => p2wpkh(pubECDSA(randomPrivateKeyBytes()), REGTEST).address!)
  await db.query(`INSERT INTO payout_addresses (box_id, address, signed_at, signature) SELECT b, a, now(), '' FROM unnest($1::text[], $2::text[]) AS x (b, a)`, [boxes, addresses])
  for (let i = 0; i < Math.ceil(OWNERS / 1000); i++) await payouts.addCoin({ txid: crypto.randomBytes(32).toString('hex'), vout: 0, amount: 1000 * 5_000 + 100_000 })
  const t = now()
  const run = await payouts.run()
  const took = now() - t
  const owners = run.made.reduce((sum, p) => sum + p.owners, 0)
  const fee = run.made.reduce((sum, p) => sum + p.fee, 0)
  const vbytes = run.made.reduce((sum, p) => sum + p.vbytes, 0)
  console.log(`\n3. The whole payout of ${OWNERS.toLocaleString('en')} owners (${STORAGE}): ${run.made.length} transactions (${recorded.length} broadcast), ${owners.toLocaleString('en')} owners, ${ms(took)}`)
  console.log(`   ${(took / owners).toFixed(2)} ms per owner; ${(vbytes / owners).toFixed(1)} vbytes per owner; fee ${(fee / owners).toFixed(1)} sat per owner at 2 sat/vbyte; largest ${Math.max(...run.made.map((p) => p.vbytes))} vbytes`)
  if (run.problems.length > 0) console.log(`   problems: ${run.problems.join('; ')}`)
}

transactionSizes()
for (const part of [ledgerEntry, wholePayout]) {
  const temp = STORAGE === 'postgres' ? await createTempDatabase() : undefined
  const db = await openDatabase(temp ? { url: temp.url } : {})
  try {
    await part(db)
  } finally {
    await db.close()
    await temp?.drop()
  }
}
