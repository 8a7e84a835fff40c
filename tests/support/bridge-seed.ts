/**
 * A grid with some history for the bridge, dashboard and Streamlit tests: the default scenario,
 * then a deterministic sequence of trades spread over the last minutes (an injected writer clock),
 * some of which the law refuses. Deterministic so that counts can be asserted.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Db } from '../../db/adapter';
import { LedgerWriter, type ApplyResult } from '../../db/writer';
import { initGrid } from '../../engine/init';
import { loadScenarioFile } from '../../engine/scenario';
import { packageRoot } from '../../db/migrate';

export const AGENTS = ['alice', 'bob', 'carol', 'dave', 'erin'] as const;
const RESOURCES = ['credits', 'energy', 'water'] as const;

export interface SeedReport {
  applied: number;
  rejected: number;
  results: ApplyResult[];
  /** The writer clock's last value (ms); live writes use Date.now, which is later. */
  endedAt: number;
}

/** Park–Miller PRNG: the same trades on every run and backend. */
function prng(seed: number) {
  let s = seed % 2147483647 || 1;
  return (n: number) => {
    s = (s * 48271) % 2147483647;
    return s % n;
  };
}

export async function seedGrid(db: Db, opts: { trades?: number; stepMs?: number; seed?: number } = {}): Promise<SeedReport> {
  const trades = opts.trades ?? 60;
  const stepMs = opts.stepMs ?? 5_000;
  let t = Date.now() - (trades + 2) * stepMs;
  const writer = new LedgerWriter(db, { clock: () => t });
  await initGrid(db, loadScenarioFile(join(packageRoot(), 'scenarios', 'default.json')), writer);
  const rnd = prng(opts.seed ?? 42);
  const results: ApplyResult[] = [];
  for (let i = 0; i < trades; i++) {
    t += stepMs;
    const from = AGENTS[rnd(AGENTS.length)];
    const to = AGENTS[rnd(AGENTS.length)];
    const resource = RESOURCES[rnd(RESOURCES.length)];
    // Every 7th trade asks for far too much: the law refuses it (a rejection with a code).
    const amount = i % 7 === 6 ? 5_000 : 1 + rnd(120);
    results.push(await writer.apply(transferInput(from, to, resource, amount)));
  }
  const applied = results.filter((r) => r.status === 'applied').length;
  return { applied, rejected: results.length - applied, results, endedAt: t };
}

export function transferInput(from: string, to: string, resource: string, amount: number | string) {
  return { proposal_id: randomUUID(), kind: 'transfer', agent: from, from, to, resource, amount: String(amount), reasoning: 'test trade' };
}
