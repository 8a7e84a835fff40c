/**
 * Everything the bridge reads, and only from the read views (0001 world_state, 0005 *_feed,
 * breaker_state, chain_head, ...): never the tables the writer owns, never a write. Rows become
 * JSON-safe objects here (ids and amounts as decimal strings, times as ISO text plus epoch ms).
 */
import type { Queryable, Db } from '../db/adapter';
import type { LedgerEntry, ActorKind } from '../validator/types';
import { MemoryWorld, policyToJson } from '../validator';
import type { WorldSnapshot } from '../engine/world-state';
import type { PageQuery } from './http';

export interface LedgerRow {
  id: string; proposal_id: string; leg: number; kind: string; agent: string;
  from: string | null; to: string | null; resource: string | null; amount: string | null;
  executed_at: string; at_ms: number; validator_version: string;
  metadata: Record<string, unknown>; prev_hash: string; hash: string;
}

export interface RejectionRow {
  id: string; proposal_id: string | null; agent: string | null; kind: string | null;
  code: string; message: string; details: Record<string, unknown>; validator_version: string;
  rejected_at: string; at_ms: number;
  from: string | null; to: string | null; resource: string | null; amount: string | null; reasoning: string | null;
}

export interface AlertRow {
  id: string; topic: string; key: string; created_at: string; at_ms: number;
  code: string | null; message: string | null; agent: string | null; breaker_open: boolean | null;
  deliveries: Record<string, string>;
}

export interface BreakerState {
  open: boolean; reason: string; set_by: string | null; entry_id: string | null; set_at: string | null;
}

export interface ChainHead { last_id: string; head_hash: string; last_at: string | null }

const iso = (ms: unknown) => new Date(Number(ms)).toISOString();
const str = (v: unknown) => (v === null || v === undefined ? null : String(v));
const obj = (v: unknown): Record<string, any> => (typeof v === 'string' ? JSON.parse(v) : (v as Record<string, any>) ?? {});

const LEDGER_COLS = `id, proposal_id, leg, kind, agent, from_actor, to_actor, resource, amount, validator_version,
  at_ms, metadata, prev_hash, hash`;
const REJECTION_COLS = `id, proposal_id, agent, kind, code, message, details, validator_version, at_ms,
  from_actor, to_actor, resource, amount, reasoning`;
const ALERT_COLS = 'id, topic, key, at_ms, code, message, agent, breaker_open, deliveries';

export function ledgerRow(r: any): LedgerRow {
  return {
    id: String(r.id), proposal_id: r.proposal_id, leg: Number(r.leg), kind: r.kind, agent: r.agent,
    from: r.from_actor, to: r.to_actor, resource: r.resource, amount: str(r.amount),
    executed_at: iso(r.at_ms), at_ms: Number(r.at_ms), validator_version: r.validator_version,
    metadata: obj(r.metadata), prev_hash: r.prev_hash, hash: r.hash,
  };
}

/** The same row as the telemetry fold wants it (bigint id and amount). */
export function ledgerEntry(r: LedgerRow): LedgerEntry {
  return {
    id: BigInt(r.id), proposal_id: r.proposal_id, leg: r.leg, kind: r.kind as LedgerEntry['kind'], agent: r.agent,
    from: r.from, to: r.to, resource: r.resource, amount: r.amount === null ? null : BigInt(r.amount),
    executed_at: r.at_ms, validator_version: r.validator_version, proposal_hash: '', metadata: r.metadata,
    prev_hash: r.prev_hash, hash: r.hash,
  };
}

export function rejectionRow(r: any): RejectionRow {
  return {
    id: String(r.id), proposal_id: r.proposal_id, agent: r.agent, kind: r.kind, code: r.code, message: r.message,
    details: obj(r.details), validator_version: r.validator_version, rejected_at: iso(r.at_ms), at_ms: Number(r.at_ms),
    from: r.from_actor, to: r.to_actor, resource: r.resource, amount: r.amount, reasoning: r.reasoning,
  };
}

export function alertRow(r: any): AlertRow {
  return {
    id: String(r.id), topic: r.topic, key: r.key, created_at: iso(r.at_ms), at_ms: Number(r.at_ms),
    code: r.code, message: r.message, agent: r.agent, breaker_open: r.breaker_open, deliveries: obj(r.deliveries),
  };
}

