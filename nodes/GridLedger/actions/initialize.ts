/**
 * Initialize Grid: migrate the database and seed a scenario (actors, resources, opening balances
 * and policy) through the writer — the same as `grid init`, idempotent (genesis proposals have
 * fixed ids), so a workflow may run it before its first use.
 */
import { initGrid } from '../../../engine/init';
import { loadScenarioFile } from '../../../engine/scenario';
import { join } from 'node:path';
import { packageRoot } from '../../../db/migrate';
import { perItem } from '../../shared/items';
import { forOperation, type LedgerOperation } from './common';

export const initialize: LedgerOperation = {
  option: {
    name: 'Initialize Grid',
    value: 'initialize',
    action: 'Initialize the grid',
    description: 'Create the ledger tables and seed a scenario (safe to run again)',
  },
  properties: forOperation('initialize', [
    {
      displayName: 'Scenario File',
      name: 'scenarioFile',
      type: 'string',
      default: '',
      placeholder: '/data/scenarios/my-grid.json',
      description: 'Scenario JSON on the n8n host; empty: the default grid shipped with this package',
    },
  ]),
  async execute(ctx, grid) {
    return perItem(ctx, async (i) => {
      const file = (ctx.getNodeParameter('scenarioFile', i, '') as string).trim();
      const scenario = loadScenarioFile(file || join(packageRoot(), 'scenarios', 'default.json'));
      const { db, writer } = await grid();
      return { scenario: scenario.name, ...(await initGrid(db, scenario, writer)) };
    });
  },
};
