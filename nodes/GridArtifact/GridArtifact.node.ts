/**
 * Grid Artifact — invokes one method of a QuickJS code artifact (sandbox/executor.ts: fresh
 * runtime per call, CPU deadline, memory and stack limits, MCP-style interface checking).
 *
 * What is wired today: the artifact (code + interface + owner + price) comes from the node's
 * parameters and runs against a read-only snapshot host (balances from the world state). The
 * outcome — result, proposed payments, invoke edges, events, metrics — is output; the payments
 * are NOT applied to the ledger (`applied: false`). Loading stored artifacts and applying their
 * effects through the writer is the ledger host's job (engine/artifacts, not landed yet).
 */
import { NodeConnectionTypes, type IExecuteFunctions, type INodeExecutionData, type INodeType, type INodeTypeDescription } from 'n8n-workflow';
import { Executor } from '../../sandbox/executor';
import { readWorldState, type WorldSnapshot } from '../../engine/world-state';
import { databaseSettings } from '../shared/credentials';
import { gridDatabaseConnectionTest } from '../shared/credential-test';
import { gridDb } from '../shared/grid-db';
import { jsonParam, perItem } from '../shared/items';
import { SnapshotHost } from './snapshot-host';
// Ledger-backed operations (invoke / write a stored artifact): actions/ledger.ts (artifact-economy helper).
import { OPERATION, invokeStored, writeStored } from './actions/ledger';

const INLINE = { show: { operation: ['runInline'] } };
const CALL = { show: { operation: ['runInline', 'invoke'] } };
const CODE = { show: { operation: ['runInline', 'write'] } };

const EXAMPLE = `var methods = {
  sum(args) { return args.xs.reduce((a, b) => a + b, 0); },
};`;

export class GridArtifact implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Grid Artifact',
    name: 'gridArtifact',
    icon: { light: 'file:grid.svg', dark: 'file:grid.dark.svg' },
    group: ['transform'],
    version: 1,
    subtitle: '={{ $parameter["artifactId"] + "." + $parameter["method"] }}',
    description: 'Run a method of a sandboxed QuickJS code artifact and output its result and proposed effects',
    defaults: { name: 'Grid Artifact' },
    usableAsTool: true,
    inputs: [NodeConnectionTypes.Main],
    outputs: [NodeConnectionTypes.Main],
    credentials: [{ name: 'gridDatabaseApi', required: true, testedBy: 'gridDatabaseConnectionTest', displayOptions: { hide: { worldFrom: ['none', 'parameter'] } } }],
    properties: [
      OPERATION,
      { displayName: 'Artifact ID', name: 'artifactId', type: 'string', default: 'inline', required: true },
      { displayName: 'Code', name: 'code', type: 'string', typeOptions: { rows: 8 }, default: EXAMPLE, required: true, description: 'A classic script defining `var methods = { … }`', displayOptions: CODE },
      {
        displayName: 'Interface',
        name: 'interface',
        type: 'json',
        default: JSON.stringify({ tools: [{ name: 'sum', description: 'Adds numbers', inputSchema: { type: 'object', required: ['xs'], properties: { xs: { type: 'array' } } } }] }, null, 2),
        required: true,
        description: 'MCP-style { tools: [{ name, description, inputSchema }] }; only these methods can be called',
        displayOptions: CODE,
      },
      { displayName: 'Method', name: 'method', type: 'string', default: 'sum', required: true, displayOptions: CALL },
      { displayName: 'Arguments', name: 'args', type: 'json', default: '{ "xs": [1, 2, 3] }', displayOptions: CALL },
      { displayName: 'Invoker', name: 'invoker', type: 'string', default: 'alice', required: true, description: 'The actor making the call (pays the invoke price)', displayOptions: CALL },
      { displayName: 'Owner', name: 'owner', type: 'string', default: 'alice', description: 'Receives the invoke price', displayOptions: CODE },
      { displayName: 'Invoke Price', name: 'price', type: 'string', default: '0', description: 'Credits the invoker pays the owner per successful call (whole number)', displayOptions: CODE },
      {
        displayName: 'World State From',
        name: 'worldFrom',
        type: 'options',
        default: 'none',
        displayOptions: INLINE,
        options: [
          { name: 'Database', value: 'database', description: 'A fresh snapshot through the Grid Database credential' },
          { name: 'None', value: 'none', description: 'Empty world, every balance 0' },
          { name: 'Parameter', value: 'parameter' },
        ],
      },
      { displayName: 'World State', name: 'world', type: 'json', default: '={{ $json }}', displayOptions: { show: { operation: ['runInline'], worldFrom: ['parameter'] } } },
    ],
  };

  methods = { credentialTest: { gridDatabaseConnectionTest } };

  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    let fetched: Promise<WorldSnapshot> | undefined;
    return [
      await perItem(this, async (i) => {
        const operation = this.getNodeParameter('operation', i, 'runInline') as string;
        if (operation === 'invoke') return invokeStored(this, i);
        if (operation === 'write') return writeStored(this, i);
        const from = this.getNodeParameter('worldFrom', i) as string;
        let world: WorldSnapshot | null = null;
        if (from === 'database') world = await (fetched ??= databaseSettings(this).then(gridDb).then(({ db }) => readWorldState(db)));
        else if (from === 'parameter') world = (jsonParam(this, 'world', i, 'World State') as WorldSnapshot) ?? null;
        const price = String(this.getNodeParameter('price', i, '0')).trim() || '0';
        if (!/^\d{1,19}$/.test(price)) throw Object.assign(new Error('Invoke Price must be a whole number'), { code: 'GRID_PARAMETER_INVALID' });
        const artifactId = this.getNodeParameter('artifactId', i) as string;
        const host = new SnapshotHost(
          {
            id: artifactId,
            owner: this.getNodeParameter('owner', i, '') as string,
            content: this.getNodeParameter('code', i) as string,
            interface: jsonParam(this, 'interface', i, 'Interface'),
            invokePrice: BigInt(price),
          },
          world,
        );
        const outcome = await new Executor(host).run({
          artifactId,
          method: this.getNodeParameter('method', i) as string,
          args: jsonParam(this, 'args', i, 'Arguments') ?? {},
          invoker: this.getNodeParameter('invoker', i) as string,
        });
        return { ...outcome, applied: false };
      }),
    ];
  }
}
