/**
 * The main job: `runLoop(opts)` opens the database (embedded PGlite by default, Postgres when a
 * URL is given), initializes the scenario if the ledger is empty, then runs ticks (engine/tick.ts)
 * until the tick count, a collapse of the commons, or the AbortSignal (Ctrl-C in the CLI) — a
 * clean stop: the current tick finishes, then the database is closed. It returns a summary.
 *
 * `openLoop` exposes the same setup without running, for callers that drive ticks themselves
 * (the n8n nodes, the service): `const loop = await openLoop(opts); await loop.tick(); ...;
 * loop.summary(); await loop.close()`.
 */
import { sleep } from './sleep';
import { join } from 'node:path';
import { LIMITS } from '../validator';
import { openDb, type Db } from '../db/adapter';
import { migrate, packageRoot } from '../db/migrate';
import { LedgerWriter } from '../db/writer';
import { GridError } from '../db/errors';
import { initGrid } from './init';
import { loadScenarioFile, ScenarioError, type Scenario } from './scenario';
import { readWorldState } from './world-state';
import { proposerFor, GeminiProposer, type AgentKind, type GeminiProposerOptions, type ScriptedOptions, type Proposer } from './agents';
import { commonsOf, ungoverned, CommonsMetrics } from './commons';
import { resolveMix, type MixSpec } from './mix';
import { systemActor } from './breaker';
import { runTick, type TickEnv, type TickReport } from './tick';
import { Summarizer, progressLine, type LoopSummary } from './progress';

export interface LoopOptions {
  /** An open database to use (left open). Otherwise one is opened and closed by the loop. */
  db?: Db;
  /** postgres://… (default: process.env.DATABASE_URL; absent → embedded PGlite). */
  databaseUrl?: string;
  /** PGlite data directory (default .grid/pgdata; `memory://` for a throwaway grid). */
  dataDir?: string;
  schema?: string;
  /** A parsed scenario or a path (default: scenarios/commons.json). */
  scenario?: Scenario | string;
  /** false → the ungoverned comparison run (the commons' permissive policy). Default true. */
  governed?: boolean;
  seed?: number | string;
  /** Ticks to run (default: the commons horizon, else 50). Infinity → until the signal. */
  ticks?: number;
  /** Which policy drives which agent (see engine/mix.ts). Default: the scenario's mix. */
  agents?: MixSpec;
  /** 'gemini' → every agent not named in `agents` asks Gemini. Default: gemini when a key is configured. */
  proposer?: 'scripted' | 'gemini';
  gemini?: Partial<GeminiProposerOptions>;
  scripted?: Partial<Omit<ScriptedOptions, 'seed'>>;
  /** Real pause between ticks, ms (0 = as fast as possible). */
  intervalMs?: number;
  /** Simulated ms per tick (default: the commons period_ms, else LIMITS.loop.defaultPeriodMs). */
  periodMs?: number;
  /** Automatic breaker trips (default true); verify every N ticks (0 = never). */
  breaker?: boolean;
  verifyEvery?: number;
  /** Stop when the commons collapses (default true). */
  stopOnCollapse?: boolean;
  signal?: AbortSignal;
  onProgress?: (line: string, report: TickReport) => void;
}

export interface GridLoop {
  env: TickEnv;
  scenario: Scenario;
  /** Ticks the loop plans to run. */
  ticks: number;
  /** Run the next tick. */
  tick(): Promise<TickReport>;
  summary(stoppedBy?: LoopSummary['stoppedBy']): Promise<LoopSummary>;
  close(): Promise<void>;
}

export const DEFAULT_SCENARIO = () => join(packageRoot(), 'scenarios', 'commons.json');
export const DEFAULT_SEED = 42;

