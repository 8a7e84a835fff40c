/**
 * MetricsWindow: the Governor's macro-economic telemetry, folded incrementally.
 *
 * WHY incremental: the Governor reads metrics every tick while the ledger grows without bound;
 * rescanning would make each read O(ledger). Every `foldEntry` / `foldRejection` is O(1) amortized
 * and the window holds only running balances plus a bounded ring of time buckets
 * (LIMITS.telemetry). Feed it the ledger from entry id 1 (replay), then the live tail; entries must
 * arrive in id order: a repeated id is skipped (at-least-once delivery), a skipped id throws
 * ENTRY_GAP because every balance after it would be silently wrong.
 *
 * Definitions (resource r, bucket b = [index·bucketMs, (index+1)·bucketMs) of executed_at / at):
 *  - supply(r): Σ of all actors' balances of r = Σ created (from = null) − Σ destroyed (to = null).
 *    Value held by treasury/escrow counts: the window does not know actor kinds.
 *  - supplyOpen / supplyClose: supply(r) just before the first / just after the last entry of r
 *    folded into b (for an in-order ledger: supply at the start / end of b). So for each bucket
 *    supplyClose − supplyOpen = minted − burned, except for late entries (see below).
 *  - volume: Σ amount of entries of kind transfer, swap or tax (tax counted even when burned).
 *  - velocity = volume / average supply, average supply = (supplyOpen + supplyClose) / 2, i.e.
 *    velocity = 2·volume / (supplyOpen + supplyClose), computed as an exact bigint fraction and
 *    divided once; null when that supply is ≤ 0 (nothing to circulate). Unit: turnovers per bucket.
 *  - minted / burned: Σ amount of entries that create (from = null: mint, interest) / destroy
 *    (to = null: burn, burned tax) value of r.
 *  - proposals: applied proposals = entries with leg 0 (a proposal writes legs 0..k).
 *  - rejection rate = rejections / (proposals + rejections); per code: count_code / same
 *    denominator; 0 when the denominator is 0.
 *  - efficiency: output = artifact_write entries (count) and Σ metadata.bytes of those entries
 *    (a non-negative integer or digit string; anything else adds 0 bytes). burn(r) = Σ amount of
 *    compute_charge entries of r plus `burn` entries of an LLM resource (option llmResources,
 *    default ['llm_budget']). writesPerUnit = writes / burn(r), bytesPerUnit = bytes / burn(r),
 *    per resource because compute units and LLM budget are different units.
 *  - Gini per resource: over the `holders` passed to snapshot() (e.g. all agent ids, zero balances
 *    included), else over actors with a non-zero balance. A negative balance yields
 *    { value: null, error: 'NEGATIVE_BALANCE' } instead of throwing from a dashboard read.
 * Retention: buckets with index ≤ newest − maxBuckets are evicted; an entry or rejection landing
 * there still updates balances but is only counted in totals.lateEntries / lateRejections.
 * Only buckets that received something appear in a snapshot (absent = no activity).
 */
import { LIMITS } from '../../validator/limits';
import type { LedgerEntry } from '../../validator/types';
import { addEntry, addRejection, bucketSnapshot, newBucket, type Bucket, type BucketSnapshot } from './bucket';
import { TelemetryError, sortedRecord } from './common';
import { gini } from './gini';

export type { BucketSnapshot, ResourceBucketSnapshot } from './bucket';

export interface RejectionRecord {
  proposal_id: string;
  code: string;
  agent: string;
  /** Milliseconds since the epoch. */
  at: number;
}

export interface MetricsWindowOptions {
  bucketMs?: number;
  maxBuckets?: number;
  llmResources?: readonly string[];
}

export interface WindowSnapshot {
  bucketMs: number; maxBuckets: number; lastEntryId: string;
  totals: {
    entries: number; proposals: number; rejections: number;
    duplicateEntries: number; lateEntries: number; lateRejections: number;
  };
  supply: Record<string, string>;
  balances: Record<string, Record<string, string>>;
  gini: Record<string, { value: number | null; holders: number; error: 'NEGATIVE_BALANCE' | null }>;
  buckets: BucketSnapshot[];
}

