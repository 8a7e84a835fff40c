/**
 * Mocha root hooks: make sure the real Postgres is up before any suite needs it, and give
 * every test process a private n8n user folder (n8n-core writes a key file there).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePostgres } from './postgres';

process.env.N8N_USER_FOLDER ??= mkdtempSync(join(tmpdir(), 'grid-n8n-'));

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(90_000);
    await ensurePostgres();
  },
};
