/**
 * The one path by which state changes: proposal → validation → atomic append.
 *
 * Every batch is decided in order against the state left by the ones before it (a rejection does
 * not abort the others), numbered and hashed onto the chain head, and appended with its balance
 * deltas, rejections and alerts (outbox) in one transaction (db/commit.ts, migration 0008:
 * grid_commit_begin checks the head, the entries go in by COPY or as arrays, grid_commit_finish
 * does the rest). Nothing is acknowledged before that commit returns, so a crash at any instant
 * loses nothing acknowledged. There are two ways to get the state a batch is decided against:
 *
 * - The slow path: BEGIN; grid_load takes the chain-head lock and reads the slice of state the
 *   batch names; the law decides; the commit statements; caches other than balances (offers,
 *   policy, breaker, artifacts); COMMIT. Always correct, whatever else is writing.
 * - The fast path: the writer's warm cache. After a slow batch that moved only balances the
 *   writer keeps the state it decided against (now advanced by the batch) together with the
 *   head and its state_version. A later batch whose proposals only move balances between actors
 *   the cache holds is decided against the cache and committed in its own transaction, which
 *   appends only if state_version is unchanged — i.e. nothing else wrote since. If anything did
 *   (another writer, an admin, a replay), or a proposal id turns out to have been decided
 *   before, the commit is refused, the cache is dropped, and the batch is decided again the slow
 *   way. So the cache can make a batch cheaper, never different.
 *
 * Batches are pipelined: while one fast batch is in flight, the next is decided against the
 * cache as the in-flight one will leave it, and sent when the first has committed. Decisions
 * (JavaScript) and appends (the database) thereby overlap — and a batch is decided in slices,
 * so the one in flight keeps writing its COPY data meanwhile. If the in-flight batch does not
 * commit, the speculative decision is thrown away with the cache and both are redone in order.
 *
 * `apply` (one proposal) joins a group-commit queue: callers that arrive while a batch is
 * being written share the next one, each still decided and answered on its own.
 *
 * Idempotency (client-generated ids, as in TigerBeetle): a proposal_id is final once decided.
 * The same id with the same content is answered with the original outcome (duplicate: true) and
 * writes nothing; the same id with other content is rejected with ID_CONFLICT.
 *
 * This file is the writer's control: queues, the pump, the warm cache, the slow path. The steps
 * it runs live beside it: db/prepare.ts (untrusted input → prepared proposal), db/batch.ts
 * (decide a batch against a world, seal it onto a head), db/commit.ts (the commit statements and
 * the caches written after them).
 */
import { LIMITS, LAW_VERSION, DEFAULT_POLICY, MemoryWorld, type Policy } from '../validator';
import type { Db, Tx } from './adapter';
import { loadState, type Head } from './load';
import { GridError } from './errors';
import { prepare, type Prepared } from './prepare';
import { newDecision, decideSome, Sealer, headAfter, FAST_KINDS, type ApplyResult, type Decision } from './batch';
import type { Decided } from './load';
import { commitPlan, commitOne, commitCopy, fillDuplicates, writeGovernance, type CommitPlan } from './commit';

export type { ApplyResult, AppliedResult, RejectedResult, EntrySummary } from './batch';

export interface WriterOptions {
  /** Decision clock in ms (tests inject one). Never moves the chain's time backwards. */
  clock?: () => number;
  /** Stamped on every row; defaults to the law this build was compiled with. */
  validatorVersion?: string;
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
  /** The inputs; `prepared` grows to match them (prepareJob). */
  inputs: unknown[];
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
  plan: CommitPlan;
}

