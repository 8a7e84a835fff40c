/**
 * One writer PROCESS for the many-writers test and benchmark: its own pool, its own LedgerWriter,
 * appending to a ledger that other processes append to at the same time. The chain head is the
 * only thing the writers share, so only separate processes (not several writers in one event
 * loop) show whether the chain forks, deadlocks or loses an update.
 *
 * Protocol (stdin/stdout, one line each): the child prints READY once connected, waits for GO
 * (a start barrier, so every process starts loading the server at the same moment), runs, then
 * prints `RESULT <json>` and exits 0. Any fatal error: a message on stderr and exit code 3.
 *
 * argv[2] is a JSON `WriterJob`. Proposals are a pure function of (seed, index) — see
 * `proposalAt` — so the parent can recompute every id it expects to find decided, and another
 * process can resubmit the very same proposal (same id, same content) to race the owner.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { openDb } from '../../db/adapter';
import { LedgerWriter, type ApplyResult } from '../../db/writer';
import { deterministicId } from '../../engine/scenario';
import { rng } from './many-accounts';

export interface WriterJob {
  url: string;
  schema: string;
  /** This process's proposal stream. */
  seed: number;
  /** Stop after this many own proposals (count mode)… */
  count?: number;
  /** …or after this many seconds (benchmark mode). */
  seconds?: number;
  /** Accounts `acct000…` (tests/support/many-accounts.ts) to transfer among. */
  accounts: number;
  /** Transfers are 1..amountMax credits. */
  amountMax: number;
  /** 'single': `apply` loops, `lanes` in flight (group commit); 'batch': `applyBatch` of `batch`. */
  mode: 'single' | 'batch';
  lanes: number;
  batch: number;
  /** Every Nth own proposal, also resubmit proposal N of `resubmitSeed`'s stream (0: never). */
  resubmitEvery: number;
  resubmitSeed: number;
  poolSize: number;
}

export interface WriterResult {
  seed: number;
  proposals: number;
  applied: number;
  rejected: number;
  duplicates: number;
  /** One char per own proposal, in index order: a(pplied) r(ejected) d(uplicate-applied) x(duplicate-rejected) e(rror). */
  outcomes: string;
  /** Resubmissions of the other stream: `index:char`, same alphabet. */
  resubmits: string[];
  errors: string[];
  errorCount: number;
  elapsedMs: number;
  p50ms: number;
  p99ms: number;
}

const acct = (i: number) => `acct${String(i).padStart(3, '0')}`;

/** Proposal `i` of stream `seed`: a random transfer; the same (seed, i) always gives the same proposal. */
export function proposalAt(seed: number, i: number, accounts: number, amountMax: number) {
  const next = rng(Math.imul(seed, 1_000_003) + i);
  const a = Math.floor(next() * accounts);
  let b = Math.floor(next() * accounts);
  if (b === a) b = (a + 1) % accounts;
  return {
    proposal_id: deterministicId('multiwriter', String(seed), String(i)),
    agent: acct(a),
    from: acct(a),
    to: acct(b),
    resource: 'credits',
    amount: 1 + Math.floor(next() * amountMax),
  };
}

function char(r: ApplyResult): string {
  if (r.status === 'applied') return r.duplicate ? 'd' : 'a';
  return r.duplicate ? 'x' : 'r';
}

