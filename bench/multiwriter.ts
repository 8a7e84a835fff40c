/**
 * Many writer processes on one ledger: applied proposals/s with 1, 2 and 4 OS processes, each
 * with its own pool and LedgerWriter (tests/support/writer-process.ts), started together behind a
 * barrier and run for a fixed time against the same Postgres schema — the shape of n8n queue
 * mode, where every worker process writes through its own writer.
 *
 * Two modes per process count:
 * - single: `apply` loops with `lanes` proposals in flight per process (group commit inside each
 *   process; processes contend for actor locks and the chain head);
 * - batch: `applyBatch` of `batch` proposals per transaction.
 * Each point runs on a fresh schema and ends with a verifying replay, so a fast but broken
 * configuration cannot pass as a result. 1000 accounts with large balances: nearly every
 * proposal applies, so applied/s measures the write path rather than the law's rejections.
 */
import { loadavg } from 'node:os';
import { openDb } from '../db/adapter';
import { initGrid } from '../engine/init';
import { replay } from '../db/replay';
import { manyAccounts } from '../tests/support/many-accounts';
import { runWriterProcesses, type WriterJob } from '../tests/support/writer-process';

export interface MultiWriterOptions {
  pgUrl?: string;
  seconds?: number;
  processes?: number[];
  lanes?: number;
  batch?: number;
  log?: (line: string) => void;
}

export interface MultiWriterRow {
  processes: number;
  mode: 'single' | 'batch';
  inFlightPerProcess: number;
  proposals: number;
  applied: number;
  appliedPerSecond: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  chainOk: boolean;
}

const ACCOUNTS = 1000;

export async function benchMultiWriter(o: MultiWriterOptions = {}): Promise<{ rows: MultiWriterRow[]; markdown: string; loadAverage: number[] }> {
  const pgUrl = o.pgUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const seconds = o.seconds ?? 8;
  const lanes = o.lanes ?? 16;
  const batch = o.batch ?? 500;
  const log = o.log ?? (() => {});
  const { scenario } = manyAccounts(ACCOUNTS, 1_000_000_000_000);
  const rows: MultiWriterRow[] = [];
  const load0 = loadavg();
  for (const mode of ['single', 'batch'] as const) {
    for (const processes of o.processes ?? [1, 2, 4]) {
      const schema = `bench_mw_${Date.now().toString(36)}_${processes}${mode[0]}`;
      const db = await openDb({ url: pgUrl, schema, poolSize: 2 });
      try {
        await initGrid(db, scenario);
        const jobs: WriterJob[] = Array.from({ length: processes }, (_, k) => ({
          url: pgUrl,
          schema,
          seed: 9000 + k,
          seconds,
          accounts: ACCOUNTS,
          amountMax: 50,
          mode,
          lanes,
          batch,
          resubmitEvery: 0,
          resubmitSeed: 0,
          poolSize: 2,
        }));
        const { results, wallMs } = await runWriterProcesses(jobs, (seconds + 120) * 1000);
        const rep = await replay(db, { dryRun: true });
        const applied = results.reduce((s, r) => s + r.applied, 0);
        const row: MultiWriterRow = {
          processes,
          mode,
          inFlightPerProcess: mode === 'single' ? lanes : batch,
          proposals: results.reduce((s, r) => s + r.proposals, 0),
          applied,
          appliedPerSecond: Math.round((applied / wallMs) * 1000),
          p50ms: Math.max(...results.map((r) => r.p50ms)),
          p99ms: Math.max(...results.map((r) => r.p99ms)),
          errors: results.reduce((s, r) => s + r.errorCount, 0),
          chainOk: rep.chainOk && rep.cacheMatches && rep.headMatches,
        };
        rows.push(row);
        log(`  multiwriter ${mode} ×${processes}: ${row.appliedPerSecond} applied/s (p50 ${row.p50ms} ms, p99 ${row.p99ms} ms, errors ${row.errors}, chain ${row.chainOk ? 'ok' : 'BROKEN'})`);
      } finally {
        await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
        await db.close();
      }
    }
  }
  return { rows, markdown: toMarkdown(rows, seconds), loadAverage: load0 };
}

export function toMarkdown(rows: MultiWriterRow[], seconds: number): string {
  const head = [
    `| writer processes | mode | in flight / batch per process | applied/s | p50 ms | p99 ms | errors | chain verified |`,
    `|---:|---|---:|---:|---:|---:|---:|---|`,
  ];
  const body = rows.map(
    (r) =>
      `| ${r.processes} | ${r.mode === 'single' ? 'single `apply`' : '`applyBatch`'} | ${r.inFlightPerProcess} | ${r.appliedPerSecond} | ${r.p50ms} | ${r.p99ms} | ${r.errors} | ${r.chainOk ? 'yes' : 'NO'} |`,
  );
  return [...head, ...body, ``, `(${seconds} s per point; p50/p99 are per \`apply\` call or per batch; latency of the slowest process.)`].join('\n');
}

if (require.main === module) {
  benchMultiWriter({ seconds: Number(process.env.BENCH_SECONDS ?? 8), log: (l) => process.stderr.write(l + '\n') })
    .then((r) => process.stdout.write(r.markdown + '\n'))
    .catch((e) => {
      process.stderr.write(`multiwriter bench: ${e?.stack ?? e}\n`);
      process.exitCode = 1;
    });
}