/** Let pending I/O (socket writes and reads) run before going on with synchronous work. */
function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
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
      // Prepared (parsed, hashed) by the pump, in slices: see decideInSlices.
      const chunk = inputs.slice(i, i + LIMITS.ledger.maxBatch);
      chunks.push(new Promise((resolve, reject) => this.jobs.push({ inputs: chunk, prepared: [], resolve, reject })));
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
    const prepared = taken.map((s) => s.p);
    return {
      inputs: prepared.map((p) => p.raw),
      prepared,
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
          await this.prepareJob(job);
          plan = await this.decideWarm(job.prepared);
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

  /** Prepare the job's inputs (parse, hash) in slices, the event loop running between them. */
  private async prepareJob(job: Job): Promise<void> {
    const { inputs, prepared } = job;
    while (prepared.length < inputs.length) {
      const end = Math.min(inputs.length, prepared.length + LIMITS.ledger.sliceProposals);
      for (let i = prepared.length; i < end; i++) prepared.push(prepare(inputs[i]));
      if (end < inputs.length) await yieldToIo();
    }
  }

  /**
   * Decide `prepared` against `world` and seal it onto `head`, LIMITS.ledger.sliceProposals at a
   * time with the event loop running between slices. Why: a 10 000-proposal batch is ≈100 ms of
   * JavaScript, and the batch in flight meanwhile needs the event loop to write its COPY data to
   * the socket; deciding in one block left the database waiting for it (measured: both cores
   * ≈45 % idle at 73k proposals/s). The world is only touched here, so the slices see exactly
   * what one pass would.
   */
  private async decideInSlices(world: MemoryWorld, decided: Map<string, Decided>, prepared: Prepared[], head: Head): Promise<Decision> {
    const d = newDecision(world.now);
    const sealer = new Sealer(d, head, this.validatorVersion);
    for (let i = 0; i < prepared.length; i += LIMITS.ledger.sliceProposals) {
      if (i > 0) await yieldToIo();
      decideSome(d, world, decided, prepared, i, Math.min(prepared.length, i + LIMITS.ledger.sliceProposals), this.validatorVersion);
      sealer.sealSome();
    }
    sealer.finish();
    return d;
  }

  /** Decide against the warm cache, or return null when this batch needs the slow path. */
  private async decideWarm(prepared: Prepared[]): Promise<WarmPlan | null> {
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
    const before = c.head;
    const d = await this.decideInSlices(c.world, new Map(), prepared, before);
    // The next batch is decided against the state this one leaves (speculation: if this one
    // does not commit, the pump drops the cache and redoes both).
    c.head = headAfter(d, before);
    c.batches++;
    return { d, before, after: c.head, plan: commitPlan(d, before, c.head, true, this.validatorVersion) };
  }

  /** Its own transaction: appends only if the cache's state_version is current. */
  private async sendWarm(job: Job, { d, after, plan }: WarmPlan): Promise<Flight> {
    try {
      if (plan.copy) await this.db.transaction((tx) => commitCopy(tx, plan));
      else await commitOne(this.db, plan);
    } catch (e: any) {
      this.stats.fastRefused++;
      if (e?.code === '40001') this.coolDown = LIMITS.ledger.contendedSlowBatches; // another writer committed
      return { ok: false, job, error: e, retry: RETRY_SLOW.has(e?.code) };
    }
    // Committed: from here on the batch is never redone, whatever happens to its answer.
    this.lastVersion = after.stateVersion;
    this.stats.fast++;
    try {
      await fillDuplicates(this.db, d);
      job.resolve(d.results);
    } catch (e) {
      job.reject(e); // the decisions stand; asking again answers them as duplicates
    }
    return { ok: true };
  }

  private async runSlow(job: Job): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.prepareJob(job);
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

  private async decideSlow(tx: Tx, prepared: Prepared[]): Promise<ApplyResult[]> {
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
    const d = await this.decideInSlices(world, st.decided, prepared, st.head);
    const after = headAfter(d, st.head);
    const plan = commitPlan(d, st.head, after, false, this.validatorVersion);
    if (plan.copy) await commitCopy(tx, plan);
    else await commitOne(tx, plan);
    if (d.governance) await writeGovernance(tx, d, this.validatorVersion);
    await fillDuplicates(tx, d);
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
      for (const [r, m] of world.balances) {
        for (const [a, v] of m) {
          // A balance the batch read is its new value. One it did not read (a treasury credited
          // with tax on a transfer that did not name it) started at 0 there: its value is the
          // batch's net change, to be added to what the cache holds.
          if (world.actors.has(a)) c.world.setBalance(a, r, v);
          else c.world.setBalance(a, r, c.world.balance(a, r) + v);
        }
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
    for (const m of world.balances.values()) for (const a of [...m.keys()]) if (!world.actors.has(a)) m.delete(a);
    this.cache = { world, head: after, windows: new Set(windowsLoaded), batches: 0 };
  }

}
