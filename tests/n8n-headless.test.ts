import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadPackage, runWorkflow, type WorkflowJson } from './support/n8n-headless';

// Compiled to dist-*/tests/, the fixture stays in the source tree: resolve from the repo root.
const repoRoot = resolve(__dirname, '..', '..');
const packageDir = join(repoRoot, 'tests', 'fixtures', 'n8n-mini-package');
const workflowFile = (name: string) => join(packageDir, 'workflows', `${name}.json`);
const workflowJson = (name: string): WorkflowJson => JSON.parse(readFileSync(workflowFile(name), 'utf8')) as WorkflowJson;
const credentials = { gridMiniApi: { greeting: 'hi', apiKey: 'k-123' } };

/** The workflow with the "Mini" node's parameters / settings changed. */
function withMini(name: string, change: (mini: WorkflowJson['nodes'][number]) => void): WorkflowJson {
  const wf = workflowJson(name);
  const mini = wf.nodes.find((n) => n.name === 'Mini');
  assert.ok(mini, 'fixture workflow has a node named Mini');
  change(mini);
  return wf;
}

describe('n8n headless runner (n8n-core PackageDirectoryLoader + WorkflowExecute)', () => {
  const tempDirs: string[] = [];
  const tempDir = (prefix: string) => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    tempDirs.push(dir);
    return dir;
  };
  after(() => tempDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('GIVEN the mini package WHEN loaded with n8n-core PackageDirectoryLoader THEN its two nodes and its credential type are known', async () => {
    const pkg = await loadPackage(packageDir);
    assert.equal(pkg.packageName, 'n8n-nodes-grid-mini');
    assert.deepEqual(Object.keys(pkg.loader.nodeTypes).sort(), ['gridMini', 'gridMiniSplit']);
    assert.deepEqual(Object.keys(pkg.loader.credentialTypes), ['gridMiniApi']);
  });

  it('GIVEN manualTrigger → Mini(count 3) → Split WHEN run THEN Mini greets with the credential and Split routes even/odd to its two outputs', async () => {
    const result = await runWorkflow({ packageDir, workflow: workflowFile('mini-basic'), credentials });
    assert.equal(result.status, 'success');
    assert.equal(result.error, undefined);
    assert.deepEqual(result.executedNodes, ['Start', 'Mini', 'Split']);
    assert.deepEqual(result.nodes.Start, [[{}]]);
    const keys = 'apiKey,greeting';
    assert.deepEqual(result.nodes.Mini, [
      [
        { index: 0, greeting: 'hi #0', keyLength: 5, credentialKeys: keys },
        { index: 1, greeting: 'hi #1', keyLength: 5, credentialKeys: keys },
        { index: 2, greeting: 'hi #2', keyLength: 5, credentialKeys: keys },
      ],
    ]);
    assert.deepEqual(
      result.nodes.Split?.map((output) => output.map((j) => `${j.index}:${j.parity}`)),
      [['0:even', '2:even'], ['1:odd']],
    );
    // Full items keep n8n's paired-item lineage: odd output item 0 came from Mini's item 1.
    assert.deepEqual(result.items.Split?.[1]?.[0]?.pairedItem, { item: 1 });
  });

  it('GIVEN credentials keyed "type/name" and "type" WHEN run THEN the one for the node\'s named credential wins', async () => {
    const result = await runWorkflow({
      packageDir,
      workflow: workflowFile('mini-basic'),
      credentials: { gridMiniApi: { greeting: 'generic' }, 'gridMiniApi/Grid Mini test': { greeting: 'named', apiKey: 'abc' } },
    });
    assert.equal(result.nodes.Mini?.[0]?.[0]?.greeting, 'named #0');
    assert.equal(result.nodes.Mini?.[0]?.[0]?.keyLength, 3);
  });

  it('GIVEN credential data without "greeting" and with an undeclared key WHEN run THEN the node sees the default "hello" and not the undeclared key, as in n8n', async () => {
    const result = await runWorkflow({
      packageDir,
      workflow: workflowFile('mini-basic'),
      credentials: { gridMiniApi: { apiKey: 'x', notDeclared: 'leak' } },
    });
    assert.equal(result.nodes.Mini?.[0]?.[1]?.greeting, 'hello #1');
    assert.equal(result.nodes.Mini?.[0]?.[1]?.credentialKeys, 'apiKey,greeting');
  });

  it('GIVEN mode "cli" (what `n8n execute` uses) WHEN run THEN the outputs equal the manual-mode run', async () => {
    const manual = await runWorkflow({ packageDir, workflow: workflowFile('mini-basic'), credentials });
    const cli = await runWorkflow({ packageDir, workflow: workflowFile('mini-basic'), credentials, mode: 'cli' });
    assert.equal(cli.status, 'success');
    assert.equal(cli.run.mode, 'cli');
    assert.deepEqual(cli.nodes, manual.nodes);
  });

  it('GIVEN Mini fails on item 1 without continueOnFail WHEN run THEN the execution errors on Mini and Split never runs', async () => {
    const result = await runWorkflow({ packageDir, workflow: workflowFile('mini-fail'), credentials });
    assert.equal(result.status, 'error');
    assert.equal(result.error?.node, 'Mini');
    assert.match(result.error?.message ?? '', /^GRID_MINI_FAIL: index 1/);
    assert.deepEqual(result.executedNodes, ['Start', 'Mini']);
  });

  it('GIVEN Mini fails on item 1 with continueOnFail (continueRegularOutput) WHEN run THEN the error item flows on in the regular output', async () => {
    const result = await runWorkflow({ packageDir, workflow: workflowFile('mini-continue'), credentials });
    assert.equal(result.status, 'success');
    assert.deepEqual(
      result.nodes.Mini?.[0]?.map((j) => j.error ?? j.greeting),
      ['hi #0', 'GRID_MINI_FAIL: index 1 is configured to fail', 'hi #2'],
    );
    const reachedSplit = (result.nodes.Split ?? []).flat().map((j) => j.error ?? j.index);
    assert.deepEqual(reachedSplit.sort(), [0, 2, 'GRID_MINI_FAIL: index 1 is configured to fail']);
  });

  it('GIVEN onError continueErrorOutput WHEN Mini fails on item 1 THEN n8n moves that item to an extra error output', async () => {
    const wf = withMini('mini-continue', (mini) => {
      mini.onError = 'continueErrorOutput';
    });
    const result = await runWorkflow({ packageDir, workflow: wf, credentials });
    assert.equal(result.status, 'success');
    assert.deepEqual(result.nodes.Mini?.[0]?.map((j) => j.index), [0, 2]);
    assert.deepEqual(result.nodes.Mini?.[1], [{ error: 'GRID_MINI_FAIL: index 1 is configured to fail' }]);
    // Split is wired to output 0 only, so the failed item never reaches it.
    assert.deepEqual(result.nodes.Split?.flat().map((j) => j.index), [0, 2]);
  });

  it('GIVEN no credential data for the node WHEN run THEN the execution errors with N8N_HEADLESS_CREDENTIAL_NOT_SUPPLIED', async () => {
    const result = await runWorkflow({ packageDir, workflow: workflowFile('mini-basic'), credentials: {} });
    assert.equal(result.status, 'error');
    assert.equal(result.error?.node, 'Mini');
    assert.match(result.error?.message ?? '', /N8N_HEADLESS_CREDENTIAL_NOT_SUPPLIED/);
  });

  it('GIVEN startNode "Mini" WHEN run THEN the trigger is skipped and Mini runs on one empty item', async () => {
    const result = await runWorkflow({ packageDir, workflow: workflowFile('mini-basic'), credentials, startNode: 'Mini' });
    assert.equal(result.status, 'success');
    assert.deepEqual(result.executedNodes, ['Mini', 'Split']);
    assert.equal(result.nodes.Mini?.[0]?.length, 3);
  });

  it('GIVEN Mini count as the expression "={{ 1 + 1 }}" WHEN run THEN n8n evaluates it (default expression engine, no isolated-vm) and emits 2 items', async () => {
    const wf = withMini('mini-basic', (mini) => {
      mini.parameters.count = '={{ 1 + 1 }}';
    });
    const result = await runWorkflow({ packageDir, workflow: wf, credentials });
    assert.equal(result.status, 'success');
    assert.equal(result.nodes.Mini?.[0]?.length, 2);
  });

  it('GIVEN a node type that is not in the package WHEN run THEN it rejects with N8N_HEADLESS_UNKNOWN_NODE_TYPE', async () => {
    const wf = withMini('mini-basic', (mini) => {
      mini.type = 'n8n-nodes-grid-mini.noSuchNode';
    });
    await assert.rejects(runWorkflow({ packageDir, workflow: wf, credentials }), /N8N_HEADLESS_UNKNOWN_NODE_TYPE/);
  });

  it('GIVEN a package.json without an "n8n" section WHEN loaded THEN it rejects with N8N_HEADLESS_NOT_A_NODE_PACKAGE', async () => {
    const dir = tempDir('grid-not-n8n-');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'not-a-node-package', version: '1.0.0' }));
    await assert.rejects(loadPackage(dir), /N8N_HEADLESS_NOT_A_NODE_PACKAGE/);
  });

  it('GIVEN a directory without package.json WHEN loaded THEN it rejects with N8N_HEADLESS_PACKAGE_NOT_FOUND', async () => {
    await assert.rejects(loadPackage(tempDir('grid-empty-')), /N8N_HEADLESS_PACKAGE_NOT_FOUND/);
  });

  it('GIVEN Mini hangs for 20 s WHEN run with timeoutMs 200 THEN it rejects with N8N_HEADLESS_TIMEOUT well before that', async () => {
    const wf = withMini('mini-basic', (mini) => {
      mini.parameters.hangMs = 20_000;
    });
    const started = Date.now();
    await assert.rejects(runWorkflow({ packageDir, workflow: wf, credentials, timeoutMs: 200 }), /N8N_HEADLESS_TIMEOUT/);
    assert.ok(Date.now() - started < 5_000, 'timed out promptly');
  });
});
