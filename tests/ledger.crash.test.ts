import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forEachBackend, schemaName } from './support/backends';
import { manyAccounts, rng } from './support/many-accounts';
import { initGrid } from '../engine/init';
import { openDb, type Db } from '../db/adapter';
import { replay } from '../db/replay';

/** Runs the crash writer until it has acknowledged something, then kills it with SIGKILL. */
function runAndKill(args: string[], killAfterMs: number): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, 'support', 'crash-writer.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked = new Map<string, string>();
    let buf = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const m = /^ACK (\S+) (applied|rejected)$/.exec(line);
        if (m) {
          acked.set(m[1], m[2]);
          // The clock starts at the first acknowledgement, so a slow start (PGlite on a busy
          // machine) cannot turn the kill into one that lands before any write.
          timer ??= setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        }
      }
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL') return reject(new Error(`crash writer exited on its own (code ${code}): ${err}`));
      resolve(acked);
    });
  });
}

forEachBackend('ledger: crash safety', (b) => {
  it('GIVEN a writer process killed with SIGKILL at random moments WHEN the ledger is checked THEN every acknowledged decision is there, verify passes and replay equals the cache', async function () {
    this.timeout(240_000);
    const { scenario } = manyAccounts(20, 5000);
    let db: Db;
    let args: string[];
    let dir: string | undefined;
    if (b.name === 'postgres') {
      db = await b.fresh();
      args = [b.url!, '-', db.schema];
    } else {
      // The embedded default keeps its files on disk; the child owns them while it runs.
      dir = mkdtempSync(join(tmpdir(), 'grid-crash-'));
      const schema = schemaName();
      db = await openDb({ dataDir: dir, schema });
      await initGrid(db, scenario);
      await db.close();
      args = ['-', dir, schema];
    }
    try {
      if (b.name === 'postgres') await initGrid(db, scenario);
      const next = rng(42);
      const acked = new Map<string, string>();
      const rounds = b.name === 'postgres' ? 5 : 3;
      for (let round = 0; round < rounds; round++) {
        const got = await runAndKill([...args, String(100 + round), '20'], 300 + Math.floor(next() * 900));
        for (const [k, v] of got) acked.set(k, v);
      }
      assert.ok(acked.size > 0, 'the writer acknowledged something before being killed');
      if (b.name === 'pglite') db = await openDb({ dataDir: dir!, schema: args[2] });
      const ids = [...acked.keys()];
      const applied = await db.query<{ id: string }>('SELECT DISTINCT proposal_id::text AS id FROM ledger WHERE proposal_id = ANY($1::uuid[])', [ids]);
      const rejected = await db.query<{ id: string }>('SELECT proposal_id::text AS id FROM rejected_proposals WHERE proposal_id = ANY($1::uuid[])', [ids]);
      const inDb = new Map<string, string>([...applied.rows.map((r) => [r.id, 'applied'] as [string, string]), ...rejected.rows.map((r) => [r.id, 'rejected'] as [string, string])]);
      for (const [id, status] of acked) assert.equal(inDb.get(id), status, `acknowledged ${status} proposal ${id} must be in the ledger`);
      const r = await replay(db, { dryRun: true });
      assert.equal(r.chainOk, true, JSON.stringify(r.badRows.slice(0, 3)));
      assert.equal(r.cacheMatches, true, JSON.stringify(r.diffs.slice(0, 3)));
      assert.equal(r.headMatches, true);
      process.stdout.write(`      (${acked.size} acknowledged decisions across ${rounds} kills; ${r.rowsReplayed} rows verified)\n`);
    } finally {
      if (b.name === 'pglite') {
        await db!.close().catch(() => {});
        rmSync(dir!, { recursive: true, force: true });
      }
    }
  });
});
