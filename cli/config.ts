/**
 * Configuration from the environment, in one place. Every variable the engine reads is listed
 * here with its default; the README's configuration table mirrors this file.
 */
import { openDb, type Db } from '../db/adapter';

export interface GridConfig {
  /** postgres://… — unset means embedded PGlite. */
  databaseUrl: string | undefined;
  /** Where embedded PGlite keeps its files. */
  dataDir: string;
  /** Schema holding all tables. */
  schema: string;
  /** Optional role to SET on Postgres connections (e.g. grid_writer). */
  role: string | undefined;
}

export const ENV_DOC: Array<[string, string, string]> = [
  ['DATABASE_URL', '(unset → embedded PGlite)', 'Postgres connection string; when set, the real server is used through pg'],
  ['GRID_DATA_DIR', './.grid/pgdata', 'data directory of the embedded PGlite database'],
  ['GRID_SCHEMA', 'grid', 'schema that holds the ledger tables'],
  ['GRID_DB_ROLE', '(unset)', 'Postgres role to assume after connecting (grid_writer enforces append-only by privilege)'],
];

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): GridConfig {
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.GRID_DATA_DIR || '.grid/pgdata',
    schema: env.GRID_SCHEMA || 'grid',
    role: env.GRID_DB_ROLE || undefined,
  };
}

export function openFromConfig(c: GridConfig, poolSize?: number): Promise<Db> {
  return openDb({ url: c.databaseUrl, dataDir: c.dataDir, schema: c.schema, role: c.role, poolSize });
}

export function describeDb(c: GridConfig): string {
  if (!c.databaseUrl) return `embedded PGlite at ${c.dataDir} (schema ${c.schema})`;
  const u = new URL(c.databaseUrl);
  return `Postgres ${u.hostname}:${u.port || 5432}${u.pathname} (schema ${c.schema})`;
}
