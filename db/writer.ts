/**
 * The one path by which state changes: proposal → validation → atomic append.
 *
 * A batch is one transaction: load the touched state under the locks of the actors it names,
 * decide each proposal in order against the state left by the ones before it (a rejection does
 * not abort the others), then — under the chain-head lock, for as short a time as possible —
 * number, hash and append the accepted entries, apply deltas to the balance cache, record
 * rejections and their alerts (outbox), move the head, commit. Nothing is acknowledged
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
import { entryBody, sha256Hex } from './hash';
import { loadState, type Decided } from './load';
import { GridError } from './errors';
import { writeArtifactCache } from './artifacts';

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
  proposal_id: string;
  leg: number;
  agent: string;
  proposal_hash: string;
  /** Canonical text of the entry without id and time (db/hash.ts); hashed by grid_append. */
  body: string;
  e: Effect;
  /** Assigned by grid_append. */
  id?: bigint;
  at?: number;
}

interface RejectionRow {
  p: Prepared;
  r: Rejection;
  agent: string | null;
  kind: string | null;
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
    const policyVersion = world.policy.version;
    const breakerOpen = world.breaker.open;
    const hint = this.policyHint;
    this.policyHint = world.policy;
    if (hintWasStale(hint, world.policy, proposals)) {
      // The actors to lock depended on a policy that has changed (another writer, or a fresh
      // writer's default): retry with the real one rather than lock out of order.
      throw Object.assign(new Error('policy hint was stale'), { code: '40001' });
    }
    const decided = st.decided;
    const rows: Row[] = [];
    const rejections: RejectionRow[] = [];
    const results: ApplyResult[] = [];
    const dupApplied: Array<{ index: number; proposal_id: string }> = [];
    const policies = new Map<number, Policy>();
    const vv = this.validatorVersion;

    for (const p of prepared) {
      const prior = p.proposalId ? decided.get(p.proposalId) : undefined;
      if (prior) {
        if (prior.proposal_hash !== p.hash && p.malformed) {
          // MALFORMED precedes ID_CONFLICT: recorded without the id, which belongs to another decision.
          rejections.push({ p: { ...p, proposalId: null }, r: p.malformed, agent: null, kind: null });
          results.push({ status: 'rejected', proposal_id: p.proposalId, duplicate: false, code: p.malformed.code, message: p.malformed.message, details: p.malformed.details, validator_version: vv });
        } else if (prior.proposal_hash !== p.hash) {
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
        const body = entryBody({ ...e, proposal_id: prop.proposal_id, leg, agent: prop.agent, validator_version: vv, proposal_hash: p.hash });
        rows.push({ proposal_id: prop.proposal_id, leg, agent: prop.agent, proposal_hash: p.hash, body, e });
        world.applyEffect(e, { proposal_id: prop.proposal_id, agent: prop.agent });
        if (e.kind === 'policy_set') policies.set(world.policy.version, world.policy);
        entries.push({ id: '', leg, kind: e.kind, from: e.from, to: e.to, resource: e.resource, amount: e.amount === null ? null : e.amount.toString(), hash: '' });
      });
      world.recordAction(prop.agent, world.now);
      decided.set(prop.proposal_id, { proposal_id: prop.proposal_id, outcome: 'applied', proposal_hash: p.hash });
      results.push({ status: 'applied', proposal_id: prop.proposal_id, duplicate: false, entries, validator_version: vv });
    }