function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new TelemetryError('INVALID_OPTION', `${name} must be an integer in [${min}, ${max}], got ${v}`);
  }
  return v;
}

export class MetricsWindow {
  readonly bucketMs: number;
  readonly maxBuckets: number;
  private readonly llmResources: ReadonlySet<string>;
  private nextId = 1n;
  private readonly totals = {
    entries: 0, proposals: 0, rejections: 0, duplicateEntries: 0, lateEntries: 0, lateRejections: 0,
  };
  /** resource → actor → balance. */
  private readonly balances = new Map<string, Map<string, bigint>>();
  private readonly supplies = new Map<string, bigint>();
  private readonly actors = new Set<string>();
  private readonly buckets = new Map<number, Bucket>();
  private newest: number | null = null;
  private minKept = 0;

  constructor(opts: MetricsWindowOptions = {}) {
    const T = LIMITS.telemetry;
    this.bucketMs = checkInt('bucketMs', opts.bucketMs ?? T.defaultBucketMs, T.minBucketMs, T.maxBucketMs);
    this.maxBuckets = checkInt('maxBuckets', opts.maxBuckets ?? T.defaultMaxBuckets, 1, T.maxBuckets);
    this.llmResources = new Set(opts.llmResources ?? ['llm_budget']);
  }

  foldEntries(entries: Iterable<LedgerEntry>): void {
    for (const e of entries) this.foldEntry(e);
  }

  foldRejections(rs: Iterable<RejectionRecord>): void {
    for (const r of rs) this.foldRejection(r);
  }

  foldEntry(e: LedgerEntry): void {
    const moving = e.amount !== null;
    const actorOk = (x: unknown) => x === null || (typeof x === 'string' && x !== '');
    if (typeof e.id !== 'bigint' || typeof e.kind !== 'string' || !actorOk(e.from) || !actorOk(e.to) ||
        !Number.isFinite(e.executed_at) || !Number.isSafeInteger(e.leg) ||
        (moving && (typeof e.amount !== 'bigint' || e.amount < 0n || typeof e.resource !== 'string'))) {
      throw new TelemetryError('INVALID_ENTRY',
        `ledger entry ${String(e.id)} is malformed (id bigint, kind, from/to string or null, finite executed_at, ` +
        `integer leg, amount null or a non-negative bigint with a resource)`);
    }
    if (e.id < this.nextId) { this.totals.duplicateEntries++; return; }
    if (e.id > this.nextId) {
      throw new TelemetryError('ENTRY_GAP', `expected ledger entry ${this.nextId}, got ${e.id}; entries were missed`);
    }
    // Check limits before mutating anything so a thrown error leaves the window consistent.
    if (moving) {
      const r = e.resource as string;
      if (!this.balances.has(r) && this.balances.size >= LIMITS.telemetry.maxResources) {
        throw new TelemetryError('TOO_MANY_RESOURCES', `more than ${LIMITS.telemetry.maxResources} resources`);
      }
      const fresh = new Set([e.from, e.to].filter((a): a is string => a !== null && !this.actors.has(a)));
      if (this.actors.size + fresh.size > LIMITS.telemetry.maxActors) {
        throw new TelemetryError('TOO_MANY_ACTORS', `more than ${LIMITS.telemetry.maxActors} actors`);
      }
    }
    this.nextId++;
    this.totals.entries++;
    if (e.leg === 0) this.totals.proposals++;

    let supplyBefore = 0n;
    let supplyAfter = 0n;
    if (moving) {
      const r = e.resource as string;
      const a = e.amount as bigint;
      let book = this.balances.get(r);
      if (!book) this.balances.set(r, (book = new Map()));
      if (e.from !== null) { this.actors.add(e.from); book.set(e.from, (book.get(e.from) ?? 0n) - a); }
      if (e.to !== null) { this.actors.add(e.to); book.set(e.to, (book.get(e.to) ?? 0n) + a); }
      supplyBefore = this.supplies.get(r) ?? 0n;
      supplyAfter = supplyBefore + (e.from === null ? a : 0n) - (e.to === null ? a : 0n);
      this.supplies.set(r, supplyAfter);
    }

    const b = this.bucketFor(e.executed_at);
    if (!b) { this.totals.lateEntries++; return; }
    const isCharge = e.kind === 'compute_charge' || (e.kind === 'burn' && this.llmResources.has(e.resource as string));
    addEntry(b, e, supplyBefore, supplyAfter, moving && isCharge);
  }

