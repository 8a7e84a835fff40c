/**
 * The one path by which state changes: proposal → validation → atomic append.
 *
 * A batch is one transaction: load the touched state under the chain-head lock, decide each
 * proposal in order against the state left by the ones before it (a rejection does not abort the
 * others), append the accepted entries with the hash chain, apply deltas to the balance cache,
 * record rejections and their alerts (outbox), move the head, commit. Nothing is acknowledged
 * before the commit returns, so a crash at any instant loses nothing acknowledged.
 *
 * `apply` (one proposal) goes through a group-commit queue: concurrent callers share a
 * transaction, each still decided and answered on its own. That is the fast path under load and
 * costs nothing when idle.
 *
 * Idempotency (client-generated ids, as in TigerBeetle): a proposal_id is final once decided.
 * The same id with the same content is answered with the original outcome (duplicate: true) and
 * writes nothing; the same id with other content is rejected with ID_CONFLICT.
 */
import {
  parseProposal,
  decide,
  canonicalJson,
  reject,
  LIMITS,
  LAW_VERSION,
  DEFAULT_POLICY,
  policyToJson,
  type Proposal,
  type Policy,
  type Effect,
  type Rejection,
} from '../validator';
import type { Db, Tx } from './adapter';
import { entryHash, sha256Hex } from './hash';
import { loadState, type Decided } from './load';
import { GridError } from './errors';

export interface EntrySummary {
  id: string;
  leg: number;
  kind: string;
  from: string | null;
  to: string | null;
  resource: string | null;
  amount: string | null;
  hash: string;
}

export interface AppliedResult {
  status: 'applied';
  proposal_id: string;
  duplicate: boolean;
  entries: EntrySummary[];
  validator_version: string;
}

export interface RejectedResult {
  status: 'rejected';
  proposal_id: string | null;
  duplicate: boolean;
  code: string;
  message: string;
  details?: Record<string, unknown>;
  validator_version: string;
}

export type ApplyResult = AppliedResult | RejectedResult;

export interface WriterOptions {
  /** Decision clock in ms (tests inject one). Never moves the chain's time backwards. */
  clock?: () => number;
  /** Stamped on every row; defaults to the law this build was compiled with. */
  validatorVersion?: string;
}

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

interface Prepared {
  raw: unknown;
  proposal: Proposal | null;
  malformed: Rejection | null;
  proposalId: string | null;
  hash: string;
}

interface Row {
  id: bigint;
  proposal_id: string;
  leg: number;
  agent: string;
  executed_at: number;
  proposal_hash: string;
  prev_hash: string;
  hash: string;
  e: Effect;
}

export class LedgerWriter {
  private readonly clock: () => number;
  readonly validatorVersion: string;
  private policyHint: Policy = DEFAULT_POLICY;
  private queue: Array<{ input: unknown; resolve: (r: ApplyResult) => void; reject: (e: unknown) => void }> = [];
  private draining = false;

  constructor(
    private readonly db: Db,
    opts: WriterOptions = {},
  ) {
    this.clock = opts.clock ?? Date.now;
    this.validatorVersion = opts.validatorVersion ?? LAW_VERSION;
  }

