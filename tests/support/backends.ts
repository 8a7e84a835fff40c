/**
 * Every ledger test runs against both backends (as Kysely runs its suites for every dialect):
 * `forEachBackend('writer', (b) => { ... })` declares the suite once per backend, and
 * `b.fresh()` gives a Db on a new, empty schema (each test its own, as in pg-boss).
 */
import { randomBytes } from 'node:crypto';
import type { PGlite } from '@electric-sql/pglite';
import { openDb, type Db } from '../../db/adapter';
import { ensurePostgres, PG_URL } from './postgres';
import { migrate } from '../../db/migrate';
import { initGrid } from '../../engine/init';
import { loadScenarioFile } from '../../engine/scenario';
import { join } from 'node:path';
import { packageRoot } from '../../db/migrate';

export type BackendName = 'pglite' | 'postgres';

export interface Backend {
  name: BackendName;
  /** A Db on a brand-new schema (migrated if `migrated`). Closed after the test. */
  fresh(opts?: { migrated?: boolean; init?: boolean; poolSize?: number }): Promise<Db>;
  /** Connection settings a child process needs to reach the same schema. */
  url: string | undefined;
}

let sharedPglite: Promise<PGlite> | null = null;
function pglite(): Promise<PGlite> {
  sharedPglite ??= (async () => {
    const { PGlite } = await import('@electric-sql/pglite');
    const p = new PGlite('memory://');
    await p.waitReady;
    return p as unknown as PGlite;
  })();
  return sharedPglite;
}

const open: Db[] = [];

export function schemaName(prefix = 't'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

export const defaultScenario = () => loadScenarioFile(join(packageRoot(), 'scenarios', 'default.json'));

export const BACKENDS: Backend[] = [
  {
    name: 'pglite',
    url: undefined,
    async fresh(opts = {}) {
      const db = await openDb({ schema: schemaName(), pglite: (await pglite()) as any });
      open.push(db);
      return prepare(db, opts);
    },
  },
  {
    name: 'postgres',
    url: PG_URL,
    async fresh(opts = {}) {
      if (!(await ensurePostgres())) throw new Error(`Postgres is not reachable at ${PG_URL} and could not be started`);
      const db = await openDb({ url: PG_URL, schema: schemaName(), poolSize: opts.poolSize });
      open.push(db);
      return prepare(db, opts);
    },
  },
];

async function prepare(db: Db, opts: { migrated?: boolean; init?: boolean }): Promise<Db> {
  if (opts.init) await initGrid(db, defaultScenario());
  else if (opts.migrated !== false) await migrate(db);
  return db;
}

export function forEachBackend(title: string, body: (b: Backend) => void): void {
  for (const b of BACKENDS) {
    describe(`${title} [${b.name}]`, function () {
      afterEach(async () => {
        while (open.length) {
          const db = open.pop()!;
          // Drop the test's schema on Postgres so repeated runs do not accumulate.
          if (db.kind === 'postgres') await db.exec(`DROP SCHEMA IF EXISTS ${db.schema} CASCADE`).catch(() => {});
          await db.close().catch(() => {});
        }
      });
      body(b);
    });
  }
}
