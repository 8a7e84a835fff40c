/**
 * The governed-vs-ungoverned comparison the README shows: the same commons, seed and horizon,
 * run under different policies and agent mixes, each on a fresh grid, summarized as one markdown
 * table. Every number comes from a real run through the writer (`grid commons --compare`).
 */
import type { Db } from '../../db/adapter';
import { openDb } from '../../db/adapter';
import { loadScenarioFile, type Scenario } from '../scenario';
import { runLoop, DEFAULT_SCENARIO, DEFAULT_SEED, type LoopOptions } from '../loop';
import { commonsTable, type LoopSummary } from '../progress';

export interface ComparisonRun {
  run: string;
  governed: boolean;
  agents?: string;
  /** Change the governed policy for this run (e.g. drop the rate limit). */
  policy?: (p: NonNullable<Scenario['policy']>) => Scenario['policy'];
}

export const COMPARISON_RUNS: ComparisonRun[] = [
  { run: 'ungoverned · 3 greedy, 1 cooperative, 1 random', governed: false },
  { run: 'ungoverned · 1 greedy, 4 cooperative', governed: false, agents: 'bob=greedy,alice=cooperative,carol=cooperative,dave=cooperative,erin=cooperative' },
  { run: 'ungoverned · 5 cooperative', governed: false, agents: 'cooperative' },
  { run: 'governed · 3 greedy, 1 cooperative, 1 random', governed: true },
  { run: 'governed · 3 greedy, 1 cooperative, 1 adversarial', governed: true, agents: 'erin=adversarial' },
  { run: 'governed without the rate limit · 3 greedy, 1 cooperative, 1 random', governed: true, policy: ({ rate_limit: _drop, ...rest }) => rest },
];

export async function compareCommons(opts: { seed?: number | string; ticks?: number; scenario?: string; runs?: ComparisonRun[]; openFresh?: () => Promise<Db> } = {}): Promise<{ rows: Array<{ run: string; summary: LoopSummary }>; markdown: string }> {
  const base = loadScenarioFile(opts.scenario ?? DEFAULT_SCENARIO());
  const rows: Array<{ run: string; summary: LoopSummary }> = [];
  for (const r of opts.runs ?? COMPARISON_RUNS) {
    const scenario: Scenario = r.policy && base.policy ? { ...base, name: `${base.name}-variant`, policy: r.policy(base.policy) } : base;
    const db = opts.openFresh ? await opts.openFresh() : await openDb({ dataDir: 'memory://' });
    try {
      const o: LoopOptions = { db, scenario, governed: r.governed, agents: r.agents, seed: opts.seed ?? DEFAULT_SEED, ticks: opts.ticks, proposer: 'scripted' };
      rows.push({ run: r.run, summary: await runLoop(o) });
    } finally {
      await db.close();
    }
  }
  return { rows, markdown: commonsTable(rows) };
}
