/**
 * /api/artifacts on both backends: the artifact-economy figures (engine/telemetry
 * analyzeArtifacts) over calls recorded through engine/artifacts, read incrementally by the bridge
 * from the `invocations` registry (as grid_reader on Postgres).
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { forEachBackend } from './support/backends';
import { eventually, openReader } from './support/bridge-harness';
import { LedgerWriter } from '../db/writer';
import { packageRoot } from '../db/migrate';
import { initGrid } from '../engine/init';
import { parseScenario } from '../engine/scenario';
import { invokeArtifact, writeArtifact } from '../engine/artifacts';
import { startBridge, type Bridge } from '../streamlit-bridge';
import type { Db } from '../db/adapter';

const MINUTE = 60_000;
const GO = { tools: [{ name: 'go', description: 'go (test tool)', inputSchema: { type: 'object' } }] };
/** −p·log2 p − (1−p)·log2(1−p), written out here from the documented definition. */
const H = (p: number) => -p * Math.log2(p) - (1 - p) * Math.log2(1 - p);

forEachBackend('bridge: artifact economy', (b) => {
  let bridge: Bridge | undefined;
  let reader: Db | undefined;
  let owner: Db | undefined;
  afterEach(async () => {
    await bridge?.close();
    if (reader && reader !== owner) await reader.close();
    bridge = reader = owner = undefined;
  });

  it('GIVEN app-a invoking dep-b (both alice\'s) called once by bob and once by alice WHEN /api/artifacts is read THEN depth 2, dep-b\'s Lindy score is 10 buckets × 2 invokers and control entropy is 1 bit; a later call is picked up incrementally', async () => {
    // Every entry at one fixed time 10½ minutes ago (the chain never runs backwards, so the
    // genesis must be written on the same clock): ages are then 10 whole minutes while the test runs.
    const t0 = Date.now() - 10 * MINUTE - 30_000;
    const db = (owner = await b.fresh({ migrated: false }));
    const json = JSON.parse(readFileSync(join(packageRoot(), 'scenarios', 'default.json'), 'utf8'));
    json.policy = { ...json.policy, rate_limit: { max_actions: 100_000, window_ms: 10_000 } };
    const w = new LedgerWriter(db, { clock: () => t0 });
    assert.deepEqual((await initGrid(db, parseScenario(json), w)).genesis.rejected, []);

    const write = async (id: string, source: string) => {
      const r = await writeArtifact({ db, writer: w, agent: 'alice', artifactId: id, kind: 'code', content: source, interface: GO });
      assert.equal(r.success, true, JSON.stringify(r));
    };
    await write('dep-b', `var methods = { go() { return 1; } };`);
    await write('app-a', `var methods = { go(args) { return invoke('dep-b', 'go', args) + 1; } };`);
    const call = async (invoker: string) => {
      const r = await invokeArtifact({ db, writer: w, invoker, artifactId: 'app-a', method: 'go', args: {}, now: t0 });
      assert.equal(r.success, true, JSON.stringify(r));
      assert.equal((r as { result: unknown }).result, 2);
    };
    await call('bob'); // autonomous: bob owns neither artifact
    await call('alice'); // command: the owner runs her own artifacts

    reader = await openReader(b, db);
    bridge = await startBridge({ db: reader, pollMs: 50, verifyMinIntervalMs: 60_000 });
    const get = async (path: string, init?: RequestInit) => {
      const res = await fetch(bridge!.url + path, init);
      return { status: res.status, body: (await res.json()) as any };
    };
    assert.ok('/api/artifacts' in (await get('/api')).body.endpoints);

    const a = (await get('/api/artifacts')).body;
    assert.equal(a.fold_error, null);
    assert.equal(a.invocations, 4, 'two runs of two calls each (top-level app-a, nested dep-b)');
    assert.equal(a.depth, 2);
    assert.deepEqual(a.longestChain, ['app-a', 'dep-b']);
    assert.equal(a.cycleCount, 0);
    assert.deepEqual([a.artifacts, a.edges], [2, 1]);
    const lindyB = a.lindy.find((r: any) => r.artifact === 'dep-b');
    assert.ok(lindyB, JSON.stringify(a.lindy));
    assert.deepEqual(
      [lindyB.ageBuckets, lindyB.distinctInvokers, lindyB.invocations, lindyB.successes, lindyB.score],
      [10, 2, 2, 2, 20],
      'invokers are the principals of the runs (bob, alice), not the calling artifact',
    );
    assert.equal(lindyB.firstSeenAt, t0);
    // Every call counts (nested ones too): app-a and dep-b are both alice's, so 2 command, 2 autonomous.
    assert.deepEqual([a.controlEntropy.command, a.controlEntropy.autonomous, a.controlEntropy.commandShare], [2, 2, 0.5]);
    assert.equal(a.controlEntropy.entropyBits, 1);
    assert.equal(a.controlEntropy.autonomyRatio, 1);

    // A third run while the bridge is up: read past the cursor, nothing counted twice.
    await call('carol');
    const lastEntry = BigInt((await db.query<{ id: bigint }>('SELECT max(entry_id) AS id FROM invocations')).rows[0].id);
    await eventually(async () => bridge!.context.tail.lastLedgerId >= lastEntry, 3_000, 'the tail to reach the third run');
    const c = (await get('/api/artifacts')).body;
    assert.equal(c.invocations, 6);
    assert.equal(BigInt(c.as_of.entry_id), lastEntry);
    assert.equal(c.depth, 2);
    const lindyB2 = c.lindy.find((r: any) => r.artifact === 'dep-b');
    assert.deepEqual([lindyB2.distinctInvokers, lindyB2.invocations, lindyB2.score], [3, 3, 30]);
    assert.deepEqual([c.controlEntropy.command, c.controlEntropy.autonomous], [2, 4]);
    assert.ok(Math.abs(c.controlEntropy.entropyBits - H(1 / 3)) < 1e-12, `${c.controlEntropy.entropyBits} vs H(1/3)`);

    // Read-only like every other path.
    const post = await get('/api/artifacts', { method: 'POST', body: '{}' });
    assert.equal(post.status, 405);
    assert.equal(post.body.error.code, 'METHOD_NOT_ALLOWED');
  });
});
