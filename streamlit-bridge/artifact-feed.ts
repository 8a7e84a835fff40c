/**
 * The dashboard's artifact-economy figures (issue 6): dependency depth, Lindy scores and control
 * entropy, computed by engine/telemetry `analyzeArtifacts` over every recorded artifact call.
 *
 * Calls are read incrementally from the `invocations` registry, keyset by (entry_id, call_id) and
 * only up to the ledger tail's contiguous prefix, when /api/artifacts is asked for (a bridge
 * nobody looks at does no artifact work). The events are kept, not folded into running totals,
 * because depth and cycles need the whole edge set and `analyzeArtifacts` is the one definition.
 *
 * Mapping of a registry row to an InvokeEvent:
 *  - parent_artifact: the calling artifact (`caller`) for a nested call, null at the top of a run
 *    (there `caller` is the principal, not an artifact);
 *  - invoker: the principal of the whole run (`invoker`), so "distinct invokers" counts who the
 *    work was for and "command" means the principal owns the artifact being run, at any depth;
 *  - owner_of_child: `owner`, or '' for a genesis artifact (no principal owns it: autonomous).
 */
import type { Queryable } from '../db/adapter';
import { analyzeArtifacts, type ControlEntropy, type InvokeEvent, type LindyRow } from '../engine/telemetry/artifacts';
import { TelemetryError } from '../engine/telemetry/common';
import { LIMITS } from '../validator/limits';
import { invocationsAfter, type InvocationRow } from './read-model';

/** Lindy rows served (the highest scores). */
export const LINDY_TOP = 10;

export interface ArtifactsSnapshot {
  as_of: { entry_id: string; call_id: number };
  /** Recorded calls analysed (top-level and nested, failures included). */
  invocations: number;
  artifacts: number;
  edges: number;
  depth: number;
  longestChain: string[];
  cycleCount: number;
  cycles: string[][];
  lindy: LindyRow[];
  lindyBucketMs: number;
  controlEntropy: ControlEntropy;
  computed_at: string;
  /** Why the figures stopped following the registry (TOO_MANY_EVENTS, ...), else null. */
  fold_error: { code: string; message: string } | null;
}

export interface ArtifactFeedOptions {
  bucketMs?: number;
  maxEvents?: number;
  batchRows?: number;
  now?: () => number;
}

export function invokeEvent(r: InvocationRow): InvokeEvent {
  return {
    parent_artifact: r.parent_call_id === null ? null : r.caller,
    child_artifact: r.artifact_id,
    invoker: r.invoker,
    owner_of_child: r.owner ?? '',
    at: r.at_ms,
    success: r.success,
  };
}

export class ArtifactFeed {
  private readonly events: InvokeEvent[] = [];
  private cursor = { entry: 0n, call: 0 };
  private foldError: { code: string; message: string } | null = null;
  private version = 0;
  private cached: { version: number; at: number; value: ArtifactsSnapshot } | null = null;
  /** Serialises catch-ups: two requests at once must not read the same page twice. */
  private running: Promise<ArtifactsSnapshot> | null = null;
  private readonly bucketMs: number;
  private readonly maxEvents: number;
  private readonly batchRows: number;
  private readonly now: () => number;

  constructor(opts: ArtifactFeedOptions = {}) {
    this.bucketMs = opts.bucketMs ?? LIMITS.telemetry.defaultBucketMs;
    this.maxEvents = Math.min(opts.maxEvents ?? LIMITS.telemetry.maxInvokeEvents, LIMITS.telemetry.maxInvokeEvents);
    this.batchRows = opts.batchRows ?? LIMITS.bridge.tailBatchRows;
    this.now = opts.now ?? Date.now;
  }

  /** Reads the calls recorded since the last time (up to ledger entry `upTo`), then the figures. */
  snapshot(db: Queryable, upTo: bigint): Promise<ArtifactsSnapshot> {
    this.running ??= this.catchUp(db, upTo).then(
      (v) => ((this.running = null), v),
      (e) => {
        this.running = null;
        throw e;
      },
    );
    return this.running;
  }

  private async catchUp(db: Queryable, upTo: bigint): Promise<ArtifactsSnapshot> {
    while (!this.foldError) {
      const rows = await invocationsAfter(db, this.cursor, upTo, this.batchRows);
      if (this.events.length + rows.length > this.maxEvents) {
        // More calls than the analysis accepts: keep the figures of those held and say so,
        // rather than drop old calls (that would silently make every artifact look younger).
        this.foldError = { code: 'TOO_MANY_EVENTS', message: `more than ${this.maxEvents} artifact calls recorded; figures stop at entry ${this.cursor.entry}` };
        this.version++;
        break;
      }
      for (const r of rows) this.events.push(invokeEvent(r));
      if (rows.length) {
        const last = rows[rows.length - 1];
        this.cursor = { entry: last.entry_id, call: last.call_id };
        this.version++;
      }
      if (rows.length < this.batchRows) break;
    }
    return this.build();
  }

  private build(): ArtifactsSnapshot {
    const now = this.now();
    // Ages move in whole buckets (a minute by default), so an unchanged registry is re-analysed
    // at most once per metrics bucket: a dashboard polling every second does not redo the work.
    if (this.cached && this.cached.version === this.version && now - this.cached.at < LIMITS.bridge.metricsBucketMs) return this.cached.value;
    let foldError = this.foldError;
    let report;
    try {
      report = analyzeArtifacts(this.events, { now, bucketMs: this.bucketMs });
    } catch (e) {
      if (!(e instanceof TelemetryError)) throw e;
      foldError = { code: e.code, message: e.message };
      report = analyzeArtifacts([], { now, bucketMs: this.bucketMs });
    }
    const d = report.dependency;
    const value: ArtifactsSnapshot = {
      as_of: { entry_id: this.cursor.entry.toString(), call_id: this.cursor.call },
      invocations: this.events.length,
      artifacts: d.artifacts,
      edges: d.edges,
      depth: d.depth,
      longestChain: d.longestChain,
      cycleCount: d.cycleCount,
      cycles: d.cycles,
      lindy: report.lindy.slice(0, LINDY_TOP),
      lindyBucketMs: this.bucketMs,
      controlEntropy: report.control,
      computed_at: new Date(now).toISOString(),
      fold_error: foldError,
    };
    this.cached = { version: this.version, at: now, value };
    return value;
  }
}
