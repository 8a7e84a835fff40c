/**
 * The one path by which state changes: proposal → validation → atomic append.
 *
 * Every batch is decided in order against the state left by the ones before it (a rejection does
 * not abort the others), numbered and hashed onto the chain head, and appended with its balance
 * deltas, rejections and alerts (outbox) by one function, grid_commit (migration 0007), in one
 * transaction. Nothing is acknowledged before that commit returns, so a crash at any instant
 * loses nothing acknowledged. There are two ways to get the state a batch is decided against:
 *
 * - The slow path: BEGIN; grid_load takes the chain-head lock and reads the slice of state the
 *   batch names; the law decides; grid_commit; caches other than balances (offers, policy,
 *   breaker, artifacts); COMMIT. Always correct, whatever else is writing.
 * - The fast path: the writer's warm cache. After a slow batch that moved only balances the
 *   writer keeps the state it decided against (now advanced by the batch) together with the
 *   head and its state_version. A later batch whose proposals only move balances between actors
 *   the cache holds is decided against the cache and committed as ONE statement (grid_commit
 *   alone, its own transaction), which appends only if state_version is unchanged — i.e. nothing
 *   else wrote since. If anything did (another writer, an admin, a replay), or a proposal id
 *   turns out to have been decided before, grid_commit refuses, the cache is dropped, and the
 *   batch is decided again the slow way. So the cache can make a batch cheaper, never different.
 *
 * Batches are pipelined: while one fast batch is in flight, the next is decided against the
 * cache as the in-flight one will leave it, and sent when the first has committed. Decisions
 * (JavaScript) and appends (the database) thereby overlap. If the in-flight batch does not
 * commit, the speculative decision is thrown away with the cache and both are redone in order.
 *
 * `apply` (one proposal) joins a group-commit queue: callers that arrive while a batch is
 * being written share the next one, each still decided and answered on its own.
 *
 * Idempotency (client-generated ids, as in TigerBeetle): a proposal_id is final once decided.
 * The same id with the same content is answered with the original outcome (duplicate: true) and
 * writes nothing; the same id with other content is rejected with ID_CONFLICT.
 */
import { randomUUID } from 'node:crypto';
import {
  parseProposal,
  fastTransfer,
  fastTransferCanonical,
  decide,
  canonicalJson,
  reject,
  LIMITS,
  LAW_VERSION,
  DEFAULT_POLICY,
  policyToJson,
  MemoryWorld,
  type Proposal,
  type Policy,
  type Effect,
  type Rejection,
} from '../validator';
import type { Db, Queryable } from './adapter';
import { bodyText, chainHash, sha256Hex } from './hash';
import { loadState, type Decided, type Head } from './load';
import { GridError } from './errors';
import { writeArtifactCache } from './artifacts';
import { textArray, intArray } from './pg-array';

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

/** Kinds whose effects are balance movements only: the only ones the warm cache decides. */
const FAST_KINDS = new Set(['transfer', 'harvest', 'mint', 'burn']);

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
  e: Effect;
  /** Assigned when the batch is sealed onto the head. */
  id: bigint;
  hash: string;
}

interface RejectionRow {
  p: Prepared;
  r: Rejection;
  agent: string | null;
  kind: string | null;
}

/** A batch decided against some state, ready to be sealed onto a head and committed. */
interface Decision {
  rows: Row[];
  rejections: RejectionRow[];
  results: ApplyResult[];
  dupApplied: Array<{ index: number; proposal_id: string }>;
  policies: Map<number, Policy>;
  /** Whether any entry changes something besides balances (offers, policy, breaker, artifacts). */
  governance: boolean;
  /** Decision time of the batch (ms), stamped on its entries and rejections. */
  atMs: number;
}

/** The state the fast path decides against, current as of `head.stateVersion`. */
interface WarmCache {
  world: MemoryWorld;
  head: Head;
  /** Agents whose rate window the world holds. */
  windows: Set<string>;
  batches: number;
}

interface Job {
  prepared: Prepared[];
  resolve: (r: ApplyResult[]) => void;
  reject: (e: unknown) => void;
}

type Flight = { ok: true } | { ok: false; job: Job; error: unknown; retry: boolean };

/** A batch decided against the warm cache: `before` is the head it extends, `after` the one it leaves. */
interface WarmPlan {
  d: Decision;
  before: Head;
  after: Head;
  params: unknown[];
}

