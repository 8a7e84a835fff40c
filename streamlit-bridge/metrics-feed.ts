/**
 * The dashboard's metrics: one MetricsWindow (engine/telemetry) folded incrementally from the rows
 * the FeedTail hands over — the ledger is read once at start and never rescanned — plus a Gini
 * time series, which the window does not keep (it knows only the current distribution).
 *
 * Gini is taken over the registered agents (zero balances included), because inequality among the
 * economy's participants is what the Governor watches; a reserve or treasury holding most energy
 * is by design. It is sampled when the ledger crosses into a new bucket (the closing value of the
 * old one) and, lazily, when a snapshot is asked for after new entries; each sample sorts the
 * holders, so sampling is throttled to LIMITS.bridge.giniSampleMs of wall time.
 */
import { MetricsWindow, type WindowSnapshot } from '../engine/telemetry/window';
import { TelemetryError } from '../engine/telemetry/common';
import { LIMITS } from '../validator/limits';
import { ledgerEntry, type LedgerRow, type RejectionRow } from './read-model';

export interface GiniSample {
  /** Start of the bucket (ms) the sample closes. */
  t: number;
  values: Record<string, number | null>;
}

export interface MetricsSnapshot extends Omit<WindowSnapshot, 'balances' | 'buckets'> {
  as_of: { ledger_id: string; rejection_id: string };
  holders: number;
  buckets: WindowSnapshot['buckets'];
  gini_series: GiniSample[];
  fold_error: { code: string; message: string } | null;
}

export interface MetricsFeedOptions {
  bucketMs?: number;
  maxBuckets?: number;
  now?: () => number;
}

export class MetricsFeed {
  readonly window: MetricsWindow;
  private holders: string[] = [];
  private readonly known = new Set<string>();
  private readonly series: GiniSample[] = [];
  private lastBucket: number | null = null;
  private dirty = false;
  private lastSampleWall = -Infinity;
  private lastRejectionId = 0n;
  private foldError: { code: string; message: string } | null = null;
  private readonly resources = new Set<string>();
  /** Bumped on every fold, so an unchanged window answers snapshots from cache. */
  private version = 0;
  private cached: { key: string; value: MetricsSnapshot } | null = null;
  private readonly now: () => number;

  constructor(opts: MetricsFeedOptions = {}) {
    this.window = new MetricsWindow({
      bucketMs: opts.bucketMs ?? LIMITS.bridge.metricsBucketMs,
      maxBuckets: opts.maxBuckets ?? LIMITS.bridge.metricsMaxBuckets,
    });
    this.now = opts.now ?? Date.now;
  }

  /** The registry: Gini is computed over the agents; any actor id counts as known. */
  setRegistry(actors: ReadonlyArray<{ id: string; kind: string }>): void {
    this.holders = actors.filter((a) => a.kind === 'agent').map((a) => a.id);
    this.known.clear();
    for (const a of actors) this.known.add(a.id);
    this.dirty = true;
    this.version++;
  }

  /** True when a row names an actor not in the registry last given (the caller refreshes it). */
  namesUnknownActor(rows: readonly LedgerRow[]): boolean {
    return rows.some((r) => (r.from !== null && !this.known.has(r.from)) || (r.to !== null && !this.known.has(r.to)));
  }

  foldLedger(rows: readonly LedgerRow[]): void {
    if (this.foldError) return;
    try {
      for (const r of rows) {
        const bucket = Math.floor(r.at_ms / this.window.bucketMs);
        if (this.lastBucket !== null && bucket > this.lastBucket) this.sample(this.lastBucket);
        this.lastBucket = bucket;
        this.window.foldEntry(ledgerEntry(r));
        if (r.resource !== null) this.resources.add(r.resource);
        this.dirty = true;
        this.version++;
      }
    } catch (e) {
      // An ENTRY_GAP or malformed row makes every later figure wrong: stop folding and say so.
      this.foldError = e instanceof TelemetryError ? { code: e.code, message: e.message } : { code: 'INTERNAL', message: String(e) };
    }
    if (this.dirty && this.now() - this.lastSampleWall >= LIMITS.bridge.giniSampleMs && this.lastBucket !== null) {
      this.sample(this.lastBucket);
    }
  }

  foldRejections(rows: readonly RejectionRow[]): void {
    for (const r of rows) {
      const id = BigInt(r.id);
      if (id > this.lastRejectionId) this.lastRejectionId = id;
      this.window.foldRejection({ proposal_id: r.proposal_id ?? `rejection:${r.id}`, code: r.code, agent: r.agent ?? '(unknown)', at: r.at_ms });
      this.version++;
    }
  }

  private giniValues(): Record<string, number | null> {
    const pop = this.holders.length ? this.holders : undefined;
    const out: Record<string, number | null> = {};
    for (const res of [...this.resources].sort()) {
      try {
        out[res] = this.window.giniOf(res, pop);
      } catch {
        out[res] = null; // NEGATIVE_BALANCE: no meaningful share; the snapshot's gini says why
      }
    }
    return out;
  }

  private sample(bucket: number): void {
    const t = bucket * this.window.bucketMs;
    const s: GiniSample = { t, values: this.giniValues() };
    const last = this.series[this.series.length - 1];
    if (last && last.t === t) this.series[this.series.length - 1] = s;
    else if (!last || last.t < t) this.series.push(s);
    while (this.series.length > this.window.maxBuckets) this.series.shift();
    this.lastSampleWall = this.now();
    this.dirty = false;
  }

  /** The time series for charts; `buckets` keeps only the newest N. Balances are left out (see /api/world). */
  snapshot(lastBuckets?: number): MetricsSnapshot {
    if (this.dirty && this.lastBucket !== null) this.sample(this.lastBucket);
    const key = `${this.version}:${this.holders.length}:${lastBuckets ?? 'all'}`;
    if (this.cached?.key === key) return this.cached.value;
    const value = this.build(lastBuckets);
    this.cached = { key, value };
    return value;
  }

  private build(lastBuckets?: number): MetricsSnapshot {
    const { balances: _b, buckets, ...rest } = this.window.snapshot(this.holders.length ? { holders: this.holders } : {});
    const n = lastBuckets ?? buckets.length;
    const newest = buckets.length ? buckets[buckets.length - 1].index : 0;
    return {
      ...rest,
      as_of: { ledger_id: rest.lastEntryId, rejection_id: this.lastRejectionId.toString() },
      holders: this.holders.length,
      buckets: buckets.filter((b) => b.index > newest - n),
      gini_series: this.series.filter((s) => s.t > (newest - n) * this.window.bucketMs),
      fold_error: this.foldError,
    };
  }
}
