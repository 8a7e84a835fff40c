/**
 * Writing a sealed batch, in one transaction: grid_commit_begin (the head it extends), the
 * entries, grid_commit_finish (balance deltas, rejections and their alerts, the new head) —
 * migration 0008. A batch of at least LIMITS.ledger.copyMinEntries entries appends them with
 * binary COPY (the bytes they were hashed over: db/entry-binary.ts), three round trips in a
 * transaction; a smaller one sends everything as arrays to grid_commit, one statement, one round
 * trip (a single proposal's latency is round trips). Then, in the slow path's transaction, the
 * caches other than balances, and the original entries for duplicates.
 */
import { policyToJson, LIMITS } from '../validator';
import type { Queryable, Tx } from './adapter';
import type { Head } from './load';
import type { Decision, AppliedResult } from './batch';
import { recordableJson, storableText, storableValue } from './prepare';
import { writeArtifactCache } from './artifacts';
import { textArray, intArray } from './pg-array';
import { COPY_COLUMNS } from './entry-binary';

const COMMIT_SQL = `SELECT grid_commit($1::uuid, $2::uuid, $3, $4::bigint, decode($5, 'hex'), $6::bigint, $7::uuid[], $8::int[], $9::text[], $10::text[], $11::text[], $12::text[],
                          $13::text[], $14::bigint[], $15, $16::text[], $17::text[], decode($18, 'hex'),
                          $19::text[], $20::text[], $21::bigint[],
                          $22::uuid[], $23::text[], $24::text[], $25::text[], $26::text[], $27::text[], $28::text[], $29::text[])`;
const BEGIN_SQL = `SELECT grid_commit_begin($1::uuid, $2::bigint, decode($3, 'hex'), $4::bigint)`;
const FINISH_SQL = `SELECT grid_commit_finish($1::uuid, $2, $3::bigint, $4::integer, decode($5, 'hex'), $6::bigint, $7,
                          $8::text[], $9::text[], $10::bigint[],
                          $11::uuid[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[])`;

/** How a sealed batch is committed: its statements' parameters, built while the previous batch is in flight on the warm path. */
export type CommitPlan =
  | { copy: false; params: unknown[] }
  | { copy: true; begin: unknown[]; data: Buffer; entries: number; finish: unknown[] };

export function commitPlan(d: Decision, before: Head, after: Head, checkIds: boolean, vv: string): CommitPlan {
  const rows = d.rows;
  // Net change per (actor, resource), keyed by resource then actor (no key string per entry).
  const deltas = new Map<string, Map<string, bigint>>();
  for (const { e } of rows) {
    if (e.amount === null || e.resource === null) continue;
    let m = deltas.get(e.resource);
    if (!m) deltas.set(e.resource, (m = new Map()));
    if (e.from !== null) m.set(e.from, (m.get(e.from) ?? 0n) - e.amount);
    if (e.to !== null) m.set(e.to, (m.get(e.to) ?? 0n) + e.amount);
  }
  const bal: Array<[string, string, bigint]> = [];
  for (const [r, m] of deltas) for (const [a, v] of m) if (v !== 0n) bal.push([a, r, v]);
  const rej = d.rejections;
  const tail = [
    textArray(bal.map((x) => x[0])),
    textArray(bal.map((x) => x[1])),
    intArray(bal.map((x) => x[2])),
    textArray(rej.map((x) => x.p.proposalId)),
    textArray(rej.map((x) => (x.agent === null ? null : storableText(x.agent)))),
    textArray(rej.map((x) => x.kind)),
    textArray(rej.map((x) => recordableJson(x.p.raw))),
    textArray(rej.map((x) => x.p.hash)),
    textArray(rej.map((x) => x.r.code)),
    textArray(rej.map((x) => storableText(x.r.message))),
    textArray(rej.map((x) => JSON.stringify(storableValue(x.r.details ?? {})))),
  ];
  const firstId = (before.lastId + 1n).toString();
  if (rows.length >= LIMITS.ledger.copyMinEntries) {
    if (!d.copy) throw new Error('commitPlan: the batch is not sealed');
    return {
      copy: true,
      begin: [before.stateVersion, firstId, before.lastHash, d.atMs],
      data: d.copy,
      entries: rows.length,
      finish: [after.stateVersion, checkIds, firstId, rows.length, rows.length ? after.lastHash : null, d.atMs, vv, ...tail],
    };
  }
  return {
    copy: false,
    params: [
      before.stateVersion,
      after.stateVersion,
      checkIds,
      firstId,
      before.lastHash,
      d.atMs,
      textArray(rows.map((x) => x.proposal_id)),
      intArray(rows.map((x) => x.leg)),
      textArray(rows.map((x) => x.e.kind)),
      textArray(rows.map((x) => x.agent)),
      textArray(rows.map((x) => x.e.from)),
      textArray(rows.map((x) => x.e.to)),
      textArray(rows.map((x) => x.e.resource)),
      intArray(rows.map((x) => x.e.amount)),
      vv,
      textArray(rows.map((x) => x.proposal_hash)),
      textArray(rows.map((x) => metadataJson(x.e.metadata))),
      rows.map((x) => x.hash).join(''),
      ...tail,
    ],
  };
}

