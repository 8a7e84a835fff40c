/**
 * The real Postgres server for tests: 127.0.0.1:5432, trust auth. Started if it is down, with
 * the machine's own cluster tool, so `npm test` works on a fresh machine of this kind.
 */
import { execSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { Client } from 'pg';

export const PG_URL = process.env.GRID_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function reachable(): Promise<boolean> {
  const c = new Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

let ensured: Promise<boolean> | null = null;

/** True when Postgres is (or was made) reachable. */
export function ensurePostgres(): Promise<boolean> {
  ensured ??= (async () => {
    if (await reachable()) return true;
    try {
      const versions = readdirSync('/etc/postgresql');
      for (const v of versions) {
        execSync(`pg_ctlcluster --skip-systemctl-redirect ${v} main start`, { stdio: 'inherit', timeout: 60_000 });
      }
    } catch (e: any) {
      process.stderr.write(`could not start Postgres: ${e.message}\n`);
    }
    for (let i = 0; i < 30; i++) {
      if (await reachable()) return true;
      await new Promise((r) => setTimeout(r, 500));
    }
    return false;
  })();
  return ensured;
}
