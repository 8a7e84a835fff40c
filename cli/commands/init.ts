import { join } from 'node:path';
import type { Command } from '../commands';
import { configFromEnv, openFromConfig, describeDb } from '../config';
import { loadScenarioFile } from '../../engine/scenario';
import { initGrid } from '../../engine/init';
import { packageRoot } from '../../db/migrate';

export const defaultScenarioPath = () => join(packageRoot(), 'scenarios', 'commons.json');

export const initCommand: Command = {
  name: 'init',
  summary: 'migrate the database and seed a scenario (actors, resources, balances, policy)',
  description:
    'Applies pending migrations, registers the scenario\'s actors and resources, then applies its opening\n' +
    'balances (mints by the system actor) and opening policy (signed by the founder) as genesis proposals\n' +
    'through the ledger writer. Safe to run twice: genesis proposals have fixed ids.',
  options: { scenario: { type: 'string', short: 's' } },
  optionHelp: { scenario: 'scenario JSON file (default: scenarios/commons.json, the grid `grid start` runs)' },
  async run(v) {
    const cfg = configFromEnv();
    const scenario = loadScenarioFile(v.scenario ?? defaultScenarioPath());
    const db = await openFromConfig(cfg);
    try {
      const r = await initGrid(db, scenario);
      process.stdout.write(
        `initialized ${describeDb(cfg)} with scenario "${scenario.name}"\n` +
          `  migrations applied: ${r.migrations.length ? r.migrations.join(', ') : 'none (up to date)'}\n` +
          `  actors: ${r.actors}, resources: ${r.resources}\n` +
          `  genesis proposals: ${r.genesis.applied} applied, ${r.genesis.duplicate} already applied, ${r.genesis.rejected.length} rejected\n`,
      );
      for (const x of r.genesis.rejected) process.stdout.write(`  rejected ${x.proposal_id}: ${x.code} ${x.message}\n`);
      return r.genesis.rejected.length ? 3 : 0;
    } finally {
      await db.close();
    }
  },
};
