/**
 * Ledger verification status for the dashboard: the replay dry run (db/replay.ts) re-hashes the
 * chain and compares the folded state with the caches. It reads the whole ledger (from the last
 * trusted checkpoint), so the result is cached with its time and re-run at most every
 * LIMITS.bridge.verifyMinIntervalMs, only when the head has moved, one run at a time.
 *
 * Consistency: on Postgres the run sits in one REPEATABLE READ, READ ONLY transaction, so the
 * ledger, head and caches it compares are one snapshot even while the writer appends. PGlite has
 * a single connection that a transaction holds exclusively (it would stall the writer for the
 * whole run), so there it runs outside one; if the head moved during the run, a cache/head
 * mismatch proves nothing and the result is reported as `inconclusive` and retried. A broken
 * chain is never inconclusive: appends cannot break the links of rows already read.
 */
import type { Db } from '../db/adapter';
import { replay, type ReplayReport } from '../db/replay';
import { LIMITS } from '../validator/limits';
import { readHead } from './read-model';

export type VerificationState = 'pending' | 'verified' | 'broken' | 'inconclusive' | 'error';

export interface VerificationStatus {
  state: VerificationState;
  /** When the last run finished (ISO), null before the first. */
  checked_at: string | null;
  /** The ledger id the last run verified up to. */
  checked_through: string | null;
  running: boolean;
  summary: string;
  report: Omit<ReplayReport, 'badRows' | 'diffs'> & { badRows: ReplayReport['badRows']; diffs: ReplayReport['diffs']; diffCount: number } | null;
  error: { code: string; message: string } | null;
}

export interface VerifierOptions {
  minIntervalMs?: number;
  fromCheckpoint?: boolean;
  now?: () => number;
}

export class Verifier {
  private status: VerificationStatus = {
    state: 'pending', checked_at: null, checked_through: null, running: false,
    summary: 'not verified yet', report: null, error: null,
  };
  private lastRunAt = -Infinity;
  private inflight: Promise<VerificationStatus> | null = null;
  private readonly minIntervalMs: number;
  private readonly now: () => number;
  private readonly listeners: Array<(s: VerificationStatus) => void> = [];

  constructor(
    private readonly db: Db,
    private readonly opts: VerifierOptions = {},
  ) {
    this.minIntervalMs = opts.minIntervalMs ?? LIMITS.bridge.verifyMinIntervalMs;
    this.now = opts.now ?? Date.now;
  }

  onChange(f: (s: VerificationStatus) => void): void {
    this.listeners.push(f);
  }

  current(): VerificationStatus {
    return { ...this.status, running: this.inflight !== null };
  }

  /** Starts a run unless one is running, the last was too recent, or nothing changed since. */
  maybeRun(headId: bigint): void {
    if (this.inflight) return;
    const due = this.now() - this.lastRunAt >= this.minIntervalMs;
    const moved = this.status.checked_through === null || BigInt(this.status.checked_through) !== headId || this.status.state === 'inconclusive' || this.status.state === 'error';
    if (due && moved) void this.run().catch(() => {});
  }

  /** Runs now (single flight: a second caller shares the running check). */
  run(): Promise<VerificationStatus> {
    this.inflight ??= this.check().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async check(): Promise<VerificationStatus> {
    this.lastRunAt = this.now();
    const fromCheckpoint = this.opts.fromCheckpoint ?? true;
    try {
      let report: ReplayReport;
      let moved = false;
      if (this.db.kind === 'postgres') {
        report = await this.db.transaction(async (tx) => {
          await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
          const snapshotDb: Db = {
            kind: this.db.kind, schema: this.db.schema, query: tx.query, exec: tx.exec, copyOut: tx.copyOut,
            copyIn: () => Promise.reject(new Error('the verifier never writes')),
            transaction: () => Promise.reject(new Error('the verifier never writes')), close: async () => {},
          };
          return replay(snapshotDb, { dryRun: true, fromCheckpoint, maxBadRows: 20 });
        });
      } else {
        const before = (await readHead(this.db)).last_id;
        report = await replay(this.db, { dryRun: true, fromCheckpoint, maxBadRows: 20 });
        moved = (await readHead(this.db)).last_id !== before;
      }
      this.status = this.fromReport(report, moved);
    } catch (e: any) {
      this.status = {
        ...this.status, state: 'error', checked_at: new Date(this.now()).toISOString(),
        summary: `verification could not run: ${String(e?.message ?? e).slice(0, 300)}`,
        error: { code: typeof e?.code === 'string' && /^[A-Z_]+$/.test(e.code) ? e.code : 'VERIFY_FAILED', message: String(e?.message ?? e).slice(0, 500) },
      };
    }
    for (const f of this.listeners) f(this.current());
    return this.current();
  }

  private fromReport(r: ReplayReport, headMoved: boolean): VerificationStatus {
    const conservationOk = Object.values(r.conservation).every((c) => c.ok);
    let state: VerificationState;
    let summary: string;
    if (!r.chainOk) {
      state = 'broken';
      summary = `chain BROKEN: ${r.badRows.length} bad row(s), first at entry ${r.badRows[0]?.id ?? '?'} (${r.badRows[0]?.problem ?? '?'})`;
    } else if (!r.cacheMatches || !r.headMatches || !conservationOk) {
      state = headMoved ? 'inconclusive' : 'broken';
      summary = headMoved
        ? 'the ledger moved during the check; will check again'
        : `chain intact but the caches disagree with it (${r.diffs.length} balance difference(s)${r.headMatches ? '' : ', head differs'}${conservationOk ? '' : ', conservation fails'})`;
    } else {
      state = 'verified';
      summary = `verified ${r.rowsReplayed} row(s) from entry ${r.fromId} to ${r.lastId} in ${r.ms} ms`;
    }
    return {
      state, checked_at: new Date(this.now()).toISOString(), checked_through: r.lastId, running: false, summary,
      report: { ...r, badRows: r.badRows.slice(0, 20), diffs: r.diffs.slice(0, 20), diffCount: r.diffs.length },
      error: null,
    };
  }
}
