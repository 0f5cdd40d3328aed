/**
 * This market's HPKE key pair for its aggregator role. Given in the configuration, it is used as
 * is; otherwise it is read from the database, or made once and stored there: the first process
 * to insert wins and every other process on the same database reads the same pair, so two
 * leader processes publish one key.
 */
import { generateAggregatorKeys, type AggregatorKeys, type Role } from '../aggregation/index.ts'
import type { Sql } from '../db/index.ts'

export async function aggregatorKeys(db: Sql, role: Role, given?: AggregatorKeys): Promise<AggregatorKeys> {
  if (given) return given
  const read = async () => (await db.query<{ hpke_config: string; private_key: string }>('SELECT hpke_config, private_key FROM aggregator_keys WHERE role = $1', [role]))[0]
  let row = await read()
  if (!row) {
    // Leader and helper of one task must publish different configs; distinct ids also tell their ciphertexts apart.
    const fresh = await generateAggregatorKeys(role === 'leader' ? 1 : 2)
    await db.query('INSERT INTO aggregator_keys (role, hpke_config, private_key) VALUES ($1, $2, $3) ON CONFLICT (role) DO NOTHING', [role, fresh.hpkeConfig, fresh.privateKey])
    row = await read()
  }
  return { hpkeConfig: row!.hpke_config, privateKey: row!.private_key }
}
