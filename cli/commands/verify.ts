import type { Command } from '../commands';
import { configFromEnv, openFromConfig } from '../config';
import { replay } from '../../db/replay';
import { assertMigrated } from '../../db/migrate';
import { printReport, progress } from './replay';

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'health check: chain intact and cache == replay (exit 1 when not)',
  description:
    'Replays the ledger without writing anything and checks that the hash chain is intact, the chain\n' +
    'head matches, every resource is conserved, and the balance cache equals the replayed balances.\n' +
    'Exit code 0 when all hold, 1 with a report of what does not. Run it nightly.',
  options: { json: { type: 'boolean' }, 'from-checkpoint': { type: 'boolean' } },
  optionHelp: { json: 'print the report as JSON', 'from-checkpoint': 'verify only from the latest checkpoint onward' },
  async run(v) {
    const db = await openFromConfig(configFromEnv());
    try {
      await assertMigrated(db);
      const r = await replay(db, { dryRun: true, fromCheckpoint: Boolean(v['from-checkpoint']), onProgress: progress() });
      if (process.stderr.isTTY) process.stderr.write('\n');
      const ok = r.chainOk && r.cacheMatches && r.headMatches && Object.values(r.conservation).every((c) => c.ok);
      if (v.json) process.stdout.write(JSON.stringify({ ok, ...r }, null, 2) + '\n');
      else {
        printReport(r);
        process.stdout.write(ok ? 'VERIFIED: the ledger is intact and the cache equals it\n' : 'NOT VERIFIED: see the report above\n');
      }
      return ok ? 0 : 1;
    } finally {
      await db.close();
    }
  },
};
