/**
 * The ledger on both engines: entries balance, a key posts once, no account but the outside
 * world's goes below zero, and on real PostgreSQL many concurrent transfers over the same
 * accounts, their lines in any order, all go through without a deadlock and add up.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { openDatabase, type Database } from '../db/index.ts'
import { createTempDatabase, type TempDatabase } from '../../test/postgres.ts'
import { Account, balanceOf, checkLedger, lockAccounts, post } from './index.ts'
import { settleQuery } from '../payments/index.ts'

const box = () => crypto.randomBytes(32).toString('hex')

for (const engine of ['pglite', 'postgres'] as const) {
  describe(`ledger on ${engine}`, () => {
    let db: Database
    let temp: TempDatabase | undefined
    before(async () => {
      temp = engine === 'postgres' ? await createTempDatabase() : undefined
      db = await openDatabase(temp ? { url: temp.url } : {})
    })
    after(async () => {
      await db.close()
      await temp?.drop()
    })

    const deposit = (processor: string, amount: number, key: string = crypto.randomUUID()) => db.transaction((tx) => post(tx, {
      key: `deposit:${key}`, kind: 'deposit', lines: [{ account: Account.deposits, amount: -amount }, { account: Account.processor(processor), amount }],
    }))

    test('an entry moves money between accounts, and its lines add up to zero', async () => {
      await deposit('p1', 5000)
      await db.transaction((tx) => post(tx, {
        key: 'escrow:q1', kind: 'escrow', queryId: 'q1',
        lines: [{ account: Account.processor('p1'), amount: -3000 }, { account: Account.escrow('q1'), amount: 3000 }],
      }))
      assert.equal(await balanceOf(db, Account.processor('p1')), 2000)
      assert.equal(await balanceOf(db, Account.escrow('q1')), 3000)
      assert.equal(await balanceOf(db, Account.deposits), -5000)
      const check = await checkLedger(db)
      assert.deepEqual([check.entriesBalance, check.balancesMatchLines, check.total], [true, true, 0])
    })

    test('an entry that does not balance, or names an account twice, is refused before anything is written', async () => {
      const entries = (await checkLedger(db)).entries
      await assert.rejects(db.transaction((tx) => post(tx, {
        key: 'bad', kind: 'escrow', lines: [{ account: Account.processor('p1'), amount: -10 }, { account: Account.escrow('q9'), amount: 9 }],
      })), /does not balance/)
      await assert.rejects(db.transaction((tx) => post(tx, {
        key: 'twice', kind: 'escrow', lines: [{ account: Account.processor('p1'), amount: -10 }, { account: Account.processor('p1'), amount: 10 }],
      })), /twice/)
      await assert.rejects(db.transaction((tx) => post(tx, {
        key: 'fraction', kind: 'escrow', lines: [{ account: Account.processor('p1'), amount: -0.5 }, { account: Account.escrow('q9'), amount: 0.5 }],
      })), /whole, non-zero/)
      assert.equal((await checkLedger(db)).entries, entries)
    })

    test('a key posts once: the replay writes nothing and says so', async () => {
      const first = await deposit('p2', 700, 'bank-ref-1')
      const again = await deposit('p2', 700, 'bank-ref-1')
      assert.equal(first.applied, true)
      assert.deepEqual(again, { entryId: first.entryId, applied: false })
      assert.equal(await balanceOf(db, Account.processor('p2')), 700)
    })

    test('an overdraft is refused with what the account holds, and nothing of the entry is written', async () => {
      await deposit('p3', 100)
      await assert.rejects(db.transaction((tx) => post(tx, {
        key: 'escrow:q3', kind: 'escrow', lines: [{ account: Account.processor('p3'), amount: -101 }, { account: Account.escrow('q3'), amount: 101 }],
      })), (err: Error & { status?: number; extras?: Record<string, unknown> }) => {
        assert.equal(err.status, 402)
        assert.deepEqual(err.extras, { account: Account.processor('p3'), balance: 100, needed: 101 })
        return true
      })
      assert.equal(await balanceOf(db, Account.processor('p3')), 100)
      assert.deepEqual(await db.query("SELECT key FROM ledger_entries WHERE key = 'escrow:q3'"), [], 'the key is free again')
      // The table says the same, for any writer that goes around the ledger.
      await assert.rejects(db.query("UPDATE ledger_accounts SET balance = -1 WHERE id = 'processor:p3'"), /ledger_no_overdraft/)
    })

    test('settling a query pays each counted box the price, returns the rest, and settles once', async () => {
      await deposit('p4', 10_000)
      await db.transaction((tx) => post(tx, {
        key: 'escrow:q4', kind: 'escrow', lines: [{ account: Account.processor('p4'), amount: -5000 }, { account: Account.escrow('q4'), amount: 5000 }],
      }))
      const boxes = [box(), box(), box()]
      const settled = await db.transaction((tx) => settleQuery(tx, { queryId: 'q4', processorId: 'p4', price: 500, paid: boxes }))
      assert.deepEqual(settled, { paid: 1500, owners: 3, refunded: 3500 })
      for (const b of boxes) assert.equal(await balanceOf(db, Account.owner(b)), 500)
      assert.equal(await balanceOf(db, Account.processor('p4')), 8500)
      assert.equal(await balanceOf(db, Account.escrow('q4')), 0)
      assert.deepEqual(await db.transaction((tx) => settleQuery(tx, { queryId: 'q4', processorId: 'p4', price: 500, paid: boxes })), { paid: 0, owners: 0, refunded: 0 })
      for (const b of boxes) assert.equal(await balanceOf(db, Account.owner(b)), 500, 'paid once')
    })

    test('an escrow settles to its processor in full when no one is paid', async () => {
      await deposit('p5', 900)
      await db.transaction((tx) => post(tx, {
        key: 'escrow:q5', kind: 'escrow', lines: [{ account: Account.processor('p5'), amount: -900 }, { account: Account.escrow('q5'), amount: 900 }],
      }))
      assert.deepEqual(await db.transaction((tx) => settleQuery(tx, { queryId: 'q5', processorId: 'p5', price: 300, paid: [] })), { paid: 0, owners: 0, refunded: 900 })
      assert.equal(await balanceOf(db, Account.processor('p5')), 900)
      const check = await checkLedger(db)
      assert.deepEqual([check.entriesBalance, check.balancesMatchLines, check.total], [true, true, 0])
    })
  })
}

test('PostgreSQL: concurrent transfers over shared accounts, lines in any order, neither deadlock nor lose a satoshi', async () => {
  const temp = await createTempDatabase()
  const db = await openDatabase({ url: temp.url })
  try {
    const processors = ['pa', 'pb']
    const owners = Array.from({ length: 12 }, box)
    for (const p of processors) {
      await db.transaction((tx) => post(tx, { key: `deposit:${p}`, kind: 'deposit', lines: [{ account: Account.deposits, amount: -1_000_000 }, { account: Account.processor(p), amount: 1_000_000 }] }))
    }
    const queries = Array.from({ length: 40 }, (_, i) => ({ id: `q${i}`, processor: processors[i % 2]!, paid: shuffle(owners).slice(0, 8) }))
    for (const q of queries) {
      await db.transaction((tx) => post(tx, { key: `escrow:${q.id}`, kind: 'escrow', lines: [{ account: Account.escrow(q.id), amount: 1000 }, { account: Account.processor(q.processor), amount: -1000 }] }))
    }
    // Every settlement touches the shared processor accounts and a random eight of the twelve owners,
    // in a random order, while the outside world keeps depositing into the same processors; each
    // transaction holds its locks a moment longer, so they overlap.
    const settle = (q: (typeof queries)[number]) => db.transaction(async (tx) => {
      await lockAccounts(tx, shuffle([Account.escrow(q.id), Account.processor(q.processor), ...q.paid.map(Account.owner)]))
      await tx.query('SELECT pg_sleep(0.005)')
      return settleQuery(tx, { queryId: q.id, processorId: q.processor, price: 100, paid: shuffle(q.paid) })
    })
    const deposits = Array.from({ length: 20 }, (_, i) => db.transaction(async (tx) => {
      const p = processors[i % 2]!
      const lines = shuffle([{ account: Account.processor(p), amount: 10 }, { account: Account.deposits, amount: -10 }])
      await tx.query('SELECT pg_sleep(0.005)')
      return post(tx, { key: `deposit:more-${i}`, kind: 'deposit', lines })
    }))
    // Each settlement is also sent twice at once: exactly one of the two pays.
    const settled = await Promise.all([...queries.map(settle), ...queries.map(settle), ...deposits])
    assert.equal(settled.filter((s) => 'owners' in s && s.owners === 8).length, 40)

    for (const owner of owners) {
      const times = queries.filter((q) => q.paid.includes(owner)).length
      assert.equal(await balanceOf(db, Account.owner(owner)), 100 * times)
    }
    // Each processor: its deposit, twenty escrows of 1000 less the 200 each gave back, and ten more deposits of 10.
    for (const p of processors) assert.equal(await balanceOf(db, Account.processor(p)), 1_000_000 - 20 * 800 + 10 * 10)
    const check = await checkLedger(db)
    assert.deepEqual([check.entriesBalance, check.balancesMatchLines, check.total], [true, true, 0])
  } finally {
    await db.close()
    await temp.drop()
  }
})

function shuffle<T>(items: T[]): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = crypto.randomInt(i + 1)
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}
