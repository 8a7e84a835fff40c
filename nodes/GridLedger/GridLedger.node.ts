/**
 * Grid Ledger — the only node that writes the ledger. A thin shell: each operation (./actions)
 * calls the engine's writer, replay, breaker or HITL code with the shared connection of the
 * Grid Database credential; the law decides every write.
 */
import { NodeConnectionTypes, NodeOperationError, type IExecuteFunctions, type INodeExecutionData, type INodeType, type INodeTypeDescription } from 'n8n-workflow';
import { OPERATIONS } from './actions';
import { connection } from './actions/common';
import { gridDatabaseConnectionTest } from '../shared/credential-test';

export class GridLedger implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Grid Ledger',
    name: 'gridLedger',
    icon: { light: 'file:grid.svg', dark: 'file:grid.dark.svg' },
    group: ['transform'],
    version: 1,
    subtitle: '={{ $parameter["operation"] }}',
    description: 'Apply proposals to the hash-chained ledger, read the world state, replay, verify and govern',
    defaults: { name: 'Grid Ledger' },
    usableAsTool: true,
    inputs: [NodeConnectionTypes.Main],
    outputs: [NodeConnectionTypes.Main],
    credentials: [
      { name: 'gridDatabaseApi', required: true, testedBy: 'gridDatabaseConnectionTest' },
      { name: 'gridLinearApi', required: true, displayOptions: { show: { operation: ['recordLinearDecision'] } } },
    ],
    properties: [
      {
        displayName: 'Operation',
        name: 'operation',
        type: 'options',
        noDataExpression: true,
        default: 'apply',
        options: OPERATIONS.map((o) => o.option).sort((a, b) => a.name.localeCompare(b.name)),
      },
      ...OPERATIONS.flatMap((o) => o.properties),
    ],
  };

  methods = { credentialTest: { gridDatabaseConnectionTest } };

  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    const operation = this.getNodeParameter('operation', 0) as string;
    const op = OPERATIONS.find((o) => o.option.value === operation);
    if (!op) throw new NodeOperationError(this.getNode(), `GRID_UNKNOWN_OPERATION: ${operation}`);
    return [await op.execute(this, connection(this))];
  }
}
