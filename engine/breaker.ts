/**
 * The circuit breaker's automation: after each tick (or batch), look for critical levels and, if
 * any is found, trip the breaker with a `breaker_set {open: true}` proposal by the system actor
 * through the writer — so every trip is a hash-chained ledger entry saying who tripped it and why,
 * and an outbox row (topic 'breaker') for the alerts. Resetting is NOT automated: the law lets
 * only a human close the breaker (`setBreaker` with a human actor).
 *
 * Critical levels (thresholds from the current policy, `policy.breaker`):
 * - any `reserve` actor's balance of a resource below `reserve_min[resource]`;
 * - rejections above `rejection_rate_bps` of the last `rejection_window` agent decisions since the
 *   breaker was last reset — judged only once the window is full (a minimum sample, as
 *   resilience4j's minimumNumberOfCalls, so three early rejections cannot halt the grid);
 * - drift found by verify: a replay dry run finds the chain broken or the cache ≠ the ledger.
 */
import { randomUUID } from 'node:crypto';
import { LIMITS, policyFromJson, DEFAULT_POLICY, type Policy } from '../validator';
import type { Db, Queryable } from '../db/adapter';
import type { LedgerWriter, ApplyResult } from '../db/writer';
import { replay } from '../db/replay';
import { deterministicId } from './scenario';

export interface RejectionWindow {
  window: number;
  decisions: number;
  rejected: number;
  /** rejected / decisions in bps (0 when the window is not full yet). */
  bps: number;
  full: boolean;
}

export interface BreakerFindings {
  open: boolean;
  reasons: string[];
  lowReserves: Array<{ actor: string; resource: string; balance: string; min: string }>;
  rejections: RejectionWindow;
  /** Present when verify ran. */
  verify?: { chainOk: boolean; cacheMatches: boolean; headMatches: boolean; badRows: number; diffs: number };
}

export interface BreakerCheck extends BreakerFindings {
  tripped: boolean;
  /** The writer's answer to the trip proposal, when one was sent. */
  result?: ApplyResult;
}

export interface BreakerCheckOptions {
  /** Who trips: default the first actor of kind 'system'. */
  actor?: string;
  /** Run verify (a replay dry run from the latest checkpoint). Costs a ledger scan. */
  verify?: boolean;
  /** Extra key for the trip's proposal id (default: the chain head), so a retried check does not trip twice. */
  idKey?: string;
}

export async function readPolicy(db: Queryable): Promise<Policy> {
  const r = await db.query<{ policy: unknown }>('SELECT policy FROM policies ORDER BY version DESC LIMIT 1');
  return r.rows[0] ? policyFromJson(r.rows[0].policy) : DEFAULT_POLICY;
}

/** Read-only: what would trip the breaker now. */
export async function findTripReasons(db: Db, opts: { verify?: boolean } = {}): Promise<BreakerFindings> {
  const st = (await db.query<{ open: boolean; policy: unknown }>('SELECT b.open, (SELECT policy FROM policies ORDER BY version DESC LIMIT 1) AS policy FROM breaker b')).rows[0];
  const policy = st?.policy ? policyFromJson(st.policy) : DEFAULT_POLICY;
  const br = { open: Boolean(st?.open) };
  const reasons: string[] = [];

  const lowReserves: BreakerFindings['lowReserves'] = [];
  const mins = Object.entries(policy.breaker.reserve_min).sort(([a], [b]) => (a < b ? -1 : 1));
  if (mins.length) {
    const rows = await db.query<{ actor: string; resource: string; amount: bigint | null }>(
      `SELECT a.id AS actor, r.res AS resource, b.amount
       FROM actors a CROSS JOIN unnest($1::text[]) AS r(res)
       LEFT JOIN balances b ON b.actor = a.id AND b.resource = r.res
       WHERE a.kind = 'reserve' ORDER BY a.id, r.res`,
      [mins.map(([r]) => r)],
    );
    for (const row of rows.rows) {
      const bal = row.amount === null ? 0n : BigInt(row.amount);
      const min = policy.breaker.reserve_min[row.resource];
      if (bal < min) {
        lowReserves.push({ actor: row.actor, resource: row.resource, balance: bal.toString(), min: min.toString() });
        reasons.push(`reserve ${row.actor} holds ${bal} ${row.resource}, below the policy minimum of ${min}`);
      }
    }
  }

  const rejections = await rejectionWindow(db, policy.breaker.rejection_window);
  if (rejections.full && rejections.bps > policy.breaker.rejection_rate_bps) {
    reasons.push(`${rejections.rejected} of the last ${rejections.decisions} agent decisions were rejections (${rejections.bps} bps > ${policy.breaker.rejection_rate_bps} bps)`);
  }

  let verify: BreakerFindings['verify'];
  if (opts.verify) {
    const rep = await replay(db, { dryRun: true, fromCheckpoint: true, maxBadRows: 10 });
    verify = { chainOk: rep.chainOk, cacheMatches: rep.cacheMatches, headMatches: rep.headMatches, badRows: rep.badRows.length, diffs: rep.diffs.length };
    if (!rep.chainOk) reasons.push(`verify: the ledger chain is broken (${rep.badRows.map((b) => `${b.problem} at ${b.id}`).slice(0, 3).join(', ')})`);
    if (!rep.cacheMatches) {
      const d = rep.diffs[0];
      reasons.push(`verify: the balance cache differs from the ledger for ${rep.diffs.length} balance(s)${d ? ` (first: ${d.actor}/${d.resource} cache ${d.cache}, ledger ${d.ledger})` : ''}`);
    }
    if (rep.chainOk && !rep.headMatches) reasons.push('verify: the chain head cache does not match the last ledger row');
  }
  return { open: br.open, reasons, lowReserves, rejections, ...(verify ? { verify } : {}) };
}

