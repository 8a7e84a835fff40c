/** Small scenarios and proposal builders shared by the ledger tests. */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../db/adapter';
import { initGrid } from '../../engine/init';
import { parseScenario } from '../../engine/scenario';

/** The blueprint's world: A holds 100 credits, B holds 50; plus energy for tax tests. */
export const blueprint = (policy?: Record<string, unknown>) =>
  parseScenario({
    name: 'blueprint',
    resources: [
      { id: 'credits', unit: 'cr' },
      { id: 'energy', unit: 'kWh' },
    ],
    actors: [
      { id: 'system', kind: 'system' },
      { id: 'council', kind: 'human' },
      { id: 'governor', kind: 'governor' },
      { id: 'treasury', kind: 'treasury' },
      { id: 'reserve', kind: 'reserve' },
      { id: 'A', kind: 'agent' },
      { id: 'B', kind: 'agent' },
      { id: 'C', kind: 'agent' },
    ],
    balances: [
      { actor: 'A', resource: 'credits', amount: 100 },
      { actor: 'B', resource: 'credits', amount: 50 },
      { actor: 'A', resource: 'energy', amount: 1000 },
      { actor: 'B', resource: 'energy', amount: 1000 },
      { actor: 'reserve', resource: 'energy', amount: 5000 },
    ],
    policy,
    founder: 'council',
  });

export async function initBlueprint(db: Db, policy?: Record<string, unknown>) {
  return initGrid(db, blueprint(policy));
}

export function transfer(from: string, to: string, amount: number | string, extra: Record<string, unknown> = {}) {
  return { proposal_id: randomUUID(), agent: from, from, to, resource: 'credits', amount, reasoning: 'test', ...extra };
}

export async function balance(db: Db, actor: string, resource = 'credits'): Promise<bigint> {
  const r = await db.query<{ amount: bigint }>('SELECT amount FROM balances WHERE actor = $1 AND resource = $2', [actor, resource]);
  return r.rows.length ? BigInt(r.rows[0].amount) : 0n;
}

export async function count(db: Db, table: string): Promise<number> {
  const r = await db.query<{ n: bigint }>(`SELECT count(*)::bigint AS n FROM ${table}`);
  return Number(r.rows[0].n);
}