async function main() {
  const job = JSON.parse(process.argv[2]) as WriterJob;
  const db = await openDb({ url: job.url, schema: job.schema, poolSize: job.poolSize });
  const writer = new LedgerWriter(db);
  const res: WriterResult = { seed: job.seed, proposals: 0, applied: 0, rejected: 0, duplicates: 0, outcomes: '', resubmits: [], errors: [], errorCount: 0, elapsedMs: 0, p50ms: 0, p99ms: 0 };
  const outcomes: string[] = [];
  const latencies: number[] = [];
  const count = (r: ApplyResult) => {
    if (r.duplicate) res.duplicates++;
    else if (r.status === 'applied') res.applied++;
    else res.rejected++;
  };
  const failed = (e: any) => {
    res.errorCount++;
    if (res.errors.length < 5) res.errors.push(`${e?.code ?? ''} ${e?.message ?? e}`);
  };

  const lines = createInterface({ input: process.stdin });
  process.stdout.write('READY\n');
  await new Promise<void>((resolve) => lines.on('line', (l) => l.trim() === 'GO' && resolve()));
  lines.close();

  const t0 = performance.now();
  const deadline = job.seconds ? t0 + job.seconds * 1000 : Infinity;
  const limit = job.count ?? Number.MAX_SAFE_INTEGER;
  let nextIndex = 0;
  // Claim the next index; every lane (or batch) takes from the same counter, in order.
  const claim = () => (nextIndex < limit && performance.now() < deadline ? nextIndex++ : -1);

  const resubmit = async (i: number) => {
    if (!job.resubmitEvery || i % job.resubmitEvery !== 0) return;
    try {
      const r = await writer.apply(proposalAt(job.resubmitSeed, i, job.accounts, job.amountMax));
      res.resubmits.push(`${i}:${char(r)}`);
    } catch (e) {
      res.resubmits.push(`${i}:e`);
      failed(e);
    }
  };

  if (job.mode === 'single') {
    const lane = async () => {
      for (let i = claim(); i >= 0; i = claim()) {
        const s = performance.now();
        try {
          const r = await writer.apply(proposalAt(job.seed, i, job.accounts, job.amountMax));
          outcomes[i] = char(r);
          count(r);
        } catch (e) {
          outcomes[i] = 'e';
          failed(e);
        }
        latencies.push(performance.now() - s);
        res.proposals++;
        await resubmit(i);
      }
    };
    await Promise.all(Array.from({ length: job.lanes }, lane));
  } else {
    for (;;) {
      const idx: number[] = [];
      for (let i = claim(); i >= 0; i = idx.length < job.batch ? claim() : -1) idx.push(i);
      if (!idx.length) break;
      const s = performance.now();
      try {
        const rs = await writer.applyBatch(idx.map((i) => proposalAt(job.seed, i, job.accounts, job.amountMax)));
        rs.forEach((r, k) => {
          outcomes[idx[k]] = char(r);
          count(r);
        });
      } catch (e) {
        for (const i of idx) outcomes[i] = 'e';
        failed(e);
      }
      latencies.push(performance.now() - s);
      res.proposals += idx.length;
      for (const i of idx) await resubmit(i);
    }
  }
  res.elapsedMs = Math.round(performance.now() - t0);
  res.outcomes = job.count ? outcomes.join('') : '';
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => (latencies.length ? Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] * 100) / 100 : 0);
  res.p50ms = pct(0.5);
  res.p99ms = pct(0.99);
  await db.close();
  process.stdout.write(`RESULT ${JSON.stringify(res)}\n`);
}

/**
 * Starts one process per job, waits until all are connected, releases them together and
 * collects their results. Every child is killed if any fails or `timeoutMs` passes.
 */
export async function runWriterProcesses(jobs: WriterJob[], timeoutMs: number): Promise<{ results: WriterResult[]; wallMs: number }> {
  const children: ChildProcess[] = [];
  const ready: Array<Promise<void>> = [];
  const done: Array<Promise<WriterResult>> = [];
  for (const job of jobs) {
    const child = spawn(process.execPath, [__filename, JSON.stringify(job)], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    let onReady: () => void;
    ready.push(new Promise<void>((r) => (onReady = r)));
    child.stderr!.on('data', (d) => (err += d));
    done.push(
      new Promise<WriterResult>((resolve, reject) => {
        child.stdout!.on('data', (d) => {
          out += d;
          if (out.includes('READY\n')) onReady();
        });
        child.on('exit', (code, signal) => {
          const m = /^RESULT (.*)$/m.exec(out);
          if (code === 0 && m) resolve(JSON.parse(m[1]) as WriterResult);
          else reject(new Error(`writer process seed ${job.seed} exited (code ${code}, signal ${signal}): ${err.slice(-2000)}`));
        });
      }),
    );
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`writer processes did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    // A child that dies before READY must fail the run, not leave the barrier waiting forever.
    await Promise.race([Promise.all(ready), Promise.all(done), timeout]);
    const t0 = performance.now();
    for (const c of children) c.stdin!.write('GO\n');
    const results = await Promise.race([Promise.all(done), timeout]);
    return { results, wallMs: Math.round(performance.now() - t0) };
  } finally {
    clearTimeout(timer);
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`writer process failed: ${e?.stack ?? e}\n`);
    process.exit(3);
  });
}