  foldRejection(rej: RejectionRecord): void {
    if (typeof rej.code !== 'string' || rej.code.length === 0 || typeof rej.proposal_id !== 'string' ||
        typeof rej.agent !== 'string' || !Number.isFinite(rej.at)) {
      throw new TelemetryError('INVALID_REJECTION',
        'a rejection record needs string proposal_id, agent, non-empty code and a finite `at` in ms');
    }
    this.totals.rejections++;
    const b = this.bucketFor(rej.at);
    if (!b) { this.totals.lateRejections++; return; }
    addRejection(b, rej.code);
  }

  balance(actor: string, resource: string): bigint {
    return this.balances.get(resource)?.get(actor) ?? 0n;
  }

  supply(resource: string): bigint {
    return this.supplies.get(resource) ?? 0n;
  }

  /** Gini of `resource` over `holders` (absent holders count as 0), else over non-zero balances. */
  giniOf(resource: string, holders?: Iterable<string>): number {
    return gini(this.population(resource, holders));
  }

  snapshot(opts: { holders?: Iterable<string> } = {}): WindowSnapshot {
    const holders = opts.holders ? [...new Set(opts.holders)] : undefined;
    return {
      bucketMs: this.bucketMs,
      maxBuckets: this.maxBuckets,
      lastEntryId: (this.nextId - 1n).toString(),
      totals: { ...this.totals },
      supply: sortedRecord(this.supplies, (v) => v.toString()),
      balances: sortedRecord(this.balances, (book) => sortedRecord(book, (v) => v.toString())),
      gini: sortedRecord(this.balances, (_book, r) => {
        const pop = this.population(r, holders);
        try {
          return { value: gini(pop), holders: pop.length, error: null };
        } catch (err) {
          if (err instanceof TelemetryError && err.code === 'NEGATIVE_BALANCE') {
            return { value: null, holders: pop.length, error: 'NEGATIVE_BALANCE' as const };
          }
          throw err;
        }
      }),
      buckets: [...this.buckets.values()].sort((x, y) => x.index - y.index).map((b) => bucketSnapshot(b, this.bucketMs)),
    };
  }

  private population(resource: string, holders?: Iterable<string>): bigint[] {
    const book = this.balances.get(resource);
    if (holders) return [...holders].map((a) => book?.get(a) ?? 0n);
    return book ? [...book.values()].filter((v) => v !== 0n) : [];
  }

  /** The bucket for time `at`, creating it and evicting old ones; undefined if already evicted. */
  private bucketFor(at: number): Bucket | undefined {
    const idx = Math.floor(at / this.bucketMs);
    if (this.newest === null || idx > this.newest) {
      const newMin = idx - this.maxBuckets + 1;
      if (this.newest === null) {
        this.minKept = newMin;
      } else if (newMin > this.minKept) {
        // Walk the evicted index range when it is short, otherwise the (bounded) map itself.
        if (newMin - this.minKept <= this.buckets.size) {
          for (let k = this.minKept; k < newMin; k++) this.buckets.delete(k);
        } else {
          for (const k of [...this.buckets.keys()]) if (k < newMin) this.buckets.delete(k);
        }
        this.minKept = newMin;
      }
      this.newest = idx;
    }
    if (idx < this.minKept) return undefined;
    let b = this.buckets.get(idx);
    if (!b) {
      b = newBucket(idx);
      this.buckets.set(idx, b);
    }
    return b;
  }
}
