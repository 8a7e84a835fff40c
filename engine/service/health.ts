/**
 * GET /health: is the database reachable, does the chain verify, does the balance cache equal the
 * ledger (a replay dry-run), and is the breaker open. 503 when any of the first three fails.
 *
 * The verify reads the ledger (from the last checkpoint), so its result is cached for
 * LIMITS.http.healthCacheMs and concurrent requests share one run. It runs inside one
 * REPEATABLE READ, READ ONLY transaction: replay reads the ledger and then the cache with separate
 * queries, and without one snapshot a write landing between them would look like drift. (On
 * PGlite, one connection, that transaction holds writers back for the verify's duration.)
 */
import type { Db } from '../../db/adapter';
import { replay, type ReplayReport } from '../../db/replay';
import { LIMITS } from '../../validator/limits';

export interface HealthOptions {
  cacheMs?: number;
  /** Extra sections (alert delivery counts, …); a failing extra never fails the check. */
  extras?: () => Promise<Record<string, unknown>>;
  clock?: () => number;
}

export interface HealthResult {
  status: 200 | 503;
  body: Record<string, unknown>;
}

async function snapshotReplay(db: Db): Promise<ReplayReport> {
  return db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    // replay() takes a Db; in dry-run mode it only ever reads (query, copyOut), so the transaction is
    // presented as one (anything else would be a bug, and throws).
    const view: Db = {
      kind: db.kind,
      schema: db.schema,
      query: (sql, params) => tx.query(sql, params),
      exec: (sql) => tx.exec(sql),
      copyIn: () => Promise.reject(new Error('health verify: read only')),
      copyOut: (select, onChunk) => tx.copyOut(select, onChunk),
      transaction: () => Promise.reject(new Error('health verify: no nested transactions')),
      close: async () => {},
    };
    return replay(view, { dryRun: true, fromCheckpoint: true, maxBadRows: 20 });
  });
}

export class HealthChecker {
  private cached: { at: number; report: ReplayReport } | null = null;
  private inflight: Promise<ReplayReport> | null = null;
  private readonly clock: () => number;

  constructor(
    private readonly db: Db,
    private readonly opts: HealthOptions = {},
  ) {
    this.clock = opts.clock ?? Date.now;
  }

  private async verify(): Promise<{ report: ReplayReport; age: number }> {
    const ttl = this.opts.cacheMs ?? LIMITS.http.healthCacheMs;
    const now = this.clock();
    if (this.cached && now - this.cached.at < ttl) return { report: this.cached.report, age: now - this.cached.at };
    this.inflight ??= snapshotReplay(this.db).finally(() => (this.inflight = null));
    const report = await this.inflight;
    this.cached = { at: this.clock(), report };
    return { report, age: 0 };
  }

  async check(): Promise<HealthResult> {
    const t0 = performance.now();
    let breaker: Record<string, unknown> | null = null;
    try {
      const r = await this.db.query<{ open: boolean; reason: string; set_by: string | null }>('SELECT open, reason, set_by FROM breaker');
      const b = r.rows[0];
      breaker = b ? { open: b.open, reason: b.reason, by: b.set_by } : null;
    } catch (e) {
      return {
        status: 503,
        body: { status: 'down', database: { ok: false, kind: this.db.kind, error: 'the database is not reachable or not initialized' } },
      };
    }
    const database = { ok: true, kind: this.db.kind, latency_ms: Math.round((performance.now() - t0) * 10) / 10 };
    let report: ReplayReport;
    let age: number;
    try {
      ({ report, age } = await this.verify());
    } catch (e) {
      const code = (e as { code?: string })?.code;
      return { status: 503, body: { status: 'down', database, ledger: { chain_ok: false, error: code ?? 'VERIFY_FAILED', message: String((e as Error)?.message ?? e).slice(0, 300) }, breaker } };
    }
    const ok = report.chainOk && report.cacheMatches && report.headMatches;
    let extras: Record<string, unknown> = {};
    if (this.opts.extras) extras = await this.opts.extras().catch((e) => ({ extras_error: String((e as Error)?.message ?? e).slice(0, 200) }));
    return {
      status: ok ? 200 : 503,
      body: {
        status: ok ? 'ok' : 'drift',
        database,
        ledger: { chain_ok: report.chainOk, bad_rows: report.badRows.slice(0, 5), last_id: report.lastId, head_matches: report.headMatches, rows_verified: report.rowsReplayed, verify_ms: report.ms, verified_ms_ago: age },
        cache: { matches: report.cacheMatches, diff_count: report.diffs.length, diffs: report.diffs.slice(0, 10), checksum: report.checksum },
        breaker,
        ...extras,
      },
    };
  }
}
