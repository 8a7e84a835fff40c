/**
 * A grid for the artifact-economy suites: the default scenario plus an escrow actor and a rate
 * limit the tests do not trip by accident, a writer on a test clock, and short helpers that go
 * through engine/artifacts exactly as the engine and the n8n node do.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../../db/adapter';
import { LedgerWriter } from '../../db/writer';
import { packageRoot } from '../../db/migrate';
import { replay } from '../../db/replay';
import { replayArtifacts } from '../../db/artifact-replay';
import { initGrid } from '../../engine/init';
import { parseScenario } from '../../engine/scenario';
import { invokeArtifact, writeArtifact, type ArtifactResponse, type InvokeResponse } from '../../engine/artifacts';
import type { Backend } from './backends';

export class TestClock {
  t = Date.now() + 60_000;
  now = () => this.t;
}

export interface ArtifactGrid {
  db: Db;
  w: LedgerWriter;
  clock: TestClock;
}

export async function artifactGrid(b: Backend, policy: Record<string, unknown> = {}): Promise<ArtifactGrid> {
  const db = await b.fresh({ migrated: false });
  const json = JSON.parse(readFileSync(join(packageRoot(), 'scenarios', 'default.json'), 'utf8'));
  json.actors.push({ id: 'escrow', kind: 'escrow' });
  json.policy = { ...json.policy, rate_limit: { max_actions: 100_000, window_ms: 10_000 }, ...policy };
  const rep = await initGrid(db, parseScenario(json));
  assert.deepEqual(rep.genesis.rejected, []);
  const clock = new TestClock();
  return { db, w: new LedgerWriter(db, { clock: clock.now }), clock };
}

export const tools = (...names: string[]) => ({ tools: names.map((name) => ({ name, description: `${name} (test tool)`, inputSchema: { type: 'object' } })) });

/** Write a code artifact `id` (methods named in `names`, default: every method `go`). */
export async function code(g: ArtifactGrid, agent: string, id: string, source: string, opts: { names?: string[]; price?: number; access?: any; description?: string } = {}) {
  const r = await writeArtifact({ db: g.db, writer: g.w, agent, artifactId: id, kind: 'code', content: source, interface: tools(...(opts.names ?? ['go'])), invokePrice: opts.price, access: opts.access, description: opts.description });
  return ok(r);
}

export function ok<T>(r: ArtifactResponse<T>): T {
  assert.equal(r.success, true, r.success ? '' : `expected success, got ${r.error_code}: ${r.message} ${JSON.stringify(r.details)}`);
  return (r as { result: T }).result;
}

export function failed(r: ArtifactResponse<unknown> | InvokeResponse, code: string): Extract<ArtifactResponse<unknown>, { success: false }> {
  assert.equal(r.success, false, `expected ${code}, got success: ${JSON.stringify((r as any).result)}`);
  const e = r as Extract<ArtifactResponse<unknown>, { success: false }>;
  assert.equal(e.error_code, code, `expected ${code}, got ${e.error_code}: ${e.message} ${JSON.stringify(e.details)}`);
  // The one error schema (gap 23): every key present.
  assert.deepEqual(Object.keys(e).filter((k) => ['success', 'error_code', 'message', 'details', 'retry_after'].includes(k)).sort(), ['details', 'error_code', 'message', 'retry_after', 'success']);
  assert.ok(e.message.length > 0);
  assert.equal(typeof e.details, 'object');
  return e;
}

export const invoke = (g: ArtifactGrid, invoker: string, artifactId: string, method = 'go', args: unknown = {}) =>
  invokeArtifact({ db: g.db, writer: g.w, invoker, artifactId, method, args, now: 1_700_000_000_000 });

export async function bal(db: Db, actor: string, resource = 'credits'): Promise<bigint> {
  const r = await db.query<{ amount: bigint }>('SELECT amount FROM balances WHERE actor = $1 AND resource = $2', [actor, resource]);
  return r.rows.length ? BigInt(r.rows[0].amount) : 0n;
}

/** Rows of one proposal: [kind, from, to, resource, amount]. */
export async function legs(db: Db, proposalId: string): Promise<Array<[string, string | null, string | null, string | null, string | null]>> {
  const r = await db.query<any>('SELECT kind, from_actor, to_actor, resource, amount FROM ledger WHERE proposal_id = $1 ORDER BY leg', [proposalId]);
  return r.rows.map((x) => [x.kind, x.from_actor, x.to_actor, x.resource, x.amount === null ? null : String(x.amount)]);
}

/** Replay verifies the chain, the balance cache and conservation, and the artifact caches equal the ledger. */
export async function assertSound(db: Db) {
  const r = await replay(db, { dryRun: true });
  assert.deepEqual(r.badRows, []);
  assert.equal(r.cacheMatches, true, JSON.stringify(r.diffs));
  for (const [res, c] of Object.entries(r.conservation)) assert.equal(c.ok, true, `${res} not conserved: ${JSON.stringify(c)}`);
  const a = await replayArtifacts(db, { dryRun: true });
  assert.equal(a.cacheMatches, true, JSON.stringify(a.diffs));
  assert.deepEqual(a.missingContent, []);
  return { ledger: r, artifacts: a };
}
