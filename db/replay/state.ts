/**
 * Replay's state outside the fold: comparing the folded balances with the cache, writing the
 * cache back (repair), the state checksum, and checkpoints (load, restore, take).
 */
import { offerFromRow } from '../rows';
import { createHash } from 'node:crypto';
import { MemoryWorld, policyToJson, policyFromJson, canonicalJson } from '../../validator';
import type { Db, Queryable } from '../adapter';
import { GridError } from '../errors';

export interface BalanceDiff {
  actor: string;
  resource: string;
  cache: string;
  ledger: string;
}

export function diffBalances(world: MemoryWorld, cache: Array<{ actor: string; resource: string; amount: bigint }>): BalanceDiff[] {
  const diffs: BalanceDiff[] = [];
  const seen = new Set<string>();
  for (const c of cache) {
    seen.add(`${c.actor}\u0000${c.resource}`);
    const l = world.balance(c.actor, c.resource);
    if (l !== BigInt(c.amount)) diffs.push({ actor: c.actor, resource: c.resource, cache: String(c.amount), ledger: l.toString() });
  }
  for (const [a, r, v] of world.allBalances()) {
    if (!seen.has(`${a}\u0000${r}`) && v !== 0n) diffs.push({ actor: a, resource: r, cache: '(missing)', ledger: v.toString() });
  }
  return diffs;
}

/** sha256 over the sorted non-zero balances: equal states have equal checksums on any backend. */
export function stateChecksum(world: MemoryWorld): string {
  const h = createHash('sha256');
  for (const [a, r, v] of world.allBalances()) if (v !== 0n) h.update(`${a}|${r}|${v}\n`);
  return h.digest('hex').slice(0, 16);
}

