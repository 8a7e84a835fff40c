/**
 * Numbered migrations (db/migrations/NNNN_name.sql), applied in order, each once, each in its
 * own transaction, under an advisory lock so that concurrent starters (n8n workers, CLI, tests)
 * never apply the same migration twice. A migration that already ran is checksummed: editing
 * one after the fact is refused — migrations are never edited or renumbered, only appended.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import type { Db } from './adapter';
import { GridError } from './errors';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

/** The package root (where package.json is), found from this file in src or dist. */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'db', 'migrations'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the package root (db/migrations) above ' + __dirname);
    dir = up;
  }
}

export function loadMigrations(dir = join(packageRoot(), 'db', 'migrations')): Migration[] {
  const out: Migration[] = [];
  for (const f of readdirSync(dir).sort()) {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(f);
    if (!m) continue;
    const sql = readFileSync(join(dir, f), 'utf8');
    out.push({ version: Number(m[1]), name: m[2], sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  out.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration numbers must be 1..N without gaps; found ${m.version} at position ${i + 1}`);
  });
  return out;
}

export interface MigrateResult {
  applied: string[];
  current: number;
}

export async function migrate(db: Db, migrations = loadMigrations()): Promise<MigrateResult> {
  const applied: string[] = [];
  // The advisory lock key is per schema, so tests on different schemas do not wait on each other.
  const lockKey = `grid-migrate:${db.schema}`;
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lockKey]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Map<number, { name: string; checksum: string }>();
    for (const r of (await tx.query<{ version: number; name: string; checksum: string }>('SELECT version, name, checksum FROM schema_migrations')).rows) {
      done.set(Number(r.version), r);
    }
    for (const m of migrations) {
      const prev = done.get(m.version);
      if (prev) {
        if (prev.checksum !== m.checksum) {
          throw new Error(`migration ${m.version}_${m.name} was edited after it was applied (checksum mismatch); add a new migration instead`);
        }
        continue;
      }
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
      applied.push(`${String(m.version).padStart(4, '0')}_${m.name}`);
    }
    const known = Math.max(0, ...done.keys());
    if (known > migrations.length) {
      throw new Error(`database is at migration ${known} but this build knows only ${migrations.length}: upgrade the software`);
    }
    return { applied, current: migrations.length };
  });
}


/**
 * Read-only check that the schema is migrated, for commands that must work under a read-only
 * role (verify, status, replay --dry-run): they never create or alter anything.
 */
export async function assertMigrated(db: Db, migrations = loadMigrations()): Promise<void> {
  let current = 0;
  try {
    const r = await db.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
    current = Number(r.rows[0]?.v ?? 0);
  } catch (e: any) {
    if (e?.code !== '42P01' && !/schema_migrations/.test(String(e?.message))) throw e;
  }
  if (current < migrations.length) {
    throw new GridError('NOT_INITIALIZED', `schema ${db.schema} is at migration ${current} of ${migrations.length}: run "grid init" (or any writing command) first`);
  }
}
