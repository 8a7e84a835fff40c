/** Small scenarios and proposal builders shared by the ledger tests. */
import { randomUUID } from 'node:crypto';
import { strict as assert } from 'node:assert';
import type { Db } from '../../db/adapter';
import { LedgerWriter, type ApplyResult } from '../../db/writer';
import { replay } from '../../db/replay';
import type { Backend } from './backends';
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

/** A decision's outcome in one word: the rejection code, or 'applied'. */
export function code(r: ApplyResult): string {
  return r.status === 'rejected' ? r.code : 'applied';
}
export const codes = (rs: ApplyResult[]) => rs.map(code);

export async function balance(db: Db, actor: string, resource = 'credits'): Promise<bigint> {
  const r = await db.query<{ amount: bigint }>('SELECT amount FROM balances WHERE actor = $1 AND resource = $2', [actor, resource]);
  return r.rows.length ? BigInt(r.rows[0].amount) : 0n;
}

export async function count(db: Db, table: string): Promise<number> {
  const r = await db.query<{ n: bigint }>(`SELECT count(*)::bigint AS n FROM ${table}`);
  return Number(r.rows[0].n);
}

/** The writer's decision clock, moved by the test (starts after genesis, which used the real clock). */
export class Clock {
  t = Date.now() + 60_000;
  now = () => this.t;
}

export interface Grid {
  db: Db;
  w: LedgerWriter;
  clock: Clock;
}

/** The blueprint grid (with an optional policy) on a fresh schema, and a writer on a test clock. */
export async function grid(b: Backend, policy?: Record<string, unknown>): Promise<Grid> {
  const db = await b.fresh();
  const rep = await initBlueprint(db, policy);
  assert.deepEqual(rep.genesis.rejected, [], 'the genesis of the test grid must apply');
  const clock = new Clock();
  return { db, w: new LedgerWriter(db, { clock: clock.now }), clock };
}

/** Replay from row 0 (dry run): chain intact, cache equal to the ledger, every resource conserved, no negative balance. */
export async function assertSound(db: Db) {
  const r = await replay(db, { dryRun: true });
  assert.deepEqual(r.badRows, []);
  assert.equal(r.chainOk, true);
  assert.equal(r.cacheMatches, true, JSON.stringify(r.diffs));
  assert.equal(r.headMatches, true);
  for (const [res, c] of Object.entries(r.conservation)) assert.equal(c.ok, true, `${res} not conserved: ${JSON.stringify(c)}`);
  const neg = await db.query<{ n: bigint }>('SELECT count(*)::bigint AS n FROM balances WHERE amount < 0');
  assert.equal(Number(neg.rows[0].n), 0, 'no negative balance');
  return r;
}

/** Every applied result's entries are exactly the ledger rows (ids and client-side hashes). */
export async function assertEntriesStored(db: Db, results: ApplyResult[]) {
  for (const r of results) {
    if (r.status !== 'applied') continue;
    const rows = (await db.query<any>(`SELECT id, leg, kind, amount, encode(hash, 'hex') AS hash FROM ledger WHERE proposal_id = $1 ORDER BY leg`, [r.proposal_id])).rows;
    assert.deepEqual(
      r.entries.map((e) => [e.id, e.leg, e.kind, e.amount, e.hash]),
      rows.map((x) => [String(x.id), x.leg, x.kind, x.amount === null ? null : String(x.amount), x.hash]),
      `entries of ${r.proposal_id}`,
    );
  }
}
