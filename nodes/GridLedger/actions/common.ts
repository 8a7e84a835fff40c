/**
 * What every Grid Ledger operation file exports, and the glue they share. One file per operation
 * (n8n's own convention for multi-operation nodes): each declares its parameters and runs them
 * against the shared connection and writer of the Grid Database credential.
 */
import type { IExecuteFunctions, INodeExecutionData, INodeProperties, INodePropertyOptions } from 'n8n-workflow';
import { gridDb, type GridDb } from '../../shared/grid-db';
import { databaseSettings } from '../../shared/credentials';

export interface LedgerOperation {
  option: INodePropertyOptions & { value: string; action: string };
  properties: INodeProperties[];
  execute(ctx: IExecuteFunctions, grid: () => Promise<GridDb>): Promise<INodeExecutionData[]>;
}

/** Shows `properties` only for `operation`. */
export function forOperation(operation: string, properties: INodeProperties[]): INodeProperties[] {
  return properties.map((p) => ({ ...p, displayOptions: { ...p.displayOptions, show: { ...p.displayOptions?.show, operation: [operation] } } }));
}

/** The shared connection of this node's Grid Database credential (opened once per process). */
export function connection(ctx: IExecuteFunctions): () => Promise<GridDb> {
  let grid: Promise<GridDb> | undefined;
  return () => (grid ??= databaseSettings(ctx).then(gridDb));
}

/** The `actor` parameter every write operation takes. */
export function actorProperty(operation: string, defaultActor: string, description: string): INodeProperties {
  return {
    displayName: 'Actor',
    name: 'actor',
    type: 'string',
    default: defaultActor,
    required: true,
    description,
    displayOptions: { show: { operation: [operation] } },
  };
}

/** Optional explicit proposal id; default: derived from workflow, execution, node and item. */
export function proposalIdOption(operation: string): INodeProperties {
  return {
    displayName: 'Options',
    name: 'options',
    type: 'collection',
    placeholder: 'Add option',
    default: {},
    displayOptions: { show: { operation: [operation] } },
    options: [
      {
        displayName: 'Proposal ID',
        name: 'proposalId',
        type: 'string',
        default: '',
        description:
          'UUID of the proposal. Empty: derived from the workflow, the execution, this node and the item, so retrying the same execution never acts twice.',
      },
    ],
  };
}
