/**
 * The Grid Artifact n8n node on the ledger path (actions/ledger.ts), run headlessly by n8n on
 * PGlite and Postgres: Write Artifact stores code through the law, Invoke Stored Artifact runs it
 * and applies its price through one `invoke` proposal; failures come back as items in the one
 * error schema, not as node errors.
 */
import { strict as assert } from 'node:assert';
import type { IDataObject, INode } from 'n8n-workflow';
import { forEachBackend } from './support/backends';
import type { WorkflowJson } from './support/n8n-headless';
import { gridEnv, PACKAGE, type GridEnv } from './support/n8n-grid';

function single(parameters: IDataObject): WorkflowJson {
  const start = { id: '1', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} } as INode;
  const node = { id: '2', name: 'Node', type: `${PACKAGE}.gridArtifact`, typeVersion: 1, position: [200, 0], parameters, credentials: { gridDatabaseApi: { id: 'db', name: 'Grid Database' } } } as unknown as INode;
  return { nodes: [start, node], connections: { Start: { main: [[{ node: 'Node', type: 'main', index: 0 }]] } } } as WorkflowJson;
}

forEachBackend('n8n: Grid Artifact through the ledger', (b) => {
  let env: GridEnv;
  beforeEach(async () => (env = await gridEnv(b)));
  afterEach(async () => env.close());

  it('GIVEN Write Artifact then Invoke Stored Artifact WHEN run in n8n THEN the artifact is ledgered, the call answers 6 and its price moves alice→bob', async () => {
    const write = await env.run(single({ operation: 'write', artifactId: 'sum1', owner: 'bob', price: '2' }));
    assert.equal(write.status, 'success');
    const w = write.nodes['Node']![0]![0]!;
    assert.deepEqual([w.success, w.applied, (w.result as IDataObject).rev], [true, true, 1]);
    const before = await env.db.query<any>(`SELECT actor, amount FROM balances WHERE resource = 'credits' AND actor IN ('alice', 'bob') ORDER BY actor`);
    const call = await env.run(single({ operation: 'invoke', artifactId: 'sum1', method: 'sum', args: '{ "xs": [1, 2, 3] }', invoker: 'alice' }));
    const out = call.nodes['Node']![0]![0]!;
    assert.deepEqual([out.success, out.result, out.applied], [true, 6, true]);
    const after = await env.db.query<any>(`SELECT actor, amount FROM balances WHERE resource = 'credits' AND actor IN ('alice', 'bob') ORDER BY actor`);
    assert.deepEqual(after.rows.map((r, i) => Number(r.amount) - Number(before.rows[i].amount)), [-2, 2]);
    assert.equal(await env.count('invocations', `artifact_id = 'sum1' AND type = 'INVOKE_SUCCESS'`), 1);
  });

  it('GIVEN a stored artifact that does not exist WHEN invoked from n8n THEN the item is the one error schema (NOT_FOUND) and the run itself succeeds', async () => {
    const call = await env.run(single({ operation: 'invoke', artifactId: 'nope', method: 'sum', invoker: 'alice' }));
    assert.equal(call.status, 'success');
    const out = call.nodes['Node']![0]![0]!;
    assert.deepEqual([out.success, out.error_code, out.applied, out.retry_after], [false, 'NOT_FOUND', false, null]);
    assert.equal(typeof out.message, 'string');
    assert.equal(typeof out.details, 'object');
  });
});