export async function writeCache(db: Db, world: MemoryWorld, lastId: bigint, lastHash: string, lastAt: number): Promise<void> {
  const bal = world.allBalances();
  await db.transaction(async (tx) => {
    await tx.query('SELECT 1 FROM ledger_head FOR UPDATE');
    await tx.query('DELETE FROM balances');
    await tx.query('INSERT INTO balances (actor, resource, amount) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])', [
      bal.map((b) => b[0]),
      bal.map((b) => b[1]),
      bal.map((b) => b[2].toString()),
    ]);
    await tx.query(`UPDATE ledger_head SET last_id = $1, last_hash = decode($2, 'hex'), last_at_ms = $3`, [lastId, lastHash, lastAt]);
    await tx.query('UPDATE breaker SET open = $1, reason = $2, set_by = $3', [world.breaker.open, world.breaker.reason, world.breaker.by]);
    await tx.query('DELETE FROM offers');
    for (const o of world.offers.values()) {
      await tx.query(
        `INSERT INTO offers (offer_id, maker, give_resource, give_amount, want_resource, want_amount, counterparty, expires_at_ms, status) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
        [o.offer_id, o.maker, o.give.resource, o.give.amount, o.want.resource, o.want.amount, o.counterparty, o.expires_at, o.status],
      );
    }
    await tx.query(`INSERT INTO policies (version, policy) VALUES ($1, $2::jsonb) ON CONFLICT (version) DO NOTHING`, [world.policy.version, JSON.stringify(policyToJson(world.policy))]);
    await tx.query(`INSERT INTO admin_audit (actor, action, details) VALUES ('replay', 'cache_rebuilt', $1::jsonb)`, [JSON.stringify({ last_id: lastId.toString(), checksum: stateChecksum(world) })]);
  });
}

export interface CheckpointState {
  balances: Array<[string, string, string]>;
  policy: Record<string, unknown>;
  breaker: { open: boolean; reason: string; by: string | null };
  offers: Array<Record<string, unknown>>;
  minted: Record<string, string>;
  burned: Record<string, string>;
  last_at_ms: number;
}


export async function foldToState(db: Db): Promise<{ state: Omit<CheckpointState, 'last_at_ms'>; lastId: bigint; headHash: string; lastAt: number }> {
  // The cache was just verified equal to the ledger, so the checkpoint can be taken from it
  // under the head lock (no writer moves the head meanwhile).
  return db.transaction(async (tx) => {
    const h = (await tx.query<any>(`SELECT last_id, encode(last_hash, 'hex') AS last_hash, last_at_ms FROM ledger_head FOR UPDATE`)).rows[0];
    const bal = await tx.query<any>('SELECT actor, resource, amount FROM balances WHERE amount <> 0 ORDER BY actor, resource');
    const pol = await tx.query<any>('SELECT policy FROM policies ORDER BY version DESC LIMIT 1');
    const br = (await tx.query<any>('SELECT open, reason, set_by FROM breaker')).rows[0];
    const offers = await tx.query<any>(`SELECT offer_id::text AS offer_id, maker, give_resource, give_amount::text AS give_amount, want_resource, want_amount::text AS want_amount, counterparty, expires_at_ms, status FROM offers`);
    const sums = await tx.query<any>(
      `SELECT resource, COALESCE(sum(amount) FILTER (WHERE from_actor IS NULL), 0)::text AS minted,
              COALESCE(sum(amount) FILTER (WHERE to_actor IS NULL), 0)::text AS burned
       FROM ledger WHERE resource IS NOT NULL GROUP BY resource`,
    );
    return {
      lastId: BigInt(h.last_id),
      headHash: h.last_hash,
      lastAt: Number(h.last_at_ms),
      state: {
        balances: bal.rows.map((b) => [b.actor, b.resource, String(b.amount)] as [string, string, string]),
        policy: pol.rows[0]?.policy ?? policyToJson(new MemoryWorld().policy),
        breaker: { open: br.open, reason: br.reason, by: br.set_by },
        offers: offers.rows,
        minted: Object.fromEntries(sums.rows.map((s) => [s.resource, s.minted])),
        burned: Object.fromEntries(sums.rows.map((s) => [s.resource, s.burned])),
      },
    };
  });
}

/** sha256 of the checkpoint state's canonical JSON: the same for the object written and the jsonb read back. */
export function checkpointChecksum(state: CheckpointState): string {
  return createHash('sha256').update(canonicalJson(state)).digest('hex');
}

export async function loadCheckpoint(db: Queryable): Promise<{ entryId: bigint; headHash: string; state: CheckpointState } | null> {
  const r = await db.query<any>(`SELECT entry_id, encode(head_hash, 'hex') AS head_hash, state::text AS state, checksum FROM checkpoints ORDER BY entry_id DESC, id DESC LIMIT 1`);
  if (!r.rows.length) return null;
  const row = r.rows[0];
  const state = JSON.parse(row.state) as CheckpointState;
  // jsonb reorders keys (nested ones too), so the checksum is over canonical JSON. Checkpoints
  // written before that carry a checksum over the top-level key order; it is still accepted.
  const legacy = JSON.stringify({ balances: state.balances, policy: state.policy, breaker: state.breaker, offers: state.offers, minted: state.minted, burned: state.burned, last_at_ms: state.last_at_ms });
  if (checkpointChecksum(state) !== row.checksum && createHash('sha256').update(legacy).digest('hex') !== row.checksum) {
    throw new GridError('CHAIN_BROKEN', `checkpoint at entry ${row.entry_id} fails its checksum; replay from row 0 instead`);
  }
  return { entryId: BigInt(row.entry_id), headHash: row.head_hash, state };
}

export function restoreState(world: MemoryWorld, s: CheckpointState, minted: Map<string, bigint>, burned: Map<string, bigint>) {
  for (const [a, r, v] of s.balances) world.setBalance(a, r, BigInt(v));
  world.policy = policyFromJson(s.policy);
  world.breaker = { ...s.breaker };
  for (const o of s.offers as any[]) {
    world.offers.set(o.offer_id, offerFromRow(o));
  }
  for (const [r, v] of Object.entries(s.minted)) minted.set(r, BigInt(v));
  for (const [r, v] of Object.entries(s.burned)) burned.set(r, BigInt(v));
}