/** Errors after which a batch is decided again the slow way: nothing was written. */
const RETRY_SLOW = new Set(['40001', '40P01', '23505']);

export class LedgerWriter {
  private readonly clock: () => number;
  readonly validatorVersion: string;
  private policyHint: Policy = DEFAULT_POLICY;
  private cache: WarmCache | null = null;
  /** applyBatch chunks waiting to be decided, in arrival order (taken before waiting group-commit singles). */
  private jobs: Job[] = [];
  private singles: Array<{ p: Prepared; resolve: (r: ApplyResult) => void; reject: (e: unknown) => void }> = [];
  private pumping = false;
  /** Wakes a pump that waits on a batch in flight when an applyBatch chunk arrives (see pump). */
  private wake: (() => void) | null = null;
  /** The state_version this writer last committed (null before its first commit). */
  private lastVersion: string | null = null;
  /**
   * Slow batches left before the writer tries its cache again. Set when another writer is seen
   * committing: two writers invalidate each other's caches on every commit, so while both are
   * busy a cache only costs a refused attempt and a registry read per batch.
   */
  private coolDown = 0;
  /**
   * Slow batches since the last whole-registry read. A batch that changes more than balances
   * drops the cache, and reading up to LIMITS.ledger.cacheWarmActors actors after each of those
   * would make a mixed workload pay for the registry again and again; so after such a drop, at
   * most one whole read per LIMITS.ledger.warmReadEvery slow batches, and the cache grows from
   * batch slices between. (Other drops — a refused batch, contention, the size bounds — are rare
   * and rebuild with a whole read at once.)
   */
  private slowSinceWarmRead = Infinity;
  /** Whether the cache was last dropped by a slow batch that could not keep one (it changed more than balances, or writers contend). */
  private droppedByGovernance = false;
  /** Counters for tests and status output. */
  readonly stats = { fast: 0, slow: 0, fastRefused: 0 };
  /** Whole-registry reads (cacheWarmActors) so far. */
  registryReads = 0;

  constructor(
    private readonly db: Db,
    opts: WriterOptions = {},
  ) {
    this.clock = opts.clock ?? Date.now;
    this.validatorVersion = opts.validatorVersion ?? LAW_VERSION;
  }

  /** Decide and record one proposal. Shares a transaction with concurrent callers. */
  apply(input: unknown): Promise<ApplyResult> {
    if (this.singles.length >= LIMITS.ledger.maxQueue) {
      return Promise.reject(new GridError('QUEUE_FULL', `the writer queue holds ${LIMITS.ledger.maxQueue} proposals; retry later`));
    }
    const p = prepare(input);
    return new Promise((resolve, reject) => {
      this.singles.push({ p, resolve, reject });
      void this.pump();
    });
  }

  /** Decide and record many proposals, in order, LIMITS.ledger.maxBatch per transaction. The fast path. */
  async applyBatch(inputs: unknown[]): Promise<ApplyResult[]> {
    if (inputs.length === 0) return [];
    const chunks: Array<Promise<ApplyResult[]>> = [];
    for (let i = 0; i < inputs.length; i += LIMITS.ledger.maxBatch) {
      const prepared = inputs.slice(i, i + LIMITS.ledger.maxBatch).map(prepare);
      chunks.push(new Promise((resolve, reject) => this.jobs.push({ prepared, resolve, reject })));
    }
    this.wake?.();
    this.wake = null;
    void this.pump();
    return (await Promise.all(chunks)).flat();
  }

  /** Forget the warm cache (the next batch takes the slow path). Harmless at any time. */
  dropCache(): void {
    this.cache = null;
  }

  /** The next batch: a queued applyBatch chunk, else the waiting singles (group commit). */
  private nextJob(): Job | null {
    const job = this.jobs.shift();
    if (job) return job;
    if (!this.singles.length) return null;
    const taken = this.singles.splice(0, LIMITS.ledger.maxBatch);
    return {
      prepared: taken.map((s) => s.p),
      resolve: (rs) => taken.forEach((s, i) => s.resolve(rs[i])),
      reject: (e) => taken.forEach((s) => s.reject(e)),
    };
  }