/** One recorded artifact call (a row of the `invocations` registry, 0006). */
export interface InvocationRow {
  entry_id: bigint; call_id: number; parent_call_id: number | null; artifact_id: string;
  caller: string; invoker: string; owner: string | null; success: boolean; at_ms: number;
}

/**
 * Calls recorded after (entry, call), in key order, at most `limit`, and only of ledger entries
 * ≤ `upTo` (the tail's contiguous prefix), so a row is never skipped by a cursor that ran ahead.
 * WHY the table and not a view: 0006 has no per-call view (invoke_edges aggregates away the
 * invoker and the time); grid_reader holds SELECT on it and the bridge only reads it.
 */
export async function invocationsAfter(db: Queryable, after: { entry: bigint; call: number }, upTo: bigint, limit: number): Promise<InvocationRow[]> {
  const r = await db.query<any>(
    `SELECT entry_id, call_id, parent_call_id, artifact_id, caller, invoker, owner, type, at_ms FROM invocations
     WHERE (entry_id, call_id) > ($1::bigint, $2::int) AND entry_id <= $3 ORDER BY entry_id, call_id LIMIT $4`,
    [after.entry, after.call, upTo, limit],
  );
  return r.rows.map((x) => ({
    entry_id: BigInt(x.entry_id), call_id: Number(x.call_id), parent_call_id: x.parent_call_id === null ? null : Number(x.parent_call_id),
    artifact_id: x.artifact_id, caller: x.caller, invoker: x.invoker, owner: x.owner, success: x.type === 'INVOKE_SUCCESS', at_ms: Number(x.at_ms),
  }));
}

/** Rows with id > after (ascending), at most `limit`. The tail and forward pages use this. */
export async function ledgerAfter(db: Queryable, after: bigint, limit: number): Promise<LedgerRow[]> {
  const r = await db.query(`SELECT ${LEDGER_COLS} FROM ledger_feed WHERE id > $1 ORDER BY id LIMIT $2`, [after, limit]);
  return r.rows.map(ledgerRow);
}

/**
 * Rows of a sequence-numbered feed past `after`, plus specific ids still missing (tail.ts holes).
 * Two statements, not one `id > $1 OR id = ANY($2)`: Postgres cannot bound an index range scan by
 * an OR, and that form was measured to walk the whole outbox index on every poll.
 */
async function since<T extends { id: string }>(db: Queryable, view: string, cols: string, after: bigint, holes: bigint[], limit: number, map: (r: any) => T): Promise<T[]> {
  const next = (await db.query(`SELECT ${cols} FROM ${view} WHERE id > $1 ORDER BY id LIMIT $2`, [after, limit])).rows.map(map);
  if (!holes.length) return next;
  const late = (await db.query(`SELECT ${cols} FROM ${view} WHERE id = ANY($1::bigint[])`, [holes.map(String)])).rows.map(map);
  return [...late.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1)), ...next];
}

export const rejectionsSince = (db: Queryable, after: bigint, holes: bigint[], limit: number) =>
  since(db, 'rejection_feed', REJECTION_COLS, after, holes, limit, rejectionRow);
export const alertsSince = (db: Queryable, after: bigint, holes: bigint[], limit: number) =>
  since(db, 'alert_feed', ALERT_COLS, after, holes, limit, alertRow);

/** One keyset page of a feed view; fetches limit+1 rows to know whether more exist. */
async function page<T>(db: Queryable, view: string, cols: string, p: PageQuery, map: (r: any) => T, where = '', params: unknown[] = []) {
  const cond: string[] = where ? [where] : [];
  const args = [...params];
  if (p.order === 'asc') {
    args.push(p.after);
    cond.push(`id > $${args.length}`);
  } else if (p.before !== undefined) {
    args.push(p.before);
    cond.push(`id < $${args.length}`);
  }
  args.push(p.limit + 1);
  const sql = `SELECT ${cols} FROM ${view} ${cond.length ? 'WHERE ' + cond.join(' AND ') : ''}
    ORDER BY id ${p.order === 'asc' ? 'ASC' : 'DESC'} LIMIT $${args.length}`;
  const rows = (await db.query(sql, args)).rows;
  return { rows: rows.slice(0, p.limit).map(map), hasMore: rows.length > p.limit };
}

