/**
 * Two backends, one code path: real Postgres through `pg` when a connection string is given,
 * embedded PGlite (Postgres in WASM) otherwise. Everything above this file sees only `Db`.
 *
 * Conventions both adapters guarantee, so callers never branch on the backend:
 * - int8 columns arrive as bigint; bigint parameters may be passed as bigint (sent as text).
 * - every connection has search_path = <schema>, public, so migrations and queries use
 *   unqualified names and each test can own a schema.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Pool, types as pgTypes, type PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { CopyOut } from './pg-copy-out';
import type { PGlite as PGliteType } from '@electric-sql/pglite';

export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface Queryable {
  query<T = Record<string, any>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
}

/**
 * Bulk transfer in Postgres's binary COPY format (the ledger's append and replay paths: see
 * db/entry-binary.ts). On PGlite both go through its `/dev/blob` device, in memory.
 */
export interface Copyable extends Queryable {
  /** `COPY <target> FROM STDIN (FORMAT binary)` with `data` (header, rows, trailer); resolves to the rows copied. */
  copyIn(target: string, data: Uint8Array): Promise<number>;
  /**
   * `COPY (<select>) TO STDOUT (FORMAT binary)`, handing the output to `onChunk` piece by piece as
   * it arrives, as b[start, end) (a piece may end inside a row; `b` is not reused afterwards). If
   * `onChunk` throws, the rest of the output is read and dropped — so the connection (or the
   * caller's transaction) stays usable — and the error is rethrown.
   */
  copyOut(select: string, onChunk: (b: Buffer, start: number, end: number) => void): Promise<void>;
}

export interface Tx extends Copyable {
  /** Several statements, no parameters. */
  exec(sql: string): Promise<void>;
}

export interface Db extends Copyable {
  readonly kind: 'postgres' | 'pglite';
  readonly schema: string;
  /** Several statements, no parameters (migrations). */
  exec(sql: string): Promise<void>;
  /** Run `fn` in one transaction; rolled back if it throws. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface DbOptions {
  /** postgres://… — when absent, embedded PGlite. */
  url?: string;
  /** PGlite data directory; `memory://` for a throwaway database. */
  dataDir?: string;
  /** Schema for all objects (created if missing). */
  schema?: string;
  /** Postgres role to SET after connecting (e.g. grid_writer), enforcing privileges. */
  role?: string;
  /** Pool size for Postgres. */
  poolSize?: number;
  /**
   * An already open PGlite to use instead of opening one (starting PGlite costs 1–2 s; tests
   * share one and give each test its own schema). Not closed by `close()`.
   */
  pglite?: PGliteType;
}

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;

function prepare(params: readonly unknown[] | undefined): unknown[] | undefined {
  if (!params) return undefined;
  return params.map((p) => (typeof p === 'bigint' ? p.toString() : Array.isArray(p) ? p.map((x) => (typeof x === 'bigint' ? x.toString() : x)) : p));
}

export async function openDb(opts: DbOptions = {}): Promise<Db> {
  const schema = opts.schema ?? 'grid';
  if (!SCHEMA_RE.test(schema)) throw new Error(`invalid schema name ${JSON.stringify(schema)}`);
  if (opts.role !== undefined && !SCHEMA_RE.test(opts.role)) throw new Error(`invalid role name ${JSON.stringify(opts.role)}`);
  return opts.url ? openPostgres(opts.url, schema, opts) : openPglite(opts.dataDir ?? '.grid/pgdata', schema, opts.pglite);
}

