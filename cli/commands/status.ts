import type { Command } from '../commands';
import { configFromEnv, openFromConfig, describeDb } from '../config';
import { assertMigrated } from '../../db/migrate';
import { readWorldState } from '../../engine/world-state';

export const statusCommand: Command = {
  name: 'status',
  summary: 'show the chain head, breaker, policy version and balances',
  description: 'Prints a summary of the world state read from the cache. Use --json for the full document.',
  options: { json: { type: 'boolean' } },
  optionHelp: { json: 'print the world-state JSON document' },
  async run(v) {
    const cfg = configFromEnv();
    const db = await openFromConfig(cfg);
    try {
      await assertMigrated(db);
      const w = await readWorldState(db);
      if (v.json) {
        process.stdout.write(JSON.stringify(w, null, 2) + '\n');
        return 0;
      }
      const rej = (await db.query<{ code: string; n: bigint }>('SELECT code, count(*)::bigint AS n FROM rejected_proposals GROUP BY code ORDER BY 2 DESC')).rows;
      const out = await db.query<{ n: bigint }>('SELECT count(*)::bigint AS n FROM outbox');
      process.stdout.write(
        `database: ${describeDb(cfg)}\n` +
          `ledger head: id ${w.as_of.ledger_id}, hash ${w.as_of.head_hash.slice(0, 16)}…, at ${w.as_of.at}\n` +
          `breaker: ${w.breaker.open ? `OPEN — ${w.breaker.reason} (by ${w.breaker.by})` : 'closed'}\n` +
          `policy version: ${(w.policy as any).version}\n` +
          `rejections: ${rej.length ? rej.map((r) => `${r.code} ${r.n}`).join(', ') : 'none'}; alerts queued: ${out.rows[0].n}\n` +
          `balances:\n`,
      );
      const resources = w.resources.map((r) => r.id);
      process.stdout.write(`  ${'actor'.padEnd(14)}${resources.map((r) => r.padStart(12)).join('')}\n`);
      for (const a of w.actors) {
        const b = w.balances[a.id] ?? {};
        if (!Object.keys(b).length) continue;
        process.stdout.write(`  ${a.id.padEnd(14)}${resources.map((r) => (b[r] ?? '0').padStart(12)).join('')}\n`);
      }
      return 0;
    } finally {
      await db.close();
    }
  },
};
