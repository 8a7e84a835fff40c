/**
 * Grid Artifact's ledger-backed operations (engine/artifacts):
 *   - invoke: run a STORED artifact; its payments, invoke prices and compute charge are applied
 *     through the law as one `invoke` proposal (or nothing moves), and the run is recorded in the
 *     invocation registry. The item is the one response schema (gap 23) plus `applied`.
 *   - write: store code (with its MCP-style interface and price) as an artifact owned by `Owner`,
 *     through an `artifact_write` proposal (ownership, interface, size and disk quota checked).
 * The inline operation (the node's original one) stays a dry run against a snapshot.
 */
import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';
import { invokeArtifact, writeArtifact } from '../../../engine/artifacts';
import { databaseSettings } from '../../shared/credentials';
import { gridDb } from '../../shared/grid-db';
import { jsonParam } from '../../shared/items';

export const OPERATION: INodeProperties = {
  displayName: 'Operation',
  name: 'operation',
  type: 'options',
  noDataExpression: true,
  default: 'runInline',
  options: [
    { name: 'Invoke Stored Artifact', value: 'invoke', action: 'Invoke a stored artifact through the ledger', description: 'Run a stored artifact; its payments are applied through the law' },
    { name: 'Run Inline (Dry Run)', value: 'runInline', action: 'Run inline code as a dry run', description: 'Run the code given here against a snapshot; nothing is applied' },
    { name: 'Write Artifact', value: 'write', action: 'Store code as an artifact', description: 'Store the code as an artifact owned by Owner, through the ledger' },
  ],
};

async function grid(ctx: IExecuteFunctions) {
  return gridDb(await databaseSettings(ctx));
}

export async function invokeStored(ctx: IExecuteFunctions, i: number) {
  const { db, writer } = await grid(ctx);
  const r = await invokeArtifact({
    db,
    writer,
    invoker: ctx.getNodeParameter('invoker', i) as string,
    artifactId: ctx.getNodeParameter('artifactId', i) as string,
    method: ctx.getNodeParameter('method', i) as string,
    args: jsonParam(ctx, 'args', i, 'Arguments') ?? {},
  });
  return { ...r, applied: r.success };
}

export async function writeStored(ctx: IExecuteFunctions, i: number) {
  const { db, writer } = await grid(ctx);
  const price = String(ctx.getNodeParameter('price', i, '0')).trim() || '0';
  const r = await writeArtifact({
    db,
    writer,
    agent: ctx.getNodeParameter('owner', i) as string,
    artifactId: ctx.getNodeParameter('artifactId', i) as string,
    kind: 'code',
    content: ctx.getNodeParameter('code', i) as string,
    interface: jsonParam(ctx, 'interface', i, 'Interface'),
    invokePrice: /^\d{1,19}$/.test(price) ? price : '-1',
  });
  return { ...r, applied: r.success };
}