  /**
   * The only loop that decides. One batch may be in flight on the fast path while the next is
   * decided; a slow batch waits for the one in flight and runs alone.
   */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    let flight: Promise<Flight> | null = null;
    try {
      for (;;) {
        const job = this.nextJob();
        if (!job) {
          if (!flight) break;
          // Nothing to decide yet. Wait for the batch in flight to settle — or for an applyBatch
          // chunk to arrive, so it is decided while the one in flight commits (a streaming caller
          // sends its next batch when the previous answer arrives, i.e. just after this point).
          // Group-commit singles do not wake the pump: they gather while the batch is in flight.
          const arrived = new Promise<'arrived'>((resolve) => (this.wake = () => resolve('arrived')));
          const settled = flight.then(() => 'settled' as const);
          if ((await Promise.race([settled, arrived])) === 'arrived') continue;
          this.wake = null;
          const f: Flight = await flight;
          flight = null;
          if (!f.ok) this.requeue(f, null);
          continue;
        }
        let plan: WarmPlan | null = null;
        try {
          plan = this.decideWarm(job.prepared);
        } catch {
          // A programmer error in the law or the cache. Drop the cache and decide the slow way:
          // if the error is in the law it recurs there and the batch is answered with it.
          this.cache = null;
        }
        if (flight) {
          const f: Flight = await flight;
          flight = null;
          if (!f.ok) {
            // The batch before this one did not commit, so this decision (made against the state
            // it would have left) is void: redo both, in order, the slow way.
            this.requeue(f, job);
            continue;
          }
        }
        if (plan) flight = this.sendWarm(job, plan);
        else await this.runSlow(job);
      }
    } finally {
      this.pumping = false;
    }
  }

  private requeue(f: Exclude<Flight, { ok: true }>, next: Job | null): void {
    this.cache = null;
    if (next) this.jobs.unshift(next);
    if (f.retry) this.jobs.unshift(f.job);
    else f.job.reject(f.error);
  }

  /** Decide against the warm cache, or return null when this batch needs the slow path. */
  private decideWarm(prepared: Prepared[]): WarmPlan | null {
    const c = this.cache;
    if (!c) return null;
    if (c.batches >= LIMITS.ledger.cacheMaxBatches || c.world.actors.size > LIMITS.ledger.cacheMaxActors) {
      this.cache = null; // bounded memory: rate windows of idle agents are only pruned when read
      return null;
    }
    for (const p of prepared) {
      const prop = p.proposal;
      if (!prop) continue; // MALFORMED needs no state
      const a = c.world.actors.get(prop.agent);
      if (!a || (a.kind === 'agent' && !c.windows.has(prop.agent))) return null;
      switch (prop.kind) {
        case 'transfer':
          if (!c.world.actors.has(prop.from) || !c.world.actors.has(prop.to)) return null;
          break;
        case 'harvest':
        case 'burn':
          if (!c.world.actors.has(prop.from)) return null;
          break;
        case 'mint':
          if (!c.world.actors.has(prop.to)) return null;
          break;
        default:
          return null; // not a FAST_KINDS proposal
      }
    }
    c.world.now = Math.max(this.clock(), c.head.lastAtMs);
    const d = this.decideBatch(c.world, new Map(), prepared, c.world.now);
    const before = c.head;
    this.seal(d, before);
    // The next batch is decided against the state this one leaves (speculation: if this one
    // does not commit, the pump drops the cache and redoes both).
    c.head = headAfter(d, before);
    c.batches++;
    return { d, before, after: c.head, params: this.commitParams(d, before, c.head, true) };
  }

  /** One statement, its own transaction: appends only if the cache's state_version is current. */
  private async sendWarm(job: Job, { d, before, after, params }: WarmPlan): Promise<Flight> {
    try {
      await this.commit(this.db, d, before, after, true, params);
    } catch (e: any) {
      this.stats.fastRefused++;
      if (e?.code === '40001') this.coolDown = LIMITS.ledger.contendedSlowBatches; // another writer committed
      return { ok: false, job, error: e, retry: RETRY_SLOW.has(e?.code) };
    }
    // Committed: from here on the batch is never redone, whatever happens to its answer.
    this.lastVersion = after.stateVersion;
    this.stats.fast++;
    try {
      await this.fillDuplicates(this.db, d);
      job.resolve(d.results);
    } catch (e) {
      job.reject(e); // the decisions stand; asking again answers them as duplicates
    }
    return { ok: true };
  }

  private async runSlow(job: Job): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const results = await this.db.transaction((tx) => this.decideSlow(tx, job.prepared));
        this.stats.slow++;
        job.resolve(results);
        return;
      } catch (e: any) {
        this.cache = null;
        // Serialization failures and deadlocks are safe to retry: the transaction wrote nothing.
        if ((e?.code === '40001' || e?.code === '40P01') && attempt < LIMITS.ledger.maxTxRetries) continue;
        job.reject(e);
        return;
      }
    }
  }

  private async decideSlow(tx: Queryable, prepared: Prepared[]): Promise<ApplyResult[]> {
    const proposals = prepared.flatMap((p) => (p.proposal ? [p.proposal] : []));
    const extraIds = prepared.flatMap((p) => (!p.proposal && p.proposalId ? [p.proposalId] : []));
    // A batch that could warm the cache (balance movements only) reads the whole registry when
    // it is small: one read instead of one slow batch per actor the cache has not seen.
    const warmable = this.coolDown === 0 && prepared.every((p) => !p.proposal || FAST_KINDS.has(p.proposal.kind));
    const warmRead = warmable && !this.cache && (!this.droppedByGovernance || this.slowSinceWarmRead >= LIMITS.ledger.warmReadEvery);
    const st = await loadState(tx, proposals, extraIds, this.clock(), this.policyHint, warmRead ? LIMITS.ledger.cacheWarmActors : 0);
    this.slowSinceWarmRead = warmRead ? 0 : this.slowSinceWarmRead + 1;
    if (warmRead) this.registryReads++;
    if (this.lastVersion !== null && st.head.stateVersion !== this.lastVersion) this.coolDown = LIMITS.ledger.contendedSlowBatches;
    else if (this.coolDown > 0) this.coolDown--;
    const world = st.world;
    this.policyHint = world.policy;
    const d = this.decideBatch(world, st.decided, prepared, world.now);
    this.seal(d, st.head);
    const after = headAfter(d, st.head);
    await this.commit(tx, d, st.head, after, false);
    if (d.governance) await this.writeGovernance(tx, d);
    await this.fillDuplicates(tx, d);
    // (After writeGovernance a trigger has replaced after.stateVersion; warmFrom keeps no cache then.)
    this.lastVersion = d.governance ? null : after.stateVersion;
    this.warmFrom(st.head, after, world, st.windowsLoaded, d.governance || this.coolDown > 0);
    return d.results;
  }

  /**
   * After a slow batch commits: keep what it read (advanced by its decisions) as the warm cache.
   * If the cache was current when the batch read its slice (same state_version), the slice is
   * merged in; otherwise the slice alone becomes the cache. A batch that changed more than
   * balances leaves no cache: its caches (offers, policy, breaker) are written after grid_commit.
   */
  private warmFrom(before: Head, after: Head, world: MemoryWorld, windowsLoaded: string[], governance: boolean) {
    if (governance) {
      this.cache = null;
      this.droppedByGovernance = true;
      return;
    }
    this.droppedByGovernance = false;
    const c = this.cache;
    // The cache's head may be speculative only while a fast batch is in flight, and a slow batch
    // never runs then; so equal versions mean the cache described exactly what grid_load read.
    if (c && c.head.stateVersion === before.stateVersion && c.head.lastId === before.lastId) {
      for (const [id, a] of world.actors) c.world.actors.set(id, a);
      for (const [id, r] of world.resources) c.world.resources.set(id, r);
      for (const [k, v] of world.balances) {
        // A balance the batch read is its new value. One it did not read (a treasury credited
        // with tax on a transfer that did not name it) started at 0 there: its value is the
        // batch's net change, to be added to what the cache holds.
        if (world.actors.has(k.slice(0, k.indexOf('\u0000')))) c.world.balances.set(k, v);
        else c.world.balances.set(k, (c.world.balances.get(k) ?? 0n) + v);
      }
      for (const a of windowsLoaded) {
        const w = world.windows.get(a);
        if (w) c.world.windows.set(a, w);
        else c.world.windows.delete(a);
        c.windows.add(a);
      }
      c.world.policy = world.policy;
      c.world.breaker = world.breaker;
      c.head = after;
      return;
    }
    world.offers.clear(); // only what fast kinds read is kept current
    world.book.artifacts.clear();
    // Balances of actors the batch did not read are net changes from 0, not balances: forget
    // them (the warm path never reads an actor outside world.actors).
    for (const k of [...world.balances.keys()]) if (!world.actors.has(k.slice(0, k.indexOf('\u0000')))) world.balances.delete(k);
    this.cache = { world, head: after, windows: new Set(windowsLoaded), batches: 0 };
  }

  /** Decide each proposal in order against `world` (mutated), answering known ids from `decided`. */
  private decideBatch(world: MemoryWorld, decided: Map<string, Decided>, prepared: Prepared[], atMs: number): Decision {
    const rows: Row[] = [];
    const rejections: RejectionRow[] = [];
    const results: ApplyResult[] = [];
    const dupApplied: Array<{ index: number; proposal_id: string }> = [];
    const policies = new Map<number, Policy>();
    let governance = false;
    const vv = this.validatorVersion;
    // Proposals applied earlier in this batch, id → proposal hash (an object per proposal here
    // was a measurable share of the batch path's garbage).
    const applied = new Map<string, string>();
    const appliedHere = (id: string): Decided | undefined => {
      const hash = applied.get(id);
      return hash === undefined ? undefined : { proposal_id: id, outcome: 'applied', proposal_hash: hash };
    };

    for (const p of prepared) {
      const prior = p.proposalId ? (decided.get(p.proposalId) ?? appliedHere(p.proposalId)) : undefined;
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
      for (let leg = 0; leg < decision.effects.length; leg++) {
        let e = decision.effects[leg];
        if (leg === 0 && prop.reasoning) e = { ...e, metadata: { ...e.metadata, reasoning: prop.reasoning } };
        rows.push({ proposal_id: prop.proposal_id, leg, agent: prop.agent, proposal_hash: p.hash, e, id: 0n, hash: '' });
        world.applyEffect(e, { proposal_id: prop.proposal_id, agent: prop.agent });
        if (e.kind === 'policy_set') policies.set(world.policy.version, world.policy);
        if (!FAST_KINDS.has(e.kind) && e.kind !== 'tax') governance = true;
        entries.push({ id: '', leg, kind: e.kind, from: e.from, to: e.to, resource: e.resource, amount: e.amount === null ? null : e.amount.toString(), hash: '' });
      }
      world.recordAction(prop.agent, world.now);
      applied.set(prop.proposal_id, p.hash);
      results.push({ status: 'applied', proposal_id: prop.proposal_id, duplicate: false, entries, validator_version: vv });
    }
    return { rows, rejections, results, dupApplied, policies, governance, atMs };
  }

  /** Number and hash the batch's entries onto `head` (db/hash.ts: the definition verify checks). */
  private seal(d: Decision, head: Head): void {
    const tail = '|' + d.atMs + '|';
    const vv = this.validatorVersion;
    let prev = head.lastHash;
    // Ids as numbers while they are exact (always, in practice); bigint beyond 2^53.
    const small = head.lastId + BigInt(d.rows.length) < BigInt(Number.MAX_SAFE_INTEGER);
    let n = Number(head.lastId);
    let big = head.lastId;
    for (const r of d.rows) {
      const e = r.e;
      let idText: string;
      if (small) {
        n++;
        idText = String(n);
        r.id = BigInt(n);
      } else {
        big += 1n;
        idText = big.toString();
        r.id = big;
      }
      const body = bodyText(r.proposal_id, r.leg, e.kind, r.agent, e.from, e.to, e.resource, e.amount, vv, r.proposal_hash, e.metadata);
      r.hash = prev = chainHash(prev, idText + tail + body);
    }
    let k = 0;
    for (const res of d.results) {
      if (res.status !== 'applied' || res.duplicate) continue;
      for (const e of res.entries) {
        e.id = d.rows[k].id.toString();
        e.hash = d.rows[k].hash;
        k++;
      }
    }
  }

  /** grid_commit (migration 0007): one round trip. */
  private async commit(q: Queryable, d: Decision, before: Head, after: Head, checkIds: boolean, params?: unknown[]): Promise<void> {
    await q.query(COMMIT_SQL, params ?? this.commitParams(d, before, after, checkIds));
  }

  /** grid_commit's parameters: built while the previous batch is in flight on the warm path. */
  private commitParams(d: Decision, before: Head, after: Head, checkIds: boolean): unknown[] {
    const rows = d.rows;
    const deltas = new Map<string, [string, string, bigint]>();
    for (const { e } of rows) {
      if (e.amount === null || e.resource === null) continue;
      if (e.from !== null) addDelta(deltas, e.from, e.resource, -e.amount);
      if (e.to !== null) addDelta(deltas, e.to, e.resource, e.amount);
    }
    // No lock-order sort needed: every writer holds the chain head while it touches balances.
    const bal = [...deltas.values()].filter((x) => x[2] !== 0n);
    const rej = d.rejections;
    return [
        before.stateVersion,
        after.stateVersion,
        checkIds,
        (before.lastId + 1n).toString(),
        d.atMs,
        textArray(rows.map((x) => x.proposal_id)),
        intArray(rows.map((x) => x.leg)),
        textArray(rows.map((x) => x.e.kind)),
        textArray(rows.map((x) => x.agent)),
        textArray(rows.map((x) => x.e.from)),
        textArray(rows.map((x) => x.e.to)),
        textArray(rows.map((x) => x.e.resource)),
        intArray(rows.map((x) => x.e.amount)),
        this.validatorVersion,
        textArray(rows.map((x) => x.proposal_hash)),
        textArray(rows.map((x) => metadataJson(x.e.metadata))),
        rows.map((x) => x.hash).join(''),
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
  }

  /** A duplicate of an applied proposal is answered with its original entries. */
  private async fillDuplicates(q: Queryable, d: Decision) {
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
  private async writeGovernance(tx: Queryable, d: Decision): Promise<void> {
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
            JSON.stringify({ entry_id: r.id.toString(), open: m.open, reason: m.reason, by: r.agent, executed_at: new Date(at).toISOString(), validator_version: this.validatorVersion }),
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
}

const COMMIT_SQL = `SELECT grid_commit($1::uuid, $2::uuid, $3, $4::bigint, $5::bigint, $6::uuid[], $7::int[], $8::text[], $9::text[], $10::text[], $11::text[],
                          $12::text[], $13::bigint[], $14, $15::text[], $16::text[], decode($17, 'hex'),
                          $18::text[], $19::text[], $20::bigint[],
                          $21::uuid[], $22::text[], $23::text[], $24::text[], $25::text[], $26::text[], $27::text[], $28::text[])`;

function headAfter(d: Decision, before: Head): Head {
  const n = d.rows.length;
  return {
    lastId: before.lastId + BigInt(n),
    lastHash: n ? d.rows[n - 1].hash : before.lastHash,
    lastAtMs: n ? d.atMs : before.lastAtMs,
    stateVersion: randomUUID(),
  };
}

function addDelta(m: Map<string, [string, string, bigint]>, actor: string, resource: string, d: bigint) {
  const key = actor + '\u0000' + resource;
  const cur = m.get(key);
  if (cur) cur[2] += d;
  else m.set(key, [actor, resource, d]);
}

/** Metadata as stored: `{}` for the common empty case without a JSON.stringify call. */
function metadataJson(m: Record<string, unknown>): string {
  for (const _ in m) return JSON.stringify(m);
  return '{}';
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
  // The common case first: a plain transfer object. Its size is bounded by construction (ids,
  // uuid and reasoning are all length-checked, far under LIMITS.proposal.maxBytes), so neither
  // the size check nor the loose-id scan below can change its answer.
  const fast = fastTransfer(raw);
  if (fast) {
    const id = fast.proposal_id.toLowerCase();
    const proposal = (id === fast.proposal_id ? fast : { ...fast, proposal_id: id }) as Proposal & { kind: 'transfer' };
    return { raw, proposal, proposalId: id, hash: sha256Hex(fastTransferCanonical(proposal)), malformed: null };
  }
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
  return prepared(raw, parsed.proposal);
}

function prepared(raw: unknown, parsed: Proposal): Prepared {
  const id = parsed.proposal_id.toLowerCase();
  const proposal = id === parsed.proposal_id ? parsed : ({ ...parsed, proposal_id: id } as Proposal);
  return { raw, proposal, proposalId: id, hash: sha256Hex(canonicalJson(proposal)), malformed: null };
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

