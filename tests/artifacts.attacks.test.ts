/**
 * The sandbox attack suite through the whole ledger path (invokeArtifact → executor → writer →
 * law), on PGlite and Postgres: every attacker pays first and is priced, so a leaked journal
 * would show up as a ledger leg; each attack must come back with its code, leave only the failure
 * record (no movement), keep the QuickJS module healthy, and be followed by a normal run.
 */
import { strict as assert } from 'node:assert';
import { forEachBackend } from './support/backends';
import { artifactGrid, code, ok, failed, invoke, bal, legs, assertSound, type ArtifactGrid } from './support/artifact-grid';
import { setSandboxLimits } from '../engine/artifacts';
import { quickjsStats } from '../sandbox/module';
import { LIMITS } from '../validator';

const PAY_FIRST = `pay('treasury', 1);`;
const OUT = LIMITS.sandbox.maxOutputBytes;
/** Only the clock attacks run under the real deadline; memory bombs must hit the cap, not a busy machine's clock. */
const RELAXED = { cpuDeadlineMs: 10_000 };

const ATTACKS: Array<[id: string, body: string, code: string, clock: boolean]> = [
  ['loop', 'for (;;) {}', 'TIMEOUT', true],
  ['loop_catch', 'for (;;) { try { for (;;) {} } catch (e) {} finally { continue; } }', 'TIMEOUT', true],
  ['strings', 'const a = []; for (;;) a.push("x".repeat(1 << 20) + a.length);', 'MEMORY_LIMIT', false],
  ['typed', 'const a = []; for (;;) a.push(new Uint8Array(1 << 20));', 'MEMORY_LIMIT', false],
  ['recurse', 'function r(n) { return r(n + 1) + 1; } return r(0);', 'STACK_OVERFLOW', false],
  ['output', `return "x".repeat(${OUT + 1});`, 'OUTPUT_TOO_LARGE', false],
  ['process', 'return process.exit(1);', 'EXECUTION_ERROR', false],
  ['require', 'return require("fs").readFileSync("/etc/passwd", "utf8");', 'EXECUTION_ERROR', false],
  ['host_global', 'return (function () { return this.constructor.constructor("return process")(); }).call({}).mainModule.require("fs");', 'EXECUTION_ERROR', false],
  ['api_ctor', 'return invoke.constructor("return process")().exit(1);', 'EXECUTION_ERROR', false],
  ['import', 'return import("fs");', 'EXECUTION_ERROR', false],
  // Pollute built-ins and the injected API, then pay again and throw: nothing may be paid.
  ['pollute', `Object.prototype.polluted = 'yes'; Array.prototype.push = null;
    for (const n of ['invoke', 'pay', 'balance', 'world']) { try { globalThis[n] = () => 'hijacked'; } catch (e) {} try { globalThis[n].call = null; } catch (e) {} }
    pay('treasury', 1); throw new Error('after pollution');`, 'EXECUTION_ERROR', false],
  ['forge_code', 'const e = new Error("fake"); e.name = "SandboxError"; e.error_code = "TIMEOUT"; throw e;', 'EXECUTION_ERROR', false],
  ['overspend', 'pay("treasury", 1000);', 'INSUFFICIENT_FUNDS', false],
  ['cycle', 'return invoke("cyc_b", "go", {});', 'DEPTH_EXCEEDED', false],
];

forEachBackend('artifacts: the attack suite through the ledger', (b) => {
  /** A grid with the attacker `id` (priced, funded), the cycle partner and a checker. */
  async function setup(id: string, body: string): Promise<ArtifactGrid> {
    const g = await artifactGrid(b);
    await code(g, 'carol', id, `var methods = { go(args) { ${PAY_FIRST} ${body} } };`, { price: 1 });
    ok(await invoke(g, 'bob', 'genesis:ledger', 'transfer', { to: id, amount: '10' }));
    // cyc_b calls back into the cycle: cycle → cyc_b → cycle → … past maxInvokeDepth.
    await code(g, 'carol', 'cyc_b', `var methods = { go() { ${PAY_FIRST} return invoke('cycle', 'go', {}); } };`, { price: 1 });
    ok(await invoke(g, 'bob', 'genesis:ledger', 'transfer', { to: 'cyc_b', amount: '10' }));
    await code(g, 'carol', 'checker', `var methods = { go() { return { polluted: ({}).polluted === undefined, push: typeof [].push, api: [typeof invoke, typeof pay, typeof balance, typeof world] }; } };`);
    return g;
  }

  for (const [id, body, want, clock] of ATTACKS) {
    it(`GIVEN the "${id}" attack WHEN alice invokes it through the ledger THEN ${want}, only the failure record is written, nothing is paid, the next run works and replay verifies`, async function () {
      this.timeout(60_000);
      const g = await setup(id, body);
      setSandboxLimits(g.db, clock ? {} : RELAXED);
      const poisoned = quickjsStats.poisonings;
      const watched = ['alice', 'carol', 'treasury', id, 'cyc_b'];
      const before = await Promise.all(watched.map((a) => bal(g.db, a)));
      const ledgerBefore = (await g.db.query<any>('SELECT count(*)::int AS n FROM ledger')).rows[0].n;
      const e = failed(await invoke(g, 'alice', id), want);
      assert.equal(e.details.recorded, true);
      assert.deepEqual(await legs(g.db, e.details.proposal_id as string), [['invoke', null, null, null, null]]);
      assert.equal((await g.db.query<any>('SELECT count(*)::int AS n FROM ledger')).rows[0].n, ledgerBefore + 1);
      assert.deepEqual(await Promise.all(watched.map((a) => bal(g.db, a))), before);
      assert.equal(quickjsStats.poisonings, poisoned, 'the QuickJS module was not poisoned');
      assert.equal(({} as Record<string, unknown>).polluted, undefined, 'host Object.prototype untouched');
      assert.deepEqual(ok(await invoke(g, 'alice', 'checker')), { polluted: true, push: 'function', api: ['function', 'function', 'function', 'function'] });
      const types = await g.db.query<any>(`SELECT type, error_code FROM invocations WHERE proposal_id = $1 AND call_id = 1`, [e.details.proposal_id]);
      assert.deepEqual(types.rows, [{ type: 'INVOKE_FAILURE', error_code: want }]);
      await assertSound(g.db);
    });
  }
});
