/**
 * invokeArtifact: run a stored artifact in the sandbox and record the run through the one writer.
 *
 * Steps: (1) run the executor over a HostSnapshot, re-running while the run needed data that was
 * not loaded yet (snapshot.ts); (2) turn the outcome into ONE `invoke` proposal, proposed by the
 * system actor on behalf of the invoker — on success it carries the executor's payment journal,
 * the revision of every artifact that ran and the compute charge (measured CPU, in the
 * `compute` resource, capped by the invoker's balance), on failure only the record of the calls
 * and the error; (3) the law decides it against locked balances and current artifact state: a
 * payment that no longer fits rejects the whole run (nothing moves); a run made against a
 * revision, price or owner that changed meanwhile (STALE_RUN) is run again, at most
 * LIMITS.artifacts.maxStaleRetries times.
 *
 * Nothing is recorded when nothing ran (invalid ids, no compute left before the start): there is
 * no call to record. The response always follows the one schema of errors.ts.
 */
import { randomUUID } from 'node:crypto';
import type { Db, Queryable } from '../../db/adapter';
import type { ApplyResult, LedgerWriter } from '../../db/writer';
import { Executor } from '../../sandbox/executor';
import type { ExecutionOutcome, InvokeEvent } from '../../sandbox/types';
import { COMPUTE, IdSchema, LIMITS, MethodNameSchema } from '../../validator';
import { artifactError, fromLaw, fromSandbox, type ArtifactError, type ArtifactSuccess } from './errors';
import { LedgerHost } from './host';
import { ContentCache, HostSnapshot } from './snapshot';

const L = LIMITS.artifacts;

/** Per database and process: one host, one executor, one content cache (see host.ts). */
export interface ArtifactRuntime {
  host: LedgerHost;
  executor: Executor;
  contents: ContentCache;
  attestor?: string | null;
}
const runtimes = new WeakMap<object, ArtifactRuntime>();

export function artifactRuntime(db: Queryable): ArtifactRuntime {
  let rt = runtimes.get(db);
  if (!rt) {
    const host = new LedgerHost();
    runtimes.set(db, (rt = { host, executor: new Executor(host), contents: new ContentCache() }));
  }
  return rt;
}

/** Tests and benches only: run this database's artifacts under other sandbox limits. */
export function setSandboxLimits(db: Queryable, limits: ConstructorParameters<typeof Executor>[1]): void {
  const rt = artifactRuntime(db);
  rt.executor = new Executor(rt.host, limits);
}

/** The system actor that records sandbox runs (the law accepts journals only from it). */
export async function systemActor(db: Queryable): Promise<string | null> {
  const rt = artifactRuntime(db);
  if (rt.attestor === undefined) {
    const r = await db.query<{ id: string }>(`SELECT id FROM actors WHERE kind = 'system' ORDER BY id LIMIT 1`);
    rt.attestor = r.rows[0]?.id ?? null;
  }
  return rt.attestor;
}

export interface InvokeOptions {
  db: Db;
  writer: LedgerWriter;
  invoker: string;
  artifactId: string;
  method: string;
  args?: unknown;
  /** Logical clock of the run (default: now). */
  now?: number;
  seed?: number;
}

export interface InvokeInfo {
  proposal_id: string | null;
  metrics: ExecutionOutcome['metrics'] | null;
  events: InvokeEvent[];
}
export type InvokeSuccess = ArtifactSuccess & InvokeInfo & { entries: Extract<ApplyResult, { status: 'applied' }>['entries'] };
export type InvokeResponse = InvokeSuccess | (ArtifactError & Partial<InvokeInfo>);

export interface Run {
  outcome: ExecutionOutcome;
  snap: HostSnapshot;
  /** Invoker's compute balance (null: no compute resource registered, nothing is charged). */
  computeUnits: bigint | null;
  complete: boolean;
}

/** Run until the host had everything the run asked for (or the round limit). */
export async function runWithSnapshot(db: Queryable, req: { artifactId: string; method: string; args?: unknown; invoker: string; now: number; seed?: number }, opts: { evaluation?: boolean; charge?: boolean; resources?: string[] } = {}): Promise<Run> {
  const rt = artifactRuntime(db);
  await rt.executor.ready();
  const snap = new HostSnapshot(db, rt.contents);
  if (opts.resources) snap.knownResources(opts.resources);
  snap.prefetch([req.artifactId], [req.invoker, req.artifactId]);
  await snap.fill();
  for (;;) {
    const charged = opts.charge !== false && snap.hasResource(COMPUTE) === true;
    const computeUnits = charged ? (snap.balance(req.invoker, COMPUTE) ?? 0n) : null;
    const cpuBudgetMs = computeUnits === null ? undefined : Number(computeUnits) * (L.computeUnitMicros / 1000);
    rt.host.use(snap, { evaluation: opts.evaluation });
    const outcome = rt.executor.runSync({ ...req, cpuBudgetMs });
    if (!snap.missed) return { outcome, snap, computeUnits, complete: true };
    if (snap.rounds >= L.maxFetchRounds) return { outcome, snap, computeUnits, complete: false };
    await snap.fill();
  }
}