async function openPostgres(url: string, schema: string, opts: DbOptions): Promise<Db> {
  const int8 = (v: string) => BigInt(v);
  const setup = new Pool({ connectionString: url, max: 1 });
  try {
    // Look first: CREATE SCHEMA IF NOT EXISTS checks the CREATE privilege on the database even
    // when the schema exists, which would lock read-only logins (the bridge) out.
    const found = await setup.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (found.rowCount === 0) await setup.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  } catch (e: any) {
    // Concurrent creators race on the catalog; the schema exists either way.
    if (e.code !== '23505' && e.code !== '42P06') throw e;
  } finally {
    await setup.end();
  }
  const pool = new Pool({
    connectionString: url,
    max: opts.poolSize ?? 10,
    options: `-c search_path=${schema},public` + (opts.role ? ` -c role=${opts.role}` : ''),
    types: { getTypeParser: ((oid: number, format: any) => (oid === 20 ? int8 : pgTypes.getTypeParser(oid, format))) as any },
  });
  // An idle client that errors (server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  // Parameterized statements are prepared once per connection under a name derived from their
  // text: the server then skips parse/plan on every later call (a third of a write's cost).
  const names = new Map<string, string>();
  const nameOf = (sql: string) => {
    let n = names.get(sql);
    if (!n) names.set(sql, (n = 'g' + createHash('sha1').update(sql).digest('hex').slice(0, 16)));
    return n;
  };
  const q = async (c: Pool | PoolClient, sql: string, params?: readonly unknown[]) => {
    const r = params ? await c.query({ name: nameOf(sql), text: sql, values: prepare(params) }) : await c.query(sql);
    return { rows: r.rows, rowCount: r.rowCount ?? 0 };
  };
  // Both COPY directions need one connection for the statement's whole life.
  const withClient = async <T>(fn: (c: PoolClient) => Promise<T>): Promise<T> => {
    const c = await pool.connect();
    try {
      return await fn(c);
    } finally {
      c.release();
    }
  };
  return {
    kind: 'postgres',
    schema,
    query: (sql, params) => q(pool, sql, params) as any,
    exec: async (sql) => {
      await pool.query(sql);
    },
    copyIn: (target, data) => withClient((c) => pgCopyIn(c, target, data)),
    copyOut: (select, onChunk) => withClient((c) => pgCopyOut(c, select, onChunk)),
    transaction: async (fn) => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const out = await fn({
          query: (sql, params) => q(client, sql, params) as any,
          exec: async (sql) => {
            await client.query(sql);
          },
          copyIn: (target, data) => pgCopyIn(client, target, data),
          copyOut: (select, onChunk) => pgCopyOut(client, select, onChunk),
        });
        await client.query('COMMIT');
        return out;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        throw e;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

async function pgCopyIn(c: PoolClient, target: string, data: Uint8Array): Promise<number> {
  const stream = c.query(copyFrom(`COPY ${target} FROM STDIN (FORMAT binary)`));
  const done = once(stream, 'finish');
  stream.end(data);
  await done; // rejects with the server's error (a unique violation, say): the COPY wrote nothing
  return stream.rowCount;
}

async function pgCopyOut(c: PoolClient, select: string, onChunk: (b: Buffer, start: number, end: number) => void): Promise<void> {
  const q = new CopyOut(`COPY (${select}) TO STDOUT (FORMAT binary)`, onChunk);
  c.query(q);
  await q.done;
}

async function openPglite(dataDir: string, schema: string, shared?: PGliteType): Promise<Db> {
  let pg = shared;
  if (!pg) {
    const { PGlite } = await import('@electric-sql/pglite');
    if (!dataDir.startsWith('memory://')) {
      const fs = await import('node:fs');
      fs.mkdirSync(dataDir, { recursive: true });
    }
    pg = new PGlite(dataDir) as unknown as PGliteType;
    await pg.waitReady;
  }
  const own = !shared;
  await pg.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}; SET search_path TO ${schema}, public;`);
  const q = async (c: { query: PGliteType['query'] }, sql: string, params?: readonly unknown[]) => {
    const r = await c.query(sql, prepare(params) as any[]);
    return { rows: r.rows as any[], rowCount: r.affectedRows ?? r.rows.length };
  };
  // COPY through PGlite's in-memory /dev/blob device: the whole input or output is one Blob.
  const copyIn = async (c: { query: PGliteType['query'] }, target: string, data: Uint8Array) => {
    const r = await c.query(`COPY ${target} FROM '/dev/blob' (FORMAT binary)`, [], { blob: new Blob([data as Uint8Array<ArrayBuffer>]) });
    return r.affectedRows ?? 0;
  };
  const copyOut = async (c: { query: PGliteType['query'] }, select: string, onChunk: (b: Buffer, start: number, end: number) => void) => {
    const r = await c.query(`COPY (${select}) TO '/dev/blob' (FORMAT binary)`);
    if (!r.blob) return;
    const b = Buffer.from(await r.blob.arrayBuffer());
    onChunk(b, 0, b.length);
  };
  return {
    kind: 'pglite',
    schema,
    query: (sql, params) => q(pg, sql, params) as any,
    exec: async (sql) => {
      await pg.exec(sql);
    },
    copyIn: (target, data) => copyIn(pg, target, data),
    copyOut: (select, onChunk) => copyOut(pg, select, onChunk),
    // PGlite has one connection; its transaction() holds it exclusively, which serializes
    // writers the way the chain-head lock does on Postgres.
    transaction: (fn) =>
      pg.transaction((tx) =>
        fn({
          query: (sql, params) => q(tx, sql, params) as any,
          exec: async (sql) => {
            await tx.exec(sql);
          },
          copyIn: (target, data) => copyIn(tx, target, data),
          copyOut: (select, onChunk) => copyOut(tx, select, onChunk),
        }),
      ),
    close: async () => {
      if (own) await pg.close();
    },
  };
}
