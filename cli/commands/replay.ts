import type { Command } from '../commands';
import { configFromEnv, openFromConfig } from '../config';
import { replay, type ReplayReport } from '../../db/replay';
import { migrate, assertMigrated } from '../../db/migrate';

export function printReport(r: ReplayReport, out = process.stdout): void {
  out.write(
    `rows replayed: ${r.rowsReplayed} (ids ${r.fromId}..${r.lastId}) in ${r.ms} ms — ${r.rowsPerSecond.toLocaleString('en-US')} rows/s\n` +
      `chain: ${r.chainOk ? 'intact' : `BROKEN (${r.badRows.length} bad row(s) listed)`}; head ${r.headMatches ? 'matches' : 'DOES NOT match'} ledger_head\n` +
      `cache: ${r.cacheMatches ? 'equals the ledger' : `${r.diffs.length} difference(s)`}; checksum ${r.checksum}\n` +
      `rows by chain version: v2 ${r.hashVersions.v2}` + (r.hashVersions.v1 ? `, v1 ${r.hashVersions.v1} (written before migration 0008)` : '') + (r.hashVersions.other ? `, unknown ${r.hashVersions.other}` : '') + '\n',
  );
  for (const b of r.badRows) out.write(`  bad row ${b.id}: ${b.problem} — ${b.message}\n`);
  for (const d of r.diffs) out.write(`  diff ${d.actor}/${d.resource}: cache ${d.cache}, ledger ${d.ledger}\n`);
  for (const [res, c] of Object.entries(r.conservation)) {
    if (!c.ok) out.write(`  conservation broken for ${res}: minted ${c.minted} − burned ${c.burned} ≠ supply ${c.supply}\n`);
  }
}

export function progress(): ((rows: number, lastId: bigint) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (rows, lastId) => process.stderr.write(`\r  replayed ${rows.toLocaleString('en-US')} rows (id ${lastId})   `);
}

export const replayCommand: Command = {
  name: 'replay',
  summary: 'rebuild the caches from the ledger, verifying the hash chain',
  description:
    'Folds the ledger from row 0 (or from the latest checkpoint) into balances, offers, policy and\n' +
    'breaker state, verifying every row\'s hash, link, time order and conservation. Then writes the\n' +
    'result over the cache — unless --dry-run, which only prints the diff. Refuses to rebuild from a\n' +
    'ledger whose chain is broken.',
  options: { 'dry-run': { type: 'boolean' }, 'from-checkpoint': { type: 'boolean' }, json: { type: 'boolean' } },
  optionHelp: {
    'dry-run': 'compare with the cache and print the diff; change nothing',
    'from-checkpoint': 'start from the latest checkpoint instead of row 0',
    json: 'print the report as JSON',
  },
  async run(v) {
    const db = await openFromConfig(configFromEnv());
    try {
      // A dry run only reads, so it works under a read-only role.
      await (v['dry-run'] ? assertMigrated(db) : migrate(db));
      const r = await replay(db, { dryRun: Boolean(v['dry-run']), fromCheckpoint: Boolean(v['from-checkpoint']), onProgress: progress() });
      if (process.stderr.isTTY) process.stderr.write('\n');
      if (v.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      else {
        printReport(r);
        if (r.wroteCache) process.stdout.write('cache rebuilt from the ledger\n');
        else if (!v['dry-run']) process.stdout.write('cache already equal to the ledger; nothing written\n');
      }
      return r.chainOk ? 0 : 1;
    } finally {
      await db.close();
    }
  },
};
