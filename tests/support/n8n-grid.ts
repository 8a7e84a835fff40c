/**
 * Running this package's own workflows headlessly in tests: the package directory as n8n sees it,
 * a fresh ledger per test on either backend (reached by the nodes through the Grid Database
 * credential, exactly as in n8n), the local fakes of Gemini, Linear and Discord behind the other
 * credentials, and small helpers to change a workflow's parameters or pin a node's output the way
 * a user would in the editor.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { IDataObject, INode } from 'n8n-workflow';
import type { Db } from '../../db/adapter';
import type { LedgerWriter } from '../../db/writer';
import { initGrid } from '../../engine/init';
import { closeGridDb, gridDb, type GridDbSettings } from '../../nodes/shared/grid-db';
import { startDiscordFake, type DiscordFake } from '../fakes/discord';
import { startGeminiFake, type GeminiFake } from '../fakes/gemini';
import { startLinearFake, type LinearFake } from '../fakes/linear';
import { defaultScenario, schemaName, type Backend } from './backends';
import { runWorkflow, type HeadlessCredentials, type HeadlessRunResult, type WorkflowJson } from './n8n-headless';
import { ensurePostgres, PG_URL } from './postgres';

/** <out>/tests/support → <out> (dist, or a private dist-*) → the repository. */
const outDir = resolve(__dirname, '..', '..');
export const repoRoot = dirname(outDir);
export const WORKFLOWS_DIR = join(repoRoot, 'workflows');
export const WEBHOOK_SECRET = 'grid-linear-webhook-secret';
export const PACKAGE = 'n8n-nodes-grid-governance';

let pkgDir: string | undefined;

/**
 * The package root n8n loads. Built into dist/ that is the repository itself; a private build
 * (dist-*) gets a temp directory with the same package.json and `dist` linked to the build, so the
 * `n8n` section's dist/... paths resolve to it (and Node's realpath module cache shares the nodes'
 * modules — the connection cache included — with this test process).
 */
export function packageDir(): string {
  if (pkgDir) return pkgDir;
  // Icons and codex files are not emitted by tsc; a private build may not have them yet.
  if (!existsSync(join(outDir, 'nodes', 'GridLedger', 'GridLedger.node.json'))) {
    const r = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'copy-assets.mjs'), basename(outDir)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`copy-assets failed: ${r.stderr}`);
  }
  if (basename(outDir) === 'dist') return (pkgDir = repoRoot);
  const dir = mkdtempSync(join(tmpdir(), 'grid-n8n-pkg-'));
  copyFileSync(join(repoRoot, 'package.json'), join(dir, 'package.json'));
  symlinkSync(outDir, join(dir, 'dist'), 'dir');
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return (pkgDir = dir);
}

export function loadWorkflowFile(name: string): WorkflowJson {
  return JSON.parse(readFileSync(join(WORKFLOWS_DIR, `${name}.json`), 'utf8')) as WorkflowJson;
}

export function nodeOf(wf: WorkflowJson, name: string): INode {
  const n = wf.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`workflow ${wf.name} has no node "${name}"`);
  return n;
}

/** The workflow with `params` merged into one node's parameters (as edited in the editor). */
export function withParams(wf: WorkflowJson, node: string, params: IDataObject): WorkflowJson {
  const copy = structuredClone(wf);
  const n = nodeOf(copy, node);
  n.parameters = { ...n.parameters, ...params } as INode['parameters'];
  return copy;
}

/** The workflow with a node's output pinned (n8n's "pin data"): the node then emits these items. */
export function withPin(wf: WorkflowJson, node: string, items: IDataObject[]): WorkflowJson {
  const copy = structuredClone(wf);
  nodeOf(copy, node);
  copy.pinData = { ...copy.pinData, [node]: items.map((json) => ({ json })) };
  return copy;
}

export interface GridEnv {
  settings: GridDbSettings;
  db: Db;
  writer: LedgerWriter;
  gemini: GeminiFake;
  linear: LinearFake;
  discord: DiscordFake;
  credentials: HeadlessCredentials;
  run(workflow: string | WorkflowJson, opts?: { startNode?: string; timeoutMs?: number }): Promise<HeadlessRunResult>;
  count(table: string, where?: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * A fresh grid (default scenario) on a new schema of `backend`, opened through the nodes' own
 * connection cache — the nodes and the test then share one connection and one writer, and on
 * PGlite one in-memory database (`memory://grid-n8n-tests`, one schema at a time).
 */
export async function gridEnv(backend: Backend): Promise<GridEnv> {
  if (backend.name === 'postgres' && !(await ensurePostgres())) throw new Error(`Postgres is not reachable at ${PG_URL}`);
  const settings: GridDbSettings =
    backend.name === 'postgres'
      ? { connectionString: PG_URL, schema: schemaName('n8n'), dataDir: '' }
      : { connectionString: '', schema: schemaName('n8n'), dataDir: 'memory://grid-n8n-tests' };
  const { db, writer } = await gridDb(settings);
  let fakes: [GeminiFake, LinearFake, DiscordFake];
  try {
    await initGrid(db, defaultScenario(), writer);
    fakes = await Promise.all([startGeminiFake(), startLinearFake(), startDiscordFake()]);
  } catch (e) {
    // Never leave the schema registered: the shared PGlite would refuse the next test's schema.
    await dropAndClose(backend, db, settings);
    throw e;
  }
  const [gemini, linear, discord] = fakes;
  const credentials: HeadlessCredentials = {
    gridDatabaseApi: { ...settings },
    gridGeminiApi: { apiKey: gemini.apiKey, baseUrl: gemini.url, model: 'gemini-2.5-flash', apiVersion: 'v1beta' },
    gridLinearApi: { apiKey: linear.apiKey, apiUrl: linear.apiUrl, teamId: linear.team.key, webhookSecret: WEBHOOK_SECRET },
    gridDiscordWebhookApi: { connection: 'idToken', webhookId: discord.webhook.id, webhookToken: discord.webhook.token, apiBase: discord.apiUrl },
  };
  return {
    settings,
    db,
    writer,
    gemini,
    linear,
    discord,
    credentials,
    run: (workflow, opts = {}) =>
      runWorkflow({ packageDir: packageDir(), workflow: typeof workflow === 'string' ? loadWorkflowFile(workflow) : workflow, credentials, ...opts }),
    async count(table, where = 'true') {
      const r = await db.query<{ n: bigint }>(`SELECT count(*)::bigint AS n FROM ${table} WHERE ${where}`);
      return Number(r.rows[0]!.n);
    },
    async close() {
      try {
        await Promise.allSettled([gemini.close(), linear.close(), discord.close()]);
      } finally {
        await dropAndClose(backend, db, settings);
      }
    },
  };
}

async function dropAndClose(backend: Backend, db: Db, settings: GridDbSettings): Promise<void> {
  if (backend.name === 'postgres') await db.exec(`DROP SCHEMA IF EXISTS ${settings.schema} CASCADE`).catch(() => undefined);
  await closeGridDb(settings);
}

/** Linear GraphQL mutations of one kind received by the fake (e.g. 'issueCreate'). */
export function linearMutations(linear: LinearFake, field: string): number {
  return linear.calls.filter((c) => c.outcome === 'ok' && c.fields.includes(field)).length;
}
