/**
 * The package as n8n loads it (n8n-core PackageDirectoryLoader): its nodes, credentials, codex and
 * icons; the shipped workflow files' wiring; and node behaviour the workflows do not reach
 * (Artifact, Validator errors, governance operations, the credential test).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ICredentialDataDecryptedObject, ICredentialTestFunctions, IDataObject, INode } from 'n8n-workflow';
import { gridDatabaseConnectionTest } from '../nodes/shared/credential-test';
import { forEachBackend } from './support/backends';
import { loadPackage, runWorkflow, type WorkflowJson } from './support/n8n-headless';
import { gridEnv, packageDir, PACKAGE, WORKFLOWS_DIR, type GridEnv } from './support/n8n-grid';

const NODES = ['gridAlert', 'gridArtifact', 'gridLedger', 'gridLinearTrigger', 'gridProposer', 'gridTrigger', 'gridValidator'];
const CREDENTIALS = ['gridDatabaseApi', 'gridDiscordWebhookApi', 'gridGeminiApi', 'gridLinearApi'];

/** Manual Trigger → one node: the smallest workflow that runs a node headlessly. */
function single(type: string, parameters: IDataObject, extra: Partial<INode> = {}): WorkflowJson {
  const start = { id: '1', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} } as INode;
  const node = { id: '2', name: 'Node', type: `${PACKAGE}.${type}`, typeVersion: 1, position: [200, 0], parameters, ...extra } as INode;
  return { nodes: [start, node], connections: { Start: { main: [[{ node: 'Node', type: 'main', index: 0 }]] } } } as WorkflowJson;
}

describe('n8n package: what n8n loads', () => {
  it('GIVEN the built package WHEN loaded by n8n-core THEN it has 7 nodes and 4 credentials, each node with its codex and both icons on disk', async () => {
    const pkg = await loadPackage(packageDir());
    assert.equal(pkg.packageName, PACKAGE);
    assert.deepEqual(Object.keys(pkg.loader.nodeTypes).sort(), NODES);
    assert.deepEqual(Object.keys(pkg.loader.credentialTypes).sort(), CREDENTIALS);
    for (const [name, { type }] of Object.entries(pkg.loader.nodeTypes)) {
      const d = type.description;
      assert.ok((d.codex?.categories ?? []).length > 0, `${name} has codex categories (X.node.json copied next to X.node.js)`);
      const urls = d.iconUrl as { light: string; dark: string };
      for (const url of [urls.light, urls.dark]) assert.ok(existsSync(join(packageDir(), url.replace(`icons/${PACKAGE}/`, ''))), `${name} icon ${url} exists`);
    }
    for (const [name, { type }] of Object.entries(pkg.loader.credentialTypes)) {
      const urls = type.iconUrl as { light: string; dark: string };
      assert.notEqual(urls.light, urls.dark, `${name}: light and dark icons differ (n8n's icon-validation rule)`);
      for (const url of [urls.light, urls.dark]) assert.ok(existsSync(join(packageDir(), url.replace(`icons/${PACKAGE}/`, ''))), `${name} icon ${url} exists`);
    }
    const tools = Object.entries(pkg.loader.nodeTypes).filter(([, n]) => n.type.description.usableAsTool).map(([k]) => k).sort();
    assert.deepEqual(tools, ['gridAlert', 'gridArtifact', 'gridLedger', 'gridProposer', 'gridValidator']);
  });

  it('GIVEN the workflow files WHEN their nodes and credentials are checked against the package THEN every type, credential and connection resolves', async () => {
    const pkg = await loadPackage(packageDir());
    for (const file of readdirSync(WORKFLOWS_DIR).filter((f) => f.endsWith('.json'))) {
      const wf = JSON.parse(readFileSync(join(WORKFLOWS_DIR, file), 'utf8')) as WorkflowJson & { id: string };
      assert.match(wf.id, /^[A-Za-z0-9]{16}$/, `${file}: an id n8n accepts for execute --id`);
      assert.equal(wf.settings?.executionOrder, 'v1');
      assert.equal(wf.nodes[0]!.type, 'n8n-nodes-base.manualTrigger', `${file}: starts with the manual trigger (n8n execute needs it)`);
      const names = new Set(wf.nodes.map((n) => n.name));
      assert.equal(new Set(wf.nodes.map((n) => n.id)).size, wf.nodes.length, `${file}: node ids are unique`);
      for (const n of wf.nodes.slice(1)) {
        const local = n.type.replace(`${PACKAGE}.`, '');
        const type = pkg.loader.nodeTypes[local]?.type;
        assert.ok(type, `${file}: ${n.type} is in the package`);
        const declared = new Set(((type.description as { credentials?: Array<{ name: string }> }).credentials ?? []).map((c) => c.name));
        for (const c of Object.keys(n.credentials ?? {})) assert.ok(declared.has(c), `${file}/${n.name}: credential ${c} is one the node declares`);
      }
      for (const [from, outs] of Object.entries(wf.connections)) {
        assert.ok(names.has(from), `${file}: ${from} exists`);
        for (const c of outs.main!.flat()) assert.ok(c && names.has(c.node), `${file}: ${from} → ${c?.node} exists`);
      }
    }
  });
});

