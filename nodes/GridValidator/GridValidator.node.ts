/**
 * Grid Validator — a stateless pre-check: runs the law (validator/validate) on each proposal
 * against a world-state snapshot and routes it to "Valid" or "Rejected", so a workflow can branch
 * without an IF node. It decides nothing: the snapshot may be stale and rate limits are not in it,
 * so only the Grid Ledger's Apply is authoritative (and records rejections).
 */
import {
  NodeConnectionTypes,
  type IExecuteFunctions,
  type INodeExecutionData,
  type INodeType,
  type INodeTypeDescription,
} from 'n8n-workflow';
import { LAW_VERSION, validate } from '../../validator';
import { readWorldState, worldFromSnapshot, type WorldSnapshot } from '../../engine/world-state';
import { databaseSettings } from '../shared/credentials';
import { gridDatabaseConnectionTest } from '../shared/credential-test';
import { gridDb } from '../shared/grid-db';
import { failed, jsonParam, out, toNodeError } from '../shared/items';

export class GridValidator implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Grid Validator',
    name: 'gridValidator',
    icon: { light: 'file:grid.svg', dark: 'file:grid.dark.svg' },
    group: ['transform'],
    version: 1,
    subtitle: '={{ "world state from " + $parameter["snapshotSource"] }}',
    description: 'Pre-check proposals against the law and a world-state snapshot; route valid and rejected',
    defaults: { name: 'Grid Validator' },
    usableAsTool: true,
    inputs: [NodeConnectionTypes.Main],
    outputs: [NodeConnectionTypes.Main, NodeConnectionTypes.Main],
    outputNames: ['Valid', 'Rejected'],
    credentials: [{ name: 'gridDatabaseApi', required: true, testedBy: 'gridDatabaseConnectionTest', displayOptions: { show: { snapshotSource: ['database'] } } }],
    properties: [
      {
        displayName: 'Proposal',
        name: 'proposal',
        type: 'json',
        default: '={{ $json.proposal }}',
        required: true,
        description: 'The proposal as an object or JSON text',
      },
      {
        displayName: 'World State From',
        name: 'snapshotSource',
        type: 'options',
        noDataExpression: true,
        default: 'parameter',
        options: [
          { name: 'Database', value: 'database', description: 'Read a fresh snapshot once per execution through the Grid Database credential' },
          { name: 'Parameter', value: 'parameter', description: 'A snapshot passed in (e.g. the output of Grid Ledger → Get World State)' },
        ],
      },
      {
        displayName: 'World State',
        name: 'snapshot',
        type: 'json',
        default: '={{ $json.world }}',
        required: true,
        displayOptions: { show: { snapshotSource: ['parameter'] } },
        // eslint-disable-next-line n8n-nodes-base/node-param-description-miscased-json -- `.json` is n8n's expression syntax in the example, not the word JSON
        description: "The snapshot, e.g. <code>{{ $('Get World State').first().json }}</code>",
      },
    ],
  };

  methods = { credentialTest: { gridDatabaseConnectionTest } };

  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    const items = this.getInputData();
    const valid: INodeExecutionData[] = [];
    const rejected: INodeExecutionData[] = [];
    let fetched: Promise<WorldSnapshot> | undefined;
    for (let i = 0; i < items.length; i++) {
      try {
        let snapshot: WorldSnapshot;
        if (this.getNodeParameter('snapshotSource', i) === 'database') {
          fetched ??= databaseSettings(this).then(gridDb).then(({ db }) => readWorldState(db));
          snapshot = await fetched;
        } else {
          snapshot = checkSnapshot(jsonParam(this, 'snapshot', i, 'World State'));
        }
        const proposal = this.getNodeParameter('proposal', i) as unknown;
        const d = validate(worldFromSnapshot(snapshot), proposal);
        const validation = d.ok
          ? { ok: true, kind: d.proposal?.kind ?? null, effects: d.effects.length, law_version: LAW_VERSION, as_of: snapshot.as_of }
          : { ok: false, code: d.code, message: d.message, ...(d.details ? { details: d.details } : {}), law_version: LAW_VERSION, as_of: snapshot.as_of };
        const json = { ...items[i]!.json, validation, ...(d.ok ? {} : { code: d.code, message: d.message }) };
        (d.ok ? valid : rejected).push(out(json, i));
      } catch (e) {
        if (!this.continueOnFail()) throw toNodeError(this, e, i);
        rejected.push(failed(this, e, i));
      }
    }
    return [valid, rejected];
  }
}

function checkSnapshot(v: unknown): WorldSnapshot {
  const s = v as Partial<WorldSnapshot> | null;
  if (!s || typeof s !== 'object' || !Array.isArray(s.actors) || !Array.isArray(s.resources) || !s.balances || !s.policy || !s.breaker || !Array.isArray(s.open_offers)) {
    throw Object.assign(new Error('World State is not a snapshot from Grid Ledger → Get World State (actors, balances, policy, breaker, open_offers)'), {
      code: 'GRID_SNAPSHOT_INVALID',
    });
  }
  return s as WorldSnapshot;
}
