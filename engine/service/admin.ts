/**
 * God mode that never writes around the ledger. Each admin action is a proposal through the one
 * writer, judged by the law, plus an admin_audit row naming the human who asked.
 *
 *   balance-override  set an actor's balance to a target: a mint (up) or burn (down) of the
 *                     difference. The law lets only system/governor mint or burn, so the proposal
 *                     is made by the `system` actor and its reasoning names the human
 *                     ("admin override by council: …"); the audit row says the same.
 *                     Not atomic with the read: if the balance moves between the read and the
 *                     write, the result is off by that movement (reported as before/delta).
 *   credit-reset      the same for one resource (credits) over many actors, in one batch.
 *   breaker           a breaker_set by the human actor itself (the law: only humans close it).
 *
 * Idempotency: a client-supplied proposal_id (or reset_id) already decided is answered from the
 * ledger instead of being applied again.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod/v4';
import type { Db } from '../../db/adapter';
import type { ApplyResult, LedgerWriter } from '../../db/writer';
import { AmountSchema, IdSchema, ProposalIdSchema } from '../../validator';
import { LIMITS } from '../../validator/limits';
import { deterministicId } from '../scenario';
import { HttpError } from './http';

const Reason = z.string().trim().min(1).max(LIMITS.http.maxAdminReasonChars);
const Target = AmountSchema.refine((v) => v >= 0n, { message: 'the target balance must not be negative' });

export const BalanceOverrideSchema = z.strictObject({ actor: IdSchema, resource: IdSchema, amount: Target, reason: Reason, proposal_id: ProposalIdSchema.optional() });
export const CreditResetSchema = z.strictObject({
  amount: Target,
  resource: IdSchema.default('credits'),
  actors: z.array(IdSchema).min(1).max(LIMITS.http.maxAdminActors).optional(),
  reason: Reason,
  reset_id: ProposalIdSchema.optional(),
});
export const BreakerSchema = z.strictObject({ open: z.boolean(), reason: Reason, proposal_id: ProposalIdSchema.optional() });

export interface AdminContext {
  db: Db;
  writer: LedgerWriter;
  /** The registered human the request acts for (x-grid-actor header or GRID_HUMAN_ACTOR). */
  human: string;
}

export interface AdminAnswer {
  status: number;
  body: Record<string, unknown>;
}

export function parseAdmin<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const r = schema.safeParse(body);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new HttpError(400, 'INVALID_REQUEST', `${first?.path.join('.') || 'body'}: ${first?.message ?? 'invalid'}`.slice(0, 300));
  }
  return r.data;
}

export async function requireHuman(db: Db, id: string): Promise<void> {
  const r = await db.query<{ kind: string }>('SELECT kind FROM actors WHERE id = $1', [id]);
  if (r.rows[0]?.kind !== 'human') throw new HttpError(400, 'ADMIN_ACTOR_INVALID', `${id} is not a registered human actor; admin actions are taken on behalf of a human`);
}

async function systemActor(db: Db): Promise<string> {
  const r = await db.query<{ id: string }>(`SELECT id FROM actors WHERE kind = 'system' ORDER BY id LIMIT 1`);
  if (!r.rows[0]) throw new HttpError(503, 'NOT_INITIALIZED', 'no system actor is registered: run grid init');
  return r.rows[0].id;
}

async function audit(db: Db, human: string, action: string, details: Record<string, unknown>): Promise<string> {
  const r = await db.query<{ id: bigint }>(`INSERT INTO admin_audit (actor, action, details) VALUES ($1, $2, $3::jsonb) RETURNING id`, [
    human,
    action,
    JSON.stringify(details, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)),
  ]);
  return String(r.rows[0]!.id);
}

/** Entries already recorded for an id (idempotent replays of an admin request). */
async function decided(db: Db, ids: string[]): Promise<Map<string, unknown[]>> {
  const r = await db.query<any>(
    `SELECT proposal_id::text AS proposal_id, id::text AS id, kind, from_actor AS "from", to_actor AS "to", resource, amount::text AS amount
     FROM ledger WHERE proposal_id = ANY($1::uuid[]) ORDER BY id`,
    [ids],
  );
  const m = new Map<string, unknown[]>();
  for (const row of r.rows) (m.get(row.proposal_id) ?? m.set(row.proposal_id, []).get(row.proposal_id)!).push(row);
  return m;
}

async function balanceOf(db: Db, actor: string, resource: string): Promise<bigint> {
  const r = await db.query<{ amount: bigint }>('SELECT amount FROM balances WHERE actor = $1 AND resource = $2', [actor, resource]);
  return r.rows.length ? BigInt(r.rows[0]!.amount) : 0n;
}

function adjustment(id: string, system: string, actor: string, resource: string, delta: bigint, reasoning: string): Record<string, unknown> {
  return delta > 0n
    ? { kind: 'mint', proposal_id: id, agent: system, to: actor, resource, amount: delta.toString(), reasoning }
    : { kind: 'burn', proposal_id: id, agent: system, from: actor, resource, amount: (-delta).toString(), reasoning };
}