forEachBackend('n8n nodes beyond the shipped workflows', (b) => {
  let env: GridEnv;
  beforeEach(async () => (env = await gridEnv(b)));
  afterEach(async () => env.close());
  const run = (wf: WorkflowJson) => runWorkflow({ packageDir: packageDir(), workflow: wf, credentials: env.credentials });
  const db = { gridDatabaseApi: { id: 'db', name: 'Grid Database' } };

  it('GIVEN an artifact summing numbers and one that never returns WHEN Grid Artifact runs them THEN the first answers 6 and the second TIMEOUT, both with nothing applied', async () => {
    const sum = await run(single('gridArtifact', {}));
    assert.equal(sum.status, 'success');
    const out = sum.nodes['Node']![0]![0]!;
    assert.equal(out.success, true);
    assert.equal(out.result, 6);
    assert.equal(out.applied, false);
    const spin = await run(single('gridArtifact', { code: 'var methods = { sum() { for (;;) {} } };' }));
    const failed = spin.nodes['Node']![0]![0]!;
    assert.equal(failed.success, false);
    assert.equal(failed.error_code, 'TIMEOUT');
  });

  it('GIVEN a non-human actor WHEN Grid Ledger sets the policy THEN the law answers NOT_AUTHORIZED; GIVEN the council THEN the policy changes', async () => {
    const params = { operation: 'setPolicy', patch: '{ "rate_limit": { "max_actions": 5 } }', reasoning: 'calm the market' };
    const bad = await run(single('gridLedger', { ...params, actor: 'alice' }, { credentials: db }));
    assert.equal(bad.status, 'success');
    assert.equal(bad.nodes['Node']![0]![0]!.code, 'NOT_AUTHORIZED');
    const good = await run(single('gridLedger', { ...params, actor: 'council' }, { credentials: db }));
    assert.equal(good.nodes['Node']![0]![0]!.status, 'applied');
    const policy = await env.db.query<{ policy: { rate_limit: { max_actions: number } } }>('SELECT policy FROM policies ORDER BY version DESC LIMIT 1');
    assert.equal(policy.rows[0]!.policy.rate_limit.max_actions, 5);
  });

  it('GIVEN a snapshot that is not one WHEN Grid Validator runs THEN the run fails naming the item; with continue-on-fail the item goes to Rejected with its code', async () => {
    const params = { proposal: '{}', snapshotSource: 'parameter', snapshot: '{ "nope": true }' };
    const failed = await run(single('gridValidator', params));
    assert.equal(failed.status, 'error');
    assert.match(failed.error?.message ?? '', /^GRID_SNAPSHOT_INVALID/);
    const continued = await run(single('gridValidator', params, { onError: 'continueRegularOutput' }));
    assert.equal(continued.status, 'success');
    // n8n keeps only `error` in the json of a continued item: the code leads the message.
    assert.match(String(continued.nodes['Node']![1]![0]!.error), /^GRID_SNAPSHOT_INVALID: /);
    assert.deepEqual(continued.items['Node']![1]![0]!.pairedItem, { item: 0 });
  });

  it('GIVEN the Grid Database credential WHEN n8n tests it THEN it connects and reports the ledger head; GIVEN an unreachable server THEN it reports the error', async () => {
    const test = (data: IDataObject) =>
      gridDatabaseConnectionTest.call({} as ICredentialTestFunctions, { id: 'x', name: 'x', type: 'gridDatabaseApi', data: data as ICredentialDataDecryptedObject });
    const good = await test({ ...env.credentials.gridDatabaseApi });
    assert.equal(good.status, 'OK');
    assert.match(good.message, /ledger head \d+, 10 actors/);
    const bad = await test({ connectionString: 'postgres://nobody@127.0.0.1:1/none', schema: 'grid' });
    assert.equal(bad.status, 'Error');
    assert.match(bad.message, /ECONNREFUSED|connection refused/i);
  });
});