export const ledgerPage = (db: Queryable, p: PageQuery) => page(db, 'ledger_feed', LEDGER_COLS, p, ledgerRow);
export const rejectionPage = (db: Queryable, p: PageQuery, code?: string) =>
  code ? page(db, 'rejection_feed', REJECTION_COLS, p, rejectionRow, 'code = $1', [code]) : page(db, 'rejection_feed', REJECTION_COLS, p, rejectionRow);
export const alertPage = (db: Queryable, p: PageQuery) => page(db, 'alert_feed', ALERT_COLS, p, alertRow);

export async function readBreaker(db: Queryable): Promise<BreakerState> {
  const b = (await db.query<any>('SELECT open, reason, set_by, entry_id, set_at_ms FROM breaker_state')).rows[0];
  if (!b) return { open: false, reason: 'genesis', set_by: null, entry_id: null, set_at: null };
  return { open: b.open, reason: b.reason, set_by: b.set_by, entry_id: str(b.entry_id), set_at: b.set_at_ms === null ? null : iso(b.set_at_ms) };
}

export async function readHead(db: Queryable): Promise<ChainHead> {
  const h = (await db.query<any>('SELECT last_id, head_hash, last_at_ms FROM chain_head')).rows[0];
  return { last_id: String(h?.last_id ?? 0), head_hash: h?.head_hash ?? '', last_at: h && Number(h.last_at_ms) > 0 ? iso(h.last_at_ms) : null };
}

export async function readActors(db: Queryable): Promise<Array<{ id: string; kind: ActorKind }>> {
  return (await db.query<{ id: string; kind: ActorKind }>('SELECT id, kind FROM actor_registry ORDER BY id')).rows;
}

export async function readBalances(db: Queryable) {
  const r = await db.query<any>('SELECT actor, actor_kind, resource, amount FROM world_state WHERE amount <> 0 ORDER BY actor, resource');
  return r.rows.map((b) => ({ actor: b.actor as string, actor_kind: b.actor_kind as ActorKind | null, resource: b.resource as string, amount: String(b.amount) }));
}

/**
 * The world as one consistent document, the same shape as engine/world-state.ts produces (so
 * `worldFromSnapshot` accepts it), read from views inside one read-only snapshot transaction.
 */
export async function readWorld(db: Db): Promise<WorldSnapshot> {
  return db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const head = await readHead(tx);
    const actors = await tx.query<any>('SELECT id, kind FROM actor_registry ORDER BY id');
    const resources = await tx.query<any>('SELECT id, unit FROM resource_registry ORDER BY id');
    const balances = await readBalances(tx);
    const policy = await tx.query<any>('SELECT policy FROM current_policy');
    const breaker = await readBreaker(tx);
    const offers = await tx.query<any>('SELECT * FROM open_offers ORDER BY offer_id LIMIT 1000');
    const bal: WorldSnapshot['balances'] = {};
    for (const b of balances) (bal[b.actor] ??= {})[b.resource] = b.amount;
    return {
      as_of: { ledger_id: head.last_id, head_hash: head.head_hash, at: head.last_at ?? new Date(0).toISOString() },
      actors: actors.rows,
      resources: resources.rows,
      balances: bal,
      policy: policy.rows[0] ? obj(policy.rows[0].policy) : policyToJson(new MemoryWorld().policy),
      breaker: { open: breaker.open, reason: breaker.reason, by: breaker.set_by },
      open_offers: offers.rows.map((o) => ({
        offer_id: o.offer_id, maker: o.maker,
        give: { resource: o.give_resource, amount: String(o.give_amount) },
        want: { resource: o.want_resource, amount: String(o.want_amount) },
        counterparty: o.counterparty, expires_at: o.expires_at_ms === null ? null : Number(o.expires_at_ms),
      })),
    };
  });
}

/** Who the bridge is connected as, and whether that role could write anything in the schema. */
export async function readRole(db: Queryable): Promise<{ role: string; can_write: boolean }> {
  const r = await db.query<any>(
    `SELECT current_user AS role, EXISTS (
       SELECT 1 FROM pg_tables t WHERE t.schemaname = current_schema()
         AND has_table_privilege(current_user, format('%I.%I', t.schemaname, t.tablename), 'INSERT, UPDATE, DELETE, TRUNCATE')
     ) AS can_write`,
  );
  return { role: r.rows[0].role, can_write: r.rows[0].can_write };
}