/**
 * The last `window` agent decisions since the breaker was last reset: applied proposals by agents
 * (ledger leg 0) and rejections (an unparseable proposal has no agent and counts as an agent's).
 * Decisions in one batch share a timestamp; ties are broken rejections-first, which can only make
 * the breaker trip sooner, never later.
 */
export async function rejectionWindow(db: Queryable, window: number): Promise<RejectionWindow> {
  const r = await db.query<{ n: bigint; rejected: bigint }>(
    `WITH since AS (
       SELECT COALESCE((SELECT l.executed_at FROM breaker b JOIN ledger l ON l.id = b.entry_id), '-infinity'::timestamptz) AS t
     ), d AS (
       (SELECT l.executed_at AS at, 0 AS rejected, l.id AS seq FROM ledger l JOIN actors a ON a.id = l.agent AND a.kind = 'agent'
         WHERE l.leg = 0 AND l.executed_at > (SELECT t FROM since) ORDER BY l.id DESC LIMIT $1)
       UNION ALL
       (SELECT x.rejected_at, 1, x.id FROM rejected_proposals x LEFT JOIN actors a ON a.id = x.agent
         WHERE (a.kind IS NULL OR a.kind = 'agent') AND x.rejected_at > (SELECT t FROM since) ORDER BY x.id DESC LIMIT $1)
     )
     SELECT count(*)::bigint AS n, COALESCE(sum(rejected), 0)::bigint AS rejected
     FROM (SELECT rejected FROM d ORDER BY at DESC, rejected DESC, seq DESC LIMIT $1) w`,
    [window],
  );
  const decisions = Number(r.rows[0].n);
  const rejected = Number(r.rows[0].rejected);
  const full = decisions >= window;
  return { window, decisions, rejected, full, bps: full && decisions ? Math.floor((rejected * 10_000) / decisions) : 0 };
}

/** Check and, if a critical level is found and the breaker is closed, trip it through the writer. */
export async function checkBreaker(db: Db, writer: LedgerWriter, opts: BreakerCheckOptions = {}): Promise<BreakerCheck> {
  // Already open: there is nothing to trip, so do not pay for the scans.
  const cur = (await db.query<{ open: boolean }>('SELECT open FROM breaker')).rows[0];
  if (cur?.open) return { open: true, tripped: false, reasons: [], lowReserves: [], rejections: { window: 0, decisions: 0, rejected: 0, bps: 0, full: false } };
  const f = await findTripReasons(db, { verify: opts.verify });
  if (f.open || f.reasons.length === 0) return { ...f, tripped: false };
  const actor = opts.actor ?? (await systemActor(db));
  const head = (await db.query<{ last_id: string }>('SELECT last_id::text AS last_id FROM ledger_head')).rows[0]?.last_id ?? '0';
  const reason = `automatic trip: ${f.reasons.join('; ')}`.slice(0, LIMITS.loop.maxTripReasonChars);
  const result = await setBreaker(writer, { actor, open: true, reason, proposalId: deterministicId('breaker-trip', opts.idKey ?? head) });
  return { ...f, open: result.status === 'applied' ? true : f.open, tripped: result.status === 'applied' && !result.duplicate, result };
}

/** A manual trip or reset. The law decides: only humans may reset (open: false). */
export function setBreaker(writer: LedgerWriter, o: { actor: string; open: boolean; reason: string; proposalId?: string }): Promise<ApplyResult> {
  return writer.apply({
    proposal_id: o.proposalId ?? randomUUID(),
    kind: 'breaker_set',
    agent: o.actor,
    open: o.open,
    reason: o.reason,
  });
}

export async function systemActor(db: Queryable): Promise<string> {
  const r = await db.query<{ id: string }>(`SELECT id FROM actors WHERE kind = 'system' ORDER BY id LIMIT 1`);
  if (!r.rows[0]) throw new Error('no actor of kind "system" is registered; run grid init first');
  return r.rows[0].id;
}
