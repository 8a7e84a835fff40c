/**
 * The Grid Database credential cannot be tested with an HTTP request (it is a database), so the
 * nodes that use it name this method in `testedBy`, as n8n's own Postgres node does. It connects,
 * reads the ledger head and reports whether the grid is initialized — without creating anything.
 *
 * The nodes register it as `methods = { credentialTest: { gridDatabaseConnectionTest } }` (the key
 * is the function's name) and write `testedBy: 'gridDatabaseConnectionTest'` as a literal: n8n's
 * lint (credential-test-required) reads the literal from the node source and cannot follow a
 * constant.
 */
import type { ICredentialsDecrypted, ICredentialTestFunctions, INodeCredentialTestResult } from 'n8n-workflow';
import { openDb, type Db } from '../../db/adapter';
import { checkSettings, gridDb, settingsKey, type GridDbSettings } from './grid-db';

export async function gridDatabaseConnectionTest(this: ICredentialTestFunctions, credential: ICredentialsDecrypted): Promise<INodeCredentialTestResult> {
  const d = credential.data ?? {};
  const str = (k: string) => (typeof d[k] === 'string' ? (d[k] as string) : '');
  let settings: GridDbSettings;
  try {
    settings = checkSettings({ connectionString: str('connectionString'), schema: str('schema') || 'grid', dataDir: str('dataDir') });
  } catch (e) {
    return { status: 'Error', message: (e as Error).message };
  }
  try {
    // Embedded PGlite allows one session per directory: test through the shared one.
    if (!settings.connectionString) return await probe((await gridDb(settings)).db, settingsKey(settings));
    const db = await openDb({ url: settings.connectionString, schema: settings.schema, poolSize: 1 });
    try {
      return await probe(db, settingsKey(settings));
    } finally {
      await db.close().catch(() => undefined);
    }
  } catch (e) {
    const err = e as { code?: string; message?: string };
    const hint = err.code === 'ECONNREFUSED' ? ' (connection refused: is the server running?)' : err.code === '28P01' ? ' (wrong password)' : '';
    return { status: 'Error', message: `${err.message ?? String(e)}${hint}` };
  }
}

async function probe(db: Db, key: string): Promise<INodeCredentialTestResult> {
  const t = await db.query<{ t: string | null }>(`SELECT to_regclass('ledger_head')::text AS t`);
  if (!t.rows[0]?.t) return { status: 'OK', message: `Connected (${key.split('|')[0]}); the grid is not initialized yet: run "Initialize Grid" or \`grid init\`` };
  const h = await db.query<{ last_id: string; actors: string }>(`SELECT last_id::text AS last_id, (SELECT count(*) FROM actors)::text AS actors FROM ledger_head`);
  return { status: 'OK', message: `Connected: ledger head ${h.rows[0]?.last_id ?? '0'}, ${h.rows[0]?.actors ?? '0'} actors` };
}