  /** Decide and record one proposal. Shares a transaction with concurrent callers. */
  apply(input: unknown): Promise<ApplyResult> {
    if (this.queue.length >= LIMITS.ledger.maxQueue) {
      return Promise.reject(new GridError('QUEUE_FULL', `the writer queue holds ${LIMITS.ledger.maxQueue} proposals; retry later`));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, LIMITS.ledger.maxBatch);
        try {
          const results = await this.applyBatch(batch.map((b) => b.input));
          batch.forEach((b, i) => b.resolve(results[i]));
        } catch (e) {
          batch.forEach((b) => b.reject(e));
        }
      }
    } finally {
      this.draining = false;
    }
  }

  /** Decide and record many proposals in one transaction, in order. The fast path. */
  async applyBatch(inputs: unknown[]): Promise<ApplyResult[]> {
    if (inputs.length === 0) return [];
    if (inputs.length > LIMITS.ledger.maxBatch) {
      const out: ApplyResult[] = [];
      for (let i = 0; i < inputs.length; i += LIMITS.ledger.maxBatch) out.push(...(await this.applyBatch(inputs.slice(i, i + LIMITS.ledger.maxBatch))));
      return out;
    }
    const prepared = inputs.map(prepare);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction((tx) => this.decideAndWrite(tx, prepared));
      } catch (e: any) {
        // Serialization failures and deadlocks are safe to retry: the transaction wrote nothing.
        if ((e?.code === '40001' || e?.code === '40P01') && attempt < LIMITS.ledger.maxTxRetries) continue;
        throw e;
      }
    }
  }

  private async decideAndWrite(tx: Tx, prepared: Prepared[]): Promise<ApplyResult[]> {
    const proposals = prepared.flatMap((p) => (p.proposal ? [p.proposal] : []));
    const extraIds = prepared.flatMap((p) => (!p.proposal && p.proposalId ? [p.proposalId] : []));
    const st = await loadState(tx, proposals, extraIds, this.clock(), this.policyHint);
    const world = st.world;
    this.policyHint = world.policy;
    const now = world.now;
    const decided = st.decided;
    const rows: Row[] = [];
    const rejections: Array<{ p: Prepared; r: Rejection; agent: string | null; kind: string | null }> = [];
    const results: ApplyResult[] = [];
    const dupApplied: Array<{ index: number; proposal_id: string }> = [];
    const policies = new Map<number, Policy>();
    let lastId = st.lastId;
    let lastHash = st.lastHash;
    const vv = this.validatorVersion;

    for (const p of prepared) {
      const prior = p.proposalId ? decided.get(p.proposalId) : undefined;
      if (prior) {
        if (prior.proposal_hash !== p.hash) {
          const r = reject('ID_CONFLICT', `proposal_id ${p.proposalId} was already decided for different content`, {
            conflicting_proposal_id: p.proposalId,
          });
          rejections.push({ p: { ...p, proposalId: null }, r, agent: p.proposal?.agent ?? null, kind: p.proposal?.kind ?? null });
          results.push({ status: 'rejected', proposal_id: p.proposalId, duplicate: false, code: r.code, message: r.message, details: r.details, validator_version: vv });
        } else if (prior.outcome === 'applied') {
          dupApplied.push({ index: results.length, proposal_id: p.proposalId! });
          results.push({ status: 'applied', proposal_id: p.proposalId!, duplicate: true, entries: [], validator_version: vv });
        } else {
          results.push(rejectedFromPrior(prior));
        }
        continue;
      }
      const decision = p.malformed ?? decide(world, p.proposal!);
      if (!decision.ok) {
        rejections.push({ p, r: decision, agent: p.proposal?.agent ?? null, kind: p.proposal?.kind ?? null });
        if (p.proposalId) {
          decided.set(p.proposalId, { proposal_id: p.proposalId, outcome: 'rejected', proposal_hash: p.hash, code: decision.code, message: decision.message, details: decision.details, validator_version: vv });
        }
        results.push({ status: 'rejected', proposal_id: p.proposalId, duplicate: false, code: decision.code, message: decision.message, details: decision.details, validator_version: vv });
        continue;
      }
      const prop = p.proposal!;
      const entries: EntrySummary[] = [];
      decision.effects.forEach((e, leg) => {
        if (leg === 0 && prop.reasoning) e = { ...e, metadata: { ...e.metadata, reasoning: prop.reasoning } };
        lastId += 1n;
        const row: Row = { id: lastId, proposal_id: prop.proposal_id, leg, agent: prop.agent, executed_at: now, proposal_hash: p.hash, prev_hash: lastHash, hash: '', e };
        row.hash = entryHash({ ...e, id: row.id, proposal_id: row.proposal_id, leg, agent: row.agent, validator_version: vv, executed_at: now, proposal_hash: p.hash, prev_hash: lastHash });
        lastHash = row.hash;
        rows.push(row);
        world.applyEffect(e, { proposal_id: prop.proposal_id, agent: prop.agent });
        if (e.kind === 'policy_set') policies.set(world.policy.version, world.policy);
        entries.push(summarize(row));
      });
      world.recordAction(prop.agent, now);
      decided.set(prop.proposal_id, { proposal_id: prop.proposal_id, outcome: 'applied', proposal_hash: p.hash });
      results.push({ status: 'applied', proposal_id: prop.proposal_id, duplicate: false, entries, validator_version: vv });
    }

    await this.write(tx, rows, rejections, now, lastId, lastHash, policies);
    if (dupApplied.length) {
      const found = await tx.query<any>(
        `SELECT proposal_id::text AS proposal_id, id, leg, kind, from_actor, to_actor, resource, amount, encode(hash, 'hex') AS hash, validator_version
         FROM ledger WHERE proposal_id = ANY($1::uuid[]) ORDER BY id`,
        [dupApplied.map((d) => d.proposal_id)],
      );
      for (const d of dupApplied) {
        const mine = found.rows.filter((r) => r.proposal_id === d.proposal_id.toLowerCase());
        const res = results[d.index] as AppliedResult;
        res.entries = mine.map((r) => summarize({ id: r.id, leg: r.leg, hash: r.hash, e: { kind: r.kind, from: r.from_actor, to: r.to_actor, resource: r.resource, amount: r.amount, metadata: {} } } as Row));
        if (mine[0]) res.validator_version = mine[0].validator_version;
      }
    }
    return results;
  }

  private async write(tx: Tx, rows: Row[], rejections: Array<{ p: Prepared; r: Rejection; agent: string | null; kind: string | null }>, now: number, lastId: bigint, lastHash: string, policies: Map<number, Policy>): Promise<void> {
    const at = new Date(now).toISOString();
    if (rows.length) {
      const deltas = new Map<string, [string, string, bigint]>();
      const add = (a: string, r: string, d: bigint) => {
        const k = `${a}\u0000${r}`;
        const cur = deltas.get(k);
        if (cur) cur[2] += d;
        else deltas.set(k, [a, r, d]);
      };
      for (const { e } of rows) {
        if (e.amount === null || e.resource === null) continue;
        if (e.from !== null) add(e.from, e.resource, -e.amount);
        if (e.to !== null) add(e.to, e.resource, e.amount);
      }
      const d = [...deltas.values()].filter((x) => x[2] !== 0n).sort((x, y) => (x[0] + '\u0000' + x[1] < y[0] + '\u0000' + y[1] ? -1 : 1));
      await tx.query(
        `WITH ins AS (
           INSERT INTO ledger (id, proposal_id, leg, kind, agent, from_actor, to_actor, resource, amount, validator_version,
                               executed_at, proposal_hash, metadata, prev_hash, hash)
           SELECT i, p, l, k, ag, f, t, r, a, $10, $11::timestamptz, ph, m::jsonb, decode(pv, 'hex'), decode(h, 'hex')
           FROM unnest($1::bigint[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[],
                       $12::text[], $13::text[], $14::text[], $15::text[]) AS x(i, p, l, k, ag, f, t, r, a, ph, m, pv, h)
         ), bal AS (
           INSERT INTO balances (actor, resource, amount)
           SELECT * FROM unnest($16::text[], $17::text[], $18::bigint[])
           ON CONFLICT (actor, resource) DO UPDATE SET amount = balances.amount + EXCLUDED.amount
         )
         UPDATE ledger_head SET last_id = $19, last_hash = decode($20, 'hex'), last_at_ms = $21`,
        [
          rows.map((r) => r.id.toString()),
          rows.map((r) => r.proposal_id),
          rows.map((r) => r.leg),
          rows.map((r) => r.e.kind),
          rows.map((r) => r.agent),
          rows.map((r) => r.e.from),
          rows.map((r) => r.e.to),
          rows.map((r) => r.e.resource),
          rows.map((r) => (r.e.amount === null ? null : r.e.amount.toString())),
          this.validatorVersion,
          at,
          rows.map((r) => r.proposal_hash),
          rows.map((r) => JSON.stringify(r.e.metadata)),
          rows.map((r) => r.prev_hash),
          rows.map((r) => r.hash),
          d.map((x) => x[0]),
          d.map((x) => x[1]),
          d.map((x) => x[2].toString()),
          lastId.toString(),
          lastHash,
          now,
        ],
      );
      await this.writeGovernance(tx, rows, policies);
    }
    if (rejections.length) {
      await tx.query(
        `WITH rej AS (
           INSERT INTO rejected_proposals (proposal_id, agent, kind, proposal, proposal_hash, code, message, details, validator_version, rejected_at)
           SELECT p, ag, k, pr::jsonb, ph, c, msg, d::jsonb, $9, $10::timestamptz
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) AS x(p, ag, k, pr, ph, c, msg, d)
           RETURNING id, proposal_id, agent, kind, proposal, code, message, details, validator_version, rejected_at
         )
         INSERT INTO outbox (topic, key, payload)
         SELECT 'rejection', COALESCE(proposal_id::text, 'rejection:' || id), to_jsonb(rej) FROM rej
         ON CONFLICT (topic, key) DO NOTHING`,
        [
          rejections.map((x) => x.p.proposalId),
          rejections.map((x) => x.agent),
          rejections.map((x) => x.kind),
          rejections.map((x) => recordableJson(x.p.raw)),
          rejections.map((x) => x.p.hash),
          rejections.map((x) => x.r.code),
          rejections.map((x) => x.r.message),
          rejections.map((x) => JSON.stringify(x.r.details ?? {})),
          this.validatorVersion,
          at,
        ],
      );
    }
  }

  /** Caches other than balances: offers, policy history, breaker (rare, so plain statements). */
  private async writeGovernance(tx: Tx, rows: Row[], policies: Map<number, Policy>): Promise<void> {
    for (const r of rows) {
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
            JSON.stringify(policyToJson(policies.get(m.version)!)),
            r.id.toString(),
            r.agent,
          ]);
          break;
        case 'breaker_set':
          await tx.query(`UPDATE breaker SET open = $1, reason = $2, set_by = $3, entry_id = $4`, [m.open, m.reason, r.agent, r.id.toString()]);
          await tx.query(`INSERT INTO outbox (topic, key, payload) VALUES ('breaker', $1, $2::jsonb) ON CONFLICT DO NOTHING`, [
            r.proposal_id,
            JSON.stringify({ entry_id: r.id.toString(), open: m.open, reason: m.reason, by: r.agent, executed_at: new Date(r.executed_at).toISOString(), validator_version: this.validatorVersion }),
          ]);
          break;
        default:
          break;
      }
    }
  }
}