export async function invokeArtifact(o: InvokeOptions): Promise<InvokeResponse> {
  const attestor = await systemActor(o.db);
  if (!attestor) return artifactError('EXECUTION_ERROR', 'No system actor is registered to record sandbox runs.', { reason: 'NO_SYSTEM_ACTOR' });
  // One round trip for the breaker, the invoker's kind and the resource registry.
  const g = (
    await o.db.query<{ open: boolean; reason: string; kind: string | null; resources: string[] | null }>(
      'SELECT open, reason, (SELECT kind FROM actors WHERE id = $1) AS kind, (SELECT array_agg(id) FROM resources) AS resources FROM breaker',
      [o.invoker],
    )
  ).rows[0];
  if (!g?.kind) return artifactError('NOT_FOUND', `Invoker ${o.invoker} is not a registered actor.`, { invoker: o.invoker });
  if (g.open && g.kind === 'agent') return artifactError('CIRCUIT_OPEN', `Agent trading is halted: ${g.reason}`, { reason: g.reason });
  const now = o.now ?? Date.now();
  for (let attempt = 0; ; attempt++) {
    const run = await runWithSnapshot(o.db, { artifactId: o.artifactId, method: o.method, args: o.args, invoker: o.invoker, now, seed: o.seed }, { resources: g.resources ?? [] });
    const { outcome } = run;
    const info = { metrics: outcome.metrics, events: outcome.events };
    if (!run.complete) return artifactError('EXECUTION_ERROR', 'The run needed more host data than one invoke may load; try again.', { reason: 'HOST_FETCH_LIMIT' }, 1);
    const rec = recordOf(o, attestor, run);
    if (rec === null) return outcome.success ? artifactError('EXECUTION_ERROR', 'The run could not be recorded.', {}) : { ...fromSandbox(outcome, { recorded: false }), ...info, proposal_id: null };
    const { proposal } = rec;
    const r = await o.writer.apply(proposal);
    if (r.status === 'rejected' && r.code === 'STALE_RUN' && attempt < L.maxStaleRetries) continue;
    const ran = proposal.outcome === 'success';
    if (r.status === 'rejected') {
      // The run failed anyway (record refused), or its effects were refused as a whole.
      if (!ran && !outcome.success) return { ...fromSandbox(outcome, { recorded: false, record_rejection: r.code }), ...info, proposal_id: r.proposal_id };
      return { ...fromLaw(r, { recorded: false }), ...info, proposal_id: r.proposal_id };
    }
    if (!ran) {
      const e = outcome.success ? artifactError('EXECUTION_ERROR', rec.message ?? 'The run could not be recorded as a success.', { reason: 'JOURNAL_TOO_LARGE' }) : fromSandbox(outcome);
      return { ...e, details: { ...e.details, recorded: true, proposal_id: r.proposal_id }, ...info, proposal_id: r.proposal_id };
    }
    return { success: true, result: outcome.success ? outcome.result : null, entries: r.entries, proposal_id: r.proposal_id, ...info };
  }
}

type Call = [number, number | null, string, string, number | null, string | null];

/** The `invoke` proposal for a run, or null when no call can be recorded. */
function recordOf(o: InvokeOptions, attestor: string, run: Run): { proposal: Record<string, unknown> & { outcome: string }; message?: string } | null {
  const { outcome } = run;
  const host = artifactRuntime(o.db).host;
  const calls: Call[] = outcome.events
    .filter((e) => IdSchema.safeParse(e.artifactId).success && MethodNameSchema.safeParse(e.method).success)
    .sort((a, b) => a.callId - b.callId)
    .map((e) => [e.callId, e.parentCallId, e.artifactId, e.method, e.artifactId.startsWith('genesis:') ? null : host.revOf(e.artifactId), e.type === 'INVOKE_SUCCESS' ? null : (e.error_code ?? 'EXECUTION_ERROR')]);
  if (calls.length === 0 || calls[0][1] !== null || calls[0][2] !== o.artifactId || calls[0][3] !== o.method) return null;
  const m = outcome.metrics;
  const base = {
    kind: 'invoke',
    proposal_id: randomUUID(),
    agent: attestor,
    invoker: o.invoker,
    artifact_id: o.artifactId,
    method: o.method,
    calls,
    metrics: { cpu_micros: m.cpuMicros, wall_micros: m.wallMicros, peak_memory_bytes: m.peakMemoryBytes },
  };
  const failure = (code: string) => ({ ...base, outcome: 'failure', error_code: code, payments: [], compute: '0' });
  if (!outcome.success) return { proposal: failure(outcome.error_code) };
  const units = run.computeUnits;
  const used = BigInt(Math.max(1, Math.ceil(m.cpuMicros / L.computeUnitMicros)));
  const compute = units === null ? 0n : used < units ? used : units;
  const payments = outcome.effects.payments.map((p) => [p.callId, p.kind === 'invoke_price' ? 'price' : p.kind, p.from, p.to, p.resource, p.amount.toString()]);
  const ok = { ...base, outcome: 'success', payments, compute: compute.toString() };
  if (Buffer.byteLength(JSON.stringify(ok)) <= LIMITS.proposal.maxBytes) return { proposal: ok };
  // Too many payments to record in one proposal: the run counts as failed and nothing moves.
  const f = failure('EXECUTION_ERROR');
  const message = `The run journaled ${payments.length} payments, more than one proposal can record (${LIMITS.proposal.maxBytes} bytes); nothing was paid.`;
  return { proposal: { ...f, calls: calls.map((c): Call => (c[1] === null ? [c[0], c[1], c[2], c[3], c[4], 'EXECUTION_ERROR'] : c)) }, message };
}