export async function openLoop(opts: LoopOptions = {}): Promise<GridLoop> {
  const base = typeof opts.scenario === 'object' ? opts.scenario : loadScenarioFile(opts.scenario ?? DEFAULT_SCENARIO());
  const scenario = opts.governed === false ? ungoverned(base) : base;
  const commons = commonsOf(scenario);
  const ticks = opts.ticks ?? commons?.horizon ?? 50;
  if (!(ticks >= 1) || (Number.isFinite(ticks) && !Number.isInteger(ticks))) throw new ScenarioError(`ticks must be a whole number ≥ 1 (or Infinity), got ${ticks}`);
  const intervalMs = opts.intervalMs ?? 0;
  if (!(intervalMs >= 0 && intervalMs <= LIMITS.loop.maxIntervalMs)) throw new ScenarioError(`intervalMs must be within 0..${LIMITS.loop.maxIntervalMs}`);

  const url = opts.databaseUrl ?? process.env.DATABASE_URL;
  const db = opts.db ?? (await openDb({ url: url || undefined, dataDir: opts.dataDir, schema: opts.schema }));
  const ownsDb = !opts.db;
  try {
    await ensureInitialized(db, scenario);
    const world = await readWorldState(db);
    const agentIds = world.actors.filter((a) => a.kind === 'agent').map((a) => a.id);
    const seed = opts.seed ?? DEFAULT_SEED;
    const head = (await db.query<{ last_id: string; last_at_ms: bigint }>('SELECT last_id::text AS last_id, last_at_ms FROM ledger_head')).rows[0];
    // Proposers draw from (seed, epoch): a fresh grid (same genesis, same head) repeats exactly;
    // a resumed grid never re-issues the proposal ids of an earlier run.
    const streamSeed = `${seed}/${head.last_id}`;
    const gemini = geminiOptions(opts, streamSeed);
    const useGemini = opts.proposer === 'gemini' || (opts.proposer === undefined && gemini !== undefined);
    const fallback: Record<string, AgentKind> = useGemini ? Object.fromEntries(agentIds.map((a) => [a, 'gemini' as AgentKind])) : (commons?.mix ?? {});
    const mix = resolveMix(opts.agents, agentIds, fallback);
    const scripted: ScriptedOptions = { regrowthBps: commons?.regrowth_bps, ...opts.scripted, seed: streamSeed };
    const proposers = new Map<AgentKind, Proposer>();
    const agents = [...mix].map(([id, kind]) => {
      if (!proposers.has(kind)) proposers.set(kind, proposerFor(kind, { scripted, gemini }));
      return { id, kind, proposer: proposers.get(kind)! };
    });
    const clock = { now: 0 };
    const env: TickEnv = {
      db,
      writer: new LedgerWriter(db, { clock: () => clock.now }),
      clock,
      startMs: Math.max(Date.now(), Number(head.last_at_ms) + 1),
      periodMs: opts.periodMs ?? commons?.period_ms ?? LIMITS.loop.defaultPeriodMs,
      seed,
      epoch: head.last_id,
      scenarioName: scenario.name,
      system: await systemActor(db),
      agents,
      commons,
      metrics: commons ? new CommonsMetrics(commons, agentIds.sort(), Number.isFinite(ticks) ? ticks : commons.horizon ?? 50) : null,
      breaker: { enabled: opts.breaker ?? true, verifyEvery: opts.verifyEvery ?? LIMITS.loop.defaultVerifyEveryTicks },
      signal: opts.signal,
    };
    const sum = await Summarizer.start(env, scenario);
    let next = 0;
    let closed = false;
    return {
      env,
      scenario,
      ticks,
      async tick() {
        if (next >= LIMITS.loop.maxTicks) throw new GridError('SCENARIO_INVALID', `a loop runs at most ${LIMITS.loop.maxTicks} ticks`);
        const r = await runTick(env, next++);
        sum.add(r);
        opts.onProgress?.(progressLine(r, ticks, env.commons), r);
        return r;
      },
      summary: (stoppedBy = 'ticks') => sum.finish(stoppedBy, llmTotals(proposers)),
      async close() {
        if (closed) return;
        closed = true;
        if (ownsDb) await db.close();
      },
    };
  } catch (e) {
    if (ownsDb) await db.close().catch(() => {});
    throw e;
  }
}

export async function runLoop(opts: LoopOptions = {}): Promise<LoopSummary> {
  const loop = await openLoop(opts);
  const stopOnCollapse = opts.stopOnCollapse ?? true;
  let stoppedBy: LoopSummary['stoppedBy'] = 'ticks';
  try {
    for (let t = 0; t < loop.ticks; t++) {
      if (opts.signal?.aborted) {
        stoppedBy = 'signal';
        break;
      }
      const r = await loop.tick();
      if (r.collapsed && stopOnCollapse) {
        stoppedBy = 'collapse';
        break;
      }
      if (opts.intervalMs && t + 1 < loop.ticks) await sleep(opts.intervalMs, opts.signal);
    }
    if (stoppedBy === 'ticks' && opts.signal?.aborted) stoppedBy = 'signal';
    return await loop.summary(stoppedBy);
  } finally {
    await loop.close();
  }
}

/** Migrate; run genesis when the ledger is empty; refuse a database that holds another grid. */
async function ensureInitialized(db: Db, scenario: Scenario): Promise<void> {
  await migrate(db);
  const head = await db.query<{ last_id: string }>('SELECT last_id::text AS last_id FROM ledger_head');
  if (head.rows[0]?.last_id === '0') {
    const rep = await initGrid(db, scenario);
    if (rep.genesis.rejected.length) {
      const r = rep.genesis.rejected[0];
      throw new ScenarioError(`genesis of ${scenario.name} was refused: ${r.code}: ${r.message}`);
    }
    return;
  }
  const known = new Set((await db.query<{ id: string }>('SELECT id FROM actors')).rows.map((r) => r.id));
  const missing = scenario.actors.filter((a) => !known.has(a.id)).map((a) => a.id);
  if (missing.length) {
    throw new ScenarioError(`the database already holds a grid without ${missing.slice(0, 5).join(', ')} of scenario ${scenario.name}; use another database or schema`);
  }
}

function geminiOptions(opts: LoopOptions, seed: number | string): GeminiProposerOptions | undefined {
  const g = opts.gemini ?? {};
  const apiKey = g.apiKey ?? process.env.GEMINI_API_KEY ?? process.env.GOOGLE_API_KEY;
  if (!apiKey) return undefined;
  const out: GeminiProposerOptions = { seed, ...g, apiKey };
  const baseUrl = g.baseUrl ?? process.env.GEMINI_BASE_URL;
  const model = g.model ?? process.env.GEMINI_MODEL;
  if (baseUrl) out.baseUrl = baseUrl;
  if (model) out.model = model;
  return out;
}

function llmTotals(proposers: Map<AgentKind, Proposer>) {
  const g = proposers.get('gemini');
  return g instanceof GeminiProposer ? Object.fromEntries([...g.totals].sort(([a], [b]) => (a < b ? -1 : 1))) : {};
}