/** The one-statement plan: grid_commit alone (outside a transaction it is its own). */
export async function commitOne(q: Queryable, plan: CommitPlan & { copy: false }): Promise<void> {
  await q.query(COMMIT_SQL, plan.params);
}

/** The COPY plan, inside the caller's transaction: begin, COPY the entries, finish. */
export async function commitCopy(tx: Tx, plan: CommitPlan & { copy: true }): Promise<void> {
  await tx.query(BEGIN_SQL, plan.begin);
  const copied = await tx.copyIn(`ledger (${COPY_COLUMNS})`, plan.data);
  if (copied !== plan.entries) throw new Error(`grid_commit: COPY appended ${copied} rows, expected ${plan.entries}`);
  await tx.query(FINISH_SQL, plan.finish);
}

/** A duplicate of an applied proposal is answered with its original entries. */
export async function fillDuplicates(q: Queryable, d: Decision): Promise<void> {
  if (!d.dupApplied.length) return;
  const found = await q.query<any>(
    `SELECT proposal_id::text AS proposal_id, id, leg, kind, from_actor, to_actor, resource, amount, encode(hash, 'hex') AS hash, validator_version
     FROM unnest($1::uuid[]) AS x(pid) JOIN ledger l ON l.proposal_id = x.pid ORDER BY l.id`,
    [[...new Set(d.dupApplied.map((x) => x.proposal_id))]], // an id resent k times must not match its rows k times
  );
  for (const x of d.dupApplied) {
    const mine = found.rows.filter((r) => r.proposal_id === x.proposal_id);
    const res = d.results[x.index] as AppliedResult;
    res.entries = mine.map((r) => ({ id: String(r.id), leg: r.leg, kind: r.kind, from: r.from_actor, to: r.to_actor, resource: r.resource, amount: r.amount === null ? null : String(r.amount), hash: r.hash }));
    if (mine[0]) res.validator_version = mine[0].validator_version;
  }
}

/** Caches other than balances: offers, policy history, breaker, artifacts (rare, so plain statements). */
export async function writeGovernance(tx: Queryable, d: Decision, vv: string): Promise<void> {
  for (const r of d.rows) {
    const m = r.e.metadata as any;
    switch (r.e.kind) {
      case 'offer':
        await tx.query(
          `INSERT INTO offers (offer_id, maker, give_resource, give_amount, want_resource, want_amount, counterparty, expires_at_ms, status)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open')`,
          [r.proposal_id, r.agent, m.give.resource, m.give.amount, m.want.resource, m.want.amount, m.counterparty, m.expires_at],
        );
        break;
      case 'swap':
        if (r.leg === 0) await tx.query(`UPDATE offers SET status = 'accepted' WHERE offer_id = $1`, [m.offer_id]);
        break;
      case 'offer_cancel':
        await tx.query(`UPDATE offers SET status = 'cancelled' WHERE offer_id = $1`, [m.offer_id]);
        break;
      case 'policy_set':
        await tx.query(`INSERT INTO policies (version, policy, entry_id, set_by) VALUES ($1, $2::jsonb, $3, $4)`, [
          m.version,
          JSON.stringify(policyToJson(d.policies.get(m.version)!)),
          r.id.toString(),
          r.agent,
        ]);
        break;
      case 'breaker_set': {
        const at = d.atMs;
        await tx.query(`UPDATE breaker SET open = $1, reason = $2, set_by = $3, entry_id = $4`, [m.open, m.reason, r.agent, r.id.toString()]);
        await tx.query(`INSERT INTO outbox (topic, key, payload) VALUES ('breaker', $1, $2::jsonb) ON CONFLICT DO NOTHING`, [
          r.proposal_id,
          JSON.stringify({ entry_id: r.id.toString(), open: m.open, reason: m.reason, by: r.agent, executed_at: new Date(at).toISOString(), validator_version: vv }),
        ]);
        break;
      }
      case 'artifact_write':
      case 'artifact_delete':
      case 'escrow':
      case 'invoke':
        // Artifact economy caches: artifacts, artifact_listings, invocations (db/artifacts.ts, 0006).
        await writeArtifactCache(tx, { ...r, at: d.atMs });
        break;
      default:
        break;
    }
  }
}

/** Metadata as stored: `{}` for the common empty case without a JSON.stringify call. */
function metadataJson(m: Record<string, unknown>): string {
  for (const _ in m) return JSON.stringify(m);
  return '{}';
}
