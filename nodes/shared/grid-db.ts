/**
 * One database connection (and ONE ledger writer) per Grid Database per n8n process.
 *
 * WHY module-level: n8n builds a fresh execute context for every node run, but the writer's
 * group-commit queue and the Postgres pool only pay off when they outlive it — every item, node
 * and execution that names the same (connection string | data dir, schema) shares them. WHY one
 * writer per database: the writer serialises appends itself (chain-head lock on Postgres, the
 * single connection on PGlite); two writers in one process would only contend with each other.
 *
 * Embedded PGlite is one connection per data directory, and the adapter sets `search_path` on it
 * once when a schema is opened. Two schemas open at the same time on one PGlite would therefore
 * write into whichever was opened last — so that is refused (GRID_DB_SCHEMA_CONFLICT) rather than
 * risked; close the other one first (`closeGridDb`). On Postgres each schema has its own pool.
 */
import { resolve } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { openDb, type Db } from '../../db/adapter';
import { migrate } from '../../db/migrate';
import { LedgerWriter } from '../../db/writer';
import { LIMITS } from '../../validator/limits';

export interface GridDbSettings {
  /** postgres://… ; empty → embedded PGlite in `dataDir`. */
  connectionString: string;
  schema: string;
  /** PGlite data directory (absolute, relative to n8n's working directory, or memory://name). */
  dataDir: string;
}

export interface GridDb {
  key: string;
  db: Db;
  writer: LedgerWriter;
}

/** A configuration problem the user must fix; nodes turn it into a NodeOperationError. */
export class GridConfigError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'GridConfigError';
  }
}

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;
const open = new Map<string, Promise<GridDb>>();
const pglites = new Map<string, { instance: Promise<PGlite>; schema: string | null }>();

export function settingsKey(s: GridDbSettings): string {
  return s.connectionString ? `pg|${s.connectionString}|${s.schema}` : `pglite|${pgliteDir(s.dataDir)}|${s.schema}`;
}

function pgliteDir(dataDir: string): string {
  return dataDir.startsWith('memory://') ? dataDir : resolve(dataDir);
}

export function checkSettings(s: GridDbSettings): GridDbSettings {
  const schema = (s.schema || 'grid').trim();
  if (!SCHEMA_RE.test(schema)) {
    throw new GridConfigError('GRID_DB_SCHEMA_INVALID', `schema ${JSON.stringify(schema)} must be lower-case letters, digits and _ (at most 63)`);
  }
  const connectionString = (s.connectionString ?? '').trim();
  if (connectionString && !/^postgres(ql)?:\/\//.test(connectionString)) {
    throw new GridConfigError('GRID_DB_URL_INVALID', 'the connection string must start with postgres:// or postgresql:// (leave it empty for embedded PGlite)');
  }
  const dataDir = (s.dataDir ?? '').trim();
  if (!connectionString && !dataDir) {
    throw new GridConfigError('GRID_DB_DATADIR_MISSING', 'embedded PGlite needs a data directory when no connection string is given');
  }
  return { connectionString, schema, dataDir };
}

/**
 * The shared connection for these settings, opened (and migrated) on first use. Migrations are
 * idempotent and run under an advisory lock, so concurrent first uses are safe.
 */
export function gridDb(settings: GridDbSettings): Promise<GridDb> {
  const s = checkSettings(settings);
  const key = settingsKey(s);
  let conn = open.get(key);
  if (!conn) {
    if (open.size >= LIMITS.n8n.maxConnections) {
      throw new GridConfigError('GRID_DB_TOO_MANY', `this n8n process already holds ${open.size} Grid databases (limit ${LIMITS.n8n.maxConnections})`);
    }
    conn = connect(s, key);
    open.set(key, conn);
    // A failed open is not cached: the next execution tries again (the server may be back).
    conn.catch(() => {
      if (open.get(key) === conn) open.delete(key);
    });
  }
  return conn;
}

async function connect(s: GridDbSettings, key: string): Promise<GridDb> {
  let db: Db;
  if (s.connectionString) {
    db = await openDb({ url: s.connectionString, schema: s.schema, poolSize: LIMITS.n8n.poolSize });
  } else {
    const dir = pgliteDir(s.dataDir);
    let shared = pglites.get(dir);
    if (shared?.schema && shared.schema !== s.schema) {
      throw new GridConfigError(
        'GRID_DB_SCHEMA_CONFLICT',
        `embedded database ${dir} is already open with schema ${shared.schema}; PGlite has one session, so schema ${s.schema} cannot be used at the same time`,
      );
    }
    if (!shared) {
      shared = { instance: startPglite(dir), schema: null };
      pglites.set(dir, shared);
      shared.instance.catch(() => pglites.delete(dir));
    }
    shared.schema = s.schema;
    db = await openDb({ schema: s.schema, pglite: (await shared.instance) as never });
  }
  try {
    await migrate(db);
  } catch (e) {
    await closeQuietly(db);
    // eslint-disable-next-line @n8n/community-nodes/require-node-api-error -- no node context here; perItem/toNodeError (shared/items.ts) wrap it in a NodeOperationError with its code and itemIndex
    throw e;
  }
  return { key, db, writer: new LedgerWriter(db) };
}

async function startPglite(dir: string): Promise<PGlite> {
  const { PGlite } = await import('@electric-sql/pglite');
  if (!dir.startsWith('memory://')) {
    const fs = await import('node:fs');
    fs.mkdirSync(dir, { recursive: true });
  }
  const pg = new PGlite(dir);
  await pg.waitReady;
  return pg as unknown as PGlite;
}

async function closeQuietly(db: Db): Promise<void> {
  await db.close().catch(() => undefined);
}

/** Closes one database (tests; a credential change). The PGlite instance stays for other schemas. */
export async function closeGridDb(settings: GridDbSettings): Promise<void> {
  const s = checkSettings(settings);
  const key = settingsKey(s);
  const conn = open.get(key);
  open.delete(key);
  if (!s.connectionString) {
    const shared = pglites.get(pgliteDir(s.dataDir));
    if (shared?.schema === s.schema) shared.schema = null;
  }
  if (conn) await closeQuietly((await conn.catch(() => null))?.db ?? ({ close: async () => undefined } as Db));
}

/** Closes everything (process shutdown). */
export async function closeAllGridDbs(): Promise<void> {
  const conns = [...open.values()];
  open.clear();
  await Promise.all(conns.map(async (c) => closeQuietly((await c.catch(() => null))?.db ?? ({ close: async () => undefined } as Db))));
  const instances = [...pglites.values()];
  pglites.clear();
  await Promise.all(instances.map(async (p) => (await p.instance.catch(() => null))?.close().catch(() => undefined)));
}

// n8n stops with SIGTERM/SIGINT and `execute` ends with process.exit: close what can be closed.
// 'beforeExit' covers a process that simply runs out of work (pg pools would otherwise idle on).
process.once('beforeExit', () => void closeAllGridDbs());