function prepare(raw: unknown): Prepared {
  let size = 0;
  try {
    size = typeof raw === 'string' ? Buffer.byteLength(raw) : Buffer.byteLength(JSON.stringify(raw, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) ?? '');
  } catch {
    size = Infinity; // cyclic or otherwise unserializable input
  }
  const looseId = extractId(raw);
  if (size > LIMITS.proposal.maxBytes) {
    return { raw: { truncated: true, bytes: Number.isFinite(size) ? size : null }, proposal: null, proposalId: looseId, hash: sha256Hex(`oversize:${size}`), malformed: reject('MALFORMED', `proposal is larger than ${LIMITS.proposal.maxBytes} bytes`) };
  }
  const parsed = parseProposal(raw);
  if (!parsed.ok) {
    return { raw, proposal: null, proposalId: looseId, hash: sha256Hex(canonicalJson(typeof raw === 'string' ? raw : raw ?? null)), malformed: parsed };
  }
  const proposal = { ...parsed.proposal, proposal_id: parsed.proposal.proposal_id.toLowerCase() } as Proposal;
  return { raw, proposal, proposalId: proposal.proposal_id, hash: sha256Hex(canonicalJson(proposal)), malformed: null };
}

/** The id of a proposal that failed to parse, if it carries a usable one (for idempotency). */
function extractId(raw: unknown): string | null {
  let v = raw;
  if (typeof raw === 'string') {
    try {
      v = JSON.parse(raw);
    } catch {
      return null;
    }
  }
  const id = v && typeof v === 'object' ? (v as any).proposal_id : undefined;
  return typeof id === 'string' && UUID_RE.test(id) ? id.toLowerCase() : null;
}

/** Raw input as stored in rejected_proposals.proposal (always valid JSON). */
function recordableJson(raw: unknown): string {
  if (typeof raw === 'string') {
    try {
      return JSON.stringify(JSON.parse(raw));
    } catch {
      return JSON.stringify({ unparsed: raw.slice(0, 2048) });
    }
  }
  try {
    return JSON.stringify(raw === undefined ? null : raw, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'null';
  } catch {
    return JSON.stringify({ unserializable: true });
  }
}

function rejectedFromPrior(d: Decided): RejectedResult {
  return { status: 'rejected', proposal_id: d.proposal_id, duplicate: true, code: d.code!, message: d.message!, details: d.details, validator_version: d.validator_version! };
}

function summarize(r: Row): EntrySummary {
  return { id: r.id.toString(), leg: r.leg, kind: r.e.kind, from: r.e.from, to: r.e.to, resource: r.e.resource, amount: r.e.amount === null ? null : r.e.amount.toString(), hash: r.hash };
}