    const appended = await this.append(tx, rows, rejections, world.now, policyVersion, breakerOpen);
    // Number the new entries in chain order: ids are consecutive from first_id.
    let k = 0;
    for (const r of results) {
      if (r.status !== 'applied' || r.duplicate) continue;
      for (const e of r.entries) {
        rows[k].id = appended.firstId + BigInt(k);
        rows[k].at = appended.atMs;
        e.id = rows[k].id!.toString();
        e.hash = appended.hashes[k];
        k++;
      }
    }
    if (rows.length) await this.writeGovernance(tx, rows, policies);
    if (dupApplied.length) await this.fillDuplicates(tx, results, dupApplied);
    return results;
  }

  /** One round trip: grid_append (migration 0003) numbers, hashes and appends under the head lock. */
  private async append(tx: Tx, rows: Row[], rejections: RejectionRow[], now: number, policyVersion: number, breakerOpen: boolean) {
    const deltas = new Map<string, [string, string, bigint]>();
    for (const { e } of rows) {
      if (e.amount === null || e.resource === null) continue;
      for (const [actor, d] of [[e.from, -e.amount], [e.to, e.amount]] as Array<[string | null, bigint]>) {
        if (actor === null) continue;
        const key = `${actor}\u0000${e.resource}`;
        const cur = deltas.get(key);
        if (cur) cur[2] += d;
        else deltas.set(key, [actor, e.resource, d]);
      }
    }
    // Sorted, so concurrent upserts of balance rows always lock in the same order.
    const d = [...deltas.values()].filter((x) => x[2] !== 0n).sort((x, y) => (x[0] + '\u0000' + x[1] < y[0] + '\u0000' + y[1] ? -1 : 1));
    const r = await tx.query<{ a: any }>(
      `SELECT grid_append($1, $2, $3, $4::uuid[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[],
                          $12, $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::bigint[],
                          $19::uuid[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[], $25::text[], $26::text[]) AS a`,
      [
        policyVersion,
        breakerOpen,
        now,
        rows.map((x) => x.proposal_id),
        rows.map((x) => x.leg),
        rows.map((x) => x.e.kind),
        rows.map((x) => x.agent),
        rows.map((x) => x.e.from),
        rows.map((x) => x.e.to),
        rows.map((x) => x.e.resource),
        rows.map((x) => (x.e.amount === null ? null : x.e.amount.toString())),
        this.validatorVersion,
        rows.map((x) => x.proposal_hash),
        rows.map((x) => JSON.stringify(x.e.metadata)),
        rows.map((x) => x.body),
        d.map((x) => x[0]),
        d.map((x) => x[1]),
        d.map((x) => x[2].toString()),
        rejections.map((x) => x.p.proposalId),
        rejections.map((x) => (x.agent === null ? null : storableText(x.agent))),
        rejections.map((x) => x.kind),
        rejections.map((x) => recordableJson(x.p.raw)),
        rejections.map((x) => x.p.hash),
        rejections.map((x) => x.r.code),
        rejections.map((x) => storableText(x.r.message)),
        rejections.map((x) => JSON.stringify(storableValue(x.r.details ?? {}))),
      ],
    );
    const a = typeof r.rows[0].a === 'string' ? JSON.parse(r.rows[0].a) : r.rows[0].a;
    return { firstId: BigInt(a.first_id), atMs: Number(a.at_ms), hashes: a.hashes as string[] };
  }

  /** A duplicate of an applied proposal is answered with its original entries. */
  private async fillDuplicates(tx: Tx, results: ApplyResult[], dupApplied: Array<{ index: number; proposal_id: string }>) {
    const found = await tx.query<any>(
      `SELECT proposal_id::text AS proposal_id, id, leg, kind, from_actor, to_actor, resource, amount, encode(hash, 'hex') AS hash, validator_version
       FROM unnest($1::uuid[]) AS x(pid) JOIN ledger l ON l.proposal_id = x.pid ORDER BY l.id`,
      [dupApplied.map((d) => d.proposal_id)],
    );
    for (const d of dupApplied) {
      const mine = found.rows.filter((r) => r.proposal_id === d.proposal_id);
      const res = results[d.index] as AppliedResult;
      res.entries = mine.map((r) => ({ id: String(r.id), leg: r.leg, kind: r.kind, from: r.from_actor, to: r.to_actor, resource: r.resource, amount: r.amount === null ? null : String(r.amount), hash: r.hash }));
      if (mine[0]) res.validator_version = mine[0].validator_version;
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
            r.id!.toString(),
            r.agent,
          ]);
          break;
        case 'breaker_set':
          await tx.query(`UPDATE breaker SET open = $1, reason = $2, set_by = $3, entry_id = $4`, [m.open, m.reason, r.agent, r.id!.toString()]);
          await tx.query(`INSERT INTO outbox (topic, key, payload) VALUES ('breaker', $1, $2::jsonb) ON CONFLICT DO NOTHING`, [
            r.proposal_id,
            JSON.stringify({ entry_id: r.id!.toString(), open: m.open, reason: m.reason, by: r.agent, executed_at: new Date(r.at!).toISOString(), validator_version: this.validatorVersion }),
          ]);
          break;
        case 'artifact_write':
        case 'artifact_delete':
        case 'escrow':
        case 'invoke':
          // Artifact economy caches: artifacts, artifact_listings, invocations (db/artifacts.ts, 0006).
          await writeArtifactCache(tx, r);
          break;
        default:
          break;
      }
    }
  }
}

function hintWasStale(hint: Policy, actual: Policy, proposals: Proposal[]): boolean {
  return proposals.some(
    (p) =>
      (p.kind === 'accrue_interest' && hint.interest.resource !== actual.interest.resource) ||
      (p.kind === 'policy_set' && hint.carbon_tax.treasury !== actual.carbon_tax.treasury),
  );
}

/**
 * Untrusted text on its way into a rejection record: Postgres text/jsonb cannot hold U+0000, and
 * unpaired surrogates are not Unicode. A record of a rejected input may be altered this way (the
 * law refused it, and the proposal_hash is computed over the original); an accepted one never is.
 */
function storableText(text: string): string {
  return text.replace(/\u0000/g, '\uFFFD').toWellFormed();
}

/** Deep copy of untrusted JSON with every string (and key) made storable. */
function storableValue(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return storableText(v);
  if (typeof v === 'bigint') return v.toString();
  if (v === null || typeof v !== 'object') return v;
  if (depth > LIMITS.proposal.maxDepth) return '[too deep]';
  if (Array.isArray(v)) return v.map((x) => storableValue(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[storableText(k)] = storableValue(x, depth + 1);
  return out;
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

/** Raw input as stored in rejected_proposals.proposal (always valid, storable JSON). */
function recordableJson(raw: unknown): string {
  if (typeof raw === 'string') {
    try {
      return JSON.stringify(storableValue(JSON.parse(raw)));
    } catch {
      return JSON.stringify({ unparsed: storableText(raw.slice(0, 2048)) });
    }
  }
  try {
    return JSON.stringify(storableValue(raw === undefined ? null : raw)) ?? 'null';
  } catch {
    return JSON.stringify({ unserializable: true });
  }
}

function rejectedFromPrior(d: Decided): RejectedResult {
  return { status: 'rejected', proposal_id: d.proposal_id, duplicate: true, code: d.code!, message: d.message!, details: d.details, validator_version: d.validator_version! };
}