const outcome = (r: ApplyResult) =>
  r.status === 'applied'
    ? { status: 'applied', duplicate: r.duplicate, proposal_id: r.proposal_id, entries: r.entries }
    : { status: 'rejected', duplicate: r.duplicate, proposal_id: r.proposal_id, code: r.code, message: r.message, details: r.details };

const httpStatus = (r: ApplyResult) => (r.status === 'applied' ? 200 : r.code === 'ID_CONFLICT' ? 409 : 422);

export async function balanceOverride(ctx: AdminContext, body: unknown): Promise<AdminAnswer> {
  const req = parseAdmin(BalanceOverrideSchema, body);
  if (req.proposal_id) {
    const prior = (await decided(ctx.db, [req.proposal_id.toLowerCase()])).get(req.proposal_id.toLowerCase());
    if (prior) return { status: 200, body: { status: 'applied', duplicate: true, proposal_id: req.proposal_id.toLowerCase(), entries: prior } };
  }
  const [system, before] = await Promise.all([systemActor(ctx.db), balanceOf(ctx.db, req.actor, req.resource)]);
  const delta = req.amount - before;
  const base = { human: ctx.human, actor: req.actor, resource: req.resource, before: before.toString(), target: req.amount.toString(), delta: delta.toString(), reason: req.reason };
  if (delta === 0n) {
    const auditId = await audit(ctx.db, ctx.human, 'admin.balance_override', { ...base, outcome: 'noop' });
    return { status: 200, body: { status: 'noop', ...base, audit_id: auditId } };
  }
  const id = req.proposal_id?.toLowerCase() ?? randomUUID();
  const res = await ctx.writer.apply(adjustment(id, system, req.actor, req.resource, delta, `admin override by ${ctx.human}: ${req.reason}`));
  const auditId = await audit(ctx.db, ctx.human, 'admin.balance_override', { ...base, proposed_as: system, result: outcome(res) });
  return { status: httpStatus(res), body: { ...outcome(res), ...base, proposed_as: system, audit_id: auditId } };
}

export async function creditReset(ctx: AdminContext, body: unknown): Promise<AdminAnswer> {
  const req = parseAdmin(CreditResetSchema, body);
  const resetId = req.reset_id?.toLowerCase() ?? randomUUID();
  const actors = req.actors ?? (await ctx.db.query<{ id: string }>(`SELECT id FROM actors WHERE kind = 'agent' ORDER BY id LIMIT $1`, [LIMITS.http.maxAdminActors])).rows.map((r) => r.id);
  const ids = new Map(actors.map((a) => [a, deterministicId('admin', 'credit-reset', resetId, a)]));
  const prior = await decided(ctx.db, [...ids.values()]);
  const system = await systemActor(ctx.db);
  const held = await ctx.db.query<{ actor: string; amount: bigint }>('SELECT actor, amount FROM balances WHERE resource = $1 AND actor = ANY($2::text[])', [req.resource, actors]);
  const balances = new Map(held.rows.map((r) => [r.actor, BigInt(r.amount)]));
  const results: Array<Record<string, unknown>> = [];
  const proposals: Array<{ actor: string; before: bigint; p: Record<string, unknown> }> = [];
  for (const a of actors) {
    const id = ids.get(a)!;
    if (prior.has(id)) {
      results.push({ actor: a, status: 'applied', duplicate: true, proposal_id: id, entries: prior.get(id) });
      continue;
    }
    const before = balances.get(a) ?? 0n;
    const delta = req.amount - before;
    if (delta === 0n) results.push({ actor: a, status: 'noop', before: before.toString() });
    else proposals.push({ actor: a, before, p: adjustment(id, system, a, req.resource, delta, `admin credit reset ${resetId} by ${ctx.human}: ${req.reason}`) });
  }
  const applied = await ctx.writer.applyBatch(proposals.map((x) => x.p));
  applied.forEach((r, i) => results.push({ actor: proposals[i]!.actor, before: proposals[i]!.before.toString(), ...outcome(r) }));
  const rejected = results.filter((r) => r.status === 'rejected').length;
  const summary = { human: ctx.human, reset_id: resetId, resource: req.resource, target: req.amount.toString(), reason: req.reason, proposed_as: system, actors: actors.length, rejected };
  const auditId = await audit(ctx.db, ctx.human, 'admin.credit_reset', { ...summary, results });
  return { status: rejected ? 422 : 200, body: { status: rejected ? 'partially_rejected' : 'applied', ...summary, results, audit_id: auditId } };
}

export async function setBreaker(ctx: AdminContext, body: unknown): Promise<AdminAnswer> {
  const req = parseAdmin(BreakerSchema, body);
  const id = req.proposal_id?.toLowerCase() ?? randomUUID();
  const res = await ctx.writer.apply({ kind: 'breaker_set', proposal_id: id, agent: ctx.human, open: req.open, reason: req.reason, reasoning: `admin API request by ${ctx.human}` });
  const auditId = await audit(ctx.db, ctx.human, req.open ? 'admin.breaker_open' : 'admin.breaker_close', { human: ctx.human, reason: req.reason, result: outcome(res) });
  return { status: httpStatus(res), body: { ...outcome(res), open: req.open, audit_id: auditId } };
}
